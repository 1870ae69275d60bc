//! Promotions' part in orders: the activity stage (满减, with the next tier as a hint) and the
//! coupon stage (the buyer's choice, or the best coupon they hold) of the pricing pipeline, and
//! the coupon's life with its order — marked used when the order is placed (a coupon spent
//! meanwhile refuses the order), given back when the order is cancelled unpaid or wholly
//! refunded while the coupon is still valid.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{coupon, coupon_template, order, order_line};

use super::{
    rules::{self, ActivityRule, CartLine, CouponTerms, Scope, Unusable},
    service::{self, COUPON_AVAILABLE, COUPON_USED, ScopeKind},
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    orders::{
        errors::{OrderError, OrderErrorCode, OrderResult},
        listeners::{OrderListener, PricingStages, Refunded},
        pricing::{
            CouponChoice, CouponRefusal, Discount, DiscountSource, Gift, PricingRefusal,
            PricingRequest, PricingRule, PricingStage, PricingState, RuleOutcome, SourceKind,
        },
    },
};

pub struct PromotionsOrders;

fn cart(state: &PricingState<'_>) -> Vec<CartLine> {
    state
        .lines
        .iter()
        .zip(state.payable_fen)
        .map(|(l, p)| CartLine {
            product_id: l.product_id,
            category_id: l.category_id,
            payable_fen: *p,
            quantity: l.quantity,
        })
        .collect()
}

/// One running activity (满减 or 满赠).
struct Activity {
    id: i64,
    name: String,
    rule: ActivityRule,
    scope: Scope,
}

impl PricingRule for Activity {
    fn stage(&self) -> PricingStage {
        PricingStage::Promotion
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        let lines = cart(state);
        let eligible = rules::lines_in(&self.scope, &lines);
        let base: i64 = eligible.iter().map(|i| lines[*i].payable_fen).sum();
        let mut outcome = RuleOutcome::default();
        if eligible.is_empty() {
            return Ok(outcome);
        }
        let reduction = match &self.rule {
            ActivityRule::Reduction(r) => r,
            ActivityRule::Gift(g) => {
                let units: i64 = eligible.iter().map(|i| lines[*i].quantity).sum();
                let (reached, next) = g.apply(base, units);
                if let Some(t) = reached {
                    outcome.gifts.push(Gift {
                        sku_id: t.sku_id,
                        quantity: t.quantity,
                        label: format!("{}（{}）", g.label(), self.name),
                    });
                }
                if let Some((more, _)) = next {
                    outcome.hints.push(if g.by_quantity {
                        format!("再买 {more} 件可得赠品（{}）", self.name)
                    } else {
                        format!("再买 ¥{} 可得赠品（{}）", money(more), self.name)
                    });
                }
                return Ok(outcome);
            }
        };
        let (off, next) = reduction.apply(base);
        if off > 0 {
            outcome.discounts.push(Discount {
                label: format!("{}（{}）", reduction.label(), self.name),
                amount_fen: off,
                lines: Some(eligible),
                source: Some(DiscountSource {
                    kind: SourceKind::Activity,
                    id: Some(self.id),
                }),
            });
        }
        if let Some(n) = next {
            outcome.hints.push(format!(
                "再买 ¥{} 可减 ¥{}（{}）",
                money(n.more_fen),
                money(n.off_fen),
                self.name
            ));
        }
        Ok(outcome)
    }
}

fn money(fen: i64) -> String {
    crate::money::to_decimal(fen).to_string()
}

/// A coupon the buyer holds, ready to price.
pub struct HeldCoupon {
    pub coupon: coupon::Model,
    pub template: coupon_template::Model,
    pub terms: CouponTerms,
}

/// Why a held coupon cannot be used on this order now, before looking at the cart.
pub fn unusable_now(c: &coupon::Model, now: DateTime<Utc>) -> Option<(CouponRefusal, String)> {
    if c.status == COUPON_USED {
        return Some((CouponRefusal::AlreadyUsed, "this coupon was used".into()));
    }
    if c.valid_until <= now {
        return Some((CouponRefusal::Expired, "this coupon has expired".into()));
    }
    if c.valid_from > now {
        return Some((
            CouponRefusal::NotYetValid,
            format!("this coupon is valid from {}", c.valid_from.to_rfc3339()),
        ));
    }
    None
}

