//! Catalog and inventory: categories, brands, audiences, products with specs, SKUs and images,
//! the stock ledger, low-stock alerts, the e-mail outbox, job leases, search keyword counts and
//! idempotency keys. Money is integer fen.
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    ParentId,
    Name,
    SortOrder,
    SafetyStock,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Brands {
    Table,
    Id,
    Name,
    LogoUrl,
    SortOrder,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Audiences {
    Table,
    Id,
    Name,
    SortOrder,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    Name,
    Subtitle,
    DescriptionHtml,
    DescriptionText,
    CategoryId,
    BrandId,
    Status,
    SortWeight,
    SafetyStock,
    ScheduledOnSaleAt,
    ScheduledOffSaleAt,
    Sales,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductAudiences {
    Table,
    ProductId,
    AudienceId,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    Id,
    ProductId,
    StorageKey,
    Url,
    ContentType,
    Width,
    Height,
    Bytes,
    SortOrder,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductSpecs {
    Table,
    Id,
    ProductId,
    Name,
    Values,
    SortOrder,
}

#[derive(DeriveIden)]
enum Skus {
    Table,
    Id,
    ProductId,
    Code,
    SpecValues,
    SpecKey,
    PriceFen,
    MarketPriceFen,
    CostPriceFen,
    Stock,
    SafetyStock,
    WeightGrams,
    Barcode,
    Active,
    LowStockAlerted,
    Sales,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StockMovements {
    Table,
    Id,
    SkuId,
    ProductId,
    Reason,
    Reference,
    Delta,
    BalanceAfter,
    ActorUserId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LowStockAlerts {
    Table,
    Id,
    SkuId,
    ProductId,
    Stock,
    Threshold,
    CreatedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Recipients,
    Subject,
    Body,
    Status,
    Attempts,
    LastError,
    NextAttemptAt,
    ClaimedUntil,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SearchKeywordDaily {
    Table,
    Keyword,
    Day,
    Count,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    UserId,
    RequestHash,
    Response,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Categories::Table)
                .col(big_pk_auto(Categories::Id))
                .col(big_integer_null(Categories::ParentId))
                .col(string_len(Categories::Name, 64))
                .col(integer(Categories::SortOrder).default(0))
                .col(integer_null(Categories::SafetyStock))
                .col(timestamp_with_time_zone(Categories::CreatedAt))
                .col(timestamp_with_time_zone(Categories::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Categories::Table, Categories::ParentId)
                        .to(Categories::Table, Categories::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_categories_parent",
            Categories::Table,
            &["parent_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Brands::Table)
                .col(big_pk_auto(Brands::Id))
                .col(string_len(Brands::Name, 64).unique_key())
                .col(string_null(Brands::LogoUrl))
                .col(integer(Brands::SortOrder).default(0))
                .col(timestamp_with_time_zone(Brands::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Audiences::Table)
                .col(big_pk_auto(Audiences::Id))
                .col(string_len(Audiences::Name, 32).unique_key())
                .col(integer(Audiences::SortOrder).default(0))
                .col(timestamp_with_time_zone(Audiences::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Products::Table)
                .col(big_pk_auto(Products::Id))
                .col(string_len(Products::Name, 120))
                .col(string_len(Products::Subtitle, 200).default(""))
                .col(text(Products::DescriptionHtml))
                .col(text(Products::DescriptionText))
                .col(big_integer_null(Products::CategoryId))
                .col(big_integer_null(Products::BrandId))
                .col(string_len(Products::Status, 16))
                .col(integer(Products::SortWeight).default(0))
                .col(integer_null(Products::SafetyStock))
                .col(timestamp_with_time_zone_null(Products::ScheduledOnSaleAt))
                .col(timestamp_with_time_zone_null(Products::ScheduledOffSaleAt))
                .col(big_integer(Products::Sales).default(0))
                .col(timestamp_with_time_zone_null(Products::PublishedAt))
                .col(timestamp_with_time_zone(Products::CreatedAt))
                .col(timestamp_with_time_zone(Products::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Products::Table, Products::CategoryId)
                        .to(Categories::Table, Categories::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Products::Table, Products::BrandId)
                        .to(Brands::Table, Brands::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_products_category",
            Products::Table,
            &["category_id"],
        ))
        .await?;
        m.create_index(index("idx_products_brand", Products::Table, &["brand_id"]))
            .await?;
        m.create_index(index("idx_products_status", Products::Table, &["status"]))
            .await?;

        m.create_table(
            Table::create()
                .table(ProductAudiences::Table)
                .col(big_integer(ProductAudiences::ProductId))
                .col(big_integer(ProductAudiences::AudienceId))
                .primary_key(
                    Index::create()
                        .col(ProductAudiences::ProductId)
                        .col(ProductAudiences::AudienceId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProductAudiences::Table, ProductAudiences::ProductId)
                        .to(Products::Table, Products::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProductAudiences::Table, ProductAudiences::AudienceId)
                        .to(Audiences::Table, Audiences::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProductImages::Table)
                .col(big_pk_auto(ProductImages::Id))
                .col(big_integer_null(ProductImages::ProductId))
                .col(string_len(ProductImages::StorageKey, 200))
                .col(string_len(ProductImages::Url, 300))
                .col(string_len(ProductImages::ContentType, 32))
                .col(integer(ProductImages::Width))
                .col(integer(ProductImages::Height))
                .col(big_integer(ProductImages::Bytes))
                .col(integer(ProductImages::SortOrder).default(0))
                .col(big_integer_null(ProductImages::CreatedBy))
                .col(timestamp_with_time_zone(ProductImages::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProductImages::Table, ProductImages::ProductId)
                        .to(Products::Table, Products::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_product_images_product",
            ProductImages::Table,
            &["product_id", "sort_order"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ProductSpecs::Table)
                .col(big_pk_auto(ProductSpecs::Id))
                .col(big_integer(ProductSpecs::ProductId))
                .col(string_len(ProductSpecs::Name, 32))
                .col(text(ProductSpecs::Values))
                .col(integer(ProductSpecs::SortOrder).default(0))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProductSpecs::Table, ProductSpecs::ProductId)
                        .to(Products::Table, Products::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_product_specs_product",
            ProductSpecs::Table,
            &["product_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Skus::Table)
                .col(big_pk_auto(Skus::Id))
                .col(big_integer(Skus::ProductId))
                .col(string_len(Skus::Code, 64).unique_key())
                .col(text(Skus::SpecValues))
                .col(string_len(Skus::SpecKey, 300))
                .col(big_integer(Skus::PriceFen))
                .col(big_integer_null(Skus::MarketPriceFen))
                .col(big_integer(Skus::CostPriceFen).default(0))
                .col(big_integer(Skus::Stock).default(0))
                .col(integer_null(Skus::SafetyStock))
                .col(integer(Skus::WeightGrams).default(0))
                .col(string_len_null(Skus::Barcode, 64))
                .col(boolean(Skus::Active).default(true))
                .col(boolean(Skus::LowStockAlerted).default(false))
                .col(big_integer(Skus::Sales).default(0))
                .col(timestamp_with_time_zone(Skus::CreatedAt))
                .col(timestamp_with_time_zone(Skus::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Skus::Table, Skus::ProductId)
                        .to(Products::Table, Products::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_skus_product_spec")
                .table(Skus::Table)
                .col(Skus::ProductId)
                .col(Skus::SpecKey)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StockMovements::Table)
                .col(big_pk_auto(StockMovements::Id))
                .col(big_integer(StockMovements::SkuId))
                .col(big_integer(StockMovements::ProductId))
                .col(string_len(StockMovements::Reason, 16))
                .col(string_len_null(StockMovements::Reference, 64))
                .col(big_integer(StockMovements::Delta))
                .col(big_integer(StockMovements::BalanceAfter))
                .col(big_integer_null(StockMovements::ActorUserId))
                .col(string_len_null(StockMovements::Note, 200))
                .col(timestamp_with_time_zone(StockMovements::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(StockMovements::Table, StockMovements::SkuId)
                        .to(Skus::Table, Skus::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_stock_movements_sku",
            StockMovements::Table,
            &["sku_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_stock_movements_product",
            StockMovements::Table,
            &["product_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_stock_movements_created",
            StockMovements::Table,
            &["created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(LowStockAlerts::Table)
                .col(big_pk_auto(LowStockAlerts::Id))
                .col(big_integer(LowStockAlerts::SkuId))
                .col(big_integer(LowStockAlerts::ProductId))
                .col(big_integer(LowStockAlerts::Stock))
                .col(integer(LowStockAlerts::Threshold))
                .col(timestamp_with_time_zone(LowStockAlerts::CreatedAt))
                .col(timestamp_with_time_zone_null(LowStockAlerts::ResolvedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_low_stock_alerts_sku",
            LowStockAlerts::Table,
            &["sku_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(EmailOutbox::Table)
                .col(big_pk_auto(EmailOutbox::Id))
                .col(text(EmailOutbox::Recipients))
                .col(string_len(EmailOutbox::Subject, 200))
                .col(text(EmailOutbox::Body))
                .col(string_len(EmailOutbox::Status, 16))
                .col(integer(EmailOutbox::Attempts).default(0))
                .col(text_null(EmailOutbox::LastError))
                .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::ClaimedUntil))
                .col(timestamp_with_time_zone(EmailOutbox::CreatedAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_email_outbox_pending",
            EmailOutbox::Table,
            &["status", "next_attempt_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(JobLeases::Table)
                .col(string_len(JobLeases::Name, 64).primary_key())
                .col(string_len(JobLeases::Holder, 64))
                .col(timestamp_with_time_zone(JobLeases::ExpiresAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SearchKeywordDaily::Table)
                .col(string_len(SearchKeywordDaily::Keyword, 64))
                .col(date(SearchKeywordDaily::Day))
                .col(big_integer(SearchKeywordDaily::Count))
                .primary_key(
                    Index::create()
                        .col(SearchKeywordDaily::Keyword)
                        .col(SearchKeywordDaily::Day),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string_len(IdempotencyKeys::Scope, 32))
                .col(string_len(IdempotencyKeys::Key, 100))
                .col(big_integer(IdempotencyKeys::UserId))
                .col(string_len(IdempotencyKeys::RequestHash, 64))
                .col(text(IdempotencyKeys::Response))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::Scope)
                        .col(IdempotencyKeys::UserId)
                        .col(IdempotencyKeys::Key),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
