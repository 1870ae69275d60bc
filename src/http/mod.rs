//! The HTTP surface: `/graphql` (POST, GET and WebSocket), the playground, and operations
//! endpoints.
mod cors;
mod exports;
mod graphql;
mod ops;
mod payment_webhooks;
mod playground;
mod upload;
mod webhooks;
mod ws;

use std::sync::Arc;

use axum::{
    Json, Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;

use crate::{
    app::AppState,
    graphql::{
        AppSchema,
        guardrails::{Limits, SchemaShape},
    },
};

pub use playground::all_examples as playground_examples;

#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<AppState>,
    pub schema: AppSchema,
    pub shape: Arc<SchemaShape>,
    pub limits: Arc<Limits>,
}

impl HttpState {
    pub fn new(app: Arc<AppState>, schema: AppSchema) -> anyhow::Result<Self> {
        let shape = Arc::new(SchemaShape::from_sdl(&schema.sdl())?);
        let limits = Arc::new(Limits::from_config(&app.config));
        Ok(Self {
            app,
            schema,
            shape,
            limits,
        })
    }
}

pub fn router(state: HttpState) -> anyhow::Result<Router> {
    let config = state.app.config.clone();
    let cors = cors::layer(config.cors_origins().map_err(anyhow::Error::msg)?);
    let mut router = Router::new();
    if config.playground_enabled() {
        router = router
            .route("/", get(playground::page))
            .route("/playground", get(playground::page))
            .route("/playground/examples.json", get(playground::examples));
    }
    if config.metrics_on_main_listener() {
        router = router.route("/metrics", get(ops::metrics));
    }
    Ok(router
        .route(
            "/graphql",
            get(graphql::graphql_get).post(graphql::graphql_post),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route(
            "/exports/stock-movements.csv",
            get(exports::stock_movements),
        )
        .route("/webhooks/wechatpay", post(payment_webhooks::wechatpay))
        .route("/webhooks/alipay", post(payment_webhooks::alipay))
        .route("/exports/orders.csv", get(exports::orders))
        .route("/webhooks/logistics", post(webhooks::logistics))
        .nest_service("/media", media_service(&state))
        .layer(cors)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state))
}

/// `/metrics` alone, for `metrics_listen`.
pub fn metrics_router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

type WithHeader<S> = tower_http::set_header::SetResponseHeader<S, HeaderValue>;

/// Uploaded files from the data directory. File names are random and never reused, so they
/// are cached for a year. Browsers take them for what their extension says and never sniff
/// (an upload that looks like HTML must not run as a page of this origin).
fn media_service(state: &HttpState) -> WithHeader<WithHeader<tower_http::services::ServeDir>> {
    use tower_http::set_header::SetResponseHeader;
    SetResponseHeader::overriding(
        SetResponseHeader::overriding(
            tower_http::services::ServeDir::new(state.app.config.data_dir.join("media")),
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    )
}

/// A refusal before GraphQL execution, in the GraphQL response shape so clients can read it.
pub(crate) fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({
            "errors": [{ "message": message, "extensions": { "code": code } }]
        })),
    )
        .into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    resp
}
