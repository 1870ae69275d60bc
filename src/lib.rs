//! distmall: a GraphQL back end for a private-domain social distribution mall.
//!
//! Plumbing (`config`, `db`, `auth`, `events`, `graphql`, `http`, `metrics`) sits beside one
//! folder per business area (`accounts`, `notifications`, …), each holding its pure rules, its
//! services and its GraphQL face.
pub mod accounts;
pub mod app;
pub mod auth;
pub mod bounded_cache;
pub mod cached_value;
pub mod catalog;
pub mod config;
pub mod db;
pub mod distribution;
pub mod error;
pub mod events;
pub mod graphql;
pub mod group_buying;
pub mod group_commit;
pub mod http;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod logistics;
pub mod mailer;
pub mod members;
pub mod memory;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod points;
pub mod promotions;
pub mod request_scope;
pub mod revision_cache;
pub mod search;
pub mod seed;
pub mod sharing;
pub mod shop_time;

pub use app::Server;
pub use config::Config;

/// Example operations served by the playground, for the test that runs them all.
pub fn playground_examples() -> Vec<serde_json::Value> {
    http::playground_examples()
}
