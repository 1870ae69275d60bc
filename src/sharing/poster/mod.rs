//! Share posters (分享海报): the PNG a customer saves and shares in WeChat for a product or a
//! group buy. Pure: the caller gathers the facts (texts already formatted, pictures as bytes)
//! and caches the PNG under [`content_key`].
//!
//! Layout, 750 × 1334 (the 9:16 poster WeChat shows full screen), on white:
//!
//! ```text
//! ┌──────────────────────────┐
//! │ product picture 750×750  │  cropped to cover, or a grey placeholder
//! ├──────────────────────────┤
//! │ title, ≤ 2 lines …       │
//! │ selling point, 1 line    │
//! │ ¥99.00  ¥129.00 (struck) │
//! │ 拼团价 ¥79.00 [3人团]    │  group price, badge in a red tag
//! ├──────────────────────────┤
//! │ (avatar) 小明 推荐给你 QR│  a mini-program code instead of the QR when given
//! │           长按识别二维码 │
//! └──────────────────────────┘
//! ```

mod canvas;
mod qr;
mod text;

use std::fmt;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};
use sha2::{Digest, Sha256};

use canvas::{
    Rect, contain, cover, decode_picture, draw_picture, fill_rect, fill_rounded_rect,
    saturating_i32,
};
use text::{CharWidths, truncate_to_width, wrap_text};

pub use text::PosterFont;

/// Everything a poster shows. Texts are shown as given (prices come formatted); characters the
/// font cannot draw, such as emoji, are left out. Pictures are untrusted bytes: one that does
/// not decode is replaced by a placeholder rather than failing the poster.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PosterFacts {
    /// The product's name; wrapped to two lines, then cut with "…".
    pub title: String,
    /// A one-line subtitle, cut with "…".
    pub selling_point: Option<String>,
    /// The price as shown, e.g. "¥99.00".
    pub price: String,
    /// The market price, struck through beside the price.
    pub original_price: Option<String>,
    /// The group-buy line, e.g. "拼团价 ¥79.00".
    pub group_price: Option<String>,
    /// A short promotion tag, e.g. "3人团 · 还差1人" or "满200减30".
    pub badge: Option<String>,
    /// The sharer's nickname, shown as "{sharer_name} 推荐给你".
    pub sharer_name: String,
    /// PNG or JPEG; drawn as a circle, or the name's first character on a grey circle.
    pub sharer_avatar: Option<Vec<u8>>,
    /// PNG or JPEG; cropped to fill the top square, or a grey square.
    pub product_image: Option<Vec<u8>>,
    /// The share link, drawn as a QR code unless `code_image` is given.
    pub link: String,
    /// A WeChat mini-program code (PNG), drawn in place of the QR code.
    pub code_image: Option<Vec<u8>>,
}

/// Picture fields show their sizes, not their bytes, so a poster's facts can be logged.
impl fmt::Debug for PosterFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let byte_count = |picture: &Option<Vec<u8>>| picture.as_ref().map(Vec::len);
        f.debug_struct("PosterFacts")
            .field("title", &self.title)
            .field("selling_point", &self.selling_point)
            .field("price", &self.price)
            .field("original_price", &self.original_price)
            .field("group_price", &self.group_price)
            .field("badge", &self.badge)
            .field("sharer_name", &self.sharer_name)
            .field("sharer_avatar_bytes", &byte_count(&self.sharer_avatar))
            .field("product_image_bytes", &byte_count(&self.product_image))
            .field("link", &self.link)
            .field("code_image_bytes", &byte_count(&self.code_image))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    /// The link needs a QR code too dense to scan at the poster's QR size.
    #[error("the share link ({bytes} bytes) is too long for the poster's QR code")]
    LinkTooLong { bytes: usize },
    #[error("the bytes are not a TrueType or OpenType font")]
    InvalidFont,
    #[error("the poster could not be encoded as PNG")]
    Encode(#[from] image::ImageError),
}

/// Bump when the layout, the bundled font or anything else that changes the pixels changes,
/// so posters cached under the old keys are not served again.
const LAYOUT_VERSION: &str = "distmall-poster-v1";

