//! Distributors' own figures (the level conditions "own sales" and "order count") counted again,
//! net of refunds: own sales are what the goods of their attributed paid orders paid, less what
//! was refunded (shipping is no sale); an order counts while some of its goods are kept. Before,
//! own sales counted shipping and a refunded order kept counting, so buying and refunding
//! climbed levels.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const RECOUNT: &str = "UPDATE distributors SET \
    own_sales_fen = CAST(COALESCE((SELECT SUM(l.pay_amount_fen - l.refunded_fen) \
        FROM order_lines l JOIN orders o ON o.id = l.order_id \
        WHERE o.distributor_user_id = distributors.user_id AND o.paid_at IS NOT NULL \
          AND NOT l.is_gift), 0) AS BIGINT), \
    order_count = (SELECT COUNT(*) FROM orders o \
        WHERE o.distributor_user_id = distributors.user_id AND o.paid_at IS NOT NULL \
          AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id \
              AND NOT l.is_gift AND l.quantity > l.refunded_quantity))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared(RECOUNT).await?;
        Ok(())
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // The figures counted the old way cannot be told apart again; the recount stands.
        Ok(())
    }
}
