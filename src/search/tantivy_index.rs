//! [`SearchIndex`] on tantivy.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use parking_lot::{Mutex, RwLock};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::{IndexWriterOptions, LogMergePolicy};
use tantivy::schema::{Schema, Value};
use tantivy::{
    Directory, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher,
    TantivyDocument, Term,
};

use super::analyzer::release_idle_dictionary;
use super::collector::{Order, ProductCollector};
use super::keyword_dictionary::KeywordDictionary;
use super::query::build_query;
use super::schema::{Fields, build_schema, fast, register_tokenizers, to_document};
use super::suggest::{SuggestSource, Suggester};
use super::{ProductDoc, SearchIndex, SearchQuery, SearchResult, SearchSort};

/// Bump whenever the schema or the analysis changes: an index written by
/// another version is discarded and rebuilt.
const SCHEMA_VERSION: u32 = 1;
const PAYLOAD_TAG: &str = "distmall-search";
/// Indexing memory per writer thread; segments are flushed when it is full.
const WRITER_MEMORY_PER_THREAD: usize = 64 << 20;
const MAX_WRITER_THREADS: usize = 4;
/// Indexing lets go of jieba's whole dictionary after this long without a document.
const INDEXING_DICTIONARY_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Bookkeeping stored as the payload of every commit (tantivy keeps the
/// payload of the last commit in meta.json), so it is persisted atomically
/// with the data it describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Payload {
    /// A rebuild has completed on this index.
    built: bool,
    /// The caller's opaque meta.
    meta: Option<String>,
}

impl Payload {
    /// First line: tag, version, state; the rest (if any): the meta.
    fn encode(&self) -> String {
        let state = if self.built { "built" } else { "empty" };
        let header = format!("{PAYLOAD_TAG} v{SCHEMA_VERSION} {state}");
        match &self.meta {
            Some(meta) => format!("{header}\n{meta}"),
            None => header,
        }
    }

    /// `None` unless written by this schema version.
    fn decode(payload: &str) -> Option<Payload> {
        let (header, meta) = match payload.split_once('\n') {
            Some((header, meta)) => (header, Some(meta.to_owned())),
            None => (payload, None),
        };
        let built = match header.strip_prefix(&format!("{PAYLOAD_TAG} v{SCHEMA_VERSION} "))? {
            "built" => true,
            "empty" => false,
            _ => return None,
        };
        Some(Payload { built, meta })
    }
}

/// State only touched by writers, under one lock.
struct WriterState {
    writer: IndexWriter,
    payload: Payload,
    /// Suggestion inputs of every on-sale product, by id.
    sources: HashMap<i64, SuggestSource>,
}

pub(super) struct TantivySearchIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<WriterState>,
    /// Snapshots for lock-free reads of what writers maintain.
    suggester: RwLock<Arc<Suggester>>,
    meta: RwLock<Option<String>>,
    /// Writes completed (see [`SearchIndex::generation`]).
    generation: std::sync::atomic::AtomicU64,
    keywords: KeywordDictionary,
}

impl TantivySearchIndex {
    pub fn open_or_create(dir: &Path) -> anyhow::Result<(Self, bool)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating search index directory {}", dir.display()))?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(dir)
            .with_context(|| format!("opening search index directory {}", dir.display()))?;
        let (index, payload) = match open_compatible(&directory, &schema) {
            Some(found) => found,
            None => (
                create_discarding_old(directory, schema)?,
                Payload::default(),
            ),
        };
        let needs_rebuild = !payload.built;
        Ok((Self::new(index, fields, payload)?, needs_rebuild))
    }

    pub fn in_memory() -> anyhow::Result<Self> {
        let (schema, fields) = build_schema();
        Self::new(Index::create_in_ram(schema), fields, Payload::default())
    }

    fn new(index: Index, fields: Fields, payload: Payload) -> anyhow::Result<Self> {
        register_tokenizers(&index);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WRITER_THREADS);
        let writer = index.writer_with_options(
            IndexWriterOptions::builder()
                .num_worker_threads(threads)
                .memory_budget_per_thread(WRITER_MEMORY_PER_THREAD)
                .num_merge_threads(1)
                .build(),
        )?;
        writer.set_merge_policy(Box::new(merge_policy()));
        // Our own commits reload explicitly (read-your-writes); the policy
        // picks up the segments that background merges produce.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        let sources = load_sources(&reader.searcher(), &fields)?;
        Ok(Self {
            fields,
            suggester: RwLock::new(Arc::new(Suggester::build(sources.values()))),
            meta: RwLock::new(payload.meta.clone()),
            generation: Default::default(),
            keywords: KeywordDictionary::default(),
            writer: Mutex::new(WriterState {
                writer,
                payload,
                sources,
            }),
            reader,
        })
    }

    /// Runs a write under the writer lock; on failure, discards whatever the
    /// write left uncommitted so that the next commit does not publish half
    /// of it.
    fn write(&self, f: impl FnOnce(&mut WriterState) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut state = self.writer.lock();
        let result = f(&mut state);
        if result.is_err() {
            // The original error matters more than a failing rollback.
            let _ = state.writer.rollback();
        }
        // After the commit, the reader reload and the new suggestions are all visible.
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        result
    }

    /// Commits with `payload` and makes the commit visible to searches.
    fn commit(&self, writer: &mut IndexWriter, payload: &Payload) -> anyhow::Result<()> {
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload.encode());
        prepared.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn publish_suggestions(&self, sources: &HashMap<i64, SuggestSource>) {
        // Built before taking the lock: readers only wait for the swap.
        let suggester = Arc::new(Suggester::build(sources.values()));
        *self.suggester.write() = suggester;
    }
}