/// A hex SHA-256 of every fact and the layout version: the same key means the same PNG (from
/// the bundled font), so a rendered poster can be cached under it.
pub fn content_key(facts: &PosterFacts) -> String {
    fn text(value: &str) -> Option<&[u8]> {
        Some(value.as_bytes())
    }
    fn optional_text(value: &Option<String>) -> Option<&[u8]> {
        value.as_deref().map(str::as_bytes)
    }

    // Destructured so that a new field fails to compile here until it is hashed.
    let PosterFacts {
        title,
        selling_point,
        price,
        original_price,
        group_price,
        badge,
        sharer_name,
        sharer_avatar,
        product_image,
        link,
        code_image,
    } = facts;
    let fields = [
        Some(LAYOUT_VERSION.as_bytes()),
        text(title),
        optional_text(selling_point),
        text(price),
        optional_text(original_price),
        optional_text(group_price),
        optional_text(badge),
        text(sharer_name),
        sharer_avatar.as_deref(),
        product_image.as_deref(),
        text(link),
        code_image.as_deref(),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        // Presence and length prefix every field, so no two different sets of facts hash the
        // same bytes ("ab" + "c" against "a" + "bc", `None` against `Some("")`).
        match field {
            None => hasher.update([0]),
            Some(bytes) => {
                hasher.update([1]);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
        }
    }
    hex::encode(hasher.finalize())
}

/// The poster as PNG bytes. Fails only for a link too long to draw as a QR code (when no
/// mini-program code replaces it) or if PNG encoding fails.
pub fn render(facts: &PosterFacts, font: &PosterFont) -> Result<Vec<u8>, PosterError> {
    let mut poster = Poster::new(font);
    poster.draw_product_image(facts.product_image.as_deref());
    // Each block starts where the one above ended, so absent facts leave no gaps.
    let top = poster.draw_title(&facts.title, TITLE_TOP);
    let top = poster.draw_selling_point(facts.selling_point.as_deref(), top);
    let top = poster.draw_prices(&facts.price, facts.original_price.as_deref(), top);
    poster.draw_promotion(facts.group_price.as_deref(), facts.badge.as_deref(), top);
    poster.draw_footer_divider();
    poster.draw_code(facts.code_image.as_deref(), &facts.link)?;
    poster.draw_sharer(&facts.sharer_name, facts.sharer_avatar.as_deref());
    poster.into_png()
}

const WIDTH: u32 = 750;
const HEIGHT: u32 = 1334;
const MARGIN: u32 = 40;
const CONTENT_WIDTH: u32 = WIDTH - 2 * MARGIN;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([34, 34, 34]);
const MUTED: Rgb<u8> = Rgb([136, 136, 136]);
const FAINT: Rgb<u8> = Rgb([170, 170, 170]);
const DIVIDER: Rgb<u8> = Rgb([238, 238, 238]);
const RED: Rgb<u8> = Rgb([228, 57, 60]);
const PICTURE_PLACEHOLDER: Rgb<u8> = Rgb([242, 242, 242]);
const AVATAR_PLACEHOLDER: Rgb<u8> = Rgb([200, 200, 200]);

struct TextStyle {
    em_px: f32,
    /// The height of the line box the text is centred in.
    line_height: u32,
    color: Rgb<u8>,
    bold: bool,
}

impl TextStyle {
    const fn regular(em_px: f32, line_height: u32, color: Rgb<u8>) -> TextStyle {
        TextStyle {
            em_px,
            line_height,
            color,
            bold: false,
        }
    }
}

const TITLE: TextStyle = TextStyle::regular(36.0, 52, INK);
const SELLING_POINT: TextStyle = TextStyle::regular(26.0, 38, MUTED);
const PRICE: TextStyle = TextStyle {
    bold: true,
    ..TextStyle::regular(56.0, 72, RED)
};
/// Sits on the price's baseline, so its line height is the price's.
const ORIGINAL_PRICE: TextStyle = TextStyle::regular(28.0, PRICE.line_height, FAINT);
const GROUP_PRICE: TextStyle = TextStyle::regular(28.0, 44, RED);
/// The line height is the tag's height.
const BADGE: TextStyle = TextStyle::regular(22.0, 38, WHITE);
const SHARER_NAME: TextStyle = TextStyle::regular(28.0, 40, INK);
const RECOMMENDS: TextStyle = TextStyle::regular(28.0, 40, MUTED);
const CAPTION: TextStyle = TextStyle::regular(20.0, 28, MUTED);
const AVATAR_INITIAL: TextStyle = TextStyle::regular(40.0, AVATAR_SIDE, WHITE);

const IMAGE_SIDE: u32 = WIDTH;
const TITLE_TOP: u32 = IMAGE_SIDE + 28;
const TITLE_MAX_LINES: usize = 2;
const GAP_BEFORE_SELLING_POINT: u32 = 4;
const GAP_BEFORE_PRICES: u32 = 8;
const GAP_BEFORE_PROMOTION: u32 = 8;
/// Between the price and the struck-through price, and between the group price and the badge.
const INLINE_GAP: u32 = 16;
const BADGE_PADDING: u32 = 14;
const BADGE_CORNER_RADIUS: f32 = 8.0;

const FOOTER_TOP: u32 = 1078;
const QR_SIDE: u32 = 170;
const QR_TOP: u32 = FOOTER_TOP + 28;
const QR_LEFT: u32 = WIDTH - MARGIN - QR_SIDE;
const CAPTION_TOP: u32 = QR_TOP + QR_SIDE + 6;
const CAPTION_TEXT: &str = "长按识别二维码";
const AVATAR_SIDE: u32 = 96;
const AVATAR_TOP: u32 = QR_TOP + (QR_SIDE - AVATAR_SIDE) / 2;
const SHARER_LEFT: u32 = MARGIN + AVATAR_SIDE + 20;
const SHARER_RIGHT: u32 = QR_LEFT - 24;
const RECOMMENDS_TEXT: &str = " 推荐给你";
/// Shown when the nickname has nothing the font can draw (all emoji, or empty).
const SHARER_FALLBACK_NAME: &str = "好友";

// The tallest content (two title lines, a selling point, prices and a promotion row) stays
// above the footer, and the footer inside the poster.
const _: () = assert!(
    TITLE_TOP
        + TITLE_MAX_LINES as u32 * TITLE.line_height
        + GAP_BEFORE_SELLING_POINT
        + SELLING_POINT.line_height
        + GAP_BEFORE_PRICES
        + PRICE.line_height
        + GAP_BEFORE_PROMOTION
        + GROUP_PRICE.line_height
        <= FOOTER_TOP
);
const _: () = assert!(CAPTION_TOP + CAPTION.line_height <= HEIGHT);
const _: () = assert!(BADGE.line_height <= GROUP_PRICE.line_height);

/// The canvas being painted, with the font it writes in.
struct Poster<'f> {
    canvas: RgbImage,
    font: &'f PosterFont,
}

