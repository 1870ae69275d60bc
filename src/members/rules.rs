//! Member rules as plain functions: which level a growth value reaches, what a valid ladder
//! is, the member price of a unit and its rounding, growth from money and what a refund takes
//! back, the yearly review, early access.
//!
//! Rounding (all integer fen / whole growth points):
//! * **member price**: a unit's member price is its price × the level's rate, rounded half away
//!   from zero to the fen (`¥0.125 → ¥0.13`, the rule for every rate in ARCHITECTURE §9.2); a
//!   line's member discount is (price − member price) × quantity, so what `Sku.memberPrice`
//!   shows times the quantity is exactly what checkout charges before later stages;
//! * **growth from money**: `spend_fen × growth_per_yuan ÷ 100`, rounded down (¥100.99 at 1
//!   per yuan is 100 growth);
//! * **growth after a refund**: what the order still gives is its paid growth × what is still
//!   paid ÷ what was paid, rounded down; the refund takes the difference from what the order
//!   gives now, so an order's refunds together take back exactly what it gave, never more.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// Rates are kept in basis points of the price: 10,000 is 100 % (no discount).
pub const FULL_RATE_BP: i32 = 10_000;
/// The lowest rate a level may have: 10 % of the price.
pub const MIN_RATE_BP: i32 = 1_000;
/// At most this many levels.
pub const MAX_LEVELS: usize = 20;
/// The highest growth threshold: growth is counted in yuan, ¥1,000,000,000 is far beyond.
pub const MAX_THRESHOLD: i64 = 1_000_000_000;
/// Early access at most 30 days before the on-sale time.
pub const MAX_EARLY_ACCESS_HOURS: i32 = 720;
/// Points multiplier between 1× and 10× (in percent).
pub const MIN_MULTIPLIER_PCT: i32 = 100;
pub const MAX_MULTIPLIER_PCT: i32 = 1_000;
/// Birthday points at most this many.
pub const MAX_BIRTHDAY_POINTS: i64 = 1_000_000;
/// Growth per yuan at most this (the default is 1).
pub const MAX_GROWTH_PER_YUAN: i64 = 100;

/// A level as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rung {
    pub id: i64,
    pub threshold: i64,
}

/// The level a member with `growth` reaches: the one with the highest threshold at or below
/// it. `ladder` in any order. `None` when no level starts at or below `growth`.
pub fn level_for(ladder: &[Rung], growth: i64) -> Option<&Rung> {
    ladder
        .iter()
        .filter(|r| r.threshold <= growth)
        .max_by_key(|r| r.threshold)
}

/// The threshold of `level_id` in `ladder` (`None` for no level or an unknown one, which rank
/// below every level).
fn threshold_of(ladder: &[Rung], level_id: Option<i64>) -> Option<i64> {
    level_id.and_then(|id| ladder.iter().find(|r| r.id == id).map(|r| r.threshold))
}

/// The level a member holding `current` moves to at `growth`: up at once when growth reaches a
/// higher level, never down (only the yearly review lowers). `None` when they stay.
pub fn raised_level(ladder: &[Rung], current: Option<i64>, growth: i64) -> Option<i64> {
    let reached = level_for(ladder, growth)?;
    match threshold_of(ladder, current) {
        Some(t) if t >= reached.threshold => None,
        _ if Some(reached.id) == current => None,
        _ => Some(reached.id),
    }
}

/// The level after a yearly review: the level growth earned over the past year reaches, when
/// that is lower than the one held; `None` when the member keeps theirs.
pub fn reviewed_level(ladder: &[Rung], current: Option<i64>, year_growth: i64) -> Option<i64> {
    let deserved = level_for(ladder, year_growth.max(0));
    let held = threshold_of(ladder, current)?;
    match deserved {
        Some(d) if d.threshold < held => Some(d.id),
        _ => None,
    }
}

