//! Whole responses to public catalogue queries, kept in memory. Shoppers and distributors ask
//! for the same product pages, category pages and searches over and over, and everyone but
//! staff sees the same thing; serving a stored body skips parsing, validation and resolving
//! every field, which is most of a catalogue request's cost.
//!
//! A response is stored with what it was computed from: the version of every product it read
//! (a change to a product or its stock moves it), the version of the shared taxonomy
//! (categories, brands, audiences), when it searched, the search index's generation, and when
//! it showed promotion labels, their suppliers' versions (`catalog::badges`). Each
//! version is read *before* the data it guards, so a change that lands while the response is
//! computed makes it stale rather than wrong. A stored body is served only while all of them
//! are unchanged; otherwise the request runs as usual and its response replaces the old one.
//!
//! Only queries whose every field is in [`PUBLIC_FIELDS`] are stored, only for callers who
//! are not staff (staff see drafts and cost prices), and only when they succeeded.
use std::sync::Arc;

use axum::body::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::{app::AppState, bounded_cache::BoundedCache};

/// Root fields whose answers depend only on the catalogue, and the types they reach. Fields of
/// these types read products only through the request's loaders (which record their versions)
/// or the taxonomy caches; a field added to any of them must keep to that.
pub const PUBLIC_FIELDS: &[(&str, &[&str])] = &[
    (
        "QueryRoot",
        &[
            "product",
            "products",
            "category",
            "categories",
            "brands",
            "audiences",
            "searchSuggestions",
            "__typename",
        ],
    ),
    ("Product", &[]),
    ("Sku", &[]),
    ("SpecValue", &[]),
    ("Spec", &[]),
    ("PriceRange", &[]),
    ("ProductImage", &[]),
    ("Category", &[]),
    ("Brand", &[]),
    ("Audience", &[]),
    ("ProductConnection", &[]),
    ("ProductEdge", &[]),
    ("PageInfo", &[]),
    ("ProductFacets", &[]),
    ("CategoryCount", &[]),
    ("BrandCount", &[]),
    ("AudienceCount", &[]),
    ("PriceBucketCount", &[]),
];

/// Whether `field` of `type_name` may be part of a stored response (an empty list admits
/// every field of the type).
pub fn is_public_field(type_name: &str, field: &str) -> bool {
    PUBLIC_FIELDS
        .iter()
        .find(|(t, _)| *t == type_name)
        .is_some_and(|(_, fields)| fields.is_empty() || fields.contains(&field))
}

/// What a response read, noted by the loaders and resolvers while it runs.
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Recorded>,
}

#[derive(Default, Clone)]
struct Recorded {
    products: Vec<(i64, u64)>,
    search_generation: Option<u64>,
    /// The product-label suppliers' versions when labels were read (`badges::versions`).
    badges: Option<Vec<u64>>,
    /// Searches to count again when the response is served from memory (hot keywords).
    keywords: Vec<String>,
    /// Something was read that no version guards: the response must not be stored.
    unguarded: bool,
}

impl Recorder {
    /// Product `id` at `version` (read before the product itself).
    pub fn product(&self, id: i64, version: u64) {
        let mut r = self.inner.lock();
        if !r.products.iter().any(|(p, _)| *p == id) {
            r.products.push((id, version));
        }
    }

    /// Product labels were read with the suppliers' versions (`None`: unknown, and the
    /// response is not stored). Read before the labels themselves.
    pub fn badges(&self, versions: Option<Vec<u64>>) {
        let mut r = self.inner.lock();
        match (versions, &r.badges) {
            (None, _) => r.unguarded = true,
            // Labels read at two versions cannot both be current later.
            (Some(v), Some(seen)) if *seen != v => r.unguarded = true,
            (Some(v), _) => r.badges = Some(v),
        }
    }

    /// A search of the index at `generation` (read before searching).
    pub fn search(&self, generation: u64) {
        let mut r = self.inner.lock();
        // Two searches of different generations cannot both be current later.
        match r.search_generation {
            Some(g) if g != generation => r.unguarded = true,
            _ => r.search_generation = Some(generation),
        }
    }

    pub fn keyword(&self, keyword: &str) {
        self.inner.lock().keywords.push(keyword.to_string());
    }
}

/// A stored response.
pub struct Entry {
    /// The body, LZ4-compressed with its length in front. Catalogue JSON repeats the same field
    /// names for every SKU and product: a product page with 12 SKUs keeps about two fifths of
    /// its bytes, a listing of 20 products a fifth. Expanding it again costs microseconds, and
    /// the same memory holds two and a half to five times as many responses.
    compressed: Bytes,
    pub operation_name: Option<String>,
    shared_version: (u64, u64),
    recorded: Recorded,
}

impl Entry {
    fn new(body: &[u8], operation_name: Option<String>, pending: &Pending) -> Self {
        Self {
            compressed: lz4_flex::compress_prepend_size(body).into(),
            operation_name,
            shared_version: pending.shared_version,
            recorded: pending.recorder.inner.lock().clone(),
        }
    }

