//! Text analysis shared by indexing and querying.
//!
//! Every text goes through the same pipeline so that the terms built for a
//! query are exactly the terms the index contains:
//!
//! 1. [`normalize`]: NFKC (full-width → half-width, compatibility forms) and
//!    lowercase.
//! 2. [`pieces`]: split into runs of letters, runs of digits and runs of CJK
//!    characters; everything else (spaces, punctuation, emoji) separates.
//! 3. Two token streams are derived from the pieces:
//!    - *words*: Latin/digit runs as they are, CJK runs segmented by jieba in
//!      search mode (so "运动鞋" yields "运动" and "运动鞋"). Used for ranking.
//!    - *grams*: Latin/digit runs as they are, CJK runs as character unigrams
//!      and bigrams sharing positions. A typed CJK word is then found by a
//!      phrase query over its bigrams, i.e. whenever the document contains it
//!      as a substring, whatever jieba made of either side.
//!
//! A typed CJK run is cut into groups (each must occur) by jieba over the
//! index's own vocabulary (`query_dictionary`): the words the index holds are
//! the only ones a words field can match.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jieba_rs::Jieba;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;

/// Tokenizer name of the jieba-based "words" fields.
pub(super) const WORDS_TOKENIZER: &str = "distmall_words";
/// Tokenizer name of the unigram/bigram "grams" fields.
pub(super) const GRAMS_TOKENIZER: &str = "distmall_grams";

/// Keywords are cut to this many characters: longer input is noise or abuse
/// and would only produce huge queries.
const MAX_KEYWORD_CHARS: usize = 100;
/// At most this many whitespace-separated words of a keyword are used.
const MAX_QUERY_WORDS: usize = 10;
/// Latin/digit runs are cut to this many bytes (all ASCII after NFKC in
/// practice) so that a pathological "word" cannot blow up the term dictionary.
const MAX_WORD_BYTES: usize = 40;

/// Jieba with its whole dictionary, for indexing. It holds about 30 MB (a trie of 349,045
/// words, their frequencies and the dictionary text), more than any other part of a warm
/// catalogue server, and only indexing needs it: keywords are cut with the index's own words
/// (`query_dictionary`). So it is loaded when a document is indexed and let go once indexing
/// has been idle for a while (`release_idle_dictionary`).
static FULL_DICTIONARY: DictionaryHolder = DictionaryHolder::new(Jieba::new);

/// A dictionary loaded on first use and dropped when unused for a while.
struct DictionaryHolder {
    load: fn() -> Jieba,
    /// The dictionary and when it was last asked for.
    held: Mutex<Option<(Arc<Jieba>, Instant)>>,
}

impl DictionaryHolder {
    const fn new(load: fn() -> Jieba) -> Self {
        Self {
            load,
            held: Mutex::new(None),
        }
    }

    fn get(&self) -> Arc<Jieba> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match &mut *held {
            Some((jieba, used)) => {
                *used = now;
                jieba.clone()
            }
            None => {
                let jieba = Arc::new((self.load)());
                *held = Some((jieba.clone(), now));
                jieba
            }
        }
    }

    /// Drops the dictionary when it was not asked for in `idle` (whoever is using it keeps
    /// their own reference until they are done). Never waits for a load in progress.
    fn release_idle(&self, idle: Duration) -> bool {
        let Ok(mut held) = self.held.try_lock() else {
            return false;
        };
        let idle = held
            .as_ref()
            .is_some_and(|(_, used)| used.elapsed() >= idle);
        if idle {
            *held = None;
            drop(held);
            crate::memory::give_back_free_memory();
        }
        idle
    }
}

/// Lets go of the whole dictionary when nothing was indexed for `idle`.
pub(super) fn release_idle_dictionary(idle: Duration) {
    FULL_DICTIONARY.release_idle(idle);
}

