//! The checkout pricing pipeline (ARCHITECTURE.md §9.2), shared by `checkoutPreview` and `placeOrder` so
//! that what the buyer is shown is what the buyer is charged:
//!
//! unit prices → member discount → promotions → coupon → points → shipping.
//!
//! A group-buy order (拼团) is priced by its own stage alone, before all of these: the group
//! price replaces every other discount (checkout gives it no other stage's rules), and what it
//! takes off the unit prices counts as a promotion discount.
//!
//! Each discount stage is a `PricingRule` chosen by the caller (the marketing area supplies the
//! real ones; with none, a stage changes nothing). Every order-level discount is allocated to the
//! lines it applies to at once, so each line always knows what was actually paid for it — refunds
//! and commissions per line are then exact.
//!
//! Rounding rules, all in integer fen:
//! * a discount is allocated in proportion to what each eligible line still costs, by the
//!   largest remainder (`allocate`): shares rounded down, the fen left over one each to the
//!   lines that lost most in rounding, ties to the earlier line;
//! * a discount never exceeds what its lines still cost, so no line and no order goes below zero;
//! * shipping is not a line and takes no discount; "free above" compares with the goods amount
//!   after every discount; a rule may waive it (a member level's free shipping), and then the
//!   order pays none — though where the shop does not deliver it is still refused.
use async_graphql::Enum;
use serde::{Deserialize, Serialize};

use super::shipping::{ShippingRefusal, ShippingRules};

/// One line as the pipeline prices it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricingLine {
    pub sku_id: i64,
    pub product_id: i64,
    pub category_id: Option<i64>,
    pub unit_price_fen: i64,
    pub quantity: i64,
    pub weight_grams: i32,
}

impl PricingLine {
    pub fn total_fen(&self) -> i64 {
        self.unit_price_fen * self.quantity
    }
}

/// Which coupon the buyer wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CouponChoice {
    /// The best one they hold that this order can use (none if none can).
    #[default]
    Best,
    /// None.
    NoCoupon,
    /// This one of theirs (refused with its reason if it cannot be used).
    Coupon(i64),
}

/// What the buyer asked for besides the lines.
#[derive(Clone, Debug, Default)]
pub struct PricingRequest {
    pub buyer_id: i64,
    pub coupon: CouponChoice,
    pub points_to_use: i64,
    pub province: Option<String>,
    /// A points-mall redemption: its lines are priced by the points stage alone (checkout
    /// gives it no other stage's rules).
    pub points_mall: bool,
    /// The order is being placed: stages read what they price by from the database. A preview
    /// (false) may read it from caches that follow changes within their stated bound.
    pub placing: bool,
    /// The group buy the order joins or launches; `None` for an ordinary order.
    pub group_buy: Option<GroupBuyChoice>,
}

/// The group buy a checkout takes part in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupBuyChoice {
    /// Join this open group.
    Join(i64),
    /// Launch a new group of this campaign, with the buyer as its leader and first member.
    Launch(i64),
}

/// The discount stages, in the order they run.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PricingStage {
    /// The group price of a group-buy order (拼团价); such an order has no other stage.
    GroupBuy,
    /// The member level's discount (会员价).
    MemberDiscount,
    /// Automatic promotions: 满减 tiers and 满赠 gifts.
    Promotion,
    /// The one coupon the buyer applied.
    Coupon,
    /// Points spent as cash.
    Points,
}

/// Who granted a discount.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(name = "DiscountSourceKind")]
pub enum SourceKind {
    /// A member level (its id).
    Level,
    /// A promotion activity (its id).
    Activity,
    /// A coupon (its id).
    Coupon,
    /// Points spent.
    Points,
    /// A group buy's group price (the group's id).
    GroupBuy,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Level => "LEVEL",
            SourceKind::Activity => "ACTIVITY",
            SourceKind::Coupon => "COUPON",
            SourceKind::Points => "POINTS",
            SourceKind::GroupBuy => "GROUP_BUY",
        }
    }
}

/// Who granted a discount, kept with the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountSource {
    pub kind: SourceKind,
    pub id: Option<i64>,
}

/// One discount a rule grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discount {
    /// Shown to the buyer, e.g. "满100减20".
    pub label: String,
    pub amount_fen: i64,
    /// Indexes of the lines it applies to; `None` for every line.
    pub lines: Option<Vec<usize>>,
    pub source: Option<DiscountSource>,
}

