//! The plain rules of after-sales: how much a refund of some units of a line returns, when the
//! shipping fee goes back, and how a refund request moves.
//!
//! Rounding: a line's refundable money is what was paid for it (`pay_amount`, after every
//! discount). Refunding `q` of its `n` units returns `pay_amount × q ÷ n` rounded down to the
//! fen, except that the refund which takes the last units returns whatever is left — so the
//! refunds of a line always add up to exactly what was paid for it, never a fen more.
use async_graphql::Enum;

/// What the buyer asks for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundKind {
    /// Money back without sending goods back (not received, or not shipped yet).
    RefundOnly,
    /// Goods come back first, then the money.
    Return,
}

impl RefundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundKind::RefundOnly => "REFUND_ONLY",
            RefundKind::Return => "RETURN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::RefundOnly, Self::Return]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a refund request is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Waiting for staff.
    Requested,
    /// Accepted; for a return, waiting for the goods.
    Approved,
    /// Refused by staff, with a reason; the order went back to where it was.
    Rejected,
    /// The returned goods arrived.
    Returned,
    /// The money went back through the payment provider.
    Refunded,
    /// The provider refused or could not be reached; staff can retry.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Requested => "REQUESTED",
            RefundStatus::Approved => "APPROVED",
            RefundStatus::Rejected => "REJECTED",
            RefundStatus::Returned => "RETURNED",
            RefundStatus::Refunded => "REFUNDED",
            RefundStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Requested,
            Self::Approved,
            Self::Rejected,
            Self::Returned,
            Self::Refunded,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where the money can be sent back from: a refund-only request once approved, a return once
/// its goods arrived, and any refund whose last attempt failed.
pub fn can_pay_out(kind: RefundKind, status: RefundStatus) -> bool {
    matches!(
        (kind, status),
        (RefundKind::RefundOnly, RefundStatus::Approved)
            | (RefundKind::Return, RefundStatus::Returned)
            | (_, RefundStatus::Failed)
    )
}

/// What a line looks like to a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineMoney {
    pub quantity: i64,
    pub pay_amount_fen: i64,
    pub refunded_quantity: i64,
    pub refunded_fen: i64,
}

impl LineMoney {
    pub fn refundable_quantity(&self) -> i64 {
        self.quantity - self.refunded_quantity
    }

    /// The money a refund of `q` more units returns (see the module's rounding rule). `None`
    /// when `q` is not between 1 and what is left.
    pub fn refund_of(&self, q: i64) -> Option<i64> {
        if q < 1 || q > self.refundable_quantity() || self.quantity <= 0 {
            return None;
        }
        if q == self.refundable_quantity() {
            return Some(self.pay_amount_fen - self.refunded_fen);
        }
        let share = i128::from(self.pay_amount_fen) * i128::from(q) / i128::from(self.quantity);
        Some(share as i64)
    }
}

/// The shipping fee goes back only when the whole order is refunded before anything shipped.
pub fn refunds_shipping(everything_refunded: bool, anything_shipped: bool) -> bool {
    everything_refunded && !anything_shipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, pay: i64) -> LineMoney {
        LineMoney {
            quantity,
            pay_amount_fen: pay,
            refunded_quantity: 0,
            refunded_fen: 0,
        }
    }

    #[test]
    fn partial_refunds_add_up_to_what_was_paid() {
        // ¥100.00 for three units: 33.33 + 33.33 + 33.34.
        let mut l = line(3, 10_000);
        let mut paid_back = Vec::new();
        for _ in 0..3 {
            let r = l.refund_of(1).unwrap();
            paid_back.push(r);
            l.refunded_quantity += 1;
            l.refunded_fen += r;
        }
        assert_eq!(paid_back, vec![3_333, 3_333, 3_334]);
        assert_eq!(l.refund_of(1), None, "nothing is left");
    }

    #[test]
    fn a_refund_of_several_units_and_then_the_rest() {
        let mut l = line(7, 9_999);
        let first = l.refund_of(2).unwrap();
        assert_eq!(first, 2_856); // 9999 × 2 ÷ 7 = 2856.857…, down to the fen
        l.refunded_quantity = 2;
        l.refunded_fen = first;
        assert_eq!(l.refund_of(5), Some(9_999 - 2_856));
    }

    #[test]
    fn quantities_outside_what_is_left_are_refused() {
        let l = line(2, 500);
        assert_eq!(l.refund_of(0), None);
        assert_eq!(l.refund_of(-1), None);
        assert_eq!(l.refund_of(3), None);
        assert_eq!(l.refund_of(2), Some(500));
        // A gift line (paid nothing) refunds nothing.
        assert_eq!(line(1, 0).refund_of(1), Some(0));
    }

    #[test]
    fn money_goes_back_only_from_the_right_states() {
        use RefundKind::*;
        use RefundStatus::*;
        assert!(can_pay_out(RefundOnly, Approved));
        assert!(
            !can_pay_out(Return, Approved),
            "a return waits for the goods"
        );
        assert!(can_pay_out(Return, Returned));
        assert!(can_pay_out(Return, Failed));
        assert!(!can_pay_out(RefundOnly, Requested));
        assert!(!can_pay_out(RefundOnly, Refunded));
        assert!(!can_pay_out(RefundOnly, Rejected));
    }

    #[test]
    fn shipping_goes_back_only_with_everything_before_shipping() {
        assert!(refunds_shipping(true, false));
        assert!(!refunds_shipping(true, true));
        assert!(!refunds_shipping(false, false));
    }
}
