//! The catalog area's user errors.
use async_graphql::Enum;

use super::rules::Violation;
use crate::error::ServiceError;

/// Why a catalog mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogErrorCode {
    /// A name is empty, too long or otherwise unusable.
    InvalidName,
    /// Another category under the same parent, brand or audience already has this name.
    NameTaken,
    CategoryNotFound,
    BrandNotFound,
    AudienceNotFound,
    ProductNotFound,
    SkuNotFound,
    ImageNotFound,
    /// The category still has sub-categories or products.
    CategoryNotEmpty,
    /// The move would put a category below itself.
    CategoryCycle,
    /// The brand or audience is still used by products.
    InUse,
    InvalidSpecs,
    /// The SKUs do not match the spec combinations, or a SKU field is invalid.
    InvalidSkus,
    InvalidPrice,
    /// Another SKU already uses this code.
    SkuCodeTaken,
    InvalidDescription,
    InvalidSchedule,
    InvalidSafetyStock,
    InvalidStock,
    /// The product cannot go on sale yet (no category, no priced SKU…).
    CannotPublish,
    InvalidPercentage,
    /// Too many ids in one request.
    TooMany,
    InvalidImage,
    ImageTooLarge,
    UnsupportedImageType,
    InvalidImageDimensions,
}

crate::user_error_type!(
    /// A refused catalog mutation.
    CatalogError,
    CatalogErrorCode
);

pub type CatalogResult<T> = Result<T, ServiceError<Vec<CatalogError>>>;

pub fn reject<T>(
    code: CatalogErrorCode,
    field: &str,
    message: impl Into<String>,
) -> CatalogResult<T> {
    Err(ServiceError::User(vec![CatalogError::new(
        code,
        Some(field),
        message,
    )]))
}

impl From<(CatalogErrorCode, Violation)> for ServiceError<Vec<CatalogError>> {
    fn from((code, v): (CatalogErrorCode, Violation)) -> Self {
        ServiceError::User(vec![CatalogError::new(code, Some(v.field), v.message)])
    }
}