/// A free item a promotion adds (满赠).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gift {
    pub sku_id: i64,
    pub quantity: i64,
    pub label: String,
}

/// Points a line spends (the points stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinePoints {
    /// The line's index.
    pub line: usize,
    pub points: i64,
}

/// What one rule decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleOutcome {
    pub discounts: Vec<Discount>,
    pub gifts: Vec<Gift>,
    /// Points the buyer spends (the points stage), line by line, so that a refund of some
    /// units gives back exactly what they spent.
    pub points: Vec<LinePoints>,
    /// The rule waives shipping (a member level's free shipping), shown with this label.
    pub free_shipping: Option<String>,
    /// The coupon the rule used (the coupon stage), to be marked used with the order.
    pub coupon_id: Option<i64>,
    /// What the buyer could still get, e.g. "再买 ¥12.00 可减 ¥20.00" (凑单).
    pub hints: Vec<String>,
}

/// Why the points stage refuses what the buyer asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointsRefusal {
    /// Negative points, or points where nothing can be deducted.
    Invalid,
    /// The buyer has fewer points than asked.
    Insufficient,
    /// More than the deduction cap allows.
    OverCap,
    /// A SKU of a points-mall redemption is not redeemable.
    NotRedeemable,
}

/// Why the coupon the buyer chose cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponRefusal {
    NotFound,
    AlreadyUsed,
    Expired,
    NotYetValid,
    BelowThreshold,
    NotInScope,
    NotStackable,
}

/// Why a group buy cannot be joined or launched as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBuyRefusal {
    /// No such group or campaign, or not one the buyer may see.
    NotFound,
    /// The campaign is not running (not started, over, or ended by staff).
    NotRunning,
    /// The group succeeded, failed or passed its deadline.
    Closed,
    /// Every place of the group is taken.
    Full,
    /// The buyer holds a place in this group already.
    AlreadyJoined,
    /// The buyer holds as many group orders of the campaign as it allows.
    LimitReached,
    /// The campaign does not let this buyer launch a group.
    MayNotLaunch,
    /// A line is not one of the campaign's SKUs.
    NotInCampaign,
}

/// Why the order cannot be priced as asked; nothing is charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PricingRefusal {
    Coupon(CouponRefusal, String),
    /// With the open group of the same campaign closest to success, to offer instead.
    GroupBuy(GroupBuyRefusal, String, Option<i64>),
    Points(PointsRefusal, String),
    NotDeliverable(String),
}

/// The state a rule sees: the lines, what each still costs after the earlier stages, and the
/// discounts those stages applied.
pub struct PricingState<'a> {
    pub request: &'a PricingRequest,
    pub lines: &'a [PricingLine],
    pub payable_fen: &'a [i64],
    pub applied: &'a [AppliedDiscount],
}

impl PricingState<'_> {
    pub fn payable_total_fen(&self) -> i64 {
        self.payable_fen.iter().sum()
    }
}

/// A discount rule of one stage: member level, promotion, coupon, points.
pub trait PricingRule: Send + Sync {
    fn stage(&self) -> PricingStage;
    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal>;
}

/// A discount as applied, for the breakdown shown at checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    pub stage: PricingStage,
    pub label: String,
    pub amount_fen: i64,
    #[serde(default)]
    pub source: Option<DiscountSource>,
    /// What each line was given of it (by line index), adding up to `amount_fen`.
    #[serde(default)]
    pub line_shares: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub line_total_fen: i64,
    pub discount_fen: i64,
    /// The member stage's part of `discount_fen`.
    #[serde(default)]
    pub member_discount_fen: i64,
    pub pay_amount_fen: i64,
    /// Points the line spends.
    pub points_used: i64,
}

/// The priced order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    pub items_total_fen: i64,
    pub member_discount_fen: i64,
    pub promotion_discount_fen: i64,
    pub coupon_discount_fen: i64,
    pub points_discount_fen: i64,
    pub points_used: i64,
    pub shipping_fee_fen: i64,
    /// Why shipping is free although the template would charge for it (a rule waived it).
    #[serde(default)]
    pub free_shipping: Option<String>,
    pub pay_amount_fen: i64,
    pub discounts: Vec<AppliedDiscount>,
    pub gifts: Vec<Gift>,
    /// The coupon the order uses.
    #[serde(default)]
    pub coupon_id: Option<i64>,
    /// What the buyer could still get (凑单), from every stage.
    #[serde(default)]
    pub hints: Vec<String>,
}

