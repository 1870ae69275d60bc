//! Custom scalars. `Decimal` is money in yuan as a string with exactly two decimals ("12.30"),
//! `Percent` a percentage in percent with two decimals ("20.00" is 20 %), `DateTime` is
//! RFC 3339 in UTC with milliseconds ("2026-11-28T16:27:46.123Z"), `Date` is a calendar date
//! ("1990-05-17").
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;

/// Money in CNY: a string with two decimals. Inputs may be a string or a number but must not
/// carry more than two decimals (amounts are exact to the fen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(pub Decimal);

/// Money in CNY yuan, as a string with exactly two decimals: `"12.30"`, `"-5.00"` (a negative
/// amount is money going back, e.g. a ledger entry taking a reversed commission). As input, a
/// string or a number with at most two decimals; anything finer than the fen (`"1.005"`) is
/// refused, never rounded.
#[Scalar(name = "Decimal")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let d = match &value {
            Value::String(s) => s
                .trim()
                .parse::<Decimal>()
                .map_err(|_| InputValueError::custom("not a decimal number"))?,
            Value::Number(n) => n
                .to_string()
                .parse::<Decimal>()
                .map_err(|_| InputValueError::custom("not a decimal number"))?,
            _ => return Err(InputValueError::expected_type(value)),
        };
        if d.normalize().scale() > 2 {
            return Err(InputValueError::custom(
                "money has at most two decimals (fen)",
            ));
        }
        Ok(Money(d.round_dp(2)))
    }

    fn to_value(&self) -> Value {
        Value::String(format_money(self.0))
    }
}

/// Two decimals, always: `5` → `"5.00"`.
pub fn format_money(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

/// A percentage, in percent (not a fraction), as a string with two decimals: 20 % is
/// `"20.00"`, 12.5 % is `"12.50"`, 0.6 % is `"0.60"` (and `"0.20"` is 0.2 %, not 20 %). Every
/// rate and percentage in the API uses it: commission tiers, level rates, overrides, the
/// withdrawal fee rate and price adjustments. Inputs may be a string or a number with at most
/// two decimals (`"20"`, `20`, `"12.5"`); the range each field allows is in its description,
/// and a value outside it is refused in the mutation's `userErrors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, async_graphql::Description)]
pub struct Percent(pub Decimal);

#[Scalar(name = "Percent", use_type_description)]
impl ScalarType for Percent {
    fn parse(value: Value) -> InputValueResult<Self> {
        let d = match &value {
            Value::String(s) => s.trim().parse::<Decimal>().map_err(|_| {
                InputValueError::custom(
                    "a percentage is a decimal number of percent, e.g. \"12.5\"",
                )
            })?,
            Value::Number(n) => n
                .to_string()
                .parse::<Decimal>()
                .map_err(|_| InputValueError::custom("not a decimal number"))?,
            _ => return Err(InputValueError::expected_type(value)),
        };
        if d.normalize().scale() > 2 {
            return Err(InputValueError::custom(
                "a percentage has at most two decimals",
            ));
        }
        Ok(Percent(d.normalize()))
    }

    fn to_value(&self) -> Value {
        Value::String(format_percent(self.0))
    }
}

impl Percent {
    /// Hundredths of a percent (`"85.00"` → 8,500): exact, since a percentage has at most two
    /// decimals; `None` beyond what an `i32` holds.
    pub fn basis_points(&self) -> Option<i32> {
        rust_decimal::prelude::ToPrimitive::to_i32(&(self.0 * Decimal::ONE_HUNDRED))
    }
}

/// Two decimals (`20` → `"20.00"`); a value with more (none is accepted as input) keeps them
/// rather than being rounded.
pub fn format_percent(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// A point in time, RFC 3339 in UTC with milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A point in time: RFC 3339 in UTC with milliseconds, `"2026-11-28T16:27:46.123Z"`. Inputs may
/// carry any offset (`"2026-11-29T00:27:46+08:00"`); they are converted to UTC.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(d: chrono::DateTime<Utc>) -> Self {
        DateTime(d)
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date without a time or zone, `YYYY-MM-DD` (`"1990-05-17"`). Business days (sales
/// reports) are days in the shop's time zone.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn money_always_has_two_decimals() {
        assert_eq!(format_money(Decimal::from(5)), "5.00");
        assert_eq!(format_money(Decimal::from_str("1.5").unwrap()), "1.50");
        assert_eq!(format_money(Decimal::from_str("-0.1").unwrap()), "-0.10");
        assert_eq!(
            Money(Decimal::from_str("12.3").unwrap()).to_value(),
            Value::String("12.30".into())
        );
    }

    #[test]
    fn a_percentage_is_exact_in_basis_points() {
        let p = |s: &str| Percent::parse(Value::String(s.into())).unwrap();
        assert_eq!(p("85").basis_points(), Some(8_500));
        assert_eq!(p("8.5").basis_points(), Some(850));
        assert_eq!(p("99.99").basis_points(), Some(9_999));
        assert_eq!(p("-0.01").basis_points(), Some(-1));
        assert_eq!(p("30000000").basis_points(), None);
    }

    #[test]
    fn money_input_is_exact_to_the_fen() {
        assert_eq!(
            Money::parse(Value::String("12.30".into())).unwrap().0,
            Decimal::from_str("12.30").unwrap()
        );
        assert_eq!(
            Money::parse(Value::String("12.300".into())).unwrap().0,
            Decimal::from_str("12.30").unwrap()
        );
        assert!(Money::parse(Value::String("12.305".into())).is_err());
        assert!(Money::parse(Value::String("abc".into())).is_err());
        assert!(Money::parse(Value::Boolean(true)).is_err());
    }

    #[test]
    fn percentages_have_two_decimals_and_are_not_fractions() {
        let p = |v: Value| Percent::parse(v).map(|p| p.to_value());
        assert_eq!(
            p(Value::String("20".into())).unwrap(),
            Value::String("20.00".into())
        );
        assert_eq!(
            p(Value::String(" 12.5 ".into())).unwrap(),
            Value::String("12.50".into())
        );
        assert_eq!(
            p(Value::Number(20.into())).unwrap(),
            Value::String("20.00".into())
        );
        assert_eq!(
            p(Value::String("0.60".into())).unwrap(),
            Value::String("0.60".into())
        );
        assert_eq!(
            p(Value::String("-10".into())).unwrap(),
            Value::String("-10.00".into())
        );
        assert!(p(Value::String("12.345".into())).is_err());
        assert!(p(Value::String("20%".into())).is_err());
        assert!(p(Value::Boolean(true)).is_err());
        assert_eq!(format_percent(Decimal::from_str("0.125").unwrap()), "0.125");
    }

    #[test]
    fn date_times_are_utc_with_millis() {
        let v = DateTime::parse(Value::String("2026-11-28T08:00:00+08:00".into())).unwrap();
        assert_eq!(
            v.to_value(),
            Value::String("2026-11-28T00:00:00.000Z".into())
        );
        assert!(DateTime::parse(Value::String("yesterday".into())).is_err());
    }

    #[test]
    fn dates_round_trip() {
        let d = Date::parse(Value::String("1990-05-17".into())).unwrap();
        assert_eq!(d.to_value(), Value::String("1990-05-17".into()));
        assert!(Date::parse(Value::String("1990-13-01".into())).is_err());
    }
}
