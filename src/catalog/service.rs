//! Products and SKUs: create, edit, specs and the SKU matrix, bulk operations, duplication and
//! scheduled publishing. Every change is one transaction that also writes `product.changed`,
//! which keeps the search index current on every instance.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    audience, brand, category, product, product_audience, product_image, product_spec, sku,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;

use super::{
    errors::{CatalogErrorCode as Code, CatalogResult, reject},
    rules::{self, ProductStatus, SkuForSale, SpecDef},
};
use crate::{
    app::AppState,
    db::{WriteTx, is_unique_violation},
    error::{AppError, ServiceError},
    events::{self, NewEvent},
    inventory::{
        rules::StockReason,
        service::{StockChange, change_stock, refusal_message},
    },
    money,
};

pub const EVENT_PRODUCT_CHANGED: &str = "product.changed";
/// Most products one bulk operation touches.
pub const MAX_BULK: usize = 500;

pub async fn product_event(tx: &WriteTx, product_id: i64, change: &str) -> Result<(), AppError> {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_PRODUCT_CHANGED,
            aggregate_type: "Product",
            aggregate_id: product_id,
            recipient_user_id: None,
            payload: json!({ "productId": product_id, "change": change }),
        },
    );
    Ok(())
}

/// Units sold were counted (`count_sales`); the payload carries the counts after the change, so
/// a cache that applies it in place can never count a sale twice.
pub const EVENT_SALES_COUNTED: &str = "product.sales_counted";

/// One line of a paid order, as far as sales figures go.
pub struct Sold {
    pub product_id: i64,
    pub sku_id: i64,
    pub quantity: i64,
}

/// Counts units sold (when the money arrives) on each SKU and its product — the figures shown
/// on product pages and sorted by in "best sellers" — and announces each product's new counts.
pub async fn count_sales(tx: &WriteTx, sold: &[Sold]) -> Result<(), AppError> {
    let mut by_product: Vec<(i64, Vec<serde_json::Value>, i64)> = Vec::new();
    for line in sold {
        let sku_sales = sku::Entity::update_many()
            .col_expr(
                sku::Column::Sales,
                Expr::col(sku::Column::Sales).add(line.quantity),
            )
            .filter(sku::Column::Id.eq(line.sku_id))
            .exec_with_returning(&**tx)
            .await?
            .pop()
            .map_or(0, |s| s.sales);
        let product_sales = product::Entity::update_many()
            .col_expr(
                product::Column::Sales,
                Expr::col(product::Column::Sales).add(line.quantity),
            )
            .filter(product::Column::Id.eq(line.product_id))
            .exec_with_returning(&**tx)
            .await?
            .pop()
            .map_or(0, |p| p.sales);
        let sku = json!({ "skuId": line.sku_id, "sales": sku_sales });
        match by_product
            .iter_mut()
            .find(|(p, _, _)| *p == line.product_id)
        {
            Some((_, skus, total)) => {
                skus.push(sku);
                *total = product_sales;
            }
            None => by_product.push((line.product_id, vec![sku], product_sales)),
        }
    }
    for (product_id, skus, sales) in by_product {
        events::append(
            tx,
            NewEvent {
                event_type: EVENT_SALES_COUNTED,
                aggregate_type: "Product",
                aggregate_id: product_id,
                recipient_user_id: None,
                payload: json!({ "productId": product_id, "sales": sales, "skus": skus }),
            },
        );
    }
    Ok(())
}

/// Product fields; in an update `None` keeps the current value and `Some(None)` clears it.
#[derive(Default)]
pub struct ProductFields {
    pub name: Option<String>,
    pub subtitle: Option<String>,
    pub description_html: Option<String>,
    pub category_id: Option<Option<i64>>,
    pub brand_id: Option<Option<i64>>,
    pub audience_ids: Option<Vec<i64>>,
    pub sort_weight: Option<i32>,
    pub safety_stock: Option<Option<i32>>,
    pub scheduled_on_sale_at: Option<Option<DateTime<Utc>>>,
    pub scheduled_off_sale_at: Option<Option<DateTime<Utc>>>,
    /// The product's images in display order (attached uploads; others are detached).
    pub image_ids: Option<Vec<i64>>,
}

/// A SKU to create. `spec_values` empty means "the default for every combination not listed".
#[derive(Clone, Default)]
pub struct SkuDraft {
    pub spec_values: Vec<String>,
    pub code: Option<String>,
    pub price: Decimal,
    pub market_price: Option<Decimal>,
    pub cost_price: Decimal,
    pub initial_stock: i64,
    pub safety_stock: Option<i32>,
    pub weight_grams: i32,
    pub barcode: Option<String>,
}

