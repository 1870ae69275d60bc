//! Tails the outbox and broadcasts events in id order, each once.
//!
//! A visible id means every smaller id is settled — visible too, or gone for good (its
//! transaction rolled back): on SQLite writers take turns, and on PostgreSQL the outbox's ids
//! are drawn under a lock held until the drawing transaction ends (migration
//! `m20261207_000011_outbox_commit_order`). So the dispatcher reads past its cursor and moves
//! the cursor to the last id read: it never waits for a missing id, and an event that commits
//! late — however late — is never skipped, live or when a client resumes after a later one.
use std::{sync::Arc, time::Duration};

use entity::domain_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Event, EventBus};
use crate::{db::Db, metrics::Metrics};

const BATCH: u64 = 500;

pub async fn run_dispatcher(
    db: Db,
    bus: Arc<EventBus>,
    metrics: Arc<Metrics>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let wake = db.outbox_signal();
    if db.is_postgres() {
        spawn_pg_listener(&db, wake.clone(), shutdown.clone());
    }
    let mut cursor = loop {
        match latest_id(&db).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::error!(error = %e, "event dispatcher cannot read the outbox; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    };
    loop {
        if let Err(e) = drain(&db, &bus, &metrics, &mut cursor).await {
            tracing::error!(error = %e, "event dispatcher failed to read the outbox");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn latest_id(db: &Db) -> Result<i64, sea_orm::DbErr> {
    Ok(domain_event::Entity::find()
        .order_by_desc(domain_event::Column::Id)
        .one(db.conn())
        .await?
        .map_or(0, |e| e.id))
}

/// Publishes every event after `cursor`, in id order, and moves the cursor past them.
async fn drain(
    db: &Db,
    bus: &EventBus,
    metrics: &Metrics,
    cursor: &mut i64,
) -> Result<(), sea_orm::DbErr> {
    loop {
        let rows = domain_event::Entity::find()
            .filter(domain_event::Column::Id.gt(*cursor))
            .order_by_asc(domain_event::Column::Id)
            .limit(BATCH)
            .all(db.conn())
            .await?;
        let full = rows.len() as u64 == BATCH;
        metrics.events_dispatched(rows.len() as u64);
        for row in rows {
            *cursor = row.id;
            bus.publish(Arc::new(Event::from(row)));
        }
        if !full {
            return Ok(());
        }
    }
}

fn spawn_pg_listener(db: &Db, wake: Arc<Notify>, shutdown: CancellationToken) {
    let pool = db.conn().get_postgres_connection_pool().clone();
    tokio::spawn(async move {
        loop {
            let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for events; polling only");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                        _ = shutdown.cancelled() => return,
                    }
                }
            };
            if let Err(e) = listener.listen("distmall_events").await {
                tracing::warn!(error = %e, "LISTEN distmall_events failed; polling only");
            }
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(_) => wake.notify_one(),
                        Err(e) => {
                            tracing::warn!(error = %e, "event listener lost its connection");
                            break;
                        }
                    },
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    });
}
