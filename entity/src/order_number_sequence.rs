//! Per-day counters for order numbers, bumped with
//! `INSERT … ON CONFLICT (day) DO UPDATE SET last_value = last_value + 1 RETURNING last_value`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_number_sequences")]
pub struct Model {
    /// The day as `YYYYMMDD`, such as `20261128`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    /// The last number handed out that day.
    pub last_value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
