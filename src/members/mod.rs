//! Members: levels by growth value (cumulative paid spend after refunds) and what each level
//! gives — the member price, free shipping, early access, a birthday gift, a points multiplier.
//! Other areas ask for a member's benefits here (`benefits_of`); they never read the level
//! tables themselves.
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use crate::error::AppError;

/// What a member's level gives them that other areas apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberBenefits {
    /// The member's level (`None`: no level, as before any level is defined).
    pub level_id: Option<i64>,
    /// Points earned are multiplied by this (1 without a level).
    pub points_multiplier: Decimal,
    /// Points given once a year on the member's birthday (0 without a level).
    pub birthday_points: i64,
}

impl MemberBenefits {
    /// A member without a level: nothing beyond what everyone gets.
    pub fn none() -> Self {
        Self {
            level_id: None,
            points_multiplier: Decimal::ONE,
            birthday_points: 0,
        }
    }
}

/// The benefits of `user_id`'s level as it is now.
pub async fn benefits_of(
    _conn: &impl ConnectionTrait,
    _user_id: i64,
) -> Result<MemberBenefits, AppError> {
    // Levels are not defined yet: every member has the benefits of no level.
    Ok(MemberBenefits::none())
}