impl<'f> Poster<'f> {
    fn new(font: &'f PosterFont) -> Poster<'f> {
        Poster {
            canvas: RgbImage::from_pixel(WIDTH, HEIGHT, WHITE),
            font,
        }
    }

    fn draw_product_image(&mut self, picture: Option<&[u8]>) {
        match picture.and_then(decode_picture) {
            Some(picture) => {
                let fitted = cover(&picture, IMAGE_SIDE, IMAGE_SIDE);
                draw_picture(&mut self.canvas, &fitted, 0, 0, 0.0);
            }
            None => fill_rect(
                &mut self.canvas,
                Rect::square(0, 0, IMAGE_SIDE),
                PICTURE_PLACEHOLDER,
            ),
        }
    }

    /// Returns where the next block starts.
    fn draw_title(&mut self, title: &str, top: u32) -> u32 {
        let font = self.font.at_size(TITLE.em_px);
        let title = self.font.drawable(title);
        let lines = wrap_text(
            &title,
            CONTENT_WIDTH as f32,
            TITLE_MAX_LINES,
            self.font.ellipsis(),
            &font,
        );
        let mut line_top = top;
        for line in &lines {
            self.draw_line(&TITLE, line, MARGIN as f32, line_top);
            line_top += TITLE.line_height;
        }
        line_top
    }

    fn draw_selling_point(&mut self, selling_point: Option<&str>, top: u32) -> u32 {
        let shown = self.fit_line(
            &SELLING_POINT,
            selling_point.unwrap_or_default(),
            CONTENT_WIDTH as f32,
        );
        if shown.is_empty() {
            return top;
        }
        let line_top = top + GAP_BEFORE_SELLING_POINT;
        self.draw_line(&SELLING_POINT, &shown, MARGIN as f32, line_top);
        line_top + SELLING_POINT.line_height
    }

    /// The price, then the original price struck through on the same baseline if it fits.
    fn draw_prices(&mut self, price: &str, original_price: Option<&str>, top: u32) -> u32 {
        let row_top = top + GAP_BEFORE_PRICES;
        let price = self.fit_line(&PRICE, price, CONTENT_WIDTH as f32);
        let baseline = self.baseline(&PRICE, row_top);
        let price_width = self.draw_on_baseline(&PRICE, &price, MARGIN as f32, baseline);

        let original_left = MARGIN as f32 + price_width + INLINE_GAP as f32;
        let room = CONTENT_WIDTH as f32 - price_width - INLINE_GAP as f32;
        let original = self.fit_line(&ORIGINAL_PRICE, original_price.unwrap_or_default(), room);
        if !original.is_empty() {
            let width = self.draw_on_baseline(&ORIGINAL_PRICE, &original, original_left, baseline);
            // Through the middle of the digits, which stand about 0.7 em above the baseline.
            let strike_y = baseline - ORIGINAL_PRICE.em_px * 0.35;
            let strike = Rect {
                left: original_left.round() as i32,
                top: strike_y.round() as i32,
                width: width.round() as u32,
                height: 2,
            };
            fill_rect(&mut self.canvas, strike, ORIGINAL_PRICE.color);
        }
        row_top + PRICE.line_height
    }

    /// The group-buy price and the badge tag after it, on one row; the badge keeps its room
    /// and the group price is cut first, as the badge is the shorter of the two.
    fn draw_promotion(&mut self, group_price: Option<&str>, badge: Option<&str>, top: u32) {
        let row_top = top + GAP_BEFORE_PROMOTION;
        let badge_font = self.font.at_size(BADGE.em_px);
        let badge_room = (CONTENT_WIDTH - 2 * BADGE_PADDING) as f32;
        let badge = self.fit_line(&BADGE, badge.unwrap_or_default(), badge_room);
        let badge_width = if badge.is_empty() {
            0
        } else {
            badge_font.text_width(&badge).ceil() as u32 + 2 * BADGE_PADDING
        };

        let group_room = CONTENT_WIDTH.saturating_sub(badge_width + INLINE_GAP) as f32;
        let group_price = self.fit_line(&GROUP_PRICE, group_price.unwrap_or_default(), group_room);
        let mut left = MARGIN as f32;
        if !group_price.is_empty() {
            left += self.draw_line(&GROUP_PRICE, &group_price, left, row_top) + INLINE_GAP as f32;
        }
        if !badge.is_empty() {
            let tag_top = row_top + (GROUP_PRICE.line_height - BADGE.line_height) / 2;
            let tag = Rect {
                left: left.round() as i32,
                top: saturating_i32(tag_top),
                width: badge_width,
                height: BADGE.line_height,
            };
            fill_rounded_rect(&mut self.canvas, tag, BADGE_CORNER_RADIUS, RED);
            self.draw_line(&BADGE, &badge, left + BADGE_PADDING as f32, tag_top);
        }
    }

    fn draw_footer_divider(&mut self) {
        let divider = Rect {
            left: saturating_i32(MARGIN),
            top: saturating_i32(FOOTER_TOP),
            width: CONTENT_WIDTH,
            height: 1,
        };
        fill_rect(&mut self.canvas, divider, DIVIDER);
    }

    /// The mini-program code if it decodes, else the link's QR code; the caption below either.
    fn draw_code(&mut self, code_image: Option<&[u8]>, link: &str) -> Result<(), PosterError> {
        let area = Rect::square(saturating_i32(QR_LEFT), saturating_i32(QR_TOP), QR_SIDE);
        match code_image.and_then(decode_picture) {
            Some(code) => {
                let fitted = contain(&code, QR_SIDE, QR_SIDE);
                let left = area.left + saturating_i32(QR_SIDE.saturating_sub(fitted.width()) / 2);
                let top = area.top + saturating_i32(QR_SIDE.saturating_sub(fitted.height()) / 2);
                draw_picture(&mut self.canvas, &fitted, left, top, 0.0);
            }
            None => qr::draw_qr(&mut self.canvas, link, area)?,
        }
        let caption_font = self.font.at_size(CAPTION.em_px);
        let caption_left =
            QR_LEFT as f32 + (QR_SIDE as f32 - caption_font.text_width(CAPTION_TEXT)) / 2.0;
        self.draw_line(&CAPTION, CAPTION_TEXT, caption_left, CAPTION_TOP);
        Ok(())
    }

    /// The avatar circle and "{name} 推荐给你", the name cut to leave room for the rest.
    fn draw_sharer(&mut self, sharer_name: &str, avatar: Option<&[u8]>) {
        let mut name = self.font.drawable(sharer_name);
        if name.is_empty() {
            name = SHARER_FALLBACK_NAME.to_owned();
        }
        self.draw_avatar(avatar, &name);

        let recommends_width = self
            .font
            .at_size(RECOMMENDS.em_px)
            .text_width(RECOMMENDS_TEXT);
        let name_room = (SHARER_RIGHT - SHARER_LEFT) as f32 - recommends_width;
        let name = self.fit_line(&SHARER_NAME, &name, name_room);
        let line_top = AVATAR_TOP + (AVATAR_SIDE - SHARER_NAME.line_height) / 2;
        let name_width = self.draw_line(&SHARER_NAME, &name, SHARER_LEFT as f32, line_top);
        self.draw_line(
            &RECOMMENDS,
            RECOMMENDS_TEXT,
            SHARER_LEFT as f32 + name_width,
            line_top,
        );
    }

    fn draw_avatar(&mut self, avatar: Option<&[u8]>, name: &str) {
        let bounds = Rect::square(
            saturating_i32(MARGIN),
            saturating_i32(AVATAR_TOP),
            AVATAR_SIDE,
        );
        let radius = AVATAR_SIDE as f32 / 2.0;
        if let Some(picture) = avatar.and_then(decode_picture) {
            let fitted = cover(&picture, AVATAR_SIDE, AVATAR_SIDE);
            draw_picture(&mut self.canvas, &fitted, bounds.left, bounds.top, radius);
            return;
        }
        fill_rounded_rect(&mut self.canvas, bounds, radius, AVATAR_PLACEHOLDER);
        let initial: String = name.chars().take(1).flat_map(char::to_uppercase).collect();
        let initial_width = self.font.at_size(AVATAR_INITIAL.em_px).text_width(&initial);
        let initial_left = MARGIN as f32 + (AVATAR_SIDE as f32 - initial_width) / 2.0;
        self.draw_line(&AVATAR_INITIAL, &initial, initial_left, AVATAR_TOP);
    }

    /// `text` as drawable in `style`, cut with "…" to `max_width`.
    fn fit_line(&self, style: &TextStyle, text: &str, max_width: f32) -> String {
        let font = self.font.at_size(style.em_px);
        truncate_to_width(
            &self.font.drawable(text),
            max_width,
            self.font.ellipsis(),
            &font,
        )
    }

    /// Draws one line centred in the line box at `top`; returns its width.
    fn draw_line(&mut self, style: &TextStyle, text: &str, left: f32, top: u32) -> f32 {
        let baseline = self.baseline(style, top);
        self.draw_on_baseline(style, text, left, baseline)
    }

    fn baseline(&self, style: &TextStyle, top: u32) -> f32 {
        let font = self.font.at_size(style.em_px);
        font.baseline(top as f32, style.line_height as f32)
    }

    fn draw_on_baseline(&mut self, style: &TextStyle, text: &str, left: f32, baseline: f32) -> f32 {
        let font = self.font.at_size(style.em_px);
        font.draw(
            &mut self.canvas,
            text,
            left,
            baseline,
            style.color,
            style.bold,
        )
    }

    /// Fast deflate: a poster is encoded on the request path, and the best level takes several
    /// times as long for a file a few per cent smaller.
    fn into_png(self) -> Result<Vec<u8>, PosterError> {
        let mut png = Vec::new();
        let encoder =
            PngEncoder::new_with_quality(&mut png, CompressionType::Fast, PngFilter::Adaptive);
        encoder.write_image(self.canvas.as_raw(), WIDTH, HEIGHT, ExtendedColorType::Rgb8)?;
        Ok(png)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::codecs::jpeg::JpegEncoder;
    use image::{ImageFormat, Rgba, RgbaImage};

    use super::*;

    const LINK: &str = "https://mall.example.com/s/Xy7Kq2?ref=u_1024&g=55";
    const LONG_TITLE: &str =
        "【官方正品】新疆阿克苏冰糖心苹果脆甜多汁当季新鲜水果整箱包邮十斤装大果礼盒送长辈";

    fn png_bytes(picture: &RgbaImage) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        picture
            .write_to(&mut bytes, ImageFormat::Png)
            .expect("PNG encodes");
        bytes.into_inner()
    }

    /// A photo-like JPEG (a colour gradient), wider than tall, so the poster has to crop it.
    fn jpeg_product_image() -> Vec<u8> {
        let photo = RgbImage::from_fn(900, 600, |x, y| {
            Rgb([(x * 255 / 900) as u8, (y * 255 / 600) as u8, 160])
        });
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 85)
            .encode_image(&photo)
            .expect("JPEG encodes");
        bytes
    }

