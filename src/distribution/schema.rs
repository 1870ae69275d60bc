//! Distribution over GraphQL: the distributor's own views (`my…`), recruitment, sharing and
//! binding, staff management, rules and settlement, withdrawals, and `commissionChanged`.
//! Resolvers check who is asking and call the services.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use entity::{
    balance_entry, commission, distributor, distributor_application, distributor_level,
    distributor_report, distributor_tree, settlement_run, withdrawal,
};
use futures::{Stream, StreamExt};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::{
    commissions::{self, CommissionStatus},
    errors::{DistributionError, DistributionErrorCode as Code},
    ledger::{self, LedgerKind},
    levels,
    performance::{self, PerformancePeriod, RankBy},
    recruitment::{self, Application, ApplicationStatus, DistributorEdit},
    rules::{
        BindingMode, CommissionBase, CommissionOverride, CommissionRules, LevelConditions,
        LevelRates, SettlementCycle,
    },
    settings::{self, ApplicationField, RecruitmentMode},
    settlement::{self, Settled},
    team,
    types::{
        Balance, Commission, CommissionRulesView, DistributionSettingsView, Distributor,
        DistributorApplication, DistributorLevel, DistributorPerformance, LedgerEntry,
        MonthlyReport, RankedDistributor, SettlementRun, ShareLink, TeamConnection, TeamEdge,
        TeamMember, UplineEntry, Withdrawal, can_read_commission, can_read_withdrawal,
    },
    withdrawals::{self, WithdrawalChannel, WithdrawalRequest, WithdrawalStatus},
};
use crate::{
    auth::{Permission, PermissionGuard, Principal},
    error::{AppError, ServiceError},
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        ids,
        relay::{self, Page, Window},
        scalars::{DateTime, Money, Percent},
    },
    money,
    orders::types::yuan,
};

type Result<T> = async_graphql::Result<T>;

/// The caller, who must be an active distributor.
fn distributor_caller<'a>(ctx: &'a Context<'_>) -> Result<&'a Arc<Principal>> {
    let me = ctx.viewer().require_user()?;
    if !me.is_distributor {
        return Err(AppError::forbidden().into());
    }
    Ok(me)
}

fn window(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<Window> {
    Ok(Window::new(first, after, last, before)?)
}

/// An id of `kind`, or 0 (which matches nothing) when malformed: an unknown id and a
/// malformed one are the same "not found" to the caller.
fn key(kind: &str, id: &ID) -> i64 {
    ids::decode(kind, id).unwrap_or(0)
}

async fn team_page(
    ctx: &Context<'_>,
    ancestor: i64,
    depth: i32,
    w: Window,
) -> Result<TeamConnection> {
    if !(1..=3).contains(&depth) {
        return Err(AppError::bad_input("depth is 1 to 3").into());
    }
    let app = ctx.app();
    let counts = team::team_counts(app.db.conn(), ancestor).await?;
    let select = distributor_tree::Entity::find()
        .filter(distributor_tree::Column::AncestorUserId.eq(ancestor))
        .filter(distributor_tree::Column::Depth.between(1, depth));
    let conn = app.db.conn();
    let page = match w.forward() {
        // Forward (the usual way): one range of the team index per level, each already newest
        // first, merged — at most `depth × (first + 1)` rows read however large the team, and
        // a plan PostgreSQL cannot get wrong.
        Some((limit, after)) => {
            let mut rows = Vec::new();
            for level in 1..=depth {
                let mut q = distributor_tree::Entity::find()
                    .filter(distributor_tree::Column::AncestorUserId.eq(ancestor))
                    .filter(distributor_tree::Column::Depth.eq(level));
                if let Some(a) = after {
                    q = q.filter(distributor_tree::Column::DescendantUserId.lt(a));
                }
                rows.extend(
                    q.order_by_desc(distributor_tree::Column::DescendantUserId)
                        .limit(limit + 1)
                        .all(conn)
                        .await?,
                );
            }
            rows.sort_by_key(|r| std::cmp::Reverse(r.descendant_user_id));
            rows.truncate(limit as usize + 1);
            relay::RowPage::forward(conn, select, rows, &w, |r| r.descendant_user_id)
        }
        // Backward (`last`/`before`): the primary key walked the other way. PostgreSQL would
        // soon plan this prepared statement generically (the depth index read whole and
        // sorted); `SET LOCAL` has it planned for this distributor, in this read only.
        None => {
            let read = conn.begin().await?;
            if app.db.is_postgres() {
                read.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                    .await?;
            }
            let page = relay::page_of_rows(
                conn,
                &read,
                select,
                distributor_tree::Column::DescendantUserId,
                |r| r.descendant_user_id,
                true,
                w,
            )
            .await?;
            read.commit().await?;
            page
        }
    };
    // The page's distributors in one batch.
    let found = ctx
        .loaders()
        .distributors
        .load_many(page.rows.iter().map(|r| r.descendant_user_id))
        .await?;
    let (has_previous_page, has_next_page) = (page.has_previous(), page.has_next());
    // Distributors are never deleted; a row without one is skipped rather than trusted.
    let edges = page
        .rows
        .into_iter()
        .filter_map(|row| {
            let member = found.get(&row.descendant_user_id)?.clone();
            Some(TeamEdge { row, member })
        })
        .collect();
    Ok(TeamConnection {
        edges,
        has_previous_page,
        has_next_page,
        counts,
        depth,
    })
}

/// Which commission records to list; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct CommissionFilter {
    /// Records in any of these statuses.
    statuses: Option<Vec<CommissionStatus>>,
    /// Staff only: one distributor's records.
    distributor_id: Option<ID>,
    /// Records of this order.
    order_id: Option<ID>,
    /// Created at or after this time.
    created_from: Option<DateTime>,
    /// Created before this time.
    created_to: Option<DateTime>,
}

