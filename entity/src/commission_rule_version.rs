//! Commission rules, one immutable row per version (JSON); the newest is in force and each order
//! keeps the version it was placed under.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_rule_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rules: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
