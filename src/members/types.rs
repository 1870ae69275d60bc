//! The members area's GraphQL objects.
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use entity::{member, member_growth_entry, member_level, member_level_change};
use rust_decimal::Decimal;

use super::{rules, service};
use crate::{
    graphql::{
        context::CtxExt,
        ids,
        scalars::{DateTime, Money, Percent},
    },
    money,
};

/// A member level: from which growth it is held, and what it gives.
#[derive(Clone)]
pub struct MemberLevel(pub Arc<member_level::Model>);

/// A member level: from which growth it is held, and what it gives (its benefits).
#[Object]
impl MemberLevel {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("MemberLevel", self.0.id)
    }

    /// The level's name, e.g. `金卡`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The badge shown on the member's profile, e.g. `金卡会员`.
    async fn badge_name(&self) -> &str {
        &self.0.badge_name
    }

    /// The growth from which a member holds this level (growth is counted per yuan of goods
    /// paid, net of refunds; see `MemberSettings.growthPerYuan`). The lowest level starts at 0.
    async fn growth_threshold(&self) -> i64 {
        self.0.growth_threshold
    }

    /// The share of the price members of this level pay, in percent: `"95.00"` is 95 % of the
    /// price (5 % off); `"100.00"` is no member discount.
    async fn discount_rate(&self) -> Percent {
        Percent(Decimal::new(i64::from(self.0.price_rate_bp), 2))
    }

    /// Whether orders of members of this level ship free (the shipping fee is waived at
    /// checkout; places the shop does not deliver to stay refused).
    async fn free_shipping(&self) -> bool {
        self.0.free_shipping
    }

    /// Early access: members of this level may buy a product this many hours before its
    /// scheduled on-sale time (0: no early access).
    async fn early_access_hours(&self) -> i32 {
        self.0.early_access_hours
    }

    /// Points given on the member's birthday, once a year (the points area pays them).
    async fn birthday_points(&self) -> i64 {
        self.0.birthday_points
    }

    /// The multiplier on points earned, in percent: `"150.00"` earns 1.5 times the points.
    async fn points_multiplier(&self) -> Percent {
        Percent(Decimal::new(
            i64::from(self.0.points_multiplier_pct) * 100,
            2,
        ))
    }

    /// When staff last changed the level.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// A customer as a member: level, growth and what they spent. Seen by the customer themselves
/// (`User.membership` on `me`) and by staff with MARKETING (`member`).
pub struct Membership {
    pub user_id: i64,
    pub member: Option<member::Model>,
    pub ladder: Vec<member_level::Model>,
}

impl Membership {
    pub async fn load(
        conn: &impl sea_orm::ConnectionTrait,
        user_id: i64,
    ) -> Result<Self, crate::error::AppError> {
        Ok(Self {
            user_id,
            member: service::member_of(conn, user_id).await?,
            ladder: service::levels(conn).await?,
        })
    }

    fn growth_value(&self) -> i64 {
        self.member.as_ref().map_or(0, |m| m.growth)
    }

    fn held(&self) -> Option<&member_level::Model> {
        match &self.member {
            Some(m) => m
                .level_id
                .and_then(|id| self.ladder.iter().find(|l| l.id == id)),
            // Before the first payment: the level of 0 growth.
            None => {
                let ladder = service::ladder(&self.ladder);
                rules::level_for(&ladder, 0).and_then(|r| self.ladder.iter().find(|l| l.id == r.id))
            }
        }
    }

    fn next(&self) -> Option<(&member_level::Model, i64)> {
        // The next level above the one held (a member kept above their growth by the ladder
        // rules still sees the level above theirs).
        let floor = self.held().map_or(self.growth_value(), |l| {
            l.growth_threshold.max(self.growth_value())
        });
        let ladder = service::ladder(&self.ladder);
        rules::next_level(&ladder, floor).and_then(|(r, _)| {
            self.ladder
                .iter()
                .find(|l| l.id == r.id)
                .map(|l| (l, (l.growth_threshold - self.growth_value()).max(0)))
        })
    }
}

/// A customer as a member: level, growth and what they spent. Seen by the customer themselves
/// (`me { membership }`) and by staff with MARKETING (`member`).
#[Object]
impl Membership {
    /// The level held now, with its badge and benefits; null only when no level is defined.
    async fn level(&self) -> Option<MemberLevel> {
        self.held().map(|l| MemberLevel(Arc::new(l.clone())))
    }

    /// Growth: goods money paid, net of refunds, at `MemberSettings.growthPerYuan` per ¥1.
    async fn growth(&self) -> i64 {
        self.growth_value()
    }

    /// The next level above the one held; null at the top.
    async fn next_level(&self) -> Option<MemberLevel> {
        self.next().map(|(l, _)| MemberLevel(Arc::new(l.clone())))
    }

    /// Growth still missing for `nextLevel`; null at the top.
    async fn growth_to_next_level(&self) -> Option<i64> {
        self.next().map(|(_, missing)| missing)
    }

    /// When the level last changed; null before the first change.
    async fn level_changed_at(&self) -> Option<DateTime> {
        self.member
            .as_ref()
            .and_then(|m| m.level_changed_at)
            .map(DateTime::from)
    }

