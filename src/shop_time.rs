//! The shop's calendar. A shop lives in one fixed UTC offset (`business_utc_offset_hours`, +8
//! for China, which has no daylight saving): its days, weeks and months start at its own
//! midnight, not at UTC's. Every area that counts "per day" (sign-ins, birthdays, settlement
//! periods, reports) reads the day from here so they all agree on when a day turns.
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

/// The shop day that `at` falls in.
pub fn shop_day(at: DateTime<Utc>, utc_offset_hours: i32) -> NaiveDate {
    (at + Duration::hours(i64::from(utc_offset_hours))).date_naive()
}

/// The instant the shop day `day` begins (its local midnight), in UTC. An offset outside
/// ±24 h is read as UTC.
pub fn local_midnight(day: NaiveDate, utc_offset_hours: i32) -> DateTime<Utc> {
    let offset = FixedOffset::east_opt(utc_offset_hours * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    offset
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_shop_day_turns_at_the_shops_midnight() {
        let before = Utc.with_ymd_and_hms(2026, 12, 6, 15, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 6, 16, 0, 0).unwrap();
        assert_eq!(shop_day(before, 8), d(2026, 12, 6));
        assert_eq!(shop_day(after, 8), d(2026, 12, 7));
        assert_eq!(local_midnight(d(2026, 12, 7), 8), after);
        assert_eq!(
            shop_day(local_midnight(d(2026, 12, 7), -5), -5),
            d(2026, 12, 7)
        );
    }
}
