//! What distribution does at an order's moments (`orders::listeners`): it attributes a new
//! order to the distributor the buyer came through, records estimated commission when the
//! money arrives (and approves an applicant whose spending reached the threshold), confirms it
//! when the after-sales window closes, and takes back what refunds return.
use async_trait::async_trait;
use entity::{order, order_line};
use sea_orm::{DatabaseBackend, QueryResult, Statement};

use super::{commissions, recruitment, team};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    orders::listeners::{OrderAttribution, OrderAttributor, OrderListener, Refunded},
};

/// Distribution's part in orders.
pub struct DistributionOrders;

#[async_trait]
impl OrderAttributor for DistributionOrders {
    async fn touch(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        share_code: Option<&str>,
        product_id: Option<i64>,
    ) -> Result<Option<String>, AppError> {
        commissions::apply_share_code(tx, buyer_id, share_code, product_id).await
    }

    fn lookup(&self, backend: DatabaseBackend, buyer_id: i64) -> Statement {
        team::ties_statement(backend, buyer_id)
    }

    async fn attribute(
        &self,
        app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        share_code: Option<String>,
        looked_up: &QueryResult,
        credited_to: Option<i64>,
    ) -> Result<OrderAttribution, AppError> {
        let ties = team::ties_from(looked_up, chrono::Utc::now())?;
        commissions::attribute(app, tx, buyer_id, share_code, ties, credited_to).await
    }
}

#[async_trait]
impl OrderListener for DistributionOrders {
    async fn on_paid(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        commissions::on_paid(app, tx, order, lines).await?;
        if recruitment::on_paid(tx, order.user_id).await? {
            app.principals.invalidate(order.user_id);
        }
        Ok(())
    }

    async fn on_completed(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        commissions::on_completed(tx, order).await
    }

    async fn on_refunded(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        let lines: Vec<order_line::Model> = refund.lines.iter().map(|l| l.line.clone()).collect();
        let goods = commissions::RefundedGoods {
            amount_fen: refund.goods_fen(),
            units: refund.goods_units(),
        };
        commissions::on_refund(tx, order, &lines, goods, refund.refund_no).await
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        distribution::rules::{ChainLink, CommissionRules, LineFacts, commissions_for_line},
        orders::pricing::{
            Discount, PricingLine, PricingRefusal, PricingRequest, PricingRule, PricingStage,
            PricingState, RuleOutcome, price,
        },
    };

    /// ¥10.00 off the whole order.
    struct TenOff;

    impl PricingRule for TenOff {
        fn stage(&self) -> PricingStage {
            PricingStage::Coupon
        }
        fn apply(&self, _: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
            Ok(RuleOutcome {
                discounts: vec![Discount {
                    label: "满100减10".into(),
                    amount_fen: 1_000,
                    lines: None,
                    source: None,
                }],
                ..Default::default()
            })
        }
    }

    #[test]
    fn commissions_are_computed_on_what_each_line_paid_after_a_discount() {
        // The seed's rule (20% / 10% / 5% of sales), ¥10.00 off a ¥100.00 + ¥50.00 order.
        let line = |sku: i64, price: i64| PricingLine {
            sku_id: sku,
            product_id: sku,
            category_id: None,
            unit_price_fen: price,
            quantity: 1,
            weight_grams: 500,
        };
        let lines = [line(1, 10_000), line(2, 5_000)];
        let p = price(&PricingRequest::default(), &lines, &[&TenOff], None).unwrap();
        let seller = [ChainLink {
            user_id: 7,
            level_id: None,
        }];
        let tier1: Vec<i64> = p
            .lines
            .iter()
            .zip(&lines)
            .map(|(priced, l)| {
                let facts = LineFacts {
                    product_id: l.product_id,
                    sku_id: l.sku_id,
                    quantity: l.quantity,
                    paid_fen: priced.pay_amount_fen,
                    unit_cost_fen: 0,
                };
                commissions_for_line(&CommissionRules::default(), &facts, &seller)[0].amount_fen
            })
            .collect();
        // 20% of ¥93.34 = 18.668 → ¥18.67; 20% of ¥46.66 = 9.332 → ¥9.33.
        assert_eq!(tier1, vec![1_867, 933]);
    }
}
