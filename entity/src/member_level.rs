//! Member levels: the ladder ordered by growth threshold (unique), each with its benefits.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_levels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub badge_name: String,
    /// Growth from which a member holds this level; unique.
    #[sea_orm(unique)]
    pub growth_threshold: i64,
    /// Hundredths of a percent of the price a member of this level pays: 9500 is 95.00 %.
    pub price_rate_bp: i32,
    pub free_shipping: bool,
    /// How long before a product's scheduled on-sale time members of this level may buy it.
    pub early_access_hours: i32,
    /// Points given once a year on the member's birthday (paid by the points area).
    pub birthday_points: i64,
    /// Percent: 150 multiplies the points a member earns by 1.5.
    pub points_multiplier_pct: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
