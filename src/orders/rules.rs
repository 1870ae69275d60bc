//! The order state machine (ARCHITECTURE.md §10) and the other plain rules of ordering: quantities,
//! order numbers. Every status change in the system asks `can_transition` first; `next_states`
//! is what `Order.nextStates` shows the dashboard.
use async_graphql::Enum;

/// Where an order is in its life.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// 已提交: placed, stock reserved, waiting for payment.
    Submitted,
    /// 已付款: the money arrived; waiting for staff to approve.
    Paid,
    /// 已审核: reviewed by staff, ready to ship.
    Approved,
    /// 已发货: the first parcel left; more may follow.
    Shipped,
    /// 运输中: a carrier reported the parcel on its way.
    InTransit,
    /// 已签收: signed for, confirmed by the buyer, or received automatically; the after-sales
    /// window (`order_after_sales_days`) runs.
    Delivered,
    /// The after-sales window closed.
    Completed,
    /// Cancelled before payment; stock released.
    Cancelled,
    /// 退款中: a refund or return is being handled.
    Refunding,
    /// 已退款: everything paid was refunded.
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::Submitted,
        OrderStatus::Paid,
        OrderStatus::Approved,
        OrderStatus::Shipped,
        OrderStatus::InTransit,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunding,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Submitted => "SUBMITTED",
            OrderStatus::Paid => "PAID",
            OrderStatus::Approved => "APPROVED",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::InTransit => "IN_TRANSIT",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Refunding => "REFUNDING",
            OrderStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Paid and not yet finished: refunds can be asked for.
    pub fn is_after_payment_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid
                | OrderStatus::Approved
                | OrderStatus::Shipped
                | OrderStatus::InTransit
                | OrderStatus::Delivered
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }
}

/// The transition table. `before_refund` is where a `REFUNDING` order returns to when its
/// refund is rejected or only part of the order was refunded.
pub fn can_transition(
    from: OrderStatus,
    to: OrderStatus,
    before_refund: Option<OrderStatus>,
) -> bool {
    use OrderStatus::*;
    match (from, to) {
        (Submitted, Paid | Cancelled) => true,
        (Paid, Approved) => true,
        (Approved, Shipped) => true,
        // A carrier may report delivery without ever reporting transit.
        (Shipped, InTransit | Delivered) => true,
        (InTransit, Delivered) => true,
        (Delivered, Completed) => true,
        // Buyers ask while after-sales is open; order staff may also open one for a
        // completed order (`refunds::Requester::Staff`).
        (f, Refunding) => f.is_after_payment_open() || f == Completed,
        (Refunding, Refunded) => true,
        (Refunding, back) => before_refund == Some(back),
        _ => false,
    }
}

/// Every status `from` may move to now, in the table's order.
pub fn next_states(from: OrderStatus, before_refund: Option<OrderStatus>) -> Vec<OrderStatus> {
    OrderStatus::ALL
        .into_iter()
        .filter(|to| can_transition(from, *to, before_refund))
        .collect()
}

/// Whether a hold keeps an order from moving to `to`: a held order may not be approved (it
/// moves on with its group, or is refunded with it).
pub fn hold_blocks(held: bool, to: OrderStatus) -> bool {
    held && to == OrderStatus::Approved
}

/// Why a paid order waits before it may be approved or shipped.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderHold {
    /// Its group buy is still filling: it moves on with the whole group when the last place is
    /// paid, and is refunded automatically if the group fails.
    GroupBuy,
}

impl OrderHold {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderHold::GroupBuy => "GROUP_BUY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s == "GROUP_BUY").then_some(OrderHold::GroupBuy)
    }
}

/// How an order came to be, for reports and commissions.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSource {
    /// Bought without a distributor.
    Direct,
    /// Through the buyer's binding to a distributor or a share code; for a distributor's own
    /// order, through themselves (self-purchase on) or their inviter.
    Distributor,
    /// Through a group-buying campaign.
    GroupBuy,
    /// A redemption in the points mall (paid in points, plus any cash the item asks for).
    PointsMall,
}

