//! The distribution rules as plain functions: commission maths, which rate applies, binding
//! decisions, settlement periods, level upgrades and withdrawal fees. No database here.
//!
//! Rounding (ARCHITECTURE.md §9.2): every commission record is rounded to the fen half-up (half away from
//! zero, `money::round_to_fen`) from its own base; tiers are computed independently, so a
//! record's amount never depends on another's rounding.
use async_graphql::Enum;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{round_to_fen, to_decimal, to_fen};

/// WeChat's platform rules and Chinese law on pyramid selling cap distribution at three levels.
pub const MAX_TIERS: usize = 3;

/// What a commission rate is applied to.
#[derive(Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[graphql(name = "CommissionBase")]
pub enum CommissionBase {
    /// What the buyer paid for the line after every discount.
    #[default]
    Sales,
    /// Paid amount minus cost, floored at zero.
    Profit,
}

impl CommissionBase {
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionBase::Sales => "SALES",
            CommissionBase::Profit => "PROFIT",
        }
    }
}

/// How often confirmed commissions are settled into balances.
#[derive(Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SettlementCycle {
    /// Every day, for the day before.
    Daily,
    /// Every week on the payout weekday, for the week before (Monday to Sunday).
    Weekly,
    /// Every month on the payout day, for the month before.
    #[default]
    Monthly,
}

impl SettlementCycle {
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementCycle::Daily => "DAILY",
            SettlementCycle::Weekly => "WEEKLY",
            SettlementCycle::Monthly => "MONTHLY",
        }
    }
}

/// A product's or SKU's own commission: a rate per tier, or a fixed amount per unit per tier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CommissionOverride {
    pub product_id: i64,
    /// When set, the override applies to this SKU only (and wins over the product's).
    #[serde(default)]
    pub sku_id: Option<i64>,
    #[serde(default)]
    pub rates: Option<Vec<Decimal>>,
    #[serde(default)]
    pub fixed_fen: Option<Vec<i64>>,
}

/// A distributor level's own rates per tier (for the beneficiary at that level).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LevelRates {
    pub level_id: i64,
    pub rates: Vec<Decimal>,
}

/// One version of the commission rules.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CommissionRules {
    /// Percent per tier, nearest distributor first (1–3 tiers).
    pub rates: Vec<Decimal>,
    pub base: CommissionBase,
    /// Whether a distributor earns tier 1 on their own purchases.
    pub self_purchase: bool,
    pub cycle: SettlementCycle,
    /// Monthly: day of month (1–28); weekly: day of week (1 = Monday … 7); daily: ignored.
    pub payout_day: u32,
    #[serde(default)]
    pub overrides: Vec<CommissionOverride>,
    #[serde(default)]
    pub level_rates: Vec<LevelRates>,
}

impl Default for CommissionRules {
    /// The seed's rules: 20% / 10% / 5% of sales, monthly, paid on the 5th.
    fn default() -> Self {
        CommissionRules {
            rates: vec![Decimal::from(20), Decimal::from(10), Decimal::from(5)],
            base: CommissionBase::Sales,
            self_purchase: false,
            cycle: SettlementCycle::Monthly,
            payout_day: 5,
            overrides: Vec::new(),
            level_rates: Vec::new(),
        }
    }
}

