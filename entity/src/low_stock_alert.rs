//! Low-stock alerts: one per crossing of the safety threshold.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "low_stock_alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sku_id: i64,
    pub product_id: i64,
    pub stock: i64,
    pub threshold: i32,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
