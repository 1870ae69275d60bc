//! Domain events (ARCHITECTURE.md §7).
//!
//! * `append` queues an event in the caller's transaction, which writes it into the
//!   `domain_events` outbox as it commits, so an event exists exactly when its change committed.
//! * The dispatcher (`dispatcher.rs`) tails the outbox — woken at once by local commits and, on
//!   PostgreSQL, by `LISTEN/NOTIFY` from any instance, and by a poll otherwise — and broadcasts
//!   each event to this instance's subscribers in id order, once.
//! * `subscribe` gives a subscription its stream: first what it missed since the last event id it
//!   saw (read from the outbox), then live events, never the same id twice.
mod dispatcher;

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};
use entity::domain_event;
use futures::Stream;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::broadcast;

pub use dispatcher::run_dispatcher;

use crate::{
    db::{CommittedEvent, WriteTx},
    error::AppError,
};

/// Events broadcast to subscriptions within this instance.
const BUS_CAPACITY: usize = 4096;
/// A resuming subscriber gets at most this many missed events per read.
const REPLAY_BATCH: u64 = 500;

#[derive(Clone, Debug)]
pub struct Event {
    pub id: i64,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: i64,
    pub recipient_user_id: Option<i64>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<domain_event::Model> for Event {
    fn from(m: domain_event::Model) -> Self {
        Self {
            id: m.id,
            payload: serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null),
            event_type: m.event_type,
            aggregate_type: m.aggregate_type,
            aggregate_id: m.aggregate_id,
            recipient_user_id: m.recipient_user_id,
            created_at: m.created_at,
        }
    }
}

/// What a new event says; `append` stores it.
pub struct NewEvent {
    pub event_type: &'static str,
    pub aggregate_type: &'static str,
    pub aggregate_id: i64,
    pub recipient_user_id: Option<i64>,
    pub payload: serde_json::Value,
}

/// Appends `event` to the outbox of `tx`. The row is written when the transaction commits (see
/// `write_outbox`): it commits or rolls back with the change it describes.
pub fn append(tx: &WriteTx, event: NewEvent) {
    tx.queue_event(event);
}

/// Writes the events queued in a transaction, just before it commits: one insert, however many
/// events the transaction appended (on PostgreSQL the insert also notifies the listening
/// instances, by the trigger of migration `m20261129_000007`). Writing them last keeps short
/// the time between taking their ids and committing, during which PostgreSQL holds the outbox's
/// commit-order lock (migration `m20261207_000011`) and other writers of events wait.
///
/// The events go as one JSON array parameter, so the statement's text is the same for any
/// number of events: prepared once per connection. A `VALUES` list of six parameters per event
/// was a new statement for every count.
///
/// Each statement carries at most `OUTBOX_CHUNK_BYTES` of events. sqlx 0.9 leaves Nagle's
/// algorithm on for its PostgreSQL sockets, so a message the socket takes in two writes (over
/// 16 KB, the default send buffer) has its tail held until the server acknowledges the head,
/// which the server delays by 40 ms: a group of orders (`orders::placement`) writing 200
/// events in one statement spent 45 ms on it, in every commit.
pub(crate) async fn write_outbox(
    tx: &DatabaseTransaction,
    queued: Vec<NewEvent>,
) -> Result<Vec<CommittedEvent>, DbErr> {
    if queued.is_empty() {
        return Ok(Vec::new());
    }
    const POSTGRES: &str = "INSERT INTO domain_events (event_type, aggregate_type, aggregate_id, \
            recipient_user_id, payload, created_at) \
        SELECT e.t, e.a, e.i, e.r, e.p, $1 FROM ROWS FROM (json_to_recordset($2::json) \
            AS (t text, a text, i bigint, r bigint, p text)) WITH ORDINALITY AS e(t, a, i, r, p, n) \
        ORDER BY e.n RETURNING id";
    const SQLITE: &str = "INSERT INTO domain_events (event_type, aggregate_type, aggregate_id, \
            recipient_user_id, payload, created_at) \
        SELECT json_extract(value, '$.t'), json_extract(value, '$.a'), \
            json_extract(value, '$.i'), json_extract(value, '$.r'), json_extract(value, '$.p'), $1 \
        FROM json_each($2) ORDER BY key RETURNING id";
    let backend = tx.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        POSTGRES
    } else {
        SQLITE
    };
    let now = Utc::now();
    let mut ids = Vec::with_capacity(queued.len());
    for chunk in json_chunks(&queued) {
        let values: [sea_orm::Value; 2] = [now.into(), chunk.into()];
        for row in tx
            .query_all_raw(crate::db::stmt(backend, sql, values))
            .await?
        {
            ids.push(row.try_get::<i64>("", "id")?);
        }
    }
    // Both databases number the rows of one insert in the order they are inserted.
    ids.sort_unstable();
    Ok(ids
        .into_iter()
        .zip(queued)
        .map(|(id, e)| CommittedEvent {
            id,
            event_type: e.event_type,
            aggregate_id: e.aggregate_id,
            payload: e.payload,
        })
        .collect())
}