async fn commission_page(
    ctx: &Context<'_>,
    beneficiary: Option<i64>,
    filter: CommissionFilter,
    w: Window,
) -> Result<Page<Commission>> {
    let mut select = commission::Entity::find();
    if let Some(b) = beneficiary {
        select = select.filter(commission::Column::BeneficiaryUserId.eq(b));
    }
    if let Some(s) = filter.statuses.filter(|s| !s.is_empty()) {
        select = select.filter(commission::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(d) = &filter.distributor_id {
        select = select.filter(commission::Column::BeneficiaryUserId.eq(key("Distributor", d)));
    }
    if let Some(o) = &filter.order_id {
        select = select.filter(commission::Column::OrderId.eq(key("Order", o)));
    }
    if let Some(from) = filter.created_from {
        select = select.filter(commission::Column::CreatedAt.gte(from.0));
    }
    if let Some(to) = filter.created_to {
        select = select.filter(commission::Column::CreatedAt.lt(to.0));
    }
    Ok(relay::paginate(
        ctx.app().db.conn(),
        select,
        commission::Column::Id,
        |c| c.id,
        true,
        w,
        Commission,
    )
    .await?)
}

async fn ledger_page(
    ctx: &Context<'_>,
    user_id: i64,
    kinds: Option<Vec<LedgerKind>>,
    w: Window,
) -> Result<Page<LedgerEntry>> {
    let mut select =
        balance_entry::Entity::find().filter(balance_entry::Column::UserId.eq(user_id));
    if let Some(k) = kinds.filter(|k| !k.is_empty()) {
        select = select.filter(balance_entry::Column::Kind.is_in(k.iter().map(|x| x.as_str())));
    }
    Ok(relay::paginate(
        ctx.app().db.conn(),
        select,
        balance_entry::Column::Id,
        |e| e.id,
        true,
        w,
        LedgerEntry,
    )
    .await?)
}

async fn withdrawal_page(
    ctx: &Context<'_>,
    user_id: Option<i64>,
    statuses: Option<Vec<WithdrawalStatus>>,
    w: Window,
) -> Result<Page<Withdrawal>> {
    let mut select = withdrawal::Entity::find();
    if let Some(u) = user_id {
        select = select.filter(withdrawal::Column::UserId.eq(u));
    }
    if let Some(s) = statuses.filter(|s| !s.is_empty()) {
        select = select.filter(withdrawal::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    Ok(relay::paginate(
        ctx.app().db.conn(),
        select,
        withdrawal::Column::Id,
        |w| w.id,
        true,
        w,
        Withdrawal,
    )
    .await?)
}

async fn balance_of(ctx: &Context<'_>, user_id: i64) -> Result<Balance> {
    let conn = ctx.app().db.conn();
    let b = ledger::balances(conn, user_id).await?;
    let (pending, earned) = ledger::commission_totals(conn, user_id).await?;
    Ok(Balance {
        available: yuan(b.available_fen),
        frozen: yuan(b.frozen_fen),
        pending_commission: yuan(pending),
        lifetime_earned: yuan(earned),
    })
}

fn period_bounds(
    ctx: &Context<'_>,
    period: PerformancePeriod,
    from: Option<DateTime>,
    to: Option<DateTime>,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let custom = from.zip(to).map(|(f, t)| (f.0, t.0));
    performance::bounds(
        period,
        custom,
        chrono::Utc::now(),
        ctx.app().config.business_utc_offset_hours,
    )
    .ok_or_else(|| {
        AppError::bad_input("a custom period needs from before to, at most 366 days apart").into()
    })
}

fn share_url(base: Option<&str>, code: &str, product: Option<i64>) -> String {
    let origin = base.map(|b| b.trim_end_matches('/')).unwrap_or("");
    match product {
        Some(p) => format!(
            "{origin}/s/{code}?product={}",
            ids::encode("Product", p).as_str()
        ),
        None => format!("{origin}/s/{code}"),
    }
}

#[derive(Default)]
pub struct DistributionQuery;

#[Object]
impl DistributionQuery {
    /// The recruitment settings, application form and agreement (anyone signed in; staff with
    /// DISTRIBUTION also see the withdrawal and binding settings the same way).
    async fn distribution_settings(&self, ctx: &Context<'_>) -> Result<DistributionSettingsView> {
        ctx.viewer().require_user()?;
        Ok(DistributionSettingsView(
            settings::load(ctx.app().db.conn()).await?,
        ))
    }

    /// The caller's distributor profile; null when they are not a distributor.
    async fn my_distributor(&self, ctx: &Context<'_>) -> Result<Option<Distributor>> {
        let me = ctx.viewer().require_user()?;
        Ok(team::find(ctx.app().db.conn(), me.user_id)
            .await?
            .map(Distributor))
    }

    /// The caller's latest application.
    async fn my_distributor_application(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<DistributorApplication>> {
        let me = ctx.viewer().require_user()?;
        Ok(distributor_application::Entity::find()
            .filter(distributor_application::Column::UserId.eq(me.user_id))
            .order_by_desc(distributor_application::Column::Id)
            .one(ctx.app().db.conn())
            .await?
            .map(DistributorApplication))
    }

    /// A link and code to share a product (or the shop) that binds whoever comes through it
    /// (distributors only; `FORBIDDEN` for others).
    async fn share_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A product on sale to link to; the shop when omitted.")]
        product_id: Option<ID>,
    ) -> Result<ShareLink> {
        let me = distributor_caller(ctx)?;
        let d = team::find(ctx.app().db.conn(), me.user_id)
            .await?
            .ok_or_else(AppError::forbidden)?;
        let product = match &product_id {
            Some(id) => {
                let key = key("Product", id);
                let p = ctx.loaders().product(key).await?;
                if !p.is_some_and(|p| crate::catalog::types::visible(ctx.viewer(), &p)) {
                    return Err(AppError::not_found("Product").into());
                }
                Some(key)
            }
            None => None,
        };
        Ok(ShareLink {
            url: share_url(
                ctx.app().config.public_url.as_deref(),
                &d.referral_code,
                product,
            ),
            code: d.referral_code,
            product_id,
        })
    }

    /// The caller's team to `depth` levels below them (1–3), with counts per level.
    async fn my_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many levels below to include, 1–3 (1: those invited directly).",
            default = 1
        )]
        depth: i32,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<TeamConnection> {
        let me = distributor_caller(ctx)?;
        team_page(ctx, me.user_id, depth, window(first, after, last, before)?).await
    }

    /// The distributors above the caller, nearest first (at most three).
    async fn my_upline(&self, ctx: &Context<'_>) -> Result<Vec<UplineEntry>> {
        let me = distributor_caller(ctx)?;
        let ids = team::upline(ctx.app().db.conn(), me.user_id, 3).await?;
        let found = ctx
            .loaders()
            .distributors
            .load_many(ids.iter().copied().skip(1))
            .await?;
        Ok(ids
            .iter()
            .skip(1)
            .enumerate()
            .filter_map(|(i, id)| {
                found.get(id).map(|d| UplineEntry {
                    distance: i as i32 + 1,
                    member: TeamMember(d.clone()),
                })
            })
            .collect())
    }

    /// The caller's commission records, newest first.
    async fn my_commissions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which records; `distributorId` is ignored here.")] filter: Option<
            CommissionFilter,
        >,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<Commission>> {
        let me = ctx.viewer().require_user()?;
        let mut filter = filter.unwrap_or_default();
        // A distributor's own records only, whatever the filter names.
        filter.distributor_id = None;
        commission_page(
            ctx,
            Some(me.user_id),
            filter,
            window(first, after, last, before)?,
        )
        .await
    }

    /// The signed-in user's balance (all zero for someone who never earned).
    async fn my_balance(&self, ctx: &Context<'_>) -> Result<Balance> {
        let me = ctx.viewer().require_user()?;
        balance_of(ctx, me.user_id).await
    }

    /// The caller's ledger, newest first.
    async fn my_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries of these kinds; every entry when omitted.")] kinds: Option<
            Vec<LedgerKind>,
        >,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<LedgerEntry>> {
        let me = ctx.viewer().require_user()?;
        ledger_page(ctx, me.user_id, kinds, window(first, after, last, before)?).await
    }

    /// The caller's withdrawals, newest first.
    async fn my_withdrawals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only requests in any of these statuses; every request when omitted.")]
        statuses: Option<Vec<WithdrawalStatus>>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<Withdrawal>> {
        let me = ctx.viewer().require_user()?;
        withdrawal_page(
            ctx,
            Some(me.user_id),
            statuses,
            window(first, after, last, before)?,
        )
        .await
    }

    /// Distributor levels, lowest rank first (anyone signed in).
    async fn distributor_levels(&self, ctx: &Context<'_>) -> Result<Vec<DistributorLevel>> {
        ctx.viewer().require_user()?;
        Ok(distributor_level::Entity::find()
            .order_by_asc(distributor_level::Column::Rank)
            .all(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(|l| DistributorLevel(Arc::new(l)))
            .collect())
    }

    /// Distributors, newest first (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    #[allow(clippy::too_many_arguments)]
    async fn distributors(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "True: only active distributors; false: only disabled ones; omitted: both."
        )]
        active: Option<bool>,
        #[graphql(desc = "Name, phone or referral code; at most 100 characters.")] keyword: Option<
            String,
        >,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<Distributor>> {
        let mut select = distributor::Entity::find();
        if let Some(a) = active {
            select = select.filter(distributor::Column::Status.eq(if a {
                team::STATUS_ACTIVE
            } else {
                team::STATUS_DISABLED
            }));
        }
        if let Some(k) = keyword
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
        {
            select = select.filter(
                sea_orm::Condition::any()
                    .add(distributor::Column::Name.contains(&k))
                    .add(distributor::Column::Phone.eq(&k))
                    .add(distributor::Column::ReferralCode.eq(team::normalize_code(&k))),
            );
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            distributor::Column::UserId,
            |d| d.user_id,
            true,
            window(first, after, last, before)?,
            Distributor,
        )
        .await?)
    }

    /// One distributor (themselves, or staff with DISTRIBUTION); null for anyone else.
    async fn distributor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor's global id.")] id: ID,
    ) -> Result<Option<Distributor>> {
        let key = key("Distributor", &id);
        if !super::types::can_read_distributor(ctx.viewer(), key) {
            ctx.viewer().require_user()?;
            return Ok(None);
        }
        Ok(team::find(ctx.app().db.conn(), key).await?.map(Distributor))
    }

    /// Any distributor's team (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    #[allow(clippy::too_many_arguments)]
    async fn distributor_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor whose team to list.")] distributor_id: ID,
        #[graphql(
            desc = "How many levels below to include, 1–3 (1: those invited directly).",
            default = 1
        )]
        depth: i32,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<TeamConnection> {
        team_page(
            ctx,
            key("Distributor", &distributor_id),
            depth,
            window(first, after, last, before)?,
        )
        .await
    }

    /// Applications, newest first (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn distributor_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only applications in this status; every application when omitted.")]
        status: Option<ApplicationStatus>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<DistributorApplication>> {
        let mut select = distributor_application::Entity::find();
        if let Some(s) = status {
            select = select.filter(distributor_application::Column::Status.eq(s.as_str()));
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            distributor_application::Column::Id,
            |a| a.id,
            true,
            window(first, after, last, before)?,
            DistributorApplication,
        )
        .await?)
    }

    /// Commission records of everyone (staff with DISTRIBUTION or FINANCE).
    async fn commissions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which records; every record when omitted.")] filter: Option<
            CommissionFilter,
        >,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<Commission>> {
        let me = ctx.viewer().require_user()?;
        if !me.has(Permission::Distribution) && !me.has(Permission::Finance) {
            return Err(AppError::forbidden().into());
        }
        commission_page(
            ctx,
            None,
            filter.unwrap_or_default(),
            window(first, after, last, before)?,
        )
        .await
    }

    /// One commission record (its distributor, or staff with DISTRIBUTION or FINANCE); null for
    /// anyone else.
    async fn commission(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record's global id.")] id: ID,
    ) -> Result<Option<Commission>> {
        ctx.viewer().require_user()?;
        Ok(commission::Entity::find_by_id(key("Commission", &id))
            .one(ctx.app().db.conn())
            .await?
            .filter(|c| can_read_commission(ctx.viewer(), c))
            .map(Commission))
    }

    /// A distributor's balance (staff with FINANCE).
    #[graphql(guard = "PermissionGuard(Permission::Finance)")]
    async fn distributor_balance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor.")] distributor_id: ID,
    ) -> Result<Balance> {
        balance_of(ctx, key("Distributor", &distributor_id)).await
    }

    /// Withdrawal requests, newest first (staff with FINANCE).
    #[graphql(guard = "PermissionGuard(Permission::Finance)")]
    async fn withdrawals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only requests in any of these statuses; every request when omitted.")]
        statuses: Option<Vec<WithdrawalStatus>>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<Withdrawal>> {
        withdrawal_page(ctx, None, statuses, window(first, after, last, before)?).await
    }

    /// One withdrawal (its distributor, or finance staff); null for anyone else.
    async fn withdrawal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The withdrawal's global id.")] id: ID,
    ) -> Result<Option<Withdrawal>> {
        ctx.viewer().require_user()?;
        Ok(withdrawal::Entity::find_by_id(key("Withdrawal", &id))
            .one(ctx.app().db.conn())
            .await?
            .filter(|w| can_read_withdrawal(ctx.viewer(), w))
            .map(Withdrawal))
    }

    /// The commission rules in force (distributors and staff).
    async fn commission_rules(&self, ctx: &Context<'_>) -> Result<CommissionRulesView> {
        ctx.viewer().require_user()?;
        let version = settings::latest(ctx.app().db.conn()).await?;
        let rules = match &version {
            Some(v) => (*ctx
                .app()
                .distribution
                .get(ctx.app().db.conn(), v.id)
                .await?)
                .clone(),
            None => CommissionRules::default(),
        };
        Ok(CommissionRulesView { version, rules })
    }

    /// What a distributor did in a period: the caller, or (staff with DISTRIBUTION) any
    /// distributor. `CUSTOM` needs `from` and `to`.
    async fn distributor_performance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which period, in shop time.")] period: PerformancePeriod,
        #[graphql(desc = "`CUSTOM` only: the start, included.")] from: Option<DateTime>,
        #[graphql(desc = "`CUSTOM` only: the end, excluded; at most 366 days after `from`.")]
        to: Option<DateTime>,
        #[graphql(
            desc = "Staff with DISTRIBUTION: whose performance; the caller's own when omitted."
        )]
        distributor_id: Option<ID>,
    ) -> Result<DistributorPerformance> {
        let me = ctx.viewer().require_user()?;
        let who = match &distributor_id {
            Some(id) if me.has(Permission::Distribution) => key("Distributor", id),
            Some(_) => return Err(AppError::forbidden().into()),
            None if me.is_distributor => me.user_id,
            None => return Err(AppError::forbidden().into()),
        };
        let (from, to) = period_bounds(ctx, period, from, to)?;
        let figures = performance::performance(ctx.app(), Some(&[who]), from, to)
            .await?
            .remove(&who)
            .unwrap_or_default();
        Ok(DistributorPerformance::new(from, to, &figures))
    }

    /// The best distributors of a period (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn distributor_ranking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which period, in shop time.")] period: PerformancePeriod,
        #[graphql(desc = "`CUSTOM` only: the start, included.")] from: Option<DateTime>,
        #[graphql(desc = "`CUSTOM` only: the end, excluded; at most 366 days after `from`.")]
        to: Option<DateTime>,
        #[graphql(desc = "What to rank by.")] by: RankBy,
        #[graphql(desc = "How many places, 1–100.", default = 20)] first: i32,
    ) -> Result<Vec<RankedDistributor>> {
        if !(1..=100).contains(&first) {
            return Err(AppError::bad_input("first is 1 to 100").into());
        }
        let (from, to) = period_bounds(ctx, period, from, to)?;
        let ranked = performance::ranking(ctx.app(), by, from, to, first as usize).await?;
        let found = ctx
            .loaders()
            .distributors
            .load_many(ranked.iter().map(|(id, _)| *id))
            .await?;
        Ok(ranked
            .iter()
            .enumerate()
            .map(|(i, (id, p))| RankedDistributor {
                rank: i as i32 + 1,
                distributor: found.get(id).map(|d| Distributor((**d).clone())),
                performance: DistributorPerformance::new(from, to, p),
            })
            .collect())
    }

    /// The caller's monthly reports, newest first (distributors only).
    async fn my_monthly_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<MonthlyReport>> {
        let me = distributor_caller(ctx)?;
        Ok(relay::paginate(
            ctx.app().db.conn(),
            distributor_report::Entity::find()
                .filter(distributor_report::Column::UserId.eq(me.user_id)),
            distributor_report::Column::Id,
            |r| r.id,
            true,
            window(first, after, last, before)?,
            MonthlyReport,
        )
        .await?)
    }

    /// Every distributor's report for a month (`YYYY-MM`), newest first (staff with
    /// DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn distributor_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The month, `YYYY-MM`.")] period: String,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<MonthlyReport>> {
        Ok(relay::paginate(
            ctx.app().db.conn(),
            distributor_report::Entity::find()
                .filter(distributor_report::Column::Period.eq(period.trim())),
            distributor_report::Column::Id,
            |r| r.id,
            true,
            window(first, after, last, before)?,
            MonthlyReport,
        )
        .await?)
    }

    /// Settlement runs, newest first (staff with DISTRIBUTION or FINANCE).
    async fn settlement_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> Result<Page<SettlementRun>> {
        let me = ctx.viewer().require_user()?;
        if !me.has(Permission::Distribution) && !me.has(Permission::Finance) {
            return Err(AppError::forbidden().into());
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            settlement_run::Entity::find(),
            settlement_run::Column::Id,
            |r| r.id,
            true,
            window(first, after, last, before)?,
            SettlementRun,
        )
        .await?)
    }
}

