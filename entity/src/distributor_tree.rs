//! The inviter tree as a closure table: one row per (ancestor, descendant) pair on a path,
//! including each distributor with itself at depth 0.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributor_tree")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub descendant_user_id: i64,
    pub depth: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
