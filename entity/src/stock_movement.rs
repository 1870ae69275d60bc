//! The stock ledger: every change of a SKU's stock, with its reason.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sku_id: i64,
    pub product_id: i64,
    /// `RESTOCK`, `ADJUSTMENT`, `STOCKTAKE`, `ORDER_RESERVED`, `ORDER_RELEASED` or `RETURNED`.
    pub reason: String,
    pub reference: Option<String>,
    pub delta: i64,
    pub balance_after: i64,
    pub actor_user_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
