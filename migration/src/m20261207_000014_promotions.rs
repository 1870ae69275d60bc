//! Promotions (issue 19): coupon templates (what a coupon gives, to what, to whom, for how long,
//! how many), the coupons users hold (one row each, used by at most one order), a counter per
//! user and template that keeps the per-user limit under concurrent claims, 满减 activities,
//! and the coupon an order used (what each line was given by whom is in the order's `pricing`).
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
enum Orders {
    Table,
    CouponId,
}

#[derive(DeriveIden)]
enum CouponTemplates {
    Table,
    Id,
    Name,
    Benefit,
    ThresholdFen,
    AmountFen,
    RateBp,
    CapFen,
    Scope,
    ScopeIds,
    Audience,
    AudienceIds,
    ValidFrom,
    ValidUntil,
    ValidDays,
    TotalQuantity,
    IssuedCount,
    PerUserLimit,
    StacksWithActivities,
    Claimable,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Coupons {
    Table,
    Id,
    TemplateId,
    UserId,
    Status,
    Source,
    ValidFrom,
    ValidUntil,
    OrderId,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CouponClaims {
    Table,
    TemplateId,
    UserId,
    Claimed,
}

#[derive(DeriveIden)]
enum PromotionActivities {
    Table,
    Id,
    Name,
    Kind,
    Rule,
    Scope,
    ScopeIds,
    LevelIds,
    StartsAt,
    EndsAt,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CouponTemplates::Table)
                .col(big_pk_auto(CouponTemplates::Id))
                .col(string_len(CouponTemplates::Name, 40))
                // AMOUNT_OFF, PERCENT_OFF, FREE_SHIPPING.
                .col(string_len(CouponTemplates::Benefit, 16))
                .col(big_integer(CouponTemplates::ThresholdFen).default(0))
                .col(big_integer(CouponTemplates::AmountFen).default(0))
                // The share of the price paid, hundredths of a percent (8.5折: 8500).
                .col(integer(CouponTemplates::RateBp).default(10000))
                .col(big_integer_null(CouponTemplates::CapFen))
                // SHOP, CATEGORIES, PRODUCTS, ALL_EXCEPT; the ids as a JSON array.
                .col(string_len(CouponTemplates::Scope, 16))
                .col(text(CouponTemplates::ScopeIds))
                // ANYONE, NEW_USERS, LEVELS; the level ids as a JSON array.
                .col(string_len(CouponTemplates::Audience, 16))
                .col(text(CouponTemplates::AudienceIds))
                // A fixed window, or `valid_days` from claiming.
                .col(timestamp_with_time_zone_null(CouponTemplates::ValidFrom))
                .col(timestamp_with_time_zone_null(CouponTemplates::ValidUntil))
                .col(integer_null(CouponTemplates::ValidDays))
                .col(big_integer(CouponTemplates::TotalQuantity))
                .col(big_integer(CouponTemplates::IssuedCount).default(0))
                .col(integer(CouponTemplates::PerUserLimit).default(1))
                .col(boolean(CouponTemplates::StacksWithActivities).default(true))
                .col(boolean(CouponTemplates::Claimable).default(true))
                // ACTIVE, STOPPED.
                .col(string_len(CouponTemplates::Status, 16))
                .col(timestamp_with_time_zone(CouponTemplates::CreatedAt))
                .col(timestamp_with_time_zone(CouponTemplates::UpdatedAt))
                .check(
                    Expr::col(CouponTemplates::IssuedCount)
                        .lte(Expr::col(CouponTemplates::TotalQuantity)),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Coupons::Table)
                .col(big_pk_auto(Coupons::Id))
                .col(big_integer(Coupons::TemplateId))
                .col(big_integer(Coupons::UserId))
                // AVAILABLE, USED (expiry is read from `valid_until`).
                .col(string_len(Coupons::Status, 16))
                // CLAIMED, ISSUED.
                .col(string_len(Coupons::Source, 16))
                .col(timestamp_with_time_zone(Coupons::ValidFrom))
                .col(timestamp_with_time_zone(Coupons::ValidUntil))
                .col(big_integer_null(Coupons::OrderId))
                .col(timestamp_with_time_zone_null(Coupons::UsedAt))
                .col(timestamp_with_time_zone(Coupons::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Coupons::Table, Coupons::TemplateId)
                        .to(CouponTemplates::Table, CouponTemplates::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Coupons::Table, Coupons::UserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_coupons_user",
            Coupons::Table,
            &["user_id", "status", "valid_until"],
        ))
        .await?;
        m.create_index(index("idx_coupons_order", Coupons::Table, &["order_id"]))
            .await?;
        m.create_index(index(
            "idx_coupons_template",
            Coupons::Table,
            &["template_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CouponClaims::Table)
                .col(big_integer(CouponClaims::TemplateId))
                .col(big_integer(CouponClaims::UserId))
                .col(integer(CouponClaims::Claimed))
                .primary_key(
                    Index::create()
                        .col(CouponClaims::TemplateId)
                        .col(CouponClaims::UserId),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PromotionActivities::Table)
                .col(big_pk_auto(PromotionActivities::Id))
                .col(string_len(PromotionActivities::Name, 40))
                // FULL_REDUCTION.
                .col(string_len(PromotionActivities::Kind, 16))
                // The tiers as JSON.
                .col(text(PromotionActivities::Rule))
                .col(string_len(PromotionActivities::Scope, 16))
                .col(text(PromotionActivities::ScopeIds))
                // Empty: every buyer; else only members of these levels.
                .col(text(PromotionActivities::LevelIds))
                .col(timestamp_with_time_zone(PromotionActivities::StartsAt))
                .col(timestamp_with_time_zone(PromotionActivities::EndsAt))
                .col(boolean(PromotionActivities::Active).default(true))
                .col(timestamp_with_time_zone(PromotionActivities::CreatedAt))
                .col(timestamp_with_time_zone(PromotionActivities::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_promotion_activities_window",
            PromotionActivities::Table,
            &["active", "ends_at"],
        ))
        .await?;

        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .add_column(big_integer_null(Orders::CouponId))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .drop_column(Orders::CouponId)
                .to_owned(),
        )
        .await?;
        for t in [
            PromotionActivities::Table.into_iden(),
            CouponClaims::Table.into_iden(),
            Coupons::Table.into_iden(),
            CouponTemplates::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
