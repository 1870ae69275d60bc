//! Members: levels by growth value (cumulative paid spend after refunds) and what each level
//! gives — the member price, free shipping, early access, a birthday gift, a points multiplier.
//! Other areas ask for a member's benefits here (`benefits_of`); they never read the level
//! tables themselves. Orders reach members only through `orders::listeners` (growth on
//! payment and refund, the member price stage, early access at checkout), wired in `app`.
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use crate::error::AppError;

pub mod cache;
pub mod errors;
pub mod order_hooks;
pub mod rules;
pub mod schema;
pub mod service;
pub mod types;

/// What a member's level gives them that other areas apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberBenefits {
    /// The member's level (`None`: no level, as before any level is defined).
    pub level_id: Option<i64>,
    /// Points earned are multiplied by this (1 without a level).
    pub points_multiplier: Decimal,
    /// Points given once a year on the member's birthday (0 without a level).
    pub birthday_points: i64,
    /// The share of the price the member pays, in basis points (10,000: full price).
    pub price_rate_bp: i32,
    /// Whether the member's orders ship free.
    pub free_shipping: bool,
    /// How many hours before a product's scheduled on-sale time the member may buy it.
    pub early_access_hours: i32,
}

impl MemberBenefits {
    /// A member without a level: nothing beyond what everyone gets.
    pub fn none() -> Self {
        Self {
            level_id: None,
            points_multiplier: Decimal::ONE,
            birthday_points: 0,
            price_rate_bp: rules::FULL_RATE_BP,
            free_shipping: false,
            early_access_hours: 0,
        }
    }

    pub fn of(level: &entity::member_level::Model) -> Self {
        Self {
            level_id: Some(level.id),
            points_multiplier: Decimal::new(i64::from(level.points_multiplier_pct), 2),
            birthday_points: level.birthday_points,
            price_rate_bp: level.price_rate_bp,
            free_shipping: level.free_shipping,
            early_access_hours: level.early_access_hours,
        }
    }
}

/// The benefits of `user_id`'s level as it is now (the level of 0 growth before their first
/// payment).
pub async fn benefits_of(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<MemberBenefits, AppError> {
    Ok(service::level_of(conn, user_id)
        .await?
        .map(|l| MemberBenefits::of(&l))
        .unwrap_or_else(MemberBenefits::none))
}

/// The level of the buyer a checkout prices for: from the database when the order is being
/// placed, from memory (`cache`) for a preview.
pub async fn level_for_pricing(
    app: &crate::app::AppState,
    request: &crate::orders::pricing::PricingRequest,
) -> Result<Option<entity::member_level::Model>, AppError> {
    let conn = app.db.conn();
    if request.placing {
        service::level_of(conn, request.buyer_id).await
    } else {
        app.members.level(conn, request.buyer_id).await
    }
}

/// The level a viewer's member prices are computed at: only a level with a discount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceLevel {
    pub level_id: i64,
    pub rate_bp: i32,
}

impl PriceLevel {
    /// What a response showing member prices is stored under besides the request: the level
    /// and its rate, so members of one level share responses and a new rate is a new key.
    pub fn cache_tag(&self) -> String {
        format!("member-level:{}:{}", self.level_id, self.rate_bp)
    }

    /// The price level `level` gives, `None` when it has no discount.
    pub fn of(level: &entity::member_level::Model) -> Option<Self> {
        (level.price_rate_bp < rules::FULL_RATE_BP).then_some(Self {
            level_id: level.id,
            rate_bp: level.price_rate_bp,
        })
    }

    pub fn unit_price_fen(&self, price_fen: i64) -> i64 {
        rules::member_unit_price_fen(price_fen, self.rate_bp)
    }
}

/// The price level of `user_id` now, `None` when their level has no discount. Kept in memory
/// (`cache::MemberCache`), so the catalogue's hot path reads no level rows.
pub async fn price_level(
    app: &crate::app::AppState,
    user_id: i64,
) -> Result<Option<PriceLevel>, AppError> {
    app.members.price_level(app.db.conn(), user_id).await
}
