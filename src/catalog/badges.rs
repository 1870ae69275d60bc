//! Labels other areas put on products — a running promotion's "满200减30" — shown as
//! `Product.promotions`. The catalogue does not know who supplies them: the areas register a
//! `ProductBadges` in `app`.
use async_trait::async_trait;
use entity::product;

use crate::{app::AppState, error::AppError};

#[async_trait]
pub trait ProductBadges: Send + Sync {
    /// The labels for `product` now, in the order buyers should read them.
    async fn badges(
        &self,
        app: &AppState,
        product: &product::Model,
    ) -> Result<Vec<String>, AppError>;
}
