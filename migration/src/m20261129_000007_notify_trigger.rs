//! On PostgreSQL, listening instances are told of new events by the insert into the outbox
//! itself (a statement trigger), not by a separate `NOTIFY` round trip from every writer: the
//! notification is still delivered when, and only if, the transaction commits. SQLite has no
//! notifications (instances there poll).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE FUNCTION domain_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN PERFORM pg_notify('distmall_events', ''); RETURN NULL; END $$",
    "CREATE TRIGGER domain_events_notify AFTER INSERT ON domain_events \
     FOR EACH STATEMENT EXECUTE FUNCTION domain_events_notify()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS domain_events_notify ON domain_events",
    "DROP FUNCTION IF EXISTS domain_events_notify()",
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
