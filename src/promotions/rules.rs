//! Promotion arithmetic, free of the database: what a coupon takes off a cart or why it cannot,
//! which coupon is best, what a 满减 activity takes off and what the buyer would need to add for
//! its next tier (凑单), whether tiers make sense, and the labels buyers read. All in integer
//! fen. Rounding: a percent-off coupon takes `base × (100 % − rate)` rounded down to the fen
//! (the buyer never gets a fraction of a fen more than the rate), then its cap.
use std::collections::HashSet;

/// Hundredths of a percent: 10,000 is the whole price.
pub const FULL_RATE_BP: i32 = 10_000;

/// Which lines a coupon or an activity applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every product of the shop.
    Shop,
    /// Products in these categories (the caller includes every sub-category).
    Categories(HashSet<i64>),
    /// These products.
    Products(HashSet<i64>),
    /// Every product but these.
    AllExcept(HashSet<i64>),
}

impl Scope {
    pub fn covers(&self, product_id: i64, category_id: Option<i64>) -> bool {
        match self {
            Scope::Shop => true,
            Scope::Categories(c) => category_id.is_some_and(|c_id| c.contains(&c_id)),
            Scope::Products(p) => p.contains(&product_id),
            Scope::AllExcept(p) => !p.contains(&product_id),
        }
    }
}

/// A cart line as promotions see it: what it still costs after the earlier stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: i64,
    pub category_id: Option<i64>,
    pub payable_fen: i64,
    pub quantity: i64,
}

/// The indexes of the lines `scope` covers that still cost something.
pub fn lines_in(scope: &Scope, lines: &[CartLine]) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.payable_fen > 0 && scope.covers(l.product_id, l.category_id))
        .map(|(i, _)| i)
        .collect()
}

/// What a coupon gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponBenefit {
    /// ¥`amount_fen` off (满`threshold`减`amount`).
    AmountOff { amount_fen: i64 },
    /// The lines pay `rate_bp` of their price (8.5折: 8,500), at most `cap_fen` off.
    PercentOff { rate_bp: i32, cap_fen: Option<i64> },
    /// No shipping fee.
    FreeShipping,
}

/// A coupon's terms, as its template defines them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponTerms {
    pub benefit: CouponBenefit,
    /// The lines in scope must cost at least this (0: no threshold).
    pub threshold_fen: i64,
    pub scope: Scope,
    /// Whether it may be used on an order a 满减 activity already discounted.
    pub stacks_with_activities: bool,
}

/// Why a coupon cannot be used on this cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Nothing in the cart is in its scope.
    NotInScope,
    /// The lines in scope cost `short_fen` too little.
    BelowThreshold { short_fen: i64 },
    /// An activity already discounted the order and this coupon does not stack with it.
    NotStackable,
}

/// What a coupon takes off this cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponOffer {
    pub amount_fen: i64,
    pub lines: Vec<usize>,
    pub free_shipping: bool,
}

/// What `terms` takes off `lines`, or why it cannot be used. `activity_applied`: a 满减
/// activity discounted this order (checked here, the one place stacking is decided).
pub fn coupon_offer(
    terms: &CouponTerms,
    lines: &[CartLine],
    activity_applied: bool,
) -> Result<CouponOffer, Unusable> {
    let eligible = lines_in(&terms.scope, lines);
    if eligible.is_empty() {
        return Err(Unusable::NotInScope);
    }
    if activity_applied && !terms.stacks_with_activities {
        return Err(Unusable::NotStackable);
    }
    let base: i64 = eligible.iter().map(|i| lines[*i].payable_fen).sum();
    if base < terms.threshold_fen {
        return Err(Unusable::BelowThreshold {
            short_fen: terms.threshold_fen - base,
        });
    }
    let (amount_fen, free_shipping) = match terms.benefit {
        CouponBenefit::AmountOff { amount_fen } => (amount_fen.clamp(0, base), false),
        CouponBenefit::PercentOff { rate_bp, cap_fen } => {
            let off_bp = i128::from((FULL_RATE_BP - rate_bp).clamp(0, FULL_RATE_BP));
            let off = (i128::from(base) * off_bp / i128::from(FULL_RATE_BP)) as i64;
            (off.min(cap_fen.unwrap_or(i64::MAX).max(0)), false)
        }
        CouponBenefit::FreeShipping => (0, true),
    };
    Ok(CouponOffer {
        amount_fen,
        lines: eligible,
        free_shipping,
    })
}

