//! A result cache in front of any `SearchIndex`. Shoppers repeat the same searches (the hot
//! keywords, category pages, the first page of everything), and a cached result costs a hash
//! lookup instead of a scored search. Every write through the index empties the cache, so a
//! result is never older than the index it came from.
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;

use super::{ProductDoc, SearchIndex, SearchQuery, SearchResult};

/// Results kept at most; past it the cache starts over.
const CAPACITY: usize = 4096;

pub struct CachedIndex {
    inner: Arc<dyn SearchIndex>,
    results: Mutex<HashMap<SearchQuery, Arc<SearchResult>>>,
    /// Bumped once a write is visible here, that is after the results cache was emptied.
    generation: AtomicU64,
}

impl CachedIndex {
    pub fn new(inner: Arc<dyn SearchIndex>) -> Self {
        Self {
            inner,
            results: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn forget(&self) {
        self.results.lock().clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl SearchIndex for CachedIndex {
    fn upsert(&self, docs: &[ProductDoc]) -> anyhow::Result<()> {
        let r = self.inner.upsert(docs);
        self.forget();
        r
    }

    fn delete(&self, ids: &[i64]) -> anyhow::Result<()> {
        let r = self.inner.delete(ids);
        self.forget();
        r
    }

    fn rebuild(&self, docs: &mut dyn Iterator<Item = ProductDoc>) -> anyhow::Result<()> {
        let r = self.inner.rebuild(docs);
        self.forget();
        r
    }

    fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResult> {
        if let Some(hit) = self.results.lock().get(q) {
            return Ok((**hit).clone());
        }
        let before = self.generation.load(Ordering::SeqCst);
        let result = self.inner.search(q)?;
        let mut cache = self.results.lock();
        // A write that landed while this search ran may have emptied the cache already: its
        // result would outlive the change.
        if self.generation.load(Ordering::SeqCst) == before {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(q.clone(), Arc::new(result.clone()));
        }
        Ok(result)
    }

    fn suggest(&self, prefix: &str, limit: usize) -> anyhow::Result<Vec<String>> {
        self.inner.suggest(prefix, limit)
    }

    fn meta(&self) -> anyhow::Result<Option<String>> {
        self.inner.meta()
    }

    fn set_meta(&self, meta: &str) -> anyhow::Result<()> {
        self.inner.set_meta(meta)
    }

    fn doc_count(&self) -> anyhow::Result<u64> {
        self.inner.doc_count()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::in_memory;

    fn doc(id: i64, name: &str) -> ProductDoc {
        ProductDoc {
            id,
            name: name.into(),
            on_sale: true,
            sku_prices_fen: vec![100],
            ..ProductDoc::default()
        }
    }

    fn query(k: &str) -> SearchQuery {
        SearchQuery {
            keyword: Some(k.into()),
            ..SearchQuery::default()
        }
    }

    #[test]
    fn writes_are_visible_to_the_next_search() {
        let index = CachedIndex::new(in_memory().unwrap());
        index.upsert(&[doc(1, "跑步鞋")]).unwrap();
        assert_eq!(index.search(&query("跑步鞋")).unwrap().ids, vec![1]);
        assert_eq!(
            index.search(&query("跑步鞋")).unwrap().ids,
            vec![1],
            "from the cache"
        );
        index.upsert(&[doc(2, "跑步鞋 新款")]).unwrap();
        assert_eq!(index.search(&query("跑步鞋")).unwrap().total, 2);
        index.delete(&[1, 2]).unwrap();
        assert_eq!(index.search(&query("跑步鞋")).unwrap().total, 0);
        index
            .rebuild(&mut vec![doc(3, "跑步鞋")].into_iter())
            .unwrap();
        assert_eq!(index.search(&query("跑步鞋")).unwrap().ids, vec![3]);
    }
}
