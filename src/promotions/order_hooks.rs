//! Promotions' part in orders: the activity stage (满减, with the next tier as a hint) and the
//! coupon stage (the buyer's choice, or the best coupon they hold) of the pricing pipeline, and
//! the coupon's life with its order — marked used when the order is placed (a coupon spent
//! meanwhile refuses the order), given back when the order is cancelled unpaid or wholly
//! refunded while the coupon is still valid.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{coupon, coupon_template, order, order_line};

use super::{
    rules::{self, CartLine, CouponTerms, Reduction, Scope, Unusable},
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
            CouponChoice, CouponRefusal, Discount, DiscountSource, PricingRefusal, PricingRequest,
            PricingRule, PricingStage, PricingState, RuleOutcome, SourceKind,
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

/// One running 满减 activity.
struct Activity {
    id: i64,
    name: String,
    rule: Reduction,
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
        let (off, next) = self.rule.apply(base);
        let mut outcome = RuleOutcome::default();
        if eligible.is_empty() {
            return Ok(outcome);
        }
        if off > 0 {
            outcome.discounts.push(Discount {
                label: format!("{}（{}）", self.rule.label(), self.name),
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
        let label = format!("{}（{}）", rules::coupon_label(&c.terms), c.template.name);
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
                            rules::coupon_label(&c.terms)
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
        CouponChoice::Coupon(id) => {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let mine = coupon::Entity::find_by_id(id)
                .filter(coupon::Column::UserId.eq(buyer_id))
                .all(conn)
                .await?;
            service::with_templates(conn, mine).await?
        }
        CouponChoice::Best => service::held(conn, buyer_id, true).await?,
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
        let running = service::running(app.db.conn(), now).await?;
        let for_levels = running
            .iter()
            .any(|a| !service::ids_of(&a.level_ids).is_empty());
        let level = if for_levels {
            crate::members::benefits_of(app.db.conn(), request.buyer_id)
                .await?
                .level_id
        } else {
            None
        };
        for a in running {
            let levels = service::ids_of(&a.level_ids);
            if !levels.is_empty() && !level.is_some_and(|l| levels.contains(&l)) {
                continue;
            }
            let Some(rule) = service::reduction_of(&a) else {
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
        // Only a whole refund gives the coupon back: a partial one keeps the order, which used it.
        if order.refunded_fen >= order.pay_amount_fen {
            give_back(tx, order).await?;
        }
        Ok(())
    }
}
