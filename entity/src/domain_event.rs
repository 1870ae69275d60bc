//! The transactional outbox: every state change appends a row in the same transaction.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "domain_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Dotted name such as `notification.created`.
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: i64,
    /// The user this event concerns, when it concerns one user (used to filter deliveries).
    pub recipient_user_id: Option<i64>,
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
