//! The one error type services return. Business failures that a client should show next to a form
//! field are *not* errors here: they are `UserError`s in mutation payloads. `AppError` covers what
//! ends a request: authentication, permission, missing objects, bad arguments, rate limits and
//! internal faults. It deliberately does not implement `Display`, so that the only way it reaches
//! a client is `graphql::errors`, which hides internal detail behind a request id.
use std::fmt;

#[derive(Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput(String),
    RateLimited { retry_after_secs: u64 },
    Internal(anyhow::Error),
}

/// Machine-readable codes carried in `extensions.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::BadUserInput(_) => ErrorCode::BadUserInput,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated("sign in to do this".into())
    }

    pub fn forbidden() -> Self {
        AppError::Forbidden("you are not allowed to do this".into())
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        AppError::BadUserInput(message.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        AppError::Internal(err.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// What a service returns when a mutation can fail in a way the user should see next to the
/// form (`User`, rendered into the payload's `userErrors`) or in a way that ends the request
/// (`App`, rendered as a GraphQL error).
#[derive(Debug)]
pub enum ServiceError<U> {
    User(U),
    App(AppError),
}

impl<U> From<AppError> for ServiceError<U> {
    fn from(e: AppError) -> Self {
        ServiceError::App(e)
    }
}

impl<U> From<sea_orm::DbErr> for ServiceError<U> {
    fn from(e: sea_orm::DbErr) -> Self {
        ServiceError::App(e.into())
    }
}

impl<U> From<serde_json::Error> for ServiceError<U> {
    fn from(e: serde_json::Error) -> Self {
        ServiceError::App(e.into())
    }
}

pub type ServiceResult<T, U> = Result<T, ServiceError<U>>;