/// The next level above `growth` and how much growth is still missing for it.
pub fn next_level(ladder: &[Rung], growth: i64) -> Option<(&Rung, i64)> {
    ladder
        .iter()
        .filter(|r| r.threshold > growth)
        .min_by_key(|r| r.threshold)
        .map(|r| (r, r.threshold - growth))
}

/// A level as staff would save it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelDraft {
    pub name: String,
    pub badge_name: String,
    pub threshold: i64,
    pub rate_bp: i32,
    pub early_access_hours: i32,
    pub birthday_points: i64,
    pub multiplier_pct: i32,
}

/// Why a level cannot be saved: the input field at fault and a message.
pub type Refusal = (&'static str, String);

/// Checks one level on its own.
pub fn check_level(d: &LevelDraft) -> Result<(), Refusal> {
    for (field, value) in [("name", &d.name), ("badgeName", &d.badge_name)] {
        let n = value.trim().chars().count();
        if n == 0 || n > 32 {
            return Err((field, "a name is 1 to 32 characters".into()));
        }
    }
    if !(0..=MAX_THRESHOLD).contains(&d.threshold) {
        return Err((
            "growthThreshold",
            format!("a growth threshold is 0 to {MAX_THRESHOLD}"),
        ));
    }
    if !(MIN_RATE_BP..=FULL_RATE_BP).contains(&d.rate_bp) {
        return Err((
            "discountRate",
            "a member discount rate is between 10.00 and 100.00 (percent of the price paid)".into(),
        ));
    }
    if !(0..=MAX_EARLY_ACCESS_HOURS).contains(&d.early_access_hours) {
        return Err((
            "earlyAccessHours",
            format!("early access is 0 to {MAX_EARLY_ACCESS_HOURS} hours"),
        ));
    }
    if !(0..=MAX_BIRTHDAY_POINTS).contains(&d.birthday_points) {
        return Err((
            "birthdayPoints",
            format!("birthday points are 0 to {MAX_BIRTHDAY_POINTS}"),
        ));
    }
    if !(MIN_MULTIPLIER_PCT..=MAX_MULTIPLIER_PCT).contains(&d.multiplier_pct) {
        return Err((
            "pointsMultiplier",
            "a points multiplier is 100.00 to 1000.00 percent".into(),
        ));
    }
    Ok(())
}

/// A ladder level as `check_ladder` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LadderLevel {
    pub id: Option<i64>,
    pub name: String,
    pub threshold: i64,
    pub rate_bp: i32,
}

/// Checks the whole ladder after a change: one level starts at 0 growth (everyone holds a
/// level), thresholds and names are unique, and a level never asks a higher price than the
/// level below it.
pub fn check_ladder(ladder: &[LadderLevel]) -> Result<(), Refusal> {
    if ladder.len() > MAX_LEVELS {
        return Err(("input", format!("at most {MAX_LEVELS} levels")));
    }
    let mut sorted: Vec<&LadderLevel> = ladder.iter().collect();
    sorted.sort_by_key(|l| l.threshold);
    for pair in sorted.windows(2) {
        if pair[0].threshold == pair[1].threshold {
            return Err((
                "growthThreshold",
                format!(
                    "{} and {} would have the same growth threshold",
                    pair[0].name, pair[1].name
                ),
            ));
        }
        if pair[1].rate_bp > pair[0].rate_bp {
            return Err((
                "discountRate",
                format!(
                    "{} (a higher level) would pay more than {}",
                    pair[1].name, pair[0].name
                ),
            ));
        }
    }
    for (i, a) in ladder.iter().enumerate() {
        if ladder[i + 1..]
            .iter()
            .any(|b| b.name.trim() == a.name.trim())
        {
            return Err(("name", format!("two levels would be called {}", a.name)));
        }
    }
    if sorted.first().is_some_and(|l| l.threshold != 0) {
        return Err((
            "growthThreshold",
            "the lowest level starts at 0 growth, so everyone holds a level".into(),
        ));
    }
    Ok(())
}

