//! The points area's GraphQL face: the member's points, ledger and sign-in; tasks; the points
//! mall; staff reading a member's points, adjusting them and reconciling the ledger; and the
//! `pointsChanged` subscription.
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::Datelike;
use entity::{points_entry, points_mall_item};
use futures::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    errors::{PointsError, PointsErrorCode},
    ledger::{self, EVENT_POINTS_CHANGED, EntryKind},
    rules,
    service::{self, PointsTask},
    types::{
        PointsEntry, PointsMallItem, PointsReconciliation, PointsRules, PointsSummary, SignInDay,
        SignInStatus, can_read,
    },
};
use crate::{
    auth::{Permission, PermissionGuard},
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        errors::{payload, refused},
        ids,
        relay::{self, Page, Window},
        scalars::{Date, Money},
    },
    money,
};

fn member_id(id: &ID) -> Option<i64> {
    ids::decode("User", id).ok()
}

async fn ledger_page(
    ctx: &Context<'_>,
    user_id: i64,
    kinds: Option<Vec<EntryKind>>,
    w: Window,
) -> Result<Page<PointsEntry>> {
    let mut select = points_entry::Entity::find().filter(points_entry::Column::UserId.eq(user_id));
    if let Some(k) = kinds.filter(|k| !k.is_empty()) {
        select = select.filter(points_entry::Column::Kind.is_in(k.iter().map(|x| x.as_str())));
    }
    Ok(relay::paginate(
        ctx.app().db.conn(),
        select,
        points_entry::Column::Id,
        |e| e.id,
        true,
        w,
        PointsEntry,
    )
    .await?)
}