/// One answer on the application form.
#[derive(InputObject)]
pub struct AnswerInput {
    /// The form field's key (see `distributionSettings.applicationFields`).
    key: String,
    /// The answer, up to 500 characters.
    value: String,
}

/// An application to become a distributor.
#[derive(InputObject)]
pub struct ApplyForDistributorInput {
    /// Answers to the merchant's form; every required field needs one.
    #[graphql(default)]
    answers: Vec<AnswerInput>,
    /// The referral code of the distributor who invited the applicant.
    inviter_code: Option<String>,
}

/// The result of applying or of a review.
#[derive(SimpleObject)]
pub struct ApplicationPayload {
    /// The application as it is now; null when refused.
    application: Option<DistributorApplication>,
    /// Set when the application was approved (at once, or by this review).
    distributor: Option<Distributor>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

async fn application_payload(
    ctx: &Context<'_>,
    r: std::result::Result<distributor_application::Model, ServiceError<Vec<DistributionError>>>,
) -> Result<ApplicationPayload> {
    match r {
        Ok(a) => {
            let d = team::find(ctx.app().db.conn(), a.user_id).await?;
            Ok(ApplicationPayload {
                application: Some(DistributorApplication(a)),
                distributor: d.map(Distributor),
                user_errors: vec![],
            })
        }
        Err(ServiceError::User(e)) => Ok(ApplicationPayload {
            application: None,
            distributor: None,
            user_errors: e,
        }),
        Err(ServiceError::App(e)) => Err(e.into()),
    }
}

/// A decision on a pending application.
#[derive(InputObject)]
pub struct ReviewApplicationInput {
    /// The application, `PENDING`.
    application_id: ID,
    /// True approves (the applicant becomes a distributor), false rejects.
    approve: bool,
    /// Required to reject; shown to the applicant.
    reason: Option<String>,
}

/// The result of a change to a distributor.
#[derive(SimpleObject)]
pub struct DistributorPayload {
    /// The distributor as it is now; null when refused.
    distributor: Option<Distributor>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

fn distributor_payload(
    r: std::result::Result<distributor::Model, ServiceError<Vec<DistributionError>>>,
) -> Result<DistributorPayload> {
    crate::graphql::errors::payload(
        r,
        |d| DistributorPayload {
            distributor: Some(Distributor(d)),
            user_errors: vec![],
        },
        |e| DistributorPayload {
            distributor: None,
            user_errors: e,
        },
    )
}

/// Changes to a distributor's profile; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateDistributorInput {
    /// The distributor.
    distributor_id: ID,
    /// Display name, 1–64 characters.
    name: Option<String>,
    /// Contact mobile, a mainland number.
    phone: Option<String>,
    /// The team's name, up to 64 characters.
    team_name: Option<String>,
    /// A level id; give `clearLevel` to remove the level.
    level_id: Option<ID>,
    /// Remove their level (wins over `levelId`).
    #[graphql(default)]
    clear_level: bool,
}

/// The whole distribution settings document; it replaces the current one.
#[derive(InputObject)]
pub struct DistributionSettingsInput {
    /// How customers become distributors.
    recruitment_mode: RecruitmentMode,
    /// For `SPEND_THRESHOLD`: what an applicant's paid orders must reach, in yuan; 0.00 when
    /// omitted.
    #[graphql(default)]
    spend_threshold: Option<Money>,
    /// The application form: up to 20 fields with distinct keys.
    application_fields: Vec<ApplicationField>,
    /// The agreement applicants accept: at most 20,000 characters.
    agreement: String,
    /// When a new touch replaces a customer's binding.
    binding_mode: BindingMode,
    /// For `DAYS`: how long a binding lasts, 1–3650 days.
    #[graphql(default = 30)]
    binding_days: u32,
    /// The smallest withdrawal, in yuan, from ¥0.01.
    withdrawal_min: Money,
    /// The largest withdrawal, in yuan, not below the minimum.
    withdrawal_max: Money,
    /// The fee taken from each withdrawal as a rate of its amount, from 0 to below 100
    /// (`"0.6"`: ¥0.60 per ¥100.00); none when absent.
    #[graphql(default)]
    withdrawal_fee_rate: Option<Percent>,
}

/// The result of `updateDistributionSettings`.
#[derive(SimpleObject)]
pub struct DistributionSettingsPayload {
    /// The settings as saved; null when refused.
    settings: Option<DistributionSettingsView>,
    /// Why they were refused (`INVALID_SETTINGS`, nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

/// A product's or SKU's own commission: give `rates` or `fixedAmounts`, not both.
#[derive(InputObject)]
pub struct CommissionOverrideInput {
    /// The product.
    product_id: ID,
    /// One SKU of it (then this wins over the product's own override); every SKU when omitted.
    sku_id: Option<ID>,
    /// Rate per tier, nearest distributor first, each from 0 to 100 and together at most 100
    /// (`["30", "0"]`: 30 % to tier 1, nothing to the others); give either this or
    /// `fixedAmounts`.
    rates: Option<Vec<Percent>>,
    /// Per unit per tier.
    fixed_amounts: Option<Vec<Money>>,
}

/// A level's own commission rates.
#[derive(InputObject)]
pub struct LevelRatesInput {
    /// The level.
    level_id: ID,
    /// Rate per tier for a beneficiary holding the level, nearest distributor first (1–3
    /// rates, each from 0 to 100, together at most 100).
    rates: Vec<Percent>,
}

/// A new version of the commission rules.
#[derive(InputObject)]
pub struct CommissionRulesInput {
    /// Rate per tier, nearest distributor first: 1–3 rates, each from 0 to 100 and together
    /// at most 100, e.g. `["20", "10", "5"]` for 20 %, 10 % and 5 %.
    rates: Vec<Percent>,
    /// What rates apply to.
    base: CommissionBase,
    /// Whether a distributor earns tier 1 on their own purchases.
    self_purchase: bool,
    /// How often confirmed commissions are settled.
    cycle: SettlementCycle,
    /// Weekly: 1 (Monday) to 7; monthly: 1–28; daily: ignored.
    payout_day: u32,
    /// Per-product and per-SKU overrides.
    #[graphql(default)]
    overrides: Vec<CommissionOverrideInput>,
    /// Rates per distributor level.
    #[graphql(default)]
    level_rates: Vec<LevelRatesInput>,
}

/// The result of `publishCommissionRules`.
#[derive(SimpleObject)]
pub struct CommissionRulesPayload {
    /// The new version; null when refused.
    rules: Option<CommissionRulesView>,
    /// Why they were refused (`INVALID_SETTINGS`, nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

fn bad_rules(field: &str, message: impl Into<String>) -> DistributionError {
    DistributionError::new(Code::InvalidSettings, Some(field), message)
}

fn rates_of(rates: &[Percent]) -> Vec<Decimal> {
    rates.iter().map(|r| r.0).collect()
}

impl CommissionRulesInput {
    fn into_rules(self) -> std::result::Result<CommissionRules, DistributionError> {
        let mut overrides = Vec::new();
        for o in self.overrides {
            overrides.push(CommissionOverride {
                product_id: ids::decode("Product", &o.product_id)
                    .map_err(|_| bad_rules("overrides", "not a product id"))?,
                sku_id: o
                    .sku_id
                    .as_ref()
                    .map(|s| ids::decode("Sku", s))
                    .transpose()
                    .map_err(|_| bad_rules("overrides", "not a SKU id"))?,
                rates: o.rates.as_deref().map(rates_of),
                fixed_fen: o
                    .fixed_amounts
                    .map(|f| {
                        f.iter()
                            .map(|m| money::to_fen(m.0))
                            .collect::<Option<Vec<_>>>()
                    })
                    .map(|f| f.ok_or_else(|| bad_rules("overrides", "not an amount")))
                    .transpose()?,
            });
        }
        let mut level_rates = Vec::new();
        for l in self.level_rates {
            level_rates.push(LevelRates {
                level_id: ids::decode("DistributorLevel", &l.level_id)
                    .map_err(|_| bad_rules("levelRates", "not a level id"))?,
                rates: rates_of(&l.rates),
            });
        }
        Ok(CommissionRules {
            rates: rates_of(&self.rates),
            base: self.base,
            self_purchase: self.self_purchase,
            cycle: self.cycle,
            payout_day: self.payout_day,
            overrides,
            level_rates,
        })
    }
}

/// A distributor level to create (no `id`) or replace; give at least one condition.
#[derive(InputObject)]
pub struct LevelInput {
    /// Absent to create a level.
    id: Option<ID>,
    /// 1–32 characters.
    name: String,
    /// 1–100, unique; higher is better.
    rank: i32,
    /// True: every condition given must hold; false: any one.
    #[graphql(default)]
    require_all: bool,
    /// At least this many distributors they invited themselves.
    invited_distributors: Option<i64>,
    /// At least this much attributed sales of everyone below them, in yuan.
    team_sales: Option<Money>,
    /// At least this much of their own attributed sales, in yuan.
    own_sales: Option<Money>,
    /// At least this many paid attributed orders.
    order_count: Option<i64>,
}

/// The result of `saveDistributorLevel`.
#[derive(SimpleObject)]
pub struct LevelPayload {
    /// The level as saved; null when refused.
    level: Option<DistributorLevel>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

/// The result of `deleteDistributorLevel`.
#[derive(SimpleObject)]
pub struct DeleteLevelPayload {
    /// The deleted level's global id; null when refused.
    deleted_id: Option<ID>,
    /// Why it was refused (a distributor holds it, or it does not exist); empty on success.
    user_errors: Vec<DistributionError>,
}

/// The result of `runSettlement`.
#[derive(SimpleObject)]
pub struct SettlementPayload {
    /// The period's run: this call's, or the earlier one that settled it; null when refused.
    run: Option<SettlementRun>,
    /// True when this call settled the period; false when it had been settled before (nothing
    /// changed) or the run was refused.
    settled_now: bool,
    /// Why the run was refused. Empty today: a run either settles the period or finds it
    /// settled; listed so that every mutation answers the same way.
    user_errors: Vec<DistributionError>,
}

/// The result of `evaluateDistributorLevels`.
#[derive(SimpleObject)]
pub struct EvaluateLevelsPayload {
    /// How many distributors rose to a higher level (this never lowers a level); null when
    /// refused.
    raised: Option<i64>,
    /// The distributor asked about, with the level they hold now; null when all were
    /// evaluated or the call was refused.
    distributor: Option<Distributor>,
    /// Why nothing was evaluated (`DISTRIBUTOR_NOT_FOUND` for an unknown `distributorId`).
    user_errors: Vec<DistributionError>,
}

/// The result of `recordShareVisit`.
#[derive(SimpleObject)]
pub struct ShareVisitPayload {
    /// Whether the visit was recorded.
    recorded: bool,
    /// Why it was not: `UNKNOWN_REFERRAL_CODE` when no active distributor has the code,
    /// `PRODUCT_NOT_FOUND` when the product is unknown or not on sale.
    user_errors: Vec<DistributionError>,
}

/// A withdrawal request.
#[derive(InputObject)]
pub struct RequestWithdrawalInput {
    /// In yuan, between the settings' minimum and maximum and at most the available balance.
    amount: Money,
    /// Where the money goes.
    channel: WithdrawalChannel,
    /// Bank card number, or the WeChat account to pay.
    account: String,
    /// The account holder's name, up to 32 characters.
    account_name: Option<String>,
}

/// The result of a withdrawal mutation.
#[derive(SimpleObject)]
pub struct WithdrawalPayload {
    /// The request as it is now; null when refused.
    withdrawal: Option<Withdrawal>,
    /// The distributor's balance after the change; null when refused.
    balance: Option<Balance>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<DistributionError>,
}

async fn withdrawal_payload(
    ctx: &Context<'_>,
    r: std::result::Result<withdrawal::Model, ServiceError<Vec<DistributionError>>>,
) -> Result<WithdrawalPayload> {
    match r {
        Ok(w) => {
            let balance = balance_of(ctx, w.user_id).await?;
            Ok(WithdrawalPayload {
                withdrawal: Some(Withdrawal(w)),
                balance: Some(balance),
                user_errors: vec![],
            })
        }
        Err(ServiceError::User(e)) => Ok(WithdrawalPayload {
            withdrawal: None,
            balance: None,
            user_errors: e,
        }),
        Err(ServiceError::App(e)) => Err(e.into()),
    }
}

/// The result of `bindReferrer`.
#[derive(SimpleObject)]
pub struct BindingPayload {
    /// The distributor the caller is bound to after this (null: none).
    bound_to: Option<String>,
    /// Whether this touch changed the binding.
    changed: bool,
    /// Why the code binds nobody (unknown code, own code, a loop); empty otherwise. A binding
    /// kept by the binding mode is not an error: `changed` is false.
    user_errors: Vec<DistributionError>,
}

#[derive(Default)]
pub struct DistributionMutation;

#[Object]
impl DistributionMutation {
    /// Apply to become a distributor with the merchant's form.
    async fn apply_for_distributor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The form's answers and the inviter's code.")]
        input: ApplyForDistributorInput,
    ) -> Result<ApplicationPayload> {
        let me = ctx.viewer().require_user()?;
        let answers = input
            .answers
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect();
        let r = recruitment::apply(
            ctx.app(),
            me.user_id,
            Application {
                answers,
                inviter_code: input.inviter_code.as_deref(),
            },
        )
        .await;
        application_payload(ctx, r).await
    }

