//! A group-buying campaign (拼团活动): a product's SKUs at a group price, for groups of
//! `group_size` that must fill within `time_limit_hours`, launched between `starts_at` and
//! `ends_at`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub product_id: i64,
    pub group_size: i32,
    pub time_limit_hours: i32,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    /// Group orders one buyer may hold in the campaign (cancelled ones not counted).
    pub per_user_limit: i32,
    pub distributors_may_launch: bool,
    pub consumers_may_launch: bool,
    /// 虚拟成团: at the deadline a group with at least this many paid members succeeds.
    pub auto_complete_min: Option<i32>,
    /// Taken off the leader's own group order.
    pub leader_discount_fen: i64,
    /// `ACTIVE` or `ENDED` (ended early by staff).
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
