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

use std::sync::LazyLock;

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

/// The dictionary takes a moment to load, so it is loaded once per process.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

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
    for piece in pieces(text) {
        match piece.kind {
            // HMM off: it invents "words" for unknown character sequences,
            // which adds nothing since the grams fields cover substrings.
            PieceKind::Cjk => out.extend(
                JIEBA
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
pub(super) fn analyze_keyword(keyword: &str) -> Option<Vec<QueryWord>> {
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
        let Some(word) = analyze_typed_word(typed) else {
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

fn analyze_typed_word(typed: &str) -> Option<QueryWord> {
    let pieces: Vec<Piece<'_>> = pieces(typed).collect();
    if pieces.is_empty() {
        return None;
    }
    let groups = pieces.iter().flat_map(piece_groups).collect();
    Some(QueryWord {
        grams: query_grams(pieces),
        groups,
    })
}

/// Splits one piece of a typed word into groups. A CJK run is cut by jieba
/// so that "红色连衣裙" matches "连衣裙 … 红色" too; consecutive one-character
/// words are kept together because jieba falls back to single characters for
/// words it does not know (brand names…), and those characters only mean
/// something side by side.
fn piece_groups(piece: &Piece<'_>) -> Vec<QueryGroup> {
    if piece.kind != PieceKind::Cjk {
        return vec![group_of(*piece, true)];
    }
    // Byte ranges of the groups within the run, and how many jieba words each holds.
    let mut spans: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
    let mut last_was_single = false;
    for token in JIEBA.cut(piece.text, false) {
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
        let word = analyze_typed_word("42码运动鞋").unwrap();
        assert_eq!(
            terms(&word.grams),
            vec![(0, "42"), (1, "码运"), (2, "运动"), (3, "动鞋")]
        );
        let single = analyze_typed_word("鞋").unwrap();
        assert_eq!(terms(&single.grams), vec![(0, "鞋")]);
    }

    #[test]
    fn typed_word_groups_follow_jieba() {
        let word = analyze_typed_word("红色连衣裙").unwrap();
        let words: Vec<Option<&str>> = word.groups.iter().map(|g| g.word.as_deref()).collect();
        assert_eq!(words, vec![Some("红色"), Some("连衣裙")]);

        let mixed = analyze_typed_word("iphone15").unwrap();
        assert_eq!(mixed.groups.len(), 2);
    }

    #[test]
    fn consecutive_single_characters_stay_together() {
        // None of these characters form a dictionary word together.
        let word = analyze_typed_word("龘靐齉").unwrap();
        assert_eq!(word.groups.len(), 1);
        assert_eq!(terms(&word.groups[0].grams), vec![(0, "龘靐"), (1, "靐齉")]);
        assert_eq!(word.groups[0].word, None);
    }

    #[test]
    fn keyword_edge_cases() {
        assert_eq!(analyze_keyword(""), None);
        assert_eq!(analyze_keyword(" \u{3000}\t"), None);
        assert_eq!(analyze_keyword("\"():[]{}*😀"), Some(vec![]));
        let long = "耐克".repeat(500);
        let words = analyze_keyword(&long).unwrap();
        assert_eq!(words.len(), 1);
        assert_eq!(words[0].grams.len(), MAX_KEYWORD_CHARS - 1);
        let many = (0..50)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(analyze_keyword(&many).unwrap().len(), MAX_QUERY_WORDS);
        let dup = analyze_keyword("耐克 耐克 ＮＩＫＥ nike").unwrap();
        assert_eq!(dup.len(), 2);
    }

    #[test]
    fn long_latin_words_are_capped() {
        let long = "a".repeat(1000);
        assert_eq!(index_words(&long), vec!["a".repeat(MAX_WORD_BYTES)]);
        let word = analyze_typed_word(&long).unwrap();
        assert_eq!(word.grams[0].1.len(), MAX_WORD_BYTES);
    }
}
