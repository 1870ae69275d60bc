//! The points rules as plain functions: what an order earns and what refunds take back, the
//! checkout deduction (rate, cap, allocation to lines), what a refund returns of the points a
//! line spent, lots spent oldest first, expiry dates, sign-in streaks and birthdays.
//!
//! Rounding, all in whole points and integer fen:
//! * earning: `floor(goods fen × points per yuan × multiplier / 100)` — a fraction of a point
//!   is never earned;
//! * a refund recomputes what the order still earns from the goods money it keeps
//!   (`floor` again), and takes back the difference, so a full refund takes back everything and
//!   partial refunds never take back more than was earned;
//! * a deduction must be a whole number of fen (`points × 100` divisible by the rate); its fen
//!   and its points are each allocated to the lines in proportion to what the lines still cost,
//!   by the largest remainder, ties to the earlier line (`orders::pricing::allocate`);
//! * a refund of some units of a line returns `floor(points × units refunded so far / units)`
//!   minus what earlier refunds of the line returned, so the last unit returns the rest.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{config::PointsExpiry, orders::pricing::allocate};

/// The moment points that never expire are filed under (their lot's expiry).
pub fn never() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap()
}

/// When points earned at `earned_at` expire: the end of the next year in the shop's time zone
/// (`utc_offset_hours`), or never.
pub fn expiry_of(
    policy: PointsExpiry,
    earned_at: DateTime<Utc>,
    utc_offset_hours: i32,
) -> DateTime<Utc> {
    match policy {
        PointsExpiry::Never => never(),
        PointsExpiry::EndOfNextYear => {
            let offset = FixedOffset::east_opt(utc_offset_hours * 3600)
                .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap());
            let year = earned_at.with_timezone(&offset).year();
            offset
                .with_ymd_and_hms(year + 2, 1, 1, 0, 0, 0)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(never)
        }
    }
}

/// What `goods_fen` paid earns at `per_yuan` points per ¥1 times `multiplier` (rounded down).
pub fn earned_points(goods_fen: i64, per_yuan: u32, multiplier: Decimal) -> i64 {
    if goods_fen <= 0 || multiplier <= Decimal::ZERO {
        return 0;
    }
    let exact =
        Decimal::from(goods_fen) * Decimal::from(per_yuan) * multiplier / Decimal::from(100);
    exact.floor().to_i64().unwrap_or(0).max(0)
}

/// How many of the points an order earned a refund takes back: what it earned on `goods_fen`,
/// less what it still earns on what was not refunded.
pub fn reversed_by_refund(
    goods_fen: i64,
    refunded_fen: i64,
    per_yuan: u32,
    multiplier: Decimal,
) -> i64 {
    earned_points(goods_fen, per_yuan, multiplier)
        - earned_points((goods_fen - refunded_fen).max(0), per_yuan, multiplier)
}

/// The points a refund of `now` units returns of a line that spent `points` on `quantity`
/// units, `before` of which earlier refunds returned.
pub fn points_returned(points: i64, quantity: i64, before: i64, now: i64) -> i64 {
    if points <= 0 || quantity <= 0 || now <= 0 {
        return 0;
    }
    let upto = |units: i64| -> i64 {
        let units = units.clamp(0, quantity);
        (i128::from(points) * i128::from(units) / i128::from(quantity)) as i64
    };
    upto(before + now) - upto(before)
}

/// The checkout deduction's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeductionRules {
    /// Points per ¥1.
    pub points_per_yuan: u32,
    /// At most this percentage of the goods amount.
    pub cap_percent: u32,
}

impl DeductionRules {
    /// The most fen points may pay of `goods_fen`.
    pub fn cap_fen(&self, goods_fen: i64) -> i64 {
        (i128::from(goods_fen.max(0)) * i128::from(self.cap_percent) / 100) as i64
    }

    /// The most points an order of `goods_fen` may spend.
    pub fn max_points(&self, goods_fen: i64) -> i64 {
        self.cap_fen(goods_fen) * i64::from(self.points_per_yuan) / 100
    }
}

