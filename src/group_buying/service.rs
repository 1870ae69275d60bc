//! Campaigns, groups and places: what staff create, what a launcher opens, how an order takes,
//! pays for and gives up a place, and what the deadline job does with groups that ran out of
//! time. Places are counted by conditional updates on the group's row, so neither two buyers at
//! once nor two instances can put more members in a group than its size.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{group_buy_campaign, group_buy_group, group_buy_member, group_buy_sku, sku, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;

use super::{
    errors::{GroupBuyErrorCode as Code, GroupBuyResult, reject},
    rules::{self, CampaignTerms, GroupStatus, MemberStatus},
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
    orders::{lifecycle, refunds, types::mask_name},
};

/// Every change of a group: a member joined, left or paid, it succeeded or failed.
pub const EVENT_GROUP_CHANGED: &str = "group_buy.changed";
/// The reason written on the automatic refund of a failed group's member.
pub const FAILED_GROUP_REFUND_REASON: &str = "拼团未成团，自动退款";
const CAMPAIGN_ENDED: &str = "ENDED";
const CAMPAIGN_ACTIVE: &str = "ACTIVE";

/// A campaign to create: its terms and the group price of each SKU (fen).
pub struct CampaignDraft {
    pub product_id: i64,
    pub terms: CampaignTerms,
    /// `(sku id, group price)`.
    pub skus: Vec<(i64, i64)>,
}