/// Why rules were refused: the input field and a message.
pub type RuleError = (&'static str, String);

fn check_rates(field: &'static str, rates: &[Decimal], tiers: usize) -> Result<(), RuleError> {
    if rates.is_empty() || rates.len() > tiers {
        return Err((field, format!("give 1 to {tiers} rates, one per tier")));
    }
    if rates
        .iter()
        .any(|r| *r < Decimal::ZERO || *r > Decimal::ONE_HUNDRED || r.normalize().scale() > 2)
    {
        return Err((
            field,
            "a rate is a percentage from 0 to 100 with at most two decimals".into(),
        ));
    }
    if rates.iter().sum::<Decimal>() > Decimal::ONE_HUNDRED {
        return Err((
            field,
            "the rates of all tiers add up to more than 100%".into(),
        ));
    }
    Ok(())
}

impl CommissionRules {
    pub fn tiers(&self) -> usize {
        self.rates.len()
    }

    pub fn validate(&self) -> Result<(), RuleError> {
        check_rates("rates", &self.rates, MAX_TIERS)?;
        let day_ok = match self.cycle {
            SettlementCycle::Daily => true,
            SettlementCycle::Weekly => (1..=7).contains(&self.payout_day),
            SettlementCycle::Monthly => (1..=28).contains(&self.payout_day),
        };
        if !day_ok {
            return Err((
                "payoutDay",
                "the payout day is 1–7 (Monday–Sunday) for a weekly cycle, 1–28 for a monthly one"
                    .into(),
            ));
        }
        for o in &self.overrides {
            match (&o.rates, &o.fixed_fen) {
                (Some(r), None) => check_rates("overrides", r, self.tiers())?,
                (None, Some(f)) => {
                    if f.is_empty()
                        || f.len() > self.tiers()
                        || f.iter().any(|x| *x < 0 || *x > crate::money::MAX_FEN)
                    {
                        return Err((
                            "overrides",
                            "a fixed override gives 1 amount per tier, none negative".into(),
                        ));
                    }
                }
                _ => {
                    return Err((
                        "overrides",
                        "an override has either rates or fixed amounts".into(),
                    ));
                }
            }
        }
        for l in &self.level_rates {
            check_rates("levelRates", &l.rates, self.tiers())?;
        }
        Ok(())
    }
}

/// What a commission is computed from for one order line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    pub product_id: i64,
    pub sku_id: i64,
    /// Units still paid for (bought − refunded).
    pub quantity: i64,
    /// What the buyer still paid for the line after discounts and refunds.
    pub paid_fen: i64,
    /// Cost of one unit.
    pub unit_cost_fen: i64,
}

/// One link of the referral chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLink {
    pub user_id: i64,
    pub level_id: Option<i64>,
}

/// How a record's amount was worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pay {
    Rate(Decimal),
    FixedPerUnit(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    pub tier: usize,
    pub beneficiary: i64,
    pub base_fen: i64,
    pub pay: Pay,
    pub amount_fen: i64,
}

/// The base of a line under `base`.
pub fn base_of(base: CommissionBase, line: &LineFacts) -> i64 {
    match base {
        CommissionBase::Sales => line.paid_fen.max(0),
        CommissionBase::Profit => (line.paid_fen - line.unit_cost_fen * line.quantity).max(0),
    }
}

/// `base × rate%`, half-up to the fen.
pub fn apply_rate(base_fen: i64, rate: Decimal) -> i64 {
    let amount = round_to_fen(to_decimal(base_fen) * rate / Decimal::ONE_HUNDRED);
    to_fen(amount).unwrap_or(0)
}

/// The amount `pay` gives on `base_fen` for `quantity` units.
pub fn amount_of(pay: &Pay, base_fen: i64, quantity: i64) -> i64 {
    match pay {
        Pay::Rate(rate) => apply_rate(base_fen, *rate),
        Pay::FixedPerUnit(fen) => fen * quantity.max(0),
    }
}

/// Which rate or amount pays tier `tier` (1-based) to `link` for `line`: the SKU's override,
/// else the product's, else the beneficiary level's rates, else the rules' rates.
pub fn pay_for(rules: &CommissionRules, line: &LineFacts, tier: usize, link: &ChainLink) -> Pay {
    let i = tier - 1;
    let override_for = rules
        .overrides
        .iter()
        .find(|o| o.sku_id == Some(line.sku_id))
        .or_else(|| {
            rules
                .overrides
                .iter()
                .find(|o| o.sku_id.is_none() && o.product_id == line.product_id)
        });
    if let Some(o) = override_for {
        if let Some(fixed) = &o.fixed_fen {
            return Pay::FixedPerUnit(fixed.get(i).copied().unwrap_or(0));
        }
        if let Some(rates) = &o.rates {
            return Pay::Rate(rates.get(i).copied().unwrap_or(Decimal::ZERO));
        }
    }
    let level_rates = link.level_id.and_then(|level| {
        rules
            .level_rates
            .iter()
            .find(|l| l.level_id == level)
            .map(|l| &l.rates)
    });
    Pay::Rate(
        level_rates
            .unwrap_or(&rules.rates)
            .get(i)
            .copied()
            .unwrap_or(Decimal::ZERO),
    )
}