/// A jieba that knows only `words`, each weighted by how many documents hold it: the index's
/// own vocabulary, which is every word the whole dictionary made of the catalogue. Cutting a
/// keyword with it finds the same words the index holds; a word no product has cannot match a
/// words field anyway, and falls back to single characters, which stay together as one group.
pub(super) fn query_dictionary<'a>(words: impl IntoIterator<Item = (&'a str, u64)>) -> Jieba {
    let mut dictionary = String::new();
    for (word, documents) in words {
        // A dictionary line is `word frequency`: a word with a space cannot be one (and no CJK
        // word has one).
        if !word.contains(char::is_whitespace) && word.chars().any(is_cjk) {
            dictionary.push_str(word);
            dictionary.push(' ');
            dictionary.push_str(&documents.max(1).to_string());
            dictionary.push('\n');
        }
    }
    Jieba::with_dict(&mut dictionary.as_bytes()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the keyword dictionary could not be built");
        Jieba::empty()
    })
}

/// NFKC + lowercase.
pub(super) fn normalize(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        out.extend(c.to_lowercase());
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PieceKind {
    Letters,
    Digits,
    Cjk,
}

/// A maximal run of characters of one kind in a normalized text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Piece<'a> {
    pub kind: PieceKind,
    pub text: &'a str,
}

impl Piece<'_> {
    /// How many positions the piece occupies in a grams stream: one per CJK
    /// character, one for a Latin or digit run.
    fn gram_len(&self) -> usize {
        match self.kind {
            PieceKind::Cjk => self.text.chars().count(),
            PieceKind::Letters | PieceKind::Digits => 1,
        }
    }

    /// Latin and digit runs are capped; CJK runs are split into n-grams and
    /// need no cap.
    fn word_text(&self) -> &str {
        match self.kind {
            PieceKind::Cjk => self.text,
            PieceKind::Letters | PieceKind::Digits => truncate_bytes(self.text, MAX_WORD_BYTES),
        }
    }
}

fn truncate_bytes(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}'   // hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{20000}'..='\u{3134F}' // CJK extensions B–G
    )
}

fn kind_of(c: char) -> Option<PieceKind> {
    if is_cjk(c) {
        Some(PieceKind::Cjk)
    } else if c.is_numeric() {
        Some(PieceKind::Digits)
    } else if c.is_alphabetic() {
        Some(PieceKind::Letters)
    } else {
        None
    }
}

/// Splits a normalized text into pieces. Letter and digit runs are separate
/// pieces ("iphone15" → "iphone", "15"; "42码" → "42", "码") so that people
/// find "iPhone 15" by typing either form.
pub(super) fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, kind) = loop {
            let (i, c) = chars.next()?;
            if let Some(kind) = kind_of(c) {
                break (i, kind);
            }
        };
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if kind_of(c) != Some(kind) {
                end = i;
                break;
            }
            chars.next();
        }
        Some(Piece {
            kind,
            text: &text[start..end],
        })
    })
}

/// One term of a grams sequence and its position relative to the first term.
pub(super) type PositionedTerm = (usize, String);

/// Pushes the grams of one piece, starting at `position`.
fn push_piece_grams(piece: &Piece<'_>, position: usize, out: &mut Vec<PositionedTerm>) {
    if piece.kind != PieceKind::Cjk {
        out.push((position, piece.word_text().to_owned()));
        return;
    }
    let chars: Vec<(usize, char)> = piece.text.char_indices().collect();
    for (i, &(start, c)) in chars.iter().enumerate() {
        out.push((position + i, c.to_string()));
        if let Some(&(next, next_char)) = chars.get(i + 1) {
            let end = next + next_char.len_utf8();
            out.push((position + i, piece.text[start..end].to_owned()));
        }
    }
}

/// Index-side grams of a whole (normalized) text, with unigrams and bigrams
/// of a CJK run sharing positions.
fn index_grams(text: &str) -> Vec<PositionedTerm> {
    let mut out = Vec::new();
    let mut position = 0;
    for piece in pieces(text) {
        push_piece_grams(&piece, position, &mut out);
        position += piece.gram_len();
    }
    out
}