/// Creates a campaign after checking its terms against the product's SKUs.
pub async fn create_campaign(
    app: &AppState,
    mut draft: CampaignDraft,
) -> GroupBuyResult<group_buy_campaign::Model> {
    let conn = app.db.conn();
    let Some(_) = entity::product::Entity::find_by_id(draft.product_id)
        .one(conn)
        .await?
    else {
        return reject(Code::ProductNotFound, "productId", "no such product");
    };
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::ProductId.eq(draft.product_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut prices = Vec::with_capacity(draft.skus.len());
    for (sku_id, group_price) in &draft.skus {
        let Some(s) = skus.get(sku_id).filter(|_| seen.insert(*sku_id)) else {
            return reject(
                Code::InvalidSkus,
                "skus",
                "each SKU once, and only SKUs of the campaign's product",
            );
        };
        prices.push((s.price_fen, *group_price));
    }
    draft.terms.prices = prices;
    let now = Utc::now();
    if let Err((code, field, message)) = rules::check_terms(&draft.terms, now) {
        return reject(code, field, message);
    }
    let t = &draft.terms;
    let tx = app.db.begin_write().await?;
    let created = group_buy_campaign::ActiveModel {
        name: Set(t.name.trim().to_string()),
        product_id: Set(draft.product_id),
        group_size: Set(t.group_size),
        time_limit_hours: Set(t.time_limit_hours),
        starts_at: Set(t.starts_at),
        ends_at: Set(t.ends_at),
        per_user_limit: Set(t.per_user_limit),
        distributors_may_launch: Set(t.distributors_may_launch),
        consumers_may_launch: Set(t.consumers_may_launch),
        auto_complete_min: Set(t.auto_complete_min),
        leader_discount_fen: Set(t.leader_discount_fen),
        status: Set(CAMPAIGN_ACTIVE.into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    group_buy_sku::Entity::insert_many(draft.skus.iter().map(|(sku_id, price)| {
        group_buy_sku::ActiveModel {
            campaign_id: Set(created.id),
            sku_id: Set(*sku_id),
            group_price_fen: Set(*price),
        }
    }))
    .exec_without_returning(&*tx)
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Ends a campaign now: no new groups or members; open groups keep their paid members until
/// their deadline, when they succeed or fail as usual.
pub async fn end_campaign(app: &AppState, id: i64) -> GroupBuyResult<group_buy_campaign::Model> {
    let tx = app.db.begin_write().await?;
    let Some(ended) = group_buy_campaign::Entity::update_many()
        .col_expr(
            group_buy_campaign::Column::Status,
            Expr::value(CAMPAIGN_ENDED),
        )
        .col_expr(
            group_buy_campaign::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(group_buy_campaign::Column::Id.eq(id))
        .exec_with_returning(&*tx)
        .await?
        .pop()
    else {
        return reject(Code::CampaignNotFound, "id", "no such campaign");
    };
    tx.commit().await?;
    Ok(ended)
}

pub fn is_ended(c: &group_buy_campaign::Model) -> bool {
    c.status == CAMPAIGN_ENDED
}

pub fn campaign_status(c: &group_buy_campaign::Model, now: DateTime<Utc>) -> rules::CampaignStatus {
    rules::campaign_status(is_ended(c), c.starts_at, c.ends_at, now)
}

pub async fn campaign(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<group_buy_campaign::Model>, AppError> {
    Ok(group_buy_campaign::Entity::find_by_id(id).one(conn).await?)
}

/// The group price of each SKU of a campaign.
pub async fn group_prices(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<HashMap<i64, i64>, AppError> {
    Ok(group_buy_sku::Entity::find()
        .filter(group_buy_sku::Column::CampaignId.eq(campaign_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.sku_id, s.group_price_fen))
        .collect())
}

pub async fn group(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<group_buy_group::Model>, AppError> {
    Ok(group_buy_group::Entity::find_by_id(id).one(conn).await?)
}

/// Whether `user_id` may launch a group of `c`: distributors if the campaign lets them,
/// anyone else if it lets consumers.
pub async fn may_launch(
    conn: &impl ConnectionTrait,
    c: &group_buy_campaign::Model,
    user_id: i64,
) -> Result<(bool, bool), AppError> {
    let is_distributor = user::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .is_some_and(|u| u.is_distributor);
    let may = if is_distributor {
        c.distributors_may_launch
    } else {
        c.consumers_may_launch
    };
    Ok((may, is_distributor))
}

/// Opens a new group of `c` led by `leader` (credited to them when they are a distributor),
/// holding `taken` places from the start (1 when the leader's own order takes the first).
async fn open_group(
    tx: &WriteTx,
    c: &group_buy_campaign::Model,
    leader: i64,
    is_distributor: bool,
    taken: i32,
    now: DateTime<Utc>,
) -> Result<group_buy_group::Model, AppError> {
    Ok(group_buy_group::ActiveModel {
        campaign_id: Set(c.id),
        leader_user_id: Set(leader),
        distributor_user_id: Set(is_distributor.then_some(leader)),
        size: Set(c.group_size),
        taken: Set(taken),
        paid: Set(0),
        status: Set(GroupStatus::Open.as_str().into()),
        deadline: Set(now + Duration::hours(i64::from(c.time_limit_hours))),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await?)
}

/// Why a group of a campaign cannot be launched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaunchRefusal {
    /// The campaign's window is not open, or staff ended it.
    NotRunning,
    /// The campaign lets the other kind of launcher launch (distributors or consumers).
    MayNotLaunch,
}

/// Why `user_id` may not launch a group of `c` at `now` (`None`: they may), and whether they
/// are a distributor. The one rule behind `launchGroupBuy` and launching with an order.
pub async fn launch_refusal(
    conn: &impl ConnectionTrait,
    c: &group_buy_campaign::Model,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(Option<(LaunchRefusal, &'static str)>, bool), AppError> {
    let (may, is_distributor) = may_launch(conn, c, user_id).await?;
    let refusal = if campaign_status(c, now) != rules::CampaignStatus::Running {
        Some((LaunchRefusal::NotRunning, "this campaign is not running"))
    } else if !may && is_distributor {
        Some((
            LaunchRefusal::MayNotLaunch,
            "this campaign's groups are launched by consumers",
        ))
    } else if !may {
        Some((
            LaunchRefusal::MayNotLaunch,
            "this campaign's groups are launched by distributors",
        ))
    } else {
        None
    };
    Ok((refusal, is_distributor))
}

/// A distributor (or a consumer, if the campaign allows) launches a group to share; buyers then
/// join it with their orders.
pub async fn launch(
    app: &AppState,
    launcher: i64,
    campaign_id: i64,
) -> GroupBuyResult<group_buy_group::Model> {
    let conn = app.db.conn();
    let Some(c) = campaign(conn, campaign_id).await? else {
        return reject(Code::CampaignNotFound, "campaignId", "no such campaign");
    };
    let now = Utc::now();
    let (refusal, is_distributor) = launch_refusal(conn, &c, launcher, now).await?;
    if let Some((why, message)) = refusal {
        let code = match why {
            LaunchRefusal::NotRunning => Code::CampaignNotRunning,
            LaunchRefusal::MayNotLaunch => Code::MayNotLaunch,
        };
        return reject(code, "campaignId", message);
    }
    let tx = app.db.begin_write().await?;
    let g = open_group(&tx, &c, launcher, is_distributor, 0, now).await?;
    changed(&tx, &g, "LAUNCHED", None);
    tx.commit().await?;
    Ok(g)
}

/// A member as shown on the share page: a masked name and the avatar.
pub async fn member_face(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<serde_json::Value, AppError> {
    let u = user::Entity::find_by_id(user_id).one(conn).await?;
    Ok(match u {
        Some(u) => json!({ "name": mask_name(&u.nickname), "avatarUrl": u.avatar_url }),
        None => json!({ "name": "", "avatarUrl": null }),
    })
}

/// Writes the group's change to the outbox: what happened and the group as it is after it.
pub fn changed(
    tx: &WriteTx,
    g: &group_buy_group::Model,
    kind: &str,
    member: Option<serde_json::Value>,
) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_GROUP_CHANGED,
            aggregate_type: "GroupBuy",
            aggregate_id: g.id,
            recipient_user_id: None,
            payload: json!({
                "kind": kind,
                "status": g.status,
                "size": g.size,
                "taken": g.taken,
                "paid": g.paid,
                "deadline": g.deadline,
                "member": member,
            }),
        },
    );
}

/// A group a buyer can still join at `now`: open, before its deadline, with a place left. The
/// one condition behind taking a place and listing the groups to offer.
fn joinable(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(group_buy_group::Column::Status.eq(GroupStatus::Open.as_str()))
        .add(group_buy_group::Column::Deadline.gt(now))
        .add(Expr::col(group_buy_group::Column::Taken).lt(Expr::col(group_buy_group::Column::Size)))
}

/// Up to `first` groups of `campaign_id` a buyer can join now (other than `except`), closest
/// to success first (`rules::closeness`).
pub async fn joinable_groups(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    except: Option<i64>,
    now: DateTime<Utc>,
    first: usize,
) -> Result<Vec<group_buy_group::Model>, AppError> {
    let mut open = group_buy_group::Entity::find()
        .filter(group_buy_group::Column::CampaignId.eq(campaign_id))
        .filter(joinable(now))
        .apply_if(except, |q, id| q.filter(group_buy_group::Column::Id.ne(id)))
        .order_by_asc(group_buy_group::Column::Deadline)
        .limit(500)
        .all(conn)
        .await?;
    open.sort_by_key(|g| rules::closeness(g.size, g.taken, g.deadline, g.id));
    open.truncate(first);
    Ok(open)
}

/// The open group of `campaign_id` to offer a buyer who missed a place (other than `except`):
/// the closest to success, spread over the closest few when they are nearly full
/// (`rules::pick_suggestion`).
pub async fn suggestion(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    except: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    let closest: Vec<(i64, i64)> = joinable_groups(
        conn,
        campaign_id,
        except,
        now,
        rules::SUGGESTION_SPREAD as usize,
    )
    .await?
    .iter()
    .map(|g| (g.id, i64::from(g.size - g.taken)))
    .collect();
    Ok(rules::pick_suggestion(&closest, rand::random()))
}

/// Whether `user_id` holds (or held, if refunded) a place in group `group_id`.
pub async fn is_member(
    conn: &impl ConnectionTrait,
    group_id: i64,
    user_id: i64,
) -> Result<bool, AppError> {
    Ok(group_buy_member::Entity::find()
        .filter(group_buy_member::Column::GroupId.eq(group_id))
        .filter(group_buy_member::Column::UserId.eq(user_id))
        .count(conn)
        .await?
        > 0)
}

/// How many group orders `user_id` holds (unpaid or paid) in `campaign_id`.
pub async fn held_by(
    conn: &impl ConnectionTrait,
    user_id: i64,
    campaign_id: i64,
) -> Result<u64, AppError> {
    Ok(group_buy_member::Entity::find()
        .filter(group_buy_member::Column::UserId.eq(user_id))
        .filter(group_buy_member::Column::CampaignId.eq(campaign_id))
        .filter(
            group_buy_member::Column::Status
                .is_in([MemberStatus::Holding.as_str(), MemberStatus::Paid.as_str()]),
        )
        .count(conn)
        .await?)
}

/// Takes a place in group `group_id` if one is left, the group is open and its deadline has
/// not passed — one conditional update, so concurrent takers never overfill it. Returns the
/// group after, or `None` when no place could be taken.
pub async fn take_place(
    tx: &WriteTx,
    group_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<group_buy_group::Model>, AppError> {
    Ok(group_buy_group::Entity::update_many()
        .col_expr(
            group_buy_group::Column::Taken,
            Expr::col(group_buy_group::Column::Taken).add(1),
        )
        .col_expr(group_buy_group::Column::UpdatedAt, Expr::value(now))
        .filter(group_buy_group::Column::Id.eq(group_id))
        .filter(joinable(now))
        .exec_with_returning(&**tx)
        .await?
        .pop())
}

/// Opens a group for its leader's own order (the leader takes the first place).
pub async fn launch_with_order(
    tx: &WriteTx,
    c: &group_buy_campaign::Model,
    leader: i64,
    is_distributor: bool,
    now: DateTime<Utc>,
) -> Result<group_buy_group::Model, AppError> {
    open_group(tx, c, leader, is_distributor, 1, now).await
}

/// Records the order's place (after `take_place` or `launch_with_order`). `false` when the
/// buyer holds a place in this group already (the key refuses a second one).
pub async fn add_member(
    tx: &WriteTx,
    g: &group_buy_group::Model,
    order_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let inserted = group_buy_member::Entity::insert(group_buy_member::ActiveModel {
        order_id: Set(order_id),
        group_id: Set(g.id),
        campaign_id: Set(g.campaign_id),
        user_id: Set(user_id),
        status: Set(MemberStatus::Holding.as_str().into()),
        joined_at: Set(now),
        paid_at: Set(None),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            group_buy_member::Column::GroupId,
            group_buy_member::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&**tx)
    .await?;
    Ok(inserted > 0)
}

pub async fn member_of_order(
    conn: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Option<group_buy_member::Model>, AppError> {
    Ok(group_buy_member::Entity::find_by_id(order_id)
        .one(conn)
        .await?)
}

/// Moves group `group_id`'s place counts by `taken` and `paid`; with `open_only`, only while the
/// group is open. The group after, or `None` when it did not move.
async fn recount(
    tx: &WriteTx,
    group_id: i64,
    taken: i32,
    paid: i32,
    open_only: bool,
) -> Result<Option<group_buy_group::Model>, AppError> {
    let mut update = group_buy_group::Entity::update_many()
        .col_expr(
            group_buy_group::Column::Taken,
            Expr::col(group_buy_group::Column::Taken).add(taken),
        )
        .col_expr(
            group_buy_group::Column::Paid,
            Expr::col(group_buy_group::Column::Paid).add(paid),
        )
        .col_expr(group_buy_group::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(group_buy_group::Column::Id.eq(group_id));
    if open_only {
        update = update.filter(group_buy_group::Column::Status.eq(GroupStatus::Open.as_str()));
    }
    Ok(update.exec_with_returning(&**tx).await?.pop())
}

/// Sets the member's status (and when it paid, if it did now).
async fn set_member(
    tx: &WriteTx,
    order_id: i64,
    status: MemberStatus,
    paid_at: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    let mut update = group_buy_member::Entity::update_many()
        .col_expr(
            group_buy_member::Column::Status,
            Expr::value(status.as_str()),
        )
        .filter(group_buy_member::Column::OrderId.eq(order_id));
    if let Some(at) = paid_at {
        update = update.col_expr(group_buy_member::Column::PaidAt, Expr::value(at));
    }
    update.exec(&**tx).await?;
    Ok(())
}

/// The member's order was paid: the place is paid, and the group succeeds when it was the last.
/// A payment that arrives after the group failed stays `PAID` and is refunded by the deadline
/// job.
pub async fn paid(tx: &WriteTx, m: &group_buy_member::Model) -> Result<(), AppError> {
    let now = Utc::now();
    set_member(tx, m.order_id, MemberStatus::Paid, Some(now)).await?;
    let Some(g) = recount(tx, m.group_id, 0, 1, true).await? else {
        return Ok(());
    };
    let face = member_face(&**tx, m.user_id).await?;
    if g.paid >= g.size {
        if let Some(done) = close(tx, &g, GroupStatus::Succeeded, now).await? {
            changed(tx, &done, "SUCCEEDED", Some(face));
        }
    } else {
        changed(tx, &g, "PAID", Some(face));
    }
    Ok(())
}

/// The member's order was cancelled unpaid: the buyer leaves and the place is free again.
pub async fn left(tx: &WriteTx, m: &group_buy_member::Model) -> Result<(), AppError> {
    if MemberStatus::parse(&m.status) != Some(MemberStatus::Holding) {
        return Ok(());
    }
    group_buy_member::Entity::delete_by_id(m.order_id)
        .exec(&**tx)
        .await?;
    // Also once the group closed (its deadline cancels the unpaid), so the counts stay true.
    let g = recount(tx, m.group_id, -1, 0, false).await?;
    if let Some(g) = g.filter(|g| g.status == GroupStatus::Open.as_str()) {
        let face = member_face(&**tx, m.user_id).await?;
        changed(tx, &g, "LEFT", Some(face));
    }
    Ok(())
}

/// The member's order was refunded in full: a failed group's member is done; a member of a
/// group still filling gives the place back.
pub async fn refunded(tx: &WriteTx, m: &group_buy_member::Model) -> Result<(), AppError> {
    if MemberStatus::parse(&m.status) != Some(MemberStatus::Paid) {
        return Ok(());
    }
    set_member(tx, m.order_id, MemberStatus::Refunded, None).await?;
    if let Some(g) = recount(tx, m.group_id, -1, -1, true).await? {
        let face = member_face(&**tx, m.user_id).await?;
        changed(tx, &g, "LEFT", Some(face));
    }
    Ok(())
}

/// Closes an open group as `to`; on success its paid orders are released to move on. `None`
/// when it was closed meanwhile.
async fn close(
    tx: &WriteTx,
    g: &group_buy_group::Model,
    to: GroupStatus,
    now: DateTime<Utc>,
) -> Result<Option<group_buy_group::Model>, AppError> {
    let Some(closed) = group_buy_group::Entity::update_many()
        .col_expr(group_buy_group::Column::Status, Expr::value(to.as_str()))
        .col_expr(group_buy_group::Column::ClosedAt, Expr::value(now))
        .col_expr(group_buy_group::Column::UpdatedAt, Expr::value(now))
        .filter(group_buy_group::Column::Id.eq(g.id))
        .filter(group_buy_group::Column::Status.eq(GroupStatus::Open.as_str()))
        .exec_with_returning(&**tx)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    if to == GroupStatus::Succeeded {
        let paid: Vec<i64> = group_buy_member::Entity::find()
            .filter(group_buy_member::Column::GroupId.eq(g.id))
            .filter(group_buy_member::Column::Status.eq(MemberStatus::Paid.as_str()))
            .all(&**tx)
            .await?
            .into_iter()
            .map(|m| m.order_id)
            .collect();
        lifecycle::release_holds(tx, &paid).await?;
    }
    Ok(Some(closed))
}

/// Groups whose deadline passed, handled one per transaction: each succeeds (automatic
/// completion) or fails, and its unpaid orders are cancelled (their stock comes back). Returns
/// how many were closed.
pub async fn close_due(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = group_buy_group::Entity::find()
        .filter(group_buy_group::Column::Status.eq(GroupStatus::Open.as_str()))
        .filter(group_buy_group::Column::Deadline.lte(now))
        .order_by_asc(group_buy_group::Column::Deadline)
        .limit(200)
        .all(app.db.conn())
        .await?;
    let mut closed = 0;
    for g in due {
        let tx = app.db.begin_write().await?;
        let Some(current) = group(&*tx, g.id).await? else {
            continue;
        };
        let auto = campaign(&*tx, current.campaign_id)
            .await?
            .and_then(|c| c.auto_complete_min);
        let to = rules::at_deadline(current.paid, auto);
        let Some(done) = close(&tx, &current, to, now).await? else {
            continue;
        };
        let unpaid = group_buy_member::Entity::find()
            .select_only()
            .column(group_buy_member::Column::OrderId)
            .filter(group_buy_member::Column::GroupId.eq(g.id))
            .filter(group_buy_member::Column::Status.eq(MemberStatus::Holding.as_str()))
            .into_tuple::<i64>()
            .all(&*tx)
            .await?;
        let orders = entity::order::Entity::find()
            .filter(entity::order::Column::Id.is_in(unpaid))
            .all(&*tx)
            .await?;
        for o in orders {
            lifecycle::cancel_unpaid(
                app,
                &tx,
                &o,
                lifecycle::Actor::SYSTEM,
                "the group closed before payment",
            )
            .await?;
        }
        changed(&tx, &done, done.status.as_str(), None);
        tx.commit().await?;
        closed += 1;
    }
    Ok(closed)
}

/// Gives the money back to every paid member of a failed group, through the provider each
/// paid with. A refund interrupted before (the server stopped, the provider refused) is
/// carried on, never started twice. Returns how many members were handled.
pub async fn refund_failed(app: &AppState) -> Result<usize, AppError> {
    // Paid members of failed groups: each one's refund is still to do, or under way.
    let members = group_buy_member::Entity::find()
        .filter(group_buy_member::Column::Status.eq(MemberStatus::Paid.as_str()))
        .filter(
            group_buy_member::Column::GroupId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(group_buy_group::Column::Id)
                    .from(group_buy_group::Entity)
                    .and_where(
                        Expr::col(group_buy_group::Column::Status).eq(GroupStatus::Failed.as_str()),
                    )
                    .to_owned(),
            ),
        )
        .limit(200)
        .all(app.db.conn())
        .await?;
    let mut handled = 0;
    for m in members {
        let outcome = match refunds::refund_automatically(
            app,
            m.order_id,
            FAILED_GROUP_REFUND_REASON,
        )
        .await
        {
            Ok(Some(_)) => Ok(()),
            Ok(None) => refunds::resume_automatic(app, m.order_id).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => handled += 1,
            // One member's provider failing does not hold back the others; the next run tries
            // again.
            Err(e) => {
                tracing::warn!(order_id = m.order_id, error = ?e, "group refund not done yet")
            }
        }
    }
    Ok(handled)
}

/// The deadline job: close what is due, then refund what failed.
pub async fn run_deadlines(app: std::sync::Arc<AppState>) -> Result<(), AppError> {
    close_due(&app, Utc::now()).await?;
    refund_failed(&app).await?;
    Ok(())
}
