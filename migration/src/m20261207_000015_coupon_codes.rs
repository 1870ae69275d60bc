//! Redeem codes (issue 19): one-time codes that give a coupon of a template, for offline
//! channels. Only a hash of each code is kept; the codes themselves are shown once, when staff
//! generate them.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CouponCodes {
    Table,
    CodeHash,
    TemplateId,
    RedeemedBy,
    RedeemedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CouponCodes::Table)
                // SHA-256 of the normalised code, hex.
                .col(string_len(CouponCodes::CodeHash, 64).primary_key())
                .col(big_integer(CouponCodes::TemplateId))
                .col(big_integer_null(CouponCodes::RedeemedBy))
                .col(timestamp_with_time_zone_null(CouponCodes::RedeemedAt))
                .col(timestamp_with_time_zone(CouponCodes::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_coupon_codes_template")
                .table(CouponCodes::Table)
                .col(CouponCodes::TemplateId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CouponCodes::Table).to_owned())
            .await
    }
}
