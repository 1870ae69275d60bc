//! The growth ledger: every change of a member's growth, append-only; a member's entries add up
//! to their growth.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_growth_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub delta: i64,
    /// The goods money behind the change, in fen (negative for a refund).
    pub spend_fen: i64,
    pub growth_after: i64,
    /// `PAID` (an order's goods were paid) or `REFUNDED` (a refund took some back).
    pub kind: String,
    pub order_id: Option<i64>,
    pub refund_no: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
