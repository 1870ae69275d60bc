//! Products (SPU).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub subtitle: String,
    /// Sanitised HTML: no scripts, event handlers or `javascript:` links are ever stored.
    pub description_html: String,
    /// The description as plain text, for search.
    pub description_text: String,
    pub category_id: Option<i64>,
    pub brand_id: Option<i64>,
    /// `DRAFT`, `ON_SALE` or `OFF_SALE`.
    pub status: String,
    pub sort_weight: i32,
    pub safety_stock: Option<i32>,
    pub scheduled_on_sale_at: Option<DateTimeUtc>,
    pub scheduled_off_sale_at: Option<DateTimeUtc>,
    /// Units sold, kept by the orders area.
    pub sales: i64,
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
