//! The promotions area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why a promotions mutation was refused (nothing was changed).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromotionErrorCode {
    /// A name is empty or longer than 40 characters.
    InvalidName,
    /// An amount is below ¥0.01 (or ¥0.00 for a threshold), above the threshold it belongs
    /// to, a rate is not between 0.01 % and 99.99 %, or a cap is below ¥0.01.
    InvalidAmount,
    /// The scope lists nothing, or an id that is no category or product.
    InvalidScope,
    /// `LEVELS` without levels, or an id that is no member level.
    InvalidAudience,
    /// Neither a window nor a number of days, both, a window that ends before it starts or has
    /// ended, or days outside 1 to 3,650.
    InvalidValidity,
    /// A total quantity outside 1 to 10,000,000, or a per-user limit outside 1 to 100.
    InvalidQuantity,
    /// No coupon template has this id.
    TemplateNotFound,
    /// The template was stopped, is not offered in the coupon centre, or its window ended.
    TemplateUnavailable,
    /// Every coupon of the template has been given out.
    SoldOut,
    /// The caller holds as many coupons of this template as one person may.
    LimitReached,
    /// The coupon is for other customers (new customers, or members of some levels).
    NotEligible,
    /// 满减 tiers that are empty, overlap (thresholds and amounts must rise), or take more than
    /// their threshold; or a repeating step with a cap below one step.
    InvalidTiers,
    /// No activity has this id.
    ActivityNotFound,
    /// An activity's end is not after its start, or has passed.
    InvalidWindow,
    /// More than 1,000 users at once, or an id that is no user.
    InvalidUsers,
    /// The redeem code is wrong or was used (wrong codes count towards a lockout).
    InvalidCode,
    /// The caller has fewer points than the coupon costs.
    InsufficientPoints,
}

crate::user_error_type!(
    /// A refused promotions mutation.
    PromotionError,
    PromotionErrorCode
);

pub type PromotionResult<T> = Result<T, ServiceError<Vec<PromotionError>>>;

pub fn reject<T>(
    code: PromotionErrorCode,
    field: &str,
    message: impl Into<String>,
) -> PromotionResult<T> {
    Err(ServiceError::User(vec![PromotionError::new(
        code,
        Some(field),
        message,
    )]))
}