    fn png_avatar() -> Vec<u8> {
        png_bytes(&RgbaImage::from_fn(64, 64, |x, _| {
            Rgba([20, 120, (x * 4) as u8, 255])
        }))
    }

    fn full_facts() -> PosterFacts {
        PosterFacts {
            title: LONG_TITLE.to_owned(),
            selling_point: Some(
                "产地直发，坏果包赔，冷链配送到家，一年四季都能吃到好苹果".to_owned(),
            ),
            price: "¥99.00".to_owned(),
            original_price: Some("¥129.00".to_owned()),
            group_price: Some("拼团价 ¥79.00".to_owned()),
            badge: Some("3人团 · 还差1人".to_owned()),
            sharer_name: "🍎小苹果🌸的超长超长超长超长超长昵称Apple🍏".to_owned(),
            sharer_avatar: Some(png_avatar()),
            product_image: Some(jpeg_product_image()),
            link: LINK.to_owned(),
            code_image: None,
        }
    }

    fn render_bundled(facts: &PosterFacts) -> RgbImage {
        let png = render(facts, PosterFont::bundled()).expect("the poster renders");
        let decoded = image::load_from_memory_with_format(&png, ImageFormat::Png)
            .expect("the poster is a PNG");
        decoded.into_rgb8()
    }

