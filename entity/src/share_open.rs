//! A signed-in visitor opened a share (the order credit looks for the latest).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "share_opens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub share_id: i64,
    pub visitor_user_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
