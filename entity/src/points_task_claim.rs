//! A reward a task paid. Unique per member, task, period and slot: a task pays at most once per
//! period (a share visit: once per visitor a day, and at most the daily cap of slots).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_task_claims")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `REGISTER`, `PROFILE`, `FIRST_ORDER`, `SHARE`, `BIRTHDAY`.
    pub task: String,
    /// `ONCE`, a shop day (`2026-12-07`) or a year (`2026`).
    pub period: String,
    pub slot: String,
    pub points: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
