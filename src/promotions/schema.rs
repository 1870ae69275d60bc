//! The promotions area's GraphQL face: the coupon centre and the buyer's coupons, which coupons
//! a checkout can use and why not, and staff creating coupon templates and 满减 activities and
//! issuing coupons.
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::Utc;
use entity::{coupon_template, promotion_activity};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use super::{
    errors::{PromotionError, PromotionErrorCode as Code},
    order_hooks::{self, unusable_now, unusable_on_cart},
    rules,
    service::{self, ActivityDraft, Audience, BenefitKind, ScopeKind, StoredRule, TemplateDraft},
    types::{Coupon, CouponOption, CouponStatus, CouponTemplate, PromotionActivity},
};
use crate::{
    auth::{Permission, PermissionGuard},
    graphql::{
        context::CtxExt,
        errors::{payload, refused},
        ids,
        scalars::{DateTime, Money, Percent},
    },
    money,
    orders::{
        checkout,
        errors::OrderErrorCode,
        pricing::{CouponChoice, PricingStage},
        schema::CheckoutInput,
    },
};

fn fen(m: &Money, field: &str) -> std::result::Result<i64, PromotionError> {
    money::to_fen(m.0)
        .filter(|f| *f >= 0)
        .ok_or_else(|| PromotionError::new(Code::InvalidAmount, Some(field), "not an amount"))
}

fn decode_all(type_name: &str, list: &[ID]) -> Vec<i64> {
    // An id that names nothing becomes 0, which matches no row and is refused as unknown.
    list.iter()
        .map(|id| ids::decode(type_name, id).unwrap_or(0))
        .collect()
}

fn scope_type(scope: ScopeKind) -> &'static str {
    match scope {
        ScopeKind::Categories => "Category",
        _ => "Product",
    }
}

/// A coupon template to create.
#[derive(InputObject)]
pub struct CouponTemplateInput {
    /// 1 to 40 characters.
    name: String,
    /// What its coupons give.
    benefit: BenefitKind,
    /// What the covered items must cost, in yuan; default 0.00 (no threshold).
    threshold: Option<Money>,
    /// `AMOUNT_OFF`: the amount off, in yuan (at least 0.01, at most the threshold when there
    /// is one).
    amount: Option<Money>,
    /// `PERCENT_OFF`: the share of the price still paid, in percent (8.5折 is 85.00; 0.01 to
    /// 99.99).
    rate: Option<Percent>,
    /// `PERCENT_OFF`: the most taken off, in yuan; none when omitted.
    cap: Option<Money>,
    /// Which products it covers; default `SHOP`.
    #[graphql(default_with = "ScopeKind::Shop")]
    scope: ScopeKind,
    /// The categories (`CATEGORIES`, sub-categories included) or products (`PRODUCTS`,
    /// `ALL_EXCEPT`).
    #[graphql(default)]
    scope_ids: Vec<ID>,
    /// Who may have it; default `ANYONE`.
    #[graphql(default_with = "Audience::Anyone")]
    audience: Audience,
    /// The member levels of a `LEVELS` audience.
    #[graphql(default)]
    level_ids: Vec<ID>,
    /// A fixed validity window: its start (with `validUntil`, without `validDays`).
    valid_from: Option<DateTime>,
    /// A fixed validity window: its end, in the future; giving out stops then too.
    valid_until: Option<DateTime>,
    /// Or: days a coupon is valid from when it is given, 1 to 3,650.
    valid_days: Option<i32>,
    /// Coupons there are in all, 1 to 10,000,000.
    total_quantity: i64,
    /// How many one person may hold, 1 to 100; default 1.
    #[graphql(default = 1)]
    per_user_limit: i32,
    /// Whether it may be used on an order a 满减 activity already discounted; default true.
    #[graphql(default = true)]
    stacks_with_activities: bool,
    /// Whether buyers can claim it in the coupon centre; default true (false: only issued by
    /// staff).
    #[graphql(default = true)]
    claimable: bool,
    /// Points a buyer may exchange for one coupon (`exchangePointsForCoupon`), 1 to
    /// 100,000,000; not exchangeable when omitted.
    points_price: Option<i64>,
    /// Give one automatically to every customer in its audience on this occasion: on
    /// registration (新人券), or on each birthday (once a year; the per-user limit does not
    /// apply). Omitted: only claimed, exchanged, redeemed or issued by staff.
    issue_on: Option<super::occasions::Occasion>,
}