impl Priced {
    pub fn goods_amount_fen(&self) -> i64 {
        self.lines.iter().map(|l| l.pay_amount_fen).sum()
    }
}

/// Prices `lines` through every stage. `rules` may come in any order; they run by stage, and in
/// the given order within a stage. `shipping` is the template that applies (none: free).
pub fn price(
    request: &PricingRequest,
    lines: &[PricingLine],
    rules: &[&dyn PricingRule],
    shipping: Option<&ShippingRules>,
) -> Result<Priced, PricingRefusal> {
    let mut payable: Vec<i64> = lines.iter().map(PricingLine::total_fen).collect();
    let mut member_fen: Vec<i64> = vec![0; lines.len()];
    let mut free_shipping = None;
    let mut applied = Vec::new();
    let mut gifts = Vec::new();
    let mut points = vec![0; lines.len()];
    let mut hints = Vec::new();
    let mut coupon_id = None;
    // Whether the coupon's only gift is free shipping: then it is used only if there is a
    // fee to waive.
    let mut coupon_only_ships = false;
    let mut ordered: Vec<&dyn PricingRule> = rules.to_vec();
    ordered.sort_by_key(|r| r.stage());
    for rule in ordered {
        let outcome = rule.apply(&PricingState {
            request,
            lines,
            payable_fen: &payable,
            applied: &applied,
        })?;
        let mut took = false;
        for d in outcome.discounts {
            let eligible: Vec<usize> = match &d.lines {
                None => (0..lines.len()).collect(),
                Some(ix) => ix.iter().copied().filter(|i| *i < lines.len()).collect(),
            };
            let room: i64 = eligible.iter().map(|i| payable[*i]).sum();
            let amount = d.amount_fen.clamp(0, room);
            if amount == 0 {
                continue;
            }
            let weights: Vec<i64> = eligible.iter().map(|i| payable[*i]).collect();
            let mut line_shares = vec![0; lines.len()];
            for (i, share) in eligible.iter().zip(allocate(amount, &weights)) {
                payable[*i] -= share;
                line_shares[*i] = share;
                if rule.stage() == PricingStage::MemberDiscount {
                    member_fen[*i] += share;
                }
            }
            took = true;
            applied.push(AppliedDiscount {
                stage: rule.stage(),
                label: d.label,
                amount_fen: amount,
                source: d.source,
                line_shares,
            });
        }
        if outcome.coupon_id.is_some() {
            let ships_only = !took && outcome.free_shipping.is_some();
            // Shipping already waived (a member level): a coupon that only ships is not spent.
            if !(ships_only && free_shipping.is_some()) {
                coupon_id = outcome.coupon_id;
                coupon_only_ships = ships_only;
            }
        }
        hints.extend(outcome.hints);
        gifts.extend(outcome.gifts);
        for spent in outcome.points {
            if let Some(p) = points.get_mut(spent.line) {
                *p += spent.points.max(0);
            }
        }
        if free_shipping.is_none() {
            free_shipping = outcome.free_shipping;
        }
    }
    let stage_total = |s: PricingStage| -> i64 {
        applied
            .iter()
            .filter(|a| a.stage == s)
            .map(|a| a.amount_fen)
            .sum()
    };
    let priced_lines: Vec<PricedLine> = lines
        .iter()
        .zip(&payable)
        .zip(&member_fen)
        .zip(&points)
        .map(|(((l, p), m), spent)| PricedLine {
            line_total_fen: l.total_fen(),
            discount_fen: l.total_fen() - p,
            member_discount_fen: *m,
            pay_amount_fen: *p,
            points_used: *spent,
        })
        .collect();
    let goods: i64 = payable.iter().sum();
    let charged_fee_fen = match shipping {
        None => 0,
        Some(rules) => rules
            .fee(lines, request.province.as_deref(), goods)
            .map_err(|ShippingRefusal::NotDeliverable(p)| {
                PricingRefusal::NotDeliverable(format!("this shop does not deliver to {p}"))
            })?,
    };
    // Waived only where there was something to waive, so the label says why a fee is missing
    // (and a free-shipping coupon is not spent on an order that ships free anyway).
    let free_shipping = free_shipping.filter(|_| charged_fee_fen > 0);
    if coupon_only_ships && free_shipping.is_none() {
        coupon_id = None;
    }
    let shipping_fee_fen = if free_shipping.is_some() {
        0
    } else {
        charged_fee_fen
    };
    Ok(Priced {
        items_total_fen: lines.iter().map(PricingLine::total_fen).sum(),
        member_discount_fen: stage_total(PricingStage::MemberDiscount),
        promotion_discount_fen: stage_total(PricingStage::Promotion)
            + stage_total(PricingStage::GroupBuy),
        coupon_discount_fen: stage_total(PricingStage::Coupon),
        points_discount_fen: stage_total(PricingStage::Points),
        points_used: points.iter().sum(),
        shipping_fee_fen,
        free_shipping,
        pay_amount_fen: goods + shipping_fee_fen,
        lines: priced_lines,
        discounts: applied,
        gifts,
        coupon_id,
        hints,
    })
}

