//! The one place where failures become GraphQL errors. Every error a client sees carries
//! `extensions.code`; internal faults are logged in full and reach the client only as
//! `INTERNAL` with the request id to quote to support.
use async_graphql::ErrorExtensions;

use crate::{error::AppError, request_scope::RequestScope};

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let code = err.code();
        let mut retry_after = None;
        let message = match err {
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::BadUserInput(m) => m,
            AppError::RateLimited { retry_after_secs } => {
                retry_after = Some(retry_after_secs);
                format!("too many attempts; try again in {retry_after_secs} seconds")
            }
            AppError::Internal(e) => {
                let request_id = RequestScope::current_request_id().unwrap_or_default();
                tracing::error!(request_id, error = ?e, "internal error");
                return internal_error(&request_id);
            }
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(secs) = retry_after {
                ext.set("retryAfterSeconds", secs);
            }
        })
    }
}

pub fn internal_error(request_id: &str) -> async_graphql::Error {
    let request_id = request_id.to_string();
    async_graphql::Error::new("internal error").extend_with(move |_, ext| {
        ext.set("code", "INTERNAL");
        ext.set("requestId", request_id.as_str());
    })
}

/// Declares an area's user-error type: `{ field, code, message }` with the area's code enum, as
/// returned in mutation payloads' `userErrors`, and any further fields the area's errors carry
/// (each documented, absent — its `Default` — unless set after `new`).
#[macro_export]
macro_rules! user_error_type {
    (
        $(#[$meta:meta])* $name:ident, $code:ty
        $(, $(#[$fmeta:meta])* $extra:ident : $extra_ty:ty)* $(,)?
    ) => {
        $(#[$meta])*
        #[derive(async_graphql::SimpleObject, Clone, Debug)]
        pub struct $name {
            /// Path to the input field at fault, e.g. `["input", "phone"]`; null when the error
            /// is about the request as a whole.
            pub field: Option<Vec<String>>,
            /// Machine-readable reason.
            pub code: $code,
            /// Human-readable explanation, fit to show to the user.
            pub message: String,
            $($(#[$fmeta])* pub $extra: $extra_ty,)*
        }

        impl $name {
            pub fn new(code: $code, field: Option<&str>, message: impl Into<String>) -> Self {
                Self {
                    field: field.map(|f| vec!["input".to_string(), f.to_string()]),
                    code,
                    message: message.into(),
                    $($extra: Default::default(),)*
                }
            }
        }
    };
}

/// Turns a service outcome into a mutation payload: user errors into `userErrors` (through
/// `failed`), anything else into a GraphQL error.
pub fn payload<T, U, P>(
    result: Result<T, crate::error::ServiceError<U>>,
    ok: impl FnOnce(T) -> P,
    failed: impl FnOnce(U) -> P,
) -> async_graphql::Result<P> {
    match result {
        Ok(v) => Ok(ok(v)),
        Err(e) => refused(e, failed),
    }
}

/// A failed service outcome as a mutation payload (for resolvers whose success path needs more
/// than a closure, e.g. another read): user errors into `userErrors`, anything else into a
/// GraphQL error.
pub fn refused<U, P>(
    error: crate::error::ServiceError<U>,
    failed: impl FnOnce(U) -> P,
) -> async_graphql::Result<P> {
    match error {
        crate::error::ServiceError::User(errors) => Ok(failed(errors)),
        crate::error::ServiceError::App(e) => Err(e.into()),
    }
}
