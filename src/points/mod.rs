//! Points: an append-only ledger per member with lots spent oldest first
//! and expiring per lot; points earned by orders (pending until the order completes, reversed in
//! proportion by refunds), by tasks that pay once per period and by the daily sign-in; spent as
//! a checkout deduction (a pricing stage) or in the points mall; given back by cancellations
//! and refunds. Orders know nothing of this area: it acts through `orders::listeners`
//! (`order_hooks`), registered in `app`. A member's multiplier and birthday gift come from
//! `members::benefits_of`.
pub mod errors;
pub mod ledger;
pub mod order_hooks;
pub mod rules;
pub mod schema;
pub mod service;
pub mod sign_in;
pub mod types;

use std::{sync::Arc, time::Duration};

use crate::app::AppState;

/// Members expired per transaction by the expiry job.
pub const EXPIRY_BATCH: u64 = 5_000;

/// The expiry and birthday jobs: each runs on one instance at a time (a lease) and is
/// idempotent (an emptied lot is not due again; a birthday gift is one claim per member and
/// year).
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = Duration::from_secs(app.config.points_job_interval_secs.max(1));
    crate::jobs::spawn(app, "points.expiry", every, |app| async move {
        ledger::expire_due(&app.db, chrono::Utc::now(), EXPIRY_BATCH).await?;
        Ok(())
    });
    crate::jobs::spawn(app, "points.birthday", every, |app| async move {
        service::give_birthday_points(&app, chrono::Utc::now()).await?;
        Ok(())
    });
}
