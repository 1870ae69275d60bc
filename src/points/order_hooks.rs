//! What points do at an order's moments and in its pricing (`orders::listeners`): the points
//! stage of checkout (a deduction, or a points-mall redemption), spending when the order is
//! placed, pending points when it is paid, credited when it completes, and what cancelling and
//! refunding give back and take back.
use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use entity::{order, order_line, points_earning, points_mall_item};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{
    ledger::{self, EntryKind, Reference},
    rules::{self, DeductionError, DeductionRules},
    service::{self, PointsTask},
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::{AppError, ServiceError},
    orders::{
        errors::{OrderError, OrderErrorCode, OrderResult},
        listeners::{OrderListener, PricingStages, Refunded},
        pricing::{
            Discount, DiscountSource, LinePoints, PointsRefusal, PricingRefusal, PricingRequest,
            PricingRule, PricingStage, PricingState, RuleOutcome, SourceKind,
        },
        rules::OrderSource,
    },
};

/// Points' part in orders.
pub struct PointsOrders;

/// What a points discount is kept as on the order.
const POINTS_SOURCE: DiscountSource = DiscountSource {
    kind: SourceKind::Points,
    id: None,
};

/// The deduction stage: `points` off the goods at the configured rate and cap.
struct Deduction {
    points: i64,
    rules: DeductionRules,
    balance: i64,
}

impl PricingRule for Deduction {
    fn stage(&self) -> PricingStage {
        PricingStage::Points
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        let refuse = |why, m: String| Err(PricingRefusal::Points(why, m));
        let d = match rules::deduct(self.points, state.payable_fen, self.rules) {
            Ok(d) => d,
            Err(DeductionError::Negative) => {
                return refuse(PointsRefusal::Invalid, "points cannot be negative".into());
            }
            Err(DeductionError::NothingToDeduct) => {
                return refuse(
                    PointsRefusal::Invalid,
                    "these items cost nothing: there is nothing for points to pay".into(),
                );
            }
            Err(DeductionError::NotWholeFen) => {
                return refuse(
                    PointsRefusal::Invalid,
                    format!(
                        "{} points make ¥1: use a number of points that makes whole fen",
                        self.rules.points_per_yuan
                    ),
                );
            }
            Err(DeductionError::OverCap) => {
                return refuse(
                    PointsRefusal::OverCap,
                    format!(
                        "at most {} points ({}% of the goods) on this order",
                        self.rules.max_points(state.payable_total_fen()),
                        self.rules.cap_percent
                    ),
                );
            }
        };
        if self.points > self.balance {
            return refuse(
                PointsRefusal::Insufficient,
                format!("you have {} points", self.balance.max(0)),
            );
        }
        Ok(RuleOutcome {
            discounts: vec![Discount {
                label: format!("积分抵扣 {} 分", self.points),
                amount_fen: d.total_fen(),
                lines: None,
                source: Some(POINTS_SOURCE),
            }],
            points: d
                .points
                .iter()
                .enumerate()
                .filter(|(_, p)| **p > 0)
                .map(|(line, points)| LinePoints {
                    line,
                    points: *points,
                })
                .collect(),
            ..Default::default()
        })
    }
}

/// A points-mall redemption: each line costs its item's points and cash.
struct Redemption {
    items: HashMap<i64, points_mall_item::Model>,
    balance: i64,
}

impl PricingRule for Redemption {
    fn stage(&self) -> PricingStage {
        PricingStage::Points
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        let mut outcome = RuleOutcome::default();
        let mut total = 0;
        for (i, l) in state.lines.iter().enumerate() {
            let Some(item) = self.items.get(&l.sku_id) else {
                return Err(PricingRefusal::Points(
                    PointsRefusal::NotRedeemable,
                    "this item is not in the points mall".into(),
                ));
            };
            let (discount, points) =
                rules::redemption(l.unit_price_fen, l.quantity, item.points, item.cash_fen);
            outcome.discounts.push(Discount {
                label: "积分兑换".into(),
                amount_fen: discount,
                lines: Some(vec![i]),
                source: Some(POINTS_SOURCE),
            });
            outcome.points.push(LinePoints { line: i, points });
            total += points;
        }
        if total > self.balance {
            return Err(PricingRefusal::Points(
                PointsRefusal::Insufficient,
                format!(
                    "this costs {total} points and you have {}",
                    self.balance.max(0)
                ),
            ));
        }
        Ok(outcome)
    }
}

#[async_trait]
impl PricingStages for PointsOrders {
    async fn rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError> {
        if request.points_mall {
            let items = points_mall_item::Entity::find()
                .filter(points_mall_item::Column::Active.eq(true))
                .all(app.db.conn())
                .await?
                .into_iter()
                .map(|i| (i.sku_id, i))
                .collect();
            let balance = ledger::balance_of(app.db.conn(), request.buyer_id).await?;
            return Ok(vec![Box::new(Redemption { items, balance })]);
        }
        if request.points_to_use == 0 {
            return Ok(Vec::new());
        }
        let balance = if request.points_to_use > 0 {
            ledger::balance_of(app.db.conn(), request.buyer_id).await?
        } else {
            0
        };
        Ok(vec![Box::new(Deduction {
            points: request.points_to_use,
            rules: DeductionRules {
                points_per_yuan: app.config.points_per_yuan_deducted,
                cap_percent: app.config.points_deduction_cap_percent,
            },
            balance,
        })])
    }
}