    fn pixel(poster: &RgbImage, x: u32, y: u32) -> Rgb<u8> {
        *poster.get_pixel(x, y)
    }

    fn is_reddish(color: Rgb<u8>) -> bool {
        let [red, green, blue] = color.0;
        red > 200 && green < 120 && blue < 120
    }

    fn assert_close(actual: Rgb<u8>, expected: [u8; 3], what: &str) {
        let off = actual
            .0
            .iter()
            .zip(expected)
            .any(|(a, e)| a.abs_diff(e) > 12);
        assert!(!off, "{what}: {actual:?} is not about {expected:?}");
    }

    #[test]
    fn a_full_poster_is_poster_sized_and_its_qr_code_scans_as_the_link() {
        let poster = render_bundled(&full_facts());
        assert_eq!(poster.dimensions(), (WIDTH, HEIGHT));
        assert_eq!(qr::decode_qr_codes(&poster), [LINK]);
        // The JPEG's centre (x 450 of 900, y 300 of 600) lands in the middle of the square.
        assert_close(pixel(&poster, 375, 375), [127, 127, 160], "product picture");
        let avatar_centre = (MARGIN + AVATAR_SIDE / 2, AVATAR_TOP + AVATAR_SIDE / 2);
        assert_close(
            pixel(&poster, avatar_centre.0, avatar_centre.1),
            [20, 120, 128],
            "avatar",
        );
    }

