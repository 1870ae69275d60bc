//! The catalog's queries and mutations. Resolvers decode ids and inputs, call the services and
//! shape payloads; the rules live in `rules.rs` and `service.rs`.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject, Upload};
use entity::audience;
use sea_orm::{EntityTrait, QueryOrder};

use super::{
    errors::{CatalogError, CatalogErrorCode as Code, CatalogResult, reject},
    media,
    rules::{ProductStatus as Status, SpecDef},
    service::{self, NewProduct, ProductFields, SkuDraft, SkuPatch},
    taxonomy::{self, CategoryPatch},
    types::{Audience, Brand, Category, Product, ProductImage, Sku, visible},
};
use crate::{
    auth::{Permission, PermissionGuard},
    graphql::{
        context::CtxExt,
        errors::payload,
        ids,
        scalars::{DateTime, Money, Percent},
    },
};

fn id_of(id: &ID, type_name: &str, code: Code, field: &str) -> CatalogResult<i64> {
    ids::decode(type_name, id).or_else(|_| reject(code, field, format!("no such {type_name}")))
}

fn ids_of(list: &[ID], type_name: &str, code: Code, field: &str) -> CatalogResult<Vec<i64>> {
    list.iter()
        .map(|id| id_of(id, type_name, code, field))
        .collect()
}

fn maybe_id(
    v: MaybeUndefined<ID>,
    type_name: &str,
    code: Code,
    field: &str,
) -> CatalogResult<Option<Option<i64>>> {
    Ok(match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(id_of(&id, type_name, code, field)?)),
    })
}

fn maybe<T, U>(v: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(x) => Some(Some(f(x))),
    }
}

