//! Text on the share poster: the font, measuring, line breaking and drawing.
//!
//! Line breaking and truncation are pure functions over [`CharWidths`], so they are tested
//! without drawing. The poster measures with the font's own advances, the same numbers the
//! drawing steps by (the bundled font has no kerning), so a line that measures within its width
//! is drawn within it.

use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use ab_glyph::{Font, FontArc, GlyphId, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

use super::PosterError;
use super::canvas::blend_pixel;

/// Noto Sans CJK SC Regular cut down to GB2312, ASCII, Latin-1 and CJK/full-width punctuation
/// (assets/fonts/README.md): embedded so a fresh machine needs no font package.
static BUNDLED_FONT_BYTES: &[u8] =
    include_bytes!("../../../assets/fonts/NotoSansCJKsc-Regular-poster.otf");

/// Used when the font has no "…" glyph (a caller-supplied font may lack it).
const ASCII_ELLIPSIS: &str = "...";
const ELLIPSIS: &str = "…";

/// A parsed font, cheap to clone (the parsed data sits behind an `Arc`). Parse it once and
/// share it: re-parsing per poster would cost more than drawing one.
#[derive(Clone)]
pub struct PosterFont {
    font: FontArc,
}

impl fmt::Debug for PosterFont {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PosterFont")
            .field("glyphs", &self.font.glyph_count())
            .finish()
    }
}

impl PosterFont {
    /// The font compiled into the binary, parsed on first use.
    pub fn bundled() -> &'static PosterFont {
        static BUNDLED: LazyLock<PosterFont> = LazyLock::new(|| {
            let font = FontArc::try_from_slice(BUNDLED_FONT_BYTES)
                // Not reachable from any input: the bytes are a build asset, and the tests parse them.
                .expect("the bundled poster font (assets/fonts/) is a valid OpenType font");
            PosterFont { font }
        });
        &BUNDLED
    }

    /// A TrueType/OpenType font from untrusted bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<PosterFont, PosterError> {
        let font = FontArc::try_from_vec(bytes).map_err(|_| PosterError::InvalidFont)?;
        Ok(PosterFont { font })
    }

    /// The font at a size given as the em square's height in pixels (what CSS calls font-size).
    pub(super) fn at_size(&self, em_px: f32) -> SizedFont<'_> {
        // ab_glyph scales so that ascent - descent is the given height; the em is smaller
        // (Noto CJK's line height is 1.448 em).
        let units_per_em = self.font.units_per_em().unwrap_or(1000.0);
        let height = em_px * self.font.height_unscaled() / units_per_em;
        SizedFont {
            font: &self.font,
            scale: PxScale::from(height),
            em_px,
        }
    }

    /// `text` as the poster can draw it: whitespace and control characters (newlines, tabs,
    /// zero-width joiners) become single spaces, and characters the font has no glyph for
    /// (emoji, rare hanzi) are left out rather than drawn as boxes.
    pub(super) fn drawable(&self, text: &str) -> String {
        let mut drawable = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_whitespace() || c.is_control() {
                if !drawable.is_empty() && !drawable.ends_with(' ') {
                    drawable.push(' ');
                }
            } else if self.has_glyph(c) {
                drawable.push(c);
            }
        }
        drawable.truncate(drawable.trim_end().len());
        drawable
    }

    pub(super) fn ellipsis(&self) -> &'static str {
        if self.has_glyph('…') {
            ELLIPSIS
        } else {
            ASCII_ELLIPSIS
        }
    }

    fn has_glyph(&self, c: char) -> bool {
        self.font.glyph_id(c) != GlyphId(0)
    }
}

/// How wide each character is drawn, in pixels.
pub(super) trait CharWidths {
    fn char_width(&self, c: char) -> f32;

    fn text_width(&self, text: &str) -> f32 {
        text.chars().map(|c| self.char_width(c)).sum()
    }
}

/// A font at one size: measures and draws.
#[derive(Clone, Copy)]
pub(super) struct SizedFont<'a> {
    font: &'a FontArc,
    scale: PxScale,
    em_px: f32,
}

impl CharWidths for SizedFont<'_> {
    fn char_width(&self, c: char) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        scaled.h_advance(scaled.glyph_id(c))
    }
}