    /// Records that a share link was opened (anyone, signed in or not). An unknown code or a
    /// product the caller cannot see records nothing and says why in `userErrors`.
    async fn record_share_visit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The referral code in the link.")] code: String,
        #[graphql(desc = "The product the link shows, when it shows one.")] product_id: Option<ID>,
    ) -> Result<ShareVisitPayload> {
        let refused = |code: Code, field: &str, message: &str| ShareVisitPayload {
            recorded: false,
            user_errors: vec![DistributionError::new(code, Some(field), message)],
        };
        let product = match &product_id {
            Some(id) => {
                let key = key("Product", id);
                let p = ctx.loaders().product(key).await?;
                if !p.is_some_and(|p| crate::catalog::types::visible(ctx.viewer(), &p)) {
                    return Ok(refused(
                        Code::ProductNotFound,
                        "productId",
                        "no such product on sale",
                    ));
                }
                Some(key)
            }
            None => None,
        };
        let viewer = ctx.viewer().principal().map(|p| p.user_id);
        if !team::record_visit(ctx.app(), &code, product, viewer).await? {
            return Ok(refused(
                Code::UnknownReferralCode,
                "code",
                "no active distributor has this code",
            ));
        }
        Ok(ShareVisitPayload {
            recorded: true,
            user_errors: vec![],
        })
    }

