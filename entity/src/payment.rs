//! Payment attempts of orders, one per trade number sent to a provider. Money in fen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// `DEV`, `WECHAT_PAY` or `ALIPAY`.
    pub provider: String,
    /// Our trade number, sent to the provider.
    #[sea_orm(unique)]
    pub out_trade_no: String,
    pub amount_fen: i64,
    /// `PENDING`, `SUCCEEDED` or `CLOSED`.
    pub status: String,
    /// The provider's transaction id, known once paid; unique per provider.
    pub provider_txn_id: Option<String>,
    /// What the client needs to start the payment (provider specific, JSON).
    pub client_payload: Option<String>,
    pub created_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
