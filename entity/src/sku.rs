//! SKUs: one per combination of spec values. Money in fen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "skus")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    #[sea_orm(unique)]
    pub code: String,
    /// JSON array of the spec values, in the order of the product's specs.
    pub spec_values: String,
    /// The values joined, unique per product.
    pub spec_key: String,
    pub price_fen: i64,
    pub market_price_fen: Option<i64>,
    pub cost_price_fen: i64,
    pub stock: i64,
    pub safety_stock: Option<i32>,
    pub weight_grams: i32,
    pub barcode: Option<String>,
    /// False when its spec combination was removed (kept for history).
    pub active: bool,
    /// A low-stock alert is open; re-armed when stock rises above the threshold.
    pub low_stock_alerted: bool,
    pub sales: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