impl SizedFont<'_> {
    /// The baseline that centres the font's line box in a line `line_height` tall from `top`.
    pub(super) fn baseline(&self, top: f32, line_height: f32) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        let font_height = scaled.ascent() - scaled.descent();
        top + (line_height - font_height) / 2.0 + scaled.ascent()
    }

    /// Draws `text` from `left` on `baseline` and returns the width it advanced. `bold` smears
    /// each glyph sideways by a few per cent of the em: there is one weight in the bundle, and
    /// a second weight would double the binary's font bytes for the price line alone.
    pub(super) fn draw(
        &self,
        canvas: &mut RgbImage,
        text: &str,
        left: f32,
        baseline: f32,
        color: Rgb<u8>,
        bold: bool,
    ) -> f32 {
        let smear_px = if bold {
            (self.em_px * 0.04).round() as i32
        } else {
            0
        };
        let scaled = self.font.as_scaled(self.scale);
        let mut pen_x = left;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            let glyph = id.with_scale_and_position(self.scale, point(pen_x, baseline));
            if let Some(outlined) = self.font.outline_glyph(glyph) {
                let origin = outlined.px_bounds().min;
                outlined.draw(|x, y, coverage| {
                    for smear in 0..=smear_px {
                        let px = origin.x as i32 + x as i32 + smear;
                        let py = origin.y as i32 + y as i32;
                        blend_pixel(canvas, px, py, color, coverage);
                    }
                });
            }
            pen_x += scaled.h_advance(id);
        }
        pen_x - left
    }
}

/// `text` cut to fit `max_width`, ending with `ellipsis` when anything was cut. Empty when not
/// even the ellipsis fits.
pub(super) fn truncate_to_width(
    text: &str,
    max_width: f32,
    ellipsis: &str,
    widths: &impl CharWidths,
) -> String {
    if widths.text_width(text) <= max_width {
        return text.to_owned();
    }
    let room = max_width - widths.text_width(ellipsis);
    if room < 0.0 {
        return String::new();
    }
    let mut used = 0.0;
    let mut kept_len = 0;
    for (at, c) in text.char_indices() {
        used += widths.char_width(c);
        if used > room {
            break;
        }
        kept_len = at + c.len_utf8();
    }
    format!("{}{ellipsis}", text[..kept_len].trim_end())
}

/// `text` in at most `max_lines` lines no wider than `max_width`; when it needs more, the last
/// line is cut and ends with `ellipsis`.
pub(super) fn wrap_text(
    text: &str,
    max_width: f32,
    max_lines: usize,
    ellipsis: &str,
    widths: &impl CharWidths,
) -> Vec<String> {
    let lines = break_lines(text, max_width, widths);
    let Some(last_kept) = max_lines.checked_sub(1) else {
        return Vec::new();
    };
    if lines.len() <= max_lines {
        return lines
            .into_iter()
            .map(|line| text[line].to_owned())
            .collect();
    }
    let mut kept: Vec<String> = lines[..last_kept]
        .iter()
        .map(|line| text[line.clone()].to_owned())
        .collect();
    // The rest of the text from the last kept line on, so the cut shows as much as fits.
    let rest = &text[lines[last_kept].start..];
    kept.push(truncate_to_width(rest, max_width, ellipsis, widths));
    kept
}

/// Breaks `text` (as [`PosterFont::drawable`] leaves it: single spaces) into lines no wider
/// than `max_width`, as byte ranges without leading or trailing spaces. Chinese breaks between
/// any two characters; a Latin word moves to the next line whole, and is split only when it is
/// wider than a whole line.
pub(super) fn break_lines(
    text: &str,
    max_width: f32,
    widths: &impl CharWidths,
) -> Vec<Range<usize>> {
    let mut lines = LineBuilder::new(max_width);
    for unit in break_units(text) {
        let piece = &text[unit.clone()];
        let width = widths.text_width(piece);
        if piece == " " {
            lines.add_space(width);
            continue;
        }
        if lines.try_add(unit.clone(), width) {
            continue;
        }
        lines.end_line();
        if lines.try_add(unit.clone(), width) {
            continue;
        }
        // Wider than a whole line (a long model number or URL): split it anywhere.
        for (offset, c) in piece.char_indices() {
            let start = unit.start + offset;
            let char_range = start..start + c.len_utf8();
            let char_width = widths.char_width(c);
            if !lines.try_add(char_range.clone(), char_width) {
                lines.end_line();
                lines.force_add(char_range, char_width);
            }
        }
    }
    lines.finish()
}

