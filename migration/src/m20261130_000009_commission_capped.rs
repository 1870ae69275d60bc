//! Whether a commission record was cut by the cap: a line never pays more commission, over all
//! its tiers, than its base (what it paid, or its profit).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Commissions {
    Table,
    Capped,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Commissions::Table)
                .add_column(boolean(Commissions::Capped).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Commissions::Table)
                .drop_column(Commissions::Capped)
                .to_owned(),
        )
        .await
    }
}
