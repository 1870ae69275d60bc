//! The distribution rules as plain functions: commission maths, which rate applies, binding
//! decisions, settlement periods, level upgrades and withdrawal fees. No database here.
//!
//! Rounding (ARCHITECTURE.md §9.2): every commission record is rounded to the fen half-up (half away from
//! zero, `money::round_to_fen`) from its own base; tiers are computed independently, so a
//! record's amount never depends on another's rounding.
//!
//! The cap: a line never pays more commission, over all its tiers, than its base (what the line
//! paid, or its profit). Rule sets that could are refused when published (`validate`), and the
//! computation caps as a second guard (`cap_to_base`) for what publishing cannot see: rounding,
//! and prices, costs and discounts that change after.
use std::collections::HashMap;

use async_graphql::Enum;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{round_to_fen, to_decimal, to_fen};
use crate::shop_time::{local_midnight, shop_day};

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

/// What the rules are checked against when published: the levels' names (for messages) and the
/// SKUs the overrides name, as they are now.
#[derive(Clone, Debug, Default)]
pub struct RuleContext {
    pub level_names: HashMap<i64, String>,
    pub skus: Vec<SkuPrices>,
}

/// A SKU's price and cost now, to check fixed per-unit overrides against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuPrices {
    pub product_id: i64,
    pub sku_id: i64,
    /// How a merchant recognises the SKU, e.g. `男子轻便跑步运动鞋 (SKU RUN-42)`.
    pub label: String,
    pub price_fen: i64,
    pub cost_fen: i64,
}

/// Where a tier's rate comes from: the default rates, or a level's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateTable {
    Default,
    Level(i64),
}

fn percent(rate: Decimal) -> String {
    format!("{}%", rate.normalize())
}

fn yuan_text(fen: i64) -> String {
    format!("¥{}", to_decimal(fen))
}

impl CommissionRules {
    pub fn tiers(&self) -> usize {
        self.rates.len()
    }

    /// The override that pays for a SKU: its own, else its product's.
    fn override_for(&self, product_id: i64, sku_id: i64) -> Option<&CommissionOverride> {
        self.overrides
            .iter()
            .find(|o| o.sku_id == Some(sku_id))
            .or_else(|| {
                self.overrides
                    .iter()
                    .find(|o| o.sku_id.is_none() && o.product_id == product_id)
            })
    }

    /// The highest rate each tier can pay, and from which table. Each beneficiary is paid from
    /// their own level's table (or the default one), so one line can combine tier 1 of one
    /// table with tier 2 of another: these add up to the most a line can pay by rates. (An
    /// override pays every tier of its line from its own table, which is checked on its own.)
    pub fn highest_rates(&self) -> Vec<(Decimal, RateTable)> {
        (0..self.tiers())
            .map(|i| {
                let default = (
                    self.rates.get(i).copied().unwrap_or(Decimal::ZERO),
                    RateTable::Default,
                );
                self.level_rates.iter().fold(default, |best, l| {
                    let rate = l.rates.get(i).copied().unwrap_or(Decimal::ZERO);
                    if rate > best.0 {
                        (rate, RateTable::Level(l.level_id))
                    } else {
                        best
                    }
                })
            })
            .collect()
    }

