//! Settlement runs, one per period: the unique period key makes a second run a no-op.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub period_key: String,
    pub cycle: String,
    /// Commissions confirmed before this instant are settled by the run.
    pub cutoff: DateTimeUtc,
    pub records: i64,
    pub distributors: i64,
    pub total_fen: i64,
    pub started_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
