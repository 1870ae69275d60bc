//! Withdrawal requests: the amount is frozen until paid out or rejected.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "withdrawals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub withdrawal_no: String,
    pub user_id: i64,
    /// Taken from the balance.
    pub amount_fen: i64,
    pub fee_fen: i64,
    /// What reaches the distributor: amount − fee.
    pub net_fen: i64,
    /// `BANK_CARD` or `WECHAT_WALLET`.
    pub channel: String,
    pub account: String,
    pub account_name: Option<String>,
    /// `PENDING`, `APPROVED`, `PAID` or `REJECTED`.
    pub status: String,
    pub reason: Option<String>,
    pub transfer_ref: Option<String>,
    pub reviewed_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
