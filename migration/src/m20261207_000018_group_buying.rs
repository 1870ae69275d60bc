//! Group buying (拼团, issue 20): campaigns (a product's SKUs at a group price, a group size and
//! time limit, a window), the groups launched from them, and the members of each group (one row
//! per order that took a place). A group's `taken` counts the places held by orders (unpaid or
//! paid) and only rises below `size` in a conditional update, so a group never holds more
//! members than its size, whoever tries at once. Orders gain `held_for`: an order that may not
//! be approved or shipped yet (a paid group order waits for its group to fill).
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    HeldFor,
}

#[derive(DeriveIden)]
enum GroupBuyCampaigns {
    Table,
    Id,
    Name,
    ProductId,
    GroupSize,
    TimeLimitHours,
    StartsAt,
    EndsAt,
    PerUserLimit,
    DistributorsMayLaunch,
    ConsumersMayLaunch,
    AutoCompleteMin,
    LeaderDiscountFen,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupBuySkus {
    Table,
    CampaignId,
    SkuId,
    GroupPriceFen,
}

#[derive(DeriveIden)]
enum GroupBuyGroups {
    Table,
    Id,
    CampaignId,
    LeaderUserId,
    DistributorUserId,
    Size,
    Taken,
    Paid,
    Status,
    Deadline,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupBuyMembers {
    Table,
    OrderId,
    GroupId,
    CampaignId,
    UserId,
    Status,
    JoinedAt,
    PaidAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .add_column(string_len_null(Orders::HeldFor, 16))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GroupBuyCampaigns::Table)
                .col(big_pk_auto(GroupBuyCampaigns::Id))
                .col(string_len(GroupBuyCampaigns::Name, 40))
                .col(big_integer(GroupBuyCampaigns::ProductId))
                .col(integer(GroupBuyCampaigns::GroupSize))
                .col(integer(GroupBuyCampaigns::TimeLimitHours))
                .col(timestamp_with_time_zone(GroupBuyCampaigns::StartsAt))
                .col(timestamp_with_time_zone(GroupBuyCampaigns::EndsAt))
                // Group orders one buyer may hold in the campaign (cancelled ones not counted).
                .col(integer(GroupBuyCampaigns::PerUserLimit))
                .col(boolean(GroupBuyCampaigns::DistributorsMayLaunch))
                .col(boolean(GroupBuyCampaigns::ConsumersMayLaunch))
                // 虚拟成团: at the deadline a group with at least this many paid succeeds.
                .col(integer_null(GroupBuyCampaigns::AutoCompleteMin))
                // Taken off the leader's own group order (0: none).
                .col(big_integer(GroupBuyCampaigns::LeaderDiscountFen).default(0))
                // ACTIVE, ENDED (ended early by staff).
                .col(string_len(GroupBuyCampaigns::Status, 16))
                .col(timestamp_with_time_zone(GroupBuyCampaigns::CreatedAt))
                .col(timestamp_with_time_zone(GroupBuyCampaigns::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_group_buy_campaigns_product",
            GroupBuyCampaigns::Table,
            &["product_id"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(GroupBuySkus::Table)
                .col(big_integer(GroupBuySkus::CampaignId))
                .col(big_integer(GroupBuySkus::SkuId))
                .col(big_integer(GroupBuySkus::GroupPriceFen))
                .primary_key(
                    Index::create()
                        .col(GroupBuySkus::CampaignId)
                        .col(GroupBuySkus::SkuId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GroupBuyGroups::Table)
                .col(big_pk_auto(GroupBuyGroups::Id))
                .col(big_integer(GroupBuyGroups::CampaignId))
                .col(big_integer(GroupBuyGroups::LeaderUserId))
                // The distributor the group's orders are credited to (the leader, when one).
                .col(big_integer_null(GroupBuyGroups::DistributorUserId))
                .col(integer(GroupBuyGroups::Size))
                .col(integer(GroupBuyGroups::Taken).default(0))
                .col(integer(GroupBuyGroups::Paid).default(0))
                // OPEN, SUCCEEDED, FAILED.
                .col(string_len(GroupBuyGroups::Status, 16))
                .col(timestamp_with_time_zone(GroupBuyGroups::Deadline))
                .col(timestamp_with_time_zone_null(GroupBuyGroups::ClosedAt))
                .col(timestamp_with_time_zone(GroupBuyGroups::CreatedAt))
                .col(timestamp_with_time_zone(GroupBuyGroups::UpdatedAt))
                .check(Expr::col(GroupBuyGroups::Taken).lte(Expr::col(GroupBuyGroups::Size)))
                .check(Expr::col(GroupBuyGroups::Paid).lte(Expr::col(GroupBuyGroups::Taken)))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_group_buy_groups_open",
            GroupBuyGroups::Table,
            &["status", "deadline"],
        ))
        .await?;
        m.create_index(index(
            "idx_group_buy_groups_campaign",
            GroupBuyGroups::Table,
            &["campaign_id", "status"],
        ))
        .await?;
        m.create_index(index(
            "idx_group_buy_groups_distributor",
            GroupBuyGroups::Table,
            &["distributor_user_id", "created_at"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(GroupBuyMembers::Table)
                .col(big_integer(GroupBuyMembers::OrderId).primary_key())
                .col(big_integer(GroupBuyMembers::GroupId))
                .col(big_integer(GroupBuyMembers::CampaignId))
                .col(big_integer(GroupBuyMembers::UserId))
                // HOLDING (unpaid), PAID, REFUNDED (a buyer who cancels unpaid leaves: the row goes).
                .col(string_len(GroupBuyMembers::Status, 16))
                .col(timestamp_with_time_zone(GroupBuyMembers::JoinedAt))
                .col(timestamp_with_time_zone_null(GroupBuyMembers::PaidAt))
                .to_owned(),
        )
        .await?;
        // One place per buyer and group: a second join by the same buyer is refused by the key,
        // whoever tries at once (a buyer who cancels unpaid leaves, and their row goes).
        m.create_index(
            index(
                "ux_group_buy_members_group_user",
                GroupBuyMembers::Table,
                &["group_id", "user_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_group_buy_members_user",
            GroupBuyMembers::Table,
            &["user_id", "campaign_id"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            GroupBuyMembers::Table.into_iden(),
            GroupBuyGroups::Table.into_iden(),
            GroupBuySkus::Table.into_iden(),
            GroupBuyCampaigns::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .drop_column(Orders::HeldFor)
                .to_owned(),
        )
        .await
    }
}
