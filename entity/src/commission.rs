//! Commission records: one per order line per tier of the referral chain. Money in fen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub order_line_id: i64,
    /// The distributor who earns it.
    pub beneficiary_user_id: i64,
    pub buyer_user_id: i64,
    /// 1 for the distributor the buyer is bound to, 2 for their inviter, 3 above.
    pub tier: i16,
    /// `SALES` or `PROFIT`.
    pub base_kind: String,
    pub base_fen: i64,
    /// Percentage as decimal text, when a rate applies.
    pub rate: Option<String>,
    /// Fixed amount per unit, when an override pays one.
    pub fixed_fen: Option<i64>,
    /// What the record pays now (after reversals).
    pub amount_fen: i64,
    /// The rules asked for more than the line's base left for this tier, and the amount was cut
    /// so that the line's records together stay within its base.
    pub capped: bool,
    /// What refunds took back from the original amount.
    pub reversed_fen: i64,
    /// `ESTIMATED`, `CONFIRMED`, `SETTLED` or `REVERSED`.
    pub status: String,
    pub rule_version: i64,
    pub settlement_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub settled_at: Option<DateTimeUtc>,
    pub reversed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
