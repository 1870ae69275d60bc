//! The promotions area's GraphQL objects.
use async_graphql::{ID, Object, SimpleObject};
use chrono::Utc;
use entity::{coupon, coupon_template, promotion_activity};
use rust_decimal::Decimal;

use super::{
    rules,
    service::{self, Audience, BenefitKind, COUPON_USED, ScopeKind},
};
use crate::{
    graphql::{
        ids,
        scalars::{DateTime, Money, Percent},
    },
    money,
    orders::errors::OrderErrorCode,
};

fn yuan(fen: i64) -> Money {
    Money(money::to_decimal(fen))
}

fn scope_ids(kind: ScopeKind, json: &str) -> Vec<ID> {
    let type_name = match kind {
        ScopeKind::Shop => return Vec::new(),
        ScopeKind::Categories => "Category",
        ScopeKind::Products | ScopeKind::AllExcept => "Product",
    };
    service::ids_of(json)
        .into_iter()
        .map(|id| ids::encode(type_name, id))
        .collect()
}

pub struct CouponTemplate(pub coupon_template::Model);

/// A coupon template: what its coupons give, to which products, to whom, for how long, and how
/// many there are. Buyers see templates offered in the coupon centre; staff with MARKETING see
/// all.
#[Object]
impl CouponTemplate {
    /// The template's global id.
    async fn id(&self) -> ID {
        ids::encode("CouponTemplate", self.0.id)
    }
    /// The name staff gave it, e.g. 双十二满减券.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What its coupons give.
    async fn benefit(&self) -> BenefitKind {
        BenefitKind::parse(&self.0.benefit)
    }
    /// The badge buyers read: 满100减20, 8.5折，最高减50, 无门槛减5, 满99包邮.
    async fn label(&self) -> String {
        rules::coupon_label(service::benefit_of(&self.0), self.0.threshold_fen)
    }
    /// What the covered items must cost for the coupon to apply, in yuan (0.00: no threshold).
    async fn threshold(&self) -> Money {
        yuan(self.0.threshold_fen)
    }
    /// The amount off, in yuan; null unless `AMOUNT_OFF`.
    async fn amount(&self) -> Option<Money> {
        (self.0.benefit == BenefitKind::AmountOff.as_str()).then(|| yuan(self.0.amount_fen))
    }
    /// The share of the price still paid, in percent (8.5折 is 85.00); null unless
    /// `PERCENT_OFF`.
    async fn rate(&self) -> Option<Percent> {
        (self.0.benefit == BenefitKind::PercentOff.as_str())
            .then(|| Percent(Decimal::new(i64::from(self.0.rate_bp), 2)))
    }
    /// The most a `PERCENT_OFF` coupon takes off, in yuan; null when uncapped.
    async fn cap(&self) -> Option<Money> {
        self.0.cap_fen.map(yuan)
    }
    /// Which products it covers.
    async fn scope(&self) -> ScopeKind {
        ScopeKind::parse(&self.0.scope)
    }
    /// The categories (with their sub-categories) or products of the scope; empty for `SHOP`.
    async fn scope_ids(&self) -> Vec<ID> {
        scope_ids(ScopeKind::parse(&self.0.scope), &self.0.scope_ids)
    }
    /// Who may have it.
    async fn audience(&self) -> Audience {
        Audience::parse(&self.0.audience)
    }
    /// The member levels of a `LEVELS` audience; empty otherwise.
    async fn level_ids(&self) -> Vec<ID> {
        service::ids_of(&self.0.audience_ids)
            .into_iter()
            .map(|id| ids::encode("MemberLevel", id))
            .collect()
    }
    /// Start of the fixed window its coupons are valid in; null when valid `validDays` from
    /// claiming.
    async fn valid_from(&self) -> Option<DateTime> {
        self.0.valid_from.map(DateTime)
    }
    /// End of the fixed window (also the end of giving them out); null with `validDays`.
    async fn valid_until(&self) -> Option<DateTime> {
        self.0.valid_until.map(DateTime)
    }
    /// Days a coupon is valid from when it was given; null with a fixed window.
    async fn valid_days(&self) -> Option<i32> {
        self.0.valid_days
    }
    /// Coupons there are in all.
    async fn total_quantity(&self) -> i64 {
        self.0.total_quantity
    }
    /// Coupons given out so far (never above `totalQuantity`).
    async fn issued_count(&self) -> i64 {
        self.0.issued_count
    }
    /// Coupons still to be given out.
    async fn remaining(&self) -> i64 {
        (self.0.total_quantity - self.0.issued_count).max(0)
    }
    /// How many one person may hold.
    async fn per_user_limit(&self) -> i32 {
        self.0.per_user_limit
    }
    /// Whether it may be used on an order a 满减 activity already discounted.
    async fn stacks_with_activities(&self) -> bool {
        self.0.stacks_with_activities
    }
    /// Whether buyers can claim it in the coupon centre (else only staff issue it).
    async fn claimable(&self) -> bool {
        self.0.claimable
    }
    /// Points one coupon costs in `exchangePointsForCoupon`; null when it cannot be exchanged.
    async fn points_price(&self) -> Option<i64> {
        self.0.points_price
    }
    /// The occasion on which every eligible customer is given one automatically (新人券 on
    /// registration, a birthday coupon each year); null when it is only claimed or issued.
    async fn issue_on(&self) -> Option<super::occasions::Occasion> {
        self.0
            .issue_on
            .as_deref()
            .and_then(super::occasions::Occasion::parse)
    }
    /// False once staff stopped it (coupons already held stay usable).
    async fn active(&self) -> bool {
        self.0.status == service::STATUS_ACTIVE
    }
}

