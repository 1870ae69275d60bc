//! Scheduled jobs. Every instance runs the same schedule, but a job body runs only while its
//! instance holds the job's lease in the database, so with several instances each run happens
//! once. Job bodies are idempotent as well (conditional updates), so a lease that expires in the
//! middle of a slow run cannot cause double effects.
use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use entity::job_lease;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set, sea_query::Expr};

use crate::{app::AppState, db::Db, error::AppError};

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

/// Runs `job` every `every` on whichever instance holds its lease, until shutdown.
pub fn spawn<F, Fut>(app: &Arc<AppState>, name: &'static str, every: Duration, job: F)
where
    F: Fn(Arc<AppState>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send,
{
    let app = app.clone();
    tokio::spawn(async move {
        let ttl = (every * 3).max(Duration::from_secs(5));
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = app.shutdown.cancelled() => return,
            }
            match acquire_lease(&app.db, name, &app.instance_id, ttl).await {
                Ok(true) => {
                    if let Err(e) = job(app.clone()).await {
                        tracing::error!(job = name, error = ?e, "scheduled job failed");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(job = name, error = ?e, "cannot take job lease"),
            }
        }
    });
}
