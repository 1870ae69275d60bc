//! An order's place in a group.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    pub group_id: i64,
    pub campaign_id: i64,
    pub user_id: i64,
    /// `HOLDING` (unpaid), `PAID` or `REFUNDED`; a buyer who cancels unpaid leaves (the row goes).
    pub status: String,
    pub joined_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
