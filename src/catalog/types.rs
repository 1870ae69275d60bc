//! The catalog's GraphQL object types: what consumers, distributors and staff read.
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use entity::{audience, brand, category, product, product_image, sku};

use super::{
    cache::CachedSku,
    rules::{ProductStatus as Status, SpecDef},
};
use crate::{
    auth::Viewer,
    error::AppError,
    graphql::{
        context::CtxExt,
        ids,
        scalars::{DateTime, Money},
    },
    money,
};

/// Staff see every product and every field; everyone else sees only products on sale and never
/// cost prices or stock thresholds.
pub fn sees_everything(viewer: &Viewer) -> bool {
    viewer.principal().is_some_and(|p| p.is_staff)
}

/// A product's place in its life cycle.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    /// Being prepared; not visible to consumers.
    Draft,
    /// Visible and for sale.
    OnSale,
    /// Taken off sale; not visible to consumers.
    OffSale,
}

impl From<Status> for ProductStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Draft => ProductStatus::Draft,
            Status::OnSale => ProductStatus::OnSale,
            Status::OffSale => ProductStatus::OffSale,
        }
    }
}

/// A product category; categories form a tree.
pub struct Category(pub Arc<category::Model>);

/// A product category; categories form a tree. Public.
#[Object]
impl Category {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Category", self.0.id)
    }

    /// 1–64 characters, unique among its siblings.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Position among its siblings, smallest first (ties by creation).
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }

    /// The category above; null for a top-level category.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Category>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .find(|c| c.id == parent)
            .map(|c| Category(Arc::new(c.clone()))))
    }

    /// Sub-categories in display order.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .filter(|c| c.parent_id == Some(self.0.id))
            .map(|c| Category(Arc::new(c.clone())))
            .collect())
    }

    /// From the top-level category down to this one.
    async fn path(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let all = ctx.loaders().categories().await?;
        let parents = super::taxonomy::parents_of(&all);
        let mut chain = super::rules::ancestors(&parents, self.0.id);
        chain.reverse();
        Ok(chain
            .into_iter()
            .filter_map(|id| all.iter().find(|c| c.id == id))
            .map(|c| Category(Arc::new(c.clone())))
            .collect())
    }

    /// Default safety stock in units for its products' SKUs that set none; null when it sets
    /// none, and for anyone but staff.
    async fn safety_stock(&self, ctx: &Context<'_>) -> Option<i32> {
        sees_everything(ctx.viewer())
            .then_some(self.0.safety_stock)
            .flatten()
    }
}

/// A brand.
pub struct Brand(pub Arc<brand::Model>);

/// A brand. Public.
#[Object]
impl Brand {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Brand", self.0.id)
    }

    /// 1–64 characters, unique.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The logo's URL (http(s) or `/media/…`); null when it has none.
    async fn logo_url(&self) -> Option<&str> {
        self.0.logo_url.as_deref()
    }

    /// Position in `brands`, smallest first (ties by creation).
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
}

/// Who a product is for (适用人群).
pub struct Audience(pub Arc<audience::Model>);

/// Who a product is for (适用人群), e.g. 儿童, 女士. Public.
#[Object]
impl Audience {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Audience", self.0.id)
    }

    /// 1–32 characters, unique.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Position in `audiences`, smallest first (ties by creation).
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
}

/// An uploaded product image.
pub struct ProductImage(pub Arc<product_image::Model>);

/// An uploaded product image. Public once attached to a product on sale.
#[Object]
impl ProductImage {
    /// Opaque global id; attach the image to a product with `imageIds`.
    pub async fn id(&self) -> ID {
        ids::encode("ProductImage", self.0.id)
    }

    /// Served with long-lived cache headers; the URL changes when the image does.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Width in pixels.
    async fn width(&self) -> i32 {
        self.0.width
    }

    /// Height in pixels.
    async fn height(&self) -> i32 {
        self.0.height
    }

    /// `image/jpeg`, `image/png` or `image/webp`.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
}

/// A spec dimension of a product and its values (颜色: 红, 蓝).
#[derive(SimpleObject)]
pub struct Spec {
    /// The spec's name, e.g. 颜色.
    name: String,
    /// Its values in display order, e.g. 红, 蓝.
    values: Vec<String>,
}