    #[test]
    fn the_product_picture_covers_the_top_square_only() {
        let green = Rgba([30, 160, 60, 255]);
        let facts = PosterFacts {
            product_image: Some(png_bytes(&RgbaImage::from_pixel(400, 300, green))),
            ..full_facts()
        };
        let poster = render_bundled(&facts);
        for (x, y) in [(0, 0), (749, 0), (0, 749), (749, 749), (375, 375)] {
            assert_eq!(pixel(&poster, x, y), Rgb([30, 160, 60]), "at ({x}, {y})");
        }
        assert_eq!(pixel(&poster, 375, IMAGE_SIDE + 2), WHITE);
    }

    #[test]
    fn a_mini_program_code_is_drawn_in_place_of_the_qr_code() {
        // Twice the box's size (WeChat serves codes larger than the poster shows them), with
        // a transparent quadrant that must come out white.
        let quadrant_colors = [
            Rgba([200, 30, 30, 255]),
            Rgba([30, 30, 200, 255]),
            Rgba([30, 160, 60, 255]),
        ];
        let side = 2 * QR_SIDE;
        let code = RgbaImage::from_fn(side, side, |x, y| match (x < side / 2, y < side / 2) {
            (true, true) => quadrant_colors[0],
            (false, true) => quadrant_colors[1],
            (true, false) => quadrant_colors[2],
            (false, false) => Rgba([0, 0, 0, 0]),
        });
        let facts = PosterFacts {
            code_image: Some(png_bytes(&code)),
            ..full_facts()
        };
        let poster = render_bundled(&facts);

        let quarter = QR_SIDE / 4;
        let (near_x, far_x) = (QR_LEFT + quarter, QR_LEFT + 3 * quarter);
        let (near_y, far_y) = (QR_TOP + quarter, QR_TOP + 3 * quarter);
        let rgb = |color: Rgba<u8>| Rgb([color.0[0], color.0[1], color.0[2]]);
        assert_eq!(pixel(&poster, near_x, near_y), rgb(quadrant_colors[0]));
        assert_eq!(pixel(&poster, far_x, near_y), rgb(quadrant_colors[1]));
        assert_eq!(pixel(&poster, near_x, far_y), rgb(quadrant_colors[2]));
        assert_eq!(pixel(&poster, far_x, far_y), WHITE);
        assert!(
            qr::decode_qr_codes(&poster).is_empty(),
            "no QR code besides the mini-program code"
        );
    }

