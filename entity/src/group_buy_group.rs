//! A group (团) launched from a campaign. `taken` counts the places held by orders (unpaid or
//! paid), `paid` those paid; the group succeeds when `paid` reaches `size`, and fails at its
//! deadline short of it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_groups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub leader_user_id: i64,
    /// The distributor the group's orders are credited to.
    pub distributor_user_id: Option<i64>,
    pub size: i32,
    pub taken: i32,
    pub paid: i32,
    /// `OPEN`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    pub deadline: DateTimeUtc,
    /// When it succeeded or failed.
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
