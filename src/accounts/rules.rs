//! Pure account rules: phone numbers, passwords, nicknames, masking, login throttling.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// Normalises a mainland mobile number: spaces and dashes removed, an optional `+86`/`86`
/// prefix dropped; the result must be 11 digits starting with 1 and a second digit 3–9.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .or_else(|| {
            (digits.len() == 13)
                .then(|| digits.strip_prefix("86"))
                .flatten()
        })
        .unwrap_or(&digits);
    let b = digits.as_bytes();
    let valid = b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1]);
    valid.then(|| digits.to_string())
}

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 64;

/// A password has 8–64 characters with at least one letter and one digit.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
        return Err(format!(
            "a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters"
        ));
    }
    if !password.chars().any(|c| c.is_alphabetic()) || !password.chars().any(|c| c.is_ascii_digit())
    {
        return Err("a password needs at least one letter and one digit".into());
    }
    Ok(())
}

pub const NICKNAME_MAX: usize = 32;

/// Trims the nickname; it must have 1–32 characters and no control characters.
pub fn clean_nickname(raw: &str) -> Result<String, String> {
    let n = raw.trim();
    let len = n.chars().count();
    if len == 0 || len > NICKNAME_MAX {
        return Err(format!("a nickname has 1 to {NICKNAME_MAX} characters"));
    }
    if n.chars().any(char::is_control) {
        return Err("a nickname cannot contain control characters".into());
    }
    Ok(n.to_string())
}

/// The default nickname of a new phone account: "用户" and the last four digits.
pub fn default_nickname(phone: &str) -> String {
    format!("用户{}", &phone[phone.len().saturating_sub(4)..])
}

/// `13812345678` → `138****5678`, as shown to anyone but the owner and staff.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "****".into()
    }
}

/// A birthday lies between 1900-01-01 and today.
pub fn check_birthday(date: NaiveDate, today: NaiveDate) -> Result<(), String> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    if date < earliest || date > today {
        return Err("the birthday must be between 1900-01-01 and today".into());
    }
    Ok(())
}

/// An avatar URL is an http(s) URL of at most 512 characters.
pub fn check_avatar_url(url: &str) -> Result<(), String> {
    if url.len() > 512 || !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("the avatar must be an http(s) URL of at most 512 characters".into());
    }
    Ok(())
}

/// How failed sign-ins are throttled for one key (a phone or a client address).
#[derive(Clone, Copy, Debug)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: i32,
    pub window_started_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Seconds until the key may try again, if it is locked now.
pub fn locked_for(state: &ThrottleState, now: DateTime<Utc>) -> Option<u64> {
    state
        .locked_until
        .filter(|until| *until > now)
        .map(|until| (until - now).num_seconds().max(1) as u64)
}

/// The state after one more failure at `now`. Failures count within a sliding window that
/// restarts when it has expired; reaching `max_failures` locks the key for `lockout`.
pub fn after_failure(
    previous: Option<&ThrottleState>,
    now: DateTime<Utc>,
    policy: &ThrottlePolicy,
) -> ThrottleState {
    let (failures, started) = match previous {
        Some(s) if now - s.window_started_at < policy.window && locked_for(s, now).is_none() => {
            (s.failures + 1, s.window_started_at)
        }
        Some(s) if locked_for(s, now).is_some() => (s.failures + 1, s.window_started_at),
        _ => (1, now),
    };
    let locked_until = if failures >= policy.max_failures as i32 {
        Some(now + policy.lockout)
    } else {
        None
    };
    ThrottleState {
        failures,
        window_started_at: started,
        locked_until,
    }
}

/// Whether `today` is the birthday of someone born on `birthday` (29 February is celebrated on
/// 28 February in other years).
pub fn is_birthday(birthday: NaiveDate, today: NaiveDate) -> bool {
    if birthday.month() == 2 && birthday.day() == 29 && !is_leap(today) {
        return today.month() == 2 && today.day() == 28;
    }
    birthday.month() == today.month() && birthday.day() == today.day()
}

