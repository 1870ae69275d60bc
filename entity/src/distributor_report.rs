//! A distributor's monthly report, snapshotted on the 1st of the next month.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributor_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `YYYY-MM` in shop time.
    pub period: String,
    pub orders: i64,
    pub sales_fen: i64,
    pub promoted_customers: i64,
    pub new_team_members: i64,
    pub estimated_fen: i64,
    pub confirmed_fen: i64,
    pub settled_fen: i64,
    pub reversed_fen: i64,
    pub groups_launched: i64,
    pub groups_succeeded: i64,
    pub group_sales_fen: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
