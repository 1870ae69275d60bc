//! Group buying (拼团): staff run campaigns (a product's SKUs at a group price, groups of a
//! size that must fill in a time limit); a distributor — or a consumer, if the campaign allows —
//! launches a group and shares it; buyers join by placing a group order. The group succeeds the
//! moment its last place is paid, and its orders move on to review and shipping together; at its
//! deadline a group short of members fails and every paid member is refunded automatically,
//! once, through the provider they paid with.
//!
//! Orders know nothing of this area beyond the choice a checkout carries: it acts through
//! `orders::listeners` (`order_hooks`: the group-price stage, the place an order takes, pays for
//! and gives back, who a group order is credited to), registered in `app`.
pub mod errors;
pub mod order_hooks;
pub mod performance;
pub mod rules;
pub mod schema;
pub mod service;

use std::{sync::Arc, time::Duration};

use crate::app::AppState;

/// The deadline job: groups past their deadline succeed or fail, failed groups' members are
/// refunded. Leased, so one instance runs it at a time; idempotent, so a run taken over from a
/// stopped instance changes nothing twice.
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = Duration::from_millis(app.config.group_buy_job_interval_ms.max(50));
    crate::jobs::spawn(app, "group_buying.deadlines", every, service::run_deadlines);
}