    /// Refuses level tables that, combined with each other or the default rates, could pay a
    /// line more than its base.
    fn check_combined_rates(&self, context: &RuleContext) -> Result<(), RuleError> {
        let highest = self.highest_rates();
        let total: Decimal = highest.iter().map(|(r, _)| *r).sum();
        if total <= Decimal::ONE_HUNDRED {
            return Ok(());
        }
        let parts: Vec<String> = highest
            .iter()
            .enumerate()
            .map(|(i, (rate, table))| {
                let from = match table {
                    RateTable::Default => "the default rates".to_string(),
                    RateTable::Level(id) => context
                        .level_names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| format!("level {id}")),
                };
                format!("tier {} at {} ({from})", i + 1, percent(*rate))
            })
            .collect();
        let base = match self.base {
            CommissionBase::Sales => "paid amount",
            CommissionBase::Profit => "profit",
        };
        Err((
            "levelRates",
            format!(
                "together these rates could pay up to {} of an order line's {base}: {}. Each \
                 distributor is paid from their own level's rates, so one order can combine \
                 levels; keep the highest rates of the tiers at 100% or less in total.",
                percent(total),
                parts.join(", ")
            ),
        ))
    }

    /// Refuses fixed per-unit overrides that pay more per unit, over all tiers, than one unit of
    /// a SKU they apply to earns as the base at its price (and cost) now.
    fn check_fixed_overrides(&self, context: &RuleContext) -> Result<(), RuleError> {
        for sku in &context.skus {
            let Some(fixed) = self
                .override_for(sku.product_id, sku.sku_id)
                .and_then(|o| o.fixed_fen.as_ref())
            else {
                continue;
            };
            let per_unit: i64 = fixed.iter().take(self.tiers()).sum();
            let (unit_base, what) = match self.base {
                CommissionBase::Sales => (
                    sku.price_fen.max(0),
                    format!("the {} a unit sells for", yuan_text(sku.price_fen.max(0))),
                ),
                CommissionBase::Profit => {
                    let profit = (sku.price_fen - sku.cost_fen).max(0);
                    (
                        profit,
                        format!(
                            "the {} profit a unit earns (price {} − cost {})",
                            yuan_text(profit),
                            yuan_text(sku.price_fen),
                            yuan_text(sku.cost_fen)
                        ),
                    )
                }
            };
            if per_unit > unit_base {
                return Err((
                    "overrides",
                    format!(
                        "{}: the fixed amounts add up to {} per unit, more than {what}; \
                         commission can never be more than its base",
                        sku.label,
                        yuan_text(per_unit)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the rules as a merchant saves them: each table on its own, then what tables can
    /// pay together, then fixed overrides against the SKUs' prices now.
    pub fn validate(&self, context: &RuleContext) -> Result<(), RuleError> {
        self.check_tables()?;
        self.check_combined_rates(context)?;
        self.check_fixed_overrides(context)
    }

    fn check_tables(&self) -> Result<(), RuleError> {
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
    /// The rules asked for more, and the cap to the line's base cut it.
    pub capped: bool,
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
    if let Some(o) = rules.override_for(line.product_id, line.sku_id) {
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

/// Caps what each tier of a line wants (nearest tier first) so that together they never pay
/// more than `base_fen`: each tier gets what it wants while the base lasts. Returns each tier's
/// amount and whether the cap cut it.
pub fn cap_to_base(base_fen: i64, wanted: &[i64]) -> Vec<(i64, bool)> {
    let mut left = base_fen.max(0);
    wanted
        .iter()
        .map(|want| {
            let paid = (*want).clamp(0, left);
            left -= paid;
            (paid, paid < *want)
        })
        .collect()
}

/// The records a paid line creates: one per tier up `chain` (nearest first), at most as many
/// as the rules have tiers, together never more than the line's base. Zero amounts are kept
/// out.
pub fn commissions_for_line(
    rules: &CommissionRules,
    line: &LineFacts,
    chain: &[ChainLink],
) -> Vec<Computed> {
    let base_fen = base_of(rules.base, line);
    let tiers: Vec<(&ChainLink, Pay)> = chain
        .iter()
        .take(rules.tiers())
        .enumerate()
        .map(|(i, link)| (link, pay_for(rules, line, i + 1, link)))
        .collect();
    let wanted: Vec<i64> = tiers
        .iter()
        .map(|(_, pay)| amount_of(pay, base_fen, line.quantity))
        .collect();
    tiers
        .into_iter()
        .zip(cap_to_base(base_fen, &wanted))
        .enumerate()
        .filter_map(|(i, ((link, pay), (amount_fen, capped)))| {
            (amount_fen > 0).then_some(Computed {
                tier: i + 1,
                beneficiary: link.user_id,
                base_fen,
                pay,
                amount_fen,
                capped,
            })
        })
        .collect()
}

/// A line's record as it stands, for recomputing it after a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub pay: Pay,
    pub amount_fen: i64,
}

/// The amounts of a line's records (in tier order) after a refund: each recomputed on what is
/// still paid for and never above what it was, and together never above the line's base now.
/// Returns each record's new amount and whether the cap cut it.
pub fn amounts_after_refund(
    base: CommissionBase,
    line_after: &LineFacts,
    records: &[Standing],
) -> Vec<(i64, bool)> {
    let base_fen = base_of(base, line_after);
    let wanted: Vec<i64> = records
        .iter()
        .map(|r| amount_of(&r.pay, base_fen, line_after.quantity).min(r.amount_fen))
        .collect();
    cap_to_base(base_fen, &wanted)
}

/// Where the referral chain of an order starts; it then climbs the inviter tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainStart {
    /// A customer's order: the distributor they are bound to (or who shared the link).
    Bound(i64),
    /// A distributor's own order: the buyer themselves with self-purchase on, else their
    /// inviter — whatever customer binding the buyer may have had before.
    OwnUpline { buyer_earns: bool },
    /// Nobody earns.
    Nobody,
}

/// Where the chain of an order by `buyer` starts. Nobody is paid on their own order through a
/// binding to themselves.
pub fn chain_start(
    buyer: i64,
    buyer_is_distributor: bool,
    self_purchase: bool,
    bound: Option<i64>,
) -> ChainStart {
    if buyer_is_distributor {
        return ChainStart::OwnUpline {
            buyer_earns: self_purchase,
        };
    }
    match bound.filter(|d| *d != buyer) {
        Some(d) => ChainStart::Bound(d),
        None => ChainStart::Nobody,
    }
}

/// How an attributed order moves its distributor's own figures (the level conditions "own
/// sales" and "order count"; team sales add up the team's own sales).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FiguresChange {
    pub sales_fen: i64,
    pub orders: i64,
}

/// A paid order adds what its goods paid (shipping is no sale) and one order.
pub fn figures_on_payment(goods_paid_fen: i64) -> FiguresChange {
    FiguresChange {
        sales_fen: goods_paid_fen,
        orders: 1,
    }
}

/// A refund takes back what the order gave: the goods money it returned, and the order itself
/// once none of its goods are kept (`units_kept_after`; `units_refunded` by this refund, so
/// that the order is taken back once).
pub fn figures_on_refund(
    goods_refunded_fen: i64,
    units_refunded: i64,
    units_kept_after: i64,
) -> FiguresChange {
    FiguresChange {
        sales_fen: -goods_refunded_fen,
        orders: if units_refunded > 0 && units_kept_after <= 0 {
            -1
        } else {
            0
        },
    }
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

/// The first day of the period of `cycle` that `day` falls in.
fn period_start(cycle: SettlementCycle, day: NaiveDate) -> NaiveDate {
    match cycle {
        SettlementCycle::Daily => day,
        SettlementCycle::Weekly => {
            day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
        }
        SettlementCycle::Monthly => day.with_day(1).expect("day 1 exists"),
    }
}

/// The first day of the period after the one starting on `start`.
fn next_period_start(cycle: SettlementCycle, start: NaiveDate) -> NaiveDate {
    match cycle {
        SettlementCycle::Daily => start + Duration::days(1),
        SettlementCycle::Weekly => start + Duration::days(7),
        SettlementCycle::Monthly => (start.with_day(28).expect("day 28 exists")
            + Duration::days(4))
        .with_day(1)
        .expect("day 1 exists"),
    }
}

/// The first day of the period before the one starting on `start`.
fn previous_period_start(cycle: SettlementCycle, start: NaiveDate) -> NaiveDate {
    period_start(cycle, start - Duration::days(1))
}

/// The period of `cycle` starting on `start`: keyed by its start (`DAILY:2026-11-30`,
/// `WEEKLY:2026-11-23` for the week from that Monday, `MONTHLY:2026-11`), cut off when the next
/// begins.
fn period_from(cycle: SettlementCycle, start: NaiveDate, offset_hours: i32) -> Period {
    let key = match cycle {
        SettlementCycle::Daily => format!("DAILY:{}", start.format("%Y-%m-%d")),
        SettlementCycle::Weekly => format!("WEEKLY:{}", start.format("%Y-%m-%d")),
        SettlementCycle::Monthly => format!("MONTHLY:{}", start.format("%Y-%m")),
    };
    Period {
        key,
        cutoff: local_midnight(next_period_start(cycle, start), offset_hours),
    }
}

/// The day the period starting on `start` is paid out: the payout day of the period after it
/// (a day of the week or of the month); daily, the next day.
fn payout_date(cycle: SettlementCycle, payout_day: u32, start: NaiveDate) -> NaiveDate {
    let next = next_period_start(cycle, start);
    match cycle {
        SettlementCycle::Daily => next,
        SettlementCycle::Weekly | SettlementCycle::Monthly => {
            next + Duration::days(i64::from(payout_day.max(1)) - 1)
        }
    }
}

/// The last complete period before `now` (shop time at `offset_hours`): yesterday, last week
/// (Monday to Sunday) or last month. Its cutoff is the start of the current period.
pub fn last_complete_period(
    cycle: SettlementCycle,
    now: DateTime<Utc>,
    offset_hours: i32,
) -> Period {
    let current = period_start(cycle, shop_day(now, offset_hours));
    period_from(cycle, previous_period_start(cycle, current), offset_hours)
}

/// How many missed periods one catch-up settles at most, each on its own (the oldest of them
/// settles everything confirmed before its cutoff anyway).
pub const MAX_CATCH_UP_PERIODS: usize = 400;

/// The periods the scheduled settlement should have settled by `now`, oldest first: the latest
/// whose payout day has come, and before it every one that still has something to settle —
/// `oldest_unsettled` is when the oldest commission still waiting for settlement was confirmed.
/// A server that was down on a payout day catches up when it is back, not a cycle later. The
/// caller skips the periods that have a run already.
pub fn periods_due(
    cycle: SettlementCycle,
    payout_day: u32,
    now: DateTime<Utc>,
    offset_hours: i32,
    oldest_unsettled: Option<DateTime<Utc>>,
) -> Vec<Period> {
    let today = shop_day(now, offset_hours);
    let mut start = previous_period_start(cycle, period_start(cycle, today));
    if payout_date(cycle, payout_day, start) > today {
        start = previous_period_start(cycle, start);
    }
    let mut due = vec![period_from(cycle, start, offset_hours)];
    if let Some(oldest) = oldest_unsettled {
        while due.len() < MAX_CATCH_UP_PERIODS {
            start = previous_period_start(cycle, start);
            let earlier = period_from(cycle, start, offset_hours);
            if earlier.cutoff <= oldest {
                break;
            }
            due.push(earlier);
        }
    }
    due.reverse();
    due
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
mod properties;

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

    fn standing(pay: Pay, amount_fen: i64) -> Standing {
        Standing { pay, amount_fen }
    }

    #[test]
    fn a_refund_recomputes_on_what_is_still_paid() {
        let after = |line: LineFacts, records: &[Standing]| {
            amounts_after_refund(CommissionBase::Sales, &line, records)
        };
        // ¥100 for 2 units; one unit (¥50) refunded.
        let rate = standing(Pay::Rate(d("20")), 2_000);
        assert_eq!(
            after(line(5_000, 0, 1), std::slice::from_ref(&rate)),
            vec![(1_000, false)]
        );
        assert_eq!(after(line(0, 0, 0), &[rate]), vec![(0, false)]);
        let fixed = standing(Pay::FixedPerUnit(150), 300);
        assert_eq!(after(line(5_000, 0, 1), &[fixed]), vec![(150, false)]);
    }

    #[test]
    fn a_refund_keeps_the_line_within_its_base_nearest_tier_first() {
        // ¥60 per unit to each of two tiers on 2 units paid ¥200 (¥120 + ¥80, capped); one unit
        // refunded leaves ¥100: tier 1 keeps ¥60, tier 2 the ¥40 left.
        let records = [
            standing(Pay::FixedPerUnit(6_000), 12_000),
            standing(Pay::FixedPerUnit(6_000), 8_000),
        ];
        assert_eq!(
            amounts_after_refund(CommissionBase::Sales, &line(10_000, 0, 1), &records),
            vec![(6_000, false), (4_000, true)]
        );
        // Never more than a record was: a refund gives nothing back to a capped tier.
        let records = [
            standing(Pay::Rate(d("50")), 50),
            standing(Pay::Rate(d("50")), 0),
        ];
        assert_eq!(
            amounts_after_refund(CommissionBase::Sales, &line(100, 0, 1), &records),
            vec![(50, false), (0, false)]
        );
    }

    #[test]
    fn the_cap_pays_the_nearest_tiers_first_and_says_whom_it_cut() {
        assert_eq!(
            cap_to_base(10_000, &[8_000, 8_000, 500]),
            vec![(8_000, false), (2_000, true), (0, true)]
        );
        assert_eq!(
            cap_to_base(10_000, &[2_000, 1_000, 500]),
            vec![(2_000, false), (1_000, false), (500, false)]
        );
        assert_eq!(cap_to_base(0, &[0, 100]), vec![(0, false), (0, true)]);
    }

    #[test]
    fn the_issues_mixed_level_tables_are_capped_at_computation() {
        // 银牌 [10, 80] and 金牌 [80, 10] beside the default 20/10/5: a 金牌 at tier 1 and a
        // 银牌 at tier 2 asked for ¥80 + ¥80 + ¥5 of a ¥100.00 line.
        let rules = CommissionRules {
            level_rates: vec![
                LevelRates {
                    level_id: 1,
                    rates: vec![d("10"), d("80")],
                },
                LevelRates {
                    level_id: 2,
                    rates: vec![d("80"), d("10")],
                },
            ],
            ..Default::default()
        };
        let chain = [
            ChainLink {
                user_id: 7,
                level_id: Some(2),
            },
            ChainLink {
                user_id: 8,
                level_id: Some(1),
            },
            ChainLink {
                user_id: 9,
                level_id: None,
            },
        ];
        let c = commissions_for_line(&rules, &line(10_000, 0, 1), &chain);
        assert_eq!(amounts(&c), vec![(7, 8_000), (8, 2_000)]);
        assert_eq!(
            c.iter().map(|c| c.capped).collect::<Vec<_>>(),
            vec![false, true]
        );
    }

    #[test]
    fn fixed_amounts_per_unit_are_capped_at_the_base() {
        // ¥60 × 3 tiers per unit, ¥100 a unit costing ¥100: no profit, nothing to pay.
        let rules = |base| CommissionRules {
            base,
            overrides: vec![CommissionOverride {
                product_id: 1,
                sku_id: None,
                rates: None,
                fixed_fen: Some(vec![6_000, 6_000, 6_000]),
            }],
            ..Default::default()
        };
        let two = line(20_000, 10_000, 2);
        assert!(
            commissions_for_line(&rules(CommissionBase::Profit), &two, &chain(&[1, 2, 3]))
                .is_empty()
        );
        // On sales: ¥120 + ¥80 of the ¥200, the third tier nothing.
        let c = commissions_for_line(&rules(CommissionBase::Sales), &two, &chain(&[1, 2, 3]));
        assert_eq!(amounts(&c), vec![(1, 12_000), (2, 8_000)]);
        assert!(c[1].capped && !c[0].capped);
    }

    #[test]
    fn chain_start_follows_the_self_purchase_switch() {
        let own = |buyer_earns| ChainStart::OwnUpline { buyer_earns };
        assert_eq!(chain_start(7, true, true, Some(3)), own(true));
        // A distributor's own order starts at their inviter, whoever they were bound to.
        assert_eq!(chain_start(7, true, false, Some(3)), own(false));
        assert_eq!(chain_start(7, true, false, None), own(false));
        assert_eq!(chain_start(7, false, true, Some(3)), ChainStart::Bound(3));
        assert_eq!(chain_start(7, false, false, None), ChainStart::Nobody);
        // Nobody earns on their own purchase through a binding to themselves.
        assert_eq!(chain_start(7, false, false, Some(7)), ChainStart::Nobody);
    }

    #[test]
    fn refunds_take_back_what_payment_gave_to_the_figures() {
        let paid = figures_on_payment(20_000);
        assert_eq!(
            paid,
            FiguresChange {
                sales_fen: 20_000,
                orders: 1
            }
        );
        // One of two units back: the order still counts.
        let part = figures_on_refund(10_000, 1, 1);
        assert_eq!(
            part,
            FiguresChange {
                sales_fen: -10_000,
                orders: 0
            }
        );
        // The last unit back: the order no longer counts, once.
        let rest = figures_on_refund(10_000, 1, 0);
        assert_eq!(rest.orders, -1);
        assert_eq!(
            paid.sales_fen + part.sales_fen + rest.sales_fen,
            0,
            "nothing is left of a bought-and-refunded order"
        );
        assert_eq!(paid.orders + part.orders + rest.orders, 0);
        assert_eq!(figures_on_refund(0, 0, 0).orders, 0);
    }

    #[test]
    fn level_tables_are_refused_when_their_highest_rates_add_up_above_100() {
        let names: HashMap<i64, String> = [(1, "银牌".to_string()), (2, "金牌".to_string())].into();
        let context = RuleContext {
            level_names: names,
            skus: vec![],
        };
        let with = |tables: Vec<(i64, Vec<&str>)>| CommissionRules {
            level_rates: tables
                .into_iter()
                .map(|(level_id, rates)| LevelRates {
                    level_id,
                    rates: rates.into_iter().map(d).collect(),
                })
                .collect(),
            ..Default::default()
        };
        let mixed = with(vec![(1, vec!["10", "80"]), (2, vec!["80", "10"])]);
        assert_eq!(
            mixed.highest_rates(),
            vec![
                (d("80"), RateTable::Level(2)),
                (d("80"), RateTable::Level(1)),
                (d("5"), RateTable::Default)
            ]
        );
        let (field, message) = mixed.validate(&context).unwrap_err();
        assert_eq!(field, "levelRates");
        assert!(message.contains("165%"), "{message}");
        assert!(
            message.contains(
                "tier 1 at 80% (金牌), tier 2 at 80% (银牌), tier 3 at 5% (the default rates)"
            ),
            "{message}"
        );
        // Fewer tiers beside default uplines.
        let short = with(vec![(2, vec!["90"])]);
        assert!(short.validate(&context).unwrap_err().1.contains("105%"));
        // 100% exactly is fine.
        let full = with(vec![
            (1, vec!["25", "12", "6"]),
            (2, vec!["70", "20", "10"]),
        ]);
        assert!(full.validate(&context).is_ok());
        // An override's own table pays every tier of its line: checked on its own.
        let over = CommissionRules {
            rates: vec![d("20"), d("10")],
            overrides: vec![CommissionOverride {
                product_id: 1,
                sku_id: None,
                rates: Some(vec![d("90"), d("10")]),
                fixed_fen: None,
            }],
            ..Default::default()
        };
        assert!(over.validate(&context).is_ok());
    }

    #[test]
    fn fixed_overrides_are_checked_against_what_a_unit_earns_now() {
        let sku = |sku_id, price_fen, cost_fen| SkuPrices {
            product_id: 1,
            sku_id,
            label: format!("跑鞋 (SKU {sku_id})"),
            price_fen,
            cost_fen,
        };
        let context = RuleContext {
            level_names: HashMap::new(),
            skus: vec![sku(11, 10_000, 6_000), sku(12, 5_000, 4_000)],
        };
        let fixed = |base, sku_id, amounts: Vec<i64>| CommissionRules {
            base,
            overrides: vec![CommissionOverride {
                product_id: 1,
                sku_id,
                rates: None,
                fixed_fen: Some(amounts),
            }],
            ..Default::default()
        };
        let (field, message) = fixed(CommissionBase::Sales, Some(11), vec![6_000, 6_000, 6_000])
            .validate(&context)
            .unwrap_err();
        assert_eq!(field, "overrides");
        assert!(
            message.contains("跑鞋 (SKU 11)")
                && message.contains("¥180.00")
                && message.contains("¥100.00"),
            "{message}"
        );
        // A product's override applies to each of its SKUs: ¥20 fits ¥100 − ¥60 but not ¥10.
        let (_, message) = fixed(CommissionBase::Profit, None, vec![1_500, 500])
            .validate(&context)
            .unwrap_err();
        assert!(
            message.contains("SKU 12") && message.contains("¥10.00 profit"),
            "{message}"
        );
        assert!(
            fixed(CommissionBase::Profit, None, vec![500, 500])
                .validate(&context)
                .is_ok()
        );
        // A SKU with an override of its own is judged by it, not by the product's.
        let mut both = fixed(CommissionBase::Profit, None, vec![2_000, 2_000]);
        both.overrides.push(CommissionOverride {
            product_id: 1,
            sku_id: Some(12),
            rates: Some(vec![d("10")]),
            fixed_fen: None,
        });
        assert!(both.validate(&context).is_ok());
    }

    #[test]
    fn rules_validate() {
        let context = RuleContext::default();
        assert!(CommissionRules::default().validate(&context).is_ok());
        let bad = |f: fn(&mut CommissionRules)| {
            let mut r = CommissionRules::default();
            f(&mut r);
            r.validate(&RuleContext::default()).unwrap_err().0
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
        let keys = |cycle, payout_day, now, oldest| {
            periods_due(cycle, payout_day, now, 8, oldest)
                .into_iter()
                .map(|p| p.key)
                .collect::<Vec<_>>()
        };
        // December 1st, payout on the 5th: November waits; October's payout day has passed.
        assert_eq!(
            keys(SettlementCycle::Monthly, 5, now, None),
            vec!["MONTHLY:2026-10"]
        );
        assert_eq!(
            keys(
                SettlementCycle::Monthly,
                5,
                at("2026-12-05T00:00:00Z"),
                None
            ),
            vec!["MONTHLY:2026-11"]
        );
        // Tuesday: a Tuesday payout day has come for last week, a Wednesday one not yet.
        assert_eq!(
            keys(SettlementCycle::Weekly, 2, now, None),
            vec!["WEEKLY:2026-11-23"]
        );
        assert_eq!(
            keys(SettlementCycle::Weekly, 3, now, None),
            vec!["WEEKLY:2026-11-16"]
        );
        assert_eq!(
            keys(SettlementCycle::Daily, 1, now, None),
            vec!["DAILY:2026-11-30"]
        );
        let (key, from, to) = previous_month(now, 8);
        assert_eq!(key, "2026-11");
        assert_eq!(from, at("2026-10-31T16:00:00Z"));
        assert_eq!(to, at("2026-11-30T16:00:00Z"));
    }

    #[test]
    fn settlement_catches_up_what_downtime_missed() {
        let keys = |cycle, payout_day, now: &str, oldest: Option<&str>| {
            periods_due(cycle, payout_day, at(now), 8, oldest.map(at))
                .into_iter()
                .map(|p| p.key)
                .collect::<Vec<_>>()
        };
        // Paid out on Sundays; down on Sunday 2026-11-29, back on Monday: last week (from
        // 11-16) is settled the day after, not on the next Sunday.
        assert_eq!(
            keys(
                SettlementCycle::Weekly,
                7,
                "2026-11-30T02:00:00Z",
                Some("2026-11-18T00:00:00Z")
            ),
            vec!["WEEKLY:2026-11-16"]
        );
        // Paid out on the 28th; down from 2026-11-28 to the month's end, back on December 1st:
        // October is settled then, not on December 28th.
        assert_eq!(
            keys(
                SettlementCycle::Monthly,
                28,
                "2026-12-01T02:00:00Z",
                Some("2026-10-20T00:00:00Z")
            ),
            vec!["MONTHLY:2026-10"]
        );
        // Down for three weeks with commissions waiting from each: every week has its own run,
        // oldest first.
        assert_eq!(
            keys(
                SettlementCycle::Weekly,
                1,
                "2026-11-30T02:00:00Z",
                Some("2026-11-03T00:00:00Z")
            ),
            vec![
                "WEEKLY:2026-11-02",
                "WEEKLY:2026-11-09",
                "WEEKLY:2026-11-16",
                "WEEKLY:2026-11-23"
            ]
        );
        // Nothing waiting from before the latest due period: only that one.
        assert_eq!(
            keys(
                SettlementCycle::Daily,
                1,
                "2026-11-30T02:00:00Z",
                Some("2026-11-29T17:00:00Z")
            ),
            vec!["DAILY:2026-11-29"]
        );
        // The periods' cutoffs follow one another.
        let ps = periods_due(
            SettlementCycle::Monthly,
            1,
            at("2027-03-01T02:00:00Z"),
            8,
            Some(at("2026-12-15T00:00:00Z")),
        );
        assert_eq!(
            ps.iter().map(|p| p.cutoff).collect::<Vec<_>>(),
            vec![
                at("2026-12-31T16:00:00Z"),
                at("2027-01-31T16:00:00Z"),
                at("2027-02-28T16:00:00Z")
            ]
        );
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
