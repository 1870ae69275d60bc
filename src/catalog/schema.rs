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
    ($(#[$meta:meta])* $name:ident, $field:ident: $ty:ty) => {
        $(#[$meta])*
        #[derive(SimpleObject)]
        pub struct $name {
            $field: $ty,
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

payload_type!(CategoryPayload, category: Option<Category>);
payload_type!(CategoriesPayload, categories: Vec<Category>);
payload_type!(BrandPayload, brand: Option<Brand>);
payload_type!(AudiencePayload, audience: Option<Audience>);
payload_type!(ProductPayload, product: Option<Product>);
payload_type!(ProductsPayload, products: Vec<Product>);
payload_type!(SkusPayload, skus: Vec<Sku>);
payload_type!(ProductImagePayload, image: Option<ProductImage>);
payload_type!(
    /// The id of what was deleted.
    DeletePayload,
    deleted_id: Option<ID>
);

#[derive(InputObject)]
pub struct CreateCategoryInput {
    name: String,
    /// Null for a top-level category.
    parent_id: Option<ID>,
    #[graphql(default)]
    sort_order: i32,
    safety_stock: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateCategoryInput {
    id: ID,
    name: Option<String>,
    /// Move the category: another category, or null for the top level.
    parent_id: MaybeUndefined<ID>,
    sort_order: Option<i32>,
    safety_stock: MaybeUndefined<i32>,
}

#[derive(InputObject)]
pub struct ReorderCategoriesInput {
    /// Sibling categories in their new order.
    ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct DeleteInput {
    id: ID,
}

#[derive(InputObject)]
pub struct BrandInput {
    /// Absent to create, present to update.
    id: Option<ID>,
    name: String,
    logo_url: Option<String>,
    #[graphql(default)]
    sort_order: i32,
}

#[derive(InputObject)]
pub struct AudienceInput {
    id: Option<ID>,
    name: String,
    #[graphql(default)]
    sort_order: i32,
}

#[derive(InputObject, Clone)]
pub struct SpecInput {
    name: String,
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
    /// Generated when absent.
    code: Option<String>,
    price: Money,
    market_price: Option<Money>,
    #[graphql(default_with = "Money(rust_decimal::Decimal::ZERO)")]
    cost_price: Money,
    /// Received into stock (a RESTOCK movement).
    #[graphql(default)]
    initial_stock: i64,
    safety_stock: Option<i32>,
    #[graphql(default)]
    weight_grams: i32,
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

#[derive(InputObject)]
pub struct CreateProductInput {
    name: String,
    #[graphql(default)]
    subtitle: String,
    /// Rich text; scripts, event handlers and `javascript:` links are removed. The HTML is
    /// at most 100,000 bytes.
    #[graphql(default)]
    description_html: String,
    category_id: Option<ID>,
    brand_id: Option<ID>,
    #[graphql(default)]
    audience_ids: Vec<ID>,
    #[graphql(default)]
    sort_weight: i32,
    safety_stock: Option<i32>,
    scheduled_on_sale_at: Option<DateTime>,
    scheduled_off_sale_at: Option<DateTime>,
    /// Uploaded images, in display order.
    #[graphql(default)]
    image_ids: Vec<ID>,
    /// Up to 3 specs; their combinations are the SKUs.
    #[graphql(default)]
    specs: Vec<SpecInput>,
    skus: Vec<SkuInput>,
}

#[derive(InputObject)]
pub struct UpdateProductInput {
    id: ID,
    name: Option<String>,
    subtitle: Option<String>,
    /// Rich text, cleaned as in `createProduct`: HTML of at most 100,000 bytes.
    description_html: Option<String>,
    category_id: MaybeUndefined<ID>,
    brand_id: MaybeUndefined<ID>,
    audience_ids: Option<Vec<ID>>,
    sort_weight: Option<i32>,
    safety_stock: MaybeUndefined<i32>,
    scheduled_on_sale_at: MaybeUndefined<DateTime>,
    scheduled_off_sale_at: MaybeUndefined<DateTime>,
    /// The product's images in display order; images left out are detached.
    image_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub struct SetProductSpecsInput {
    product_id: ID,
    specs: Vec<SpecInput>,
    /// Price and other fields for SKUs of new combinations.
    new_sku_defaults: Option<SkuInput>,
}

#[derive(InputObject)]
pub struct SkuUpdateInput {
    id: ID,
    code: Option<String>,
    price: Option<Money>,
    market_price: MaybeUndefined<Money>,
    cost_price: Option<Money>,
    safety_stock: MaybeUndefined<i32>,
    weight_grams: Option<i32>,
    barcode: MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct UpdateSkusInput {
    skus: Vec<SkuUpdateInput>,
}

#[derive(InputObject)]
pub struct ProductIdsInput {
    ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct MoveProductsInput {
    ids: Vec<ID>,
    category_id: ID,
}

#[derive(InputObject)]
pub struct AdjustPricesInput {
    ids: Vec<ID>,
    /// The change, from −90 to 1000: `"-10"` lowers every price by 10 %, `"15"` raises it by
    /// 15 %; results are rounded half away from zero to the fen.
    percent: Percent,
    /// Also change market prices.
    #[graphql(default)]
    include_market_price: bool,
}

#[derive(InputObject)]
pub struct DuplicateProductInput {
    id: ID,
    /// Defaults to the original name with （副本）.
    name: Option<String>,
}

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
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
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

    async fn category(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Category>> {
        let Ok(id) = ids::decode("Category", &id) else {
            return Ok(None);
        };
        let all = ctx.loaders().categories().await?;
        Ok(all
            .iter()
            .find(|c| c.id == id)
            .map(|c| Category(Arc::new(c.clone()))))
    }

    async fn brands(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Brand>> {
        let all = ctx.app().catalog.brands(ctx.app().db.conn()).await?;
        let mut list: Vec<_> = all.values().cloned().collect();
        list.sort_by_key(|b| (b.sort_order, b.id));
        Ok(list.into_iter().map(|b| Brand(Arc::new(b))).collect())
    }

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
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
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

    /// Renames, moves (refused if it would put the category below itself), re-sorts.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        input: UpdateCategoryInput,
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

    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn reorder_categories(
        &self,
        ctx: &Context<'_>,
        input: ReorderCategoriesInput,
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

    /// Deletes a category without sub-categories or products.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Category", Code::CategoryNotFound, "id")?;
            taxonomy::delete_category(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates (no id) or updates a brand.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn save_brand(
        &self,
        ctx: &Context<'_>,
        input: BrandInput,
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

    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_brand(
        &self,
        ctx: &Context<'_>,
        input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Brand", Code::BrandNotFound, "id")?;
            taxonomy::delete_brand(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates (no id) or updates an audience tag.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn save_audience(
        &self,
        ctx: &Context<'_>,
        input: AudienceInput,
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

    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn delete_audience(
        &self,
        ctx: &Context<'_>,
        input: DeleteInput,
    ) -> async_graphql::Result<DeletePayload> {
        let result = async {
            let id = id_of(&input.id, "Audience", Code::AudienceNotFound, "id")?;
            taxonomy::delete_audience(ctx.app(), id).await
        }
        .await;
        DeletePayload::from_result(result, |_| Some(input.id.clone()))
    }

    /// Creates a draft product with its specs and SKUs (one per combination).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
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

    /// Changes product fields; omitted fields stay, null clears.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let result = async {
            let (id, fields) = fields_from_update(input)?;
            service::update_product(ctx.app(), id, fields).await
        }
        .await;
        ProductPayload::from_result(result, product)
    }

    /// Replaces the specs; existing combinations keep their SKU, new ones get SKUs from
    /// `newSkuDefaults`, removed ones are deactivated.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn set_product_specs(
        &self,
        ctx: &Context<'_>,
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
    /// changes go through `adjustStock`.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn update_skus(
        &self,
        ctx: &Context<'_>,
        input: UpdateSkusInput,
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

    /// Puts products on sale; refused as a whole if any cannot be.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn publish_products(
        &self,
        ctx: &Context<'_>,
        input: ProductIdsInput,
    ) -> async_graphql::Result<ProductsPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::set_status(ctx.app(), &ids, Status::OnSale).await
        }
        .await;
        ProductsPayload::from_result(result, products)
    }

    /// Takes products off sale.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn unpublish_products(
        &self,
        ctx: &Context<'_>,
        input: ProductIdsInput,
    ) -> async_graphql::Result<ProductsPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::set_status(ctx.app(), &ids, Status::OffSale).await
        }
        .await;
        ProductsPayload::from_result(result, products)
    }

    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn move_products_to_category(
        &self,
        ctx: &Context<'_>,
        input: MoveProductsInput,
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

    /// Changes every active SKU price of the products by a percentage; all or nothing.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn adjust_product_prices(
        &self,
        ctx: &Context<'_>,
        input: AdjustPricesInput,
    ) -> async_graphql::Result<SkusPayload> {
        let result = async {
            let ids = ids_of(&input.ids, "Product", Code::ProductNotFound, "ids")?;
            service::adjust_prices(ctx.app(), &ids, input.percent.0, input.include_market_price)
                .await
        }
        .await;
        SkusPayload::from_result(result, |list| list.into_iter().map(Sku::new).collect())
    }

    /// Copies a product as a new draft (for next season's collection).
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn duplicate_product(
        &self,
        ctx: &Context<'_>,
        input: DuplicateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let result = async {
            let id = id_of(&input.id, "Product", Code::ProductNotFound, "id")?;
            service::duplicate_product(ctx.app(), actor, id, input.name).await
        }
        .await;
        ProductPayload::from_result(result, product)
    }

    /// Uploads an image (GraphQL multipart request); attach it with `imageIds`.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn upload_product_image(
        &self,
        ctx: &Context<'_>,
        input: UploadProductImageInput,
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