macro_rules! payload_type {
    ($(#[$meta:meta])* $name:ident, $(#[$field_meta:meta])* $field:ident: $ty:ty) => {
        $(#[$meta])*
        #[derive(SimpleObject)]
        pub struct $name {
            $(#[$field_meta])*
            $field: $ty,
            /// Why the change was refused (nothing changed); empty on success.
            user_errors: Vec<CatalogError>,
        }

        impl $name {
            fn from_result<T>(result: CatalogResult<T>, f: impl FnOnce(T) -> $ty) -> async_graphql::Result<Self> {
                payload(
                    result,
                    |v| Self { $field: f(v), user_errors: Vec::new() },
                    |user_errors| Self { $field: Default::default(), user_errors },
                )
            }
        }
    };
}

payload_type!(
    /// The result of creating or changing a category.
    CategoryPayload,
    /// The category as saved; null when refused.
    category: Option<Category>
);
payload_type!(
    /// The result of `reorderCategories`.
    CategoriesPayload,
    /// The sibling categories in their new order; empty when refused.
    categories: Vec<Category>
);
payload_type!(
    /// The result of `saveBrand`.
    BrandPayload,
    /// The brand as saved; null when refused.
    brand: Option<Brand>
);
payload_type!(
    /// The result of `saveAudience`.
    AudiencePayload,
    /// The audience tag as saved; null when refused.
    audience: Option<Audience>
);
payload_type!(
    /// The result of creating, changing or duplicating a product.
    ProductPayload,
    /// The product as saved; null when refused.
    product: Option<Product>
);
payload_type!(
    /// The result of a bulk product operation (publish, unpublish, move).
    ProductsPayload,
    /// The products as changed; empty when refused.
    products: Vec<Product>
);
payload_type!(
    /// The result of an operation on SKUs (specs, SKU edits, price changes).
    SkusPayload,
    /// The SKUs as saved; empty when refused.
    skus: Vec<Sku>
);
payload_type!(
    /// The result of `uploadProductImage`.
    ProductImagePayload,
    /// The stored image, not yet attached to a product (attach it with `imageIds`); null when
    /// refused.
    image: Option<ProductImage>
);
payload_type!(
    /// The result of a delete.
    DeletePayload,
    /// The global id of what was deleted; null when refused.
    deleted_id: Option<ID>
);

/// A new category.
#[derive(InputObject)]
pub struct CreateCategoryInput {
    /// 1–64 characters, unique among its siblings.
    name: String,
    /// Null for a top-level category.
    parent_id: Option<ID>,
    /// Position among its siblings, smallest first (ties by creation); 0 by default.
    #[graphql(default)]
    sort_order: i32,
    /// Default safety stock (0–1,000,000 units) for SKUs of its products that set none; null
    /// to use the shop default.
    safety_stock: Option<i32>,
}

/// Changes to a category; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateCategoryInput {
    /// The category to change.
    id: ID,
    /// 1–64 characters, unique among its siblings.
    name: Option<String>,
    /// Move the category: another category, or null for the top level.
    parent_id: MaybeUndefined<ID>,
    /// Position among its siblings, smallest first.
    sort_order: Option<i32>,
    /// Default safety stock (0–1,000,000 units) for its products' SKUs; null to use the shop
    /// default.
    safety_stock: MaybeUndefined<i32>,
}

/// A new order for sibling categories.
#[derive(InputObject)]
pub struct ReorderCategoriesInput {
    /// Sibling categories in their new order.
    ids: Vec<ID>,
}

/// What to delete.
#[derive(InputObject)]
pub struct DeleteInput {
    /// The global id of the category, brand or audience to delete.
    id: ID,
}

/// A brand to create (no `id`) or replace.
#[derive(InputObject)]
pub struct BrandInput {
    /// Absent to create, present to update.
    id: Option<ID>,
    /// 1–64 characters, unique.
    name: String,
    /// The logo: an http(s) URL or a `/media/…` path of an uploaded image; null for none.
    logo_url: Option<String>,
    /// Position in `brands`, smallest first (ties by creation); 0 by default.
    #[graphql(default)]
    sort_order: i32,
}

/// An audience tag (适用人群) to create (no `id`) or replace.
#[derive(InputObject)]
pub struct AudienceInput {
    /// Absent to create, present to update.
    id: Option<ID>,
    /// 1–32 characters, unique, e.g. 儿童.
    name: String,
    /// Position in `audiences`, smallest first (ties by creation); 0 by default.
    #[graphql(default)]
    sort_order: i32,
}

/// A spec dimension and its values, e.g. 颜色 with 红 and 蓝.
#[derive(InputObject, Clone)]
pub struct SpecInput {
    /// 1–32 characters, distinct among the product's specs.
    name: String,
    /// 1–40 distinct values of 1–32 characters each, in display order.
    values: Vec<String>,
}

impl From<SpecInput> for SpecDef {
    fn from(s: SpecInput) -> Self {
        SpecDef {
            name: s.name,
            values: s.values,
        }
    }
}

/// A SKU to create.
#[derive(InputObject, Clone)]
pub struct SkuInput {
    /// The combination this SKU is for, in spec order. Empty: the default for every
    /// combination not listed.
    #[graphql(default)]
    spec_values: Vec<String>,
    /// Unique SKU code; `P<product>-<n>` is generated when absent.
    code: Option<String>,
    /// Selling price in yuan, from ¥0.01.
    price: Money,
    /// The crossed-out reference price in yuan; null for none.
    market_price: Option<Money>,
    /// Purchase cost per unit in yuan (the base of `PROFIT` commissions); ¥0.00 by default.
    #[graphql(default_with = "Money(rust_decimal::Decimal::ZERO)")]
    cost_price: Money,
    /// Received into stock (a RESTOCK movement).
    #[graphql(default)]
    initial_stock: i64,
    /// The SKU's own low-stock threshold (0–1,000,000 units); null inherits the product's,
    /// category's or shop default.
    safety_stock: Option<i32>,
    /// Shipping weight of one unit in grams (0–1,000,000), for weight-based shipping.
    #[graphql(default)]
    weight_grams: i32,
    /// The barcode (EAN/UPC or the merchant's own), at most 64 characters.
    barcode: Option<String>,
}

impl From<SkuInput> for SkuDraft {
    fn from(s: SkuInput) -> Self {
        SkuDraft {
            spec_values: s.spec_values,
            code: s.code,
            price: s.price.0,
            market_price: s.market_price.map(|m| m.0),
            cost_price: s.cost_price.0,
            initial_stock: s.initial_stock,
            safety_stock: s.safety_stock,
            weight_grams: s.weight_grams,
            barcode: s.barcode,
        }
    }
}

/// A new product (created as a draft).
#[derive(InputObject)]
pub struct CreateProductInput {
    /// 1–120 characters.
    name: String,
    /// The selling line under the name, up to 200 characters.
    #[graphql(default)]
    subtitle: String,
    /// Rich text; scripts, event handlers and `javascript:` links are removed. The HTML is
    /// at most 100,000 bytes.
    #[graphql(default)]
    description_html: String,
    /// Its category (needed before it can go on sale).
    category_id: Option<ID>,
    /// Its brand; null for none.
    brand_id: Option<ID>,
    /// Who it is for; at most 20 audience tags.
    #[graphql(default)]
    audience_ids: Vec<ID>,
    /// A number staff may use to rank products; stored, but no list sorts by it yet.
    #[graphql(default)]
    sort_weight: i32,
    /// Low-stock threshold (0–1,000,000 units) for its SKUs that set none; null inherits the
    /// category's or shop default.
    safety_stock: Option<i32>,
    /// Puts the product on sale by itself at this time (applied within
    /// `schedule_interval_secs`).
    scheduled_on_sale_at: Option<DateTime>,
    /// Takes the product off sale by itself at this time; after `scheduledOnSaleAt`.
    scheduled_off_sale_at: Option<DateTime>,
    /// Uploaded images, in display order.
    #[graphql(default)]
    image_ids: Vec<ID>,
    /// Up to 3 specs; their combinations are the SKUs.
    #[graphql(default)]
    specs: Vec<SpecInput>,
    /// Its SKUs: one per spec combination, or one entry with no `specValues` as the default
    /// for every combination not listed.
    skus: Vec<SkuInput>,
}

/// Changes to a product; omitted fields stay as they are, null clears.
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// The product to change.
    id: ID,
    /// 1–120 characters.
    name: Option<String>,
    /// Up to 200 characters.
    subtitle: Option<String>,
    /// Rich text, cleaned as in `createProduct`: HTML of at most 100,000 bytes.
    description_html: Option<String>,
    /// Its category; null removes it (a product needs one to be put on sale).
    category_id: MaybeUndefined<ID>,
    /// Its brand; null removes it.
    brand_id: MaybeUndefined<ID>,
    /// Replaces its audience tags (at most 20).
    audience_ids: Option<Vec<ID>>,
    /// A number staff may use to rank products; stored, but no list sorts by it yet.
    sort_weight: Option<i32>,
    /// Low-stock threshold (0–1,000,000 units) for its SKUs that set none; null inherits.
    safety_stock: MaybeUndefined<i32>,
    /// When it goes on sale by itself; null cancels the schedule.
    scheduled_on_sale_at: MaybeUndefined<DateTime>,
    /// When it goes off sale by itself; null cancels the schedule.
    scheduled_off_sale_at: MaybeUndefined<DateTime>,
    /// The product's images in display order; images left out are detached.
    image_ids: Option<Vec<ID>>,
}

/// The new specs of a product.
#[derive(InputObject)]
pub struct SetProductSpecsInput {
    /// The product to change.
    product_id: ID,
    /// Up to 3 specs, replacing the current ones; at most 600 combinations.
    specs: Vec<SpecInput>,
    /// Price and other fields for SKUs of new combinations.
    new_sku_defaults: Option<SkuInput>,
}

/// Changes to one SKU; omitted fields stay as they are, null clears.
#[derive(InputObject)]
pub struct SkuUpdateInput {
    /// The SKU to change.
    id: ID,
    /// A new unique SKU code.
    code: Option<String>,
    /// Selling price in yuan, from ¥0.01.
    price: Option<Money>,
    /// The crossed-out reference price in yuan; null removes it.
    market_price: MaybeUndefined<Money>,
    /// Purchase cost per unit in yuan.
    cost_price: Option<Money>,
    /// Its own low-stock threshold (0–1,000,000 units); null inherits.
    safety_stock: MaybeUndefined<i32>,
    /// Shipping weight of one unit in grams (0–1,000,000).
    weight_grams: Option<i32>,
    /// At most 64 characters; null removes it.
    barcode: MaybeUndefined<String>,
}

/// SKU edits applied together.
#[derive(InputObject)]
pub struct UpdateSkusInput {
    /// Up to 600 SKU changes; all are made or none.
    skus: Vec<SkuUpdateInput>,
}

/// Products for a bulk operation.
#[derive(InputObject)]
pub struct ProductIdsInput {
    /// 1–500 products; all are changed or none.
    ids: Vec<ID>,
}

/// Products to move and where.
#[derive(InputObject)]
pub struct MoveProductsInput {
    /// 1–500 products.
    ids: Vec<ID>,
    /// The category they move to.
    category_id: ID,
}

/// A price change by percentage.
#[derive(InputObject)]
pub struct AdjustPricesInput {
    /// 1–500 products; every active SKU of each changes.
    ids: Vec<ID>,
    /// The change, from −90 to 1000: `"-10"` lowers every price by 10 %, `"15"` raises it by
    /// 15 %; results are rounded half away from zero to the fen.
    percent: Percent,
    /// Also change market prices.
    #[graphql(default)]
    include_market_price: bool,
}

/// The product to copy.
#[derive(InputObject)]
pub struct DuplicateProductInput {
    /// The product to copy (with its specs, SKUs without stock, images and audiences).
    id: ID,
    /// Defaults to the original name with （副本）.
    name: Option<String>,
}

/// An image file to upload.
#[derive(InputObject)]
pub struct UploadProductImageInput {
    /// JPEG, PNG or WebP; size and dimension limits apply.
    file: Upload,
}

fn fields_from_create(i: &CreateProductInput) -> CatalogResult<ProductFields> {
    Ok(ProductFields {
        name: Some(i.name.clone()),
        subtitle: Some(i.subtitle.clone()),
        description_html: Some(i.description_html.clone()),
        category_id: Some(
            i.category_id
                .as_ref()
                .map(|c| id_of(c, "Category", Code::CategoryNotFound, "categoryId"))
                .transpose()?,
        ),
        brand_id: Some(
            i.brand_id
                .as_ref()
                .map(|b| id_of(b, "Brand", Code::BrandNotFound, "brandId"))
                .transpose()?,
        ),
        audience_ids: Some(ids_of(
            &i.audience_ids,
            "Audience",
            Code::AudienceNotFound,
            "audienceIds",
        )?),
        sort_weight: Some(i.sort_weight),
        safety_stock: Some(i.safety_stock),
        scheduled_on_sale_at: Some(i.scheduled_on_sale_at.map(|d| d.0)),
        scheduled_off_sale_at: Some(i.scheduled_off_sale_at.map(|d| d.0)),
        image_ids: Some(ids_of(
            &i.image_ids,
            "ProductImage",
            Code::ImageNotFound,
            "imageIds",
        )?),
    })
}

fn fields_from_update(i: UpdateProductInput) -> CatalogResult<(i64, ProductFields)> {
    let id = id_of(&i.id, "Product", Code::ProductNotFound, "id")?;
    Ok((
        id,
        ProductFields {
            name: i.name,
            subtitle: i.subtitle,
            description_html: i.description_html,
            category_id: maybe_id(
                i.category_id,
                "Category",
                Code::CategoryNotFound,
                "categoryId",
            )?,
            brand_id: maybe_id(i.brand_id, "Brand", Code::BrandNotFound, "brandId")?,
            audience_ids: i
                .audience_ids
                .map(|a| ids_of(&a, "Audience", Code::AudienceNotFound, "audienceIds"))
                .transpose()?,
            sort_weight: i.sort_weight,
            safety_stock: maybe(i.safety_stock, |s| s),
            scheduled_on_sale_at: maybe(i.scheduled_on_sale_at, |d| d.0),
            scheduled_off_sale_at: maybe(i.scheduled_off_sale_at, |d| d.0),
            image_ids: i
                .image_ids
                .map(|a| ids_of(&a, "ProductImage", Code::ImageNotFound, "imageIds"))
                .transpose()?,
        },
    ))
}

fn sku_patch(i: SkuUpdateInput) -> CatalogResult<SkuPatch> {
    Ok(SkuPatch {
        id: id_of(&i.id, "Sku", Code::SkuNotFound, "skus")?,
        code: i.code,
        price: i.price.map(|m| m.0),
        market_price: maybe(i.market_price, |m| m.0),
        cost_price: i.cost_price.map(|m| m.0),
        safety_stock: maybe(i.safety_stock, |s| s),
        weight_grams: i.weight_grams,
        barcode: maybe(i.barcode, |b| b),
    })
}

fn product(p: entity::product::Model) -> Option<Product> {
    Some(Product(Arc::new(p)))
}

fn products(list: Vec<entity::product::Model>) -> Vec<Product> {
    list.into_iter().map(|p| Product(Arc::new(p))).collect()
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// A product by global id; null when it does not exist or is not on sale (unless you are
    /// staff).
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Product>> {
        let Ok(id) = ids::decode("Product", &id) else {
            return Ok(None);
        };
        let p = ctx.loaders().product(id).await?;
        Ok(p.filter(|p| visible(ctx.viewer(), p)).map(Product))
    }

    /// Top-level categories in display order (follow `children` for the tree).
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .filter(|c| c.parent_id.is_none())
            .map(|c| Category(Arc::new(c.clone())))
            .collect())
    }

    /// A category by global id; null when it does not exist. Public.
    async fn category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Category>> {
        let Ok(id) = ids::decode("Category", &id) else {
            return Ok(None);
        };
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .find(|c| c.id == id)
            .map(|c| Category(Arc::new(c.clone()))))
    }

    /// Every brand, by `sortOrder` then creation. Public.
    async fn brands(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Brand>> {
        let all = ctx.app().catalog.brands(ctx.app().db.conn()).await?;
        let mut list: Vec<_> = all.values().cloned().collect();
        list.sort_by_key(|b| (b.sort_order, b.id));
        Ok(list.into_iter().map(|b| Brand(Arc::new(b))).collect())
    }

    /// Every audience tag, by `sortOrder` then creation. Public.
    async fn audiences(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Audience>> {
        Ok(audience::Entity::find()
            .order_by_asc(audience::Column::SortOrder)
            .order_by_asc(audience::Column::Id)
            .all(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(|a| Audience(Arc::new(a)))
            .collect())
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates a category (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new category.")] input: CreateCategoryInput,
    ) -> async_graphql::Result<CategoryPayload> {
        let result = async {
            let parent = input
                .parent_id
                .as_ref()
                .map(|p| id_of(p, "Category", Code::CategoryNotFound, "parentId"))
                .transpose()?;
            taxonomy::create_category(
                ctx.app(),
                &input.name,
                parent,
                input.sort_order,
                input.safety_stock,
            )
            .await
        }
        .await;
        CategoryPayload::from_result(result, |c| Some(Category(Arc::new(c))))
    }

    /// Renames, moves (refused if it would put the category below itself), re-sorts (staff
    /// with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category and the fields to change.")] input: UpdateCategoryInput,
    ) -> async_graphql::Result<CategoryPayload> {
        let result = async {
            let id = id_of(&input.id, "Category", Code::CategoryNotFound, "id")?;
            let patch = CategoryPatch {
                name: input.name,
                sort_order: input.sort_order,
                parent_id: maybe_id(
                    input.parent_id,
                    "Category",
                    Code::CategoryNotFound,
                    "parentId",
                )?,
                safety_stock: maybe(input.safety_stock, |s| s),
            };
            taxonomy::update_category(ctx.app(), id, patch).await
        }
        .await;
        CategoryPayload::from_result(result, |c| Some(Category(Arc::new(c))))
    }

    /// Sets the display order of sibling categories: the first id gets position 0 (staff with
    /// CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn reorder_categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Sibling categories in their new order.")] input: ReorderCategoriesInput,
    ) -> async_graphql::Result<CategoriesPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Category", Code::CategoryNotFound, "ids")?;
            taxonomy::reorder_categories(ctx.app(), &ids).await
        }
        .await;
        CategoriesPayload::from_result(result, |list| {
            list.into_iter().map(|c| Category(Arc::new(c))).collect()
        })
    }

    /// Deletes a category without sub-categories or products (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category to delete.")] input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Category", Code::CategoryNotFound, "id")?;
            taxonomy::delete_category(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates (no id) or updates a brand (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn save_brand(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The brand to create or update.")] input: BrandInput,
    ) -> async_graphql::Result<BrandPayload> {
        let result = async {
            let id = input
                .id
                .as_ref()
                .map(|i| id_of(i, "Brand", Code::BrandNotFound, "id"))
                .transpose()?;
            taxonomy::save_brand(ctx.app(), id, &input.name, input.logo_url, input.sort_order).await
        }
        .await;
        BrandPayload::from_result(result, |b| Some(Brand(Arc::new(b))))
    }

    /// Deletes a brand no product uses (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_brand(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The brand to delete (refused while products use it).")]
        input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Brand", Code::BrandNotFound, "id")?;
            taxonomy::delete_brand(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates (no id) or updates an audience tag (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn save_audience(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The audience tag to create or update.")] input: AudienceInput,
    ) -> async_graphql::Result<AudiencePayload> {
        let result = async {
            let id = input
                .id
                .as_ref()
                .map(|i| id_of(i, "Audience", Code::AudienceNotFound, "id"))
                .transpose()?;
            taxonomy::save_audience(ctx.app(), id, &input.name, input.sort_order).await
        }
        .await;
        AudiencePayload::from_result(result, |a| Some(Audience(Arc::new(a))))
    }

    /// Deletes an audience tag no product uses (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_audience(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The audience tag to delete (refused while products use it).")]
        input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Audience", Code::AudienceNotFound, "id")?;
            taxonomy::delete_audience(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates a draft product with its specs and SKUs (one per combination); staff with
    /// CATALOG.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product with its specs and SKUs.")] input: CreateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let result = async {
            let fields = fields_from_create(&input)?;
            let new = NewProduct {
                fields,
                specs: input.specs.into_iter().map(SpecDef::from).collect(),
                skus: input.skus.into_iter().map(SkuDraft::from).collect(),
            };
            service::create_product(ctx.app(), Some(actor), new).await
        }
        .await;
        ProductPayload::from_result(result, product)
    }

    /// Changes product fields; omitted fields stay, null clears (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product and the fields to change.")] input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let result = async {
            let (id, fields) = fields_from_update(input)?;
            service::update_product(ctx.app(), id, fields).await
        }
        .await;
        ProductPayload::from_result(result, product)
    }

    /// Replaces the specs; existing combinations keep their SKU, new ones get SKUs from
    /// `newSkuDefaults`, removed ones are deactivated (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn set_product_specs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product, its new specs and defaults for new SKUs.")]
        input: SetProductSpecsInput,
    ) -> async_graphql::Result<SkusPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let result = async {
            let id = id_of(
                &input.product_id,
                "Product",
                Code::ProductNotFound,
                "productId",
            )?;
            let specs = input.specs.into_iter().map(SpecDef::from).collect();
            service::set_specs(
                ctx.app(),
                actor,
                id,
                specs,
                input.new_sku_defaults.map(SkuDraft::from),
            )
            .await
        }
        .await;
        SkusPayload::from_result(result, |list| list.into_iter().map(Sku::new).collect())
    }

    /// Edits one or many SKUs at once (prices, codes, thresholds…); all or nothing. Stock
    /// changes go through `adjustStock` (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_skus(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU changes.")] input: UpdateSkusInput,
    ) -> async_graphql::Result<SkusPayload> {
        let result = async {
            let patches = input
                .skus
                .into_iter()
                .map(sku_patch)
                .collect::<CatalogResult<Vec<_>>>()?;
            service::update_skus(ctx.app(), patches).await
        }
        .await;
        SkusPayload::from_result(result, |list| list.into_iter().map(Sku::new).collect())
    }

    /// Puts products on sale; refused as a whole if any cannot be (no name, no category or no
    /// priced SKU). Staff with CATALOG.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn publish_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The products to put on sale.")] input: ProductIdsInput,
    ) -> async_graphql::Result<ProductsPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::set_status(ctx.app(), &ids, Status::OnSale).await
        }
        .await;
        ProductsPayload::from_result(result, products)
    }

    /// Takes products off sale (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn unpublish_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The products to take off sale.")] input: ProductIdsInput,
    ) -> async_graphql::Result<ProductsPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::set_status(ctx.app(), &ids, Status::OffSale).await
        }
        .await;
        ProductsPayload::from_result(result, products)
    }

    /// Moves products into one category (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn move_products_to_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The products and their new category.")] input: MoveProductsInput,
    ) -> async_graphql::Result<ProductsPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            let category = id_of(
                &input.category_id,
                "Category",
                Code::CategoryNotFound,
                "categoryId",
            )?;
            service::move_to_category(ctx.app(), &ids, category).await
        }
        .await;
        ProductsPayload::from_result(result, products)
    }

    /// Changes every active SKU price of the products by a percentage, rounded half away from
    /// zero to the fen; all or nothing (staff with CATALOG).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn adjust_product_prices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The products and the percentage.")] input: AdjustPricesInput,
    ) -> async_graphql::Result<SkusPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::adjust_prices(ctx.app(), &ids, input.percent.0, input.include_market_price)
                .await
        }
        .await;
        SkusPayload::from_result(result, |list| list.into_iter().map(Sku::new).collect())
    }

    /// Copies a product as a new draft (for next season's collection): specs, SKUs with new
    /// codes and no stock, images and audiences. Staff with CATALOG.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn duplicate_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to copy and the copy's name.")] input: DuplicateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let result = async {
            let id = id_of(&input.id, "Product", Code::ProductNotFound, "id")?;
            service::duplicate_product(ctx.app(), actor, id, input.name).await
        }
        .await;
        ProductPayload::from_result(result, product)
    }

    /// Uploads an image (GraphQL multipart request, with an `Apollo-Require-Preflight` header);
    /// attach it with `imageIds`. Staff with CATALOG.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn upload_product_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image file.")] input: UploadProductImageInput,
    ) -> async_graphql::Result<ProductImagePayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let result = async {
            let bytes = read_upload(ctx, input.file)?;
            media::upload_image(ctx.app(), Some(actor), bytes).await
        }
        .await;
        ProductImagePayload::from_result(result, |i| Some(ProductImage(Arc::new(i))))
    }
}

/// The bytes of an upload, refusing files over the limit without reading them whole.
fn read_upload(ctx: &Context<'_>, upload: Upload) -> CatalogResult<Vec<u8>> {
    use std::io::Read;
    let max = ctx.app().config.upload_max_bytes;
    let value = upload
        .value(ctx)
        .map_err(|_| crate::error::AppError::bad_input("the file is missing from the request"))?;
    let mut bytes = Vec::new();
    value
        .into_read()
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(crate::error::AppError::internal)?;
    if bytes.len() > max {
        return reject(
            Code::ImageTooLarge,
            "file",
            format!("the image is larger than {} KB", max / 1024),
        );
    }
    Ok(bytes)
}
