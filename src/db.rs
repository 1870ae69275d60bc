//! Database access: connecting to SQLite or PostgreSQL, migrations, and write transactions.
//!
//! SQLite allows one writer at a time. A deferred transaction that reads and then writes fails
//! at once with `SQLITE_BUSY`, so every write transaction here starts with `BEGIN IMMEDIATE`, and
//! writers inside this process queue on an async mutex first, so that they wait in line instead of
//! spinning on the busy timeout, then run on one connection kept for writing (`SqliteWriter`).
//! The busy timeout still covers other processes on the same file.
use std::{str::FromStr, sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QuerySelect, Select, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::{config::Config, events::NewEvent, metrics::Metrics, request_scope::RequestScope};

/// What an event appended in a transaction says, handed to commit hooks after the commit.
#[derive(Clone, Debug)]
pub struct CommittedEvent {
    /// The outbox id.
    pub id: i64,
    pub event_type: &'static str,
    pub aggregate_id: i64,
    pub payload: serde_json::Value,
}

/// Runs in the committing task right after a commit that appended events. In-process caches
/// use it to forget what changed before the writer's next read (other instances learn the same
/// through the dispatched events).
pub type CommitHook = Arc<dyn Fn(&[CommittedEvent]) + Send + Sync>;

#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    sqlite_writer: Option<SqliteWriter>,
    /// Woken after a commit that appended domain events, so the dispatcher looks at once.
    outbox_written: Arc<Notify>,
    commit_hooks: Arc<parking_lot::RwLock<Vec<CommitHook>>>,
    /// How to open one more connection like the pool's (see `own_writer`).
    one_connection: ConnectOptions,
    metrics: Arc<Metrics>,
}

/// SQLite's one writer: write transactions take turns on `turn`, then run on `conn`, a pool of
/// one connection kept for them. Its page cache stays valid from one transaction to the next
/// (no other connection of this process writes), and taking a turn never waits for the pool.
#[derive(Clone)]
struct SqliteWriter {
    turn: Arc<Mutex<()>>,
    conn: DatabaseConnection,
}

impl Db {
    pub async fn connect(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let sqlite = config.is_sqlite();
        if sqlite {
            ensure_sqlite_dir(&config.database_url)?;
        }
        let max = match config.db_max_connections {
            0 if sqlite => sqlite_readers(),
            0 => 20,
            n => n,
        };
        let options = |max: u32| {
            let mut opts = ConnectOptions::new(config.database_url.clone());
            opts.max_connections(max)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                // Pinging on every checkout doubles the cost of each statement; only
                // connections idle long enough to have been dropped by a server or firewall
                // are checked.
                .test_before_acquire(false)
                .test_before_acquire_if_idle_for(Duration::from_secs(60))
                .sqlx_logging(false);
            if sqlite {
                opts.map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                        .create_if_missing(true)
                        // Checkpoints run in `checkpoint_sqlite`, not in the commit that
                        // crosses the threshold, which would hold the write lock through them.
                        .pragma("wal_autocheckpoint", "0")
                });
            }
            opts
        };
        let connect = |max: u32| connect_counted(options(max), metrics.clone());
        let conn = connect(max).await?;
        let sqlite_writer = if sqlite {
            tokio::spawn(checkpoint_sqlite(
                conn.clone(),
                Duration::from_millis(config.sqlite_checkpoint_interval_ms.max(10)),
            ));
            Some(SqliteWriter {
                turn: Arc::new(Mutex::new(())),
                conn: connect(1).await?,
            })
        } else {
            None
        };
        Ok(Self {
            conn,
            sqlite_writer,
            outbox_written: Arc::new(Notify::new()),
            commit_hooks: Arc::default(),
            one_connection: options(1),
            metrics,
        })
    }

    /// A connection of its own for a task that runs on a runtime of its own: a PostgreSQL
    /// connection belongs to the runtime that opened it, so the shared pool's cannot serve
    /// such a task. `None` on SQLite, whose one writer serves every runtime.
    pub async fn own_writer(&self) -> Result<Option<DatabaseConnection>, DbErr> {
        if self.sqlite_writer.is_some() {
            return Ok(None);
        }
        let conn = connect_counted(self.one_connection.clone(), self.metrics.clone()).await?;
        Ok(Some(conn))
    }

    pub fn on_commit(&self, hook: CommitHook) {
        self.commit_hooks.write().push(hook);
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// The pool, for reads outside a transaction.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_written.clone()
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        self.begin_write_on(None).await
    }

    /// Starts a write transaction on `own`, a connection from `own_writer`, if there is one.
    pub async fn begin_write_on(&self, own: Option<&DatabaseConnection>) -> Result<WriteTx, DbErr> {
        let (tx, guard) = match (&self.sqlite_writer, own) {
            (_, Some(own)) => (own.begin().await?, None),
            (Some(writer), None) => {
                let turn = writer.turn.clone().lock_owned().await;
                let tx = writer
                    .conn
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await?;
                (tx, Some(turn))
            }
            (None, None) => (self.conn.begin().await?, None),
        };
        Ok(WriteTx {
            tx,
            _writer: guard,
            queued_events: parking_lot::Mutex::new(Vec::new()),
            gates: parking_lot::Mutex::new(Vec::new()),
            outbox_written: self.outbox_written.clone(),
            commit_hooks: self.commit_hooks.clone(),
        })
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// `(size, idle)` of the connection pool, for `/metrics`.
    pub fn pool_state(&self) -> (u32, usize) {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DatabaseBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        }
    }

    pub async fn close(self) {
        if let Some(writer) = self.sqlite_writer {
            let _ = writer.conn.close().await;
        }
        let _ = self.conn.close().await;
    }
}