/// The pieces a line may not be broken inside: a Latin word (any run of non-space, non-CJK
/// characters, so "¥99.00" and "T-shirt" stay whole), a single CJK character together with
/// the punctuation that must not be parted from it, or a single space.
fn break_units(text: &str) -> Vec<Range<usize>> {
    let mut units: Vec<Range<usize>> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        let joins_previous = previous.is_some_and(|p| {
            p != ' '
                && c != ' '
                && (forbids_break_after(p)
                    || forbids_break_before(c)
                    || (is_word_char(p) && is_word_char(c)))
        });
        match units.last_mut() {
            Some(unit) if joins_previous => unit.end = end,
            _ => units.push(at..end),
        }
        previous = Some(c);
    }
    units
}

/// Closing punctuation, which may not start a line (Chinese typesetting's 避头).
fn forbids_break_before(c: char) -> bool {
    "，。、；：！？）】》」』〕〉”’…—·%,.;:!?)]}".contains(c)
}

/// Opening punctuation and currency signs, which may not end a line (避尾).
fn forbids_break_after(c: char) -> bool {
    "（【《「『〔〈“‘([{¥￥$".contains(c)
}

fn is_word_char(c: char) -> bool {
    c != ' ' && !is_wide(c)
}

/// Characters set as full-width ideographic cells, between any two of which a line may break.
fn is_wide(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{9FFF}'      // CJK radicals, punctuation, kana, ideographs
        | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'    // CJK compatibility ideographs
        | '\u{FE30}'..='\u{FE4F}'    // CJK compatibility forms
        | '\u{FF00}'..='\u{FFEF}'    // half-width and full-width forms
        | '\u{20000}'..='\u{3FFFF}') // CJK extensions B onwards
}

/// Accumulates lines for [`break_lines`]. Spaces are held back until something follows them
/// on the same line, so a line never ends with (or is pushed over its width by) a space.
struct LineBuilder {
    max_width: f32,
    done: Vec<Range<usize>>,
    open: Option<OpenLine>,
}

struct OpenLine {
    range: Range<usize>,
    width: f32,
    pending_space: f32,
}

impl LineBuilder {
    fn new(max_width: f32) -> LineBuilder {
        LineBuilder {
            max_width,
            done: Vec::new(),
            open: None,
        }
    }

    /// A space at the start of a line is dropped.
    fn add_space(&mut self, width: f32) {
        if let Some(line) = &mut self.open {
            line.pending_space += width;
        }
    }

    fn try_add(&mut self, range: Range<usize>, width: f32) -> bool {
        let width_after = match &self.open {
            None => width,
            Some(line) => line.width + line.pending_space + width,
        };
        let fits = width_after <= self.max_width;
        if fits {
            self.force_add(range, width);
        }
        fits
    }

    fn force_add(&mut self, range: Range<usize>, width: f32) {
        match &mut self.open {
            None => {
                self.open = Some(OpenLine {
                    range,
                    width,
                    pending_space: 0.0,
                });
            }
            Some(line) => {
                line.width += line.pending_space + width;
                line.pending_space = 0.0;
                line.range.end = range.end;
            }
        }
    }

    fn end_line(&mut self) {
        if let Some(line) = self.open.take() {
            self.done.push(line.range);
        }
    }