async fn sign_in_status(ctx: &Context<'_>, user_id: i64) -> Result<SignInStatus> {
    let app = ctx.app();
    let month = service::sign_in_month(app, user_id).await?;
    let bonuses =
        rules::StreakBonuses::parse(&app.config.points_sign_in_streak_bonuses).unwrap_or_default();
    let today_points = match month.days.iter().find(|d| d.day == month.today) {
        Some(d) => d.points,
        None => rules::sign_in_points(
            i64::from(app.config.points_sign_in_daily),
            &bonuses,
            month.streak + 1,
        ),
    };
    let mut calendar = Vec::new();
    let mut day = month.today.with_day0(0).unwrap_or(month.today);
    while day <= month.today {
        let signed = month.days.iter().find(|d| d.day == day);
        calendar.push(SignInDay {
            date: Date(day),
            signed: signed.is_some(),
            points: signed.map_or(0, |d| d.points),
            streak: signed.map_or(0, |d| d.streak),
        });
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(SignInStatus {
        signed_today: month.signed_today,
        streak: month.streak,
        today_points,
        calendar,
    })
}

#[derive(Default)]
pub struct PointsQuery;

#[Object]
impl PointsQuery {
    /// The caller's points: available, pending and expiring soon.
    async fn my_points(&self, ctx: &Context<'_>) -> Result<PointsSummary> {
        let me = ctx.viewer().require_user()?;
        Ok(PointsSummary(
            service::summary(ctx.app(), me.user_id).await?,
        ))
    }

    /// The caller's points ledger, newest first.
    async fn my_points_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries of these kinds (all when absent or empty).")] kinds: Option<
            Vec<EntryKind>,
        >,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "The cursor to continue before.")] before: Option<String>,
    ) -> Result<Page<PointsEntry>> {
        let me = ctx.viewer().require_user()?;
        ledger_page(
            ctx,
            me.user_id,
            kinds,
            Window::new(first, after, last, before)?,
        )
        .await
    }

    /// The caller's sign-in: whether they signed in today, their streak, and this month's
    /// calendar.
    async fn my_sign_in(&self, ctx: &Context<'_>) -> Result<SignInStatus> {
        let me = ctx.viewer().require_user()?;
        sign_in_status(ctx, me.user_id).await
    }

    /// How points are earned and spent in this shop.
    async fn points_rules(&self, ctx: &Context<'_>) -> PointsRules {
        PointsRules(ctx.app().config.clone())
    }

    /// The points mall: SKUs redeemable for points, newest first. Everyone sees the active
    /// ones; `MARKETING` staff may ask for inactive ones too.
    async fn points_mall_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include items taken out of the mall (MARKETING staff only).")]
        include_inactive: Option<bool>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "The cursor to continue before.")] before: Option<String>,
    ) -> Result<Page<PointsMallItem>> {
        let mut select = points_mall_item::Entity::find();
        if include_inactive == Some(true) {
            ctx.viewer().require_permission(Permission::Marketing)?;
        } else {
            select = select.filter(points_mall_item::Column::Active.eq(true));
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            points_mall_item::Column::SkuId,
            |i| i.sku_id,
            true,
            Window::new(first, after, last, before)?,
            PointsMallItem,
        )
        .await?)
    }

    /// A member's points (the member themselves, or staff with MARKETING).
    async fn member_points(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's user id.")] user_id: ID,
    ) -> Result<PointsSummary> {
        let viewer = ctx.viewer();
        viewer.require_user()?;
        match member_id(&user_id).filter(|id| can_read(viewer, *id)) {
            Some(id) => Ok(PointsSummary(service::summary(ctx.app(), id).await?)),
            None if viewer.require_permission(Permission::Marketing).is_err() => {
                Err(crate::error::AppError::forbidden().into())
            }
            None => Err(crate::error::AppError::not_found("member").into()),
        }
    }

    /// A member's points ledger, newest first (the member themselves, or staff with MARKETING).
    #[allow(clippy::too_many_arguments)]
    async fn member_points_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's user id.")] user_id: ID,
        #[graphql(desc = "Only entries of these kinds (all when absent or empty).")] kinds: Option<
            Vec<EntryKind>,
        >,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "The cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "The cursor to continue before.")] before: Option<String>,
    ) -> Result<Page<PointsEntry>> {
        let viewer = ctx.viewer();
        viewer.require_user()?;
        let Some(id) = member_id(&user_id).filter(|id| can_read(viewer, *id)) else {
            if viewer.require_permission(Permission::Marketing).is_err() {
                return Err(crate::error::AppError::forbidden().into());
            }
            return Err(crate::error::AppError::not_found("member").into());
        };
        ledger_page(ctx, id, kinds, Window::new(first, after, last, before)?).await
    }

    /// Checks every member's balance and every lot against the ledger's entries (staff with
    /// MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn points_reconciliation(&self, ctx: &Context<'_>) -> Result<PointsReconciliation> {
        let r = ledger::reconcile(ctx.app().db.conn()).await?;
        Ok(PointsReconciliation {
            consistent: r.mismatched_accounts.is_empty()
                && r.mismatched_lots.is_empty()
                && r.ledger_total == r.balance_total,
            accounts: r.accounts,
            entries: r.entries,
            ledger_total: r.ledger_total,
            balance_total: r.balance_total,
            mismatched_members: r
                .mismatched_accounts
                .into_iter()
                .map(|u| ids::encode("User", u))
                .collect(),
            mismatched_lot_members: r
                .mismatched_lots
                .into_iter()
                .map(|u| ids::encode("User", u))
                .collect(),
        })
    }
}

/// The result of `signIn`.
#[derive(SimpleObject)]
pub struct SignInPayload {
    /// Points this sign-in paid (the daily points and any streak bonus); null when refused.
    points: Option<i64>,
    /// The caller's sign-in state after it; null when refused.
    sign_in: Option<SignInStatus>,
    /// `ALREADY_SIGNED_IN` when the caller signed in today already.
    user_errors: Vec<PointsError>,
}