/// Whether moving level `id` to `new_threshold` keeps its place: strictly above the level that
/// was below it and strictly below the level that was above it. `old` is the ladder before.
pub fn keeps_its_place(old: &[Rung], id: i64, new_threshold: i64) -> Result<(), Refusal> {
    let Some(me) = old.iter().find(|r| r.id == id) else {
        return Ok(());
    };
    let below = old
        .iter()
        .filter(|r| r.threshold < me.threshold)
        .map(|r| r.threshold)
        .max();
    let above = old
        .iter()
        .filter(|r| r.threshold > me.threshold)
        .map(|r| r.threshold)
        .min();
    if below.is_some_and(|b| new_threshold <= b) {
        return Err((
            "growthThreshold",
            "the growth threshold would be at or below the previous level's".into(),
        ));
    }
    if above.is_some_and(|a| new_threshold >= a) {
        return Err((
            "growthThreshold",
            "the growth threshold would be at or above the next level's".into(),
        ));
    }
    Ok(())
}

/// A unit's member price at `rate_bp` (half away from zero to the fen).
pub fn member_unit_price_fen(price_fen: i64, rate_bp: i32) -> i64 {
    let rate = i128::from(rate_bp.clamp(0, FULL_RATE_BP));
    let scaled = i128::from(price_fen) * rate;
    let d = i128::from(FULL_RATE_BP);
    // Prices are never negative; half away from zero is half up here.
    ((scaled + d / 2) / d) as i64
}

/// A line's member discount: what the member saves per unit times the quantity.
pub fn member_line_discount_fen(price_fen: i64, quantity: i64, rate_bp: i32) -> i64 {
    (price_fen - member_unit_price_fen(price_fen, rate_bp)) * quantity
}

/// Growth for `spend_fen` of goods money at `per_yuan` growth per yuan, rounded down.
pub fn growth_for(spend_fen: i64, per_yuan: i64) -> i64 {
    if spend_fen <= 0 || per_yuan <= 0 {
        return 0;
    }
    (i128::from(spend_fen) * i128::from(per_yuan) / 100) as i64
}

/// How much growth a refund takes back from an order that gave `paid_growth` for
/// `paid_spend_fen`, gives `given_now` at present, and of which `still_paid_fen` remains paid
/// after the refund. Never more than the order gives now, never negative.
pub fn growth_taken_back(
    paid_growth: i64,
    paid_spend_fen: i64,
    given_now: i64,
    still_paid_fen: i64,
) -> i64 {
    if paid_spend_fen <= 0 {
        return given_now.max(0);
    }
    let still = still_paid_fen.clamp(0, paid_spend_fen);
    let keeps = (i128::from(paid_growth) * i128::from(still) / i128::from(paid_spend_fen)) as i64;
    (given_now - keeps).clamp(0, given_now.max(0))
}

/// The year a review at `now` closes, in the shop's time: a review for year Y runs once the
/// shop's calendar reaches Y + 1 and looks at the growth earned in Y's last twelve months.
pub fn review_year(now: DateTime<Utc>, utc_offset_hours: i32) -> i32 {
    (now + Duration::hours(i64::from(utc_offset_hours))).year() - 1
}

/// The start of the shop's calendar year `year`, in UTC.
pub fn year_start_utc(year: i32, utc_offset_hours: i32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    local.and_utc() - Duration::hours(i64::from(utc_offset_hours))
}

