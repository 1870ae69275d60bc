//! What a paid order earns: pending until the order completes, then credited; refunds take
//! back what they make it worth less.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_earnings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub user_id: i64,
    /// What the order's goods paid, in fen.
    pub goods_fen: i64,
    /// What refunds gave back of it.
    pub refunded_goods_fen: i64,
    /// The earning ratio when the order was paid (decimal text).
    pub points_per_yuan: String,
    /// The member level's multiplier when the order was paid (decimal text).
    pub multiplier: String,
    /// What the order earns now (after refunds).
    pub points: i64,
    /// What has been credited to the ledger, net of reversals.
    pub credited: i64,
    /// `PENDING` (paid, not completed) or `CREDITED`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
