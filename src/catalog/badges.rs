//! Labels other areas put on products — a running promotion's "满200减30" — shown as
//! `Product.promotions`. The catalogue does not know who supplies them: the areas register a
//! `ProductBadges` in `app`.
use async_trait::async_trait;
use entity::product;

use crate::{app::AppState, error::AppError};

#[async_trait]
pub trait ProductBadges: Send + Sync {
    /// A number that moves whenever any product's labels may change other than by the product
    /// or the taxonomy changing (those are versioned already); `None` when it cannot tell now.
    /// A stored response showing labels is served only while every supplier's is unchanged.
    fn version(&self, app: &AppState, now: chrono::DateTime<chrono::Utc>) -> Option<u64>;

    /// The labels for `product` now, in the order buyers should read them.
    async fn badges(
        &self,
        app: &AppState,
        product: &product::Model,
    ) -> Result<Vec<String>, AppError>;
}

/// Every supplier's `version` now, in registration order; `None` if one cannot tell.
pub fn versions(app: &AppState, now: chrono::DateTime<chrono::Utc>) -> Option<Vec<u64>> {
    app.product_badges
        .iter()
        .map(|b| b.version(app, now))
        .collect()
}

/// Every supplier's labels for `product`, noting in `recorder` (a response being stored) the
/// versions they were read at — taken before the labels, as every version is.
pub async fn labels(
    app: &AppState,
    product: &product::Model,
    recorder: Option<&super::response_cache::Recorder>,
) -> Result<Vec<String>, AppError> {
    if let Some(r) = recorder {
        let now = chrono::Utc::now();
        let mut known = versions(app, now);
        if known.is_none() {
            // A supplier reads what it labels from on first use: let it, then take the versions.
            for b in &app.product_badges {
                b.badges(app, product).await?;
            }
            known = versions(app, now);
        }
        r.badges(known);
    }
    let mut out = Vec::new();
    for b in &app.product_badges {
        out.extend(b.badges(app, product).await?);
    }
    Ok(out)
}