fn order_ref(order: &order::Model, kind: EntryKind) -> Reference<'_> {
    Reference {
        kind,
        reference_type: "ORDER",
        reference_id: order.id,
        note: Some(&order.order_no),
        actor_user_id: None,
    }
}

/// Gives back `amount` of what `order` spent, to the lots it came from.
async fn give_back(
    app: &AppState,
    tx: &WriteTx,
    order: &order::Model,
    amount: i64,
) -> Result<(), AppError> {
    if amount <= 0 {
        return Ok(());
    }
    let now = Utc::now();
    let spent = ledger::spent_on_order(&**tx, order.user_id, order.id).await?;
    let outstanding: i64 = spent.values().sum();
    let lots = rules::return_to_lots(
        &spent,
        amount.min(outstanding),
        now,
        service::lot_for_now(&app.config, now),
    );
    ledger::credit(
        tx,
        order.user_id,
        &lots,
        order_ref(order, EntryKind::Return),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl OrderListener for PointsOrders {
    async fn on_placed(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
        _request: &crate::orders::pricing::PricingRequest,
    ) -> OrderResult<()> {
        let points: i64 = lines.iter().map(|l| l.points_used).sum();
        if points <= 0 {
            return Ok(());
        }
        match ledger::debit(
            tx,
            order.user_id,
            points,
            false,
            order_ref(order, EntryKind::Spend),
        )
        .await?
        {
            Some(_) => Ok(()),
            None => Err(ServiceError::User(vec![OrderError::new(
                OrderErrorCode::InsufficientPoints,
                Some("pointsToUse"),
                format!("this order spends {points} points and you have fewer"),
            )])),
        }
    }

    async fn on_paid(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        if order.source == OrderSource::PointsMall.as_str() || app.config.points_earn_per_yuan == 0
        {
            return Ok(());
        }
        let goods: i64 = lines
            .iter()
            .filter(|l| !l.is_gift)
            .map(|l| l.pay_amount_fen)
            .sum();
        let multiplier = crate::members::benefits_of(&**tx, order.user_id)
            .await?
            .points_multiplier;
        let points = rules::earned_points(goods, app.config.points_earn_per_yuan, multiplier);
        let now = Utc::now();
        points_earning::Entity::insert(points_earning::ActiveModel {
            order_id: Set(order.id),
            user_id: Set(order.user_id),
            goods_fen: Set(goods),
            refunded_goods_fen: Set(0),
            points_per_yuan: Set(app.config.points_earn_per_yuan.to_string()),
            multiplier: Set(multiplier.to_string()),
            points: Set(points),
            credited: Set(0),
            status: Set("PENDING".into()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&**tx)
        .await?;
        Ok(())
    }

    async fn on_completed(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        if let Some(e) = points_earning::Entity::find_by_id(order.id)
            .filter(points_earning::Column::Status.eq("PENDING"))
            .one(&**tx)
            .await?
        {
            let now = Utc::now();
            let due = e.points - e.credited;
            let mut row: points_earning::ActiveModel = e.clone().into();
            row.status = Set("CREDITED".into());
            row.credited = Set(e.points);
            row.updated_at = Set(now);
            row.update(&**tx).await?;
            if due > 0 {
                ledger::credit(
                    tx,
                    order.user_id,
                    &[(service::lot_for_now(&app.config, now), due)],
                    order_ref(order, EntryKind::Earn),
                )
                .await?;
            }
        }
        let first = i64::from(app.config.points_task_first_order);
        if first > 0 && order.source != OrderSource::PointsMall.as_str() {
            service::pay_once(
                app,
                tx,
                order.user_id,
                (PointsTask::FirstOrder.as_str(), "ONCE", ""),
                first,
                EntryKind::Task,
            )
            .await?;
        }
        Ok(())
    }

    async fn on_cancelled(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        let spent = ledger::spent_on_order(&**tx, order.user_id, order.id).await?;
        let outstanding: i64 = spent.values().sum();
        give_back(app, tx, order, outstanding).await
    }

    async fn on_refunded(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        // The points the refunded units spent come back.
        let back: i64 = refund
            .lines
            .iter()
            .map(|r| {
                rules::points_returned(
                    r.line.points_used,
                    r.line.quantity,
                    r.line.refunded_quantity - r.quantity,
                    r.quantity,
                )
            })
            .sum();
        give_back(app, tx, order, back).await?;
        // What the order earns shrinks with the money it keeps.
        let goods = refund.goods_fen();
        if goods <= 0 {
            return Ok(());
        }
        let Some(e) = points_earning::Entity::find_by_id(order.id)
            .one(&**tx)
            .await?
        else {
            return Ok(());
        };
        let per_yuan: u32 = e.points_per_yuan.parse().unwrap_or(0);
        let multiplier: Decimal = e.multiplier.parse().unwrap_or(Decimal::ONE);
        let refunded = (e.refunded_goods_fen + goods).min(e.goods_fen);
        // What the kept money earns (`rules::reversed_by_refund` is the difference).
        let still =
            rules::earned_points(e.goods_fen - refunded, per_yuan, multiplier).clamp(0, e.points);
        let take_back = if e.status == "CREDITED" {
            (e.credited - still).max(0)
        } else {
            0
        };
        let mut row: points_earning::ActiveModel = e.clone().into();
        row.refunded_goods_fen = Set(refunded);
        row.points = Set(still);
        if e.status == "CREDITED" {
            row.credited = Set(e.credited - take_back);
        }
        row.updated_at = Set(Utc::now());
        row.update(&**tx).await?;
        if take_back > 0 {
            ledger::debit(
                tx,
                order.user_id,
                take_back,
                true,
                order_ref(order, EntryKind::Reverse),
            )
            .await?;
        }
        Ok(())
    }
}

/// Points for sharing: a distributor's share link opened by someone else.
pub struct PointsSharing;

#[async_trait]
impl crate::distribution::team::ShareVisitListener for PointsSharing {
    async fn on_share_visit(
        &self,
        app: &AppState,
        tx: &WriteTx,
        sharer_user_id: i64,
        visitor_user_id: i64,
    ) -> Result<(), AppError> {
        service::share_visited(app, tx, sharer_user_id, visitor_user_id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::pricing::{PricingLine, price};

    fn line(sku: i64, price_fen: i64, qty: i64) -> PricingLine {
        PricingLine {
            sku_id: sku,
            product_id: sku,
            category_id: None,
            unit_price_fen: price_fen,
            quantity: qty,
            weight_grams: 100,
        }
    }

    fn stage(points: i64, balance: i64) -> Deduction {
        Deduction {
            points,
            rules: DeductionRules {
                points_per_yuan: 100,
                cap_percent: 50,
            },
            balance,
        }
    }

    fn refusal(r: Result<crate::orders::pricing::Priced, PricingRefusal>) -> PointsRefusal {
        match r {
            Err(PricingRefusal::Points(why, _)) => why,
            other => panic!("not a points refusal: {other:?}"),
        }
    }

    #[test]
    fn the_deduction_runs_after_other_discounts_and_the_lines_add_up() {
        let lines = [line(1, 10_000, 1), line(2, 3_333, 3)];
        let p = price(
            &PricingRequest::default(),
            &lines,
            &[&stage(2_001, 5_000)],
            None,
        )
        .unwrap();
        assert_eq!(p.points_discount_fen, 2_001);
        assert_eq!(p.points_used, 2_001);
        let paid: i64 = p.lines.iter().map(|l| l.pay_amount_fen).sum();
        assert_eq!(paid, p.pay_amount_fen);
        assert_eq!(p.pay_amount_fen, 19_999 - 2_001);
        let spent: i64 = p.lines.iter().map(|l| l.points_used).sum();
        assert_eq!(spent, 2_001);
    }

    #[test]
    fn bad_deductions_are_refused_with_their_reason() {
        let lines = [line(1, 10_000, 1)];
        let req = PricingRequest::default();
        assert_eq!(
            refusal(price(&req, &lines, &[&stage(5_001, 9_999)], None)),
            PointsRefusal::OverCap
        );
        assert_eq!(
            refusal(price(&req, &lines, &[&stage(-1, 9_999)], None)),
            PointsRefusal::Invalid
        );
        assert_eq!(
            refusal(price(&req, &lines, &[&stage(1_000, 999)], None)),
            PointsRefusal::Insufficient
        );
        // A line that costs nothing leaves nothing for points to pay.
        assert_eq!(
            refusal(price(&req, &[line(1, 0, 1)], &[&stage(100, 9_999)], None)),
            PointsRefusal::Invalid
        );
    }

    #[test]
    fn a_redemption_costs_points_and_cash_and_refuses_other_skus() {
        let now = Utc::now();
        let item = points_mall_item::Model {
            sku_id: 1,
            points: 1_000,
            cash_fen: 990,
            active: true,
            updated_by: None,
            created_at: now,
            updated_at: now,
        };
        let r = Redemption {
            items: [(1, item)].into(),
            balance: 2_000,
        };
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 2)],
            &[&r],
            None,
        )
        .unwrap();
        assert_eq!((p.pay_amount_fen, p.points_used), (1_980, 2_000));
        assert_eq!(
            refusal(price(
                &PricingRequest::default(),
                &[line(1, 10_000, 3)],
                &[&r],
                None
            )),
            PointsRefusal::Insufficient
        );
        assert_eq!(
            refusal(price(
                &PricingRequest::default(),
                &[line(2, 10_000, 1)],
                &[&r],
                None
            )),
            PointsRefusal::NotRedeemable
        );
    }
}