/// The smallest set of grams that pins a sequence of pieces down as a
/// substring: a lone CJK character by its unigram, longer CJK runs by their
/// bigrams only (each bigram sits at the position of its first character).
fn query_grams<'a>(pieces: impl IntoIterator<Item = Piece<'a>>) -> Vec<PositionedTerm> {
    let mut out = Vec::new();
    let mut position = 0;
    for piece in pieces {
        let len = piece.gram_len();
        if piece.kind == PieceKind::Cjk && len > 1 {
            let chars: Vec<(usize, char)> = piece.text.char_indices().collect();
            for (i, pair) in chars.windows(2).enumerate() {
                let end = pair[1].0 + pair[1].1.len_utf8();
                out.push((position + i, piece.text[pair[0].0..end].to_owned()));
            }
        } else {
            push_piece_grams(&piece, position, &mut out);
        }
        position += len;
    }
    out
}

/// Index-side words of a text: Latin/digit runs plus jieba search-mode words.
fn index_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut jieba = None;
    for piece in pieces(text) {
        match piece.kind {
            // HMM off: it invents "words" for unknown character sequences,
            // which adds nothing since the grams fields cover substrings.
            PieceKind::Cjk => out.extend(
                jieba
                    .get_or_insert_with(|| FULL_DICTIONARY.get())
                    .cut_for_search(piece.text, false)
                    .into_iter()
                    .map(|t| t.word.to_owned()),
            ),
            PieceKind::Letters | PieceKind::Digits => out.push(piece.word_text().to_owned()),
        }
    }
    out
}

/// Part of a typed word that must occur as a substring somewhere in the
/// document (any text field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueryGroup {
    /// Grams whose adjacency proves the substring occurs.
    pub grams: Vec<PositionedTerm>,
    /// The group as a single dictionary word, when it is one; matching it in
    /// the words fields ranks real-word matches above accidental substrings.
    pub word: Option<String>,
}

/// One whitespace-separated word of a keyword. It matches a document when
/// every group does; `grams` (the whole word as one substring) only boosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueryWord {
    pub grams: Vec<PositionedTerm>,
    pub groups: Vec<QueryGroup>,
}