    /// The caller arrived through a share link or code (at registration or later): binds them
    /// to its distributor by the configured binding mode.
    async fn bind_referrer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The referral code in the link.")] code: String,
        #[graphql(desc = "The product the link opened, if any.")] product_id: Option<ID>,
    ) -> Result<BindingPayload> {
        let me = ctx.viewer().require_user()?;
        let product = product_id.as_ref().map(|p| key("Product", p));
        let refused = |code: Code, message: &str| BindingPayload {
            bound_to: None,
            changed: false,
            user_errors: vec![DistributionError::new(code, Some("code"), message)],
        };
        Ok(
            match team::bind_by_code(ctx.app(), me.user_id, &code, product).await? {
                team::Bound::To { before, after } => BindingPayload {
                    bound_to: after.map(|d| ids::encode("Distributor", d).to_string()),
                    changed: after != before,
                    user_errors: vec![],
                },
                team::Bound::UnknownCode => refused(
                    Code::UnknownReferralCode,
                    "no active distributor has this code",
                ),
                team::Bound::Refused(team::NoBinding::Own) => {
                    refused(Code::SelfReferral, "this is your own code")
                }
                team::Bound::Refused(team::NoBinding::Loop) => refused(
                    Code::ReferralLoop,
                    "this distributor is in your team; binding would make a loop",
                ),
            },
        )
    }

