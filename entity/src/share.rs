//! One user's share of a product, a group or the shop for one channel, with its funnel.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shares")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The random code in the link (and the mini-program code's scene).
    pub code: String,
    pub sharer_user_id: i64,
    /// `PRODUCT`, `GROUP` or `SHOP`.
    pub target: String,
    /// The product or group; 0 for the shop.
    pub target_id: i64,
    /// `MOMENTS`, `CHAT_GROUP` or `FRIEND`.
    pub channel: String,
    pub visits: i64,
    pub bindings: i64,
    pub orders: i64,
    pub sales_fen: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
