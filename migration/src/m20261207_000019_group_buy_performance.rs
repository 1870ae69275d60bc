//! Group buys in distributor performance (issue 20): the monthly report keeps groups launched,
//! groups succeeded and group sales; indexes for the ranges those figures are read over.
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DistributorReports {
    Table,
    GroupsLaunched,
    GroupsSucceeded,
    GroupSalesFen,
}

#[derive(DeriveIden)]
enum GroupBuyGroups {
    Table,
}

#[derive(DeriveIden)]
enum GroupBuyMembers {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in [
            DistributorReports::GroupsLaunched,
            DistributorReports::GroupsSucceeded,
            DistributorReports::GroupSalesFen,
        ] {
            m.alter_table(
                Table::alter()
                    .table(DistributorReports::Table)
                    .add_column(big_integer(column).default(0))
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(index(
            "idx_group_buy_groups_closed",
            GroupBuyGroups::Table,
            &["status", "closed_at"],
        ))
        .await?;
        m.create_index(index(
            "idx_group_buy_members_paid",
            GroupBuyMembers::Table,
            &["paid_at"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_group_buy_members_paid")
                .table(GroupBuyMembers::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_group_buy_groups_closed")
                .table(GroupBuyGroups::Table)
                .to_owned(),
        )
        .await?;
        for column in [
            DistributorReports::GroupsLaunched,
            DistributorReports::GroupsSucceeded,
            DistributorReports::GroupSalesFen,
        ] {
            m.alter_table(
                Table::alter()
                    .table(DistributorReports::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