    /// Approve or reject an application (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn review_distributor_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application and the decision.")] input: ReviewApplicationInput,
    ) -> Result<ApplicationPayload> {
        let me = ctx.viewer().require_user()?;
        let r = recruitment::review(
            ctx.app(),
            me.user_id,
            key("DistributorApplication", &input.application_id),
            input.approve,
            input.reason.as_deref(),
        )
        .await;
        application_payload(ctx, r).await
    }

    /// Disable or re-enable a distributor (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn set_distributor_enabled(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor.")] distributor_id: ID,
        #[graphql(
            desc = "False disables them (they earn nothing and cannot withdraw); true re-enables."
        )]
        enabled: bool,
    ) -> Result<DistributorPayload> {
        distributor_payload(
            recruitment::set_enabled(ctx.app(), key("Distributor", &distributor_id), enabled).await,
        )
    }

    /// Edit a distributor's name, phone, team or level (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn update_distributor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor and the fields to change.")]
        input: UpdateDistributorInput,
    ) -> Result<DistributorPayload> {
        let level_id = if input.clear_level {
            Some(None)
        } else {
            input
                .level_id
                .as_ref()
                .map(|l| Some(key("DistributorLevel", l)))
        };
        distributor_payload(
            recruitment::edit(
                ctx.app(),
                key("Distributor", &input.distributor_id),
                DistributorEdit {
                    name: input.name.as_deref(),
                    phone: input.phone.as_deref(),
                    team_name: input.team_name.as_deref(),
                    level_id,
                },
            )
            .await,
        )
    }

    /// Move a distributor and their team under another inviter, or to the top without one
    /// (staff with DISTRIBUTION). Refused when it would make a loop.
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn move_distributor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The distributor to move, with their whole team.")] distributor_id: ID,
        #[graphql(desc = "Their new inviter; the top of the tree when omitted.")]
        inviter_id: Option<ID>,
    ) -> Result<DistributorPayload> {
        distributor_payload(
            recruitment::move_distributor(
                ctx.app(),
                key("Distributor", &distributor_id),
                inviter_id.as_ref().map(|i| key("Distributor", i)),
            )
            .await,
        )
    }

    /// Recruitment, application form, agreement, binding and withdrawal settings (staff with
    /// DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn update_distribution_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The whole settings document.")] input: DistributionSettingsInput,
    ) -> Result<DistributionSettingsPayload> {
        let refused = |field: &str, message: String| DistributionSettingsPayload {
            settings: None,
            user_errors: vec![DistributionError::new(
                Code::InvalidSettings,
                Some(field),
                message,
            )],
        };
        let fen = |m: Money| money::to_fen(m.0).unwrap_or(-1);
        let conf = settings::DistributionSettings {
            recruitment_mode: input.recruitment_mode,
            spend_threshold_fen: input.spend_threshold.map(fen).unwrap_or(0),
            application_fields: input.application_fields,
            agreement: input.agreement,
            binding_mode: input.binding_mode,
            binding_days: input.binding_days,
            withdrawal_min_fen: fen(input.withdrawal_min),
            withdrawal_max_fen: fen(input.withdrawal_max),
            withdrawal_fee_rate: input.withdrawal_fee_rate.map_or(Decimal::ZERO, |r| r.0),
        };
        if let Err((field, message)) = conf.validate() {
            return Ok(refused(field, message));
        }
        let tx = ctx.app().db.begin_write().await?;
        settings::save(&tx, &conf).await?;
        tx.commit().await?;
        Ok(DistributionSettingsPayload {
            settings: Some(DistributionSettingsView(conf)),
            user_errors: vec![],
        })
    }

    /// Publish a new version of the commission rules (staff with DISTRIBUTION). Orders keep
    /// the version they were placed under. Refused (`INVALID_SETTINGS`, nothing published)
    /// when the rules could pay an order line more commission than its base: level rates
    /// whose highest rate per tier add up to more than 100% (one order can combine levels),
    /// or fixed amounts per unit above what a unit of a SKU they apply to sells for (or earns,
    /// on profit) at today's price and cost.
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn publish_commission_rules(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new rules.")] input: CommissionRulesInput,
    ) -> Result<CommissionRulesPayload> {
        let me = ctx.viewer().require_user()?;
        let refused = |e: DistributionError| CommissionRulesPayload {
            rules: None,
            user_errors: vec![e],
        };
        let rules = match input.into_rules() {
            Ok(r) => r,
            Err(e) => return Ok(refused(e)),
        };
        crate::graphql::errors::payload(
            settings::publish_checked(ctx.app(), &rules, Some(me.user_id)).await,
            move |version| CommissionRulesPayload {
                rules: Some(CommissionRulesView {
                    version: Some(version),
                    rules,
                }),
                user_errors: vec![],
            },
            |e| CommissionRulesPayload {
                rules: None,
                user_errors: e,
            },
        )
    }

    /// Create or change a distributor level (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn save_distributor_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The level.")] input: LevelInput,
    ) -> Result<LevelPayload> {
        let fen = |m: Option<Money>| m.map(|m| money::to_fen(m.0).unwrap_or(-1));
        let conditions = LevelConditions {
            require_all: input.require_all,
            invited_distributors: input.invited_distributors,
            team_sales_fen: fen(input.team_sales),
            own_sales_fen: fen(input.own_sales),
            order_count: input.order_count,
        };
        let id = input.id.as_ref().map(|i| key("DistributorLevel", i));
        crate::graphql::errors::payload(
            levels::save(ctx.app(), id, &input.name, input.rank, &conditions).await,
            |l| LevelPayload {
                level: Some(DistributorLevel(Arc::new(l))),
                user_errors: vec![],
            },
            |e| LevelPayload {
                level: None,
                user_errors: e,
            },
        )
    }

    /// Delete a level nobody holds (staff with DISTRIBUTION).
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn delete_distributor_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The level to delete.")] id: ID,
    ) -> Result<DeleteLevelPayload> {
        crate::graphql::errors::payload(
            levels::delete(ctx.app(), key("DistributorLevel", &id)).await,
            |_| DeleteLevelPayload {
                deleted_id: Some(id.clone()),
                user_errors: vec![],
            },
            |e| DeleteLevelPayload {
                deleted_id: None,
                user_errors: e,
            },
        )
    }

    /// Re-evaluate levels now: one distributor, or all (staff with DISTRIBUTION). Says how
    /// many rose.
    #[graphql(guard = "PermissionGuard(Permission::Distribution)")]
    async fn evaluate_distributor_levels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The one distributor to evaluate; all of them when absent.")]
        distributor_id: Option<ID>,
    ) -> Result<EvaluateLevelsPayload> {
        let Some(id) = distributor_id else {
            let raised = levels::evaluate_all(ctx.app()).await?;
            return Ok(EvaluateLevelsPayload {
                raised: Some(raised as i64),
                distributor: None,
                user_errors: vec![],
            });
        };
        let who = key("Distributor", &id);
        if team::find(ctx.app().db.conn(), who).await?.is_none() {
            return Ok(EvaluateLevelsPayload {
                raised: None,
                distributor: None,
                user_errors: vec![DistributionError::new(
                    Code::DistributorNotFound,
                    Some("distributorId"),
                    "no such distributor",
                )],
            });
        }
        let raised = levels::evaluate(ctx.app(), &[who]).await?;
        Ok(EvaluateLevelsPayload {
            raised: Some(raised as i64),
            distributor: team::find(ctx.app().db.conn(), who).await?.map(Distributor),
            user_errors: vec![],
        })
    }

    /// Settle the last complete period now (staff with DISTRIBUTION or FINANCE). Running it
    /// again for the same period changes nothing.
    async fn run_settlement(&self, ctx: &Context<'_>) -> Result<SettlementPayload> {
        let me = ctx.viewer().require_user()?;
        if !me.has(Permission::Distribution) && !me.has(Permission::Finance) {
            return Err(AppError::forbidden().into());
        }
        Ok(
            match settlement::run(ctx.app(), chrono::Utc::now(), Some(me.user_id)).await? {
                Settled::Ran(r) => SettlementPayload {
                    run: Some(SettlementRun(r)),
                    settled_now: true,
                    user_errors: vec![],
                },
                Settled::AlreadySettled(r) => SettlementPayload {
                    run: Some(SettlementRun(r)),
                    settled_now: false,
                    user_errors: vec![],
                },
            },
        )
    }

    /// Ask to withdraw from the available balance (distributors): the amount is frozen until
    /// finance pays or rejects it.
    async fn request_withdrawal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The amount and where to pay it.")] input: RequestWithdrawalInput,
    ) -> Result<WithdrawalPayload> {
        let me = distributor_caller(ctx)?;
        let Some(amount_fen) = money::to_fen(input.amount.0) else {
            return withdrawal_payload(
                ctx,
                super::errors::reject(Code::InvalidAmount, "amount", "not an amount"),
            )
            .await;
        };
        let r = withdrawals::request(
            ctx.app(),
            me.user_id,
            WithdrawalRequest {
                amount_fen,
                channel: input.channel,
                account: &input.account,
                account_name: input.account_name.as_deref(),
            },
        )
        .await;
        withdrawal_payload(ctx, r).await
    }

    /// Approve a pending withdrawal (staff with FINANCE).
    #[graphql(guard = "PermissionGuard(Permission::Finance)")]
    async fn approve_withdrawal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The withdrawal, `PENDING`.")] id: ID,
    ) -> Result<WithdrawalPayload> {
        let me = ctx.viewer().require_user()?;
        let r = withdrawals::approve(ctx.app(), me.user_id, key("Withdrawal", &id)).await;
        withdrawal_payload(ctx, r).await
    }

    /// Record that an approved withdrawal was transferred (staff with FINANCE).
    #[graphql(guard = "PermissionGuard(Permission::Finance)")]
    async fn mark_withdrawal_paid(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The withdrawal, `APPROVED`.")] id: ID,
        #[graphql(desc = "The bank's or WeChat's reference of the transfer, 1–64 characters.")]
        transfer_reference: String,
    ) -> Result<WithdrawalPayload> {
        let r =
            withdrawals::mark_paid(ctx.app(), key("Withdrawal", &id), &transfer_reference).await;
        withdrawal_payload(ctx, r).await
    }

    /// Reject a pending or approved withdrawal; the amount returns (staff with FINANCE).
    #[graphql(guard = "PermissionGuard(Permission::Finance)")]
    async fn reject_withdrawal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The withdrawal, `PENDING` or `APPROVED`.")] id: ID,
        #[graphql(desc = "What the distributor is told, 1–500 characters.")] reason: String,
    ) -> Result<WithdrawalPayload> {
        let me = ctx.viewer().require_user()?;
        let r = withdrawals::reject_request(ctx.app(), me.user_id, key("Withdrawal", &id), &reason)
            .await;
        withdrawal_payload(ctx, r).await
    }
}