    /// The latest level changes, newest first (at most `first`, 1–100).
    async fn level_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1–100.", default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<MemberLevelChange>> {
        let n = first.clamp(1, 100) as u64;
        Ok(service::level_changes(ctx.app().db.conn(), self.user_id, n)
            .await?
            .into_iter()
            .map(MemberLevelChange)
            .collect())
    }

    /// The growth ledger, newest first (at most `first`, 1–100): what each payment gave and
    /// each refund took back; the entries add up to `growth`.
    async fn growth_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1–100.", default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<GrowthEntry>> {
        let n = first.clamp(1, 100) as u64;
        Ok(
            service::growth_entries(ctx.app().db.conn(), self.user_id, n)
                .await?
                .into_iter()
                .map(GrowthEntry)
                .collect(),
        )
    }

    /// What the member's orders add up to.
    async fn stats(&self, ctx: &Context<'_>) -> async_graphql::Result<MemberStats> {
        MemberStats::of(ctx, self.user_id, self.member.as_ref()).await
    }
}

/// Why a member's level changed.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelChangeCause {
    /// Payments raised growth to a higher level.
    Growth,
    /// Staff set the level by hand (`setMemberLevel`), with a reason.
    Manual,
    /// The yearly review lowered it to what the past year's growth reaches.
    Review,
    /// Staff changed the ladder and the member's growth now reaches a higher level.
    LevelsChanged,
    /// The member's level was deleted; they hold the level their growth reaches without it.
    LevelRemoved,
}

/// What moved a member's growth.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrowthEntryKind {
    /// An order's goods were paid.
    Paid,
    /// A refund took back part or all of what an order gave.
    Refunded,
}

/// One change of a member's level.
pub struct MemberLevelChange(member_level_change::Model);

/// One change of a member's level, from the level history.
#[Object]
impl MemberLevelChange {
    /// The level before (null: none).
    async fn from_level_id(&self) -> Option<ID> {
        self.0
            .from_level_id
            .map(|id| ids::encode("MemberLevel", id))
    }
    /// The level after (null: none).
    async fn to_level_id(&self) -> Option<ID> {
        self.0.to_level_id.map(|id| ids::encode("MemberLevel", id))
    }
    /// The member's growth at the time.
    async fn growth(&self) -> i64 {
        self.0.growth
    }
    /// Why the level changed.
    async fn cause(&self) -> LevelChangeCause {
        match self.0.cause.as_str() {
            "MANUAL" => LevelChangeCause::Manual,
            "REVIEW" => LevelChangeCause::Review,
            "LEVELS_CHANGED" => LevelChangeCause::LevelsChanged,
            "LEVEL_REMOVED" => LevelChangeCause::LevelRemoved,
            _ => LevelChangeCause::Growth,
        }
    }
    /// Staff's reason for a change by hand; null otherwise.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it changed.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// One entry of the growth ledger.
pub struct GrowthEntry(member_growth_entry::Model);

/// One entry of the growth ledger.
#[Object]
impl GrowthEntry {
    /// Growth added (negative when a refund took some back).
    async fn delta(&self) -> i64 {
        self.0.delta
    }
    /// The goods money behind it (negative for a refund).
    async fn amount(&self) -> Money {
        Money(money::to_decimal(self.0.spend_fen))
    }
    /// The member's growth after it.
    async fn growth_after(&self) -> i64 {
        self.0.growth_after
    }
    /// What moved the growth.
    async fn kind(&self) -> GrowthEntryKind {
        match self.0.kind.as_str() {
            "REFUNDED" => GrowthEntryKind::Refunded,
            _ => GrowthEntryKind::Paid,
        }
    }
    /// The order it came from.
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(|id| ids::encode("Order", id))
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// What a customer's orders add up to (个人中心).
#[derive(SimpleObject)]
pub struct MemberStats {
    /// Paid orders, not counting those refunded in full.
    pub orders_count: i64,
    /// Goods money paid, net of refunds (shipping not included).
    pub total_spent: Money,
    /// When the customer registered.
    pub member_since: Option<DateTime>,
}

impl MemberStats {
    pub async fn of(
        ctx: &Context<'_>,
        user_id: i64,
        member: Option<&member::Model>,
    ) -> async_graphql::Result<Self> {
        let user = ctx.loaders().users.load_one(user_id).await?;
        Ok(Self {
            orders_count: member.map_or(0, |m| m.orders_count),
            total_spent: Money(money::to_decimal(member.map_or(0, |m| m.spent_fen))),
            member_since: user.map(|u| u.created_at.into()),
        })
    }
}

/// The merchant's member settings.
#[derive(SimpleObject)]
pub struct MemberSettings {
    /// Growth for each ¥1 of goods paid (1 by default); growth from an order is rounded down
    /// to a whole number.
    pub growth_per_yuan: i64,
    /// Whether the yearly review runs: once the shop's calendar reaches a new year, members
    /// are lowered to the level their growth over the year just ended reaches (never raised).
    /// Off by default: levels then never go down.
    pub yearly_review: bool,
}

impl From<service::MemberSettings> for MemberSettings {
    fn from(s: service::MemberSettings) -> Self {
        Self {
            growth_per_yuan: s.growth_per_yuan,
            yearly_review: s.yearly_review,
        }
    }
}

/// The caller's member price level, read once per request: `None` for anonymous callers and
/// levels without a discount.
pub async fn viewer_price_level(
    ctx: &Context<'_>,
) -> Result<Option<super::PriceLevel>, crate::error::AppError> {
    let Some(user_id) = ctx.viewer().user_id() else {
        return Ok(None);
    };
    ctx.loaders()
        .member_price
        .get_or_try_init(|| super::price_level(ctx.app(), user_id))
        .await
        .cloned()
}
