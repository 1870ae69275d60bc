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
    /// No category has the given id.
    CategoryNotFound,
    /// No brand has the given id.
    BrandNotFound,
    /// No audience tag has the given id.
    AudienceNotFound,
    /// No product has the given id.
    ProductNotFound,
    /// No SKU has the given id.
    SkuNotFound,
    /// No uploaded image has the given id, or it belongs to another product.
    ImageNotFound,
    /// The category still has sub-categories or products.
    CategoryNotEmpty,
    /// The move would put a category below itself.
    CategoryCycle,
    /// The brand or audience is still used by products.
    InUse,
    /// More than 3 specs, a spec with 0 or more than 40 values, repeated or over-long names or
    /// values, or more than 600 combinations.
    InvalidSpecs,
    /// The SKUs do not match the spec combinations, or a SKU field is invalid.
    InvalidSkus,
    /// A price is not a positive amount up to ¥100,000,000.00.
    InvalidPrice,
    /// Another SKU already uses this code.
    SkuCodeTaken,
    /// The description is longer than 100,000 bytes.
    InvalidDescription,
    /// The off-sale time is not after the on-sale time.
    InvalidSchedule,
    /// A safety stock is outside 0–1,000,000 units.
    InvalidSafetyStock,
    /// An initial stock is outside 0–1,000,000 units.
    InvalidStock,
    /// The product cannot go on sale yet (no category, no priced SKU…).
    CannotPublish,
    /// The percentage is outside −90 to 1,000, or would bring a price below ¥0.01.
    InvalidPercentage,
    /// Too many ids in one request.
    TooMany,
    /// The file cannot be read as an image.
    InvalidImage,
    /// The file is larger than `upload_max_bytes`.
    ImageTooLarge,
    /// Not a JPEG, PNG or WebP image (judged by content, not by name).
    UnsupportedImageType,
    /// A side is shorter than `image_min_side` or longer than `image_max_side` pixels.
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