/// What changed in a `commissionChanged` event.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommissionChangeKind {
    /// New `ESTIMATED` records: an order was paid.
    Created,
    /// Records became `CONFIRMED`: an order completed.
    Confirmed,
    /// Records became `SETTLED`: a settlement run credited them.
    Settled,
    /// A refund took (part of) a record back.
    Reversed,
    /// The balance moved (settlement, reversal, withdrawal).
    Balance,
}

/// A change of the subscriber's commissions or balance, pushed live. `kind` says what
/// changed and which fields are set: each field has one meaning and is null for the kinds it
/// does not belong to.
#[derive(async_graphql::Description)]
pub struct CommissionChange {
    event: Arc<events::Event>,
}

impl CommissionChange {
    fn change_kind(&self) -> CommissionChangeKind {
        match self.event.event_type.as_str() {
            commissions::EVENT_CREATED => CommissionChangeKind::Created,
            commissions::EVENT_CONFIRMED => CommissionChangeKind::Confirmed,
            commissions::EVENT_SETTLED => CommissionChangeKind::Settled,
            commissions::EVENT_REVERSED => CommissionChangeKind::Reversed,
            _ => CommissionChangeKind::Balance,
        }
    }

    /// The payload's `key` when this change is one of `kinds`.
    fn figure(&self, kinds: &[CommissionChangeKind], key: &str) -> Option<i64> {
        if !kinds.contains(&self.change_kind()) {
            return None;
        }
        self.event.payload[key].as_i64()
    }
}

