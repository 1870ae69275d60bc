//! The points area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why a points mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointsErrorCode {
    /// The caller signed in today already (one sign-in per shop day).
    AlreadySignedIn,
    /// The task paid its points already in this period.
    AlreadyClaimed,
    /// The task is not done yet (e.g. the profile lacks a nickname, avatar or birthday).
    TaskNotDone,
    /// Points must be a whole number other than 0 (an adjustment) or at least 1 (a mall price).
    InvalidPoints,
    /// Taking these points would make the member's balance negative.
    InsufficientPoints,
    /// The reason is empty or longer than 200 characters.
    InvalidReason,
    /// The idempotency key is empty, longer than 64 characters, or was used before with a
    /// different input.
    InvalidIdempotencyKey,
    /// No member has this id.
    MemberNotFound,
    /// No SKU has this id.
    SkuNotFound,
    /// Cash must be at least ¥0.00 and below the SKU's price.
    InvalidCash,
}

crate::user_error_type!(
    /// A refused points mutation.
    PointsError,
    PointsErrorCode
);

pub type PointsResult<T> = Result<T, ServiceError<Vec<PointsError>>>;

pub fn reject<T>(
    code: PointsErrorCode,
    field: &str,
    message: impl Into<String>,
) -> PointsResult<T> {
    Err(ServiceError::User(vec![PointsError::new(
        code,
        Some(field),
        message,
    )]))
}
