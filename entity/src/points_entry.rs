//! The points ledger: append-only. Each entry moves points into or out of one lot of the
//! member; the balance is the sum of the entries.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `EARN`, `TASK`, `SIGN_IN`, `BIRTHDAY`, `SPEND`, `RETURN`, `REVERSE`, `EXPIRE`, `ADJUST`.
    pub kind: String,
    /// Points in (positive) or out (negative).
    pub delta: i64,
    /// The member's balance after this entry.
    pub balance_after: i64,
    /// The lot the points came from or went to.
    pub lot_expires_at: DateTimeUtc,
    /// `ORDER`, `TASK`, `SIGN_IN`, `STAFF`, `EXPIRY`.
    pub reference_type: String,
    pub reference_id: i64,
    pub note: Option<String>,
    /// Staff who made a manual adjustment.
    pub actor_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