/// Events in one outbox statement at most, in bytes of JSON: one socket write.
const OUTBOX_CHUNK_BYTES: usize = 8 * 1024;

/// `queued` as JSON arrays of the outbox statement's rows, in order, each as long as
/// `OUTBOX_CHUNK_BYTES` allows (one event longer than that goes alone).
fn json_chunks(queued: &[NewEvent]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut chunk = String::new();
    for e in queued {
        let row = serde_json::json!({
            "t": e.event_type,
            "a": e.aggregate_type,
            "i": e.aggregate_id,
            "r": e.recipient_user_id,
            "p": e.payload.to_string(),
        })
        .to_string();
        if !chunk.is_empty() && chunk.len() + row.len() + 2 > OUTBOX_CHUNK_BYTES {
            chunk.push(']');
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push(if chunk.is_empty() { '[' } else { ',' });
        chunk.push_str(&row);
    }
    if !chunk.is_empty() {
        chunk.push(']');
        chunks.push(chunk);
    }
    chunks
}

/// Which events a subscription wants. The same filter is applied to live events in memory and to
/// missed events in SQL, so both paths agree.
#[derive(Clone, Debug)]
pub struct EventFilter {
    pub event_types: &'static [&'static str],
    pub recipient_user_id: Option<i64>,
    pub aggregate_id: Option<i64>,
}

impl EventFilter {
    pub fn matches(&self, e: &Event) -> bool {
        self.event_types.contains(&e.event_type.as_str())
            && self
                .recipient_user_id
                .is_none_or(|r| e.recipient_user_id == Some(r))
            && self.aggregate_id.is_none_or(|a| e.aggregate_id == a)
    }
}

pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BUS_CAPACITY).0,
        }
    }

    pub fn publish(&self, event: Arc<Event>) {
        // No receivers is normal: nobody is subscribed right now.
        let _ = self.sender.send(event);
    }

    pub fn receiver(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}

async fn missed_events(
    conn: &impl ConnectionTrait,
    filter: &EventFilter,
    live_only: Option<LiveOnly>,
    after: i64,
) -> Result<Vec<Arc<Event>>, AppError> {
    let mut wanted = Condition::all()
        .add(domain_event::Column::EventType.is_in(filter.event_types.iter().copied()));
    if let Some(r) = filter.recipient_user_id {
        wanted = wanted.add(domain_event::Column::RecipientUserId.eq(r));
    }
    if let Some(a) = filter.aggregate_id {
        wanted = wanted.add(domain_event::Column::AggregateId.eq(a));
    }
    if let Some(l) = live_only {
        wanted = Condition::any().add(wanted).add(
            Condition::all()
                .add(domain_event::Column::EventType.eq(l.event_type))
                .add(domain_event::Column::AggregateId.eq(l.aggregate_id)),
        );
    }
    let rows = domain_event::Entity::find()
        .filter(domain_event::Column::Id.gt(after))
        .filter(wanted)
        .order_by_asc(domain_event::Column::Id)
        .limit(REPLAY_BATCH)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|m| Arc::new(Event::from(m))).collect())
}

/// Events of one kind about one aggregate that a subscription also receives while live, in
/// their place among its own events, but never when it replays what it missed (they say that
/// something changed *now*, such as the subscriber's own account).
#[derive(Clone, Copy, Debug)]
pub struct LiveOnly {
    pub event_type: &'static str,
    pub aggregate_id: i64,
}

impl LiveOnly {
    fn matches(&self, e: &Event) -> bool {
        e.event_type == self.event_type && e.aggregate_id == self.aggregate_id
    }
}

