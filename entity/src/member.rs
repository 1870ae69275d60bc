//! A member's growth and level, keyed by user id. A user without a row has no growth yet and
//! holds the level of no growth.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Cumulative goods money paid, net of refunds, at the shop's growth ratio.
    pub growth: i64,
    /// The level held (`None`: none).
    pub level_id: Option<i64>,
    pub level_changed_at: Option<DateTimeUtc>,
    /// Goods money paid, net of refunds, in fen.
    pub spent_fen: i64,
    /// Paid orders not wholly refunded.
    pub orders_count: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