/// The records a paid line creates: one per tier up `chain` (nearest first), at most as many
/// as the rules have tiers. Zero amounts are kept out.
pub fn commissions_for_line(
    rules: &CommissionRules,
    line: &LineFacts,
    chain: &[ChainLink],
) -> Vec<Computed> {
    let base_fen = base_of(rules.base, line);
    chain
        .iter()
        .take(rules.tiers())
        .enumerate()
        .filter_map(|(i, link)| {
            let tier = i + 1;
            let pay = pay_for(rules, line, tier, link);
            let amount_fen = amount_of(&pay, base_fen, line.quantity);
            (amount_fen > 0).then_some(Computed {
                tier,
                beneficiary: link.user_id,
                base_fen,
                pay,
                amount_fen,
            })
        })
        .collect()
}

/// A record's amount after a refund: recomputed on what is still paid for, never above what it
/// was. Returns the new amount.
pub fn amount_after_refund(
    base: CommissionBase,
    pay: &Pay,
    line_after: &LineFacts,
    current_fen: i64,
) -> i64 {
    amount_of(pay, base_of(base, line_after), line_after.quantity).min(current_fen)
}

/// Who the chain starts with for a buyer: with self-purchase on, a buyer who is an active
/// distributor earns tier 1 on their own order; otherwise the distributor they are bound to
/// (or who shared the link) does — never the buyer themselves.
pub fn chain_start(
    buyer: i64,
    buyer_is_distributor: bool,
    self_purchase: bool,
    attributed: Option<i64>,
) -> Option<i64> {
    if buyer_is_distributor && self_purchase {
        return Some(buyer);
    }
    attributed.filter(|d| *d != buyer)
}

/// When a new touch replaces an existing binding.
#[derive(Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BindingMode {
    /// The first distributor keeps the customer for good.
    #[default]
    Permanent,
    /// The first distributor keeps the customer for `bindingDays`; then the next touch rebinds.
    Days,
    /// Every new touch rebinds.
    LastTouch,
}

/// What to do with a touch (share link opened with intent: registration or order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingDecision {
    /// Bind (or rebind) to the touching distributor, until the given time (`None`: for good).
    Bind { expires_at: Option<DateTime<Utc>> },
    /// The current binding stands.
    Keep,
}

/// A current binding: to whom, until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentBinding {
    pub distributor: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Decides a touch by `distributor` for a customer with `current` binding. Self-binding and
/// loops are refused by the caller before this (they need the tree).
pub fn decide_binding(
    mode: BindingMode,
    days: u32,
    current: Option<CurrentBinding>,
    distributor: i64,
    now: DateTime<Utc>,
) -> BindingDecision {
    let expires_at = match mode {
        BindingMode::Days => Some(now + Duration::days(i64::from(days.max(1)))),
        _ => None,
    };
    let live = current.filter(|c| c.expires_at.is_none_or(|e| e > now));
    match (mode, live) {
        (_, None) => BindingDecision::Bind { expires_at },
        (_, Some(c)) if c.distributor == distributor => BindingDecision::Keep,
        (BindingMode::LastTouch, Some(_)) => BindingDecision::Bind { expires_at },
        (_, Some(_)) => BindingDecision::Keep,
    }
}

/// A settlement period: its key (one run each) and its cutoff (commissions confirmed before it
/// are settled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub cutoff: DateTime<Utc>,
}