/// Opens a pool with `options`, counting its statements in `metrics`.
async fn connect_counted(
    options: ConnectOptions,
    metrics: Arc<Metrics>,
) -> Result<DatabaseConnection, DbErr> {
    let mut conn = Database::connect(options).await?;
    conn.set_metric_callback(move |info| {
        RequestScope::count_statement();
        metrics.record_db_statement(info.failed);
    });
    Ok(conn)
}

/// How many connections SQLite reads get by default: twice the cores, from 4 to 8. Reads of a
/// file in the page cache are CPU work, so more connections than that only wait, and each
/// costs a worker thread, a page cache of up to 2 MB and, with glibc, often a malloc arena
/// (on 2 cores, 8 readers measured 20 MB more RSS than 4 after the catalogue benchmark, at the
/// same throughput).
fn sqlite_readers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    (2 * cores).clamp(4, 8)
}

/// Copies SQLite's write-ahead log into the database file every `every`, until the pool
/// closes. SQLite would otherwise do it in the commit that grows the log past 1,000 pages:
/// under the write lock, so every writer behind that commit waited for the copy and its fsync.
/// A passive checkpoint never blocks readers or the writer.
async fn checkpoint_sqlite(conn: DatabaseConnection, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if conn.get_sqlite_connection_pool().is_closed() {
            return;
        }
        if let Err(e) = conn
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed");
        }
    }
}

/// A write transaction. Dereferences to the sea-orm transaction, so it is passed wherever a
/// `ConnectionTrait` is expected. Dropping it without `commit` rolls back.
pub struct WriteTx {
    tx: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    /// Events appended so far, written to the outbox by `commit`.
    queued_events: parking_lot::Mutex<Vec<NewEvent>>,
    /// Turns taken for this transaction (e.g. `inventory::gates`), given back after it ends.
    gates: parking_lot::Mutex<Vec<OwnedMutexGuard<()>>>,
    outbox_written: Arc<Notify>,
    commit_hooks: Arc<parking_lot::RwLock<Vec<CommitHook>>>,
}

impl WriteTx {
    pub(crate) fn queue_event(&self, event: NewEvent) {
        self.queued_events.lock().push(event);
    }

    /// Keeps `guards` until the transaction has committed or rolled back.
    pub fn hold_until_end(&self, guards: impl IntoIterator<Item = OwnedMutexGuard<()>>) {
        self.gates.lock().extend(guards);
    }

    /// `select`, locking the rows it reads until this transaction ends, so that writers of the
    /// same rows take turns instead of racing to a unique key or an overwritten update
    /// (`FOR UPDATE` on PostgreSQL; on SQLite writers take turns already).
    pub fn locking<E: EntityTrait>(&self, select: Select<E>) -> Select<E> {
        if self.tx.get_database_backend() == DatabaseBackend::Postgres {
            select.lock_exclusive()
        } else {
            select
        }
    }

    /// Marks where the first item of a group written in this transaction begins
    /// (`SAVEPOINT`), so that a refused item can be undone alone: its writes and the events it
    /// appended. After each item, `keep` or `undo` moves the mark to where the next begins.
    pub async fn savepoint(&self) -> Result<Savepoint, DbErr> {
        self.tx
            .execute_unprepared(&format!("SAVEPOINT {SAVEPOINT}"))
            .await?;
        Ok(Savepoint {
            events: self.queued_events.lock().len(),
        })
    }

    /// Keeps what was written since the mark and moves it here, in one statement.
    pub async fn keep(&self, savepoint: &mut Savepoint) -> Result<(), DbErr> {
        self.tx
            .execute_unprepared(&format!(
                "RELEASE SAVEPOINT {SAVEPOINT}; SAVEPOINT {SAVEPOINT}"
            ))
            .await?;
        savepoint.events = self.queued_events.lock().len();
        Ok(())
    }