fn is_leap(date: NaiveDate) -> bool {
    NaiveDate::from_ymd_opt(date.year(), 2, 29).is_some()
}

#[cfg(test)]
mod tests {
    #[test]
    fn birthdays_fall_on_the_28th_of_february_outside_leap_years() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert!(is_birthday(d(1990, 12, 7), d(2026, 12, 7)));
        assert!(!is_birthday(d(1990, 12, 7), d(2026, 12, 8)));
        assert!(is_birthday(d(2000, 2, 29), d(2027, 2, 28)));
        assert!(!is_birthday(d(2000, 2, 29), d(2028, 2, 28)));
        assert!(is_birthday(d(2000, 2, 29), d(2028, 2, 29)));
    }

    use super::*;

    #[test]
    fn phones_are_normalised() {
        assert_eq!(
            normalize_phone("13812345678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("+86 138-1234-5678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("8613812345678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(normalize_phone("12812345678"), None);
        assert_eq!(normalize_phone("1381234567"), None);
        assert_eq!(normalize_phone("1381234567a"), None);
        assert_eq!(normalize_phone(""), None);
        assert_eq!(normalize_phone("１３８１２３４５６７８"), None);
    }

    #[test]
    fn passwords_need_length_letters_and_digits() {
        assert!(check_password("abc12345").is_ok());
        assert!(check_password("abc1234").is_err());
        assert!(check_password("abcdefgh").is_err());
        assert!(check_password("12345678").is_err());
        assert!(check_password(&format!("a1{}", "x".repeat(63))).is_err());
    }

    #[test]
    fn nicknames_are_trimmed_and_bounded() {
        assert_eq!(clean_nickname("  小明 ").unwrap(), "小明");
        assert!(clean_nickname("   ").is_err());
        assert!(clean_nickname(&"字".repeat(33)).is_err());
        assert!(clean_nickname("a\u{0007}b").is_err());
        assert_eq!(default_nickname("13812345678"), "用户5678");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "****");
    }

    #[test]
    fn birthdays_are_in_the_past() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert!(check_birthday(NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(), today).is_ok());
        assert!(check_birthday(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), today).is_err());
        assert!(check_birthday(NaiveDate::from_ymd_opt(1899, 12, 31).unwrap(), today).is_err());
    }

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures: 3,
            window: Duration::minutes(15),
            lockout: Duration::minutes(10),
        }
    }

    #[test]
    fn the_third_failure_locks() {
        let t0 = Utc::now();
        let s1 = after_failure(None, t0, &policy());
        let s2 = after_failure(Some(&s1), t0 + Duration::seconds(1), &policy());
        assert_eq!(locked_for(&s2, t0), None);
        let s3 = after_failure(Some(&s2), t0 + Duration::seconds(2), &policy());
        assert_eq!(s3.failures, 3);
        assert!(locked_for(&s3, t0 + Duration::seconds(3)).is_some());
        assert_eq!(locked_for(&s3, t0 + Duration::minutes(11)), None);
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let t0 = Utc::now();
        let s1 = after_failure(None, t0, &policy());
        let s2 = after_failure(Some(&s1), t0 + Duration::seconds(1), &policy());
        let s3 = after_failure(Some(&s2), t0 + Duration::minutes(20), &policy());
        assert_eq!(s3.failures, 1);
        assert_eq!(s3.locked_until, None);
    }

    #[test]
    fn after_a_lockout_expires_the_count_restarts() {
        let t0 = Utc::now();
        let mut s = after_failure(None, t0, &policy());
        for i in 1..3 {
            s = after_failure(Some(&s), t0 + Duration::seconds(i), &policy());
        }
        assert!(s.locked_until.is_some());
        let later = after_failure(Some(&s), t0 + Duration::minutes(30), &policy());
        assert_eq!(later.failures, 1);
        assert_eq!(later.locked_until, None);
    }
}