/// Analyzes a user keyword. `None` means there is no keyword constraint
/// (blank input); `Some(vec![])` means the keyword has nothing searchable
/// (only punctuation or emoji) and matches nothing.
pub(super) fn analyze_keyword(keyword: &str, dictionary: &Jieba) -> Option<Vec<QueryWord>> {
    let keyword = match keyword.char_indices().nth(MAX_KEYWORD_CHARS) {
        Some((cut, _)) => &keyword[..cut],
        None => keyword,
    };
    let normalized = normalize(keyword);
    if normalized.trim().is_empty() {
        return None;
    }
    let mut words: Vec<QueryWord> = Vec::new();
    for typed in normalized.split_whitespace() {
        let Some(word) = analyze_typed_word(typed, dictionary) else {
            continue;
        };
        if !words.contains(&word) {
            words.push(word);
        }
        if words.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    Some(words)
}

fn analyze_typed_word(typed: &str, dictionary: &Jieba) -> Option<QueryWord> {
    let pieces: Vec<Piece<'_>> = pieces(typed).collect();
    if pieces.is_empty() {
        return None;
    }
    let groups = pieces
        .iter()
        .flat_map(|piece| piece_groups(piece, dictionary))
        .collect();
    Some(QueryWord {
        grams: query_grams(pieces),
        groups,
    })
}

/// Splits one piece of a typed word into groups. A CJK run is cut by jieba
/// over `dictionary` so that "红色连衣裙" matches "连衣裙 … 红色" too;
/// consecutive one-character words are kept together because jieba falls back
/// to single characters for words it does not know (brand names…), and those
/// characters only mean something side by side.
fn piece_groups(piece: &Piece<'_>, dictionary: &Jieba) -> Vec<QueryGroup> {
    if piece.kind != PieceKind::Cjk {
        return vec![group_of(*piece, true)];
    }
    // Byte ranges of the groups within the run, and how many jieba words each holds.
    let mut spans: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
    let mut last_was_single = false;
    for token in dictionary.cut(piece.text, false) {
        let single = token.end - token.start == 1;
        match spans.last_mut() {
            Some((range, words)) if single && last_was_single => {
                range.end = token.byte_end;
                *words += 1;
            }
            _ => spans.push((token.byte_start..token.byte_end, 1)),
        }
        last_was_single = single;
    }
    spans
        .into_iter()
        .map(|(range, words)| {
            let text = &piece.text[range];
            group_of(
                Piece {
                    kind: PieceKind::Cjk,
                    text,
                },
                words == 1,
            )
        })
        .collect()
}

fn group_of(piece: Piece<'_>, is_one_word: bool) -> QueryGroup {
    QueryGroup {
        grams: query_grams([piece]),
        word: is_one_word.then(|| piece.word_text().to_owned()),
    }
}

/// Token stream over precomputed tokens.
pub(super) struct VecTokenStream {
    tokens: Vec<Token>,
    /// Index of the current token plus one (0 = before the first).
    cursor: usize,
}

impl VecTokenStream {
    fn new(terms: impl IntoIterator<Item = (usize, String)>) -> Self {
        let tokens = terms
            .into_iter()
            .map(|(position, text)| Token {
                // Offsets only serve snippets, which this index does not use.
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect();
        Self { tokens, cursor: 0 }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.cursor < self.tokens.len() {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.cursor - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.cursor - 1]
    }
}

/// Tantivy tokenizer of the words fields.
#[derive(Clone, Copy, Default)]
pub(super) struct WordsTokenizer;

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(index_words(&normalize(text)).into_iter().enumerate())
    }
}

/// Tantivy tokenizer of the grams fields.
#[derive(Clone, Copy, Default)]
pub(super) struct GramsTokenizer;

impl Tokenizer for GramsTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(index_grams(&normalize(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(grams: &[PositionedTerm]) -> Vec<(usize, &str)> {
        grams.iter().map(|(p, t)| (*p, t.as_str())).collect()
    }

    #[test]
    fn normalizes_width_and_case() {
        assert_eq!(normalize("ＮＩＫＥ Nike"), "nike nike");
        assert_eq!(normalize("４２码"), "42码");
        assert_eq!(normalize("iPhone"), "iphone");
    }

    #[test]
    fn splits_pieces_by_script() {
        let kinds: Vec<(PieceKind, &str)> = pieces("iphone15手机壳, 42码!😀")
            .map(|p| (p.kind, p.text))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PieceKind::Letters, "iphone"),
                (PieceKind::Digits, "15"),
                (PieceKind::Cjk, "手机壳"),
                (PieceKind::Digits, "42"),
                (PieceKind::Cjk, "码"),
            ]
        );
    }

    #[test]
    fn index_grams_share_positions() {
        let grams = index_grams("a运动鞋");
        assert_eq!(
            terms(&grams),
            vec![
                (0, "a"),
                (1, "运"),
                (1, "运动"),
                (2, "动"),
                (2, "动鞋"),
                (3, "鞋")
            ]
        );
    }

    #[test]
    fn index_words_use_search_mode() {
        let words = index_words("男子轻便跑步运动鞋");
        for expected in ["男子", "轻便", "跑步", "运动", "运动鞋"] {
            assert!(
                words.iter().any(|w| w == expected),
                "{expected} in {words:?}"
            );
        }
    }

    #[test]
    fn query_grams_are_bigrams_with_offsets() {
        let word = typed("42码运动鞋").unwrap();
        assert_eq!(
            terms(&word.grams),
            vec![(0, "42"), (1, "码运"), (2, "运动"), (3, "动鞋")]
        );
        let single = typed("鞋").unwrap();
        assert_eq!(terms(&single.grams), vec![(0, "鞋")]);
    }

    #[test]
    fn typed_word_groups_follow_jieba() {
        let word = typed("红色连衣裙").unwrap();
        let words: Vec<Option<&str>> = word.groups.iter().map(|g| g.word.as_deref()).collect();
        assert_eq!(words, vec![Some("红色"), Some("连衣裙")]);

        let mixed = typed("iphone15").unwrap();
        assert_eq!(mixed.groups.len(), 2);
    }

    #[test]
    fn consecutive_single_characters_stay_together() {
        // None of these characters form a dictionary word together.
        let word = typed("龘靐齉").unwrap();
        assert_eq!(word.groups.len(), 1);
        assert_eq!(terms(&word.groups[0].grams), vec![(0, "龘靐"), (1, "靐齉")]);
        assert_eq!(word.groups[0].word, None);
    }

    fn typed(text: &str) -> Option<QueryWord> {
        analyze_typed_word(text, &FULL_DICTIONARY.get())
    }

    fn keyword(text: &str) -> Option<Vec<QueryWord>> {
        analyze_keyword(text, &FULL_DICTIONARY.get())
    }

    fn group_words(word: &QueryWord) -> Vec<Option<&str>> {
        word.groups.iter().map(|g| g.word.as_deref()).collect()
    }

    #[test]
    fn keywords_are_cut_with_the_words_the_index_holds() {
        let index = query_dictionary([("红色", 3), ("连衣裙", 2), ("连衣", 1), ("nike", 9)]);
        let word = analyze_typed_word("红色连衣裙", &index).unwrap();
        assert_eq!(group_words(&word), vec![Some("红色"), Some("连衣裙")]);
        // Words no product has are single characters, kept together as one substring.
        let word = analyze_typed_word("羽绒马甲", &index).unwrap();
        assert_eq!(group_words(&word), vec![None]);
        assert_eq!(terms(&word.groups[0].grams).len(), 3);
        let word = analyze_typed_word("红色羽绒", &index).unwrap();
        assert_eq!(group_words(&word), vec![Some("红色"), None]);
    }

    #[test]
    fn the_whole_dictionary_is_let_go_when_idle() {
        let holder = DictionaryHolder::new(Jieba::empty);
        let first = holder.get();
        assert!(!holder.release_idle(Duration::from_secs(60)), "just used");
        assert!(Arc::ptr_eq(&first, &holder.get()), "kept while in use");
        assert!(holder.release_idle(Duration::ZERO));
        assert!(
            !Arc::ptr_eq(&first, &holder.get()),
            "loaded again when asked for"
        );
    }

    #[test]
    fn keyword_edge_cases() {
        assert_eq!(keyword(""), None);
        assert_eq!(keyword(" \u{3000}\t"), None);
        assert_eq!(keyword("\"():[]{}*😀"), Some(vec![]));
        let long = "耐克".repeat(500);
        let words = keyword(&long).unwrap();
        assert_eq!(words.len(), 1);
        assert_eq!(words[0].grams.len(), MAX_KEYWORD_CHARS - 1);
        let many = (0..50)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(keyword(&many).unwrap().len(), MAX_QUERY_WORDS);
        let dup = keyword("耐克 耐克 ＮＩＫＥ nike").unwrap();
        assert_eq!(dup.len(), 2);
    }

    #[test]
    fn long_latin_words_are_capped() {
        let long = "a".repeat(1000);
        assert_eq!(index_words(&long), vec!["a".repeat(MAX_WORD_BYTES)]);
        let word = typed(&long).unwrap();
        assert_eq!(word.grams[0].1.len(), MAX_WORD_BYTES);
    }
}
