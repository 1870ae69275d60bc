//! A 满减 activity: tiers (or a repeating step with a cap) over a scope, in a time window,
//! optionally for some member levels only.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "promotion_activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `FULL_REDUCTION`.
    pub kind: String,
    /// The tiers, JSON.
    pub rule: String,
    /// `SHOP`, `CATEGORIES`, `PRODUCTS`, `ALL_EXCEPT`.
    pub scope: String,
    pub scope_ids: String,
    /// Member level ids (JSON array); empty for every buyer.
    pub level_ids: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