/// A coupon the buyer could use, for choosing the best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub coupon_id: i64,
    pub amount_fen: i64,
    pub free_shipping: bool,
    /// When it stops being valid (seconds since the epoch), to use the soonest first.
    pub valid_until: i64,
}

/// The coupon chosen for the buyer when they chose none: the largest amount off; between
/// equals, the one that expires first, then the oldest. A free-shipping coupon is chosen only
/// when no coupon takes anything off (its worth depends on the fee, which comes after).
pub fn best(candidates: &[Candidate]) -> Option<Candidate> {
    let money = candidates
        .iter()
        .filter(|c| c.amount_fen > 0)
        .min_by_key(|c| (-c.amount_fen, c.valid_until, c.coupon_id));
    money
        .or_else(|| {
            candidates
                .iter()
                .filter(|c| c.free_shipping)
                .min_by_key(|c| (c.valid_until, c.coupon_id))
        })
        .copied()
}

/// A 满减 activity's rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// 满`threshold`减`off`, the highest tier reached applies.
    Tiers(Vec<Tier>),
    /// 每满`step`减`off`, repeating, at most `cap_fen` in all.
    Every {
        step_fen: i64,
        off_fen: i64,
        cap_fen: Option<i64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    pub threshold_fen: i64,
    pub off_fen: i64,
}

/// Why a 满减 rule cannot be saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReductionError {
    /// No tier.
    NoTier,
    /// A threshold below ¥0.01, or an amount off below ¥0.01 or above its threshold.
    BadTier,
    /// Thresholds must rise from tier to tier, and so must what they take off (two tiers at one
    /// threshold, or a higher tier taking less, overlap).
    Overlapping,
    /// A cap below ¥0.01 or below one step's amount.
    BadCap,
}

impl Reduction {
    pub fn validate(&self) -> Result<(), ReductionError> {
        match self {
            Reduction::Tiers(tiers) => {
                if tiers.is_empty() {
                    return Err(ReductionError::NoTier);
                }
                if tiers
                    .iter()
                    .any(|t| t.threshold_fen < 1 || t.off_fen < 1 || t.off_fen > t.threshold_fen)
                {
                    return Err(ReductionError::BadTier);
                }
                if tiers.windows(2).any(|w| {
                    w[1].threshold_fen <= w[0].threshold_fen || w[1].off_fen <= w[0].off_fen
                }) {
                    return Err(ReductionError::Overlapping);
                }
                Ok(())
            }
            Reduction::Every {
                step_fen,
                off_fen,
                cap_fen,
            } => {
                if *step_fen < 1 || *off_fen < 1 || off_fen > step_fen {
                    return Err(ReductionError::BadTier);
                }
                if cap_fen.is_some_and(|c| c < *off_fen) {
                    return Err(ReductionError::BadCap);
                }
                Ok(())
            }
        }
    }

    /// What it takes off `base_fen` (the lines in scope), and the next step: how much more the
    /// buyer would have to add and what that would take off in all (凑单提示). `None` when
    /// nothing more can be had.
    pub fn apply(&self, base_fen: i64) -> (i64, Option<NextStep>) {
        let base = base_fen.max(0);
        match self {
            Reduction::Tiers(tiers) => {
                let reached = tiers.iter().rev().find(|t| base >= t.threshold_fen);
                let next = tiers.iter().find(|t| base < t.threshold_fen);
                (
                    reached.map_or(0, |t| t.off_fen.min(base)),
                    next.map(|t| NextStep {
                        more_fen: t.threshold_fen - base,
                        off_fen: t.off_fen,
                    }),
                )
            }
            Reduction::Every {
                step_fen,
                off_fen,
                cap_fen,
            } => {
                let cap = cap_fen.unwrap_or(i64::MAX);
                let times = base / step_fen;
                let off = times.saturating_mul(*off_fen).min(cap).min(base);
                let more_off = (times + 1).saturating_mul(*off_fen).min(cap);
                let next = (more_off > off).then(|| NextStep {
                    more_fen: (times + 1) * step_fen - base,
                    off_fen: more_off,
                });
                (off, next)
            }
        }
    }

