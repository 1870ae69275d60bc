//! How many coupons of a template a user has been given: raised only below the template's
//! per-user limit, in one conditional upsert, so concurrent claims cannot pass it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub template_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub claimed: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
