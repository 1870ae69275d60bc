//! Payment notifications that could not be applied and need a person to look at them.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `DEV`, `WECHAT_PAY` or `ALIPAY`.
    pub provider: String,
    pub out_trade_no: String,
    /// `None` when no order matches.
    pub order_id: Option<i64>,
    /// `AMOUNT_MISMATCH`, `UNKNOWN_ORDER`, …
    pub kind: String,
    pub detail: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
