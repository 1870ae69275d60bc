//! An in-process read model of the catalogue. Product pages, lists and search results are read
//! far more often than products change, and every SQL row costs microseconds through the
//! driver; so each product is read once with its SKUs, images, specs and audiences into a
//! bundle that stays in memory until a change to it is committed.
//!
//! Invalidation is by event: synchronously in the committing task (a commit hook, so a writer
//! reads its own writes) and through the dispatched outbox for changes made by other
//! instances. A bundle read from the database while the product was being changed is not kept:
//! each product has a change counter, and a load only stores its result if the counter did not
//! move while it ran.
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use entity::{
    audience, brand, category, product, product_audience, product_image, product_spec, sku,
};
use parking_lot::RwLock;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    rules::SpecDef,
    service::{EVENT_PRODUCT_CHANGED, EVENT_SALES_COUNTED, spec_def},
    taxonomy::{EVENT_AUDIENCE_CHANGED, EVENT_BRAND_CHANGED, EVENT_CATEGORY_CHANGED},
};
use crate::{
    bounded_cache::BoundedCache,
    cached_value::CachedValue,
    db::CommittedEvent,
    error::AppError,
    inventory::service::{EVENT_DEFAULT_SAFETY_STOCK_CHANGED, EVENT_STOCK_CHANGED},
};

/// A SKU as the catalogue shows it: the columns of `skus` without the timestamps and the JSON
/// copy of the spec values (they are the spec key split again). Kept small: the cache holds
/// every SKU of every product read (120,000 of them for 10,000 products of 12 SKUs), so its
/// four texts share one allocation instead of four (about 90 bytes less a SKU in RSS).
#[derive(Clone, Debug)]
pub struct CachedSku {
    pub id: i64,
    pub product_id: i64,
    pub price_fen: i64,
    pub market_price_fen: Option<i64>,
    pub cost_price_fen: i64,
    pub stock: i64,
    pub sales: i64,
    pub safety_stock: Option<i32>,
    pub weight_grams: i32,
    pub active: bool,
    /// The code, the spec key, the barcode and the label, one after another.
    texts: Box<str>,
    /// Where the code, the spec key and the barcode end in `texts` (the label is the rest).
    ends: [u32; 3],
}

impl CachedSku {
    pub fn new(sku: &sku::Model, specs: Option<&[SpecDef]>) -> Self {
        let barcode = sku.barcode.as_deref().unwrap_or_default();
        // A SKU read on its own has no specs at hand: its label is worked out when asked for.
        let label = specs
            .map(|s| label_of(&sku.spec_key, s))
            .unwrap_or_default();
        let mut texts = String::with_capacity(
            sku.code.len() + sku.spec_key.len() + barcode.len() + label.len(),
        );
        let mut ends = [0; 3];
        for (end, text) in ends.iter_mut().zip([&sku.code, &sku.spec_key, barcode]) {
            texts.push_str(text);
            *end = u32::try_from(texts.len()).unwrap_or(u32::MAX);
        }
        texts.push_str(&label);
        Self {
            id: sku.id,
            product_id: sku.product_id,
            price_fen: sku.price_fen,
            market_price_fen: sku.market_price_fen,
            cost_price_fen: sku.cost_price_fen,
            stock: sku.stock,
            sales: sku.sales,
            safety_stock: sku.safety_stock,
            weight_grams: sku.weight_grams,
            active: sku.active,
            texts: texts.into_boxed_str(),
            ends,
        }
    }

    fn text(&self, part: usize) -> &str {
        let start = match part {
            0 => 0,
            _ => self.ends[part - 1] as usize,
        };
        let end = self
            .ends
            .get(part)
            .map_or(self.texts.len(), |e| *e as usize);
        self.texts.get(start..end).unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.text(0)
    }

    /// The spec values joined by `rules::spec_key`.
    pub fn spec_key(&self) -> &str {
        self.text(1)
    }

    pub fn barcode(&self) -> Option<&str> {
        Some(self.text(2)).filter(|b| !b.is_empty())
    }

    /// `颜色:红 尺码:S`, when it was worked out with the product's specs at hand.
    pub fn label(&self) -> Option<&str> {
        Some(self.text(3)).filter(|l| !l.is_empty())
    }

    /// `颜色:红 尺码:S` under `specs`, its product's specs.
    pub fn label_under(&self, specs: &[SpecDef]) -> String {
        label_of(self.spec_key(), specs)
    }

    /// The spec values, in the order of the product's specs.
    pub fn spec_values(&self) -> Vec<String> {
        super::rules::spec_values_of_key(self.spec_key())
    }
}

