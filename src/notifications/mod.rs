//! In-app notifications: stored per user, listed with an unread filter, marked read, and pushed
//! live through the `notificationReceived` subscription. Other areas notify users by calling
//! `service::notify` inside their own transaction.
pub mod schema;
pub mod service;

pub use schema::{Notification, NotificationMutation, NotificationQuery, NotificationSubscription};
