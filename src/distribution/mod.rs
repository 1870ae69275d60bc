//! Distribution (ARCHITECTURE.md §3.5, §11): recruitment and review, customer bindings and the inviter tree,
//! versioned commission rules, commission records through an order's life, settlement into an
//! append-only balance ledger, withdrawals, levels, performance, and the GraphQL face of it.
pub mod commissions;
pub mod errors;
pub mod ledger;
pub mod levels;
pub mod order_hooks;
pub mod performance;
pub mod recruitment;
pub mod rules;
pub mod schema;
pub mod settings;
pub mod settlement;
pub mod team;
pub mod types;
pub mod withdrawals;

use std::{sync::Arc, time::Duration};

use crate::app::AppState;

/// Starts the settlement job (it settles every period whose payout day under the rules in force
/// has come, once per period across instances, catching up after downtime) and the monthly
/// report job (on the 1st).
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = Duration::from_secs(app.config.distribution_job_interval_secs.max(1));
    crate::jobs::spawn(app, "distribution.settlement", every, |app| async move {
        settlement::run_if_due(&app, chrono::Utc::now())
            .await
            .map(drop)
    });
    crate::jobs::spawn(
        app,
        "distribution.monthly_report",
        every,
        |app| async move {
            let n = performance::generate_monthly(&app, chrono::Utc::now()).await?;
            if n > 0 {
                tracing::info!(reports = n, "monthly distributor reports written");
            }
            Ok(())
        },
    );
}