    /// The badge buyers read: "满100减10 / 满200减30", "每满100减10，最高减50".
    pub fn label(&self) -> String {
        match self {
            Reduction::Tiers(tiers) => tiers
                .iter()
                .map(|t| format!("满{}减{}", yuan(t.threshold_fen), yuan(t.off_fen)))
                .collect::<Vec<_>>()
                .join(" / "),
            Reduction::Every {
                step_fen,
                off_fen,
                cap_fen,
            } => {
                let every = format!("每满{}减{}", yuan(*step_fen), yuan(*off_fen));
                match cap_fen {
                    Some(c) => format!("{every}，最高减{}", yuan(*c)),
                    None => every,
                }
            }
        }
    }
}

/// A 满赠 activity's rule: the highest tier reached adds its gift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GiftRule {
    /// Thresholds count units in scope instead of the money they cost.
    pub by_quantity: bool,
    pub tiers: Vec<GiftTier>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiftTier {
    /// Fen (or units, `by_quantity`) the lines in scope must reach.
    pub threshold: i64,
    pub sku_id: i64,
    pub quantity: i64,
}

impl GiftRule {
    pub fn validate(&self) -> Result<(), ReductionError> {
        if self.tiers.is_empty() {
            return Err(ReductionError::NoTier);
        }
        if self
            .tiers
            .iter()
            .any(|t| t.threshold < 1 || !(1..=99).contains(&t.quantity))
        {
            return Err(ReductionError::BadTier);
        }
        if self
            .tiers
            .windows(2)
            .any(|w| w[1].threshold <= w[0].threshold)
        {
            return Err(ReductionError::Overlapping);
        }
        Ok(())
    }

    /// The gift reached by `base_fen` (or `units`), and how much more reaches the next tier.
    pub fn apply(&self, base_fen: i64, units: i64) -> (Option<GiftTier>, Option<(i64, GiftTier)>) {
        let reached = if self.by_quantity { units } else { base_fen };
        (
            self.tiers
                .iter()
                .rev()
                .find(|t| reached >= t.threshold)
                .copied(),
            self.tiers
                .iter()
                .find(|t| reached < t.threshold)
                .map(|t| (t.threshold - reached, *t)),
        )
    }