    #[test]
    fn undecodable_pictures_fall_back_to_placeholders_and_the_qr_code() {
        let garbage = b"\x89PNG\r\n\x1a\n this is not really a picture".to_vec();
        let facts = PosterFacts {
            sharer_avatar: Some(garbage.clone()),
            product_image: Some(garbage.clone()),
            code_image: Some(garbage),
            ..full_facts()
        };
        let poster = render_bundled(&facts);
        assert_eq!(pixel(&poster, 375, 375), PICTURE_PLACEHOLDER);
        // Inside the avatar circle, left of the initial.
        assert_eq!(
            pixel(&poster, MARGIN + 8, AVATAR_TOP + AVATAR_SIDE / 2),
            AVATAR_PLACEHOLDER
        );
        assert_eq!(qr::decode_qr_codes(&poster), [LINK]);
    }

    #[test]
    fn missing_pictures_and_an_all_emoji_nickname_still_render() {
        let facts = PosterFacts {
            title: "🍎🍎".to_owned(),
            selling_point: None,
            original_price: None,
            group_price: None,
            badge: None,
            sharer_name: "🌸🌸🌸".to_owned(),
            sharer_avatar: None,
            product_image: None,
            ..full_facts()
        };
        let poster = render_bundled(&facts);
        assert_eq!(pixel(&poster, 375, 375), PICTURE_PLACEHOLDER);
        assert_eq!(
            pixel(&poster, MARGIN + 8, AVATAR_TOP + AVATAR_SIDE / 2),
            AVATAR_PLACEHOLDER
        );
        assert_eq!(qr::decode_qr_codes(&poster), [LINK]);
    }