/// Why a deduction is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeductionError {
    /// Fewer than zero points.
    Negative,
    /// Points where the lines cost nothing.
    NothingToDeduct,
    /// Points that do not make whole fen at the rate.
    NotWholeFen,
    /// More than the cap.
    OverCap,
}

/// A deduction line by line: fen off and points spent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deduction {
    pub fen: Vec<i64>,
    pub points: Vec<i64>,
}

impl Deduction {
    pub fn total_fen(&self) -> i64 {
        self.fen.iter().sum()
    }
}

/// Deducts `points` from lines that still cost `payable_fen` each.
pub fn deduct(
    points: i64,
    payable_fen: &[i64],
    rules: DeductionRules,
) -> Result<Deduction, DeductionError> {
    let n = payable_fen.len();
    if points < 0 {
        return Err(DeductionError::Negative);
    }
    if points == 0 {
        return Ok(Deduction {
            fen: vec![0; n],
            points: vec![0; n],
        });
    }
    let goods: i64 = payable_fen.iter().map(|p| (*p).max(0)).sum();
    if goods == 0 {
        return Err(DeductionError::NothingToDeduct);
    }
    let per_yuan = i128::from(rules.points_per_yuan.max(1));
    let scaled = i128::from(points) * 100;
    if scaled % per_yuan != 0 {
        return Err(DeductionError::NotWholeFen);
    }
    let fen = i64::try_from(scaled / per_yuan).map_err(|_| DeductionError::OverCap)?;
    if fen > rules.cap_fen(goods) {
        return Err(DeductionError::OverCap);
    }
    let weights: Vec<i64> = payable_fen.iter().map(|p| (*p).max(0)).collect();
    let fen_shares = allocate(fen, &weights);
    // Points follow the fen: a line that takes no fen spends no points.
    // (More points than fen is fine: the largest remainder needs no bound.)
    let point_shares = allocate(points, &fen_shares);
    Ok(Deduction {
        fen: fen_shares,
        points: point_shares,
    })
}

/// A points-mall line: what it still costs in cash and what it spends in points.
pub fn redemption(
    unit_price_fen: i64,
    quantity: i64,
    points_per_unit: i64,
    cash_fen: i64,
) -> (i64, i64) {
    let cash = cash_fen.clamp(0, unit_price_fen.max(0));
    let discount = (unit_price_fen.max(0) - cash) * quantity.max(0);
    (discount, points_per_unit.max(0) * quantity.max(0))
}

/// How much of each lot `amount` points take, oldest (earliest expiry) first. `lots` are
/// `(expires_at, remaining)`; lots with nothing left are skipped. Returns `(index, points)`;
/// the total is less than `amount` only when the lots hold less.
pub fn take_oldest_first(lots: &[(DateTime<Utc>, i64)], amount: i64) -> Vec<(usize, i64)> {
    let mut order: Vec<usize> = (0..lots.len()).filter(|i| lots[*i].1 > 0).collect();
    order.sort_by_key(|i| lots[*i].0);
    let mut left = amount.max(0);
    let mut taken = Vec::new();
    for i in order {
        if left == 0 {
            break;
        }
        let take = left.min(lots[i].1);
        taken.push((i, take));
        left -= take;
    }
    taken
}

/// Where returned points go: back to the lots they were spent from (the latest expiring first,
/// at most what each gave, less what was returned to it already), or — for a lot that has
/// expired meanwhile — to `fresh` (a lot that expires by the policy from now). `spent` maps a
/// lot to the points taken from it, net of earlier returns.
pub fn return_to_lots(
    spent: &BTreeMap<DateTime<Utc>, i64>,
    amount: i64,
    now: DateTime<Utc>,
    fresh: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i64)> {
    let mut left = amount.max(0);
    let mut out: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for (lot, net) in spent.iter().rev() {
        if left == 0 {
            break;
        }
        let give = left.min((*net).max(0));
        if give == 0 {
            continue;
        }
        let to = if *lot > now { *lot } else { fresh };
        *out.entry(to).or_default() += give;
        left -= give;
    }
    if left > 0 {
        *out.entry(fresh).or_default() += left;
    }
    out.into_iter().collect()
}

/// Bonus points on given days of a sign-in streak.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreakBonuses(pub Vec<(i32, i64)>);