/// The result of `claimPointsTask`.
#[derive(SimpleObject)]
pub struct ClaimPointsTaskPayload {
    /// Points the task paid; null when refused.
    points: Option<i64>,
    /// `ALREADY_CLAIMED`, or `TASK_NOT_DONE` (the profile is incomplete, or the task pays by
    /// itself).
    user_errors: Vec<PointsError>,
}

/// A manual change of a member's points.
#[derive(InputObject)]
pub struct AdjustMemberPointsInput {
    /// The member's user id.
    user_id: ID,
    /// Points to add (positive) or take (negative, at most what the member has); not 0.
    points: i64,
    /// Why (shown in the member's ledger); 1 to 200 characters.
    reason: String,
    /// A retry with the same key and input changes nothing and returns the first result.
    idempotency_key: String,
}

/// The result of `adjustMemberPoints`.
#[derive(SimpleObject)]
pub struct AdjustMemberPointsPayload {
    /// The member's points after the adjustment; null when refused.
    points: Option<PointsSummary>,
    /// Why nothing changed.
    user_errors: Vec<PointsError>,
}

/// Making a SKU redeemable in the points mall, or taking it out.
#[derive(InputObject)]
pub struct SetPointsMallItemInput {
    /// The SKU.
    sku_id: ID,
    /// Points per unit (at least 1).
    points: i64,
    /// Cash per unit on top of the points (default ¥0.00; below the SKU's price).
    cash: Option<Money>,
    /// Whether it can be redeemed (false takes it out of the mall). Default true.
    #[graphql(default = true)]
    active: bool,
}

/// The result of `setPointsMallItem`.
#[derive(SimpleObject)]
pub struct PointsMallItemPayload {
    /// The item as it is now; null when refused.
    item: Option<PointsMallItem>,
    /// Why nothing changed.
    user_errors: Vec<PointsError>,
}

#[derive(Default)]
pub struct PointsMutation;

#[Object]
impl PointsMutation {
    /// Signs the caller in for today (shop time zone): pays the daily points, plus a bonus on
    /// the streak days the shop configured. Once a day.
    async fn sign_in(&self, ctx: &Context<'_>) -> Result<SignInPayload> {
        let me = ctx.viewer().require_user()?;
        let r = super::sign_in::sign_in(ctx.app(), me.user_id).await;
        let points = match r {
            Ok(s) => s.points,
            Err(e) => {
                return refused(e, |e| SignInPayload {
                    points: None,
                    sign_in: None,
                    user_errors: e,
                });
            }
        };
        // The month's calendar is read only for a client that asks for it.
        let sign_in = if ctx.look_ahead().field("signIn").exists() {
            Some(sign_in_status(ctx, me.user_id).await?)
        } else {
            None
        };
        Ok(SignInPayload {
            points: Some(points),
            sign_in,
            user_errors: vec![],
        })
    }

