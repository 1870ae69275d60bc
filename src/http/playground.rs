//! The playground: a self-contained page (no CDN; works offline) and the example operations
//! kept in `playground/examples/<role>/`, embedded at build time.
use axum::{
    Json,
    http::header,
    response::{Html, IntoResponse},
};
use serde_json::{Value, json};

include!(concat!(env!("OUT_DIR"), "/playground_examples.rs"));

const PAGE: &str = include_str!("../../playground/index.html");

pub async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(PAGE))
}

/// Every example as `{role, name, query, variables}`.
pub fn all_examples() -> Vec<Value> {
    EXAMPLES
        .iter()
        .map(|(role, name, query, variables)| {
            json!({
                "role": role,
                "name": name,
                "query": query,
                "variables": variables.and_then(|v| serde_json::from_str::<Value>(v).ok()),
            })
        })
        .collect()
}

pub async fn examples() -> impl IntoResponse {
    Json(all_examples())
}
