//! Scheduled jobs. Every instance runs the same schedule, but a job body runs only while its
//! instance holds the job's lease in the database, so with several instances each run happens
//! once. Job bodies are idempotent as well (conditional updates), so two runs that overlap (a
//! lease taken over from an instance that stopped answering in the middle of a run) cannot
//! cause double effects.
//!
//! A lease lasts `job_lease_secs`, whatever the job's interval: its holder renews it every
//! third of that (during a run too) and the other instances try to take it as often. An
//! instance that dies without stopping blocks its jobs until its lease runs out; one that stops
//! gracefully gives its leases back, and another instance takes each job over at its next try.
use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use entity::job_lease;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set, sea_query::Expr};
use tokio_util::sync::CancellationToken;

use crate::{app::AppState, db::Db, error::AppError};

/// The shortest lease `job_lease_secs` may ask for.
pub const MIN_LEASE: Duration = Duration::from_secs(3);

/// Takes or renews the lease `name` for `holder` for `ttl`; true when `holder` holds it now.
pub async fn acquire_lease(
    db: &Db,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, AppError> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(ttl).unwrap_or_default();
    let tx = db.begin_write().await?;
    job_lease::Entity::insert(job_lease::ActiveModel {
        name: Set(name.to_string()),
        holder: Set(String::new()),
        expires_at: Set(now - chrono::Duration::seconds(1)),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&*tx)
    .await?;
    let taken = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(holder))
        .col_expr(job_lease::Column::ExpiresAt, Expr::value(until))
        .filter(job_lease::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(job_lease::Column::ExpiresAt.lt(now))
                .add(job_lease::Column::Holder.eq(holder)),
        )
        .exec(&*tx)
        .await?
        .rows_affected
        == 1;
    tx.commit().await?;
    Ok(taken)
}

/// Gives the lease `name` back if `holder` holds it, so that another instance takes the job
/// over at its next try.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> Result<(), AppError> {
    let tx = db.begin_write().await?;
    job_lease::Entity::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(""))
        .col_expr(
            job_lease::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(job_lease::Column::Name.eq(name))
        .filter(job_lease::Column::Holder.eq(holder))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// When a job's instance renews (or tries to take) the lease, and how many of those beats
/// there are from one run to the next.
#[derive(Debug, PartialEq, Eq)]
struct Cadence {
    beat: Duration,
    beats_per_run: u32,
}

/// The job runs every `every`; its lease, renewed at least every third of `lease`, never runs
/// out while its holder lives. The beat divides `every` evenly, so runs keep their interval.
fn cadence(every: Duration, lease: Duration) -> Cadence {
    let renew = (lease / 3).max(Duration::from_millis(1));
    let beats_per_run = every.as_secs_f64() / renew.as_secs_f64();
    let beats_per_run = (beats_per_run.ceil() as u32).max(1);
    Cadence {
        beat: every / beats_per_run,
        beats_per_run,
    }
}

/// Runs `job` every `every` on whichever instance holds its lease, until shutdown; then gives
/// the lease back. The task is tracked by `app.tasks`, which the server waits for before it
/// closes the database.
pub fn spawn<F, Fut>(app: &Arc<AppState>, name: &'static str, every: Duration, job: F)
where
    F: Fn(Arc<AppState>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let lease = Duration::from_secs(app.config.job_lease_secs).max(MIN_LEASE);
    let Cadence {
        beat,
        beats_per_run,
    } = cadence(every, lease);
    let app = app.clone();
    let tasks = app.tasks.clone();
    tasks.spawn(async move {
        let mut ticker = tokio::time::interval(beat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut holding = false;
        // Beats until the next run while this instance holds the lease: 0 runs at once (the
        // lease was just taken, or the interval has passed).
        let mut beats_left = 0u32;
        loop {
            tokio::select! {
                biased;
                _ = app.shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match acquire_lease(&app.db, name, &app.instance_id, lease).await {
                Ok(true) => {
                    holding = true;
                    if beats_left == 0 {
                        beats_left = beats_per_run;
                        let run = job(app.clone());
                        if let Err(e) = run_holding(&app, name, lease, beat, run).await {
                            tracing::error!(job = name, error = ?e, "scheduled job failed");
                        }
                    }
                    beats_left -= 1;
                }
                Ok(false) => {
                    holding = false;
                    beats_left = 0;
                }
                Err(e) => tracing::warn!(job = name, error = ?e, "cannot take job lease"),
            }
        }
        if holding && let Err(e) = release_lease(&app.db, name, &app.instance_id).await {
            tracing::warn!(job = name, error = ?e, "cannot give the job lease back");
        }
    });
}

/// Runs one job body while renewing its lease every `beat`, so that a run longer than the
/// lease keeps it. The renewals run in a task of their own: the body may hold the database's
/// only write connection (SQLite) while a renewal waits for it.
async fn run_holding(
    app: &Arc<AppState>,
    name: &'static str,
    lease: Duration,
    beat: Duration,
    run: impl Future<Output = Result<(), AppError>>,
) -> Result<(), AppError> {
    let done = CancellationToken::new();
    let renewer = tokio::spawn({
        let (app, done) = (app.clone(), done.clone());
        async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
            loop {
                tokio::select! {
                    biased;
                    _ = done.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                match acquire_lease(&app.db, name, &app.instance_id, lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        job = name,
                        "another instance took the lease over during a run"
                    ),
                    Err(e) => tracing::warn!(job = name, error = ?e, "cannot renew job lease"),
                }
            }
        }
    });
    let result = run.await;
    done.cancel();
    let _ = renewer.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_renewed_at_least_thrice_per_lease_and_runs_keep_their_interval() {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        for (every, lease, expected) in [
            (secs(30), secs(15), (secs(5), 6)),
            (secs(600), secs(15), (secs(5), 120)),
            (secs(7), secs(15), (ms(3500), 2)),
            (ms(2000), secs(15), (ms(2000), 1)),
            (secs(1), secs(60), (secs(1), 1)),
            (secs(60), secs(3), (secs(1), 60)),
        ] {
            let c = cadence(every, lease);
            assert_eq!((c.beat, c.beats_per_run), expected, "{every:?} {lease:?}");
            assert!(c.beat <= lease / 3);
            assert_eq!(c.beat * c.beats_per_run, every);
        }
    }
}