    /// The badge buyers read: "满199赠 / 满399赠", "买2件赠".
    pub fn label(&self) -> String {
        self.tiers
            .iter()
            .map(|t| {
                if self.by_quantity {
                    format!("买{}件赠", t.threshold)
                } else {
                    format!("满{}赠", yuan(t.threshold))
                }
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// What an activity does: take money off (满减) or add a gift (满赠).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityRule {
    Reduction(Reduction),
    Gift(GiftRule),
}

impl ActivityRule {
    pub fn validate(&self) -> Result<(), ReductionError> {
        match self {
            ActivityRule::Reduction(r) => r.validate(),
            ActivityRule::Gift(g) => g.validate(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            ActivityRule::Reduction(r) => r.label(),
            ActivityRule::Gift(g) => g.label(),
        }
    }
}

/// The next tier within reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextStep {
    /// What the buyer would add to the lines in scope.
    pub more_fen: i64,
    /// What the activity would then take off in all.
    pub off_fen: i64,
}

/// The label of a coupon: "满100减20", "无门槛减5", "8.5折，最高减50", "满99包邮".
pub fn coupon_label(benefit: CouponBenefit, threshold_fen: i64) -> String {
    let threshold = if threshold_fen > 0 {
        format!("满{}", yuan(threshold_fen))
    } else {
        "无门槛".to_string()
    };
    match benefit {
        CouponBenefit::AmountOff { amount_fen } => format!("{threshold}减{}", yuan(amount_fen)),
        CouponBenefit::PercentOff { rate_bp, cap_fen } => {
            let rate = format!("{}折", trim_decimal(i64::from(rate_bp), 1_000));
            let rate = if threshold_fen > 0 {
                format!("{threshold}{rate}")
            } else {
                rate
            };
            match cap_fen {
                Some(c) => format!("{rate}，最高减{}", yuan(c)),
                None => rate,
            }
        }
        CouponBenefit::FreeShipping => format!("{threshold}包邮"),
    }
}

/// Yuan as buyers read it: 100, 99.5, 0.01.
pub fn yuan(fen: i64) -> String {
    trim_decimal(fen, 100)
}

/// `value / unit` in decimal without trailing zeros.
fn trim_decimal(value: i64, unit: i64) -> String {
    let whole = value / unit;
    let rest = (value % unit).abs();
    if rest == 0 {
        return whole.to_string();
    }
    let digits = unit.to_string().len() - 1;
    let frac = format!("{rest:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product_id: i64, category_id: i64, payable_fen: i64) -> CartLine {
        CartLine {
            product_id,
            category_id: Some(category_id),
            payable_fen,
            quantity: 1,
        }
    }

    fn amount_off(threshold_fen: i64, amount_fen: i64) -> CouponTerms {
        CouponTerms {
            benefit: CouponBenefit::AmountOff { amount_fen },
            threshold_fen,
            scope: Scope::Shop,
            stacks_with_activities: true,
        }
    }

    #[test]
    fn the_seeds_coupon_takes_20_off_a_120_cart_and_says_what_is_missing_below_100() {
        let c = amount_off(10_000, 2_000);
        let cart = [line(1, 1, 8_000), line(2, 1, 4_000)];
        let offer = coupon_offer(&c, &cart, false).unwrap();
        assert_eq!(offer.amount_fen, 2_000);
        assert_eq!(offer.lines, vec![0, 1]);
        assert_eq!(
            coupon_offer(&c, &cart[..1], false),
            Err(Unusable::BelowThreshold { short_fen: 2_000 })
        );
        assert_eq!(coupon_label(c.benefit, c.threshold_fen), "满100减20");
    }

    #[test]
    fn scope_decides_the_lines_and_the_threshold_counts_only_them() {
        let mut c = amount_off(5_000, 1_000);
        c.scope = Scope::Categories([7].into());
        let cart = [line(1, 7, 3_000), line(2, 8, 9_000)];
        assert_eq!(
            coupon_offer(&c, &cart, false),
            Err(Unusable::BelowThreshold { short_fen: 2_000 })
        );
        c.scope = Scope::Products([2].into());
        assert_eq!(coupon_offer(&c, &cart, false).unwrap().lines, vec![1]);
        c.scope = Scope::AllExcept([1, 2].into());
        assert_eq!(coupon_offer(&c, &cart, false), Err(Unusable::NotInScope));
        // A line that costs nothing any more is not in scope.
        c.scope = Scope::Shop;
        c.threshold_fen = 0;
        let free = [line(1, 7, 0)];
        assert_eq!(coupon_offer(&c, &free, false), Err(Unusable::NotInScope));
    }

    #[test]
    fn percent_off_rounds_down_and_stops_at_its_cap() {
        let c = CouponTerms {
            benefit: CouponBenefit::PercentOff {
                rate_bp: 8_500,
                cap_fen: Some(5_000),
            },
            threshold_fen: 0,
            scope: Scope::Shop,
            stacks_with_activities: true,
        };
        // 15 % of ¥99.99 is ¥14.9985: ¥14.99.
        assert_eq!(
            coupon_offer(&c, &[line(1, 1, 9_999)], false)
                .unwrap()
                .amount_fen,
            1_499
        );
        // 15 % of ¥1,000 is ¥150, capped at ¥50.
        assert_eq!(
            coupon_offer(&c, &[line(1, 1, 100_000)], false)
                .unwrap()
                .amount_fen,
            5_000
        );
        assert_eq!(coupon_label(c.benefit, c.threshold_fen), "8.5折，最高减50");
    }

    #[test]
    fn a_coupon_never_takes_more_than_its_lines_cost() {
        let c = amount_off(0, 5_000);
        assert_eq!(
            coupon_offer(&c, &[line(1, 1, 1_234)], false)
                .unwrap()
                .amount_fen,
            1_234
        );
        assert_eq!(coupon_label(c.benefit, c.threshold_fen), "无门槛减50");
    }

    #[test]
    fn a_coupon_that_does_not_stack_is_refused_after_an_activity() {
        let mut c = amount_off(0, 500);
        c.stacks_with_activities = false;
        assert_eq!(
            coupon_offer(&c, &[line(1, 1, 9_000)], true),
            Err(Unusable::NotStackable)
        );
        assert!(coupon_offer(&c, &[line(1, 1, 9_000)], false).is_ok());
    }

    #[test]
    fn the_best_coupon_takes_most_then_expires_first_and_free_shipping_only_alone() {
        let c = |coupon_id, amount_fen, valid_until| Candidate {
            coupon_id,
            amount_fen,
            free_shipping: false,
            valid_until,
        };
        let ship = Candidate {
            coupon_id: 9,
            amount_fen: 0,
            free_shipping: true,
            valid_until: 1,
        };
        assert_eq!(
            best(&[c(1, 500, 10), c(2, 800, 30), c(3, 800, 20), ship]).map(|c| c.coupon_id),
            Some(3)
        );
        assert_eq!(best(&[c(1, 0, 10), ship]).map(|c| c.coupon_id), Some(9));
        assert_eq!(best(&[c(1, 0, 10)]), None);
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn tiers_take_the_highest_reached_and_hint_the_next() {
        let r = Reduction::Tiers(vec![
            Tier {
                threshold_fen: 10_000,
                off_fen: 1_000,
            },
            Tier {
                threshold_fen: 20_000,
                off_fen: 3_000,
            },
        ]);
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(
            r.apply(8_800),
            (
                0,
                Some(NextStep {
                    more_fen: 1_200,
                    off_fen: 1_000
                })
            )
        );
        assert_eq!(
            r.apply(15_000),
            (
                1_000,
                Some(NextStep {
                    more_fen: 5_000,
                    off_fen: 3_000
                })
            )
        );
        assert_eq!(r.apply(20_000), (3_000, None));
        assert_eq!(r.label(), "满100减10 / 满200减30");
    }

    #[test]
    fn every_full_step_repeats_up_to_its_cap() {
        let r = Reduction::Every {
            step_fen: 10_000,
            off_fen: 1_000,
            cap_fen: Some(2_500),
        };
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(
            r.apply(19_999),
            (
                1_000,
                Some(NextStep {
                    more_fen: 1,
                    off_fen: 2_000
                })
            )
        );
        assert_eq!(
            r.apply(25_000),
            (
                2_000,
                Some(NextStep {
                    more_fen: 5_000,
                    off_fen: 2_500
                })
            )
        );
        assert_eq!(r.apply(90_000), (2_500, None));
        assert_eq!(r.label(), "每满100减10，最高减25");
    }

    #[test]
    fn bad_rules_are_refused() {
        let t = |threshold_fen, off_fen| Tier {
            threshold_fen,
            off_fen,
        };
        assert_eq!(
            Reduction::Tiers(vec![]).validate(),
            Err(ReductionError::NoTier)
        );
        assert_eq!(
            Reduction::Tiers(vec![t(1_000, 2_000)]).validate(),
            Err(ReductionError::BadTier)
        );
        assert_eq!(
            Reduction::Tiers(vec![t(10_000, 1_000), t(10_000, 2_000)]).validate(),
            Err(ReductionError::Overlapping)
        );
        assert_eq!(
            Reduction::Tiers(vec![t(10_000, 2_000), t(20_000, 1_500)]).validate(),
            Err(ReductionError::Overlapping)
        );
        assert_eq!(
            Reduction::Every {
                step_fen: 10_000,
                off_fen: 1_000,
                cap_fen: Some(500)
            }
            .validate(),
            Err(ReductionError::BadCap)
        );
    }

    #[test]
    fn gifts_come_with_the_highest_tier_reached() {
        let g = GiftRule {
            by_quantity: false,
            tiers: vec![
                GiftTier {
                    threshold: 19_900,
                    sku_id: 7,
                    quantity: 1,
                },
                GiftTier {
                    threshold: 39_900,
                    sku_id: 8,
                    quantity: 2,
                },
            ],
        };
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.apply(10_000, 9), (None, Some((9_900, g.tiers[0]))));
        assert_eq!(
            g.apply(20_000, 1),
            (Some(g.tiers[0]), Some((19_900, g.tiers[1])))
        );
        assert_eq!(g.apply(40_000, 1), (Some(g.tiers[1]), None));
        assert_eq!(g.label(), "满199赠 / 满399赠");
        let by_units = GiftRule {
            by_quantity: true,
            tiers: vec![GiftTier {
                threshold: 2,
                sku_id: 7,
                quantity: 1,
            }],
        };
        assert_eq!(by_units.apply(1, 2).0, Some(by_units.tiers[0]));
        assert_eq!(by_units.label(), "买2件赠");
        let mut bad = g.clone();
        bad.tiers[1].threshold = 19_900;
        assert_eq!(bad.validate(), Err(ReductionError::Overlapping));
        bad.tiers[1].quantity = 0;
        assert_eq!(bad.validate(), Err(ReductionError::BadTier));
    }

    #[test]
    fn yuan_reads_as_buyers_write_it() {
        assert_eq!(yuan(10_000), "100");
        assert_eq!(yuan(9_950), "99.5");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(trim_decimal(8_500, 1_000), "8.5");
        assert_eq!(trim_decimal(9_000, 1_000), "9");
    }
}
