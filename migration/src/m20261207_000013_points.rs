//! Points (issue 18): an append-only ledger per member with a cached balance and lots (one per
//! member and expiry date, spent oldest first), points earned by orders while they are pending,
//! the tasks that pay once per period (a unique key each), daily sign-ins, the points mall's
//! redeemable SKUs, and the points each order line spent.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    PointsUsed,
}

#[derive(DeriveIden)]
enum PointsAccounts {
    Table,
    UserId,
    Balance,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PointsLots {
    Table,
    UserId,
    ExpiresAt,
    Remaining,
}

#[derive(DeriveIden)]
enum PointsEntries {
    Table,
    Id,
    UserId,
    Kind,
    Delta,
    BalanceAfter,
    LotExpiresAt,
    ReferenceType,
    ReferenceId,
    Note,
    ActorUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsEarnings {
    Table,
    OrderId,
    UserId,
    GoodsFen,
    RefundedGoodsFen,
    PointsPerYuan,
    Multiplier,
    Points,
    Credited,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PointsTaskClaims {
    Table,
    Id,
    UserId,
    Task,
    Period,
    Slot,
    Points,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsSignIns {
    Table,
    UserId,
    Day,
    Streak,
    Points,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsMallItems {
    Table,
    SkuId,
    Points,
    CashFen,
    Active,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

fn to_user(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Users::Table, Users::Id)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .add_column(big_integer(OrderLines::PointsUsed).default(0))
                .to_owned(),
        )
        .await?;

        // The balance, kept equal to the sum of the member's entries by every posting (in the
        // posting's transaction); the row is what concurrent spenders lock.
        m.create_table(
            Table::create()
                .table(PointsAccounts::Table)
                .col(big_integer(PointsAccounts::UserId).primary_key())
                .col(big_integer(PointsAccounts::Balance).default(0))
                .col(timestamp_with_time_zone(PointsAccounts::UpdatedAt))
                .foreign_key(&mut to_user(PointsAccounts::Table, PointsAccounts::UserId))
                .to_owned(),
        )
        .await?;

        // What is left of the points that expire at one moment (never: 9999-12-31), kept equal
        // to the sum of the entries posted to it.
        m.create_table(
            Table::create()
                .table(PointsLots::Table)
                .col(big_integer(PointsLots::UserId))
                .col(timestamp_with_time_zone(PointsLots::ExpiresAt))
                .col(big_integer(PointsLots::Remaining).default(0))
                .primary_key(
                    Index::create()
                        .col(PointsLots::UserId)
                        .col(PointsLots::ExpiresAt),
                )
                .to_owned(),
        )
        .await?;
        // The expiry job reads only lots with points left.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_points_lots_due ON points_lots (expires_at, user_id) \
                 WHERE remaining > 0",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(PointsEntries::Table)
                .col(big_pk_auto(PointsEntries::Id))
                .col(big_integer(PointsEntries::UserId))
                .col(string_len(PointsEntries::Kind, 16))
                .col(big_integer(PointsEntries::Delta))
                .col(big_integer(PointsEntries::BalanceAfter))
                .col(timestamp_with_time_zone(PointsEntries::LotExpiresAt))
                .col(string_len(PointsEntries::ReferenceType, 16))
                .col(big_integer(PointsEntries::ReferenceId))
                .col(string_len_null(PointsEntries::Note, 200))
                .col(big_integer_null(PointsEntries::ActorUserId))
                .col(timestamp_with_time_zone(PointsEntries::CreatedAt))
                .foreign_key(&mut to_user(PointsEntries::Table, PointsEntries::UserId))
                .to_owned(),
        )
        .await?;
        // A member's ledger page, and the reconciliation (sums per member and lot, read from
        // the index alone).
        m.create_index(
            Index::create()
                .name("idx_points_entries_user")
                .table(PointsEntries::Table)
                .col(PointsEntries::UserId)
                .col(PointsEntries::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_points_entries_lot")
                .table(PointsEntries::Table)
                .col(PointsEntries::UserId)
                .col(PointsEntries::LotExpiresAt)
                .col(PointsEntries::Delta)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_points_entries_reference")
                .table(PointsEntries::Table)
                .col(PointsEntries::ReferenceType)
                .col(PointsEntries::ReferenceId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PointsEarnings::Table)
                .col(big_integer(PointsEarnings::OrderId).primary_key())
                .col(big_integer(PointsEarnings::UserId))
                .col(big_integer(PointsEarnings::GoodsFen))
                .col(big_integer(PointsEarnings::RefundedGoodsFen).default(0))
                .col(string_len(PointsEarnings::PointsPerYuan, 32))
                .col(string_len(PointsEarnings::Multiplier, 32))
                .col(big_integer(PointsEarnings::Points))
                .col(big_integer(PointsEarnings::Credited).default(0))
                .col(string_len(PointsEarnings::Status, 16))
                .col(timestamp_with_time_zone(PointsEarnings::CreatedAt))
                .col(timestamp_with_time_zone(PointsEarnings::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_points_earnings_user")
                .table(PointsEarnings::Table)
                .col(PointsEarnings::UserId)
                .col(PointsEarnings::Status)
                .to_owned(),
        )
        .await?;

        // One row per reward a task paid: the unique key makes "once per period" hold under
        // concurrent requests on every instance.
        m.create_table(
            Table::create()
                .table(PointsTaskClaims::Table)
                .col(big_pk_auto(PointsTaskClaims::Id))
                .col(big_integer(PointsTaskClaims::UserId))
                .col(string_len(PointsTaskClaims::Task, 16))
                .col(string_len(PointsTaskClaims::Period, 16))
                .col(string_len(PointsTaskClaims::Slot, 32))
                .col(big_integer(PointsTaskClaims::Points))
                .col(timestamp_with_time_zone(PointsTaskClaims::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_points_task_claims_key")
                .table(PointsTaskClaims::Table)
                .col(PointsTaskClaims::UserId)
                .col(PointsTaskClaims::Task)
                .col(PointsTaskClaims::Period)
                .col(PointsTaskClaims::Slot)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PointsSignIns::Table)
                .col(big_integer(PointsSignIns::UserId))
                .col(date(PointsSignIns::Day))
                .col(integer(PointsSignIns::Streak))
                .col(big_integer(PointsSignIns::Points))
                .col(timestamp_with_time_zone(PointsSignIns::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(PointsSignIns::UserId)
                        .col(PointsSignIns::Day),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PointsMallItems::Table)
                .col(big_integer(PointsMallItems::SkuId).primary_key())
                .col(big_integer(PointsMallItems::Points))
                .col(big_integer(PointsMallItems::CashFen).default(0))
                .col(boolean(PointsMallItems::Active))
                .col(big_integer_null(PointsMallItems::UpdatedBy))
                .col(timestamp_with_time_zone(PointsMallItems::CreatedAt))
                .col(timestamp_with_time_zone(PointsMallItems::UpdatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PointsMallItems::Table.into_iden(),
            PointsSignIns::Table.into_iden(),
            PointsTaskClaims::Table.into_iden(),
            PointsEarnings::Table.into_iden(),
            PointsEntries::Table.into_iden(),
            PointsLots::Table.into_iden(),
            PointsAccounts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .drop_column(OrderLines::PointsUsed)
                .to_owned(),
        )
        .await
    }
}
