//! Distributors: customers whose application was approved. Keyed by their user id.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// What share links carry; unique.
    #[sea_orm(unique)]
    pub referral_code: String,
    /// `ACTIVE` or `DISABLED`.
    pub status: String,
    /// Who recruited this distributor (their parent in `distributor_tree`).
    pub inviter_user_id: Option<i64>,
    pub level_id: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    pub team_name: Option<String>,
    /// Paid amount of orders attributed to this distributor, net of refunds (a statistic).
    pub own_sales_fen: i64,
    pub order_count: i64,
    /// Team members one, two and three levels below (kept when the tree changes).
    pub team_level1: i64,
    pub team_level2: i64,
    pub team_level3: i64,
    pub approved_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
