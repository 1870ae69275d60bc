//! Which distributor a customer is bound to (by share link or code), until when.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_bindings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub distributor_user_id: i64,
    /// The product whose share link made the binding, if any.
    pub product_id: Option<i64>,
    pub bound_at: DateTimeUtc,
    /// `None`: permanent.
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
