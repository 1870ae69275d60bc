//! Coupons given automatically (issue 19): a template may be issued on an occasion — a
//! customer's registration (新人券) or birthday — and each occasion gives at most one coupon per
//! template and member (`coupon_grants`, whose key decides it across instances).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CouponTemplates {
    Table,
    IssueOn,
}

#[derive(DeriveIden)]
enum CouponGrants {
    Table,
    TemplateId,
    UserId,
    Occasion,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(CouponTemplates::Table)
                .add_column(string_len_null(CouponTemplates::IssueOn, 16))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CouponGrants::Table)
                .col(big_integer(CouponGrants::TemplateId))
                .col(big_integer(CouponGrants::UserId))
                .col(string_len(CouponGrants::Occasion, 32))
                .col(timestamp_with_time_zone(CouponGrants::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(CouponGrants::TemplateId)
                        .col(CouponGrants::UserId)
                        .col(CouponGrants::Occasion),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CouponGrants::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(CouponTemplates::Table)
                .drop_column(CouponTemplates::IssueOn)
                .to_owned(),
        )
        .await
    }
}
