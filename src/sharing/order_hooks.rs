//! The sharing area at an order's moments: a paid order is credited to the share its buyer
//! came through; a refund takes its amount back off that share's sales.
use async_trait::async_trait;
use entity::{order, order_line};

use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    orders::listeners::{OrderListener, Refunded},
};

pub struct SharingOrders;

#[async_trait]
impl OrderListener for SharingOrders {
    async fn on_paid(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        super::service::credit_order(app, tx, order).await
    }

    async fn on_refunded(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        super::service::refund_credited(tx, order.id, refund.goods_fen() + refund.shipping_fen)
            .await
    }
}
