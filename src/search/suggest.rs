//! Search-box completions over product and brand names of on-sale products.
//!
//! A [`Suggester`] is an immutable snapshot built from [`SuggestSource`]s
//! (kept by the index for every on-sale product) and replaced after each
//! commit, so lookups never wait for writers.

use std::collections::HashMap;
use std::sync::Arc;

use super::analyzer::normalize;

/// Prefixes are cut to this many characters (no name is longer in practice).
const MAX_PREFIX_CHARS: usize = 100;

/// A text to suggest: as shown, and normalized for matching. Shared, since
/// every snapshot rebuild copies all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Phrase {
    display: Arc<str>,
    key: Arc<str>,
}

impl Phrase {
    fn new(text: &str) -> Self {
        Self {
            display: tidy(text).into(),
            key: normalize_phrase(text).into(),
        }
    }
}

/// What an on-sale product contributes to suggestions, normalized once when
/// the product is written rather than on every snapshot rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SuggestSource {
    name: Phrase,
    brand: Phrase,
    sales: i64,
}

impl SuggestSource {
    pub fn new(name: &str, brand: &str, sales: i64) -> Self {
        Self {
            name: Phrase::new(name),
            brand: Phrase::new(brand),
            sales,
        }
    }
}

struct Suggestion {
    /// Normalized text (see [`normalize_phrase`]); entries are sorted by it.
    key: Arc<str>,
    /// Text to show: the spelling of the best-selling product using it.
    display: Arc<str>,
    /// Sales of that product (decides between spellings).
    display_weight: i64,
    /// Sales summed over the products it stands for, so a brand ranks at
    /// least as high as its best-selling product.
    weight: i64,
}

pub(super) struct Suggester {
    /// Sorted by key, for prefix ranges.
    entries: Vec<Suggestion>,
    /// Entry indexes, best first.
    ranked: Vec<u32>,
    /// Position of each entry in `ranked`.
    rank_of: Vec<u32>,
}

/// NFKC, lowercase, single spaces, trimmed.
fn normalize_phrase(text: &str) -> String {
    tidy(&normalize(text))
}

fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Suggester {
    pub fn build<'a>(sources: impl IntoIterator<Item = &'a SuggestSource>) -> Self {
        let sources = sources.into_iter();
        let mut by_key: HashMap<&str, Suggestion> = HashMap::with_capacity(sources.size_hint().0);
        for source in sources {
            for phrase in [&source.name, &source.brand] {
                add_phrase(&mut by_key, phrase, source.sales);
            }
        }
        let mut entries: Vec<Suggestion> = by_key.into_values().collect();
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));

        let mut ranked: Vec<u32> = (0..entries.len() as u32).collect();
        // Cached: counting characters in every comparison dominated the build.
        ranked.sort_by_cached_key(|&i| {
            let e = &entries[i as usize];
            (std::cmp::Reverse(e.weight), e.key.chars().count(), i)
        });
        let mut rank_of = vec![0; entries.len()];
        for (rank, &i) in ranked.iter().enumerate() {
            rank_of[i as usize] = rank as u32;
        }
        Self {
            entries,
            ranked,
            rank_of,
        }
    }

    /// Texts starting with `prefix` (after normalization), best first, then
    /// if there are fewer than `limit` of them, texts containing it.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<String> {
        let prefix: String = prefix.chars().take(MAX_PREFIX_CHARS).collect();
        let prefix = normalize_phrase(&prefix);
        if prefix.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut ranks = self.prefix_ranks(&prefix);
        ranks.sort_unstable();
        ranks.truncate(limit);
        let mut found: Vec<usize> = ranks
            .iter()
            .map(|&r| self.ranked[r as usize] as usize)
            .collect();
        if found.len() < limit {
            let containing = self
                .ranked
                .iter()
                .map(|&i| i as usize)
                .filter(|&i| {
                    let key = &self.entries[i].key;
                    !key.starts_with(&prefix) && key.contains(&prefix)
                })
                .take(limit - found.len());
            found.extend(containing);
        }
        found
            .into_iter()
            .map(|i| self.entries[i].display.to_string())
            .collect()
    }

    /// Ranks of all entries whose key starts with `prefix`.
    fn prefix_ranks(&self, prefix: &str) -> Vec<u32> {
        let start = self.entries.partition_point(|e| &*e.key < prefix);
        let len = self.entries[start..]
            .iter()
            .take_while(|e| e.key.starts_with(prefix))
            .count();
        self.rank_of[start..start + len].to_vec()
    }
}

fn add_phrase<'a>(by_key: &mut HashMap<&'a str, Suggestion>, phrase: &'a Phrase, sales: i64) {
    if phrase.key.is_empty() {
        return;
    }
    let weight = sales.max(0);
    let entry = by_key.entry(&phrase.key).or_insert_with(|| Suggestion {
        key: phrase.key.clone(),
        display: phrase.display.clone(),
        display_weight: weight,
        weight: 0,
    });
    entry.weight = entry.weight.saturating_add(weight);
    // Ties go to the smaller spelling, so the result does not depend on the
    // order products come in.
    let better = weight > entry.display_weight
        || (weight == entry.display_weight && phrase.display < entry.display);
    if better {
        entry.display = phrase.display.clone();
        entry.display_weight = weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, brand: &str, sales: i64) -> SuggestSource {
        SuggestSource::new(name, brand, sales)
    }

    #[test]
    fn prefix_then_contains_ranked_by_sales() {
        let sources = [
            source("耐克男子轻便跑步运动鞋", "耐克", 50),
            source("耐克女子休闲鞋", "耐克", 80),
            source("阿迪达斯运动鞋", "阿迪达斯", 10),
            source("防滑耐磨登山鞋", "探路者", 500),
        ];
        let s = Suggester::build(&sources);
        assert_eq!(
            s.suggest("耐", 10),
            vec![
                "耐克",
                "耐克女子休闲鞋",
                "耐克男子轻便跑步运动鞋",
                "防滑耐磨登山鞋"
            ]
        );
        assert_eq!(s.suggest("耐", 2), vec!["耐克", "耐克女子休闲鞋"]);
        assert_eq!(
            s.suggest("运动鞋", 5),
            vec!["耐克男子轻便跑步运动鞋", "阿迪达斯运动鞋"]
        );
        assert!(s.suggest("", 5).is_empty());
        assert!(s.suggest("耐", 0).is_empty());
        assert!(s.suggest("不存在", 5).is_empty());
    }

    #[test]
    fn normalizes_case_width_and_spaces() {
        let s = Suggester::build(&[source("Nike  Air Max", "Nike 耐克", 1)]);
        assert_eq!(s.suggest("ＮＩ", 5), vec!["Nike 耐克", "Nike Air Max"]);
        assert_eq!(s.suggest("nike  air", 5), vec!["Nike Air Max"]);
        assert_eq!(s.suggest("  ", 5), Vec::<String>::new());
    }

    #[test]
    fn duplicates_are_merged() {
        let s = Suggester::build(&[source("耐克", "耐克", 1), source("耐克", "", 2)]);
        assert_eq!(s.suggest("耐", 5), vec!["耐克"]);
        // The best-selling spelling wins, ties go to the smaller one.
        let spellings = [
            source("nike", "", 1),
            source("Nike", "", 1),
            source("NIKE", "", 1),
        ];
        assert_eq!(Suggester::build(&spellings).suggest("n", 5), vec!["NIKE"]);
        let spellings = [source("nike", "", 1), source("Nike", "", 3)];
        assert_eq!(Suggester::build(&spellings).suggest("n", 5), vec!["Nike"]);
    }
}