/// What the cart makes of a coupon: the refusal and its message.
pub fn unusable_on_cart(why: Unusable) -> (CouponRefusal, String) {
    match why {
        Unusable::NotInScope => (
            CouponRefusal::NotInScope,
            "nothing in this order is covered by the coupon".into(),
        ),
        Unusable::BelowThreshold { short_fen } => (
            CouponRefusal::BelowThreshold,
            format!("add ¥{} of covered items to use it", money(short_fen)),
        ),
        Unusable::NotStackable => (
            CouponRefusal::NotStackable,
            "this coupon cannot be combined with the order's 满减 activity".into(),
        ),
    }
}

/// The coupon stage.
struct CouponStage {
    choice: CouponChoice,
    /// The chosen coupon (any status), or every available coupon the buyer holds.
    held: Vec<HeldCoupon>,
    now: DateTime<Utc>,
}

impl CouponStage {
    fn outcome(&self, c: &HeldCoupon, offer: rules::CouponOffer) -> RuleOutcome {
        let label = format!(
            "{}（{}）",
            rules::coupon_label(c.terms.benefit, c.terms.threshold_fen),
            c.template.name
        );
        RuleOutcome {
            discounts: if offer.amount_fen > 0 {
                vec![Discount {
                    label: label.clone(),
                    amount_fen: offer.amount_fen,
                    lines: Some(offer.lines),
                    source: Some(DiscountSource {
                        kind: SourceKind::Coupon,
                        id: Some(c.coupon.id),
                    }),
                }]
            } else {
                Vec::new()
            },
            free_shipping: offer.free_shipping.then_some(label),
            coupon_id: Some(c.coupon.id),
            ..Default::default()
        }
    }
}

impl PricingRule for CouponStage {
    fn stage(&self) -> PricingStage {
        PricingStage::Coupon
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        let lines = cart(state);
        let activity_applied = state
            .applied
            .iter()
            .any(|a| a.stage == PricingStage::Promotion);
        match self.choice {
            CouponChoice::NoCoupon => Ok(RuleOutcome::default()),
            CouponChoice::Coupon(id) => {
                let Some(c) = self.held.iter().find(|c| c.coupon.id == id) else {
                    return Err(PricingRefusal::Coupon(
                        CouponRefusal::NotFound,
                        "you hold no such coupon".into(),
                    ));
                };
                if let Some((why, m)) = unusable_now(&c.coupon, self.now) {
                    return Err(PricingRefusal::Coupon(why, m));
                }
                match rules::coupon_offer(&c.terms, &lines, activity_applied) {
                    Ok(offer) => Ok(self.outcome(c, offer)),
                    Err(why) => {
                        let (why, m) = unusable_on_cart(why);
                        Err(PricingRefusal::Coupon(why, m))
                    }
                }
            }
            CouponChoice::Best => {
                let mut candidates = Vec::new();
                let mut nearest: Option<(i64, &HeldCoupon)> = None;
                for c in &self.held {
                    if unusable_now(&c.coupon, self.now).is_some() {
                        continue;
                    }
                    match rules::coupon_offer(&c.terms, &lines, activity_applied) {
                        Ok(offer) => candidates.push(rules::Candidate {
                            coupon_id: c.coupon.id,
                            amount_fen: offer.amount_fen,
                            free_shipping: offer.free_shipping,
                            valid_until: c.coupon.valid_until.timestamp(),
                        }),
                        Err(Unusable::BelowThreshold { short_fen })
                            if nearest.is_none_or(|(s, _)| short_fen < s) =>
                        {
                            nearest = Some((short_fen, c));
                        }
                        Err(_) => {}
                    }
                }
                let best = rules::best(&candidates);
                let mut outcome = match best
                    .and_then(|b| self.held.iter().find(|c| c.coupon.id == b.coupon_id))
                {
                    Some(c) => {
                        let offer = rules::coupon_offer(&c.terms, &lines, activity_applied)
                            .expect("a candidate's offer");
                        self.outcome(c, offer)
                    }
                    None => RuleOutcome::default(),
                };
                // The coupon within reach, when it would take more than the one applied.
                if let Some((short, c)) = nearest {
                    let worth = match c.terms.benefit {
                        rules::CouponBenefit::AmountOff { amount_fen } => amount_fen,
                        _ => 0,
                    };
                    if worth > best.map_or(0, |b| b.amount_fen) {
                        outcome.hints.push(format!(
                            "再买 ¥{} 可用「{}」券",
                            money(short),
                            rules::coupon_label(c.terms.benefit, c.terms.threshold_fen)
                        ));
                    }
                }
                Ok(outcome)
            }
        }
    }
}