fn price_fen(field: &str, amount: Decimal, allow_zero: bool) -> CatalogResult<i64> {
    match money::to_fen(amount) {
        Some(f) if f > 0 || (allow_zero && f == 0) => Ok(f),
        _ => reject(
            Code::InvalidPrice,
            field,
            format!("{field} must be a positive amount up to ¥100,000,000 in fen"),
        ),
    }
}

fn clean_code(code: &str) -> CatalogResult<String> {
    let c = code.trim();
    if c.is_empty()
        || c.len() > 64
        || !c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        return reject(
            Code::InvalidSkus,
            "skus",
            "a SKU code has 1 to 64 letters, digits, '-', '_' or '.'",
        );
    }
    Ok(c.to_string())
}

/// The validated columns of a SKU.
struct SkuColumns {
    code: Option<String>,
    price_fen: i64,
    market_price_fen: Option<i64>,
    cost_price_fen: i64,
    initial_stock: i64,
    safety_stock: Option<i32>,
    weight_grams: i32,
    barcode: Option<String>,
}

fn sku_columns(d: &SkuDraft) -> CatalogResult<SkuColumns> {
    if !(0..=crate::inventory::rules::MAX_QUANTITY).contains(&d.initial_stock) {
        return reject(
            Code::InvalidStock,
            "skus",
            "initial stock is between 0 and 1,000,000",
        );
    }
    if matches!(d.safety_stock, Some(s) if !(0..=1_000_000).contains(&s)) {
        return reject(
            Code::InvalidSafetyStock,
            "skus",
            "safety stock is between 0 and 1,000,000",
        );
    }
    if !(0..=1_000_000).contains(&d.weight_grams) {
        return reject(
            Code::InvalidSkus,
            "skus",
            "weight is between 0 and 1,000,000 grams",
        );
    }
    if d.barcode.as_deref().is_some_and(|b| b.len() > 64) {
        return reject(
            Code::InvalidSkus,
            "skus",
            "a barcode has at most 64 characters",
        );
    }
    Ok(SkuColumns {
        code: d.code.as_deref().map(clean_code).transpose()?,
        price_fen: price_fen("price", d.price, false)?,
        market_price_fen: d
            .market_price
            .map(|m| price_fen("marketPrice", m, false))
            .transpose()?,
        cost_price_fen: price_fen("costPrice", d.cost_price, true)?,
        initial_stock: d.initial_stock,
        safety_stock: d.safety_stock,
        weight_grams: d.weight_grams,
        barcode: d.barcode.clone().filter(|b| !b.trim().is_empty()),
    })
}

/// Matches SKU drafts to the matrix: each combination takes its own draft, or the default
/// draft (empty `spec_values`). Drafts for combinations that do not exist are an error.
fn assign_drafts<'a>(
    matrix: &[Vec<String>],
    drafts: &'a [SkuDraft],
    has_specs: bool,
) -> CatalogResult<Vec<(Vec<String>, &'a SkuDraft)>> {
    let default = drafts.iter().find(|d| d.spec_values.is_empty());
    let mut by_key: HashMap<String, &SkuDraft> = HashMap::new();
    for d in drafts
        .iter()
        .filter(|d| !d.spec_values.is_empty() || !has_specs)
    {
        let values: Vec<String> = d.spec_values.iter().map(|v| v.trim().to_string()).collect();
        let key = rules::spec_key(&values);
        if !matrix.iter().any(|m| rules::spec_key(m) == key) {
            return reject(
                Code::InvalidSkus,
                "skus",
                format!("{} is not a combination of the specs", values.join("/")),
            );
        }
        if by_key.insert(key, d).is_some() {
            return reject(Code::InvalidSkus, "skus", "a combination is given twice");
        }
    }
    matrix
        .iter()
        .map(
            |combo| match by_key.get(&rules::spec_key(combo)).copied().or(default) {
                Some(d) => Ok((combo.clone(), d)),
                None => reject(
                    Code::InvalidSkus,
                    "skus",
                    format!(
                        "no price for {}",
                        if combo.is_empty() {
                            "the product".into()
                        } else {
                            combo.join("/")
                        }
                    ),
                ),
            },
        )
        .collect()
}

