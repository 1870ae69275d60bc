//! Money: `Decimal` yuan in code and in the API, integer fen in the database (exact on SQLite and
//! PostgreSQL alike). Conversions happen only here.
use rust_decimal::{Decimal, RoundingStrategy};

/// The largest amount the system accepts anywhere: ¥100,000,000.00.
pub const MAX_FEN: i64 = 10_000_000_000;

pub fn to_decimal(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// Yuan to fen. Refuses amounts with more than two decimals (the `Decimal` scalar already
/// does) and amounts beyond `MAX_FEN`.
pub fn to_fen(amount: Decimal) -> Option<i64> {
    if amount.normalize().scale() > 2 {
        return None;
    }
    let fen = (amount * Decimal::ONE_HUNDRED).trunc();
    i64::try_from(fen).ok().filter(|f| f.abs() <= MAX_FEN)
}

/// Rounds yuan to the fen, half away from zero (¥0.125 → ¥0.13): the one rounding rule for
/// money computed from rates (price changes, commissions, discounts).
pub fn round_to_fen(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn fen_round_trips() {
        assert_eq!(to_fen(d("12.34")), Some(1234));
        assert_eq!(to_fen(d("12.3")), Some(1230));
        assert_eq!(to_fen(d("0")), Some(0));
        assert_eq!(to_fen(d("-5.01")), Some(-501));
        assert_eq!(to_decimal(1234), d("12.34"));
        assert_eq!(to_fen(to_decimal(987654321)), Some(987654321));
    }

    #[test]
    fn fen_refuses_fractions_of_a_fen_and_absurd_amounts() {
        assert_eq!(to_fen(d("0.001")), None);
        assert_eq!(to_fen(d("100000000.01")), None);
        assert_eq!(to_fen(d("100000000.00")), Some(MAX_FEN));
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_to_fen(d("0.125")), d("0.13"));
        assert_eq!(round_to_fen(d("0.124")), d("0.12"));
        assert_eq!(round_to_fen(d("-0.125")), d("-0.13"));
    }
}
