//! The group-buying area's user errors (joining through `placeOrder` answers with the orders
//! area's codes, `GROUP_BUY_*`).
use async_graphql::Enum;

use crate::error::ServiceError;

/// Why a group-buying mutation was refused (nothing was changed).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBuyErrorCode {
    /// A name is empty or longer than 40 characters.
    InvalidName,
    /// A group size outside 2 to 100, or an automatic completion not below the size.
    InvalidGroupSize,
    /// A time limit outside 1 to 720 hours, or a window that ends before it starts or has
    /// ended.
    InvalidWindow,
    /// A per-user limit outside 1 to 100.
    InvalidQuantity,
    /// Neither distributors nor consumers may launch groups.
    InvalidLaunchers,
    /// No SKUs, more than 200, a SKU listed twice, or one not of the campaign's product.
    InvalidSkus,
    /// A group price not below its SKU's price (or below ¥0.01), or a leader's discount not
    /// below the lowest group price.
    InvalidPrice,
    /// No product has this id.
    ProductNotFound,
    /// No campaign has this id.
    CampaignNotFound,
    /// The campaign is not running (not started, over, or ended).
    CampaignNotRunning,
    /// The campaign does not let you launch a group (distributors only, or consumers only).
    MayNotLaunch,
}

crate::user_error_type!(
    /// A refused group-buying mutation.
    GroupBuyError,
    GroupBuyErrorCode
);

pub type GroupBuyResult<T> = Result<T, ServiceError<Vec<GroupBuyError>>>;

pub fn reject<T>(
    code: GroupBuyErrorCode,
    field: &str,
    message: impl Into<String>,
) -> GroupBuyResult<T> {
    Err(ServiceError::User(vec![GroupBuyError::new(
        code,
        Some(field),
        message,
    )]))
}
