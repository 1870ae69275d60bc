//! sea-orm entities of distmall, one module per table.
//!
//! Money columns are integer fen (`i64`): exact on SQLite and PostgreSQL alike. Conversion to
//! `rust_decimal::Decimal` happens in the server at the edges.

pub mod audience;
pub mod brand;
pub mod category;
pub mod domain_event;
pub mod email_outbox;
pub mod idempotency_key;
pub mod job_lease;
pub mod login_throttle;
pub mod low_stock_alert;
pub mod notification;
pub mod product;
pub mod product_audience;
pub mod product_image;
pub mod product_spec;
pub mod refresh_token;
pub mod search_keyword_daily;
pub mod sku;
pub mod staff_permission;
pub mod stock_movement;
pub mod system_setting;
pub mod user;
