//! Distribution (ARCHITECTURE.md §3.5): distributors and their applications, the inviter tree as a closure
//! table, customer bindings and share visits, levels, versioned commission rules, commission
//! records, the balance ledger, withdrawals, settlement runs and monthly reports. Orders learn
//! which rule version they were placed under. Money is integer fen.
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
    CommissionRuleVersion,
}

#[derive(DeriveIden)]
enum Distributors {
    Table,
    UserId,
    ReferralCode,
    Status,
    InviterUserId,
    LevelId,
    Name,
    Phone,
    TeamName,
    OwnSalesFen,
    OrderCount,
    ApprovedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DistributorApplications {
    Table,
    Id,
    UserId,
    Status,
    Answers,
    InviterCode,
    Reason,
    ReviewedBy,
    CreatedAt,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum DistributorTree {
    Table,
    AncestorUserId,
    DescendantUserId,
    Depth,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DistributorLevels {
    Table,
    Id,
    Name,
    Rank,
    Conditions,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerBindings {
    Table,
    UserId,
    DistributorUserId,
    ProductId,
    BoundAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ShareVisits {
    Table,
    Id,
    DistributorUserId,
    ProductId,
    VisitorUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CommissionRuleVersions {
    Table,
    Id,
    Rules,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Commissions {
    Table,
    Id,
    OrderId,
    OrderLineId,
    BeneficiaryUserId,
    BuyerUserId,
    Tier,
    BaseKind,
    BaseFen,
    Rate,
    FixedFen,
    AmountFen,
    ReversedFen,
    Status,
    RuleVersion,
    SettlementId,
    CreatedAt,
    ConfirmedAt,
    SettledAt,
    ReversedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BalanceEntries {
    Table,
    Id,
    UserId,
    Kind,
    AvailableDeltaFen,
    FrozenDeltaFen,
    AvailableAfterFen,
    FrozenAfterFen,
    ReferenceType,
    ReferenceId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Withdrawals {
    Table,
    Id,
    WithdrawalNo,
    UserId,
    AmountFen,
    FeeFen,
    NetFen,
    Channel,
    Account,
    AccountName,
    Status,
    Reason,
    TransferRef,
    ReviewedBy,
    CreatedAt,
    ReviewedAt,
    PaidAt,
}

#[derive(DeriveIden)]
enum SettlementRuns {
    Table,
    Id,
    PeriodKey,
    Cycle,
    Cutoff,
    Records,
    Distributors,
    TotalFen,
    StartedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DistributorReports {
    Table,
    Id,
    UserId,
    Period,
    Orders,
    SalesFen,
    PromotedCustomers,
    NewTeamMembers,
    EstimatedFen,
    ConfirmedFen,
    SettledFen,
    ReversedFen,
    CreatedAt,
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
                .table(Orders::Table)
                .add_column(big_integer_null(Orders::CommissionRuleVersion))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Distributors::Table)
                .col(big_integer(Distributors::UserId).primary_key())
                .col(string_len(Distributors::ReferralCode, 16).unique_key())
                .col(string_len(Distributors::Status, 16))
                .col(big_integer_null(Distributors::InviterUserId))
                .col(big_integer_null(Distributors::LevelId))
                .col(string_len(Distributors::Name, 64))
                .col(string_len_null(Distributors::Phone, 20))
                .col(string_len_null(Distributors::TeamName, 64))
                .col(big_integer(Distributors::OwnSalesFen).default(0))
                .col(big_integer(Distributors::OrderCount).default(0))
                .col(timestamp_with_time_zone(Distributors::ApprovedAt))
                .col(timestamp_with_time_zone(Distributors::CreatedAt))
                .col(timestamp_with_time_zone(Distributors::UpdatedAt))
                .foreign_key(&mut to_user(Distributors::Table, Distributors::UserId))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_distributors_inviter",
            Distributors::Table,
            &["inviter_user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(DistributorApplications::Table)
                .col(big_pk_auto(DistributorApplications::Id))
                .col(big_integer(DistributorApplications::UserId))
                .col(string_len(DistributorApplications::Status, 16))
                .col(text(DistributorApplications::Answers))
                .col(string_len_null(DistributorApplications::InviterCode, 16))
                .col(string_len_null(DistributorApplications::Reason, 500))
                .col(big_integer_null(DistributorApplications::ReviewedBy))
                .col(timestamp_with_time_zone(DistributorApplications::CreatedAt))
                .col(timestamp_with_time_zone_null(
                    DistributorApplications::ReviewedAt,
                ))
                .foreign_key(&mut to_user(
                    DistributorApplications::Table,
                    DistributorApplications::UserId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_distributor_applications_user",
            DistributorApplications::Table,
            &["user_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_distributor_applications_status",
            DistributorApplications::Table,
            &["status", "id"],
        ))
        .await?;

        // (ancestor, descendant, depth) for every pair on a path, depth 0 included: "my team to
        // depth 3" and "my upline" are one indexed range each.
        m.create_table(
            Table::create()
                .table(DistributorTree::Table)
                .col(big_integer(DistributorTree::AncestorUserId))
                .col(big_integer(DistributorTree::DescendantUserId))
                .col(integer(DistributorTree::Depth))
                .col(timestamp_with_time_zone(DistributorTree::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(DistributorTree::AncestorUserId)
                        .col(DistributorTree::DescendantUserId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_distributor_tree_team",
            DistributorTree::Table,
            &["ancestor_user_id", "depth", "descendant_user_id"],
        ))
        .await?;
        m.create_index(index(
            "idx_distributor_tree_upline",
            DistributorTree::Table,
            &["descendant_user_id", "depth"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(DistributorLevels::Table)
                .col(big_pk_auto(DistributorLevels::Id))
                .col(string_len(DistributorLevels::Name, 32))
                .col(integer(DistributorLevels::Rank).unique_key())
                .col(text(DistributorLevels::Conditions))
                .col(timestamp_with_time_zone(DistributorLevels::CreatedAt))
                .col(timestamp_with_time_zone(DistributorLevels::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CustomerBindings::Table)
                .col(big_integer(CustomerBindings::UserId).primary_key())
                .col(big_integer(CustomerBindings::DistributorUserId))
                .col(big_integer_null(CustomerBindings::ProductId))
                .col(timestamp_with_time_zone(CustomerBindings::BoundAt))
                .col(timestamp_with_time_zone_null(CustomerBindings::ExpiresAt))
                .foreign_key(&mut to_user(
                    CustomerBindings::Table,
                    CustomerBindings::UserId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_customer_bindings_distributor",
            CustomerBindings::Table,
            &["distributor_user_id", "bound_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ShareVisits::Table)
                .col(big_pk_auto(ShareVisits::Id))
                .col(big_integer(ShareVisits::DistributorUserId))
                .col(big_integer_null(ShareVisits::ProductId))
                .col(big_integer_null(ShareVisits::VisitorUserId))
                .col(timestamp_with_time_zone(ShareVisits::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_share_visits_distributor",
            ShareVisits::Table,
            &["distributor_user_id", "created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CommissionRuleVersions::Table)
                .col(big_pk_auto(CommissionRuleVersions::Id))
                .col(text(CommissionRuleVersions::Rules))
                .col(big_integer_null(CommissionRuleVersions::CreatedBy))
                .col(timestamp_with_time_zone(CommissionRuleVersions::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Commissions::Table)
                .col(big_pk_auto(Commissions::Id))
                .col(big_integer(Commissions::OrderId))
                .col(big_integer(Commissions::OrderLineId))
                .col(big_integer(Commissions::BeneficiaryUserId))
                .col(big_integer(Commissions::BuyerUserId))
                .col(small_integer(Commissions::Tier))
                .col(string_len(Commissions::BaseKind, 8))
                .col(big_integer(Commissions::BaseFen))
                // A percentage as exact decimal text ("20", "12.5"); `fixed_fen` instead when
                // an override pays a fixed amount per unit.
                .col(string_len_null(Commissions::Rate, 16))
                .col(big_integer_null(Commissions::FixedFen))
                .col(big_integer(Commissions::AmountFen))
                .col(big_integer(Commissions::ReversedFen).default(0))
                .col(string_len(Commissions::Status, 16))
                .col(big_integer(Commissions::RuleVersion))
                .col(big_integer_null(Commissions::SettlementId))
                .col(timestamp_with_time_zone(Commissions::CreatedAt))
                .col(timestamp_with_time_zone_null(Commissions::ConfirmedAt))
                .col(timestamp_with_time_zone_null(Commissions::SettledAt))
                .col(timestamp_with_time_zone_null(Commissions::ReversedAt))
                .col(timestamp_with_time_zone(Commissions::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_commissions_line_tier")
                .table(Commissions::Table)
                .col(Commissions::OrderLineId)
                .col(Commissions::Tier)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_commissions_beneficiary",
            Commissions::Table,
            &["beneficiary_user_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_commissions_due",
            Commissions::Table,
            &["status", "confirmed_at"],
        ))
        .await?;
        m.create_index(index(
            "idx_commissions_order",
            Commissions::Table,
            &["order_id"],
        ))
        .await?;
        m.create_index(index(
            "idx_commissions_settlement",
            Commissions::Table,
            &["settlement_id", "beneficiary_user_id"],
        ))
        .await?;

        // Append-only: each entry carries the balances after it, so reading a balance is one
        // row and the sum of the deltas always equals it.
        m.create_table(
            Table::create()
                .table(BalanceEntries::Table)
                .col(big_pk_auto(BalanceEntries::Id))
                .col(big_integer(BalanceEntries::UserId))
                .col(string_len(BalanceEntries::Kind, 32))
                .col(big_integer(BalanceEntries::AvailableDeltaFen))
                .col(big_integer(BalanceEntries::FrozenDeltaFen))
                .col(big_integer(BalanceEntries::AvailableAfterFen))
                .col(big_integer(BalanceEntries::FrozenAfterFen))
                .col(string_len(BalanceEntries::ReferenceType, 16))
                .col(big_integer(BalanceEntries::ReferenceId))
                .col(string_len_null(BalanceEntries::Note, 200))
                .col(timestamp_with_time_zone(BalanceEntries::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_balance_entries_user",
            BalanceEntries::Table,
            &["user_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Withdrawals::Table)
                .col(big_pk_auto(Withdrawals::Id))
                .col(string_len(Withdrawals::WithdrawalNo, 32).unique_key())
                .col(big_integer(Withdrawals::UserId))
                .col(big_integer(Withdrawals::AmountFen))
                .col(big_integer(Withdrawals::FeeFen))
                .col(big_integer(Withdrawals::NetFen))
                .col(string_len(Withdrawals::Channel, 16))
                .col(string_len(Withdrawals::Account, 64))
                .col(string_len_null(Withdrawals::AccountName, 32))
                .col(string_len(Withdrawals::Status, 16))
                .col(string_len_null(Withdrawals::Reason, 500))
                .col(string_len_null(Withdrawals::TransferRef, 64))
                .col(big_integer_null(Withdrawals::ReviewedBy))
                .col(timestamp_with_time_zone(Withdrawals::CreatedAt))
                .col(timestamp_with_time_zone_null(Withdrawals::ReviewedAt))
                .col(timestamp_with_time_zone_null(Withdrawals::PaidAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_withdrawals_user",
            Withdrawals::Table,
            &["user_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_withdrawals_status",
            Withdrawals::Table,
            &["status", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(SettlementRuns::Table)
                .col(big_pk_auto(SettlementRuns::Id))
                .col(string_len(SettlementRuns::PeriodKey, 32).unique_key())
                .col(string_len(SettlementRuns::Cycle, 16))
                .col(timestamp_with_time_zone(SettlementRuns::Cutoff))
                .col(big_integer(SettlementRuns::Records))
                .col(big_integer(SettlementRuns::Distributors))
                .col(big_integer(SettlementRuns::TotalFen))
                .col(big_integer_null(SettlementRuns::StartedBy))
                .col(timestamp_with_time_zone(SettlementRuns::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DistributorReports::Table)
                .col(big_pk_auto(DistributorReports::Id))
                .col(big_integer(DistributorReports::UserId))
                .col(string_len(DistributorReports::Period, 7))
                .col(big_integer(DistributorReports::Orders))
                .col(big_integer(DistributorReports::SalesFen))
                .col(big_integer(DistributorReports::PromotedCustomers))
                .col(big_integer(DistributorReports::NewTeamMembers))
                .col(big_integer(DistributorReports::EstimatedFen))
                .col(big_integer(DistributorReports::ConfirmedFen))
                .col(big_integer(DistributorReports::SettledFen))
                .col(big_integer(DistributorReports::ReversedFen))
                .col(timestamp_with_time_zone(DistributorReports::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_distributor_reports_user_period")
                .table(DistributorReports::Table)
                .col(DistributorReports::UserId)
                .col(DistributorReports::Period)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            DistributorReports::Table.into_iden(),
            SettlementRuns::Table.into_iden(),
            Withdrawals::Table.into_iden(),
            BalanceEntries::Table.into_iden(),
            Commissions::Table.into_iden(),
            CommissionRuleVersions::Table.into_iden(),
            ShareVisits::Table.into_iden(),
            CustomerBindings::Table.into_iden(),
            DistributorLevels::Table.into_iden(),
            DistributorTree::Table.into_iden(),
            DistributorApplications::Table.into_iden(),
            Distributors::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Orders::Table)
                .drop_column(Orders::CommissionRuleVersion)
                .to_owned(),
        )
        .await
    }
}
