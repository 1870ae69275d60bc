//! Tails the outbox and broadcasts events in id order.
//!
//! On PostgreSQL ids come from a sequence and transactions commit in any order, so id 41 can
//! become visible after id 42. The dispatcher therefore keeps a cursor below which every id has
//! been delivered, delivers what it sees above it, and waits for a missing id for
//! `events_gap_timeout_ms` (the transaction may still be committing) before it moves past it (it
//! may also have rolled back). On SQLite writers are serialised and ids have no holes.
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use entity::domain_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Event, EventBus};
use crate::{db::Db, metrics::Metrics};

const BATCH: u64 = 500;

struct Cursor {
    /// Every id up to here has been delivered (or given up on).
    contiguous: i64,
    /// Delivered ids above `contiguous`, with when each was delivered: an id still missing below
    /// one of them has been missing at least since then.
    ahead: BTreeMap<i64, Instant>,
}

impl Cursor {
    fn delivered(&mut self, id: i64, at: Instant) {
        self.ahead.insert(id, at);
        while self.ahead.remove(&(self.contiguous + 1)).is_some() {
            self.contiguous += 1;
        }
    }

    /// Moves past every hole that has stayed open for `timeout`. Each hole is timed from the
    /// delivery of the first id above it, so holes seen together (transactions rolled back
    /// together, as when a load's requests are cancelled) are given up on together, not one
    /// timeout after another.
    fn settle_gaps(&mut self, now: Instant, timeout: Duration) {
        while let Some((&first, &at)) = self.ahead.first_key_value() {
            if now.saturating_duration_since(at) < timeout {
                return;
            }
            self.contiguous = first - 1;
            self.delivered(first, at);
        }
    }
}

pub async fn run_dispatcher(
    db: Db,
    bus: Arc<EventBus>,
    metrics: Arc<Metrics>,
    poll: Duration,
    gap_timeout: Duration,
    shutdown: CancellationToken,
) {
    let wake = db.outbox_signal();
    if db.is_postgres() {
        spawn_pg_listener(&db, wake.clone(), shutdown.clone());
    }
    let start = loop {
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
    let mut cursor = Cursor {
        contiguous: start,
        ahead: BTreeMap::new(),
    };
    loop {
        if let Err(e) = drain(&db, &bus, &metrics, &mut cursor, gap_timeout).await {
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

async fn drain(
    db: &Db,
    bus: &EventBus,
    metrics: &Metrics,
    cursor: &mut Cursor,
    gap_timeout: Duration,
) -> Result<(), sea_orm::DbErr> {
    loop {
        let rows = domain_event::Entity::find()
            .filter(domain_event::Column::Id.gt(cursor.contiguous))
            .order_by_asc(domain_event::Column::Id)
            .limit(BATCH)
            .all(db.conn())
            .await?;
        let full = rows.len() as u64 == BATCH;
        let mut sent = 0;
        let now = Instant::now();
        for row in rows {
            if cursor.ahead.contains_key(&row.id) {
                continue;
            }
            let id = row.id;
            bus.publish(Arc::new(Event::from(row)));
            cursor.delivered(id, now);
            sent += 1;
        }
        metrics.events_dispatched(sent);
        cursor.settle_gaps(now, gap_timeout);
        if !full || sent == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(at: i64) -> Cursor {
        Cursor {
            contiguous: at,
            ahead: BTreeMap::new(),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn contiguous_ids_advance_the_cursor() {
        let t0 = Instant::now();
        let mut c = cursor(10);
        c.delivered(11, t0);
        c.delivered(12, t0);
        assert_eq!(c.contiguous, 12);
        assert!(c.ahead.is_empty());
    }

    #[test]
    fn a_late_id_fills_the_hole() {
        let t0 = Instant::now();
        let mut c = cursor(10);
        c.delivered(12, t0);
        assert_eq!(c.contiguous, 10);
        c.settle_gaps(t0 + secs(2), secs(3));
        assert_eq!(c.contiguous, 10, "still waiting for 11");
        c.delivered(11, t0 + secs(2));
        assert_eq!(c.contiguous, 12);
    }

    #[test]
    fn an_abandoned_hole_is_skipped_after_the_timeout() {
        let t0 = Instant::now();
        let mut c = cursor(10);
        c.delivered(12, t0);
        c.delivered(13, t0);
        c.settle_gaps(t0 + secs(3), secs(3));
        assert_eq!(c.contiguous, 13);
        assert!(c.ahead.is_empty());
    }

    #[test]
    fn holes_seen_together_are_given_up_on_together() {
        let t0 = Instant::now();
        let mut c = cursor(10);
        for id in [12, 14, 16] {
            c.delivered(id, t0);
        }
        c.settle_gaps(t0 + secs(2), secs(3));
        assert_eq!(c.contiguous, 10);
        c.settle_gaps(t0 + secs(3), secs(3));
        assert_eq!(c.contiguous, 16, "three holes, one timeout");
    }

    #[test]
    fn a_newer_hole_waits_its_own_timeout() {
        let t0 = Instant::now();
        let mut c = cursor(10);
        c.delivered(12, t0);
        c.delivered(14, t0 + secs(2));
        c.settle_gaps(t0 + secs(3), secs(3));
        assert_eq!(c.contiguous, 12, "13 has been missing for one second only");
        c.delivered(13, t0 + secs(4));
        assert_eq!(c.contiguous, 14);
    }
}
