//! One-pass collector: total count, the top `offset + limit` hits in the
//! requested order, and (optionally) facet counts over every match.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::fastfield::FastFieldReaders;
use tantivy::index::InvertedIndexReader;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::{NO_VALUE, fast};
use super::{Facets, PriceBucket};

/// Lower edges of the price buckets in fen (0, 50, 100, 200, 500, 1000 yuan);
/// the last bucket is open-ended.
const PRICE_BUCKET_EDGES_FEN: [i64; 6] = [0, 5_000, 10_000, 20_000, 50_000, 100_000];

/// What hits are ordered by; ties always go to the larger product id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    Score,
    PriceAsc,
    PriceDesc,
    SalesDesc,
    NewestFirst,
}

/// A hit's sort key: larger is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Hit {
    key: i64,
    pub id: i64,
}

pub(super) struct Fruit {
    pub total: u64,
    /// Best first, at most `window` long.
    pub hits: Vec<Hit>,
    pub facets: Option<Facets>,
}

pub(super) struct ProductCollector {
    pub order: Order,
    /// offset + limit: how many of the best hits to keep.
    pub window: usize,
    pub facets: bool,
    /// The indexed audience field, for audience facets.
    pub audience: Field,
}

impl Collector for ProductCollector {
    type Fruit = Fruit;
    type Child = SegmentProductCollector;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentProductCollector> {
        let columns = reader.fast_fields();
        let sort_column = match self.order {
            Order::Score => None,
            Order::PriceAsc | Order::PriceDesc => Some(dense(columns, fast::MIN_PRICE)?),
            Order::SalesDesc => Some(dense(columns, fast::SALES)?),
            Order::NewestFirst => Some(dense(columns, fast::CREATED_AT)?),
        };
        let facets = if self.facets {
            Some(SegmentFacets {
                category: dense(columns, fast::CATEGORY_ID)?,
                brand: dense(columns, fast::BRAND_ID)?,
                min_price: dense(columns, fast::MIN_PRICE)?,
                counts: FacetCounts::default(),
                audiences: AudienceMatches {
                    postings: reader.inverted_index(self.audience)?,
                    matched: BitSet::with_max_value(reader.max_doc()),
                },
            })
        } else {
            None
        };
        Ok(SegmentProductCollector {
            ids: dense(columns, fast::ID)?,
            order: self.order,
            sort_column,
            top: TopK::new(self.window.min(reader.max_doc() as usize)),
            total: 0,
            facets,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == Order::Score
    }

    fn merge_fruits(&self, segment_fruits: Vec<SegmentFruit>) -> tantivy::Result<Fruit> {
        let mut total = 0;
        let mut hits = Vec::new();
        let mut counts = FacetCounts::default();
        let mut audiences = IdCounts::default();
        for fruit in segment_fruits {
            total += fruit.total;
            hits.extend(fruit.hits);
            if let Some((segment_counts, segment_audiences)) = fruit.facets {
                counts.add(segment_counts);
                segment_audiences.count_into(&mut audiences)?;
            }
        }
        hits.sort_unstable_by(|a, b| b.cmp(a));
        hits.truncate(self.window);
        Ok(Fruit {
            total,
            hits,
            facets: self.facets.then(|| counts.into_facets(audiences)),
        })
    }
}

/// A column every document has exactly one value in (see `NO_VALUE`).
fn dense(columns: &FastFieldReaders, name: &str) -> tantivy::Result<Arc<dyn ColumnValues<i64>>> {
    Ok(columns.i64(name)?.first_or_default_col(NO_VALUE))
}

pub(super) struct SegmentFruit {
    total: u64,
    hits: Vec<Hit>,
    facets: Option<(FacetCounts, AudienceMatches)>,
}

pub(super) struct SegmentProductCollector {
    ids: Arc<dyn ColumnValues<i64>>,
    order: Order,
    sort_column: Option<Arc<dyn ColumnValues<i64>>>,
    top: TopK,
    total: u64,
    facets: Option<SegmentFacets>,
}

impl SegmentProductCollector {
    fn key(&self, doc: DocId, score: Score) -> i64 {
        let Some(column) = &self.sort_column else {
            // Scores are non-negative, and the bits of non-negative floats
            // order like the floats.
            return if score > 0.0 {
                i64::from(score.to_bits())
            } else {
                0
            };
        };
        match column.get_val(doc) {
            // Products without a price (no SKU) go last either way.
            NO_VALUE => i64::MIN,
            price if self.order == Order::PriceAsc => -price,
            value => value,
        }
    }
}

impl SegmentCollector for SegmentProductCollector {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        let key = self.key(doc, score);
        if self.top.admits(key) {
            let id = self.ids.get_val(doc);
            self.top.push(Hit { key, id });
        }
        if let Some(facets) = &mut self.facets {
            facets.collect(doc);
        }
    }

    fn harvest(self) -> SegmentFruit {
        SegmentFruit {
            total: self.total,
            hits: self.top.heap.into_iter().map(|Reverse(hit)| hit).collect(),
            facets: self.facets.map(|f| (f.counts, f.audiences)),
        }
    }
}

/// Keeps the `limit` best hits in a min-heap.
struct TopK {
    limit: usize,
    heap: BinaryHeap<Reverse<Hit>>,
}

impl TopK {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            heap: BinaryHeap::with_capacity(limit),
        }
    }

    /// Cheap pre-check so the id is only read for hits that may enter.
    fn admits(&self, key: i64) -> bool {
        if self.heap.len() < self.limit {
            return true;
        }
        self.heap.peek().is_some_and(|worst| key >= worst.0.key)
    }

    fn push(&mut self, hit: Hit) {
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(hit));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && hit > worst.0
        {
            *worst = Reverse(hit);
        }
    }
}

