//! A revision number on each order that the database raises on every change to the order or
//! to one of its lines. Readers keep decoded orders in memory and ask the database only for
//! `(id, revision)` to know whether what they hold is still current. Triggers raise it, so no
//! write path, present or future, can forget to.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Revision,
}

const SQLITE_UP: &[&str] = &[
    // SQLite triggers cannot change the row being written, so the order is updated once more;
    // the condition stops the trigger from firing on its own update (and on a writer that
    // raises the revision itself).
    "CREATE TRIGGER orders_revision AFTER UPDATE ON orders FOR EACH ROW \
     WHEN NEW.revision = OLD.revision \
     BEGIN UPDATE orders SET revision = OLD.revision + 1 WHERE id = NEW.id; END",
    "CREATE TRIGGER order_lines_revision AFTER UPDATE ON order_lines FOR EACH ROW \
     BEGIN UPDATE orders SET revision = revision + 1 WHERE id = NEW.order_id; END",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION orders_revision() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN IF NEW.revision = OLD.revision THEN NEW.revision := OLD.revision + 1; END IF; \
     RETURN NEW; END $$",
    "CREATE TRIGGER orders_revision BEFORE UPDATE ON orders FOR EACH ROW \
     EXECUTE FUNCTION orders_revision()",
    "CREATE FUNCTION order_lines_revision() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN UPDATE orders SET revision = revision + 1 WHERE id = NEW.order_id; RETURN NULL; END $$",
    "CREATE TRIGGER order_lines_revision AFTER UPDATE ON order_lines FOR EACH ROW \
     EXECUTE FUNCTION order_lines_revision()",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS order_lines_revision",
    "DROP TRIGGER IF EXISTS orders_revision",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS order_lines_revision ON order_lines",
    "DROP FUNCTION IF EXISTS order_lines_revision()",
    "DROP TRIGGER IF EXISTS orders_revision ON orders",
    "DROP FUNCTION IF EXISTS orders_revision()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .add_column(big_integer(Orders::Revision).default(0))
                .to_owned(),
        )
        .await?;
        crate::run_per_backend(m, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(m, SQLITE_DOWN, POSTGRES_DOWN).await?;
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .drop_column(Orders::Revision)
                .to_owned(),
        )
        .await
    }
}