    #[test]
    fn the_price_is_red_and_the_badge_is_a_solid_red_tag() {
        let without_promotion = PosterFacts {
            group_price: None,
            badge: None,
            ..full_facts()
        };
        let plain = render_bundled(&without_promotion);
        let promoted = render_bundled(&full_facts());
        let red_in_text_area = |poster: &RgbImage| {
            (IMAGE_SIDE..FOOTER_TOP)
                .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
                .filter(|&(x, y)| is_reddish(pixel(poster, x, y)))
                .count()
        };
        assert!(red_in_text_area(&plain) > 500, "the price is drawn in red");
        assert!(red_in_text_area(&promoted) > red_in_text_area(&plain) + 3000);
        // The tag is a filled run of red at least as wide as its padding on both sides.
        let longest_red_run = (IMAGE_SIDE..FOOTER_TOP)
            .map(|y| {
                let mut longest = 0;
                let mut run = 0;
                for x in 0..WIDTH {
                    run = if pixel(&promoted, x, y) == RED {
                        run + 1
                    } else {
                        0
                    };
                    longest = longest.max(run);
                }
                longest
            })
            .max()
            .unwrap_or(0);
        assert!(
            longest_red_run >= 2 * BADGE_PADDING,
            "longest red run {longest_red_run}"
        );
    }

    #[test]
    fn the_same_facts_render_the_same_bytes() {
        let facts = full_facts();
        let font = PosterFont::bundled();
        let first = render(&facts, font).expect("renders");
        assert_eq!(render(&facts, font).expect("renders"), first);
    }

    #[test]
    fn a_link_too_long_for_a_qr_code_fails_unless_a_mini_program_code_replaces_it() {
        let long_link = format!("https://mall.example.com/s/{}", "x".repeat(1000));
        let facts = PosterFacts {
            link: long_link.clone(),
            ..full_facts()
        };
        let error = render(&facts, PosterFont::bundled()).unwrap_err();
        assert!(matches!(error, PosterError::LinkTooLong { .. }), "{error}");

        let code = png_bytes(&RgbaImage::from_pixel(
            QR_SIDE,
            QR_SIDE,
            Rgba([0, 0, 0, 255]),
        ));
        let facts = PosterFacts {
            link: long_link,
            code_image: Some(code),
            ..full_facts()
        };
        assert!(render(&facts, PosterFont::bundled()).is_ok());
    }

    #[test]
    fn the_content_key_changes_with_every_fact_and_only_then() {
        let base = full_facts();
        let base_key = content_key(&base);
        assert_eq!(base_key.len(), 64);
        assert!(base_key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(content_key(&base.clone()), base_key);

        /// A field's name and an edit of only that field.
        type Change = (&'static str, fn(&mut PosterFacts));
        let changes: [Change; 11] = [
            ("title", |f| f.title.push('!')),
            ("selling_point", |f| f.selling_point = None),
            ("price", |f| f.price = "¥98.00".to_owned()),
            ("original_price", |f| f.original_price = Some(String::new())),
            ("group_price", |f| f.group_price = None),
            ("badge", |f| f.badge = Some("满200减30".to_owned())),
            ("sharer_name", |f| f.sharer_name = "小明".to_owned()),
            ("sharer_avatar", |f| f.sharer_avatar = None),
            ("product_image", |f| {
                if let Some(bytes) = &mut f.product_image {
                    bytes.push(0);
                }
            }),
            ("link", |f| f.link.push('1')),
            ("code_image", |f| f.code_image = Some(Vec::new())),
        ];
        let mut keys = vec![base_key];
        for (field, change) in changes {
            let mut changed = base.clone();
            change(&mut changed);
            let key = content_key(&changed);
            assert!(
                !keys.contains(&key),
                "changing {field} gave a key already seen"
            );
            keys.push(key);
        }
    }

    #[test]
    fn the_content_key_keeps_neighbouring_fields_apart() {
        let split = |title: &str, selling_point: &str| PosterFacts {
            title: title.to_owned(),
            selling_point: Some(selling_point.to_owned()),
            ..PosterFacts::default()
        };
        assert_ne!(
            content_key(&split("ab", "c")),
            content_key(&split("a", "bc"))
        );
        let absent = PosterFacts {
            selling_point: None,
            ..split("a", "")
        };
        assert_ne!(content_key(&absent), content_key(&split("a", "")));
    }

    #[test]
    fn debug_output_shows_picture_sizes_not_bytes() {
        let shown = format!("{:?}", full_facts());
        assert!(shown.contains("product_image_bytes: Some("), "{shown}");
        assert!(
            !shown.contains("[255, 216"),
            "JPEG bytes leaked into {shown}"
        );
    }
}
