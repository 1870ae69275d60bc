//! sea-orm entities of distmall, one module per table.
//!
//! Money columns are integer fen (`i64`): exact on SQLite and PostgreSQL alike. Conversion to
//! `rust_decimal::Decimal` happens in the server at the edges.

pub mod domain_event;
pub mod login_throttle;
pub mod notification;
pub mod refresh_token;
pub mod staff_permission;
pub mod system_setting;
pub mod user;