fn label_of(spec_key: &str, specs: &[SpecDef]) -> String {
    super::rules::spec_label(specs, &super::rules::spec_values_of_key(spec_key))
}

/// A product with everything shown alongside it.
#[derive(Clone, Debug)]
pub struct ProductBundle {
    pub product: Arc<product::Model>,
    /// Every SKU (active and inactive), in id order.
    pub skus: Arc<[CachedSku]>,
    /// Images in display order.
    pub images: Arc<[product_image::Model]>,
    /// Specs in order, parsed.
    pub specs: Arc<[SpecDef]>,
    pub audiences: Arc<[audience::Model]>,
}

impl ProductBundle {
    /// `颜色:红 尺码:S` for one of its SKUs (empty for an id it does not have).
    pub fn sku_label(&self, sku_id: i64) -> &str {
        self.skus
            .iter()
            .find(|s| s.id == sku_id)
            .and_then(CachedSku::label)
            .unwrap_or_default()
    }
}

/// The events that change what the cache holds.
const KNOWN_EVENTS: [&str; 7] = [
    EVENT_PRODUCT_CHANGED,
    EVENT_STOCK_CHANGED,
    EVENT_SALES_COUNTED,
    EVENT_CATEGORY_CHANGED,
    EVENT_BRAND_CHANGED,
    EVENT_AUDIENCE_CHANGED,
    EVENT_DEFAULT_SAFETY_STOCK_CHANGED,
];

/// Ids of events applied by their committing task and not yet seen again from the dispatcher.
const MAX_APPLIED_LOCALLY: usize = 100_000;

pub struct CatalogCache {
    /// Products by id, at most `catalog_cache_products` of them: what is read stays, what is
    /// not ages out (`BoundedCache`).
    bundles: RwLock<BoundedCache<i64, Arc<ProductBundle>>>,
    /// Changes per product since start, and changes to everything (`epoch`).
    changes: RwLock<HashMap<i64, u64>>,
    epoch: AtomicU64,
    /// Changes to categories and brands, which every product shows by name.
    taxonomy: AtomicU64,
    categories: RwLock<Option<Arc<Vec<category::Model>>>>,
    brands: RwLock<Option<Arc<HashMap<i64, brand::Model>>>>,
    /// The shop-wide safety stock, the last step of the cascade every SKU's threshold falls
    /// back to (`inventory::service::threshold_for`, checked by every order).
    default_safety_stock: CachedValue<i32>,
    /// The newest stock movement applied to each cached SKU: changes can be reported out of
    /// order (commit hooks of concurrent transactions, then the dispatcher), and only a newer
    /// movement may overwrite the stock shown.
    stock_movements: RwLock<HashMap<i64, i64>>,
    /// Events this instance committed and applied at once (see `apply_dispatched`).
    applied_locally: parking_lot::Mutex<std::collections::HashSet<i64>>,
    /// Products changed by an event the search index may not have applied yet, with the
    /// newest such event (see `unindexed_products`).
    unindexed: parking_lot::Mutex<HashMap<i64, i64>>,
}

impl CatalogCache {
    /// A cache of at most `max_products` products (and everything shared by all of them).
    pub fn new(max_products: usize) -> Self {
        Self {
            bundles: RwLock::new(BoundedCache::new(max_products)),
            changes: RwLock::default(),
            epoch: AtomicU64::default(),
            taxonomy: AtomicU64::default(),
            categories: RwLock::default(),
            brands: RwLock::default(),
            default_safety_stock: CachedValue::default(),
            stock_movements: RwLock::default(),
            applied_locally: parking_lot::Mutex::default(),
            unindexed: parking_lot::Mutex::default(),
        }
    }

    /// Forgets what `events` changed (run by the committing task).
    pub fn apply(&self, events: &[CommittedEvent]) {
        let mut local = self.applied_locally.lock();
        if local.len() > MAX_APPLIED_LOCALLY {
            // The dispatcher fell far behind; applying some twice again is harmless.
            local.clear();
        }
        for e in events {
            if KNOWN_EVENTS.contains(&e.event_type) {
                local.insert(e.id);
            }
        }
        drop(local);
        for e in events {
            self.note_unindexed(e.event_type, e.aggregate_id, e.id);
            self.apply_one(e.event_type, e.aggregate_id, &e.payload);
        }
    }

