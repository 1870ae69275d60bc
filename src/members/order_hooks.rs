//! What members do at an order's moments and in its pricing (`orders::listeners`): payment
//! raises growth (and the level with it), refunds lower growth; the buyer's level gives the
//! member price stage (line by line) and free shipping; early access lets a level buy a
//! scheduled product before its on-sale time.
use async_trait::async_trait;
use entity::{order, order_line};

use super::{rules, service};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    orders::{
        listeners::{EarlyAccess, OrderListener, PricingStages, Refunded},
        pricing::{
            Discount, DiscountSource, PricingRefusal, PricingRequest, PricingRule, PricingStage,
            PricingState, RuleOutcome, SourceKind,
        },
    },
};

/// Members' part in orders.
pub struct MembersOrders;

#[async_trait]
impl OrderListener for MembersOrders {
    async fn on_paid(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        let goods: i64 = lines
            .iter()
            .filter(|l| !l.is_gift)
            .map(|l| l.pay_amount_fen)
            .sum();
        service::on_paid(tx, order.user_id, order.id, goods).await
    }

    async fn on_refunded(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        service::on_refunded(
            tx,
            order.user_id,
            order.id,
            refund.refund_no,
            refund.goods_fen(),
        )
        .await
    }
}

/// The member stage: the level's rate on each line, and its free shipping.
pub struct MemberPrice {
    pub level_id: i64,
    pub label: String,
    pub rate_bp: i32,
    pub free_shipping: bool,
}

impl PricingRule for MemberPrice {
    fn stage(&self) -> PricingStage {
        PricingStage::MemberDiscount
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        // Line by line, each on its own unit price (see `rules` for the rounding), so the
        // discount is what `Sku.memberPrice` showed, to the fen.
        let discounts = state
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| Discount {
                label: format!("{}价", self.label),
                amount_fen: rules::member_line_discount_fen(
                    l.unit_price_fen,
                    l.quantity,
                    self.rate_bp,
                ),
                lines: Some(vec![i]),
                source: Some(DiscountSource {
                    kind: SourceKind::Level,
                    id: Some(self.level_id),
                }),
            })
            .filter(|d| d.amount_fen > 0)
            .collect();
        Ok(RuleOutcome {
            discounts,
            free_shipping: self.free_shipping.then(|| format!("{}包邮", self.label)),
            ..Default::default()
        })
    }
}

#[async_trait]
impl PricingStages for MembersOrders {
    async fn rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError> {
        let Some(level) = super::level_for_pricing(app, request).await? else {
            return Ok(Vec::new());
        };
        if level.price_rate_bp >= rules::FULL_RATE_BP && !level.free_shipping {
            return Ok(Vec::new());
        }
        Ok(vec![Box::new(MemberPrice {
            level_id: level.id,
            label: level.badge_name,
            rate_bp: level.price_rate_bp,
            free_shipping: level.free_shipping,
        })])
    }
}

#[async_trait]
impl EarlyAccess for MembersOrders {
    async fn lead_time(&self, app: &AppState, buyer_id: i64) -> Result<chrono::Duration, AppError> {
        let hours = service::level_of(app.db.conn(), buyer_id)
            .await?
            .map_or(0, |l| l.early_access_hours);
        Ok(chrono::Duration::hours(i64::from(hours.max(0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::pricing::{PricingLine, price};

    fn line(price_fen: i64, quantity: i64) -> PricingLine {
        PricingLine {
            sku_id: 1,
            product_id: 1,
            category_id: None,
            unit_price_fen: price_fen,
            quantity,
            weight_grams: 100,
        }
    }

    #[test]
    fn the_member_stage_discounts_each_line_at_its_unit_price() {
        let gold = MemberPrice {
            level_id: 3,
            label: "金卡会员".into(),
            rate_bp: 9_000,
            free_shipping: false,
        };
        // ¥100.00 × 1 at 90 %: ¥90.00; ¥1.25 × 4 at 90 %: ¥1.13 each, ¥4.52.
        let p = price(
            &PricingRequest::default(),
            &[line(10_000, 1), line(125, 4)],
            &[&gold],
            None,
        )
        .unwrap();
        assert_eq!(p.lines[0].pay_amount_fen, 9_000);
        assert_eq!(p.lines[0].member_discount_fen, 1_000);
        assert_eq!(p.lines[1].pay_amount_fen, 452);
        assert_eq!(p.member_discount_fen, 1_048);
        assert_eq!(p.pay_amount_fen, 9_452);
        assert_eq!(p.discounts[0].label, "金卡会员价");
    }
}