/// The coupons a checkout considers: the one chosen (whatever its state, to say why it
/// cannot be used), or every available one the buyer holds.
pub async fn coupons_for(
    app: &AppState,
    buyer_id: i64,
    choice: CouponChoice,
) -> Result<Vec<HeldCoupon>, AppError> {
    let conn = app.db.conn();
    let found = match choice {
        CouponChoice::NoCoupon => return Ok(Vec::new()),
        CouponChoice::Coupon(id) => service::held(conn, buyer_id, false, Some(id)).await?,
        CouponChoice::Best => service::held(conn, buyer_id, true, None).await?,
    };
    let mut held = Vec::with_capacity(found.len());
    for (coupon, template) in found {
        let terms = service::terms_of(app, &template).await?;
        held.push(HeldCoupon {
            coupon,
            template,
            terms,
        });
    }
    Ok(held)
}

#[async_trait]
impl PricingStages for PromotionsOrders {
    async fn rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError> {
        let now = Utc::now();
        let mut stages: Vec<Box<dyn PricingRule>> = Vec::new();
        let running = app.activities.running(app.db.conn(), now).await?;
        let for_levels = running
            .iter()
            .any(|a| !service::ids_of(&a.level_ids).is_empty());
        let level = if for_levels {
            crate::members::level_for_pricing(app, request)
                .await?
                .map(|l| l.id)
        } else {
            None
        };
        for a in running {
            let levels = service::ids_of(&a.level_ids);
            if !levels.is_empty() && !level.is_some_and(|l| levels.contains(&l)) {
                continue;
            }
            let Some(rule) = service::rule_of(&a) else {
                continue;
            };
            stages.push(Box::new(Activity {
                id: a.id,
                name: a.name.clone(),
                rule,
                scope: service::scope_of(app, ScopeKind::parse(&a.scope), &a.scope_ids).await?,
            }));
        }
        stages.push(Box::new(CouponStage {
            choice: request.coupon,
            held: coupons_for(app, request.buyer_id, request.coupon).await?,
            now,
        }));
        Ok(stages)
    }
}

/// Promotions' labels on products: every running activity for all buyers whose scope covers
/// the product ("满100减10 / 满200减30", "满199赠"). Activities for some member levels only are
/// not shown on products.
pub struct PromotionBadges;

#[async_trait]
impl crate::catalog::badges::ProductBadges for PromotionBadges {
    fn version(&self, app: &AppState, now: DateTime<Utc>) -> Option<u64> {
        app.activities.version(now)
    }

    async fn badges(
        &self,
        app: &AppState,
        product: &entity::product::Model,
    ) -> Result<Vec<String>, AppError> {
        let mut out = Vec::new();
        for a in app.activities.running(app.db.conn(), Utc::now()).await? {
            if !service::ids_of(&a.level_ids).is_empty() {
                continue;
            }
            let scope = service::scope_of(app, ScopeKind::parse(&a.scope), &a.scope_ids).await?;
            if !scope.covers(product.id, product.category_id) {
                continue;
            }
            if let Some(rule) = service::rule_of(&a) {
                out.push(rule.label());
            }
        }
        Ok(out)
    }
}