/// Tantivy's default lumps every segment under 10,000 documents into one
/// level, so with a commit per product change a catalog of that size would be
/// merged whole every few upserts. Here one-product segments are merged among
/// themselves, early (each segment costs every search a little), and large
/// segments only once enough of their documents have been replaced.
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_layer_size(100);
    policy.set_min_num_segments(4);
    policy.set_del_docs_ratio_before_merge(0.2);
    policy
}

/// The existing index, if there is one this version can use.
fn open_compatible(directory: &MmapDirectory, schema: &Schema) -> Option<(Index, Payload)> {
    // An unreadable index is treated like an incompatible one: it is
    // discarded and rebuilt from the database, the source of truth.
    if !Index::exists(directory).ok()? {
        return None;
    }
    let index = Index::open(directory.clone()).ok()?;
    if index.schema() != *schema {
        return None;
    }
    let payload = Payload::decode(index.load_metas().ok()?.payload.as_deref()?)?;
    Some((index, payload))
}

/// Creates an empty index. Removing meta.json is enough to discard an old
/// one: its files stay listed in tantivy's managed-files list and are
/// garbage-collected after the first commit.
fn create_discarding_old(directory: MmapDirectory, schema: Schema) -> anyhow::Result<Index> {
    let meta = Path::new("meta.json");
    if directory.exists(meta)? {
        directory.delete(meta)?;
    }
    Ok(Index::create(directory, schema, IndexSettings::default())?)
}

fn suggest_source(doc: &ProductDoc) -> Option<SuggestSource> {
    doc.on_sale
        .then(|| SuggestSource::new(&doc.name, &doc.brand_name, doc.sales))
}

/// Suggestion inputs of the on-sale products already in the index.
fn load_sources(
    searcher: &Searcher,
    fields: &Fields,
) -> anyhow::Result<HashMap<i64, SuggestSource>> {
    let mut sources = HashMap::new();
    for segment in searcher.segment_readers() {
        let columns = segment.fast_fields();
        let ids = columns.i64(fast::ID)?;
        let on_sale = columns.bool(fast::ON_SALE)?;
        let sales = columns.i64(fast::SALES)?;
        let store = segment.get_store_reader(16)?;
        for doc in segment.doc_ids_alive() {
            if on_sale.first(doc) != Some(true) {
                continue;
            }
            let stored: TantivyDocument = store.get(doc)?;
            let text = |field| {
                let value = stored.get_first(field);
                value.and_then(|v| v.as_str()).unwrap_or_default()
            };
            let source = SuggestSource::new(
                text(fields.name_stored),
                text(fields.brand_stored),
                sales.first(doc).unwrap_or_default(),
            );
            sources.insert(ids.first(doc).unwrap_or_default(), source);
        }
    }
    Ok(sources)
}

fn order_for(sort: SearchSort, has_keyword: bool) -> Order {
    match sort {
        SearchSort::Relevance if has_keyword => Order::Score,
        SearchSort::Relevance | SearchSort::Newest => Order::NewestFirst,
        SearchSort::PriceAsc => Order::PriceAsc,
        SearchSort::PriceDesc => Order::PriceDesc,
        SearchSort::Sales => Order::SalesDesc,
    }
}

