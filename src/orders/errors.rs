//! The orders area's user errors.
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why an orders mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderErrorCode {
    /// No order of yours (or, for staff, no order) has the given id.
    OrderNotFound,
    /// No SKU has the given id.
    SkuNotFound,
    /// None of your addresses has the given id.
    AddressNotFound,
    /// The product is not on sale (unpublished, or its SKU was removed).
    NotOnSale,
    /// Fewer units are left than asked for.
    OutOfStock,
    /// A quantity outside 1–999, or too many lines.
    InvalidQuantity,
    /// The cart, or the selection in it, is empty.
    EmptyOrder,
    /// A required address field is missing or too long, or the phone is not a phone number.
    InvalidAddress,
    /// The shop does not deliver to this address.
    NotDeliverable,
    /// The buyer holds no coupon with this id.
    CouponNotFound,
    /// The coupon was used by another order (also: by a checkout a moment earlier).
    CouponAlreadyUsed,
    /// The coupon's validity ended.
    CouponExpired,
    /// The coupon is not valid yet.
    CouponNotYetValid,
    /// The items the coupon applies to cost less than its threshold (the message says by how
    /// much).
    CouponBelowThreshold,
    /// Nothing in the order is in the coupon's scope.
    CouponNotInScope,
    /// The coupon does not stack with the activity that already discounted this order.
    CouponNotStackable,
    /// Negative points, or points asked for where nothing can be deducted (the lines cost
    /// nothing).
    InvalidPoints,
    /// The buyer has fewer points than the order spends (also when another order spent them
    /// meanwhile).
    InsufficientPoints,
    /// More points than the deduction cap allows on this order (see `pointsRules`).
    PointsOverCap,
    /// The SKU is not redeemable in the points mall.
    NotRedeemable,
    /// The order is not in a state that allows this now (see `Order.nextStates`).
    InvalidTransition,
    /// The idempotency key was used before with a different input.
    IdempotencyKeyReused,
    /// The payment provider is not configured, or not allowed here.
    PaymentUnavailable,
    /// The provider refused or could not be reached.
    PaymentFailed,
    /// A note, reason or name is empty, too long or malformed.
    InvalidNote,
    /// The idempotency key is empty or longer than 100 characters.
    InvalidIdempotencyKey,
    /// No refund request has the given id.
    RefundNotFound,
    /// No shipping template has the given id.
    ShippingTemplateNotFound,
    /// The shipping rules are not valid JSON of the documented shape, or have negative fees.
    InvalidShippingTemplate,
    /// A line named in a shipment is not a line of this order.
    OrderLineNotFound,
    /// Every unit is shipped or refunded already, or the shipment names no units.
    NothingToShip,
    /// The carrier code or tracking number is empty or malformed.
    InvalidTracking,
    /// This carrier's tracking number is on another shipment already.
    TrackingNumberTaken,
    /// No group or group-buy campaign has the given id.
    GroupBuyNotFound,
    /// The group-buy campaign is not running (not started, over, or ended).
    GroupBuyNotRunning,
    /// The group succeeded, failed or passed its deadline; `suggestion` names an open group of
    /// the same campaign when there is one.
    GroupBuyClosed,
    /// Every place of the group is taken; `suggestion` names the open group of the same
    /// campaign closest to success, when there is one.
    GroupBuyFull,
    /// You hold a place in this group already.
    GroupBuyAlreadyJoined,
    /// You hold as many group orders of this campaign as it allows.
    GroupBuyLimitReached,
    /// This campaign does not let you launch a group (distributors only, or consumers only).
    GroupBuyMayNotLaunch,
    /// An item of a group-buy order is not one of the campaign's SKUs.
    NotInGroupBuy,
    /// The order waits for something before it may be approved or shipped (`Order.heldFor`:
    /// its group is still filling).
    OrderOnHold,
}

impl OrderErrorCode {
    /// The code of a group buy the checkout cannot join or launch.
    pub fn of_group_buy(why: super::pricing::GroupBuyRefusal) -> Self {
        use super::pricing::GroupBuyRefusal::*;
        match why {
            NotFound => OrderErrorCode::GroupBuyNotFound,
            NotRunning => OrderErrorCode::GroupBuyNotRunning,
            Closed => OrderErrorCode::GroupBuyClosed,
            Full => OrderErrorCode::GroupBuyFull,
            AlreadyJoined => OrderErrorCode::GroupBuyAlreadyJoined,
            LimitReached => OrderErrorCode::GroupBuyLimitReached,
            MayNotLaunch => OrderErrorCode::GroupBuyMayNotLaunch,
            NotInCampaign => OrderErrorCode::NotInGroupBuy,
        }
    }

    /// The code of a coupon the checkout cannot use, as `placeOrder` and `usableCoupons` say it.
    pub fn of_coupon(why: super::pricing::CouponRefusal) -> Self {
        use super::pricing::CouponRefusal::*;
        match why {
            NotFound => OrderErrorCode::CouponNotFound,
            AlreadyUsed => OrderErrorCode::CouponAlreadyUsed,
            Expired => OrderErrorCode::CouponExpired,
            NotYetValid => OrderErrorCode::CouponNotYetValid,
            BelowThreshold => OrderErrorCode::CouponBelowThreshold,
            NotInScope => OrderErrorCode::CouponNotInScope,
            NotStackable => OrderErrorCode::CouponNotStackable,
        }
    }
}

crate::user_error_type!(
    /// A refused orders mutation.
    OrderError,
    OrderErrorCode,
    /// Something to try instead, as a global ID: for `GROUP_BUY_FULL` and `GROUP_BUY_CLOSED`,
    /// the open group of the same campaign closest to success (a `GroupBuy`). Null otherwise.
    suggestion: Option<async_graphql::ID>,
);

impl OrderError {
    /// The same error, offering `suggestion` (a global ID) instead.
    pub fn suggesting(mut self, suggestion: Option<async_graphql::ID>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

pub type OrderResult<T> = Result<T, ServiceError<Vec<OrderError>>>;

pub fn reject<T>(code: OrderErrorCode, field: &str, message: impl Into<String>) -> OrderResult<T> {
    Err(ServiceError::User(vec![OrderError::new(
        code,
        Some(field),
        message,
    )]))
}

pub fn reject_whole<T>(code: OrderErrorCode, message: impl Into<String>) -> OrderResult<T> {
    Err(ServiceError::User(vec![OrderError::new(
        code, None, message,
    )]))
}
