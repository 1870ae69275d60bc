//! A revision number on each user that the database raises on every change to the user, as
//! orders have (`m20261129_000006`): order lists read their buyers' revisions with the page and
//! take the buyers from memory while those still match.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Revision,
}

const SQLITE_UP: &[&str] = &[
    // As for orders: SQLite triggers cannot change the row being written, so the user is
    // updated once more, and the condition stops the trigger from firing on its own update.
    "CREATE TRIGGER users_revision AFTER UPDATE ON users FOR EACH ROW \
     WHEN NEW.revision = OLD.revision \
     BEGIN UPDATE users SET revision = OLD.revision + 1 WHERE id = NEW.id; END",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION users_revision() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN IF NEW.revision = OLD.revision THEN NEW.revision := OLD.revision + 1; END IF; \
     RETURN NEW; END $$",
    "CREATE TRIGGER users_revision BEFORE UPDATE ON users FOR EACH ROW \
     EXECUTE FUNCTION users_revision()",
];

const SQLITE_DOWN: &[&str] = &["DROP TRIGGER IF EXISTS users_revision"];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_revision ON users",
    "DROP FUNCTION IF EXISTS users_revision()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(big_integer(Users::Revision).default(0))
                .to_owned(),
        )
        .await?;
        crate::run_per_backend(m, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(m, SQLITE_DOWN, POSTGRES_DOWN).await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::Revision)
                .to_owned(),
        )
        .await
    }
}
