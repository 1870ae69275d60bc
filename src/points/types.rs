//! The points area's GraphQL objects. Every object here is either the caller's own (reached
//! through `my…` fields and the subscription) or read by `MARKETING` staff (`can_read`).
use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{points_entry, points_mall_item};

use super::{ledger::EntryKind, rules, service};
use crate::{
    auth::{Permission, Viewer},
    catalog::types::Sku,
    config::{Config, PointsExpiry},
    graphql::{
        context::CtxExt,
        ids,
        scalars::{Date, DateTime, Money, Percent},
    },
    orders::types::yuan,
};

/// The member themselves, or staff with `MARKETING`.
pub fn can_read(viewer: &Viewer, user_id: i64) -> bool {
    viewer
        .principal()
        .is_some_and(|me| me.user_id == user_id || me.has(Permission::Marketing))
}

/// What a member has in points.
pub struct PointsSummary(pub service::Summary);

/// What a member has in points.
#[Object]
impl PointsSummary {
    /// Points that can be spent now (negative only while a reversal of earned points is owed).
    async fn available(&self) -> i64 {
        self.0.available
    }
    /// Points earned by paid orders that are not completed yet; they become available when the
    /// order completes (and shrink with refunds).
    async fn pending(&self) -> i64 {
        self.0.pending
    }
    /// Of `available`, the points that expire before `expiringBefore`.
    async fn expiring_soon(&self) -> i64 {
        self.0.expiring_soon
    }
    /// The end of the "soon" window (`points_expiring_soon_days` from now).
    async fn expiring_before(&self) -> Option<DateTime> {
        self.0.expiring_before.map(DateTime)
    }
}

/// One entry of the points ledger (append-only: an entry is never changed).
pub struct PointsEntry(pub points_entry::Model);

/// One entry of the points ledger (append-only: an entry is never changed).
#[Object]
impl PointsEntry {
    /// The entry's global id.
    async fn id(&self) -> ID {
        ids::encode("PointsEntry", self.0.id)
    }
    /// Why the points moved.
    async fn kind(&self) -> Option<EntryKind> {
        EntryKind::parse(&self.0.kind)
    }
    /// Points in (positive) or out (negative).
    async fn delta(&self) -> i64 {
        self.0.delta
    }
    /// The member's balance after this entry.
    async fn balance_after(&self) -> i64 {
        self.0.balance_after
    }
    /// When the points of this entry's lot expire; null for points that never expire.
    async fn expires_at(&self) -> Option<DateTime> {
        (self.0.lot_expires_at != rules::never()).then_some(DateTime(self.0.lot_expires_at))
    }
    /// The order number for order entries, the task for task entries, the reason for staff
    /// adjustments.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The order the entry belongs to (spending, returns, earning, reversals), if any.
    async fn order_id(&self) -> Option<ID> {
        (self.0.reference_type == "ORDER").then(|| ids::encode("Order", self.0.reference_id))
    }
    /// When the entry was written.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// One day of the sign-in calendar.
#[derive(SimpleObject)]
pub struct SignInDay {
    /// The shop day.
    pub date: Date,
    /// Whether the member signed in that day.
    pub signed: bool,
    /// Points that day's sign-in paid (0 when not signed).
    pub points: i64,
    /// The streak that day (0 when not signed).
    pub streak: i32,
}

/// The member's sign-in state: today and the calendar of the month.
#[derive(SimpleObject)]
pub struct SignInStatus {
    /// Whether the member signed in today (shop time zone).
    pub signed_today: bool,
    /// Consecutive days signed in up to today (or up to yesterday while today is not signed).
    pub streak: i32,
    /// Points a sign-in today pays (or paid).
    pub today_points: i64,
    /// Every day of this month up to today, in order.
    pub calendar: Vec<SignInDay>,
}

/// A SKU redeemable in the points mall.
pub struct PointsMallItem(pub points_mall_item::Model);

/// A SKU redeemable in the points mall.
#[Object]
impl PointsMallItem {
    /// The item's global id.
    async fn id(&self) -> ID {
        ids::encode("PointsMallItem", self.0.sku_id)
    }
    /// The SKU redeemed.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.0.sku_id)
            .await?
            .map(Sku::new))
    }
    /// Points per unit.
    async fn points(&self) -> i64 {
        self.0.points
    }
    /// Cash per unit on top of the points (¥0.00: points only).
    async fn cash(&self) -> Money {
        yuan(self.0.cash_fen)
    }
    /// Whether the item can be redeemed now (staff see inactive items too).
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// How points are earned and spent in this shop (the server's settings).
pub struct PointsRules(pub std::sync::Arc<Config>);

/// How points are earned and spent in this shop (the server's settings).
#[Object]
impl PointsRules {
    /// Points earned per ¥1 of goods paid, before the member level's multiplier.
    async fn earn_per_yuan(&self) -> i64 {
        i64::from(self.0.points_earn_per_yuan)
    }
    /// Points that make ¥1 at checkout.
    async fn points_per_yuan(&self) -> i64 {
        i64::from(self.0.points_per_yuan_deducted)
    }
    /// At most this percentage of the goods amount may be paid with points.
    async fn deduction_cap_percent(&self) -> Percent {
        Percent(rust_decimal::Decimal::from(
            self.0.points_deduction_cap_percent,
        ))
    }
    /// Whether earned points expire at the end of the year after they were earned (false:
    /// they never expire).
    async fn expire_end_of_next_year(&self) -> bool {
        self.0.points_expiry == PointsExpiry::EndOfNextYear
    }
    /// Points for a daily sign-in.
    async fn sign_in_daily(&self) -> i64 {
        i64::from(self.0.points_sign_in_daily)
    }
    /// Extra points on given days of a sign-in streak.
    async fn streak_bonuses(&self) -> Vec<StreakBonus> {
        rules::StreakBonuses::parse(&self.0.points_sign_in_streak_bonuses)
            .unwrap_or_default()
            .0
            .into_iter()
            .map(|(day, points)| StreakBonus { day, points })
            .collect()
    }
}

/// A bonus on one day of a sign-in streak.
#[derive(SimpleObject)]
pub struct StreakBonus {
    /// The day of the streak (7: the seventh consecutive day).
    pub day: i32,
    /// Extra points that day.
    pub points: i64,
}

/// What the reconciliation of the points ledger found.
#[derive(SimpleObject)]
pub struct PointsReconciliation {
    /// Whether every balance and every lot equals the sum of its entries.
    pub consistent: bool,
    /// Members with a points account.
    pub accounts: i64,
    /// Ledger entries read.
    pub entries: i64,
    /// The sum of every entry.
    pub ledger_total: i64,
    /// The sum of every balance (equals `ledgerTotal` when consistent).
    pub balance_total: i64,
    /// Members whose balance differs from their entries (at most 100).
    pub mismatched_members: Vec<ID>,
    /// Members with a lot that differs from its entries (at most 100).
    pub mismatched_lot_members: Vec<ID>,
}
