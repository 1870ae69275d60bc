//! The account area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why an account mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountErrorCode {
    /// Not a mainland mobile number.
    InvalidPhone,
    /// Another account already uses this phone.
    PhoneTaken,
    /// The new password does not meet the rules (8–64 characters, letters and digits).
    InvalidPassword,
    /// Phone and password do not match an account.
    InvalidCredentials,
    /// The account has been disabled by the merchant.
    AccountDisabled,
    /// The nickname is empty, longer than 32 characters or contains control characters.
    InvalidNickname,
    /// The avatar URL is not an http(s) URL of at most 512 characters.
    InvalidAvatar,
    /// The birthday is before 1900-01-01 or after today.
    InvalidBirthday,
    /// The refresh token is unknown, expired or revoked: sign in again.
    InvalidRefreshToken,
    /// The refresh token was already used; the whole session was revoked to protect the account.
    RefreshTokenReused,
    /// WeChat login is not configured on this server.
    WechatNotConfigured,
    /// WeChat refused the login code; call `wx.login()` again.
    WechatCodeInvalid,
    /// WeChat could not be reached; try again shortly.
    WechatUnavailable,
    /// No such user.
    UserNotFound,
    /// The user is not a staff member.
    NotStaff,
    /// The owner account cannot be changed through staff management.
    CannotModifyOwner,
    /// Staff cannot change their own permissions or disable themselves.
    CannotModifySelf,
    /// Only permissions that you hold can be granted.
    PermissionNotHeld,
}

crate::user_error_type!(
    /// A refused account mutation.
    AccountError,
    AccountErrorCode
);

pub type AccountResult<T> = Result<T, ServiceError<Vec<AccountError>>>;

/// A single user error as a service failure.
pub fn reject<T>(code: AccountErrorCode, field: Option<&str>, message: &str) -> AccountResult<T> {
    Err(ServiceError::User(vec![AccountError::new(
        code, field, message,
    )]))
}