    /// The same for an event delivered by the dispatcher (a change made by any instance). An
    /// event this instance committed was applied already: applying it again would only make
    /// everything read since look changed.
    pub fn apply_dispatched(&self, e: &crate::events::Event) {
        if self.applied_locally.lock().remove(&e.id) {
            return;
        }
        if let Some(event_type) = KNOWN_EVENTS.into_iter().find(|t| *t == e.event_type) {
            self.note_unindexed(event_type, e.aggregate_id, e.id);
            self.apply_one(event_type, e.aggregate_id, &e.payload);
        }
    }

    /// A product's change is in the database (and this cache) before it is in the search
    /// index: until the index has applied event `event_id`, a search may match the product as
    /// it was (on sale, say, after it was taken off sale).
    fn note_unindexed(&self, event_type: &str, product_id: i64, event_id: i64) {
        if event_type == EVENT_PRODUCT_CHANGED {
            let mut unindexed = self.unindexed.lock();
            let newest = unindexed.entry(product_id).or_default();
            *newest = (*newest).max(event_id);
        }
    }

    /// Products whose latest change the search index may not show yet. A search checks them
    /// against the catalogue first, so that its hits, counts and facets agree with what it can
    /// show (`catalog::search_schema`).
    pub fn unindexed_products(&self) -> Vec<i64> {
        self.unindexed.lock().keys().copied().collect()
    }

    /// The search index has applied every event up to `event_id`.
    pub fn indexed_through(&self, event_id: i64) {
        self.unindexed.lock().retain(|_, e| *e > event_id);
    }

    fn apply_one(&self, event_type: &str, aggregate_id: i64, payload: &serde_json::Value) {
        match event_type {
            EVENT_PRODUCT_CHANGED => self.forget_product(aggregate_id),
            EVENT_STOCK_CHANGED => self.apply_stock(payload),
            EVENT_SALES_COUNTED => self.apply_sales(payload),
            EVENT_CATEGORY_CHANGED => {
                // Bumped first: a list being read now must not be kept.
                self.taxonomy.fetch_add(1, Ordering::SeqCst);
                *self.categories.write() = None;
            }
            EVENT_BRAND_CHANGED => {
                // Bumped first: a list being read now must not be kept.
                self.taxonomy.fetch_add(1, Ordering::SeqCst);
                *self.brands.write() = None;
            }
            EVENT_AUDIENCE_CHANGED => self.forget_all_products(),
            EVENT_DEFAULT_SAFETY_STOCK_CHANGED => self.default_safety_stock.forget(),
            _ => {}
        }
    }

    /// A stock change updates the cached SKU in place rather than dropping the product: with
    /// orders flowing, dropping would reload a popular product (and all its SKUs) on almost
    /// every read. Loads in flight are still discarded (`changes`), as they may predate it.
    fn apply_stock(&self, payload: &serde_json::Value) {
        let (Some(product_id), Some(sku_id), Some(balance), Some(movement)) = (
            payload["productId"].as_i64(),
            payload["skuId"].as_i64(),
            payload["balanceAfter"].as_i64(),
            payload["movementId"].as_i64(),
        ) else {
            if let Some(p) = payload["productId"].as_i64() {
                self.forget_product(p);
            }
            return;
        };
        *self.changes.write().entry(product_id).or_default() += 1;
        {
            let mut seen = self.stock_movements.write();
            let newest = seen.entry(sku_id).or_insert(0);
            if *newest >= movement {
                return;
            }
            *newest = movement;
        }
        self.patch(product_id, |bundle| {
            let mut skus = bundle.skus.to_vec();
            let sku = skus.iter_mut().find(|s| s.id == sku_id)?;
            sku.stock = balance;
            Some(ProductBundle {
                skus: skus.into(),
                ..bundle.clone()
            })
        });
    }