/// The kinds that concern records of one order.
const RECORD_KINDS: &[CommissionChangeKind] = &[
    CommissionChangeKind::Created,
    CommissionChangeKind::Confirmed,
    CommissionChangeKind::Reversed,
];

#[Object(use_type_description)]
impl CommissionChange {
    /// Pass as `after` to resume from here.
    async fn event_id(&self) -> String {
        self.event.id.to_string()
    }
    /// What changed.
    async fn kind(&self) -> CommissionChangeKind {
        self.change_kind()
    }
    /// The number of the order the records belong to (CREATED, CONFIRMED, REVERSED); null for
    /// SETTLED and BALANCE.
    async fn order_no(&self) -> Option<&str> {
        if !RECORD_KINDS.contains(&self.change_kind()) {
            return None;
        }
        self.event.payload["orderNo"].as_str()
    }
    /// The records concerned (CREATED, CONFIRMED, REVERSED); empty for SETTLED and BALANCE.
    async fn commission_ids(&self) -> Vec<ID> {
        self.event.payload["commissionIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_i64())
                    .map(|i| ids::encode("Commission", i))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// CREATED, CONFIRMED and REVERSED: what the records concerned pay now, after this
    /// change, in yuan (`"0.00"` once a refund took everything); null for SETTLED and BALANCE.
    async fn commission_amount(&self) -> Option<Money> {
        self.figure(RECORD_KINDS, "amountFen").map(yuan)
    }
    /// REVERSED: what this refund took back from the record, in yuan; null for the other
    /// kinds.
    async fn reversed_amount(&self) -> Option<Money> {
        self.figure(&[CommissionChangeKind::Reversed], "reversedFen")
            .map(yuan)
    }
    /// SETTLED: what the settlement credited to the balance, the total of the records it
    /// settled, in yuan; null for the other kinds.
    async fn settled_amount(&self) -> Option<Money> {
        self.figure(&[CommissionChangeKind::Settled], "amountFen")
            .map(yuan)
    }
    /// SETTLED: how many of the subscriber's records the settlement settled; null for the
    /// other kinds.
    async fn settled_records(&self) -> Option<i64> {
        self.figure(&[CommissionChangeKind::Settled], "records")
    }
    /// BALANCE: the available balance after the change, in yuan (negative while a reversal is
    /// being repaid); null for the other kinds.
    async fn available(&self) -> Option<Money> {
        self.figure(&[CommissionChangeKind::Balance], "availableFen")
            .map(yuan)
    }
    /// BALANCE: the frozen balance after the change (asked for in withdrawals not yet paid or
    /// rejected), in yuan; null for the other kinds.
    async fn frozen(&self) -> Option<Money> {
        self.figure(&[CommissionChangeKind::Balance], "frozenFen")
            .map(yuan)
    }
    /// When the change was made.
    async fn at(&self) -> DateTime {
        DateTime(self.event.created_at)
    }
}

#[derive(Default)]
pub struct DistributionSubscription;

type ChangeStream =
    std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<CommissionChange>> + Send + 'static>>;

#[Subscription]
impl DistributionSubscription {
    /// Every change of the caller's own commission records (created, confirmed, settled,
    /// reversed) and balance, in order, once each; resumable with `after` (the last `eventId`
    /// seen). Nobody receives anyone else's.
    async fn commission_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The `eventId` of the last event you received: what came after it is delivered first, once. Omit it to receive only new events."
        )]
        after: Option<String>,
    ) -> Result<ChangeStream> {
        let me = distributor_caller(ctx)?;
        let after = events::parse_event_id(after.as_deref())?;
        let filter = EventFilter {
            event_types: commissions::EVENT_TYPES,
            recipient_user_id: Some(me.user_id),
            aggregate_id: None,
        };
        let stream = crate::graphql::live::subscribe(ctx, filter, after);
        Ok(Box::pin(stream.map(|item| match item {
            Ok(event) => Ok(CommissionChange { event }),
            Err(e) => Err(e.into()),
        })))
    }
}