/// Splits `amount` over `weights` in proportion, to the unit, by the largest remainder: each
/// share is first rounded down, then the units left over go one each to the shares that lost
/// the most in rounding, ties to the earlier line. The shares add up to `amount`, each is
/// within one unit of its exact proportion, and with `0 <= amount <= sum(weights)` none
/// exceeds its weight. Zero weights get nothing.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if total <= 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let scaled = i128::from(amount) * i128::from((*w).max(0));
            ((scaled / total) as i64, scaled % total)
        })
        .collect();
    let mut shares: Vec<i64> = exact.iter().map(|(floor, _)| *floor).collect();
    let left = amount - shares.iter().sum::<i64>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).filter(|i| exact[*i].1 > 0).collect();
    // Largest remainder first; the sort is stable, so equal remainders keep line order.
    by_remainder.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1));
    for i in by_remainder.into_iter().take(left.max(0) as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::shipping::{Charge, ShippingKind};

    fn line(sku: i64, price: i64, qty: i64) -> PricingLine {
        PricingLine {
            sku_id: sku,
            product_id: sku,
            category_id: None,
            unit_price_fen: price,
            quantity: qty,
            weight_grams: 500,
        }
    }

    /// A fake rule: a fixed discount at a stage, on some lines.
    struct Fixed(PricingStage, i64, Option<Vec<usize>>);

    impl PricingRule for Fixed {
        fn stage(&self) -> PricingStage {
            self.0
        }
        fn apply(&self, _: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
            Ok(RuleOutcome {
                discounts: vec![Discount {
                    label: format!("{:?}", self.0),
                    amount_fen: self.1,
                    lines: self.2.clone(),
                    source: None,
                }],
                ..Default::default()
            })
        }
    }

    /// A fake member rule: a percentage off what is left, seeing the earlier stages' result.
    struct PercentOff(u32);

    impl PricingRule for PercentOff {
        fn stage(&self) -> PricingStage {
            PricingStage::MemberDiscount
        }
        fn apply(&self, s: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
            Ok(RuleOutcome {
                discounts: vec![Discount {
                    label: "会员价".into(),
                    amount_fen: s.payable_total_fen() * i64::from(self.0) / 100,
                    lines: None,
                    source: None,
                }],
                ..Default::default()
            })
        }
    }

    struct Refuse;

    impl PricingRule for Refuse {
        fn stage(&self) -> PricingStage {
            PricingStage::Coupon
        }
        fn apply(&self, _: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
            Err(PricingRefusal::Coupon(
                CouponRefusal::Expired,
                "this coupon has expired".into(),
            ))
        }
    }

    #[test]
    fn with_no_rules_the_buyer_pays_the_unit_prices() {
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1), line(2, 2_550, 3)],
            &[],
            None,
        )
        .unwrap();
        assert_eq!(p.items_total_fen, 17_650);
        assert_eq!(p.pay_amount_fen, 17_650);
        assert_eq!(p.lines[1].pay_amount_fen, 7_650);
        assert!(p.discounts.is_empty());
    }

    #[test]
    fn every_stage_is_a_seam_and_runs_in_order() {
        // Given in reverse: the pipeline still runs member → promotion → coupon → points.
        let points = Fixed(PricingStage::Points, 100, None);
        let coupon = Fixed(PricingStage::Coupon, 1_000, None);
        let promo = Fixed(PricingStage::Promotion, 2_000, None);
        let member = PercentOff(5);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1), line(2, 5_000, 2)],
            &[&points, &coupon, &promo, &member],
            None,
        )
        .unwrap();
        assert_eq!(p.member_discount_fen, 1_000); // 5% of 200.00 before anything else
        assert_eq!(p.promotion_discount_fen, 2_000);
        assert_eq!(p.coupon_discount_fen, 1_000);
        assert_eq!(p.points_discount_fen, 100);
        assert_eq!(p.pay_amount_fen, 20_000 - 4_100);
        let stages: Vec<_> = p.discounts.iter().map(|d| d.stage).collect();
        assert_eq!(
            stages,
            vec![
                PricingStage::MemberDiscount,
                PricingStage::Promotion,
                PricingStage::Coupon,
                PricingStage::Points
            ]
        );
        // The lines carry every fen of it.
        let discounted: i64 = p.lines.iter().map(|l| l.discount_fen).sum();
        assert_eq!(discounted, 4_100);
    }

    #[test]
    fn a_coupon_on_two_lines_is_allocated_to_the_fen() {
        // ¥10.00 off a ¥100.00 + ¥50.00 order: 6.666… + 3.333…: the fen left over goes to the
        // larger remainder, the first line's.
        let coupon = Fixed(PricingStage::Coupon, 1_000, None);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1), line(2, 5_000, 1)],
            &[&coupon],
            None,
        )
        .unwrap();
        assert_eq!(p.lines[0].discount_fen, 667);
        assert_eq!(p.lines[1].discount_fen, 333);
        assert_eq!(p.lines[0].pay_amount_fen, 9_333);
        assert_eq!(p.pay_amount_fen, 14_000);
    }

    #[test]
    fn a_discount_for_some_lines_leaves_the_others_alone() {
        let coupon = Fixed(PricingStage::Coupon, 500, Some(vec![1]));
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1), line(2, 5_000, 1)],
            &[&coupon],
            None,
        )
        .unwrap();
        assert_eq!(p.lines[0].discount_fen, 0);
        assert_eq!(p.lines[1].discount_fen, 500);
    }

    #[test]
    fn a_discount_never_makes_anything_negative() {
        let coupon = Fixed(PricingStage::Coupon, 99_999, Some(vec![0]));
        let p = price(
            &PricingRequest::default(),
            &[line(1, 1_000, 1), line(2, 500, 1)],
            &[&coupon],
            None,
        )
        .unwrap();
        assert_eq!(p.coupon_discount_fen, 1_000);
        assert_eq!(p.lines[0].pay_amount_fen, 0);
        assert_eq!(p.pay_amount_fen, 500);
        // Negative "discounts" are ignored rather than raising the price.
        let odd = Fixed(PricingStage::Promotion, -300, None);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 1_000, 1)],
            &[&odd],
            None,
        )
        .unwrap();
        assert_eq!(p.pay_amount_fen, 1_000);
    }

    #[test]
    fn a_refusing_rule_refuses_the_order() {
        let r = price(
            &PricingRequest::default(),
            &[line(1, 1_000, 1)],
            &[&Refuse],
            None,
        );
        assert!(matches!(r, Err(PricingRefusal::Coupon(..))));
    }

    #[test]
    fn allocation_gives_the_fen_left_over_to_the_largest_remainders() {
        // 6 × 3/7 = 2.57, 2.57, 0.86: floors 2, 2, 0; two fen left go to the largest
        // remainders, the third line's .86 first, then the first line's .57 (a tie, earlier line).
        assert_eq!(allocate(6, &[3, 3, 1]), vec![3, 2, 1]);
        assert_eq!(allocate(1_000, &[10_000, 5_000]), vec![667, 333]);
        // Three equal lines, one fen: the first.
        assert_eq!(allocate(1, &[5, 5, 5]), vec![1, 0, 0]);
        assert_eq!(allocate(2, &[5, 5, 5]), vec![1, 1, 0]);
        assert_eq!(allocate(0, &[5, 5]), vec![0, 0]);
        assert_eq!(allocate(10, &[10]), vec![10]);
        assert_eq!(allocate(7, &[0, 0, 0]), vec![0, 0, 0]);
    }

    /// For any amount and weights: the shares add up, each within one fen of its exact share
    /// and never above its weight (when the amount fits), zero weights get nothing, and no
    /// other share is closer to exact than the rounding chose (largest remainder is optimal).
    #[test]
    fn allocation_properties_hold_for_random_inputs() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(19);
        for _ in 0..20_000 {
            let n = rng.gen_range(1..=8);
            let weights: Vec<i64> = (0..n)
                .map(|_| {
                    if rng.gen_bool(0.15) {
                        0
                    } else {
                        rng.gen_range(1..=2_000_000)
                    }
                })
                .collect();
            let total: i64 = weights.iter().sum();
            let amount = if total == 0 {
                rng.gen_range(0..100)
            } else {
                rng.gen_range(0..=total)
            };
            let shares = allocate(amount, &weights);
            if total == 0 {
                assert!(shares.iter().all(|s| *s == 0));
                continue;
            }
            assert_eq!(
                shares.iter().sum::<i64>(),
                amount,
                "{amount} over {weights:?}"
            );
            for (s, w) in shares.iter().zip(&weights) {
                assert!(*s >= 0 && s <= w, "{amount} over {weights:?}: {shares:?}");
                let exact = i128::from(amount) * i128::from(*w);
                let s = i128::from(*s) * i128::from(total);
                assert!(
                    (s - exact).abs() < i128::from(total),
                    "{amount} over {weights:?}"
                );
                if *w == 0 {
                    assert_eq!(s, 0);
                }
            }
        }
    }

    /// A member rule: 10 % off the first line, and free shipping.
    struct MemberPerks;

    impl PricingRule for MemberPerks {
        fn stage(&self) -> PricingStage {
            PricingStage::MemberDiscount
        }
        fn apply(&self, _: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
            Ok(RuleOutcome {
                discounts: vec![Discount {
                    label: "会员价".into(),
                    amount_fen: 1_000,
                    lines: Some(vec![0]),
                    source: None,
                }],
                free_shipping: Some("钻石会员包邮".into()),
                ..Default::default()
            })
        }
    }

    #[test]
    fn lines_keep_the_member_part_and_a_rule_may_waive_shipping() {
        let rules = ShippingRules {
            kind: ShippingKind::Flat,
            base: Charge::flat(800),
            regions: vec![],
            free_above_fen: None,
            excluded_provinces: vec!["西藏".into()],
        };
        let coupon = Fixed(PricingStage::Coupon, 300, None);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1), line(2, 5_000, 1)],
            &[&coupon, &MemberPerks],
            Some(&rules),
        )
        .unwrap();
        assert_eq!(p.lines[0].member_discount_fen, 1_000);
        assert_eq!(p.lines[1].member_discount_fen, 0);
        assert_eq!(p.member_discount_fen, 1_000);
        // The coupon comes on top, split over both lines.
        assert_eq!(p.lines[0].discount_fen + p.lines[1].discount_fen, 1_300);
        assert_eq!(p.shipping_fee_fen, 0);
        assert_eq!(p.free_shipping.as_deref(), Some("钻石会员包邮"));
        assert_eq!(p.pay_amount_fen, 15_000 - 1_300);
        // Without a fee to waive nothing is said; where the shop does not deliver, it refuses.
        let p = price(
            &PricingRequest::default(),
            &[line(1, 100, 1)],
            &[&MemberPerks],
            None,
        )
        .unwrap();
        assert_eq!(p.free_shipping, None);
        let far = PricingRequest {
            province: Some("西藏".into()),
            ..Default::default()
        };
        assert!(matches!(
            price(&far, &[line(1, 10_000, 1)], &[&MemberPerks], Some(&rules)),
            Err(PricingRefusal::NotDeliverable(_))
        ));
    }

    #[test]
    fn shipping_comes_last_and_is_free_above_the_discounted_amount() {
        let rules = ShippingRules {
            kind: ShippingKind::Flat,
            base: Charge::flat(1_000),
            regions: vec![],
            free_above_fen: Some(10_000),
            excluded_provinces: vec!["西藏".into()],
        };
        let coupon = Fixed(PricingStage::Coupon, 500, None);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1)],
            &[&coupon],
            Some(&rules),
        )
        .unwrap();
        // ¥95.00 after the coupon is below ¥100.00: shipping is charged.
        assert_eq!(p.shipping_fee_fen, 1_000);
        assert_eq!(p.pay_amount_fen, 10_500);
        let p = price(
            &PricingRequest::default(),
            &[line(1, 10_000, 1)],
            &[],
            Some(&rules),
        )
        .unwrap();
        assert_eq!(p.shipping_fee_fen, 0);
        let far = PricingRequest {
            province: Some("西藏".into()),
            ..Default::default()
        };
        assert!(matches!(
            price(&far, &[line(1, 10_000, 1)], &[], Some(&rules)),
            Err(PricingRefusal::NotDeliverable(_))
        ));
    }
}