    /// Sales counted at payment, applied in place as stock is. Counts only grow, and the
    /// event carries them as they are after the change, so the larger count is the newer.
    fn apply_sales(&self, payload: &serde_json::Value) {
        let Some(product_id) = payload["productId"].as_i64() else {
            return;
        };
        *self.changes.write().entry(product_id).or_default() += 1;
        let product_sales = payload["sales"].as_i64().unwrap_or_default();
        let sku_sales: Vec<(i64, i64)> = payload["skus"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["skuId"].as_i64()?, s["sales"].as_i64()?)))
            .collect();
        self.patch(product_id, |bundle| {
            let mut product = (*bundle.product).clone();
            product.sales = product.sales.max(product_sales);
            let mut skus = bundle.skus.to_vec();
            for (id, sales) in &sku_sales {
                if let Some(sku) = skus.iter_mut().find(|s| s.id == *id) {
                    sku.sales = sku.sales.max(*sales);
                }
            }
            Some(ProductBundle {
                product: Arc::new(product),
                skus: skus.into(),
                ..bundle.clone()
            })
        });
    }

    /// Replaces the cached bundle of `product_id` (if cached) by what `change` makes of it,
    /// without marking it as used (only reads do).
    fn patch(&self, product_id: i64, change: impl FnOnce(&ProductBundle) -> Option<ProductBundle>) {
        let mut bundles = self.bundles.write();
        let Some(updated) = bundles.peek(&product_id).and_then(|b| change(b)) else {
            return;
        };
        bundles.insert(product_id, Arc::new(updated), 1);
    }

    fn forget_product(&self, id: i64) {
        *self.changes.write().entry(id).or_default() += 1;
        self.bundles.write().remove(&id);
    }

    fn forget_all_products(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.bundles.write().clear();
    }

    /// The bundle of `id` if it is in memory.
    pub fn cached(&self, id: i64) -> Option<Arc<ProductBundle>> {
        self.bundles.read().get(&id).cloned()
    }

    /// The shop-wide default safety stock, from memory or from the database.
    pub async fn default_safety_stock(&self, conn: &impl ConnectionTrait) -> Result<i32, AppError> {
        let v = self
            .default_safety_stock
            .get_or_load(|| crate::inventory::service::default_safety_stock(conn))
            .await?;
        Ok(*v)
    }

    /// Moves whenever anything shared by all products changes (categories, brands, audiences).
    pub fn shared_version(&self) -> (u64, u64) {
        (
            self.epoch.load(Ordering::SeqCst),
            self.taxonomy.load(Ordering::SeqCst),
        )
    }

    /// Moves whenever product `id` (or its stock) changes.
    pub fn product_version(&self, id: i64) -> u64 {
        self.changes.read().get(&id).copied().unwrap_or(0)
    }

    /// Whether none of these products changed since their versions were read.
    pub fn products_unchanged(&self, versions: &[(i64, u64)]) -> bool {
        let changes = self.changes.read();
        versions
            .iter()
            .all(|(id, v)| changes.get(id).copied().unwrap_or(0) == *v)
    }

    fn version(&self, id: i64) -> (u64, u64) {
        (
            self.epoch.load(Ordering::SeqCst),
            self.changes.read().get(&id).copied().unwrap_or(0),
        )
    }

    /// The bundles of `ids` that exist, from memory or (in one batch) from the database.
    pub async fn bundles(
        &self,
        conn: &impl ConnectionTrait,
        ids: &[i64],
    ) -> Result<HashMap<i64, Arc<ProductBundle>>, AppError> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let cached = self.bundles.read();
            for id in ids {
                match cached.get(id) {
                    Some(b) => {
                        found.insert(*id, b.clone());
                    }
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let versions: Vec<(i64, (u64, u64))> =
            missing.iter().map(|id| (*id, self.version(*id))).collect();
        let loaded = load_bundles(conn, &missing).await?;
        let mut cache = self.bundles.write();
        for (id, bundle) in loaded {
            let unchanged = versions
                .iter()
                .find(|(v, _)| *v == id)
                .is_some_and(|(_, before)| *before == self.version(id));
            if unchanged {
                cache.insert(id, bundle.clone(), 1);
            }
            found.insert(id, bundle);
        }
        Ok(found)
    }

    pub async fn categories(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Arc<Vec<category::Model>>, AppError> {
        if let Some(c) = self.categories.read().clone() {
            return Ok(c);
        }
        let before = self.shared_version();
        let all = Arc::new(super::taxonomy::all_categories(conn).await?);
        self.keep_unless_changed(&self.categories, before, &all);
        Ok(all)
    }

    pub async fn brands(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Arc<HashMap<i64, brand::Model>>, AppError> {
        if let Some(b) = self.brands.read().clone() {
            return Ok(b);
        }
        let before = self.shared_version();
        let all: HashMap<i64, brand::Model> = brand::Entity::find()
            .all(conn)
            .await?
            .into_iter()
            .map(|b| (b.id, b))
            .collect();
        let all = Arc::new(all);
        self.keep_unless_changed(&self.brands, before, &all);
        Ok(all)
    }

    /// Keeps a taxonomy list read from the database, unless a change was applied while it was
    /// read (the list may predate it).
    fn keep_unless_changed<T>(
        &self,
        slot: &RwLock<Option<Arc<T>>>,
        before: (u64, u64),
        v: &Arc<T>,
    ) {
        let mut slot = slot.write();
        if self.shared_version() == before {
            *slot = Some(v.clone());
        }
    }
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(key(&r)).or_default().push(r);
    }
    out
}

/// Five statements for any number of products.
async fn load_bundles(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<(i64, Arc<ProductBundle>)>, AppError> {
    let products = product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let present: Vec<i64> = products.iter().map(|p| p.id).collect();
    if present.is_empty() {
        return Ok(Vec::new());
    }
    let mut skus = group(
        sku::Entity::find()
            .filter(sku::Column::ProductId.is_in(present.iter().copied()))
            .order_by_asc(sku::Column::Id)
            .all(conn)
            .await?,
        |s| s.product_id,
    );
    let mut images = group(
        product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(present.iter().copied()))
            .order_by_asc(product_image::Column::SortOrder)
            .order_by_asc(product_image::Column::Id)
            .all(conn)
            .await?,
        |i| i.product_id.unwrap_or_default(),
    );
    let mut specs = group(
        product_spec::Entity::find()
            .filter(product_spec::Column::ProductId.is_in(present.iter().copied()))
            .order_by_asc(product_spec::Column::SortOrder)
            .all(conn)
            .await?,
        |s| s.product_id,
    );
    let links = product_audience::Entity::find()
        .filter(product_audience::Column::ProductId.is_in(present.iter().copied()))
        .all(conn)
        .await?;
    let audiences: HashMap<i64, audience::Model> = if links.is_empty() {
        HashMap::new()
    } else {
        audience::Entity::find()
            .filter(audience::Column::Id.is_in(links.iter().map(|l| l.audience_id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    };
    let mut audience_lists: HashMap<i64, Vec<audience::Model>> = HashMap::new();
    for l in links {
        if let Some(a) = audiences.get(&l.audience_id) {
            audience_lists
                .entry(l.product_id)
                .or_default()
                .push(a.clone());
        }
    }
    Ok(products
        .into_iter()
        .map(|p| {
            let id = p.id;
            let mut aud = audience_lists.remove(&id).unwrap_or_default();
            aud.sort_by_key(|a| (a.sort_order, a.id));
            let spec_defs: Vec<SpecDef> = specs
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(spec_def)
                .collect();
            // Collected straight into exact-size shared slices: a `Vec` collected in place
            // from the rows would keep the rows' larger allocation for as long as it is cached.
            let cached_skus: Arc<[CachedSku]> = skus
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|s| CachedSku::new(&s, Some(&spec_defs)))
                .collect();
            (
                id,
                Arc::new(ProductBundle {
                    product: Arc::new(p),
                    skus: cached_skus,
                    images: images.remove(&id).unwrap_or_default().into(),
                    specs: spec_defs.into(),
                    audiences: aud.into(),
                }),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(code: &str, values: &[&str], barcode: Option<&str>) -> sku::Model {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        sku::Model {
            id: 7,
            product_id: 3,
            code: code.into(),
            spec_values: serde_json::to_string(&values).unwrap(),
            spec_key: super::super::rules::spec_key(&values),
            price_fen: 100,
            market_price_fen: None,
            cost_price_fen: 50,
            stock: 5,
            safety_stock: None,
            weight_grams: 0,
            barcode: barcode.map(str::to_string),
            active: true,
            low_stock_alerted: false,
            sales: 0,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_cached_sku_gives_back_each_of_its_texts() {
        let specs = [
            SpecDef {
                name: "颜色".into(),
                values: vec!["红".into(), "蓝".into()],
            },
            SpecDef {
                name: "尺码".into(),
                values: vec!["S".into()],
            },
        ];
        let sku = CachedSku::new(
            &model("TEE-红-S", &["红", "S"], Some("6901234567890")),
            Some(&specs),
        );
        assert_eq!(sku.code(), "TEE-红-S");
        assert_eq!(sku.spec_values(), vec!["红", "S"]);
        assert_eq!(sku.barcode(), Some("6901234567890"));
        assert_eq!(sku.label(), Some("颜色:红 尺码:S"));

        let alone = CachedSku::new(&model("X1", &["蓝", "S"], None), None);
        assert_eq!(alone.code(), "X1");
        assert_eq!(alone.barcode(), None);
        assert_eq!(alone.label(), None, "no specs at hand, no label");
        assert_eq!(alone.label_under(&specs), "颜色:蓝 尺码:S");

        let plain = CachedSku::new(&model("P", &[], None), Some(&[]));
        assert_eq!(
            (plain.code(), plain.spec_key(), plain.label()),
            ("P", "", None)
        );
    }
}