async fn check_references(
    conn: &impl ConnectionTrait,
    f: &ProductFields,
    product_id: Option<i64>,
) -> CatalogResult<()> {
    if let Some(Some(c)) = f.category_id
        && category::Entity::find_by_id(c).one(conn).await?.is_none()
    {
        return reject(Code::CategoryNotFound, "categoryId", "no such category");
    }
    if let Some(Some(b)) = f.brand_id
        && brand::Entity::find_by_id(b).one(conn).await?.is_none()
    {
        return reject(Code::BrandNotFound, "brandId", "no such brand");
    }
    if let Some(ids) = &f.audience_ids {
        let unique: HashSet<i64> = ids.iter().copied().collect();
        let found = audience::Entity::find()
            .filter(audience::Column::Id.is_in(unique.iter().copied()))
            .count(conn)
            .await?;
        if found as usize != unique.len() {
            return reject(Code::AudienceNotFound, "audienceIds", "no such audience");
        }
    }
    if let Some(ids) = &f.image_ids {
        let images = product_image::Entity::find()
            .filter(product_image::Column::Id.is_in(ids.iter().copied()))
            .all(conn)
            .await?;
        let usable = images
            .iter()
            .filter(|i| i.product_id.is_none() || i.product_id == product_id)
            .count();
        if usable != ids.iter().collect::<HashSet<_>>().len() {
            return reject(
                Code::ImageNotFound,
                "imageIds",
                "no such image, or it belongs to another product",
            );
        }
    }
    Ok(())
}

fn check_fields(f: &ProductFields, creating: bool) -> CatalogResult<()> {
    if let Some(n) = &f.name {
        let len = n.trim().chars().count();
        if len == 0 || len > rules::NAME_MAX {
            return reject(
                Code::InvalidName,
                "name",
                format!("a product name has 1 to {} characters", rules::NAME_MAX),
            );
        }
    } else if creating {
        return reject(Code::InvalidName, "name", "a product needs a name");
    }
    if f.subtitle
        .as_deref()
        .is_some_and(|s| s.chars().count() > rules::SUBTITLE_MAX)
    {
        return reject(
            Code::InvalidName,
            "subtitle",
            format!("a subtitle has at most {} characters", rules::SUBTITLE_MAX),
        );
    }
    if f.description_html
        .as_deref()
        .is_some_and(|d| d.len() > rules::DESCRIPTION_MAX)
    {
        return reject(
            Code::InvalidDescription,
            "descriptionHtml",
            "the description is longer than 100,000 bytes",
        );
    }
    if matches!(f.safety_stock, Some(Some(s)) if !(0..=1_000_000).contains(&s)) {
        return reject(
            Code::InvalidSafetyStock,
            "safetyStock",
            "safety stock is between 0 and 1,000,000",
        );
    }
    if f.audience_ids.as_ref().is_some_and(|a| a.len() > 20)
        || f.image_ids.as_ref().is_some_and(|i| i.len() > 20)
    {
        return reject(
            Code::TooMany,
            "imageIds",
            "at most 20 audiences and 20 images",
        );
    }
    if let (Some(Some(on)), Some(Some(off))) = (f.scheduled_on_sale_at, f.scheduled_off_sale_at)
        && off <= on
    {
        return reject(
            Code::InvalidSchedule,
            "scheduledOffSaleAt",
            "the off-sale time must be after the on-sale time",
        );
    }
    Ok(())
}

async fn set_audiences(tx: &WriteTx, product_id: i64, ids: &[i64]) -> Result<(), AppError> {
    product_audience::Entity::delete_many()
        .filter(product_audience::Column::ProductId.eq(product_id))
        .exec(&**tx)
        .await?;
    let unique: HashSet<i64> = ids.iter().copied().collect();
    for a in unique {
        product_audience::ActiveModel {
            product_id: Set(product_id),
            audience_id: Set(a),
        }
        .insert(&**tx)
        .await?;
    }
    Ok(())
}

async fn set_images(tx: &WriteTx, product_id: i64, ids: &[i64]) -> Result<(), AppError> {
    product_image::Entity::update_many()
        .col_expr(
            product_image::Column::ProductId,
            Expr::value(Option::<i64>::None),
        )
        .filter(product_image::Column::ProductId.eq(product_id))
        .filter(product_image::Column::Id.is_not_in(ids.iter().copied()))
        .exec(&**tx)
        .await?;
    for (pos, id) in ids.iter().enumerate() {
        product_image::Entity::update_many()
            .col_expr(product_image::Column::ProductId, Expr::value(product_id))
            .col_expr(product_image::Column::SortOrder, Expr::value(pos as i32))
            .filter(product_image::Column::Id.eq(*id))
            .exec(&**tx)
            .await?;
    }
    Ok(())
}

async fn save_specs(tx: &WriteTx, product_id: i64, specs: &[SpecDef]) -> Result<(), AppError> {
    product_spec::Entity::delete_many()
        .filter(product_spec::Column::ProductId.eq(product_id))
        .exec(&**tx)
        .await?;
    for (pos, s) in specs.iter().enumerate() {
        product_spec::ActiveModel {
            product_id: Set(product_id),
            name: Set(s.name.clone()),
            values: Set(serde_json::to_string(&s.values)?),
            sort_order: Set(pos as i32),
            ..Default::default()
        }
        .insert(&**tx)
        .await?;
    }
    Ok(())
}