struct SegmentFacets {
    category: Arc<dyn ColumnValues<i64>>,
    brand: Arc<dyn ColumnValues<i64>>,
    min_price: Arc<dyn ColumnValues<i64>>,
    counts: FacetCounts,
    audiences: AudienceMatches,
}

impl SegmentFacets {
    fn collect(&mut self, doc: DocId) {
        let counts = &mut self.counts;
        let category = self.category.get_val(doc);
        if category != NO_VALUE {
            *counts.categories.entry(category).or_default() += 1;
        }
        let brand = self.brand.get_val(doc);
        if brand != NO_VALUE {
            *counts.brands.entry(brand).or_default() += 1;
        }
        self.audiences.matched.insert(doc);
        let price = self.min_price.get_val(doc);
        counts.price_buckets[price_bucket((price != NO_VALUE).then_some(price))] += 1;
    }
}

/// Audiences are few (男士, 女士, 儿童…) but multi-valued, and reading a
/// multi-valued fast column per match cost more than all other facets
/// together. Instead the matches of a segment are noted in a bitset, and each
/// audience's posting list is checked against it once the segment is done.
struct AudienceMatches {
    postings: Arc<InvertedIndexReader>,
    matched: BitSet,
}

impl AudienceMatches {
    fn count_into(&self, counts: &mut IdCounts) -> tantivy::Result<()> {
        let mut terms = self.postings.terms().stream()?;
        while terms.advance() {
            let Ok(bytes) = <[u8; 8]>::try_from(terms.key()) else {
                continue;
            };
            let id = tantivy::u64_to_i64(u64::from_be_bytes(bytes));
            let mut block = self
                .postings
                .read_block_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
            let mut count = 0;
            while !block.docs().is_empty() {
                count += block
                    .docs()
                    .iter()
                    .filter(|&&doc| self.matched.contains(doc))
                    .count();
                block.advance();
            }
            if count > 0 {
                *counts.entry(id).or_default() += count as u64;
            }
        }
        Ok(())
    }
}

/// Products without a price, or with a negative one, count in the first bucket
/// so that every match is in exactly one bucket.
fn price_bucket(min_price: Option<i64>) -> usize {
    let price = min_price.unwrap_or(0);
    PRICE_BUCKET_EDGES_FEN
        .partition_point(|&edge| edge <= price)
        .saturating_sub(1)
}

/// Counting facets hashes a few ids per matching document; SipHash (the
/// std default, DoS-resistant) costs more than the rest of the collection.
/// Ids come from our own database, so a multiplicative hash is enough.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_i64(&mut self, id: i64) {
        self.write_u64(id as u64);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        // The table uses both the low bits (bucket) and the high bits (tag).
        self.0 ^ (self.0 >> 32)
    }
}

type IdCounts = HashMap<i64, u64, BuildHasherDefault<IdHasher>>;

/// Single-valued facets, counted per match (audiences: see `AudienceMatches`).
#[derive(Default)]
struct FacetCounts {
    categories: IdCounts,
    brands: IdCounts,
    price_buckets: [u64; PRICE_BUCKET_EDGES_FEN.len()],
}

impl FacetCounts {
    fn add(&mut self, other: FacetCounts) {
        let maps = [
            (&mut self.categories, other.categories),
            (&mut self.brands, other.brands),
        ];
        for (into, from) in maps {
            for (id, count) in from {
                *into.entry(id).or_default() += count;
            }
        }
        for (into, from) in self.price_buckets.iter_mut().zip(other.price_buckets) {
            *into += from;
        }
    }

    fn into_facets(self, audiences: IdCounts) -> Facets {
        let price_buckets = PRICE_BUCKET_EDGES_FEN
            .iter()
            .enumerate()
            .map(|(i, &min_fen)| PriceBucket {
                min_fen,
                max_fen: PRICE_BUCKET_EDGES_FEN.get(i + 1).copied(),
                count: self.price_buckets[i],
            })
            .collect();
        Facets {
            categories: sorted_counts(self.categories),
            brands: sorted_counts(self.brands),
            audiences: sorted_counts(audiences),
            price_buckets,
        }
    }
}

/// Most frequent first, then by id for a stable order.
fn sorted_counts(counts: IdCounts) -> Vec<(i64, u64)> {
    let mut counts: Vec<(i64, u64)> = counts.into_iter().collect();
    counts.sort_unstable_by_key(|&(id, count)| (Reverse(count), id));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_buckets_cover_everything_once() {
        assert_eq!(price_bucket(None), 0);
        assert_eq!(price_bucket(Some(-5)), 0);
        assert_eq!(price_bucket(Some(0)), 0);
        assert_eq!(price_bucket(Some(4_999)), 0);
        assert_eq!(price_bucket(Some(5_000)), 1);
        assert_eq!(price_bucket(Some(99_999)), 4);
        assert_eq!(price_bucket(Some(100_000)), 5);
        assert_eq!(price_bucket(Some(i64::MAX)), 5);
    }

    #[test]
    fn top_k_keeps_best_with_id_tiebreak() {
        let mut top = TopK::new(2);
        for (key, id) in [(1, 1), (5, 2), (5, 3), (3, 4), (5, 1)] {
            if top.admits(key) {
                top.push(Hit { key, id });
            }
        }
        let mut hits: Vec<Hit> = top.heap.into_iter().map(|Reverse(h)| h).collect();
        hits.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(hits, vec![Hit { key: 5, id: 3 }, Hit { key: 5, id: 2 }]);
    }
}