impl CouponTemplateInput {
    fn draft(self) -> std::result::Result<TemplateDraft, PromotionError> {
        // Out of range becomes -1, which the service refuses with the rate's message.
        let rate_bp = self.rate.map_or(0, |p| p.basis_points().unwrap_or(-1));
        Ok(TemplateDraft {
            name: self.name,
            benefit: self.benefit,
            threshold_fen: self
                .threshold
                .as_ref()
                .map_or(Ok(0), |m| fen(m, "threshold"))?,
            amount_fen: self.amount.as_ref().map_or(Ok(0), |m| fen(m, "amount"))?,
            rate_bp,
            cap_fen: self.cap.as_ref().map(|m| fen(m, "cap")).transpose()?,
            scope: self.scope,
            scope_ids: decode_all(scope_type(self.scope), &self.scope_ids),
            audience: self.audience,
            level_ids: decode_all("MemberLevel", &self.level_ids),
            valid_from: self.valid_from.map(|d| d.0),
            valid_until: self.valid_until.map(|d| d.0),
            valid_days: self.valid_days,
            total_quantity: self.total_quantity,
            per_user_limit: self.per_user_limit,
            stacks_with_activities: self.stacks_with_activities,
            claimable: self.claimable,
            points_price: self.points_price,
            issue_on: self.issue_on,
        })
    }
}

/// One tier of a 满减 activity.
#[derive(InputObject)]
pub struct ReductionTierInput {
    /// What the covered items must cost, in yuan.
    threshold: Money,
    /// What the tier takes off, in yuan.
    off: Money,
}

/// A repeating 满减: every `step` of covered items takes `off`, at most `cap` in all.
#[derive(InputObject)]
pub struct RepeatingReductionInput {
    /// The step, in yuan (每满 ¥100).
    step: Money,
    /// What each step takes off, in yuan.
    off: Money,
    /// The most taken off in all, in yuan; none when omitted.
    cap: Option<Money>,
}

/// One tier of a 满赠 activity: `spend` (yuan) or `units` (every tier the same), and the gift.
#[derive(InputObject)]
pub struct GiftTierInput {
    /// What the covered items must cost, in yuan.
    spend: Option<Money>,
    /// Or how many covered units must be bought.
    units: Option<i64>,
    /// The SKU given (free, its stock reserved like any line; left out when out of stock).
    sku_id: ID,
    /// Units given, 1 to 99.
    quantity: i64,
}

/// An activity to create: 满减 `tiers`, a `repeating` 满减, or 满赠 `gifts` — one of them.
#[derive(InputObject)]
pub struct PromotionActivityInput {
    /// 1 to 40 characters.
    name: String,
    /// Tiers with rising thresholds and amounts (满100减10, 满200减30); the highest reached
    /// applies.
    tiers: Option<Vec<ReductionTierInput>>,
    /// Or a repeating step (每满100减10, optionally capped).
    repeating: Option<RepeatingReductionInput>,
    /// Or gift tiers with rising thresholds (满199赠 / 满399赠); the highest reached applies.
    gifts: Option<Vec<GiftTierInput>>,
    /// Which products count towards it; default `SHOP`.
    #[graphql(default_with = "ScopeKind::Shop")]
    scope: ScopeKind,
    /// The categories or products of the scope.
    #[graphql(default)]
    scope_ids: Vec<ID>,
    /// Only for members of these levels; empty for every buyer.
    #[graphql(default)]
    level_ids: Vec<ID>,
    /// When it starts.
    starts_at: DateTime,
    /// When it ends (after the start, in the future).
    ends_at: DateTime,
}