/// The specs of a product, in order.
pub async fn specs_of(
    conn: &impl ConnectionTrait,
    product_id: i64,
) -> Result<Vec<SpecDef>, AppError> {
    Ok(product_spec::Entity::find()
        .filter(product_spec::Column::ProductId.eq(product_id))
        .order_by_asc(product_spec::Column::SortOrder)
        .all(conn)
        .await?
        .into_iter()
        .map(spec_def)
        .collect())
}

pub fn spec_def(m: product_spec::Model) -> SpecDef {
    SpecDef {
        name: m.name,
        values: serde_json::from_str(&m.values).unwrap_or_default(),
    }
}

fn generated_code(product_id: i64, n: usize) -> String {
    format!("P{product_id:06}-{n:03}")
}

/// Inserts SKUs for `(combination, draft)` pairs; codes default to `P<product>-<n>`.
async fn insert_skus(
    app: &AppState,
    tx: &WriteTx,
    product_id: i64,
    pairs: &[(Vec<String>, &SkuDraft)],
    first_number: usize,
    actor: Option<i64>,
) -> CatalogResult<Vec<sku::Model>> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut codes = HashSet::new();
    for (i, (combo, draft)) in pairs.iter().enumerate() {
        let cols = sku_columns(draft)?;
        // A default draft's code cannot be shared by several combinations.
        let code = match cols
            .code
            .clone()
            .filter(|_| !draft.spec_values.is_empty() || pairs.len() == 1)
        {
            Some(c) => c,
            None => generated_code(product_id, first_number + i),
        };
        if !codes.insert(code.clone()) {
            return reject(
                Code::SkuCodeTaken,
                "skus",
                format!("SKU code {code} is given twice"),
            );
        }
        let now = Utc::now();
        let inserted = sku::ActiveModel {
            product_id: Set(product_id),
            code: Set(code.clone()),
            spec_values: Set(serde_json::to_string(combo).map_err(AppError::from)?),
            spec_key: Set(rules::spec_key(combo)),
            price_fen: Set(cols.price_fen),
            market_price_fen: Set(cols.market_price_fen),
            cost_price_fen: Set(cols.cost_price_fen),
            stock: Set(0),
            safety_stock: Set(cols.safety_stock),
            weight_grams: Set(cols.weight_grams),
            barcode: Set(cols.barcode),
            active: Set(true),
            low_stock_alerted: Set(false),
            sales: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&**tx)
        .await;
        let mut s = match inserted {
            Ok(s) => s,
            Err(e) if is_unique_violation(&e) => {
                return reject(
                    Code::SkuCodeTaken,
                    "skus",
                    format!("SKU code {code} is already used"),
                );
            }
            Err(e) => return Err(e.into()),
        };
        if cols.initial_stock > 0 {
            s = match change_stock(
                app,
                tx,
                StockChange {
                    sku_id: s.id,
                    delta: cols.initial_stock,
                    reason: StockReason::Restock,
                    reference: Some("initial stock"),
                    note: None,
                    actor,
                },
            )
            .await?
            {
                Ok(s) => s,
                Err(r) => return reject(Code::InvalidStock, "skus", refusal_message(&r)),
            };
        }
        out.push(s);
    }
    Ok(out)
}

/// Everything needed to create a product.
pub struct NewProduct {
    pub fields: ProductFields,
    pub specs: Vec<SpecDef>,
    pub skus: Vec<SkuDraft>,
}

