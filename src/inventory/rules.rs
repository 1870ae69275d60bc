//! Pure inventory rules: movement reasons, quantities, and when a low-stock alert is raised or
//! re-armed.

/// Why stock changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum StockReason {
    /// Goods received from a supplier.
    Restock,
    /// A correction by staff (damage, loss, found goods).
    Adjustment,
    /// A physical count replaced the recorded stock.
    Stocktake,
    /// Held for an order that was placed.
    OrderReserved,
    /// Released because an order was cancelled or timed out.
    OrderReleased,
    /// Goods came back from a customer.
    Returned,
}

impl StockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StockReason::Restock => "RESTOCK",
            StockReason::Adjustment => "ADJUSTMENT",
            StockReason::Stocktake => "STOCKTAKE",
            StockReason::OrderReserved => "ORDER_RESERVED",
            StockReason::OrderReleased => "ORDER_RELEASED",
            StockReason::Returned => "RETURNED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            StockReason::Restock,
            StockReason::Adjustment,
            StockReason::Stocktake,
            StockReason::OrderReserved,
            StockReason::OrderReleased,
            StockReason::Returned,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The largest single stock change or stock level accepted.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// A quantity to reserve, release or return: 1 … 1,000,000.
pub fn valid_quantity(n: i64) -> bool {
    (1..=MAX_QUANTITY).contains(&n)
}

/// What a stock change does to the SKU's low-stock alert.
#[derive(Debug, PartialEq, Eq)]
pub enum AlertChange {
    /// Stock fell to or below the threshold and no alert is open: raise one.
    Raise,
    /// Stock rose above the threshold while an alert was open: close it, so the next fall
    /// alerts again.
    Rearm,
    None,
}

/// One alert per crossing, not one per order: only the transition raises or re-arms.
pub fn alert_change(alert_open: bool, stock: i64, threshold: i32) -> AlertChange {
    let low = stock <= i64::from(threshold);
    match (alert_open, low) {
        (false, true) => AlertChange::Raise,
        (true, false) => AlertChange::Rearm,
        _ => AlertChange::None,
    }
}

/// Whether a change of `delta` that left `balance` made the SKU go in or out of stock.
pub fn crossed_zero(balance: i64, delta: i64) -> bool {
    (balance == 0 && delta < 0) || (balance > 0 && balance == delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_fire_once_per_crossing() {
        // Threshold 10: 20 → 12 nothing, → 5 raise, → 3 nothing (already open), → 15 re-arm.
        assert_eq!(alert_change(false, 12, 10), AlertChange::None);
        assert_eq!(alert_change(false, 5, 10), AlertChange::Raise);
        assert_eq!(alert_change(true, 3, 10), AlertChange::None);
        assert_eq!(alert_change(true, 15, 10), AlertChange::Rearm);
        assert_eq!(
            alert_change(false, 10, 10),
            AlertChange::Raise,
            "at the threshold counts"
        );
    }

    #[test]
    fn quantities_are_bounded() {
        assert!(valid_quantity(1));
        assert!(!valid_quantity(0));
        assert!(!valid_quantity(-3));
        assert!(!valid_quantity(MAX_QUANTITY + 1));
    }

    #[test]
    fn zero_crossings() {
        assert!(crossed_zero(0, -3));
        assert!(crossed_zero(5, 5));
        assert!(!crossed_zero(5, 2));
        assert!(!crossed_zero(2, -3));
        assert!(!crossed_zero(0, 0));
    }

    #[test]
    fn reasons_round_trip() {
        for r in [
            "RESTOCK",
            "ADJUSTMENT",
            "STOCKTAKE",
            "ORDER_RESERVED",
            "ORDER_RELEASED",
            "RETURNED",
        ] {
            assert_eq!(StockReason::parse(r).unwrap().as_str(), r);
        }
        assert!(StockReason::parse("THEFT").is_none());
    }
}
