//! Sharing (issue 20): share links with their funnel, share copy from staff-editable
//! templates, and posters (a PNG drawn by the server, with a QR code of the link or a WeChat
//! mini-program code).
pub mod copy;
pub mod order_hooks;
pub mod poster;
pub mod schema;
pub mod service;
pub mod wxacode;

pub use service::SharingState;