pub async fn create_product(
    app: &AppState,
    actor: Option<i64>,
    input: NewProduct,
) -> CatalogResult<product::Model> {
    let f = input.fields;
    check_fields(&f, true)?;
    let specs = rules::clean_specs(&input.specs).map_err(|v| (Code::InvalidSpecs, v))?;
    let matrix = rules::sku_matrix(&specs);
    let pairs = assign_drafts(&matrix, &input.skus, !specs.is_empty())?;
    for (_, d) in &pairs {
        sku_columns(d)?;
    }
    let description = rules::sanitize_html(f.description_html.as_deref().unwrap_or(""));
    let tx = app.db.begin_write().await?;
    check_references(&*tx, &f, None).await?;
    let now = Utc::now();
    let p = product::ActiveModel {
        name: Set(f.name.clone().unwrap_or_default().trim().to_string()),
        subtitle: Set(f.subtitle.clone().unwrap_or_default().trim().to_string()),
        description_text: Set(rules::html_to_text(&description)),
        description_html: Set(description),
        category_id: Set(f.category_id.flatten()),
        brand_id: Set(f.brand_id.flatten()),
        status: Set(ProductStatus::Draft.as_str().into()),
        sort_weight: Set(f.sort_weight.unwrap_or(0)),
        safety_stock: Set(f.safety_stock.flatten()),
        scheduled_on_sale_at: Set(f.scheduled_on_sale_at.flatten()),
        scheduled_off_sale_at: Set(f.scheduled_off_sale_at.flatten()),
        sales: Set(0),
        published_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    save_specs(&tx, p.id, &specs).await?;
    insert_skus(app, &tx, p.id, &pairs, 1, actor).await?;
    if let Some(a) = &f.audience_ids {
        set_audiences(&tx, p.id, a).await?;
    }
    if let Some(i) = &f.image_ids {
        set_images(&tx, p.id, i).await?;
    }
    product_event(&tx, p.id, "CREATED").await?;
    tx.commit().await?;
    Ok(p)
}

pub async fn find_product(conn: &impl ConnectionTrait, id: i64) -> CatalogResult<product::Model> {
    match product::Entity::find_by_id(id).one(conn).await? {
        Some(p) => Ok(p),
        None => reject(Code::ProductNotFound, "id", "no such product"),
    }
}

pub async fn update_product(
    app: &AppState,
    id: i64,
    f: ProductFields,
) -> CatalogResult<product::Model> {
    check_fields(&f, false)?;
    let tx = app.db.begin_write().await?;
    let current = find_product(&*tx, id).await?;
    check_references(&*tx, &f, Some(id)).await?;
    let on = f
        .scheduled_on_sale_at
        .unwrap_or(current.scheduled_on_sale_at);
    let off = f
        .scheduled_off_sale_at
        .unwrap_or(current.scheduled_off_sale_at);
    if let (Some(on), Some(off)) = (on, off)
        && off <= on
    {
        return reject(
            Code::InvalidSchedule,
            "scheduledOffSaleAt",
            "the off-sale time must be after the on-sale time",
        );
    }
    let mut a: product::ActiveModel = current.into();
    if let Some(n) = &f.name {
        a.name = Set(n.trim().to_string());
    }
    if let Some(s) = &f.subtitle {
        a.subtitle = Set(s.trim().to_string());
    }
    if let Some(d) = &f.description_html {
        let clean = rules::sanitize_html(d);
        a.description_text = Set(rules::html_to_text(&clean));
        a.description_html = Set(clean);
    }
    if let Some(c) = f.category_id {
        a.category_id = Set(c);
    }
    if let Some(b) = f.brand_id {
        a.brand_id = Set(b);
    }
    if let Some(w) = f.sort_weight {
        a.sort_weight = Set(w);
    }
    if let Some(s) = f.safety_stock {
        a.safety_stock = Set(s);
    }
    a.scheduled_on_sale_at = Set(on);
    a.scheduled_off_sale_at = Set(off);
    a.updated_at = Set(Utc::now());
    let p = a.update(&*tx).await?;
    if let Some(ids) = &f.audience_ids {
        set_audiences(&tx, id, ids).await?;
    }
    if let Some(ids) = &f.image_ids {
        set_images(&tx, id, ids).await?;
    }
    product_event(&tx, id, "UPDATED").await?;
    tx.commit().await?;
    Ok(p)
}

/// Replaces a product's specs. SKUs of combinations that remain keep their id, price and
/// stock; new combinations get SKUs from `defaults`; SKUs of combinations that disappeared are
/// deactivated (kept, because orders and the stock ledger refer to them).
pub async fn set_specs(
    app: &AppState,
    actor: i64,
    product_id: i64,
    specs: Vec<SpecDef>,
    defaults: Option<SkuDraft>,
) -> CatalogResult<Vec<sku::Model>> {
    let specs = rules::clean_specs(&specs).map_err(|v| (Code::InvalidSpecs, v))?;
    let matrix = rules::sku_matrix(&specs);
    let tx = app.db.begin_write().await?;
    find_product(&*tx, product_id).await?;
    let existing = sku::Entity::find()
        .filter(sku::Column::ProductId.eq(product_id))
        .all(&*tx)
        .await?;
    let wanted: HashSet<String> = matrix.iter().map(|m| rules::spec_key(m)).collect();
    for s in &existing {
        let keep = wanted.contains(&s.spec_key);
        if s.active != keep {
            let mut a: sku::ActiveModel = s.clone().into();
            a.active = Set(keep);
            a.updated_at = Set(Utc::now());
            a.update(&*tx).await?;
        }
    }
    let have: HashSet<&str> = existing.iter().map(|s| s.spec_key.as_str()).collect();
    let missing: Vec<Vec<String>> = matrix
        .into_iter()
        .filter(|m| !have.contains(rules::spec_key(m).as_str()))
        .collect();
    if !missing.is_empty() {
        let Some(d) = defaults.as_ref() else {
            return reject(
                Code::InvalidSkus,
                "newSkuDefaults",
                "new combinations need a price: give newSkuDefaults",
            );
        };
        let d = SkuDraft {
            spec_values: Vec::new(),
            code: None,
            ..d.clone()
        };
        let pairs: Vec<(Vec<String>, &SkuDraft)> = missing.into_iter().map(|m| (m, &d)).collect();
        insert_skus(
            app,
            &tx,
            product_id,
            &pairs,
            existing.len() + 1,
            Some(actor),
        )
        .await?;
    }
    save_specs(&tx, product_id, &specs).await?;
    product_event(&tx, product_id, "SPECS").await?;
    tx.commit().await?;
    Ok(sku::Entity::find()
        .filter(sku::Column::ProductId.eq(product_id))
        .order_by_asc(sku::Column::Id)
        .all(app.db.conn())
        .await?)
}

/// A SKU edit; `None` keeps a field, `Some(None)` clears an optional one. Stock is not here:
/// it changes only through inventory operations.
#[derive(Default)]
pub struct SkuPatch {
    pub id: i64,
    pub code: Option<String>,
    pub price: Option<Decimal>,
    pub market_price: Option<Option<Decimal>>,
    pub cost_price: Option<Decimal>,
    pub safety_stock: Option<Option<i32>>,
    pub weight_grams: Option<i32>,
    pub barcode: Option<Option<String>>,
}

/// Edits many SKUs in one transaction: all or nothing.
pub async fn update_skus(app: &AppState, patches: Vec<SkuPatch>) -> CatalogResult<Vec<sku::Model>> {
    if patches.len() > rules::MAX_SKUS {
        return reject(
            Code::TooMany,
            "skus",
            format!("at most {} SKUs at once", rules::MAX_SKUS),
        );
    }
    let tx = app.db.begin_write().await?;
    let mut out = Vec::with_capacity(patches.len());
    let mut touched = HashSet::new();
    for p in patches {
        let Some(current) = sku::Entity::find_by_id(p.id).one(&*tx).await? else {
            return reject(Code::SkuNotFound, "skus", "no such SKU");
        };
        touched.insert(current.product_id);
        let mut a: sku::ActiveModel = current.into();
        if let Some(c) = &p.code {
            a.code = Set(clean_code(c)?);
        }
        if let Some(v) = p.price {
            a.price_fen = Set(price_fen("price", v, false)?);
        }
        if let Some(v) = p.market_price {
            a.market_price_fen = Set(v.map(|m| price_fen("marketPrice", m, false)).transpose()?);
        }
        if let Some(v) = p.cost_price {
            a.cost_price_fen = Set(price_fen("costPrice", v, true)?);
        }
        if let Some(v) = p.safety_stock {
            if matches!(v, Some(s) if !(0..=1_000_000).contains(&s)) {
                return reject(
                    Code::InvalidSafetyStock,
                    "skus",
                    "safety stock is between 0 and 1,000,000",
                );
            }
            a.safety_stock = Set(v);
        }
        if let Some(v) = p.weight_grams {
            if !(0..=1_000_000).contains(&v) {
                return reject(
                    Code::InvalidSkus,
                    "skus",
                    "weight is between 0 and 1,000,000 grams",
                );
            }
            a.weight_grams = Set(v);
        }
        if let Some(v) = p.barcode {
            a.barcode = Set(v.filter(|b| !b.trim().is_empty()));
        }
        a.updated_at = Set(Utc::now());
        match a.update(&*tx).await {
            Ok(s) => out.push(s),
            Err(e) if is_unique_violation(&e) => {
                return reject(Code::SkuCodeTaken, "skus", "another SKU uses this code");
            }
            Err(e) => return Err(e.into()),
        }
    }
    for product_id in touched {
        product_event(&tx, product_id, "SKUS").await?;
    }
    tx.commit().await?;
    Ok(out)
}

async fn load_bulk(tx: &WriteTx, ids: &[i64]) -> CatalogResult<Vec<product::Model>> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        return reject(
            Code::TooMany,
            "ids",
            format!("give 1 to {MAX_BULK} products"),
        );
    }
    let unique: HashSet<i64> = ids.iter().copied().collect();
    let found = product::Entity::find()
        .filter(product::Column::Id.is_in(unique.iter().copied()))
        .all(&**tx)
        .await?;
    if found.len() != unique.len() {
        return reject(Code::ProductNotFound, "ids", "no such product");
    }
    Ok(found)
}