/// Where a held coupon stands.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponStatus {
    /// Can be used (or will be, from `validFrom`).
    Usable,
    /// Used by an order (`orderId`).
    Used,
    /// Its validity ended unused.
    Expired,
}

impl CouponStatus {
    pub fn of(c: &coupon::Model, now: chrono::DateTime<Utc>) -> Self {
        if c.status == COUPON_USED {
            CouponStatus::Used
        } else if c.valid_until <= now {
            CouponStatus::Expired
        } else {
            CouponStatus::Usable
        }
    }
}

/// How a buyer got a coupon.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponSource {
    /// Claimed in the coupon centre.
    Claimed,
    /// Issued by staff.
    Issued,
    /// Redeemed with a code.
    Code,
    /// Exchanged for points.
    Points,
    /// Given on registration (新人券).
    Registration,
    /// Given on a birthday.
    Birthday,
}

impl CouponSource {
    fn parse(s: &str) -> Self {
        match s {
            "ISSUED" => CouponSource::Issued,
            "CODE" => CouponSource::Code,
            "POINTS" => CouponSource::Points,
            "REGISTRATION" => CouponSource::Registration,
            "BIRTHDAY" => CouponSource::Birthday,
            _ => CouponSource::Claimed,
        }
    }
}

pub struct Coupon {
    pub coupon: coupon::Model,
    pub template: coupon_template::Model,
}

/// A coupon one buyer holds; only that buyer sees it.
#[Object]
impl Coupon {
    /// The coupon's global id (give it as `couponId` at checkout).
    async fn id(&self) -> ID {
        ids::encode("Coupon", self.coupon.id)
    }
    /// What it gives, to what.
    async fn template(&self) -> CouponTemplate {
        CouponTemplate(self.template.clone())
    }
    /// Where it stands now.
    async fn status(&self) -> CouponStatus {
        CouponStatus::of(&self.coupon, Utc::now())
    }
    /// When it becomes usable.
    async fn valid_from(&self) -> DateTime {
        DateTime(self.coupon.valid_from)
    }
    /// When it stops being usable.
    async fn valid_until(&self) -> DateTime {
        DateTime(self.coupon.valid_until)
    }
    /// The order that used it; null unless `USED`.
    async fn order_id(&self) -> Option<ID> {
        self.coupon.order_id.map(|id| ids::encode("Order", id))
    }
    /// When it was used; null unless `USED`.
    async fn used_at(&self) -> Option<DateTime> {
        self.coupon.used_at.map(DateTime)
    }
    /// How the buyer got it.
    async fn source(&self) -> CouponSource {
        CouponSource::parse(&self.coupon.source)
    }
    /// When the buyer got it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.coupon.created_at)
    }
}

/// A held coupon as it stands against one checkout.
#[derive(SimpleObject)]
pub struct CouponOption {
    /// The coupon.
    pub coupon: Coupon,
    /// Whether this order can use it.
    pub usable: bool,
    /// What it would take off this order's goods, in yuan; null when unusable (0.00 for free
    /// shipping).
    pub discount: Option<Money>,
    /// The coupon checkout picks when the buyer names none (the largest amount off; between
    /// equals, the one expiring first).
    pub best: bool,
    /// Why it cannot be used (`COUPON_BELOW_THRESHOLD`, `COUPON_NOT_IN_SCOPE`,
    /// `COUPON_NOT_STACKABLE`, `COUPON_NOT_YET_VALID`…); null when usable.
    pub reason_code: Option<OrderErrorCode>,
    /// The reason in words, e.g. "add ¥12.00 of covered items to use it"; null when usable.
    pub reason: Option<String>,
}

pub struct PromotionActivity(pub promotion_activity::Model);

/// A 满减 activity: tiers over a scope in a time window, optionally for some member levels.
/// Anyone may read running activities; staff with MARKETING read all.
#[Object]
impl PromotionActivity {
    /// The activity's global id.
    async fn id(&self) -> ID {
        ids::encode("PromotionActivity", self.0.id)
    }
    /// The name staff gave it, e.g. 双十二满减.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The badge buyers read: 满100减10 / 满200减30, or 每满100减10，最高减50.
    async fn label(&self) -> String {
        service::rule_of(&self.0)
            .map(|r| r.label())
            .unwrap_or_default()
    }
    /// Which products count towards it.
    async fn scope(&self) -> ScopeKind {
        ScopeKind::parse(&self.0.scope)
    }
    /// The categories or products of the scope; empty for `SHOP`.
    async fn scope_ids(&self) -> Vec<ID> {
        scope_ids(ScopeKind::parse(&self.0.scope), &self.0.scope_ids)
    }
    /// Only members of these levels get it; empty for every buyer.
    async fn level_ids(&self) -> Vec<ID> {
        service::ids_of(&self.0.level_ids)
            .into_iter()
            .map(|id| ids::encode("MemberLevel", id))
            .collect()
    }
    /// When it starts.
    async fn starts_at(&self) -> DateTime {
        DateTime(self.0.starts_at)
    }
    /// When it ends.
    async fn ends_at(&self) -> DateTime {
        DateTime(self.0.ends_at)
    }
    /// False once staff ended it early.
    async fn active(&self) -> bool {
        self.0.active
    }
}
