//! SKUs redeemable in the points mall for a number of points per unit, plus optional cash.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_mall_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: i64,
    /// Points per unit.
    pub points: i64,
    /// Cash per unit, in fen (0: points only).
    pub cash_fen: i64,
    pub active: bool,
    pub updated_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