    /// Claims the points of a task the caller has done: `REGISTER` or `COMPLETE_PROFILE`
    /// (once each). `FIRST_ORDER` and `SHARE` pay by themselves.
    async fn claim_points_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task done.")] task: PointsTask,
    ) -> Result<ClaimPointsTaskPayload> {
        let me = ctx.viewer().require_user()?;
        payload(
            service::claim_task(ctx.app(), me.user_id, task).await,
            |p| ClaimPointsTaskPayload {
                points: Some(p),
                user_errors: vec![],
            },
            |e| ClaimPointsTaskPayload {
                points: None,
                user_errors: e,
            },
        )
    }

    /// Adds or takes a member's points by hand, with a reason (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn adjust_member_points(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose points, how many (negative takes), why, and the retry key.")]
        input: AdjustMemberPointsInput,
    ) -> Result<AdjustMemberPointsPayload> {
        let me = ctx.viewer().require_user()?;
        let refusal = |code, field: &str, m: &str| AdjustMemberPointsPayload {
            points: None,
            user_errors: vec![PointsError::new(code, Some(field), m)],
        };
        let Some(user_id) = member_id(&input.user_id) else {
            return Ok(refusal(
                PointsErrorCode::MemberNotFound,
                "userId",
                "no such member",
            ));
        };
        let r = service::adjust(
            ctx.app(),
            me.user_id,
            user_id,
            input.points,
            &input.reason,
            &input.idempotency_key,
        )
        .await;
        match r {
            Ok(done) => Ok(AdjustMemberPointsPayload {
                points: Some(PointsSummary(
                    service::summary(ctx.app(), done.user_id).await?,
                )),
                user_errors: vec![],
            }),
            Err(e) => refused(e, |e| AdjustMemberPointsPayload {
                points: None,
                user_errors: e,
            }),
        }
    }

    /// Makes a SKU redeemable in the points mall for points (plus optional cash), changes its
    /// price, or takes it out (staff with MARKETING). A redemption is placed with
    /// `placeOrder(input: { checkout: { pointsMall: true, … } })`.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn set_points_mall_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU, its price in points and cash, and whether it is in the mall.")]
        input: SetPointsMallItemInput,
    ) -> Result<PointsMallItemPayload> {
        let me = ctx.viewer().require_user()?;
        let refused = |code, field: &str, m: &str| PointsMallItemPayload {
            item: None,
            user_errors: vec![PointsError::new(code, Some(field), m)],
        };
        let Some(sku_id) = ids::decode("Sku", &input.sku_id).ok() else {
            return Ok(refused(
                PointsErrorCode::SkuNotFound,
                "skuId",
                "no such SKU",
            ));
        };
        let cash_fen = match input.cash {
            None => 0,
            Some(m) => match money::to_fen(m.0) {
                Some(f) => f,
                None => {
                    return Ok(refused(
                        PointsErrorCode::InvalidCash,
                        "cash",
                        "cash is in whole fen",
                    ));
                }
            },
        };
        payload(
            service::set_mall_item(
                ctx.app(),
                me.user_id,
                sku_id,
                input.points,
                cash_fen,
                input.active,
            )
            .await,
            |i| PointsMallItemPayload {
                item: Some(PointsMallItem(i)),
                user_errors: vec![],
            },
            |e| PointsMallItemPayload {
                item: None,
                user_errors: e,
            },
        )
    }
}

/// A change of the caller's points.
#[derive(SimpleObject)]
pub struct PointsChange {
    /// The event's id: pass the last one seen as `after` to resume.
    event_id: String,
    /// Why the points moved.
    kind: Option<EntryKind>,
    /// Points in (positive) or out (negative).
    delta: i64,
    /// The balance after the change.
    balance: i64,
}

#[derive(Default)]
pub struct PointsSubscription;

type ChangeStream =
    std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<PointsChange>> + Send + 'static>>;

#[Subscription]
impl PointsSubscription {
    /// Every change of the caller's own points (earned, spent, returned, reversed, expired,
    /// adjusted), in order, once each; resumable with `after` (the last `eventId` seen). Nobody
    /// receives anyone else's.
    async fn points_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The last `eventId` received, to first receive what was missed.")]
        after: Option<String>,
    ) -> Result<ChangeStream> {
        let me = ctx.viewer().require_user()?;
        let after = events::parse_event_id(after.as_deref())?;
        let filter = EventFilter {
            event_types: &[EVENT_POINTS_CHANGED],
            recipient_user_id: Some(me.user_id),
            aggregate_id: None,
        };
        let stream = crate::graphql::live::subscribe(ctx, filter, after);
        Ok(Box::pin(stream.map(|item| match item {
            Ok(e) => Ok(PointsChange {
                event_id: e.id.to_string(),
                kind: e.payload["kind"].as_str().and_then(EntryKind::parse),
                delta: e.payload["delta"].as_i64().unwrap_or(0),
                balance: e.payload["balance"].as_i64().unwrap_or(0),
            }),
            Err(e) => Err(e.into()),
        })))
    }
}