/// Whether a buyer with `lead_hours` of early access may buy, at `now`, a product that goes on
/// sale at `on_sale_at`.
pub fn early_access_open(on_sale_at: DateTime<Utc>, lead_hours: i32, now: DateTime<Utc>) -> bool {
    lead_hours > 0 && now >= on_sale_at - Duration::hours(i64::from(lead_hours))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> Vec<Rung> {
        [(1, 0), (2, 1_000), (3, 5_000), (4, 20_000)]
            .into_iter()
            .map(|(id, threshold)| Rung { id, threshold })
            .collect()
    }

    #[test]
    fn growth_reaches_the_highest_level_at_or_below_it() {
        let l = ladder();
        assert_eq!(level_for(&l, 0).unwrap().id, 1);
        assert_eq!(level_for(&l, 999).unwrap().id, 1);
        assert_eq!(level_for(&l, 1_000).unwrap().id, 2);
        assert_eq!(level_for(&l, 19_999).unwrap().id, 3);
        assert_eq!(level_for(&l, 1 << 40).unwrap().id, 4);
        assert_eq!(level_for(&l[1..], 10), None);
    }

    #[test]
    fn levels_rise_at_once_and_never_fall_by_growth() {
        let l = ladder();
        assert_eq!(raised_level(&l, None, 0), Some(1));
        assert_eq!(raised_level(&l, Some(1), 999), None);
        assert_eq!(raised_level(&l, Some(1), 6_000), Some(3));
        // A refund lowers growth: the level stays.
        assert_eq!(raised_level(&l, Some(3), 10), None);
        // A level removed from the ladder ranks below all.
        assert_eq!(raised_level(&l, Some(99), 10), Some(1));
    }

    #[test]
    fn the_review_only_lowers() {
        let l = ladder();
        assert_eq!(reviewed_level(&l, Some(3), 1_200), Some(2));
        assert_eq!(reviewed_level(&l, Some(3), 7_000), None);
        assert_eq!(reviewed_level(&l, Some(2), 30_000), None);
        assert_eq!(reviewed_level(&l, Some(4), -50), Some(1));
        assert_eq!(reviewed_level(&l, None, 0), None);
    }

    #[test]
    fn growth_to_the_next_level() {
        let l = ladder();
        let (r, missing) = next_level(&l, 4_200).unwrap();
        assert_eq!((r.id, missing), (3, 800));
        assert!(next_level(&l, 20_000).is_none());
    }

    #[test]
    fn member_prices_round_half_up_to_the_fen() {
        assert_eq!(member_unit_price_fen(10_000, 9_000), 9_000);
        assert_eq!(member_unit_price_fen(10_000, 10_000), 10_000);
        // ¥0.99 × 95 % = ¥0.9405 → ¥0.94; ¥1.25 × 90 % = ¥1.125 → ¥1.13; ¥0.01 × 50 % → ¥0.01.
        assert_eq!(member_unit_price_fen(99, 9_500), 94);
        assert_eq!(member_unit_price_fen(125, 9_000), 113);
        assert_eq!(member_unit_price_fen(1, 5_000), 1);
        assert_eq!(member_unit_price_fen(0, 9_000), 0);
        // ¥199.99 × 98 % = ¥195.9902 → ¥195.99; three of them save 3 × ¥4.00.
        assert_eq!(member_unit_price_fen(19_999, 9_800), 19_599);
        assert_eq!(member_line_discount_fen(19_999, 3, 9_800), 1_200);
        assert_eq!(member_line_discount_fen(125, 4, 9_000), 48);
        // Exhaustive: the member price never exceeds the price nor goes below zero.
        for price in 0..500 {
            for rate in [1_000, 3_333, 9_500, 9_999, 10_000] {
                let m = member_unit_price_fen(price, rate);
                assert!((0..=price).contains(&m), "{price} at {rate}: {m}");
            }
        }
    }

    #[test]
    fn growth_comes_from_whole_yuan() {
        assert_eq!(growth_for(10_099, 1), 100);
        assert_eq!(growth_for(10_000, 2), 200);
        assert_eq!(growth_for(99, 1), 0);
        assert_eq!(growth_for(-5, 1), 0);
    }

    #[test]
    fn refunds_take_back_exactly_what_the_order_gave() {
        // ¥100.99 paid gave 100 growth; refunds of ¥30.33, ¥30.33, ¥40.33 take it all back.
        let (paid, growth) = (10_099, 100);
        let mut given = growth;
        let mut still = paid;
        for refund in [3_033, 3_033, 4_033] {
            still -= refund;
            given -= growth_taken_back(growth, paid, given, still);
        }
        assert_eq!(given, 0);
        assert_eq!(growth_taken_back(100, 10_000, 100, 5_000), 50);
        assert_eq!(growth_taken_back(100, 10_000, 0, 0), 0);
        assert_eq!(growth_taken_back(100, 0, 100, 0), 100);
    }

    fn lvl(id: i64, name: &str, threshold: i64, rate: i32) -> LadderLevel {
        LadderLevel {
            id: Some(id),
            name: name.into(),
            threshold,
            rate_bp: rate,
        }
    }

    #[test]
    fn a_ladder_is_ordered_unique_and_starts_at_zero() {
        let ok = vec![
            lvl(1, "普通", 0, 10_000),
            lvl(2, "银卡", 1_000, 9_800),
            lvl(3, "金卡", 5_000, 9_500),
        ];
        assert!(check_ladder(&ok).is_ok());
        let mut dup = ok.clone();
        dup[2].threshold = 1_000;
        assert_eq!(check_ladder(&dup).unwrap_err().0, "growthThreshold");
        let mut pricier = ok.clone();
        pricier[2].rate_bp = 9_900;
        assert_eq!(check_ladder(&pricier).unwrap_err().0, "discountRate");
        let mut named = ok.clone();
        named[2].name = "银卡".into();
        assert_eq!(check_ladder(&named).unwrap_err().0, "name");
        assert_eq!(check_ladder(&ok[1..]).unwrap_err().0, "growthThreshold");
    }

    #[test]
    fn a_level_keeps_its_place() {
        let l = ladder();
        assert!(keeps_its_place(&l, 3, 6_000).is_ok());
        assert!(keeps_its_place(&l, 3, 1_000).is_err());
        assert!(keeps_its_place(&l, 3, 900).is_err());
        assert!(keeps_its_place(&l, 3, 20_000).is_err());
        assert!(keeps_its_place(&l, 4, 90_000).is_ok());
    }

    #[test]
    fn one_level_is_checked_field_by_field() {
        let good = LevelDraft {
            name: "金卡".into(),
            badge_name: "金卡会员".into(),
            threshold: 5_000,
            rate_bp: 9_500,
            early_access_hours: 24,
            birthday_points: 500,
            multiplier_pct: 150,
        };
        assert!(check_level(&good).is_ok());
        for (bad, field) in [
            (
                LevelDraft {
                    rate_bp: 10_001,
                    ..good.clone()
                },
                "discountRate",
            ),
            (
                LevelDraft {
                    rate_bp: 0,
                    ..good.clone()
                },
                "discountRate",
            ),
            (
                LevelDraft {
                    threshold: -1,
                    ..good.clone()
                },
                "growthThreshold",
            ),
            (
                LevelDraft {
                    name: " ".into(),
                    ..good.clone()
                },
                "name",
            ),
            (
                LevelDraft {
                    multiplier_pct: 50,
                    ..good.clone()
                },
                "pointsMultiplier",
            ),
            (
                LevelDraft {
                    birthday_points: -1,
                    ..good.clone()
                },
                "birthdayPoints",
            ),
            (
                LevelDraft {
                    early_access_hours: 721,
                    ..good.clone()
                },
                "earlyAccessHours",
            ),
        ] {
            assert_eq!(check_level(&bad).unwrap_err().0, field);
        }
    }

    #[test]
    fn the_review_closes_the_shops_year() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 2027-01-01 01:00 in Beijing is still 2026 in UTC.
        assert_eq!(review_year(t("2026-12-31T17:00:00Z"), 8), 2026);
        assert_eq!(review_year(t("2026-12-31T15:00:00Z"), 8), 2025);
        assert_eq!(year_start_utc(2027, 8), t("2026-12-31T16:00:00Z"));
    }

    #[test]
    fn early_access_opens_its_lead_before_the_sale() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let sale = t("2026-12-10T10:00:00Z");
        assert!(early_access_open(sale, 24, t("2026-12-09T10:00:00Z")));
        assert!(!early_access_open(sale, 24, t("2026-12-09T09:59:59Z")));
        assert!(!early_access_open(sale, 0, t("2026-12-10T09:59:59Z")));
    }
}