/// One spec value of a SKU (颜色: 红).
#[derive(SimpleObject)]
pub struct SpecValue {
    /// The spec's name, e.g. 颜色.
    name: String,
    /// This SKU's value of it, e.g. 红.
    value: String,
}

/// Lowest and highest price of a product's SKUs.
#[derive(SimpleObject)]
pub struct PriceRange {
    /// The lowest price in yuan.
    min: Money,
    /// The highest price in yuan (equal to `min` when every SKU costs the same).
    max: Money,
}

/// A sellable variant of a product: one combination of its spec values. A SKU of a cached
/// product points into the product's shared list rather than copying it.
pub struct Sku {
    skus: Arc<[CachedSku]>,
    index: usize,
}

impl Sku {
    /// A SKU read from the database on its own.
    pub fn new(model: impl std::borrow::Borrow<sku::Model>) -> Self {
        Self {
            skus: Arc::new([CachedSku::new(model.borrow(), None)]),
            index: 0,
        }
    }

    /// The `index`th SKU of a cached product.
    fn cached(skus: &Arc<[CachedSku]>, index: usize) -> Self {
        Self {
            skus: skus.clone(),
            index,
        }
    }

    fn sku(&self) -> &CachedSku {
        &self.skus[self.index]
    }

    async fn specs(&self, ctx: &Context<'_>) -> Result<Arc<[SpecDef]>, AppError> {
        Ok(ctx
            .loaders()
            .specs_of(self.sku().product_id)
            .await?
            .unwrap_or_default())
    }
}

