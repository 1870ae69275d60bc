//! Carrier tracking events of shipments, appended as they are fetched or pushed.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracking_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shipment_id: i64,
    /// When it happened, as the carrier reports it.
    pub occurred_at: DateTimeUtc,
    /// The carrier's description of the event.
    pub context: String,
    /// The carrier's state code, when it gives one.
    pub state: Option<String>,
    pub area: Option<String>,
    /// Hash of shipment, time and context, so a repeated push appends nothing.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
