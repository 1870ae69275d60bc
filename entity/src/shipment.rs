//! Parcels of orders: carrier and tracking number. An order may ship in several parcels; what
//! each holds is in `shipment_lines`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// Carrier code, such as `shunfeng`.
    pub carrier: String,
    pub tracking_no: String,
    /// `SHIPPED`, `IN_TRANSIT` or `DELIVERED`.
    pub status: String,
    /// The staff member who shipped it.
    pub shipped_by: Option<i64>,
    pub shipped_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// When tracking was last fetched or pushed.
    pub last_tracked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
