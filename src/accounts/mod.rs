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

/// An area that acts when a customer registers, inside the registration's transaction
/// (registered in `app`, as order listeners are): what it writes lands with the account or
/// not at all.
#[async_trait::async_trait]
pub trait RegistrationListener: Send + Sync {
    async fn on_registered(
        &self,
        app: &crate::app::AppState,
        tx: &crate::db::WriteTx,
        user: &entity::user::Model,
    ) -> Result<(), crate::error::AppError>;
}
