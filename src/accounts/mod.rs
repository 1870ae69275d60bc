//! Accounts (ARCHITECTURE.md §3.1): consumers signing up and in by phone + password or WeChat, refresh
//! tokens, profiles, staff and their permissions, and login throttling.
pub mod cache;
mod errors;
pub mod rules;
pub mod schema;
pub mod service;
pub mod throttle;
pub mod wechat;

pub use errors::{AccountError, AccountErrorCode};
pub use schema::{AccountMutation, AccountQuery, User};