impl StreakBonuses {
    /// Parses `7:20,30:100` (empty: none).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (day, points) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not day:points"))?;
            let day: i32 = day
                .trim()
                .parse()
                .map_err(|_| format!("`{day}` is not a day number"))?;
            let points: i64 = points
                .trim()
                .parse()
                .map_err(|_| format!("`{points}` is not a number of points"))?;
            if day < 1 || !(0..=1_000_000).contains(&points) {
                return Err(format!(
                    "`{part}`: the day must be at least 1 and the points 0 to 1000000"
                ));
            }
            out.push((day, points));
        }
        Ok(Self(out))
    }

    /// The bonus on day `streak` of a streak.
    pub fn on(&self, streak: i32) -> i64 {
        self.0
            .iter()
            .filter(|(d, _)| *d == streak)
            .map(|(_, p)| *p)
            .sum()
    }
}

/// The streak a sign-in today makes, given yesterday's sign-in streak (none: not signed in).
pub fn streak_after(yesterday: Option<i32>) -> i32 {
    yesterday.map_or(1, |s| s.saturating_add(1))
}

/// Points a sign-in on day `streak` of a streak pays.
pub fn sign_in_points(daily: i64, bonuses: &StreakBonuses, streak: i32) -> i64 {
    daily.max(0) + bonuses.on(streak)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn points_expire_at_the_end_of_the_next_year_in_shop_time() {
        // Earned 2026-06-01 in China: expire at 2028-01-01 00:00 +08:00.
        assert_eq!(
            expiry_of(PointsExpiry::EndOfNextYear, at(2026, 6, 1, 3), 8),
            at(2027, 12, 31, 16)
        );
        // 31 Dec 2026 17:00 UTC is already 1 Jan 2027 in China: they last to the end of 2028.
        assert_eq!(
            expiry_of(PointsExpiry::EndOfNextYear, at(2026, 12, 31, 17), 8),
            at(2028, 12, 31, 16)
        );
        assert_eq!(
            expiry_of(PointsExpiry::Never, at(2026, 6, 1, 3), 8),
            never()
        );
    }

    #[test]
    fn one_yuan_earns_one_point_rounded_down_and_multiplied() {
        assert_eq!(earned_points(10_000, 1, Decimal::ONE), 100);
        assert_eq!(earned_points(9_999, 1, Decimal::ONE), 99);
        assert_eq!(earned_points(9_999, 2, Decimal::ONE), 199);
        assert_eq!(earned_points(10_000, 1, Decimal::new(15, 1)), 150);
        assert_eq!(earned_points(333, 1, Decimal::new(15, 1)), 4); // 4.995
        assert_eq!(earned_points(0, 1, Decimal::ONE), 0);
        assert_eq!(earned_points(-5, 1, Decimal::ONE), 0);
        assert_eq!(earned_points(10_000, 0, Decimal::ONE), 0);
    }

    #[test]
    fn refunds_take_back_what_the_kept_money_no_longer_earns() {
        // ¥99.99 earned 99; refunding ¥33.33 keeps ¥66.66 → 66: 33 back.
        assert_eq!(reversed_by_refund(9_999, 3_333, 1, Decimal::ONE), 33);
        // Three partial refunds add up to the whole.
        let mut taken = 0;
        let mut refunded = 0;
        for part in [3_333, 3_333, 3_333] {
            let before = reversed_by_refund(9_999, refunded, 1, Decimal::ONE);
            refunded += part;
            taken += reversed_by_refund(9_999, refunded, 1, Decimal::ONE) - before;
        }
        assert_eq!(taken, 99);
        assert_eq!(reversed_by_refund(9_999, 99_999, 1, Decimal::ONE), 99);
    }

    #[test]
    fn a_line_returns_its_points_unit_by_unit_and_the_last_unit_returns_the_rest() {
        assert_eq!(points_returned(100, 3, 0, 1), 33);
        assert_eq!(points_returned(100, 3, 1, 1), 33);
        assert_eq!(points_returned(100, 3, 2, 1), 34);
        assert_eq!(points_returned(100, 3, 0, 3), 100);
        assert_eq!(points_returned(0, 3, 0, 3), 0);
        for points in [0, 1, 7, 100, 2_001] {
            for qty in 1..6 {
                let total: i64 = (0..qty).map(|b| points_returned(points, qty, b, 1)).sum();
                assert_eq!(total, points);
            }
        }
    }

    const RULES: DeductionRules = DeductionRules {
        points_per_yuan: 100,
        cap_percent: 50,
    };

    #[test]
    fn a_deduction_is_capped_and_allocated_to_the_fen() {
        // 2,000 points on ¥100.00: ¥20.00, under the ¥50.00 cap.
        let d = deduct(2_000, &[10_000], RULES).unwrap();
        assert_eq!(d.fen, vec![2_000]);
        assert_eq!(d.points, vec![2_000]);
        // Over two lines, in proportion, the fen left over to the larger remainder.
        let d = deduct(1_000, &[10_000, 5_000], RULES).unwrap();
        assert_eq!(d.fen, vec![667, 333]);
        assert_eq!(d.points, vec![667, 333]);
        assert_eq!(
            deduct(5_001, &[10_000], RULES),
            Err(DeductionError::OverCap)
        );
        assert!(deduct(5_000, &[10_000], RULES).is_ok());
        assert_eq!(deduct(-1, &[10_000], RULES), Err(DeductionError::Negative));
        assert_eq!(
            deduct(100, &[0], RULES),
            Err(DeductionError::NothingToDeduct)
        );
        assert_eq!(deduct(0, &[0], RULES).unwrap().total_fen(), 0);
        // At 150 points per ¥1, 3 points make 2 fen; 1 point does not make a whole fen.
        let r = DeductionRules {
            points_per_yuan: 150,
            cap_percent: 100,
        };
        assert_eq!(deduct(1, &[10_000], r), Err(DeductionError::NotWholeFen));
        let d = deduct(300, &[100, 100], r).unwrap();
        assert_eq!(d.total_fen(), 200);
        assert_eq!(d.points.iter().sum::<i64>(), 300);
        // A zero-price line takes nothing.
        let d = deduct(100, &[0, 1_000], RULES).unwrap();
        assert_eq!(d.fen, vec![0, 100]);
        assert_eq!(d.points, vec![0, 100]);
    }

    #[test]
    fn deductions_always_add_up_line_by_line() {
        let mut rng = StdRng::seed_from_u64(18);
        for _ in 0..2_000 {
            let lines: Vec<i64> = (0..rng.gen_range(1..5))
                .map(|_| rng.gen_range(0..50_000))
                .collect();
            let rate = [100, 150, 200, 1][rng.gen_range(0..4)];
            let rules = DeductionRules {
                points_per_yuan: rate,
                cap_percent: rng.gen_range(0..=100),
            };
            let points = rng.gen_range(0..60_000);
            if let Ok(d) = deduct(points, &lines, rules) {
                assert_eq!(d.points.iter().sum::<i64>(), points);
                assert_eq!(
                    i128::from(d.total_fen()) * i128::from(rate),
                    i128::from(points) * 100
                );
                assert!(d.total_fen() <= rules.cap_fen(lines.iter().sum()));
                for (f, l) in d.fen.iter().zip(&lines) {
                    assert!(*f >= 0 && f <= l);
                }
                for (p, f) in d.points.iter().zip(&d.fen) {
                    assert!(*p >= 0);
                    if *f == 0 && points > 0 && d.total_fen() > 0 {
                        assert_eq!(*p, 0);
                    }
                }
            }
        }
    }

    #[test]
    fn a_redemption_line_costs_its_points_and_its_cash() {
        assert_eq!(redemption(9_900, 2, 1_000, 0), (19_800, 2_000));
        assert_eq!(redemption(9_900, 1, 500, 1_000), (8_900, 500));
        // Cash above the price is the price.
        assert_eq!(redemption(500, 1, 10, 1_000), (0, 10));
    }

    #[test]
    fn spending_takes_the_oldest_points_first() {
        let lots = [
            (at(2028, 1, 1, 0), 50),
            (at(2027, 1, 1, 0), 30),
            (never(), 100),
            (at(2026, 1, 1, 0), 0),
        ];
        assert_eq!(take_oldest_first(&lots, 60), vec![(1, 30), (0, 30)]);
        assert_eq!(
            take_oldest_first(&lots, 500),
            vec![(1, 30), (0, 50), (2, 100)]
        );
        assert_eq!(take_oldest_first(&lots, 0), vec![]);
    }

    #[test]
    fn returned_points_go_back_to_their_lots_unless_expired() {
        let now = at(2027, 6, 1, 0);
        let fresh = at(2028, 12, 31, 16);
        let spent: BTreeMap<_, _> = [(at(2027, 1, 1, 0), 30), (at(2028, 1, 1, 0), 30)].into();
        // The latest lot first; the expired one goes to a fresh lot.
        assert_eq!(
            return_to_lots(&spent, 40, now, fresh),
            vec![(at(2028, 1, 1, 0), 30), (fresh, 10)]
        );
        assert_eq!(
            return_to_lots(&spent, 20, now, fresh),
            vec![(at(2028, 1, 1, 0), 20)]
        );
    }

    #[test]
    fn streak_bonuses_parse_and_pay_on_their_day() {
        let b = StreakBonuses::parse("7:20, 30:100").unwrap();
        assert_eq!(b.on(7), 20);
        assert_eq!(b.on(8), 0);
        assert_eq!(sign_in_points(5, &b, 30), 105);
        assert_eq!(StreakBonuses::parse("").unwrap(), StreakBonuses::default());
        assert!(StreakBonuses::parse("7").is_err());
        assert!(StreakBonuses::parse("0:5").is_err());
        assert!(StreakBonuses::parse("x:5").is_err());
        assert_eq!(streak_after(None), 1);
        assert_eq!(streak_after(Some(6)), 7);
    }

    /// A model of the ledger: random earnings, spendings, expiries and reversals posted as
    /// entries to lots the way the service posts them; the entries always sum to the balance
    /// and to what the lots hold.
    #[test]
    fn the_ledger_always_sums_to_the_balance() {
        let mut rng = StdRng::seed_from_u64(2026);
        for _ in 0..200 {
            let mut lots: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
            let mut entries: Vec<i64> = Vec::new();
            let mut balance = 0i64;
            let mut now = at(2026, 1, 1, 0);
            for _ in 0..100 {
                now += chrono::Duration::days(rng.gen_range(0..40));
                match rng.gen_range(0..4) {
                    0 => {
                        let n = rng.gen_range(1..500);
                        let lot = expiry_of(PointsExpiry::EndOfNextYear, now, 8);
                        *lots.entry(lot).or_default() += n;
                        entries.push(n);
                        balance += n;
                    }
                    1 => {
                        let n = rng.gen_range(1..800);
                        if balance >= n {
                            let view: Vec<_> = lots.iter().map(|(k, v)| (*k, *v)).collect();
                            for (i, take) in take_oldest_first(&view, n) {
                                *lots.get_mut(&view[i].0).unwrap() -= take;
                                entries.push(-take);
                                balance -= take;
                            }
                        }
                    }
                    2 => {
                        let due: Vec<_> = lots
                            .iter()
                            .filter(|(k, v)| **k <= now && **v > 0)
                            .map(|(k, v)| (*k, *v))
                            .collect();
                        for (k, v) in due {
                            lots.insert(k, 0);
                            entries.push(-v);
                            balance -= v;
                        }
                    }
                    _ => {
                        // A reversal may owe more than the lots hold: the rest is a debt on the
                        // lot that never expires.
                        let n = rng.gen_range(1..300);
                        let view: Vec<_> = lots.iter().map(|(k, v)| (*k, *v)).collect();
                        let mut left = n;
                        for (i, take) in take_oldest_first(&view, n) {
                            *lots.get_mut(&view[i].0).unwrap() -= take;
                            entries.push(-take);
                            left -= take;
                        }
                        if left > 0 {
                            *lots.entry(never()).or_default() -= left;
                            entries.push(-left);
                        }
                        balance -= n;
                    }
                }
                assert_eq!(entries.iter().sum::<i64>(), balance);
                assert_eq!(lots.values().sum::<i64>(), balance);
            }
        }
    }
}
