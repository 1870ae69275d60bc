//! Promotions: coupon templates and the coupons buyers hold (claimed in the coupon centre,
//! issued by staff, or given on registration and birthdays — `occasions`), 满减 activities,
//! and their two stages of the checkout's pricing pipeline (activities, then one coupon — the
//! buyer's choice or the best they hold), with the coupon's life tied to its order. Orders know nothing of this area: it acts through
//! `orders::listeners` (`order_hooks`), registered in `app`.
//!
//! The stacking order is the pipeline's (`orders::pricing`): member price → 满减 activities →
//! one coupon → points → shipping. Whether a coupon stacks with an activity is a property of
//! its template, decided in one place (`rules::coupon_offer`).
pub mod cache;
pub mod claims;
pub mod errors;
pub mod occasions;
pub mod order_hooks;
pub mod rules;
pub mod schema;
pub mod service;
pub mod types;

pub use occasions::spawn_jobs;
