//! Orders: the buyer, the state machine, the money breakdown in fen and a snapshot of the
//! shipping address. Lines are in `order_lines`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order number shown to people (date + daily sequence, see `order_number_sequences`).
    #[sea_orm(unique)]
    pub order_no: String,
    pub user_id: i64,
    /// `SUBMITTED`, `PAID`, `APPROVED`, `SHIPPED`, `IN_TRANSIT`, `DELIVERED`, `COMPLETED`,
    /// `CANCELLED`, `REFUNDING` or `REFUNDED`.
    pub status: String,
    /// The status before `REFUNDING`: where the order returns when the refund is rejected.
    pub status_before_refund: Option<String>,
    /// `DIRECT`, `DISTRIBUTOR` or `GROUP_BUY`.
    pub source: String,
    /// The distributor whose share brought the order.
    pub distributor_user_id: Option<i64>,
    pub share_code: Option<String>,
    /// JSON array of user ids of the referral chain, nearest first.
    pub referral_chain: String,
    /// The commission rule version in force when the order was placed.
    pub commission_rule_version: Option<i64>,
    /// Sum of the lines at unit price.
    pub items_total_fen: i64,
    pub member_discount_fen: i64,
    pub promotion_discount_fen: i64,
    pub coupon_discount_fen: i64,
    pub points_discount_fen: i64,
    pub shipping_fee_fen: i64,
    /// What the buyer pays: items total minus the discounts plus shipping.
    pub pay_amount_fen: i64,
    pub refunded_fen: i64,
    pub points_used: i64,
    /// The coupon the order used (marked used with it, given back if it is cancelled unpaid or
    /// wholly refunded).
    pub coupon_id: Option<i64>,
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub address_detail: String,
    pub buyer_note: Option<String>,
    /// Internal note, seen by staff only.
    pub staff_note: Option<String>,
    /// `UNPAID`, `PAID`, `PARTIALLY_REFUNDED` or `REFUNDED`.
    pub payment_status: String,
    /// The provider that took the payment (see `payments.provider`).
    pub payment_provider: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    pub approved_at: Option<DateTimeUtc>,
    pub shipped_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    /// The deadline for paying; an unpaid order is cancelled after it.
    pub expires_at: Option<DateTimeUtc>,
    /// JSON snapshot of the pricing breakdown at submission.
    pub pricing: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Raised by the database on every change to the order or its lines (triggers of migration
    /// `m20261129_000006`): a reader holding revision N of an order holds it as it is now
    /// exactly when the database still says N.
    pub revision: i64,
    /// Why the order may not be approved or shipped yet: `GROUP_BUY` while its group is filling.
    /// Null for an order free to move on.
    pub held_for: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
