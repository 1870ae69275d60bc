//! Builds tantivy queries from a [`SearchQuery`], programmatically: user text
//! never reaches tantivy's query parser, so no input can be a syntax error.

use std::ops::Bound;

use jieba_rs::Jieba;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::SearchQuery;
use super::analyzer::{PositionedTerm, QueryGroup, QueryWord, analyze_keyword};
use super::schema::{Fields, NO_VALUE, Tier};

/// A group found as a real word (not just a substring) scores this much
/// more: "女装" in "时尚女装" beats "女装" straddling "少女|装饰".
const WORD_MATCH_BOOST: f32 = 1.5;

/// The query and whether it has a keyword part (i.e. scores mean something).
/// A keyword is cut into words with `dictionary` (see `analyzer::query_dictionary`), which
/// the caller gives whenever `q` has one.
pub(super) fn build_query(
    fields: &Fields,
    q: &SearchQuery,
    dictionary: Option<&Jieba>,
) -> (Box<dyn Query>, bool) {
    let analyzed = q
        .keyword
        .as_deref()
        .zip(dictionary)
        .and_then(|(keyword, dictionary)| analyze_keyword(keyword, dictionary));
    let words = match analyzed {
        None => Vec::new(),
        // Something was typed, but nothing searchable (only emoji…).
        Some(words) if words.is_empty() => return (Box::new(EmptyQuery), false),
        Some(words) => words,
    };
    let has_keyword = !words.is_empty();
    let Some(filters) = filter_queries(fields, q) else {
        return (Box::new(EmptyQuery), false);
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|word| (Occur::Must, word_query(fields, word)))
        .collect();
    // Filters must not change scores.
    clauses.extend(filters.into_iter().map(|f| {
        (
            Occur::Must,
            Box::new(ConstScoreQuery::new(f, 0.0)) as Box<dyn Query>,
        )
    }));
    if !q.exclude_ids.is_empty() {
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        clauses.push((Occur::MustNot, any_of(fields.id, &q.exclude_ids)));
    }
    if clauses.is_empty() {
        return (Box::new(AllQuery), false);
    }
    (Box::new(BooleanQuery::new(clauses)), has_keyword)
}

/// Every group of the typed word must match; the whole word as one substring
/// adds to the score.
fn word_query(fields: &Fields, word: &QueryWord) -> Box<dyn Query> {
    if let [group] = word.groups.as_slice() {
        return group_query(fields, group);
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = word
        .groups
        .iter()
        .map(|group| (Occur::Must, group_query(fields, group)))
        .collect();
    clauses.extend(fields.tiers.iter().map(|tier| {
        (
            Occur::Should,
            boosted(grams_query(tier.grams, &word.grams), tier.boost),
        )
    }));
    Box::new(BooleanQuery::new(clauses))
}

/// The group as a substring (grams) or as a word, in any tier.
fn group_query(fields: &Fields, group: &QueryGroup) -> Box<dyn Query> {
    let mut alternatives: Vec<Box<dyn Query>> = Vec::with_capacity(fields.tiers.len() * 2);
    for tier in &fields.tiers {
        alternatives.push(boosted(grams_query(tier.grams, &group.grams), tier.boost));
        if let Some(word) = &group.word {
            alternatives.push(word_term_query(tier, word));
        }
    }
    Box::new(BooleanQuery::union(alternatives))
}

fn word_term_query(tier: &Tier, word: &str) -> Box<dyn Query> {
    let term = Term::from_field_text(tier.words, word);
    boosted(
        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
        tier.boost * WORD_MATCH_BOOST,
    )
}

fn grams_query(field: Field, grams: &[PositionedTerm]) -> Box<dyn Query> {
    let mut terms: Vec<(usize, Term)> = grams
        .iter()
        .map(|(offset, text)| (*offset, Term::from_field_text(field, text)))
        .collect();
    if terms.len() == 1 {
        let (_, term) = terms.swap_remove(0);
        return Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
    }
    Box::new(PhraseQuery::new_with_offset(terms))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

/// The filter clauses, or `None` when the filters cannot match anything.
fn filter_queries(f: &Fields, q: &SearchQuery) -> Option<Vec<Box<dyn Query>>> {
    let mut filters: Vec<Box<dyn Query>> = Vec::new();
    if !q.include_unpublished {
        filters.push(bool_query(f.on_sale));
    }
    if q.in_stock_only {
        filters.push(bool_query(f.in_stock));
    }
    if let Some(category) = q.category_id {
        filters.push(Box::new(TermQuery::new(
            Term::from_field_i64(f.category_path, category),
            IndexRecordOption::Basic,
        )));
    }
    if !q.brand_ids.is_empty() {
        filters.push(any_of(f.brand_id, &q.brand_ids));
    }
    if !q.audience_ids.is_empty() {
        filters.push(any_of(f.audience, &q.audience_ids));
    }
    if q.price_min_fen.is_some() || q.price_max_fen.is_some() {
        if let (Some(min), Some(max)) = (q.price_min_fen, q.price_max_fen)
            && min > max
        {
            return None;
        }
        let bound = |v: Option<i64>| match v {
            Some(v) => Bound::Included(Term::from_field_i64(f.price, v)),
            None => Bound::Unbounded,
        };
        filters.push(Box::new(RangeQuery::new(
            bound(q.price_min_fen),
            bound(q.price_max_fen),
        )));
    }
    Some(filters)
}

fn bool_query(field: Field) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_bool(field, true),
        IndexRecordOption::Basic,
    ))
}

/// Any of the ids; `NO_VALUE` marks "no brand" in the index and is not an id
/// anyone can ask for.
fn any_of(field: Field, ids: &[i64]) -> Box<dyn Query> {
    let terms = ids
        .iter()
        .filter(|&&id| id != NO_VALUE)
        .map(|&id| Term::from_field_i64(field, id));
    Box::new(TermSetQuery::new(terms))
}
