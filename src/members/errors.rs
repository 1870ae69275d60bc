//! The members area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why a members mutation was refused (nothing was changed).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberErrorCode {
    /// No member level has this id.
    UnknownLevel,
    /// No customer has this id.
    UnknownMember,
    /// A name or badge name is empty or longer than 32 characters, or another level has it.
    InvalidName,
    /// The growth threshold is out of range, equal to another level's, below the previous
    /// level's (a level keeps its place in the ladder), or the lowest level would not start at 0.
    InvalidThreshold,
    /// The member discount rate is not between 10.00 and 100.00, has more than two decimals,
    /// or a higher level would pay more than the level below it.
    InvalidRate,
    /// Early access hours, birthday points or the points multiplier are out of range.
    InvalidBenefit,
    /// The last level, or the level of 0 growth, cannot be deleted.
    LevelInUse,
    /// A setting is out of range (see the message).
    InvalidSettings,
    /// A reason is empty or longer than 200 characters.
    InvalidReason,
}

crate::user_error_type!(
    /// A refused members mutation.
    MemberError,
    MemberErrorCode
);

pub type MemberResult<T> = Result<T, ServiceError<Vec<MemberError>>>;

pub fn reject<T>(
    code: MemberErrorCode,
    field: &str,
    message: impl Into<String>,
) -> MemberResult<T> {
    Err(ServiceError::User(vec![MemberError::new(
        code,
        Some(field),
        message,
    )]))
}