fn local_midnight(day: NaiveDate, offset_hours: i32) -> DateTime<Utc> {
    let offset = chrono::FixedOffset::east_opt(offset_hours * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"));
    offset
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// The last complete period before `now` (shop time at `offset_hours`): yesterday, last week
/// (Monday to Sunday) or last month. Its cutoff is the start of the current period.
pub fn last_complete_period(
    cycle: SettlementCycle,
    now: DateTime<Utc>,
    offset_hours: i32,
) -> Period {
    let today = (now + Duration::hours(i64::from(offset_hours))).date_naive();
    let (start_of_current, key) = match cycle {
        SettlementCycle::Daily => {
            let previous = today - Duration::days(1);
            (today, format!("DAILY:{}", previous.format("%Y-%m-%d")))
        }
        SettlementCycle::Weekly => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            let previous = monday - Duration::days(7);
            (monday, format!("WEEKLY:{}", previous.format("%Y-%m-%d")))
        }
        SettlementCycle::Monthly => {
            let first = today.with_day(1).expect("day 1 exists");
            let previous = first - Duration::days(1);
            (first, format!("MONTHLY:{}", previous.format("%Y-%m")))
        }
    };
    Period {
        key,
        cutoff: local_midnight(start_of_current, offset_hours),
    }
}

/// Whether the scheduled settlement is due at `now`: on or after the payout day of the current
/// period (a server that was down on the day catches up the day after).
pub fn settlement_due(
    cycle: SettlementCycle,
    payout_day: u32,
    now: DateTime<Utc>,
    offset_hours: i32,
) -> bool {
    let today = (now + Duration::hours(i64::from(offset_hours))).date_naive();
    match cycle {
        SettlementCycle::Daily => true,
        SettlementCycle::Weekly => today.weekday().number_from_monday() >= payout_day,
        SettlementCycle::Monthly => today.day() >= payout_day,
    }
}

/// The previous month in shop time as `YYYY-MM` with its bounds, for the monthly report.
pub fn previous_month(
    now: DateTime<Utc>,
    offset_hours: i32,
) -> (String, DateTime<Utc>, DateTime<Utc>) {
    let today = (now + Duration::hours(i64::from(offset_hours))).date_naive();
    let first = today.with_day(1).expect("day 1 exists");
    let previous_first = (first - Duration::days(1))
        .with_day(1)
        .expect("day 1 exists");
    (
        previous_first.format("%Y-%m").to_string(),
        local_midnight(previous_first, offset_hours),
        local_midnight(first, offset_hours),
    )
}

/// The fee of a withdrawal: `amount × rate%`, half-up to the fen.
pub fn withdrawal_fee(amount_fen: i64, fee_rate: Decimal) -> i64 {
    apply_rate(amount_fen, fee_rate)
}

/// An account number as others than finance staff see it: the last four characters.
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() <= 4 {
        return "****".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("**** **** **** {tail}")
}

/// Upgrade conditions of a level.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LevelConditions {
    /// `true`: every condition set must hold; `false`: any one.
    pub require_all: bool,
    pub invited_distributors: Option<i64>,
    pub team_sales_fen: Option<i64>,
    pub own_sales_fen: Option<i64>,
    pub order_count: Option<i64>,
}

/// What a distributor has achieved, for level upgrades.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Achievements {
    pub invited_distributors: i64,
    pub team_sales_fen: i64,
    pub own_sales_fen: i64,
    pub order_count: i64,
}

impl LevelConditions {
    pub fn is_empty(&self) -> bool {
        self.invited_distributors.is_none()
            && self.team_sales_fen.is_none()
            && self.own_sales_fen.is_none()
            && self.order_count.is_none()
    }

    pub fn met_by(&self, a: &Achievements) -> bool {
        let checks: Vec<bool> = [
            self.invited_distributors
                .map(|n| a.invited_distributors >= n),
            self.team_sales_fen.map(|n| a.team_sales_fen >= n),
            self.own_sales_fen.map(|n| a.own_sales_fen >= n),
            self.order_count.map(|n| a.order_count >= n),
        ]
        .into_iter()
        .flatten()
        .collect();
        if checks.is_empty() {
            return false;
        }
        if self.require_all {
            checks.iter().all(|c| *c)
        } else {
            checks.iter().any(|c| *c)
        }
    }
}

