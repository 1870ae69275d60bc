//! Orders (ARCHITECTURE.md §3.4): address book, cart, the checkout pricing pipeline, placing orders with
//! stock reserved in the same transaction, the order state machine with history and events,
//! payments, fulfilment (approval, shipping, tracking, receipt), timers, and the GraphQL face
//! of all of it.
pub mod addresses;
pub mod cache;
pub mod cart;
pub mod checkout;
pub mod errors;
pub mod export;
pub mod fulfilment;
pub mod fulfilment_schema;
pub mod lifecycle;
pub mod listeners;
pub mod payments;
pub mod placement;
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
pub mod tracking;
pub mod types;

use std::{sync::Arc, time::Duration};

use crate::app::AppState;

/// Starts the order timers: unpaid orders time out (stock released), shipped orders are
/// received automatically, delivered orders complete; and the tracking poll for parcels no
/// carrier push mentioned for a while.
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = Duration::from_secs(app.config.order_timer_interval_secs.max(1));
    crate::jobs::spawn(app, "orders.payment_timeout", every, |app| async move {
        let n = lifecycle::cancel_expired(&app, chrono::Utc::now()).await?;
        if n > 0 {
            tracing::info!(cancelled = n, "unpaid orders timed out");
        }
        Ok(())
    });
    crate::jobs::spawn(app, "orders.auto_receive", every, |app| async move {
        let n = fulfilment::receive_overdue(&app, chrono::Utc::now()).await?;
        if n > 0 {
            tracing::info!(received = n, "shipped orders received automatically");
        }
        Ok(())
    });
    crate::jobs::spawn(app, "orders.auto_complete", every, |app| async move {
        let n = fulfilment::complete_overdue(&app, chrono::Utc::now()).await?;
        if n > 0 {
            tracing::info!(
                completed = n,
                "orders completed after the after-sales window"
            );
        }
        Ok(())
    });
    if let Some(provider) = tracking::provider_from_config(&app.config, app.http.clone()) {
        let poll_every = Duration::from_secs(app.config.tracking_poll_interval_secs.max(1));
        crate::jobs::spawn(app, "logistics.poll", poll_every, move |app| {
            let provider = provider.clone();
            async move {
                let n = tracking::poll_stale(&app, provider.as_ref(), chrono::Utc::now()).await?;
                if n > 0 {
                    tracing::info!(parcels = n, "stale parcels polled for tracking");
                }
                Ok(())
            }
        });
    }
}
