//! On PostgreSQL, outbox ids become visible in the order they were taken. Ids come from a
//! sequence and transactions commit in any order, so without this an event could become
//! visible after a later one had been delivered: live subscribers would receive it out of order,
//! and a client resuming after the later one would never see it. A statement trigger takes a
//! transaction-scoped advisory lock *before* the insert draws its ids, and the lock is released
//! only once the transaction has committed (or rolled back) and its rows are visible. So a
//! visible id means every smaller id is settled: visible, or gone for good.
//!
//! The cost is small: inserting into the outbox is the last thing a transaction does before
//! committing, and every such transaction commits in turn anyway (the `NOTIFY` of
//! `m20261129_000007` takes PostgreSQL's commit-ordering lock for notifications).
//!
//! SQLite needs nothing: writers take turns and the rowid of a new row is one past the largest.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `hashtext('distmall.domain_events')` would do as well; a literal is easier to find in
/// `pg_locks` (objid 20261207 in class 0).
const UP: &[&str] = &[
    "CREATE FUNCTION domain_events_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN PERFORM pg_advisory_xact_lock(20261207); RETURN NULL; END $$",
    "CREATE TRIGGER domain_events_commit_order BEFORE INSERT ON domain_events \
     FOR EACH STATEMENT EXECUTE FUNCTION domain_events_commit_order()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS domain_events_commit_order ON domain_events",
    "DROP FUNCTION IF EXISTS domain_events_commit_order()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(m, &[], UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(m, &[], DOWN).await
    }
}
