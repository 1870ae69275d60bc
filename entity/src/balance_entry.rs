//! The distributor balance ledger: append-only. Each entry moves money between "available" and
//! "frozen" (or in/out) and records both balances after it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "balance_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `SETTLEMENT`, `REVERSAL`, `WITHDRAWAL_FROZEN`, `WITHDRAWAL_PAID`, `WITHDRAWAL_RETURNED`.
    pub kind: String,
    pub available_delta_fen: i64,
    pub frozen_delta_fen: i64,
    pub available_after_fen: i64,
    pub frozen_after_fen: i64,
    /// `SETTLEMENT`, `COMMISSION` or `WITHDRAWAL`.
    pub reference_type: String,
    pub reference_id: i64,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