    /// Undoes what was written and appended since the mark, which stays where it is (a
    /// rolled-back-to savepoint remains, on both databases); the transaction goes on.
    pub async fn undo(&self, savepoint: &Savepoint) -> Result<(), DbErr> {
        self.tx
            .execute_unprepared(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
            .await?;
        self.queued_events.lock().truncate(savepoint.events);
        Ok(())
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        let WriteTx {
            tx,
            _writer: writer,
            queued_events,
            gates,
            outbox_written,
            commit_hooks,
        } = self;
        let events = crate::events::write_outbox(&tx, queued_events.into_inner()).await?;
        tx.commit().await?;
        drop(gates);
        if !events.is_empty() {
            outbox_written.notify_one();
            for hook in commit_hooks.read().iter() {
                hook(&events);
            }
        }
        // Held until the hooks ran, so the next writer never reads a cache that has not yet
        // heard of this commit.
        drop(writer);
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.tx.rollback().await
    }
}

/// The one savepoint name: items of a group are written one after another, never nested.
const SAVEPOINT: &str = "group_item";

/// Where the current item of a group began in a `WriteTx`.
pub struct Savepoint {
    /// How many events the transaction had appended before the item.
    events: usize,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let opts = SqliteConnectOptions::from_str(url)?;
    if let Some(dir) = opts.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// True when the error is a unique-constraint violation (a race lost to another writer).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Runs a statement text on either backend (used by the rare hand-written SQL).
pub fn stmt(
    backend: DatabaseBackend,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

pub async fn exec(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Result<sea_orm::ExecResult, DbErr> {
    conn.execute_raw(stmt(conn.get_database_backend(), sql, values))
        .await
}

/// Runs `statements`, whose results are not needed, in order; the first that fails stops the
/// rest and is the error. On SQLite they go as one text: one round trip to the connection's
/// worker thread instead of one each, and a write transaction holds SQLite's one write lock
/// through every round trip. sqlx runs the statements of a text one after another and numbers
/// positional `?` parameters across them, so each statement keeps its own `?` (as sea-query
/// writes them). PostgreSQL prepares one statement at a time: there they run one after another.
pub async fn execute_all(
    conn: &impl ConnectionTrait,
    statements: Vec<sea_orm::Statement>,
) -> Result<(), DbErr> {
    if conn.get_database_backend() != DatabaseBackend::Sqlite {
        for statement in statements {
            conn.execute_raw(statement).await?;
        }
        return Ok(());
    }
    conn.execute_raw(one_text(statements)).await?;
    Ok(())
}

/// Runs `statements`, each of which returns exactly one row, and returns the rows in order: on
/// SQLite in one call, as `execute_all` does.
pub async fn query_one_each(
    conn: &impl ConnectionTrait,
    statements: Vec<sea_orm::Statement>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let expected = statements.len();
    let rows = if conn.get_database_backend() != DatabaseBackend::Sqlite {
        let mut rows = Vec::with_capacity(expected);
        for statement in statements {
            rows.extend(conn.query_one_raw(statement).await?);
        }
        rows
    } else {
        conn.query_all_raw(one_text(statements)).await?
    };
    if rows.len() != expected {
        return Err(DbErr::Custom(format!(
            "{expected} statements returned {} rows, not one each",
            rows.len()
        )));
    }
    Ok(rows)
}

/// Runs `writes` as `execute_all` does, then `query`, and returns the rows of `query`: on
/// SQLite all in one call (only `query` returns rows).
pub async fn execute_all_then_query(
    conn: &impl ConnectionTrait,
    mut writes: Vec<sea_orm::Statement>,
    query: sea_orm::Statement,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    if conn.get_database_backend() != DatabaseBackend::Sqlite {
        execute_all(conn, writes).await?;
        return conn.query_all_raw(query).await;
    }
    writes.push(query);
    conn.query_all_raw(one_text(writes)).await
}

/// SQLite statements as one text, their parameters in order.
fn one_text(statements: Vec<sea_orm::Statement>) -> sea_orm::Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&statement.sql);
        values.extend(statement.values.into_iter().flat_map(|v| v.0));
    }
    stmt(DatabaseBackend::Sqlite, &sql, values)
}

/// Writes `value` under `key` in `system_settings` (insert or replace).
pub async fn put_setting(
    conn: &impl ConnectionTrait,
    key: &str,
    value: String,
) -> Result<(), DbErr> {
    use entity::system_setting;
    use sea_orm::{EntityTrait, Set, sea_query::OnConflict};
    system_setting::Entity::insert(system_setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value),
        updated_at: Set(chrono::Utc::now()),
    })
    .on_conflict(
        OnConflict::column(system_setting::Column::Key)
            .update_columns([
                system_setting::Column::Value,
                system_setting::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is committed reaches the database file by the background checkpoint alone: the
    /// 2 MB written here is under the 1,000 pages after which a commit would do it itself.
    #[tokio::test]
    async fn the_write_ahead_log_is_checkpointed_in_the_background() {
        let dir = std::env::temp_dir().join(format!(
            "distmall-checkpoint-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let file = dir.join("db.sqlite");
        let config = Config {
            database_url: format!("sqlite://{}?mode=rwc", file.display()),
            sqlite_checkpoint_interval_ms: 50,
            ..Config::default()
        };
        let db = Db::connect(&config, Arc::default()).await.unwrap();
        let conn = db.conn();
        conn.execute_unprepared("CREATE TABLE blobs (b BLOB)")
            .await
            .unwrap();
        conn.execute_unprepared("INSERT INTO blobs VALUES (zeroblob(2000000))")
            .await
            .unwrap();
        let mut size = 0;
        for _ in 0..200 {
            size = std::fs::metadata(&file).unwrap().len();
            if size >= 2_000_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(size >= 2_000_000, "the database file is {size} bytes");
    }
}
