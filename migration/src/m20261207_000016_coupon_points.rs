//! Coupons exchanged for points (issue 19): a template may name a points price.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CouponTemplates {
    Table,
    PointsPrice,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(CouponTemplates::Table)
                .add_column(big_integer_null(CouponTemplates::PointsPrice))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(CouponTemplates::Table)
                .drop_column(CouponTemplates::PointsPrice)
                .to_owned(),
        )
        .await
    }
}