impl SearchIndex for TantivySearchIndex {
    fn upsert(&self, docs: &[ProductDoc]) -> anyhow::Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        self.write(|state| {
            for doc in docs {
                // A delete only hits documents added before it, so a repeated
                // id within `docs` ends up as its last version.
                state
                    .writer
                    .delete_term(Term::from_field_i64(self.fields.id, doc.id));
                state.writer.add_document(to_document(&self.fields, doc))?;
            }
            self.commit(&mut state.writer, &state.payload)?;
            for doc in docs {
                match suggest_source(doc) {
                    Some(source) => state.sources.insert(doc.id, source),
                    None => state.sources.remove(&doc.id),
                };
            }
            self.publish_suggestions(&state.sources);
            Ok(())
        })
    }

    fn delete(&self, ids: &[i64]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|state| {
            for &id in ids {
                state
                    .writer
                    .delete_term(Term::from_field_i64(self.fields.id, id));
            }
            self.commit(&mut state.writer, &state.payload)?;
            for id in ids {
                state.sources.remove(id);
            }
            self.publish_suggestions(&state.sources);
            Ok(())
        })
    }

    fn rebuild(&self, docs: &mut dyn Iterator<Item = ProductDoc>) -> anyhow::Result<()> {
        self.write(|state| {
            state.writer.delete_all_documents()?;
            let mut seen = HashSet::new();
            let mut sources = HashMap::new();
            for doc in docs {
                if !seen.insert(doc.id) {
                    // Keep the last version of a repeated id.
                    state
                        .writer
                        .delete_term(Term::from_field_i64(self.fields.id, doc.id));
                    sources.remove(&doc.id);
                }
                state.writer.add_document(to_document(&self.fields, &doc))?;
                if let Some(source) = suggest_source(&doc) {
                    sources.insert(doc.id, source);
                }
            }
            let payload = Payload {
                built: true,
                ..state.payload.clone()
            };
            self.commit(&mut state.writer, &payload)?;
            state.payload = payload;
            state.sources = sources;
            self.publish_suggestions(&state.sources);
            Ok(())
        })
    }

    fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResult> {
        release_idle_dictionary(INDEXING_DICTIONARY_IDLE);
        let searcher = self.reader.searcher();
        // Category pages and other searches without a keyword need no dictionary: they do not
        // build one for every new generation of the index.
        let dictionary = match q.keyword {
            Some(_) => Some(self.keywords.for_searcher(&searcher, &self.fields)?),
            None => None,
        };
        let (query, has_keyword) = build_query(&self.fields, q, dictionary.as_deref());
        let collector = ProductCollector {
            order: order_for(q.sort, has_keyword),
            window: q.offset.saturating_add(q.limit),
            facets: q.with_facets,
            audience: self.fields.audience,
        };
        let fruit = searcher.search(query.as_ref(), &collector)?;
        Ok(SearchResult {
            total: fruit.total,
            ids: fruit
                .hits
                .into_iter()
                .skip(q.offset)
                .map(|hit| hit.id)
                .collect(),
            facets: fruit.facets,
        })
    }

    fn suggest(&self, prefix: &str, limit: usize) -> anyhow::Result<Vec<String>> {
        let suggester = Arc::clone(&self.suggester.read());
        Ok(suggester.suggest(prefix, limit))
    }

    fn meta(&self) -> anyhow::Result<Option<String>> {
        Ok(self.meta.read().clone())
    }

    fn set_meta(&self, meta: &str) -> anyhow::Result<()> {
        self.write(|state| {
            let payload = Payload {
                meta: Some(meta.to_owned()),
                ..state.payload.clone()
            };
            self.commit(&mut state.writer, &payload)?;
            state.payload = payload;
            *self.meta.write() = Some(meta.to_owned());
            Ok(())
        })
    }

    fn doc_count(&self) -> anyhow::Result<u64> {
        Ok(self.reader.searcher().num_docs())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        for payload in [
            Payload::default(),
            Payload {
                built: true,
                meta: Some("{\"outbox\": 42}\nsecond line".into()),
            },
            Payload {
                built: true,
                meta: Some(String::new()),
            },
        ] {
            assert_eq!(Payload::decode(&payload.encode()), Some(payload));
        }
        assert_eq!(Payload::decode("distmall-search v0 built"), None);
        assert_eq!(Payload::decode("something else"), None);
    }
}
