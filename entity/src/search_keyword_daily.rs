//! How often each keyword was searched, per day (for hot keywords).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_keyword_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub keyword: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