/// The level a distributor reaches: the highest-ranked level whose conditions they meet, if it
/// ranks above their current one (levels are never lowered automatically).
pub fn upgraded_level(
    levels: &[(i64, i32, LevelConditions)],
    current_rank: Option<i32>,
    a: &Achievements,
) -> Option<i64> {
    levels
        .iter()
        .filter(|(_, rank, c)| current_rank.is_none_or(|r| *rank > r) && c.met_by(a))
        .max_by_key(|(_, rank, _)| *rank)
        .map(|(id, _, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(paid_fen: i64, unit_cost_fen: i64, quantity: i64) -> LineFacts {
        LineFacts {
            product_id: 1,
            sku_id: 11,
            quantity,
            paid_fen,
            unit_cost_fen,
        }
    }

    fn chain(ids: &[i64]) -> Vec<ChainLink> {
        ids.iter()
            .map(|id| ChainLink {
                user_id: *id,
                level_id: None,
            })
            .collect()
    }

    fn amounts(c: &[Computed]) -> Vec<(i64, i64)> {
        c.iter().map(|c| (c.beneficiary, c.amount_fen)).collect()
    }

    #[test]
    fn the_seed_example_on_sales_pays_20_10_5() {
        let rules = CommissionRules::default();
        let c = commissions_for_line(&rules, &line(10_000, 6_000, 1), &chain(&[1, 2, 3]));
        assert_eq!(amounts(&c), vec![(1, 2_000), (2, 1_000), (3, 500)]);
        assert_eq!(c[0].tier, 1);
        assert_eq!(c[2].tier, 3);
    }

    #[test]
    fn the_seed_example_on_profit_pays_8_4_2() {
        let rules = CommissionRules {
            base: CommissionBase::Profit,
            ..Default::default()
        };
        let c = commissions_for_line(&rules, &line(10_000, 6_000, 1), &chain(&[1, 2, 3]));
        assert_eq!(amounts(&c), vec![(1, 800), (2, 400), (3, 200)]);
        assert!(c.iter().all(|c| c.base_fen == 4_000));
    }

    #[test]
    fn profit_is_floored_at_zero_and_pays_nothing() {
        let rules = CommissionRules {
            base: CommissionBase::Profit,
            ..Default::default()
        };
        assert!(commissions_for_line(&rules, &line(5_000, 6_000, 1), &chain(&[1])).is_empty());
    }

    #[test]
    fn amounts_round_half_up_per_record() {
        // 20% of ¥0.33 = 6.6 fen → 7; 10% = 3.3 → 3; 5% of ¥0.33 = 1.65 → 2.
        let c = commissions_for_line(
            &CommissionRules::default(),
            &line(33, 0, 1),
            &chain(&[1, 2, 3]),
        );
        assert_eq!(amounts(&c), vec![(1, 7), (2, 3), (3, 2)]);
        // Exactly half a fen rounds up: 12.5% of 4 fen = 0.5 → 1.
        assert_eq!(apply_rate(4, d("12.5")), 1);
        assert_eq!(apply_rate(3, d("12.5")), 0);
    }

    #[test]
    fn a_chain_longer_than_the_tiers_stops_at_the_last_tier() {
        let rules = CommissionRules {
            rates: vec![d("10")],
            ..Default::default()
        };
        let c = commissions_for_line(&rules, &line(10_000, 0, 1), &chain(&[1, 2, 3]));
        assert_eq!(amounts(&c), vec![(1, 1_000)]);
    }

    #[test]
    fn sku_override_beats_product_override_beats_level_beats_default() {
        let rules = CommissionRules {
            overrides: vec![
                CommissionOverride {
                    product_id: 1,
                    sku_id: None,
                    rates: Some(vec![d("30"), d("0")]),
                    fixed_fen: None,
                },
                CommissionOverride {
                    product_id: 1,
                    sku_id: Some(12),
                    rates: None,
                    fixed_fen: Some(vec![150, 50, 10]),
                },
            ],
            level_rates: vec![LevelRates {
                level_id: 9,
                rates: vec![d("25"), d("12")],
            }],
            ..Default::default()
        };
        let gold = [
            ChainLink {
                user_id: 1,
                level_id: Some(9),
            },
            ChainLink {
                user_id: 2,
                level_id: Some(9),
            },
        ];
        // SKU 11 of product 1: the product override (tier 2 pays nothing, so no record).
        let c = commissions_for_line(&rules, &line(10_000, 0, 1), &gold);
        assert_eq!(amounts(&c), vec![(1, 3_000)]);
        // SKU 12: fixed per unit, 3 units.
        let mut l = line(10_000, 0, 3);
        l.sku_id = 12;
        let c = commissions_for_line(&rules, &l, &gold);
        assert_eq!(amounts(&c), vec![(1, 450), (2, 150)]);
        assert_eq!(c[0].pay, Pay::FixedPerUnit(150));
        // Another product: the level's rates.
        let mut l = line(10_000, 0, 1);
        l.product_id = 2;
        l.sku_id = 20;
        let c = commissions_for_line(&rules, &l, &gold);
        assert_eq!(amounts(&c), vec![(1, 2_500), (2, 1_200)]);
        // No level: the default rates.
        let c = commissions_for_line(&rules, &l, &chain(&[1, 2]));
        assert_eq!(amounts(&c), vec![(1, 2_000), (2, 1_000)]);
    }

    #[test]
    fn a_refund_recomputes_on_what_is_still_paid() {
        let pay = Pay::Rate(d("20"));
        // ¥100 for 2 units; one unit (¥50) refunded.
        assert_eq!(
            amount_after_refund(CommissionBase::Sales, &pay, &line(5_000, 0, 1), 2_000),
            1_000
        );
        assert_eq!(
            amount_after_refund(CommissionBase::Sales, &pay, &line(0, 0, 0), 2_000),
            0
        );
        let fixed = Pay::FixedPerUnit(150);
        assert_eq!(
            amount_after_refund(CommissionBase::Sales, &fixed, &line(5_000, 0, 1), 300),
            150
        );
    }

    #[test]
    fn chain_start_follows_the_self_purchase_switch() {
        assert_eq!(chain_start(7, true, true, Some(3)), Some(7));
        assert_eq!(chain_start(7, true, false, Some(3)), Some(3));
        assert_eq!(chain_start(7, false, true, Some(3)), Some(3));
        assert_eq!(chain_start(7, false, false, None), None);
        // Nobody earns on their own purchase through an attribution to themselves.
        assert_eq!(chain_start(7, true, false, Some(7)), None);
    }

    #[test]
    fn rules_validate() {
        assert!(CommissionRules::default().validate().is_ok());
        let bad = |f: fn(&mut CommissionRules)| {
            let mut r = CommissionRules::default();
            f(&mut r);
            r.validate().unwrap_err().0
        };
        assert_eq!(bad(|r| r.rates = vec![]), "rates");
        assert_eq!(bad(|r| r.rates = vec![d("1"); 4]), "rates");
        assert_eq!(bad(|r| r.rates = vec![d("-1")]), "rates");
        assert_eq!(bad(|r| r.rates = vec![d("60"), d("50")]), "rates");
        assert_eq!(bad(|r| r.rates = vec![d("1.005")]), "rates");
        assert_eq!(bad(|r| r.payout_day = 29), "payoutDay");
        assert_eq!(
            bad(|r| {
                r.cycle = SettlementCycle::Weekly;
                r.payout_day = 8
            }),
            "payoutDay"
        );
        assert_eq!(
            bad(|r| r.overrides = vec![CommissionOverride {
                product_id: 1,
                sku_id: None,
                rates: None,
                fixed_fen: None
            }]),
            "overrides"
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn binding_modes() {
        let now = at("2026-11-28T12:00:00Z");
        let by = |d, e| {
            Some(CurrentBinding {
                distributor: d,
                expires_at: e,
            })
        };
        // Permanent: first touch wins for good.
        assert_eq!(
            decide_binding(BindingMode::Permanent, 0, None, 1, now),
            BindingDecision::Bind { expires_at: None }
        );
        assert_eq!(
            decide_binding(BindingMode::Permanent, 0, by(1, None), 2, now),
            BindingDecision::Keep
        );
        // Days: kept while valid, then the next touch rebinds.
        assert_eq!(
            decide_binding(BindingMode::Days, 7, None, 1, now),
            BindingDecision::Bind {
                expires_at: Some(now + Duration::days(7))
            }
        );
        let later = now + Duration::days(1);
        assert_eq!(
            decide_binding(BindingMode::Days, 7, by(1, Some(later)), 2, now),
            BindingDecision::Keep
        );
        let earlier = now - Duration::seconds(1);
        assert_eq!(
            decide_binding(BindingMode::Days, 7, by(1, Some(earlier)), 2, now),
            BindingDecision::Bind {
                expires_at: Some(now + Duration::days(7))
            }
        );
        // Last touch: every other distributor rebinds; the same one keeps.
        assert_eq!(
            decide_binding(BindingMode::LastTouch, 0, by(1, None), 2, now),
            BindingDecision::Bind { expires_at: None }
        );
        assert_eq!(
            decide_binding(BindingMode::LastTouch, 0, by(2, None), 2, now),
            BindingDecision::Keep
        );
    }

    #[test]
    fn settlement_periods_in_shop_time() {
        // 2026-12-01 01:00 in Beijing is still 2026-11-30 in UTC.
        let now = at("2026-11-30T17:00:00Z");
        let p = last_complete_period(SettlementCycle::Monthly, now, 8);
        assert_eq!(p.key, "MONTHLY:2026-11");
        assert_eq!(p.cutoff, at("2026-11-30T16:00:00Z"));
        let p = last_complete_period(SettlementCycle::Daily, now, 8);
        assert_eq!(p.key, "DAILY:2026-11-30");
        // 2026-12-01 is a Tuesday: last week began Monday 2026-11-23.
        let p = last_complete_period(SettlementCycle::Weekly, now, 8);
        assert_eq!(p.key, "WEEKLY:2026-11-23");
        assert_eq!(p.cutoff, at("2026-11-29T16:00:00Z"));
        assert!(!settlement_due(SettlementCycle::Monthly, 5, now, 8));
        assert!(settlement_due(
            SettlementCycle::Monthly,
            5,
            at("2026-12-05T00:00:00Z"),
            8
        ));
        assert!(settlement_due(SettlementCycle::Weekly, 2, now, 8));
        assert!(!settlement_due(SettlementCycle::Weekly, 3, now, 8));
        let (key, from, to) = previous_month(now, 8);
        assert_eq!(key, "2026-11");
        assert_eq!(from, at("2026-10-31T16:00:00Z"));
        assert_eq!(to, at("2026-11-30T16:00:00Z"));
    }

    #[test]
    fn fees_and_masks() {
        assert_eq!(withdrawal_fee(10_000, d("0.6")), 60);
        assert_eq!(withdrawal_fee(125, d("2")), 3); // 2.5 fen → 3
        assert_eq!(withdrawal_fee(10_000, Decimal::ZERO), 0);
        assert_eq!(mask_account("6222 0212 3456 7890"), "**** **** **** 7890");
        assert_eq!(mask_account("123"), "****");
    }

    #[test]
    fn levels_upgrade_on_any_or_all_conditions_and_never_down() {
        let silver = LevelConditions {
            require_all: false,
            invited_distributors: Some(3),
            own_sales_fen: Some(100_000),
            ..Default::default()
        };
        let gold = LevelConditions {
            require_all: true,
            invited_distributors: Some(10),
            team_sales_fen: Some(1_000_000),
            ..Default::default()
        };
        let levels = vec![(1, 1, silver), (2, 2, gold)];
        let mut a = Achievements {
            invited_distributors: 3,
            ..Default::default()
        };
        assert_eq!(upgraded_level(&levels, None, &a), Some(1));
        a.invited_distributors = 10;
        assert_eq!(upgraded_level(&levels, Some(1), &a), None);
        a.team_sales_fen = 1_000_000;
        assert_eq!(upgraded_level(&levels, Some(1), &a), Some(2));
        assert_eq!(
            upgraded_level(&levels, Some(2), &Achievements::default()),
            None
        );
        assert!(!LevelConditions::default().met_by(&a));
    }
}
