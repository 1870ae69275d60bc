//! Embedded product search: a tantivy full-text index with Chinese-aware
//! analysis behind the [`SearchIndex`] trait.
//!
//! - Text is normalized (NFKC + lowercase) and indexed twice: as jieba
//!   search-mode words (for ranking) and as CJK unigrams/bigrams (so a typed
//!   word is found wherever it occurs as a substring). See `analyzer`.
//! - Jieba's whole dictionary (about 30 MB) is held only while indexing; a
//!   keyword is cut with the words the index holds. See `keyword_dictionary`.
//! - Each whitespace-separated word of a keyword must match (in any text
//!   field); name and brand matches weigh most, the description least.
//! - Filtering, sorting, paging and facet counting happen in one pass over
//!   the matches, reading fast fields only. See `collector`.
//! - Completions come from an in-memory snapshot of on-sale product and brand
//!   names, replaced after every commit. See `suggest`.

mod analyzer;
mod cached;
mod collector;
mod keyword_dictionary;
mod query;
mod schema;
mod suggest;
mod tantivy_index;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

/// A product (SPU) as indexed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductDoc {
    pub id: i64,
    pub name: String,
    pub subtitle: String,
    pub brand_id: Option<i64>,
    pub brand_name: String,
    /// The product's own category.
    pub category_id: Option<i64>,
    /// The own category and all its ancestors.
    pub category_path_ids: Vec<i64>,
    /// Names along that path.
    pub category_names: Vec<String>,
    /// Plain text (HTML already stripped).
    pub description_text: String,
    /// e.g. ["红", "蓝", "S", "M", "42码"].
    pub spec_values: Vec<String>,
    pub audience_ids: Vec<i64>,
    /// Price of every SKU in fen.
    pub sku_prices_fen: Vec<i64>,
    /// Any SKU has stock.
    pub in_stock: bool,
    /// Status ON_SALE; consumers only ever see on-sale products.
    pub on_sale: bool,
    pub sales: i64,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SearchSort {
    /// BM25 relevance; [`SearchSort::Newest`] when there is no keyword.
    #[default]
    Relevance,
    /// By lowest SKU price; products without SKUs last.
    PriceAsc,
    /// By lowest SKU price, highest first; products without SKUs last.
    PriceDesc,
    /// Most sold first.
    Sales,
    /// Most recently created first.
    Newest,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    /// Blank = no keyword filter. Cut to 100 characters.
    pub keyword: Option<String>,
    /// Matches products in this category or any of its descendants.
    pub category_id: Option<i64>,
    /// Any of these brands (empty = no filter).
    pub brand_ids: Vec<i64>,
    /// Any of these audiences (empty = no filter).
    pub audience_ids: Vec<i64>,
    /// A product matches when any SKU price is within [min, max].
    pub price_min_fen: Option<i64>,
    pub price_max_fen: Option<i64>,
    pub in_stock_only: bool,
    /// Staff only; otherwise only on-sale products match.
    pub include_unpublished: bool,
    /// Products that match nothing, whatever the index says about them (the caller knows
    /// better: they changed and the index has not caught up).
    pub exclude_ids: Vec<i64>,
    /// Ties are broken by product id, descending.
    pub sort: SearchSort,
    pub offset: usize,
    pub limit: usize,
    pub with_facets: bool,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            keyword: None,
            category_id: None,
            brand_ids: Vec::new(),
            audience_ids: Vec::new(),
            price_min_fen: None,
            price_max_fen: None,
            in_stock_only: false,
            include_unpublished: false,
            exclude_ids: Vec::new(),
            sort: SearchSort::default(),
            offset: 0,
            limit: 20,
            with_facets: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchResult {
    /// Number of matching products.
    pub total: u64,
    /// The requested page of product ids, in order.
    pub ids: Vec<i64>,
    pub facets: Option<Facets>,
}

/// Counts over all matching products (not just the page). Id lists are sorted
/// by count descending, then id ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facets {
    /// By the product's own category; sums to `total` minus products without one.
    pub categories: Vec<(i64, u64)>,
    /// Sums to `total` minus products without a brand.
    pub brands: Vec<(i64, u64)>,
    /// Multi-valued: need not sum to anything.
    pub audiences: Vec<(i64, u64)>,
    /// By lowest SKU price, fixed edges, empty buckets included; sums to
    /// `total` (products without SKUs count in the first bucket).
    pub price_buckets: Vec<PriceBucket>,
}

/// Products whose lowest SKU price is in `[min_fen, max_fen)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceBucket {
    pub min_fen: i64,
    /// `None` = no upper bound.
    pub max_fen: Option<i64>,
    pub count: u64,
}

/// The product search engine. Methods block (indexing and commits do disk
/// I/O): call them from `spawn_blocking` unless known to be cheap. Searches
/// may run concurrently with each other and with writes; writes are
/// serialized internally.
pub trait SearchIndex: Send + Sync {
    /// Inserts or replaces these documents (by id) and makes them searchable
    /// before returning.
    fn upsert(&self, docs: &[ProductDoc]) -> anyhow::Result<()>;
    /// Removes these products; unknown ids are ignored.
    fn delete(&self, ids: &[i64]) -> anyhow::Result<()>;
    /// Replaces the whole content with `docs` in one commit: searches see
    /// the old content until the new one is complete.
    fn rebuild(&self, docs: &mut dyn Iterator<Item = ProductDoc>) -> anyhow::Result<()>;
    fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResult>;
    /// Product and brand names of on-sale products starting with `prefix`
    /// (after normalization), then, if fewer than `limit`, containing it;
    /// distinct, best-selling first.
    fn suggest(&self, prefix: &str, limit: usize) -> anyhow::Result<Vec<String>>;
    /// Opaque bookkeeping persisted with the index data.
    fn meta(&self) -> anyhow::Result<Option<String>>;
    fn set_meta(&self, meta: &str) -> anyhow::Result<()>;
    /// Number of indexed products (on sale or not).
    fn doc_count(&self) -> anyhow::Result<u64>;
    /// Moves after every write, once what it wrote is what searches and suggestions see: a
    /// result obtained after reading generation `g` is current while the generation is `g`.
    fn generation(&self) -> u64;
}

/// Opens the index stored in `dir` (created if missing; the directory should
/// be dedicated to the index). The flag is true when the index must be filled
/// with [`SearchIndex::rebuild`]: it was just created, was written by an
/// incompatible version (it is then discarded), or no rebuild ever completed.
///
/// Only one process at a time may open a directory: the writer holds a lock.
pub fn open_or_create(dir: &Path) -> anyhow::Result<(Arc<dyn SearchIndex>, bool)> {
    let (index, needs_rebuild) = tantivy_index::TantivySearchIndex::open_or_create(dir)?;
    Ok((
        Arc::new(cached::CachedIndex::new(Arc::new(index))),
        needs_rebuild,
    ))
}

/// A RAM-only index, for tests and command-line tasks.
pub fn in_memory() -> anyhow::Result<Arc<dyn SearchIndex>> {
    Ok(Arc::new(tantivy_index::TantivySearchIndex::in_memory()?))
}
