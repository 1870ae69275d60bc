//! Liveness, readiness and Prometheus metrics.
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};

use super::HttpState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers and shutdown has not begun.
pub async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.app.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match state.app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let body = state.app.metrics.render(state.app.db.pool_state());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