    /// The stored body as it was given to `put`.
    fn body(&self) -> Option<Bytes> {
        match lz4_flex::decompress_size_prepended(&self.compressed) {
            Ok(body) => Some(body.into()),
            Err(e) => {
                tracing::error!(error = %e, "a stored response does not decompress");
                None
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of::<RequestDigest>() + self.compressed.len() + ENTRY_OVERHEAD
    }

    fn current(&self, app: &AppState) -> bool {
        app.catalog.shared_version() == self.shared_version
            && self
                .recorded
                .search_generation
                .is_none_or(|g| g == app.search.generation())
            && app.catalog.products_unchanged(&self.recorded.products)
            && self.recorded.badges.as_ref().is_none_or(|v| {
                crate::catalog::badges::versions(app, chrono::Utc::now()).as_ref() == Some(v)
            })
    }
}

/// A response being computed, to be stored when it succeeds.
pub struct Pending {
    pub recorder: Arc<Recorder>,
    shared_version: (u64, u64),
    key: RequestDigest,
}

/// What a stored response is found by: the first 16 bytes of the SHA-256 of the request's raw
/// body. Kept instead of the body, which is mostly the query text every page view repeats (a
/// product page's is about 300 bytes, 3 MB over 10,000 pages). Two bodies with the same digest
/// would share a response; for 128 bits of SHA-256 no way of finding such a pair is known.
pub type RequestDigest = [u8; 16];

/// The key a request's raw body is stored and found under (computed once per request).
pub fn digest(body: &[u8]) -> RequestDigest {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(body);
    let mut key = RequestDigest::default();
    key.copy_from_slice(&hash[..16]);
    key
}

pub struct ResponseCache {
    /// Keyed by the digest of the request's raw body; sized by bytes of keys and compressed
    /// bodies. What is asked for stays and what is not ages out (`BoundedCache`).
    entries: RwLock<BoundedCache<RequestDigest, Arc<Entry>>>,
    max_bytes: usize,
}

/// Overhead per entry beyond its key and body (map slot, entry, version list).
const ENTRY_OVERHEAD: usize = 256;

impl ResponseCache {
    /// A cache of at most about `max_bytes` of responses and their keys.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: RwLock::new(BoundedCache::new(max_bytes)),
            max_bytes,
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// The stored response to the request `key` (the `digest` of its raw body), if it is still current, and
    /// its body. The searches it made are counted again.
    pub fn get(&self, app: &AppState, key: &RequestDigest) -> Option<(Arc<Entry>, Bytes)> {
        if !self.enabled() {
            return None;
        }
        let entry = self.entries.read().get(key)?.clone();
        if !entry.current(app) {
            return None;
        }
        let body = entry.body()?;
        for k in &entry.recorded.keywords {
            app.keywords.record(k);
        }
        Some((entry, body))
    }

    /// Starts recording a response to `key`; the shared version is read now, before anything
    /// the response shows.
    pub fn begin(&self, app: &AppState, key: RequestDigest) -> Option<Pending> {
        self.enabled().then(|| Pending {
            recorder: Arc::default(),
            shared_version: app.catalog.shared_version(),
            key,
        })
    }

    /// Stores a successful response.
    pub fn put(&self, pending: Pending, body: &[u8], operation_name: Option<String>) {
        if pending.recorder.inner.lock().unguarded {
            return;
        }
        let entry = Arc::new(Entry::new(body, operation_name, &pending));
        let size = entry.size();
        self.entries.write().insert(pending.key, entry, size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> Arc<Entry> {
        let pending = Pending {
            recorder: Arc::default(),
            shared_version: (0, 0),
            key: RequestDigest::default(),
        };
        Arc::new(Entry::new(body.as_bytes(), None, &pending))
    }

    #[test]
    fn only_catalogue_fields_are_public() {
        assert!(is_public_field("QueryRoot", "product"));
        assert!(is_public_field("Sku", "costPrice"));
        assert!(!is_public_field("QueryRoot", "me"));
        assert!(!is_public_field("QueryRoot", "node"));
        assert!(!is_public_field("Order", "id"));
    }

    #[test]
    fn a_body_comes_back_as_stored_and_is_kept_compressed() {
        let sku = r#"{"id":"U2t1OjE=","specText":"颜色: 红; 尺码: M","price":"199.00","stock":42}"#;
        let body = format!(
            r#"{{"data":{{"product":{{"skus":[{}]}}}}}}"#,
            [sku; 12].join(",")
        );
        let e = entry(&body);
        assert_eq!(e.body().unwrap(), body.as_bytes());
        assert!(
            e.size() < ENTRY_OVERHEAD + 16 + body.len() / 3,
            "{} bytes kept for a {}-byte body",
            e.size() - ENTRY_OVERHEAD,
            body.len()
        );
    }

    #[test]
    fn requests_are_told_apart_by_their_whole_body() {
        let page = |id: &str| {
            format!(
                r#"{{"query":"query($id: ID!) {{ product(id: $id) {{ name }} }}","variables":{{"id":"{id}"}}}}"#
            )
        };
        assert_eq!(
            digest(page("UHJvZHVjdDox").as_bytes()),
            digest(page("UHJvZHVjdDox").as_bytes())
        );
        assert_ne!(
            digest(page("UHJvZHVjdDox").as_bytes()),
            digest(page("UHJvZHVjdDoy").as_bytes())
        );
    }

    #[test]
    fn a_response_over_two_generations_of_the_index_is_not_kept() {
        let r = Recorder::default();
        r.search(3);
        r.search(3);
        assert!(!r.inner.lock().unguarded);
        r.search(4);
        assert!(r.inner.lock().unguarded);
    }

    #[test]
    fn labels_read_at_two_versions_or_at_none_are_not_kept() {
        let r = Recorder::default();
        r.badges(Some(vec![7]));
        r.badges(Some(vec![7]));
        assert!(!r.inner.lock().unguarded);
        r.badges(Some(vec![8]));
        assert!(r.inner.lock().unguarded);
        let unknown = Recorder::default();
        unknown.badges(None);
        assert!(unknown.inner.lock().unguarded);
    }
}