    fn finish(mut self) -> Vec<Range<usize>> {
        self.end_line();
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character 10 px wide, so expectations can be worked out by hand.
    struct TenPixels;

    impl CharWidths for TenPixels {
        fn char_width(&self, _: char) -> f32 {
            10.0
        }
    }

    fn lines(text: &str, max_width: f32) -> Vec<&str> {
        break_lines(text, max_width, &TenPixels)
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn chinese_breaks_between_any_two_characters() {
        assert_eq!(
            lines("春夏秋冬东南西北", 30.0),
            ["春夏秋", "冬东南", "西北"]
        );
    }

    #[test]
    fn a_latin_word_moves_to_the_next_line_whole() {
        assert_eq!(lines("aaa bbbbbb cc", 90.0), ["aaa", "bbbbbb cc"]);
        assert_eq!(lines("新款Bluetooth", 100.0), ["新款", "Bluetooth"]);
    }

    #[test]
    fn a_word_wider_than_a_line_is_split_anywhere() {
        assert_eq!(lines("ab abcdefghij", 40.0), ["ab", "abcd", "efgh", "ij"]);
    }

    #[test]
    fn closing_punctuation_never_starts_a_line_nor_opening_punctuation_ends_one() {
        assert_eq!(lines("一二三，四", 30.0), ["一二", "三，四"]);
        assert_eq!(lines("一二《三》", 30.0), ["一二", "《三》"]);
    }

    #[test]
    fn spaces_neither_start_nor_end_a_line() {
        assert_eq!(lines("aa bb", 20.0), ["aa", "bb"]);
        assert_eq!(lines(" aa", 20.0), ["aa"]);
        assert!(lines("", 20.0).is_empty());
    }

    #[test]
    fn a_character_wider_than_the_line_still_gets_a_line_of_its_own() {
        assert_eq!(lines("一二", 5.0), ["一", "二"]);
    }

    #[test]
    fn truncation_keeps_what_fits_and_adds_an_ellipsis_only_when_it_cut() {
        assert_eq!(truncate_to_width("一二三", 30.0, "…", &TenPixels), "一二三");
        assert_eq!(
            truncate_to_width("一二三四", 30.0, "…", &TenPixels),
            "一二…"
        );
        assert_eq!(truncate_to_width("ab cdef", 40.0, "…", &TenPixels), "ab…");
        assert_eq!(truncate_to_width("一二三四", 5.0, "…", &TenPixels), "");
    }

    #[test]
    fn wrapping_stops_at_the_line_limit_with_an_ellipsis() {
        let wrapped = wrap_text("一二三四五六七八九", 40.0, 2, "…", &TenPixels);
        assert_eq!(wrapped, ["一二三四", "五六七…"]);
        assert_eq!(
            wrap_text("一二三四五六七八", 40.0, 2, "…", &TenPixels),
            ["一二三四", "五六七八"]
        );
        assert!(wrap_text("一二", 40.0, 0, "…", &TenPixels).is_empty());
    }

    fn bundled_at(em_px: f32) -> SizedFont<'static> {
        PosterFont::bundled().at_size(em_px)
    }

    #[test]
    fn a_long_chinese_title_wraps_to_two_lines_within_the_width_measured_by_the_font() {
        let font = bundled_at(36.0);
        let title = "【官方正品】新疆阿克苏冰糖心苹果脆甜多汁当季新鲜水果整箱包邮十斤装大果礼盒";
        let max_width = 670.0;
        let wrapped = wrap_text(title, max_width, 2, "…", &font);
        assert_eq!(wrapped.len(), 2, "{wrapped:?}");
        for line in &wrapped {
            assert!(font.text_width(line) <= max_width, "{line} is too wide");
        }
        assert!(wrapped[1].ends_with('…'), "{wrapped:?}");
        let shown = wrapped.concat();
        assert!(title.starts_with(shown.trim_end_matches('…')));
        // Nothing that fitted was wasted: the first line holds all but the character that
        // would have overflowed it.
        let first_len = wrapped[0].chars().count();
        let one_more: String = title.chars().take(first_len + 1).collect();
        assert!(font.text_width(&one_more) > max_width);
    }

    #[test]
    fn a_latin_word_that_fits_the_next_line_is_not_split_when_measured_by_the_font() {
        let font = bundled_at(36.0);
        let title = "夏季新款 Bluetooth Headphones 降噪";
        // Room for "夏季新款 Bluet" but not for the whole word "Bluetooth".
        let max_width = font.text_width("夏季新款 Bluet");
        let wrapped = wrap_text(title, max_width, 4, "…", &font);
        assert_eq!(wrapped, ["夏季新款", "Bluetooth", "Headphones", "降噪"]);
    }

    #[test]
    fn the_bundled_font_draws_chinese_prices_and_the_ellipsis() {
        let font = PosterFont::bundled();
        let sample = "拼团价¥￥99.00…推荐给你长按识别二维码·满200减30，「」A-z";
        assert_eq!(font.drawable(sample), sample);
        assert_eq!(font.ellipsis(), "…");
    }

    #[test]
    fn characters_the_font_lacks_are_left_out_and_whitespace_collapses() {
        let font = PosterFont::bundled();
        assert_eq!(font.drawable("小明🌸\u{200D}👩‍👩‍👧 的店"), "小明 的店");
        assert_eq!(font.drawable("  一\n\t二  "), "一 二");
        assert_eq!(font.drawable("👍👍"), "");
    }

    #[test]
    fn a_font_from_untrusted_bytes_is_checked() {
        assert!(matches!(
            PosterFont::from_bytes(b"not a font".to_vec()),
            Err(PosterError::InvalidFont)
        ));
        let copy = PosterFont::from_bytes(BUNDLED_FONT_BYTES.to_vec()).expect("a valid font");
        assert_eq!(copy.drawable("好物"), "好物");
    }
}