/// A sellable variant of a product: one combination of its spec values. Visible wherever its
/// product is (on sale, or to staff).
#[Object]
impl Sku {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Sku", self.sku().id)
    }

    /// The SKU code, unique in the shop (`P000012-001` unless staff gave one).
    async fn code(&self) -> &str {
        self.sku().code()
    }

    /// The spec values of this SKU, in the product's spec order.
    async fn spec_values(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SpecValue>> {
        Ok(self
            .specs(ctx)
            .await?
            .iter()
            .zip(self.sku().spec_values())
            .map(|(spec, value)| SpecValue {
                name: spec.name.clone(),
                value,
            })
            .collect())
    }

    /// `颜色:红 尺码:S`.
    async fn spec_label(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(match self.sku().label() {
            Some(label) => label.to_string(),
            None => self.sku().label_under(&self.specs(ctx).await?),
        })
    }

    /// Selling price of one unit in yuan.
    async fn price(&self) -> Money {
        Money(money::to_decimal(self.sku().price_fen))
    }

    /// The price for the caller's member level: `price` × the level's `discountRate`, rounded
    /// half up to the fen — what checkout charges per unit before promotions, coupons and
    /// points. Null for anonymous callers and for levels without a discount (the caller then
    /// pays `price`). Computed per level, never per user, so cached responses stay shared.
    async fn member_price(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Money>> {
        Ok(crate::members::types::viewer_price_level(ctx)
            .await?
            .map(|l| Money(money::to_decimal(l.unit_price_fen(self.sku().price_fen)))))
    }

    /// The crossed-out reference price in yuan; null when it has none.
    async fn market_price(&self) -> Option<Money> {
        self.sku()
            .market_price_fen
            .map(|f| Money(money::to_decimal(f)))
    }

    /// Purchase cost of one unit in yuan; null unless you are staff.
    async fn cost_price(&self, ctx: &Context<'_>) -> Option<Money> {
        sees_everything(ctx.viewer()).then(|| Money(money::to_decimal(self.sku().cost_price_fen)))
    }

    /// Units available now (stock reserved by unpaid orders is already taken out).
    async fn stock(&self) -> i64 {
        self.sku().stock
    }

    /// Whether at least one unit is available.
    async fn in_stock(&self) -> bool {
        self.sku().stock > 0
    }

    /// The SKU's own low-stock threshold in units; null when it inherits, and for anyone but
    /// staff.
    async fn safety_stock(&self, ctx: &Context<'_>) -> Option<i32> {
        sees_everything(ctx.viewer())
            .then_some(self.sku().safety_stock)
            .flatten()
    }

    /// The low-stock threshold that applies now, in units: its own, else the product's, else the
    /// category's, else the shop default. Null for anyone but staff.
    async fn effective_safety_stock(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<i32>> {
        if !sees_everything(ctx.viewer()) {
            return Ok(None);
        }
        Ok(Some(
            crate::inventory::service::threshold_for(
                ctx.app(),
                ctx.app().db.conn(),
                self.sku().product_id,
                self.sku().safety_stock,
            )
            .await?,
        ))
    }

    /// Shipping weight of one unit in grams.
    async fn weight_grams(&self) -> i32 {
        self.sku().weight_grams
    }

    /// The barcode; null when it has none.
    async fn barcode(&self) -> Option<&str> {
        self.sku().barcode()
    }

    /// False when its spec combination was removed from the product.
    async fn active(&self) -> bool {
        self.sku().active
    }

    /// Units sold, counted when an order is paid.
    async fn sales(&self) -> i64 {
        self.sku().sales
    }

    /// The product it belongs to; null when that is not on sale and you are not staff.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let p = ctx.loaders().product(self.sku().product_id).await?;
        Ok(p.filter(|p| visible(ctx.viewer(), p)).map(Product))
    }
}

/// A product is visible to everyone when on sale, and to staff always.
pub fn visible(viewer: &Viewer, p: &product::Model) -> bool {
    p.status == Status::OnSale.as_str() || sees_everything(viewer)
}

/// A product (SPU) with its SKUs.
pub struct Product(pub Arc<product::Model>);

impl Product {
    async fn cached_skus(&self, ctx: &Context<'_>) -> Result<Arc<[CachedSku]>, AppError> {
        Ok(ctx.loaders().skus_of(self.0.id).await?.unwrap_or_default())
    }
}

/// A product (SPU) with its SKUs. Everyone sees products on sale; staff see every product,
/// and only staff see cost prices, safety stock and schedules.
#[Object]
impl Product {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Product", self.0.id)
    }

    /// 1–120 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The selling line under the name; may be empty.
    async fn subtitle(&self) -> &str {
        &self.0.subtitle
    }

    /// Sanitised rich text: safe to render as HTML.
    async fn description_html(&self) -> &str {
        &self.0.description_html
    }

    /// Where it is in its life cycle (consumers only ever see `ON_SALE`).
    async fn status(&self) -> ProductStatus {
        Status::parse(&self.0.status).into()
    }

    /// Its category; null for a draft that has none yet.
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Category>> {
        let Some(id) = self.0.category_id else {
            return Ok(None);
        };
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .find(|c| c.id == id)
            .map(|c| Category(Arc::new(c.clone()))))
    }

    /// Its brand; null when it has none.
    async fn brand(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Brand>> {
        let Some(id) = self.0.brand_id else {
            return Ok(None);
        };
        Ok(ctx.loaders().brand(id).await?.map(|b| Brand(Arc::new(b))))
    }

    /// Who it is for (适用人群); may be empty.
    async fn audiences(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Audience>> {
        Ok(ctx
            .loaders()
            .audiences_of(self.0.id)
            .await?
            .map(|v| v.iter().map(|a| Audience(Arc::new(a.clone()))).collect())
            .unwrap_or_default())
    }

    /// Images in display order.
    async fn images(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProductImage>> {
        Ok(ctx
            .loaders()
            .images_of(self.0.id)
            .await?
            .map(|v| {
                v.iter()
                    .map(|i| ProductImage(Arc::new(i.clone())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first image, for lists; null when it has no image.
    async fn cover_image(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductImage>> {
        Ok(ctx
            .loaders()
            .images_of(self.0.id)
            .await?
            .and_then(|v| v.first().map(|i| ProductImage(Arc::new(i.clone())))))
    }

    /// Its spec dimensions with their values (颜色: 红, 蓝); empty for a product with one SKU.
    async fn specs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Spec>> {
        Ok(ctx
            .loaders()
            .specs_of(self.0.id)
            .await?
            .map(|v| {
                v.iter()
                    .map(|s| Spec {
                        name: s.name.clone(),
                        values: s.values.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// SKUs in creation order; removed combinations only for staff with `includeInactive`.
    async fn skus(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Also list SKUs of removed spec combinations (staff only; ignored for others).",
            default
        )]
        include_inactive: bool,
    ) -> async_graphql::Result<Vec<Sku>> {
        let all = include_inactive && sees_everything(ctx.viewer());
        let skus = self.cached_skus(ctx).await?;
        Ok((0..skus.len())
            .filter(|&i| all || skus[i].active)
            .map(|i| Sku::cached(&skus, i))
            .collect())
    }

    /// Lowest and highest price of the active SKUs; null when it has none.
    async fn price_range(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PriceRange>> {
        let skus = self.cached_skus(ctx).await?;
        let prices = skus.iter().filter(|s| s.active).map(|s| s.price_fen);
        let (min, max) = prices.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), p| {
            (
                Some(lo.map_or(p, |l| l.min(p))),
                Some(hi.map_or(p, |h| h.max(p))),
            )
        });
        Ok(min.zip(max).map(|(min, max)| PriceRange {
            min: Money(money::to_decimal(min)),
            max: Money(money::to_decimal(max)),
        }))
    }

    /// Running promotions that cover this product, as buyers read them (`满100减10 / 满200减30`,
    /// `满199赠`), for the badge; empty when none. Activities for some member levels only are
    /// not shown. A promotion that starts, ends or changes shows on the next request (on
    /// other instances once its event arrives), also in responses served from memory.
    async fn promotions(&self, ctx: &Context<'_>) -> Result<Vec<String>, AppError> {
        super::badges::labels(ctx.app(), &self.0, ctx.loaders().recorder()).await
    }

    /// Lowest and highest `Sku.memberPrice` of the active SKUs, for the caller's member level;
    /// null for anonymous callers and levels without a discount (see `Sku.memberPrice`).
    async fn member_price_range(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PriceRange>> {
        let Some(level) = crate::members::types::viewer_price_level(ctx).await? else {
            return Ok(None);
        };
        let skus = self.cached_skus(ctx).await?;
        let prices = skus
            .iter()
            .filter(|s| s.active)
            .map(|s| level.unit_price_fen(s.price_fen));
        let (min, max) = (prices.clone().min(), prices.max());
        Ok(min.zip(max).map(|(min, max)| PriceRange {
            min: Money(money::to_decimal(min)),
            max: Money(money::to_decimal(max)),
        }))
    }

    /// Units available across the active SKUs.
    async fn total_stock(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(self
            .cached_skus(ctx)
            .await?
            .iter()
            .filter(|s| s.active)
            .map(|s| s.stock)
            .sum())
    }

    /// Whether any active SKU has a unit available.
    async fn in_stock(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self
            .cached_skus(ctx)
            .await?
            .iter()
            .any(|s| s.active && s.stock > 0))
    }

    /// Units sold across its SKUs, counted when an order is paid.
    async fn sales(&self) -> i64 {
        self.0.sales
    }

    /// A number staff may use to rank products; stored, but no list sorts by it yet.
    async fn sort_weight(&self) -> i32 {
        self.0.sort_weight
    }

    /// Low-stock threshold in units for its SKUs that set none; null when it sets none, and
    /// for anyone but staff.
    async fn safety_stock(&self, ctx: &Context<'_>) -> Option<i32> {
        sees_everything(ctx.viewer())
            .then_some(self.0.safety_stock)
            .flatten()
    }

    /// When the product goes on sale by itself; null when not scheduled, and for anyone but
    /// staff.
    async fn scheduled_on_sale_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        sees_everything(ctx.viewer())
            .then_some(self.0.scheduled_on_sale_at)
            .flatten()
            .map(DateTime)
    }

    /// When the product goes off sale by itself; null when not scheduled, and for anyone but
    /// staff.
    async fn scheduled_off_sale_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        sees_everything(ctx.viewer())
            .then_some(self.0.scheduled_off_sale_at)
            .flatten()
            .map(DateTime)
    }

    /// When it last went on sale; null when it never has.
    async fn published_at(&self) -> Option<DateTime> {
        self.0.published_at.map(DateTime)
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// When the product itself last changed (fields, status, category); SKU edits and stock
    /// changes do not count.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}
