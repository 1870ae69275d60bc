//! Orders (DESIGN §7): address book, cart, the checkout pricing pipeline, placing orders with
//! stock reserved in the same transaction, the order state machine with history and events,
//! payments, timers, and the GraphQL face of all of it.
pub mod addresses;
pub mod cart;
pub mod checkout;
pub mod errors;
pub mod lifecycle;
pub mod payments;
pub mod pricing;
pub mod providers;
pub mod queries;
pub mod refund_rules;
pub mod refund_schema;
pub mod refunds;
pub mod rules;
pub mod schema;
pub mod shipping;
pub mod shipping_templates;
pub mod types;

use std::{sync::Arc, time::Duration};

use crate::app::AppState;

/// Starts the order timers: unpaid orders time out (stock released).
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = Duration::from_secs(app.config.order_timer_interval_secs.max(1));
    crate::jobs::spawn(app, "orders.payment_timeout", every, |app| async move {
        let n = lifecycle::cancel_expired(&app, chrono::Utc::now()).await?;
        if n > 0 {
            tracing::info!(cancelled = n, "unpaid orders timed out");
        }
        Ok(())
    });
}