impl OrderSource {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSource::Direct => "DIRECT",
            OrderSource::Distributor => "DISTRIBUTOR",
            OrderSource::GroupBuy => "GROUP_BUY",
            OrderSource::PointsMall => "POINTS_MALL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Direct,
            Self::Distributor,
            Self::GroupBuy,
            Self::PointsMall,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Whether the money of an order arrived and how much went back.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// No payment has arrived.
    Unpaid,
    /// Paid, nothing refunded.
    Paid,
    /// Part of what was paid went back.
    PartiallyRefunded,
    /// Everything paid went back.
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "UNPAID",
            PaymentStatus::Paid => "PAID",
            PaymentStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            PaymentStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Unpaid,
            Self::Paid,
            Self::PartiallyRefunded,
            Self::Refunded,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Units of one SKU a line may order.
pub const MAX_LINE_QUANTITY: i64 = 999;
/// Distinct SKUs one order may hold.
pub const MAX_ORDER_LINES: usize = 50;

pub fn valid_line_quantity(q: i64) -> bool {
    (1..=MAX_LINE_QUANTITY).contains(&q)
}

/// A human-readable, unique order number: the business day and that day's sequence, at least
/// six digits (`20261128000042`), so staff can read it over the phone and sort by it.
pub fn order_number(day: &str, sequence: i64) -> String {
    format!("{day}{sequence:06}")
}

#[cfg(test)]
mod tests {
    use super::{OrderStatus::*, *};

    #[test]
    fn a_held_order_may_do_anything_but_be_approved() {
        for to in OrderStatus::ALL {
            assert_eq!(hold_blocks(true, to), to == Approved, "{to:?}");
            assert!(!hold_blocks(false, to), "{to:?}");
        }
    }

    #[test]
    fn the_happy_path_is_allowed_step_by_step() {
        let path = [
            Submitted, Paid, Approved, Shipped, InTransit, Delivered, Completed,
        ];
        for w in path.windows(2) {
            assert!(can_transition(w[0], w[1], None), "{:?} → {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn skipping_steps_or_going_back_is_refused() {
        assert!(!can_transition(Submitted, Shipped, None));
        assert!(!can_transition(Paid, Submitted, None));
        assert!(!can_transition(Paid, Cancelled, None));
        assert!(!can_transition(Cancelled, Paid, None));
        assert!(!can_transition(Refunded, Paid, None));
        assert!(!can_transition(Submitted, Refunding, None));
    }

    #[test]
    fn a_refund_returns_only_where_it_came_from() {
        assert!(can_transition(Shipped, Refunding, None));
        assert!(can_transition(Refunding, Shipped, Some(Shipped)));
        assert!(!can_transition(Refunding, Delivered, Some(Shipped)));
        assert!(!can_transition(Refunding, Paid, None));
        assert!(can_transition(Refunding, Refunded, Some(Paid)));
        // Staff may honour a claim after completion; it returns to COMPLETED when rejected.
        assert!(can_transition(Completed, Refunding, None));
        assert!(can_transition(Refunding, Completed, Some(Completed)));
    }

    #[test]
    fn next_states_lists_the_table() {
        assert_eq!(next_states(Submitted, None), vec![Paid, Cancelled]);
        assert_eq!(
            next_states(Shipped, None),
            vec![InTransit, Delivered, Refunding]
        );
        assert_eq!(
            next_states(Refunding, Some(Approved)),
            vec![Approved, Refunded]
        );
        assert_eq!(next_states(Completed, None), vec![Refunding]);
        for terminal in [Cancelled, Refunded] {
            assert!(next_states(terminal, None).is_empty());
            assert!(terminal.is_terminal());
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("paid"), None);
    }

    #[test]
    fn quantities_and_numbers() {
        assert!(valid_line_quantity(1) && valid_line_quantity(999));
        assert!(!valid_line_quantity(0) && !valid_line_quantity(1000) && !valid_line_quantity(-1));
        assert_eq!(order_number("20261128", 42), "20261128000042");
        assert_eq!(order_number("20261128", 1_234_567), "202611281234567");
    }
}
