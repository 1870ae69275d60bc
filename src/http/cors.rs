//! CORS: the admin dashboard runs on an origin of its own, so browsers ask before each kind of
//! call (a preflight) and show it the answer only when its origin is allowed
//! (`cors_allowed_origins`).
use std::{sync::Arc, time::Duration};

use axum::http::{HeaderName, HeaderValue, Method, header, request::Parts};
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

use crate::config::CorsOrigins;

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// Answers preflights and marks responses readable for allowed origins, with credentials;
/// other origins get no CORS headers at all, so browsers keep the responses from them.
pub fn layer(origins: CorsOrigins) -> CorsLayer {
    let origins = Arc::new(origins);
    let allowed =
        move |origin: &HeaderValue, _: &Parts| origin.to_str().is_ok_and(|o| origins.allows(o));
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allowed.clone()))
        .allow_credentials(AllowCredentials::predicate(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("graphql-preflight"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-cache"),
        ])
        .max_age(PREFLIGHT_MAX_AGE)
}
