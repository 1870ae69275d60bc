//! Sharing (issue 20): a share is one user's link to one product, group or the shop for one
//! channel, with its funnel counted on it (visits, bindings, orders, sales); `share_opens`
//! remembers which signed-in visitor opened which share, so their paid orders can be credited
//! to it; `share_orders` credits each order to at most one share; `share_templates` holds the
//! copy staff edited (the defaults live in code).
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shares {
    Table,
    Id,
    Code,
    SharerUserId,
    Target,
    TargetId,
    Channel,
    Visits,
    Bindings,
    Orders,
    SalesFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ShareOpens {
    Table,
    Id,
    ShareId,
    VisitorUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ShareOrders {
    Table,
    OrderId,
    ShareId,
    AmountFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ShareTemplates {
    Table,
    Target,
    Channel,
    Template,
    UpdatedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Shares::Table)
                .col(big_pk_auto(Shares::Id))
                .col(string_len(Shares::Code, 16).unique_key())
                .col(big_integer(Shares::SharerUserId))
                // PRODUCT, GROUP, SHOP.
                .col(string_len(Shares::Target, 16))
                // The product or group; 0 for the shop (NULL would not be unique).
                .col(big_integer(Shares::TargetId))
                // MOMENTS, CHAT_GROUP, FRIEND.
                .col(string_len(Shares::Channel, 16))
                .col(big_integer(Shares::Visits).default(0))
                .col(big_integer(Shares::Bindings).default(0))
                .col(big_integer(Shares::Orders).default(0))
                .col(big_integer(Shares::SalesFen).default(0))
                .col(timestamp_with_time_zone(Shares::CreatedAt))
                .to_owned(),
        )
        .await?;
        // Asking twice for the same share gives the same link (and the same cached poster).
        m.create_index(
            index(
                "ux_shares_sharer_target",
                Shares::Table,
                &["sharer_user_id", "target", "target_id", "channel"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ShareOpens::Table)
                .col(big_pk_auto(ShareOpens::Id))
                .col(big_integer(ShareOpens::ShareId))
                .col(big_integer(ShareOpens::VisitorUserId))
                .col(timestamp_with_time_zone(ShareOpens::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_share_opens_visitor",
            ShareOpens::Table,
            &["visitor_user_id", "created_at"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(ShareOrders::Table)
                .col(big_integer(ShareOrders::OrderId).primary_key())
                .col(big_integer(ShareOrders::ShareId))
                .col(big_integer(ShareOrders::AmountFen))
                .col(timestamp_with_time_zone(ShareOrders::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ShareTemplates::Table)
                .col(string_len(ShareTemplates::Target, 16))
                .col(string_len(ShareTemplates::Channel, 16))
                .col(text(ShareTemplates::Template))
                .col(big_integer_null(ShareTemplates::UpdatedBy))
                .col(timestamp_with_time_zone(ShareTemplates::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ShareTemplates::Target)
                        .col(ShareTemplates::Channel),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ShareTemplates::Table.into_iden(),
            ShareOrders::Table.into_iden(),
            ShareOpens::Table.into_iden(),
            Shares::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