/// Gives `order`'s coupon back, if it is still valid.
async fn give_back(tx: &WriteTx, order: &order::Model) -> Result<(), AppError> {
    let Some(coupon_id) = order.coupon_id else {
        return Ok(());
    };
    use sea_orm::ConnectionTrait;
    tx.execute_raw(crate::db::stmt(
        tx.get_database_backend(),
        "UPDATE coupons SET status = $1, order_id = NULL, used_at = NULL \
         WHERE id = $2 AND order_id = $3 AND valid_until > $4",
        [
            COUPON_AVAILABLE.into(),
            coupon_id.into(),
            order.id.into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    Ok(())
}

#[async_trait]
impl OrderListener for PromotionsOrders {
    async fn on_placed(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _lines: &[order_line::Model],
        _request: &crate::orders::pricing::PricingRequest,
    ) -> OrderResult<()> {
        let Some(coupon_id) = order.coupon_id else {
            return Ok(());
        };
        use sea_orm::ConnectionTrait;
        let now = Utc::now();
        let used = tx
            .execute_raw(crate::db::stmt(
                tx.get_database_backend(),
                "UPDATE coupons SET status = $1, order_id = $2, used_at = $3 \
                 WHERE id = $4 AND user_id = $5 AND status = $6 AND valid_from <= $3 \
                 AND valid_until > $3",
                [
                    COUPON_USED.into(),
                    order.id.into(),
                    now.into(),
                    coupon_id.into(),
                    order.user_id.into(),
                    COUPON_AVAILABLE.into(),
                ],
            ))
            .await?;
        if used.rows_affected() == 0 {
            return Err(crate::error::ServiceError::User(vec![OrderError::new(
                OrderErrorCode::CouponAlreadyUsed,
                Some("couponId"),
                "this coupon was just used by another order",
            )]));
        }
        Ok(())
    }

    async fn on_cancelled(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        give_back(tx, order).await
    }

    async fn on_refunded(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        // Only a whole refund of the goods gives the coupon back (the shipping fee of a shipped
        // order is not refunded): a partial one keeps the order, which used the coupon.
        if order.refunded_fen >= order.pay_amount_fen - order.shipping_fee_fen {
            give_back(tx, order).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;
    use crate::orders::{
        pricing::{PricingLine, price},
        refund_rules::LineMoney,
    };
    use crate::promotions::rules::Reduction;

    fn held(id: i64, terms: CouponTerms) -> HeldCoupon {
        let now = Utc::now();
        HeldCoupon {
            coupon: coupon::Model {
                id,
                template_id: id,
                user_id: 1,
                status: COUPON_AVAILABLE.into(),
                source: "CLAIMED".into(),
                valid_from: now - chrono::Duration::days(1),
                valid_until: now + chrono::Duration::days(1),
                order_id: None,
                used_at: None,
                created_at: now,
            },
            template: coupon_template::Model {
                id,
                name: format!("券{id}"),
                benefit: "AMOUNT_OFF".into(),
                threshold_fen: terms.threshold_fen,
                amount_fen: 0,
                rate_bp: 10_000,
                cap_fen: None,
                scope: "SHOP".into(),
                scope_ids: "[]".into(),
                audience: "ANYONE".into(),
                audience_ids: "[]".into(),
                valid_from: None,
                valid_until: None,
                valid_days: Some(1),
                total_quantity: 1,
                issued_count: 1,
                per_user_limit: 1,
                stacks_with_activities: terms.stacks_with_activities,
                claimable: true,
                points_price: None,
                issue_on: None,
                status: "ACTIVE".into(),
                created_at: now,
                updated_at: now,
            },
            terms,
        }
    }

    fn scope(rng: &mut StdRng) -> Scope {
        let some =
            |rng: &mut StdRng| -> HashSet<i64> { (1..=6).filter(|_| rng.gen_bool(0.5)).collect() };
        match rng.gen_range(0..4) {
            0 => Scope::Shop,
            1 => Scope::Categories(some(rng)),
            2 => Scope::Products(some(rng)),
            _ => Scope::AllExcept(some(rng)),
        }
    }

    /// Over random carts, member rates, 满减 rules, coupons and partial refunds: every line
    /// pays between 0 and its total, the lines add up to what the order pays, each discount's
    /// line shares add up to it and a line's discount is the sum of its shares, and a line's
    /// refunds, however split, add up to exactly what it paid.
    #[test]
    fn every_stage_adds_up_to_the_fen_and_refunds_return_each_lines_own_share() {
        let mut rng = StdRng::seed_from_u64(1919);
        for _ in 0..3_000 {
            let lines: Vec<PricingLine> = (0..rng.gen_range(1..=6))
                .map(|i| PricingLine {
                    sku_id: i + 1,
                    product_id: rng.gen_range(1..=6),
                    category_id: Some(rng.gen_range(1..=6)),
                    unit_price_fen: rng.gen_range(0..=50_000),
                    quantity: rng.gen_range(1..=5),
                    weight_grams: 0,
                })
                .collect();
            let member = crate::members::order_hooks::MemberPrice {
                level_id: 1,
                label: "金卡会员".into(),
                rate_bp: rng.gen_range(5_000..=10_000),
                free_shipping: false,
            };
            let step = rng.gen_range(1..=50_000);
            let activity = Activity {
                id: 1,
                name: "满减".into(),
                rule: ActivityRule::Reduction(if rng.gen_bool(0.5) {
                    Reduction::Tiers(vec![
                        rules::Tier {
                            threshold_fen: step,
                            off_fen: rng.gen_range(1..=step),
                        },
                        rules::Tier {
                            threshold_fen: step * 3,
                            off_fen: step + 1,
                        },
                    ])
                } else {
                    Reduction::Every {
                        step_fen: step,
                        off_fen: rng.gen_range(1..=step),
                        cap_fen: rng.gen_bool(0.5).then_some(step * 2),
                    }
                }),
                scope: scope(&mut rng),
            };
            assert_eq!(activity.rule.validate(), Ok(()));
            let benefit = if rng.gen_bool(0.5) {
                rules::CouponBenefit::AmountOff {
                    amount_fen: rng.gen_range(1..=100_000),
                }
            } else {
                rules::CouponBenefit::PercentOff {
                    rate_bp: rng.gen_range(1..10_000),
                    cap_fen: rng.gen_bool(0.5).then(|| rng.gen_range(1..=100_000)),
                }
            };
            let coupons = CouponStage {
                choice: CouponChoice::Best,
                held: vec![held(
                    7,
                    CouponTerms {
                        benefit,
                        threshold_fen: rng.gen_range(0..=100_000),
                        scope: scope(&mut rng),
                        stacks_with_activities: rng.gen_bool(0.7),
                    },
                )],
                now: Utc::now(),
            };
            let request = PricingRequest::default();
            let p = price(&request, &lines, &[&member, &activity, &coupons], None).unwrap();
            let paid: i64 = p.lines.iter().map(|l| l.pay_amount_fen).sum();
            assert_eq!(paid, p.pay_amount_fen);
            for (i, (l, pl)) in lines.iter().zip(&p.lines).enumerate() {
                assert!(pl.pay_amount_fen >= 0 && pl.pay_amount_fen <= l.total_fen());
                let shares: i64 = p.discounts.iter().map(|d| d.line_shares[i]).sum();
                assert_eq!(shares, pl.discount_fen, "line {i}");
                assert_eq!(pl.line_total_fen - pl.discount_fen, pl.pay_amount_fen);
            }
            for d in &p.discounts {
                assert_eq!(d.line_shares.iter().sum::<i64>(), d.amount_fen);
            }
            // Refunds of every line in random pieces.
            for (l, pl) in lines.iter().zip(&p.lines) {
                let mut m = LineMoney {
                    quantity: l.quantity,
                    pay_amount_fen: pl.pay_amount_fen,
                    refunded_quantity: 0,
                    refunded_fen: 0,
                };
                while m.refundable_quantity() > 0 {
                    let q = rng.gen_range(1..=m.refundable_quantity());
                    let back = m.refund_of(q).unwrap();
                    assert!(back >= 0);
                    m.refunded_quantity += q;
                    m.refunded_fen += back;
                    assert!(m.refunded_fen <= m.pay_amount_fen);
                }
                assert_eq!(m.refunded_fen, pl.pay_amount_fen);
            }
        }
    }
}
