//! The distribution area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why a distribution mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistributionErrorCode {
    /// The caller is a distributor already.
    AlreadyDistributor,
    /// An application of the caller is waiting for review.
    ApplicationPending,
    /// No application has the given id.
    ApplicationNotFound,
    /// The application was reviewed already.
    ApplicationReviewed,
    /// A required form answer is missing, or an answer is too long or names no field.
    InvalidAnswer,
    /// Recruitment is closed to this caller: by invitation only without a valid code, or the
    /// spending threshold is not reached.
    NotEligible,
    /// No active distributor has this referral code.
    UnknownReferralCode,
    /// No distributor has the given id.
    DistributorNotFound,
    /// Nobody binds to themselves or invites themselves.
    SelfReferral,
    /// The binding or move would make a loop in the team tree.
    ReferralLoop,
    /// The rules, settings or level are not valid (see the message).
    InvalidSettings,
    /// No distributor level has the given id.
    LevelNotFound,
    /// The amount is outside the withdrawal minimum and maximum, or has fractions of a fen.
    InvalidAmount,
    /// The available balance is smaller than the amount.
    InsufficientBalance,
    /// The account is empty or malformed for the channel.
    InvalidAccount,
    /// No withdrawal has the given id.
    WithdrawalNotFound,
    /// The withdrawal is not in a state that allows this.
    InvalidTransition,
    /// A reason or reference is empty or too long.
    InvalidNote,
    /// No product has the given id (not returned yet: `shareLink` answers a product it cannot
    /// show with `NOT_FOUND`).
    ProductNotFound,
}

crate::user_error_type!(
    /// A refused distribution mutation.
    DistributionError,
    DistributionErrorCode
);

pub type DistributionResult<T> = Result<T, ServiceError<Vec<DistributionError>>>;

pub fn reject<T>(
    code: DistributionErrorCode,
    field: &str,
    message: impl Into<String>,
) -> DistributionResult<T> {
    Err(ServiceError::User(vec![DistributionError::new(
        code,
        Some(field),
        message,
    )]))
}

pub fn reject_whole<T>(
    code: DistributionErrorCode,
    message: impl Into<String>,
) -> DistributionResult<T> {
    Err(ServiceError::User(vec![DistributionError::new(
        code, None, message,
    )]))
}