impl PromotionActivityInput {
    fn draft(self) -> std::result::Result<ActivityDraft, PromotionError> {
        let rule = match (self.tiers, self.repeating, self.gifts) {
            (Some(tiers), None, None) => StoredRule::Tiers {
                tiers: tiers
                    .iter()
                    .map(|t| Ok((fen(&t.threshold, "tiers")?, fen(&t.off, "tiers")?)))
                    .collect::<std::result::Result<_, PromotionError>>()?,
            },
            (None, Some(r), None) => StoredRule::Every {
                step_fen: fen(&r.step, "repeating")?,
                off_fen: fen(&r.off, "repeating")?,
                cap_fen: r.cap.as_ref().map(|c| fen(c, "repeating")).transpose()?,
            },
            (None, None, Some(gifts)) => {
                let by_quantity = gifts.first().is_some_and(|g| g.units.is_some());
                let tiers = gifts
                    .iter()
                    .map(|g| {
                        let threshold = match (&g.spend, g.units) {
                            (Some(m), None) if !by_quantity => fen(m, "gifts")?,
                            (None, Some(n)) if by_quantity => n,
                            _ => {
                                return Err(PromotionError::new(
                                    Code::InvalidTiers,
                                    Some("gifts"),
                                    "every tier gives `spend` or every tier gives `units`",
                                ));
                            }
                        };
                        Ok((
                            threshold,
                            ids::decode("Sku", &g.sku_id).unwrap_or(0),
                            g.quantity,
                        ))
                    })
                    .collect::<std::result::Result<_, PromotionError>>()?;
                StoredRule::Gift { by_quantity, tiers }
            }
            _ => {
                return Err(PromotionError::new(
                    Code::InvalidTiers,
                    Some("tiers"),
                    "give tiers, a repeating step or gifts: one of them",
                ));
            }
        };
        Ok(ActivityDraft {
            name: self.name,
            rule,
            scope: self.scope,
            scope_ids: decode_all(scope_type(self.scope), &self.scope_ids),
            level_ids: decode_all("MemberLevel", &self.level_ids),
            starts_at: self.starts_at.0,
            ends_at: self.ends_at.0,
        })
    }
}

/// The result of creating or stopping a coupon template.
#[derive(SimpleObject)]
pub struct CouponTemplatePayload {
    /// The template as saved; null when refused.
    template: Option<CouponTemplate>,
    /// Why nothing changed.
    user_errors: Vec<PromotionError>,
}

/// The result of `claimCoupon`.
#[derive(SimpleObject)]
pub struct ClaimCouponPayload {
    /// The coupon now held; null when refused.
    coupon: Option<Coupon>,
    /// `SOLD_OUT`, `LIMIT_REACHED`, `NOT_ELIGIBLE`, `TEMPLATE_UNAVAILABLE`,
    /// `TEMPLATE_NOT_FOUND`.
    user_errors: Vec<PromotionError>,
}

/// The result of `generateCouponCodes`.
#[derive(SimpleObject)]
pub struct GenerateCouponCodesPayload {
    /// The new codes, shown this once (only their hashes are kept): 16 characters each; buyers
    /// may type them with spaces, dashes or in lower case.
    codes: Vec<String>,
    /// Why none were made.
    user_errors: Vec<PromotionError>,
}

/// The result of `issueCoupons`.
#[derive(SimpleObject)]
pub struct IssueCouponsPayload {
    /// Users given a coupon.
    issued: i64,
    /// Users skipped: at their per-user limit, or outside the template's audience.
    skipped: i64,
    /// Why giving out stopped (`SOLD_OUT`), or why nothing was given.
    user_errors: Vec<PromotionError>,
}

/// The caller's coupons against one checkout.
#[derive(SimpleObject)]
pub struct UsableCouponsPayload {
    /// Every coupon the caller holds that is not used or expired: the one checkout picks by
    /// itself first, then the other usable ones, then those this order cannot use, with why.
    coupons: Vec<CouponOption>,
    /// Why the checkout itself cannot be priced (an empty selection, an unknown address…).
    user_errors: Vec<crate::orders::errors::OrderError>,
}

/// The result of creating or ending an activity.
#[derive(SimpleObject)]
pub struct PromotionActivityPayload {
    /// The activity as saved; null when refused.
    activity: Option<PromotionActivity>,
    /// Why nothing changed.
    user_errors: Vec<PromotionError>,
}