/// The stream of events for one subscription: the events after `after` that it missed, then live
/// ones, each id at most once. It subscribes to the bus *before* reading the outbox, so an event
/// committed in between arrives by one path or the other (and is de-duplicated).
pub fn subscribe<C>(
    bus: &EventBus,
    conn: C,
    filter: EventFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<Arc<Event>, AppError>> + Send + 'static + use<C>
where
    C: ConnectionTrait + Send + Sync + 'static,
{
    subscribe_with(bus, conn, filter, after, None)
}

/// `subscribe`, also yielding the live events `live_only` names.
pub fn subscribe_with<C>(
    bus: &EventBus,
    conn: C,
    filter: EventFilter,
    after: Option<i64>,
    live_only: Option<LiveOnly>,
) -> impl Stream<Item = Result<Arc<Event>, AppError>> + Send + 'static + use<C>
where
    C: ConnectionTrait + Send + Sync + 'static,
{
    let mut rx = bus.receiver();
    async_stream::try_stream! {
        let mut replayed: HashSet<i64> = HashSet::new();
        let mut high_water = after;
        if let Some(mut from) = after {
            loop {
                let batch = missed_events(&conn, &filter, None, from).await?;
                let full = batch.len() as u64 == REPLAY_BATCH;
                for e in batch {
                    from = e.id;
                    high_water = Some(e.id);
                    replayed.insert(e.id);
                    yield e;
                }
                if !full {
                    break;
                }
            }
        }
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if (filter.matches(&e) || live_only.is_some_and(|l| l.matches(&e)))
                        && !replayed.contains(&e.id)
                        && after.is_none_or(|a| e.id > a)
                    {
                        high_water = Some(high_water.map_or(e.id, |h| h.max(e.id)));
                        yield e;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // This subscriber fell behind the bus; read what it lost from the outbox
                    // (the live-only events among it too: they were live when they were lost).
                    let from = high_water.unwrap_or(0);
                    for e in missed_events(&conn, &filter, live_only, from).await? {
                        high_water = Some(e.id);
                        replayed.insert(e.id);
                        yield e;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

/// Parses the opaque event id a client sends back to resume a subscription.
pub fn parse_event_id(raw: Option<&str>) -> Result<Option<i64>, AppError> {
    raw.map(|s| {
        s.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| AppError::bad_input("after must be an event id from an earlier event"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_chunks_keep_every_event_in_order_and_stay_within_the_bound() {
        let new = |id: i64, text: &str| NewEvent {
            event_type: "t",
            aggregate_type: "a",
            aggregate_id: id,
            recipient_user_id: None,
            payload: serde_json::json!({ "text": text }),
        };
        let mut queued: Vec<NewEvent> = (0..300).map(|i| new(i, "平常的事件")).collect();
        queued.insert(150, new(1000, &"长".repeat(OUTBOX_CHUNK_BYTES)));
        let chunks = json_chunks(&queued);
        let mut ids = Vec::new();
        for chunk in &chunks {
            let rows: Vec<serde_json::Value> = serde_json::from_str(chunk).unwrap();
            assert!(
                chunk.len() <= OUTBOX_CHUNK_BYTES || rows.len() == 1,
                "{}",
                chunk.len()
            );
            ids.extend(rows.iter().map(|r| r["i"].as_i64().unwrap()));
        }
        let expected: Vec<i64> = queued.iter().map(|e| e.aggregate_id).collect();
        assert_eq!(ids, expected);
        assert!(chunks.len() > 2);
    }

    fn event(id: i64, event_type: &str, recipient: Option<i64>) -> Event {
        Event {
            id,
            event_type: event_type.into(),
            aggregate_type: "x".into(),
            aggregate_id: 1,
            recipient_user_id: recipient,
            payload: serde_json::Value::Null,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn filter_checks_type_and_recipient() {
        let f = EventFilter {
            event_types: &["notification.created"],
            recipient_user_id: Some(5),
            aggregate_id: None,
        };
        assert!(f.matches(&event(1, "notification.created", Some(5))));
        assert!(!f.matches(&event(1, "notification.created", Some(6))));
        assert!(!f.matches(&event(1, "notification.created", None)));
        assert!(!f.matches(&event(1, "order.paid", Some(5))));
    }

    #[test]
    fn event_ids_parse_strictly() {
        assert_eq!(parse_event_id(None).unwrap(), None);
        assert_eq!(parse_event_id(Some("42")).unwrap(), Some(42));
        assert!(parse_event_id(Some("-1")).is_err());
        assert!(parse_event_id(Some("abc")).is_err());
    }
}
