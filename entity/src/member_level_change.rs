//! Every change of a member's level: from, to, why, and who (staff, for a change by hand).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_level_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub from_level_id: Option<i64>,
    pub to_level_id: Option<i64>,
    /// The member's growth when it changed.
    pub growth: i64,
    /// `GROWTH`, `MANUAL`, `REVIEW`, `LEVELS_CHANGED` or `LEVEL_REMOVED`.
    pub cause: String,
    /// Staff's reason for a change by hand.
    pub reason: Option<String>,
    pub actor_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