/// The payload of a mutation that gives the caller a coupon.
async fn coupon_payload(
    app: &crate::app::AppState,
    given: super::errors::PromotionResult<entity::coupon::Model>,
) -> Result<ClaimCouponPayload> {
    let coupon = match given {
        Ok(c) => c,
        Err(e) => {
            return refused(e, |e| ClaimCouponPayload {
                coupon: None,
                user_errors: e,
            });
        }
    };
    let template = coupon_template::Entity::find_by_id(coupon.template_id)
        .one(app.db.conn())
        .await?
        .ok_or_else(|| crate::error::AppError::not_found("coupon template"))?;
    Ok(ClaimCouponPayload {
        coupon: Some(Coupon { coupon, template }),
        user_errors: vec![],
    })
}

fn template_payload(
    r: std::result::Result<coupon_template::Model, crate::error::ServiceError<Vec<PromotionError>>>,
) -> Result<CouponTemplatePayload> {
    payload(
        r,
        |t| CouponTemplatePayload {
            template: Some(CouponTemplate(t)),
            user_errors: vec![],
        },
        |e| CouponTemplatePayload {
            template: None,
            user_errors: e,
        },
    )
}

fn activity_payload(
    r: std::result::Result<
        promotion_activity::Model,
        crate::error::ServiceError<Vec<PromotionError>>,
    >,
) -> Result<PromotionActivityPayload> {
    payload(
        r,
        |a| PromotionActivityPayload {
            activity: Some(PromotionActivity(a)),
            user_errors: vec![],
        },
        |e| PromotionActivityPayload {
            activity: None,
            user_errors: e,
        },
    )
}

#[derive(Default)]
pub struct PromotionsQuery;

#[Object]
impl PromotionsQuery {
    /// The coupon centre: templates buyers can claim now (active, not sold out, not ended),
    /// newest first, at most 100. Open to anyone; claiming needs an account.
    async fn available_coupons(&self, ctx: &Context<'_>) -> Result<Vec<CouponTemplate>> {
        Ok(service::offered(ctx.app().db.conn(), Utc::now())
            .await?
            .into_iter()
            .map(CouponTemplate)
            .collect())
    }

    /// The caller's coupons, newest first (at most 500): only those in `status` when given.
    async fn my_coupons(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only coupons in this state; all when omitted.")] status: Option<
            CouponStatus,
        >,
    ) -> Result<Vec<Coupon>> {
        let me = ctx.viewer().require_user()?;
        let now = Utc::now();
        Ok(service::held(ctx.app().db.conn(), me.user_id, false, None)
            .await?
            .into_iter()
            .filter(|(c, _)| status.is_none_or(|s| CouponStatus::of(c, now) == s))
            .map(|(coupon, template)| Coupon { coupon, template })
            .collect())
    }

