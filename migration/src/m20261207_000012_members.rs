//! Members (issue 18): the level ladder with each level's benefits, every member's growth and
//! level, the growth ledger (what each order gave and each refund took back), the history of
//! level changes (who, why), and one row per yearly review so that it runs once a year across
//! instances. The four seed levels are created here, so a fresh shop has them.
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MemberLevels {
    Table,
    Id,
    Name,
    BadgeName,
    GrowthThreshold,
    PriceRateBp,
    FreeShipping,
    EarlyAccessHours,
    BirthdayPoints,
    PointsMultiplierPct,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    UserId,
    Growth,
    LevelId,
    LevelChangedAt,
    SpentFen,
    OrdersCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    MemberDiscountFen,
}

#[derive(DeriveIden)]
enum MemberGrowthEntries {
    Table,
    Id,
    UserId,
    Delta,
    SpendFen,
    GrowthAfter,
    Kind,
    OrderId,
    RefundNo,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberLevelChanges {
    Table,
    Id,
    UserId,
    FromLevelId,
    ToLevelId,
    Growth,
    Cause,
    Reason,
    ActorUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberReviews {
    Table,
    Id,
    Year,
    Lowered,
    CreatedAt,
}

/// 普通, 银卡, 金卡, 钻石 at 0 / 1,000 / 5,000 / 20,000 growth, paying 100 / 98 / 95 / 90 %
/// of the price. Written with a fixed time: the text is read back the same on both databases.
const SEED_LEVELS: &str = "INSERT INTO member_levels \
    (name, badge_name, growth_threshold, price_rate_bp, free_shipping, early_access_hours, \
     birthday_points, points_multiplier_pct, created_at, updated_at) VALUES \
    ('普通', '普通会员', 0, 10000, FALSE, 0, 0, 100, '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00'), \
    ('银卡', '银卡会员', 1000, 9800, FALSE, 0, 0, 100, '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00'), \
    ('金卡', '金卡会员', 5000, 9500, FALSE, 0, 0, 100, '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00'), \
    ('钻石', '钻石会员', 20000, 9000, FALSE, 0, 0, 100, '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Thresholds are unique: the ladder is ordered by them.
        m.create_table(
            Table::create()
                .table(MemberLevels::Table)
                .col(big_pk_auto(MemberLevels::Id))
                .col(string_len(MemberLevels::Name, 32).unique_key())
                .col(string_len(MemberLevels::BadgeName, 32))
                .col(big_integer(MemberLevels::GrowthThreshold).unique_key())
                // Hundredths of a percent of the price a member pays: 9500 is 95.00 %.
                .col(integer(MemberLevels::PriceRateBp))
                .col(boolean(MemberLevels::FreeShipping).default(false))
                .col(integer(MemberLevels::EarlyAccessHours).default(0))
                .col(big_integer(MemberLevels::BirthdayPoints).default(0))
                // Percent: 150 multiplies points earned by 1.5.
                .col(integer(MemberLevels::PointsMultiplierPct).default(100))
                .col(timestamp_with_time_zone(MemberLevels::CreatedAt))
                .col(timestamp_with_time_zone(MemberLevels::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.get_connection().execute_unprepared(SEED_LEVELS).await?;

        // A user has a row once their growth or level was first written; before that they hold
        // the level of no growth.
        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(big_integer(Members::UserId).primary_key())
                .col(big_integer(Members::Growth).default(0))
                .col(big_integer_null(Members::LevelId))
                .col(timestamp_with_time_zone_null(Members::LevelChangedAt))
                // Goods money paid net of refunds, and paid orders not wholly refunded.
                .col(big_integer(Members::SpentFen).default(0))
                .col(big_integer(Members::OrdersCount).default(0))
                .col(timestamp_with_time_zone(Members::CreatedAt))
                .col(timestamp_with_time_zone(Members::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Members::Table, Members::UserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_members_level",
            Members::Table,
            &["level_id", "user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberGrowthEntries::Table)
                .col(big_pk_auto(MemberGrowthEntries::Id))
                .col(big_integer(MemberGrowthEntries::UserId))
                .col(big_integer(MemberGrowthEntries::Delta))
                // The goods money behind the change (negative for a refund).
                .col(big_integer(MemberGrowthEntries::SpendFen))
                .col(big_integer(MemberGrowthEntries::GrowthAfter))
                .col(string_len(MemberGrowthEntries::Kind, 16))
                .col(big_integer_null(MemberGrowthEntries::OrderId))
                .col(string_len_null(MemberGrowthEntries::RefundNo, 40))
                .col(timestamp_with_time_zone(MemberGrowthEntries::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_member_growth_entries_user",
            MemberGrowthEntries::Table,
            &["user_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_member_growth_entries_order",
            MemberGrowthEntries::Table,
            &["order_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberLevelChanges::Table)
                .col(big_pk_auto(MemberLevelChanges::Id))
                .col(big_integer(MemberLevelChanges::UserId))
                .col(big_integer_null(MemberLevelChanges::FromLevelId))
                .col(big_integer_null(MemberLevelChanges::ToLevelId))
                .col(big_integer(MemberLevelChanges::Growth))
                .col(string_len(MemberLevelChanges::Cause, 16))
                .col(string_len_null(MemberLevelChanges::Reason, 200))
                .col(big_integer_null(MemberLevelChanges::ActorUserId))
                .col(timestamp_with_time_zone(MemberLevelChanges::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_member_level_changes_user",
            MemberLevelChanges::Table,
            &["user_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberReviews::Table)
                .col(big_pk_auto(MemberReviews::Id))
                .col(integer(MemberReviews::Year).unique_key())
                .col(big_integer(MemberReviews::Lowered).default(0))
                .col(timestamp_with_time_zone(MemberReviews::CreatedAt))
                .to_owned(),
        )
        .await?;

        // The member price's part of each line's discount (the rest of `discount_fen` is
        // promotions, coupons and points).
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .add_column(big_integer(OrderLines::MemberDiscountFen).default(0))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OrderLines::Table)
                .drop_column(OrderLines::MemberDiscountFen)
                .to_owned(),
        )
        .await?;
        for table in [
            MemberReviews::Table.into_iden(),
            MemberLevelChanges::Table.into_iden(),
            MemberGrowthEntries::Table.into_iden(),
            Members::Table.into_iden(),
            MemberLevels::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
