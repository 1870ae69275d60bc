//! After-sale requests: refund only, or return and refund. Money in fen; which lines and how many
//! units are in `refund_lines`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// The refund number shown to people.
    #[sea_orm(unique)]
    pub refund_no: String,
    /// `REFUND_ONLY` or `RETURN`.
    pub kind: String,
    /// `REQUESTED`, `APPROVED`, `REJECTED`, `RETURNED`, `REFUNDED` or `FAILED`.
    pub status: String,
    pub reason: String,
    /// JSON array of photo URLs.
    pub photos: String,
    pub amount_fen: i64,
    pub requested_by: i64,
    /// The staff member who approved or rejected it.
    pub decided_by: Option<i64>,
    pub reject_reason: Option<String>,
    /// The provider's refund id, known once the money went back.
    pub provider_refund_id: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// When the returned goods arrived (`RETURN` only).
    pub received_at: Option<DateTimeUtc>,
    pub refunded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