    /// Every usable-or-not coupon the caller holds, against this checkout: what each would take
    /// off, which one checkout picks by itself, and why the others cannot be used. Points are
    /// left out (they come after the coupon).
    async fn usable_coupons(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The checkout, as for `checkoutPreview` (its coupon fields are ignored)."
        )]
        input: CheckoutInput,
    ) -> Result<UsableCouponsPayload> {
        let me = ctx.viewer().require_user()?;
        let app = ctx.app();
        let mut request = input.request()?;
        request.coupon = CouponChoice::NoCoupon;
        request.points_to_use = 0;
        let quote = match checkout::quote(app, app.db.conn(), me.user_id, &request, false).await {
            Ok(q) => q,
            Err(e) => {
                return refused(e, |e| UsableCouponsPayload {
                    coupons: vec![],
                    user_errors: e,
                });
            }
        };
        let lines: Vec<rules::CartLine> = quote
            .lines
            .iter()
            .zip(&quote.priced.lines)
            .map(|(l, p)| rules::CartLine {
                product_id: l.sku.product_id,
                category_id: l.bundle.product.category_id,
                payable_fen: p.pay_amount_fen,
                quantity: l.quantity,
            })
            .collect();
        let activity_applied = quote
            .priced
            .discounts
            .iter()
            .any(|d| d.stage == PricingStage::Promotion);
        let now = Utc::now();
        let held = order_hooks::coupons_for(app, me.user_id, CouponChoice::Best).await?;
        let mut options = Vec::with_capacity(held.len());
        let mut candidates = Vec::new();
        for h in held {
            let verdict = match unusable_now(&h.coupon, now) {
                Some(why) => Err(why),
                None => rules::coupon_offer(&h.terms, &lines, activity_applied)
                    .map_err(unusable_on_cart),
            };
            let option = match verdict {
                Ok(offer) => {
                    candidates.push(rules::Candidate {
                        coupon_id: h.coupon.id,
                        amount_fen: offer.amount_fen,
                        free_shipping: offer.free_shipping,
                        valid_until: h.coupon.valid_until.timestamp(),
                    });
                    CouponOption {
                        coupon: Coupon {
                            coupon: h.coupon,
                            template: h.template,
                        },
                        usable: true,
                        discount: Some(Money(money::to_decimal(offer.amount_fen))),
                        best: false,
                        reason_code: None,
                        reason: None,
                    }
                }
                Err((why, message)) => CouponOption {
                    coupon: Coupon {
                        coupon: h.coupon,
                        template: h.template,
                    },
                    usable: false,
                    discount: None,
                    best: false,
                    reason_code: Some(OrderErrorCode::of_coupon(why)),
                    reason: Some(message),
                },
            };
            options.push(option);
        }
        if let Some(best) = rules::best(&candidates) {
            for o in &mut options {
                o.best = o.coupon.coupon.id == best.coupon_id;
            }
        }
        // Usable first, the best on top.
        options.sort_by_key(|o| (!o.best, !o.usable));
        Ok(UsableCouponsPayload {
            coupons: options,
            user_errors: vec![],
        })
    }

    /// Every coupon template, newest first (staff with MARKETING), at most 200.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn coupon_templates(&self, ctx: &Context<'_>) -> Result<Vec<CouponTemplate>> {
        Ok(coupon_template::Entity::find()
            .order_by_desc(coupon_template::Column::Id)
            .limit(200)
            .all(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(CouponTemplate)
            .collect())
    }

    /// 满减 activities running now (anyone).
    async fn promotion_activities(&self, ctx: &Context<'_>) -> Result<Vec<PromotionActivity>> {
        let app = ctx.app();
        Ok(app
            .activities
            .running(app.db.conn(), Utc::now())
            .await?
            .into_iter()
            .map(PromotionActivity)
            .collect())
    }
}

#[derive(Default)]
pub struct PromotionsMutation;