async fn set_status_in(
    tx: &WriteTx,
    p: product::Model,
    to: ProductStatus,
) -> CatalogResult<product::Model> {
    if to == ProductStatus::OnSale {
        let skus = sku::Entity::find()
            .filter(sku::Column::ProductId.eq(p.id))
            .all(&**tx)
            .await?;
        let for_sale: Vec<SkuForSale> = skus
            .iter()
            .map(|s| SkuForSale {
                active: s.active,
                price_fen: s.price_fen,
            })
            .collect();
        if let Some(problem) = rules::publish_problem(&p.name, p.category_id, &for_sale) {
            return reject(Code::CannotPublish, "ids", format!("{}: {problem}", p.name));
        }
    }
    if ProductStatus::parse(&p.status) == to {
        return Ok(p);
    }
    let id = p.id;
    let mut a: product::ActiveModel = p.into();
    a.status = Set(to.as_str().into());
    if to == ProductStatus::OnSale {
        a.published_at = Set(Some(Utc::now()));
    }
    a.updated_at = Set(Utc::now());
    let p = a.update(&**tx).await?;
    product_event(tx, id, to.as_str()).await?;
    Ok(p)
}

/// Puts products on sale or takes them off, all or nothing.
pub async fn set_status(
    app: &AppState,
    ids: &[i64],
    to: ProductStatus,
) -> CatalogResult<Vec<product::Model>> {
    let tx = app.db.begin_write().await?;
    let mut out = Vec::new();
    for p in load_bulk(&tx, ids).await? {
        out.push(set_status_in(&tx, p, to).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn move_to_category(
    app: &AppState,
    ids: &[i64],
    category_id: i64,
) -> CatalogResult<Vec<product::Model>> {
    let tx = app.db.begin_write().await?;
    if category::Entity::find_by_id(category_id)
        .one(&*tx)
        .await?
        .is_none()
    {
        return reject(Code::CategoryNotFound, "categoryId", "no such category");
    }
    let mut out = Vec::new();
    for p in load_bulk(&tx, ids).await? {
        let id = p.id;
        let mut a: product::ActiveModel = p.into();
        a.category_id = Set(Some(category_id));
        a.updated_at = Set(Utc::now());
        out.push(a.update(&*tx).await?);
        product_event(&tx, id, "CATEGORY").await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Changes the price of every active SKU of the products by `percent`, rounded half away from
/// zero to the fen; refuses the whole change if any price would fall below one fen.
pub async fn adjust_prices(
    app: &AppState,
    ids: &[i64],
    percent: Decimal,
    include_market_price: bool,
) -> CatalogResult<Vec<sku::Model>> {
    if rules::adjust_price_fen(100, percent).is_none() {
        return reject(
            Code::InvalidPercentage,
            "percent",
            "the percentage is between -90 and 1000",
        );
    }
    let tx = app.db.begin_write().await?;
    let products = load_bulk(&tx, ids).await?;
    let skus = sku::Entity::find()
        .filter(sku::Column::ProductId.is_in(products.iter().map(|p| p.id)))
        .filter(sku::Column::Active.eq(true))
        .order_by_asc(sku::Column::Id)
        .all(&*tx)
        .await?;
    let mut out = Vec::with_capacity(skus.len());
    for s in skus {
        let Some(price) = rules::adjust_price_fen(s.price_fen, percent) else {
            return reject(
                Code::InvalidPrice,
                "percent",
                format!("SKU {} would cost less than ¥0.01", s.code),
            );
        };
        let market = match s.market_price_fen {
            Some(m) if include_market_price => match rules::adjust_price_fen(m, percent) {
                Some(m) => Some(m),
                None => {
                    return reject(
                        Code::InvalidPrice,
                        "percent",
                        format!("SKU {} market price would fall below ¥0.01", s.code),
                    );
                }
            },
            other => other,
        };
        let mut a: sku::ActiveModel = s.into();
        a.price_fen = Set(price);
        a.market_price_fen = Set(market);
        a.updated_at = Set(Utc::now());
        out.push(a.update(&*tx).await?);
    }
    for p in &products {
        product_event(&tx, p.id, "PRICES").await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Copies a product as a new draft: fields, audiences, specs, SKUs (new codes, no stock) and
/// images (the same files).
pub async fn duplicate_product(
    app: &AppState,
    actor: i64,
    id: i64,
    name: Option<String>,
) -> CatalogResult<product::Model> {
    let tx = app.db.begin_write().await?;
    let source = find_product(&*tx, id).await?;
    let name = name.unwrap_or_else(|| format!("{}（副本）", source.name));
    if name.trim().is_empty() || name.chars().count() > rules::NAME_MAX {
        return reject(
            Code::InvalidName,
            "name",
            "a product name has 1 to 120 characters",
        );
    }
    let now = Utc::now();
    let copy = product::ActiveModel {
        name: Set(name.trim().to_string()),
        subtitle: Set(source.subtitle.clone()),
        description_html: Set(source.description_html.clone()),
        description_text: Set(source.description_text.clone()),
        category_id: Set(source.category_id),
        brand_id: Set(source.brand_id),
        status: Set(ProductStatus::Draft.as_str().into()),
        sort_weight: Set(source.sort_weight),
        safety_stock: Set(source.safety_stock),
        scheduled_on_sale_at: Set(None),
        scheduled_off_sale_at: Set(None),
        sales: Set(0),
        published_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    save_specs(&tx, copy.id, &specs_of(&*tx, id).await?).await?;
    let skus = sku::Entity::find()
        .filter(sku::Column::ProductId.eq(id))
        .filter(sku::Column::Active.eq(true))
        .order_by_asc(sku::Column::Id)
        .all(&*tx)
        .await?;
    for (n, s) in skus.into_iter().enumerate() {
        sku::ActiveModel {
            product_id: Set(copy.id),
            code: Set(generated_code(copy.id, n + 1)),
            spec_values: Set(s.spec_values),
            spec_key: Set(s.spec_key),
            price_fen: Set(s.price_fen),
            market_price_fen: Set(s.market_price_fen),
            cost_price_fen: Set(s.cost_price_fen),
            stock: Set(0),
            safety_stock: Set(s.safety_stock),
            weight_grams: Set(s.weight_grams),
            barcode: Set(None),
            active: Set(true),
            low_stock_alerted: Set(false),
            sales: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&*tx)
        .await?;
    }
    let audiences: Vec<i64> = product_audience::Entity::find()
        .filter(product_audience::Column::ProductId.eq(id))
        .all(&*tx)
        .await?
        .into_iter()
        .map(|a| a.audience_id)
        .collect();
    set_audiences(&tx, copy.id, &audiences).await?;
    let images = product_image::Entity::find()
        .filter(product_image::Column::ProductId.eq(id))
        .order_by_asc(product_image::Column::SortOrder)
        .all(&*tx)
        .await?;
    for img in images {
        product_image::ActiveModel {
            product_id: Set(Some(copy.id)),
            storage_key: Set(img.storage_key),
            url: Set(img.url),
            content_type: Set(img.content_type),
            width: Set(img.width),
            height: Set(img.height),
            bytes: Set(img.bytes),
            sort_order: Set(img.sort_order),
            created_by: Set(Some(actor)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&*tx)
        .await?;
    }
    product_event(&tx, copy.id, "CREATED").await?;
    tx.commit().await?;
    Ok(copy)
}

/// Applies due on-sale and off-sale times (the `catalog.schedule` job). A product that cannot
/// go on sale keeps its schedule and stays as it is (and is logged).
pub async fn apply_schedules(app: std::sync::Arc<AppState>) -> Result<(), AppError> {
    let now = Utc::now();
    let due_on = product::Entity::find()
        .filter(product::Column::ScheduledOnSaleAt.lte(now))
        .all(app.db.conn())
        .await?;
    for p in due_on {
        let tx = app.db.begin_write().await?;
        let Some(current) = product::Entity::find_by_id(p.id).one(&*tx).await? else {
            continue;
        };
        if current.scheduled_on_sale_at.is_none_or(|t| t > now) {
            continue;
        }
        let id = current.id;
        match set_status_in(&tx, current, ProductStatus::OnSale).await {
            Ok(published) => {
                let mut a: product::ActiveModel = published.into();
                a.scheduled_on_sale_at = Set(None);
                a.update(&*tx).await?;
                tx.commit().await?;
            }
            Err(ServiceError::User(e)) => {
                tracing::warn!(product_id = id, reason = ?e.first().map(|e| &e.message), "scheduled publishing skipped");
            }
            Err(ServiceError::App(e)) => return Err(e),
        }
    }
    let due_off = product::Entity::find()
        .filter(product::Column::ScheduledOffSaleAt.lte(now))
        .all(app.db.conn())
        .await?;
    for p in due_off {
        let tx = app.db.begin_write().await?;
        let Some(current) = product::Entity::find_by_id(p.id).one(&*tx).await? else {
            continue;
        };
        if current.scheduled_off_sale_at.is_none_or(|t| t > now) {
            continue;
        }
        let changed = match set_status_in(&tx, current, ProductStatus::OffSale).await {
            Ok(p) => p,
            Err(ServiceError::User(_)) => continue,
            Err(ServiceError::App(e)) => return Err(e),
        };
        let mut a: product::ActiveModel = changed.into();
        a.scheduled_off_sale_at = Set(None);
        a.update(&*tx).await?;
        tx.commit().await?;
    }
    Ok(())
}
