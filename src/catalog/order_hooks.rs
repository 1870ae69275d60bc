//! What the catalogue does at an order's moments (`orders::listeners`): units sold are counted
//! when the money arrives (product pages and the best-seller sort show them).
use async_trait::async_trait;
use entity::{order, order_line};

use super::service::{Sold, count_sales};
use crate::{app::AppState, db::WriteTx, error::AppError, orders::listeners::OrderListener};

/// The catalogue's part in orders.
pub struct CatalogOrders;

#[async_trait]
impl OrderListener for CatalogOrders {
    async fn on_paid(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        _order: &order::Model,
        lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        let sold: Vec<Sold> = lines
            .iter()
            .map(|l| Sold {
                product_id: l.product_id,
                sku_id: l.sku_id,
                quantity: l.quantity,
            })
            .collect();
        count_sales(tx, &sold).await
    }
}