#[Object]
impl PromotionsMutation {
    /// Creates a coupon template (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn create_coupon_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template.")] input: CouponTemplateInput,
    ) -> Result<CouponTemplatePayload> {
        let draft = match input.draft() {
            Ok(d) => d,
            Err(e) => return template_payload(Err(crate::error::ServiceError::User(vec![e]))),
        };
        template_payload(service::create_template(ctx.app(), draft).await)
    }

    /// Stops giving out a template's coupons (staff with MARKETING); coupons already held stay
    /// usable.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn stop_coupon_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template.")] id: ID,
    ) -> Result<CouponTemplatePayload> {
        let id = ids::decode("CouponTemplate", &id).unwrap_or(0);
        template_payload(service::stop_template(ctx.app(), id).await)
    }

    /// Claims one coupon of a template offered in the coupon centre. Never more than the
    /// template's total nor the per-user limit, also when many claim at once.
    async fn claim_coupon(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template, from `availableCoupons`.")] template_id: ID,
    ) -> Result<ClaimCouponPayload> {
        let me = ctx.viewer().require_user()?;
        let id = ids::decode("CouponTemplate", &template_id).unwrap_or(0);
        let app = ctx.app();
        coupon_payload(app, super::claims::claim(app, id, me.user_id).await).await
    }

    /// Exchanges points for one coupon of a template that has a points price (积分兑券);
    /// the total and per-user limit hold as for claims. Too few points: `INSUFFICIENT_POINTS`,
    /// nothing changed.
    async fn exchange_points_for_coupon(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template (its `pointsPrice` is what it costs).")] template_id: ID,
    ) -> Result<ClaimCouponPayload> {
        let me = ctx.viewer().require_user()?;
        let id = ids::decode("CouponTemplate", &template_id).unwrap_or(0);
        let app = ctx.app();
        coupon_payload(app, service::exchange_points(app, id, me.user_id).await).await
    }

    /// Redeems a one-time code (from an offline channel) for a coupon. Wrong or used codes
    /// are refused with `INVALID_CODE`; five within ten minutes lock the caller out of
    /// redeeming for ten minutes (`RATE_LIMITED`).
    async fn redeem_coupon_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The code, as printed (spaces, dashes and case do not matter); up to 64 characters."
        )]
        code: String,
    ) -> Result<ClaimCouponPayload> {
        let me = ctx.viewer().require_user()?;
        let app = ctx.app();
        let given = if code.chars().count() > 64 {
            Err(crate::error::ServiceError::User(vec![PromotionError::new(
                Code::InvalidCode,
                Some("code"),
                "this code is wrong or was used",
            )]))
        } else {
            service::redeem_code(app, me.user_id, &code).await
        };
        coupon_payload(app, given).await
    }

    /// Generates one-time redeem codes for a template (staff with MARKETING), 1 to 10,000,
    /// shown this once. A code gives a coupon while the template has coupons left.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn generate_coupon_codes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template.")] template_id: ID,
        #[graphql(desc = "How many codes, 1 to 10,000.")] count: i64,
    ) -> Result<GenerateCouponCodesPayload> {
        let id = ids::decode("CouponTemplate", &template_id).unwrap_or(0);
        payload(
            service::generate_codes(ctx.app(), id, count).await,
            |codes| GenerateCouponCodesPayload {
                codes,
                user_errors: vec![],
            },
            |e| GenerateCouponCodesPayload {
                codes: vec![],
                user_errors: e,
            },
        )
    }

    /// Gives one coupon of a template to each listed user (staff with MARKETING), also when the
    /// template is not claimable; at most 1,000 users at once. Users at their limit or outside
    /// the audience are skipped; giving out stops when the template is sold out.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn issue_coupons(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template.")] template_id: ID,
        #[graphql(desc = "The users, 1 to 1,000.")] user_ids: Vec<ID>,
    ) -> Result<IssueCouponsPayload> {
        let id = ids::decode("CouponTemplate", &template_id).unwrap_or(0);
        let refuse = |code, message: &str| IssueCouponsPayload {
            issued: 0,
            skipped: 0,
            user_errors: vec![PromotionError::new(code, Some("userIds"), message)],
        };
        if user_ids.is_empty() || user_ids.len() > 1_000 {
            return Ok(refuse(Code::InvalidUsers, "give 1 to 1,000 users"));
        }
        let users = decode_all("User", &user_ids);
        if users.contains(&0) {
            return Ok(refuse(Code::InvalidUsers, "an id names no user"));
        }
        let (mut issued, mut skipped) = (0, 0);
        for user in users {
            match service::give(ctx.app(), id, user, "ISSUED").await {
                Ok(_) => issued += 1,
                Err(crate::error::ServiceError::User(e))
                    if e.iter()
                        .all(|e| matches!(e.code, Code::LimitReached | Code::NotEligible)) =>
                {
                    skipped += 1;
                }
                Err(crate::error::ServiceError::User(e)) => {
                    return Ok(IssueCouponsPayload {
                        issued,
                        skipped,
                        user_errors: e,
                    });
                }
                Err(crate::error::ServiceError::App(e)) => return Err(e.into()),
            }
        }
        Ok(IssueCouponsPayload {
            issued,
            skipped,
            user_errors: vec![],
        })
    }

    /// Creates a 满减 activity (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn create_promotion_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity.")] input: PromotionActivityInput,
    ) -> Result<PromotionActivityPayload> {
        let draft = match input.draft() {
            Ok(d) => d,
            Err(e) => return activity_payload(Err(crate::error::ServiceError::User(vec![e]))),
        };
        activity_payload(service::create_activity(ctx.app(), draft).await)
    }

    /// Ends an activity now (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn end_promotion_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity.")] id: ID,
    ) -> Result<PromotionActivityPayload> {
        let id = ids::decode("PromotionActivity", &id).unwrap_or(0);
        activity_payload(service::end_activity(ctx.app(), id).await)
    }
}
