//! The dictionary keywords are cut with: every word the index's words fields hold, weighted by
//! how many documents hold it (see `analyzer::query_dictionary`). It follows the searcher: a
//! search on a newer generation of the index rebuilds it, unless building is costly and was
//! done a moment ago. A dictionary a little behind only misses words added since; those are
//! still found as substrings.
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use jieba_rs::Jieba;
use parking_lot::{Mutex, RwLock};
use tantivy::Searcher;

use super::{analyzer::query_dictionary, schema::Fields};

/// Below this, a dictionary is rebuilt for every new generation of the index.
const CHEAP_BUILD: Duration = Duration::from_millis(50);
/// A costlier build waits this many times its own duration after the last one, so that
/// keeping up with a busy catalogue takes at most a twentieth of one core.
const SPACING_PER_BUILD: u32 = 20;

struct Built {
    generation: u64,
    at: Instant,
    took: Duration,
    jieba: Arc<Jieba>,
}

#[derive(Default)]
pub(super) struct KeywordDictionary {
    current: RwLock<Option<Arc<Built>>>,
    /// Held by the one search that rebuilds it; the others go on with the current one.
    building: Mutex<()>,
}

impl KeywordDictionary {
    /// The dictionary for searches on `searcher`.
    pub fn for_searcher(&self, searcher: &Searcher, fields: &Fields) -> anyhow::Result<Arc<Jieba>> {
        let generation = searcher.generation().generation_id();
        let current = self.current.read().clone();
        if let Some(built) = &current
            && !due(built, generation)
        {
            return Ok(built.jieba.clone());
        }
        let _turn = match (&current, self.building.try_lock()) {
            (_, Some(turn)) => turn,
            (Some(built), None) => return Ok(built.jieba.clone()),
            (None, None) => self.building.lock(),
        };
        if let Some(built) = &*self.current.read()
            && built.generation == generation
        {
            return Ok(built.jieba.clone());
        }
        let started = Instant::now();
        let jieba = Arc::new(query_dictionary(
            words_of(searcher, fields)?
                .iter()
                .map(|(word, documents)| (word.as_str(), *documents)),
        ));
        *self.current.write() = Some(Arc::new(Built {
            generation,
            at: Instant::now(),
            took: started.elapsed(),
            jieba: jieba.clone(),
        }));
        Ok(jieba)
    }
}

fn due(built: &Built, generation: u64) -> bool {
    built.generation != generation
        && (built.took < CHEAP_BUILD || built.at.elapsed() >= built.took * SPACING_PER_BUILD)
}

/// Every term of the words fields, with the number of documents holding it (summed over
/// segments and fields; deleted documents still count until their segment is merged).
fn words_of(searcher: &Searcher, fields: &Fields) -> anyhow::Result<HashMap<String, u64>> {
    let mut words: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        for tier in &fields.tiers {
            let inverted = segment.inverted_index(tier.words)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                if let Ok(word) = std::str::from_utf8(terms.key()) {
                    *words.entry(word.to_string()).or_default() +=
                        u64::from(terms.value().doc_freq);
                }
            }
        }
    }
    Ok(words)
}
