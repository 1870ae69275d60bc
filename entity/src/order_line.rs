//! Order lines: a snapshot of the SKU at submission (name, spec, prices), so they survive catalog
//! changes and deletes. Money in fen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub sku_id: i64,
    pub product_id: i64,
    pub product_name: String,
    /// The SKU's spec values, joined for display.
    pub spec_text: String,
    pub sku_code: String,
    pub image_url: Option<String>,
    pub unit_price_fen: i64,
    pub cost_price_fen: i64,
    pub quantity: i64,
    /// Unit price times quantity.
    pub line_total_fen: i64,
    /// This line's share of the order's discounts.
    pub discount_fen: i64,
    /// The member price's part of `discount_fen`.
    pub member_discount_fen: i64,
    /// Line total minus discount: what the buyer paid for this line.
    pub pay_amount_fen: i64,
    pub refunded_quantity: i64,
    pub refunded_fen: i64,
    pub shipped_quantity: i64,
    /// Weight of one unit.
    pub weight_grams: i32,
    /// A free gift added by a promotion.
    pub is_gift: bool,
    /// Points this line spent: its share of the order's points deduction, or what a points-mall
    /// redemption costs in points.
    pub points_used: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
