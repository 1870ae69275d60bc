//! Pixels for the share poster: decoding the caller's pictures, fitting them to a box, and
//! filling anti-aliased shapes on an opaque RGB canvas.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{
    DynamicImage, GenericImageView, ImageBuffer, ImageDecoder, ImageReader, Limits, Pixel, Rgb,
    RgbImage, RgbaImage,
};

/// The largest picture side decoded: a phone's 48-megapixel photo is 8000 px wide.
const MAX_PICTURE_SIDE: u32 = 8192;
/// Caps what one decode may allocate, so a small file that claims a huge picture (a
/// decompression bomb) is refused instead of exhausting memory: 160 MiB holds the RGB pixels of
/// a 48-megapixel photo.
const MAX_DECODE_BYTES: u64 = 160 * 1024 * 1024;

/// A box on the canvas, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rect {
    pub(super) left: i32,
    pub(super) top: i32,
    pub(super) width: u32,
    pub(super) height: u32,
}

impl Rect {
    pub(super) fn square(left: i32, top: i32, side: u32) -> Rect {
        Rect {
            left,
            top,
            width: side,
            height: side,
        }
    }

    fn pixels(self) -> impl Iterator<Item = (i32, i32)> {
        let (left, top) = (self.left, self.top);
        let (width, height) = (saturating_i32(self.width), saturating_i32(self.height));
        (top..top + height).flat_map(move |y| (left..left + width).map(move |x| (x, y)))
    }
}

/// A pixel length or count as a coordinate; the poster's lengths are far below `i32::MAX`.
pub(super) fn saturating_i32(length: impl TryInto<i32>) -> i32 {
    length.try_into().unwrap_or(i32::MAX)
}

/// A PNG or JPEG from untrusted bytes, turned upright by its EXIF orientation (phone photos are
/// often stored sideways); `None` for anything that does not decode within the limits. Kept in
/// the pixel format it came in: converting a 12-megapixel photo to RGBA before shrinking it
/// took almost as long as decoding it.
pub(super) fn decode_picture(bytes: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().ok()?;
    let mut picture = DynamicImage::from_decoder(decoder).ok()?;
    picture.apply_orientation(orientation);
    (picture.width() > 0 && picture.height() > 0).then_some(picture)
}

/// `picture` scaled to fill `width` × `height`, cropping the overflow evenly from both sides
/// (CSS `object-fit: cover`).
pub(super) fn cover(picture: &DynamicImage, width: u32, height: u32) -> RgbaImage {
    let (picture_width, picture_height) = picture.dimensions();
    let (crop_width, crop_height) = if is_wider(picture.dimensions(), (width, height)) {
        (scale_length(picture_height, width, height), picture_height)
    } else {
        (picture_width, scale_length(picture_width, height, width))
    };
    let crop = Region {
        left: picture_width.saturating_sub(crop_width) / 2,
        top: picture_height.saturating_sub(crop_height) / 2,
        width: crop_width,
        height: crop_height,
    };
    crop_and_resize(picture, crop, width, height)
}

/// `picture` scaled to fit inside `width` × `height`, keeping its aspect ratio (CSS
/// `object-fit: contain`).
pub(super) fn contain(picture: &DynamicImage, width: u32, height: u32) -> RgbaImage {
    let (picture_width, picture_height) = picture.dimensions();
    let (fit_width, fit_height) = if is_wider(picture.dimensions(), (width, height)) {
        (width, scale_length(picture_height, width, picture_width))
    } else {
        (scale_length(picture_width, height, picture_height), height)
    };
    let whole = Region {
        left: 0,
        top: 0,
        width: picture_width,
        height: picture_height,
    };
    crop_and_resize(picture, whole, fit_width, fit_height)
}

/// A part of a picture, in its pixels.
struct Region {
    left: u32,
    top: u32,
    width: u32,
    height: u32,
}

/// Whether `size` has a wider aspect ratio than `target`, compared in integers.
fn is_wider((width, height): (u32, u32), (target_width, target_height): (u32, u32)) -> bool {
    u64::from(width) * u64::from(target_height) > u64::from(height) * u64::from(target_width)
}

/// `length × numerator / denominator`, at least 1 px; the callers only shrink a length or
/// keep it, so it fits a u32.
fn scale_length(length: u32, numerator: u32, denominator: u32) -> u32 {
    let scaled = u64::from(length) * u64::from(numerator) / u64::from(denominator.max(1));
    u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
}

/// The `crop` part of `picture` (inside it) scaled to `width` × `height`, resized in the
/// picture's own format and converted only at poster size.
fn crop_and_resize(picture: &DynamicImage, crop: Region, width: u32, height: u32) -> RgbaImage {
    let Region {
        left,
        top,
        width: crop_width,
        height: crop_height,
    } = crop;
    match picture {
        // JPEG photos.
        DynamicImage::ImageRgb8(rgb) => {
            let view = imageops::crop_imm(rgb, left, top, crop_width, crop_height);
            DynamicImage::ImageRgb8(resize(&*view, width, height)).into_rgba8()
        }
        DynamicImage::ImageRgba8(rgba) => {
            let view = imageops::crop_imm(rgba, left, top, crop_width, crop_height);
            resize(&*view, width, height)
        }
        // Grey, 16-bit and palette pictures are rare enough to convert whole.
        other => {
            let rgba = other.to_rgba8();
            let view = imageops::crop_imm(&rgba, left, top, crop_width, crop_height);
            resize(&*view, width, height)
        }
    }
}

fn resize<I>(picture: &I, width: u32, height: u32) -> ImageBuffer<I::Pixel, Vec<u8>>
where
    I: GenericImageView,
    I::Pixel: Pixel<Subpixel = u8> + 'static,
{
    let (picture_width, picture_height) = picture.dimensions();
    if (picture_width, picture_height) == (width, height) {
        return ImageBuffer::from_fn(width, height, |x, y| picture.get_pixel(x, y));
    }
    // A large photo shrunk to poster size: the box-averaging thumbnail is several times
    // faster than a filter and as good once each target pixel averages 2 × 2 or more.
    if picture_width >= 2 * width && picture_height >= 2 * height {
        imageops::thumbnail(picture, width, height)
    } else {
        imageops::resize(picture, width, height, FilterType::Triangle)
    }
}

/// Paints `picture` with its top-left corner at (`left`, `top`), blending its alpha over the
/// canvas and clipping its corners to `corner_radius` (half its side makes a circle).
pub(super) fn draw_picture(
    canvas: &mut RgbImage,
    picture: &RgbaImage,
    left: i32,
    top: i32,
    corner_radius: f32,
) {
    let (width, height) = picture.dimensions();
    let bounds = Rect {
        left,
        top,
        width,
        height,
    };
    for (pixel, (x, y)) in picture.pixels().zip(bounds.pixels()) {
        let shape = rounded_rect_coverage(bounds, corner_radius, x, y);
        let [red, green, blue, alpha] = pixel.0;
        let opacity = f32::from(alpha) / 255.0 * shape;
        blend_pixel(canvas, x, y, Rgb([red, green, blue]), opacity);
    }
}

/// Fills `bounds` with `color`, its corners rounded to `corner_radius` with anti-aliased edges.
pub(super) fn fill_rounded_rect(
    canvas: &mut RgbImage,
    bounds: Rect,
    corner_radius: f32,
    color: Rgb<u8>,
) {
    for (x, y) in bounds.pixels() {
        let coverage = rounded_rect_coverage(bounds, corner_radius, x, y);
        blend_pixel(canvas, x, y, color, coverage);
    }
}

pub(super) fn fill_rect(canvas: &mut RgbImage, bounds: Rect, color: Rgb<u8>) {
    fill_rounded_rect(canvas, bounds, 0.0, color);
}

/// How much of pixel (`x`, `y`) lies inside `bounds` with rounded corners, from 0 to 1: its
/// signed distance from the edge, one pixel wide of soft edge.
fn rounded_rect_coverage(bounds: Rect, corner_radius: f32, x: i32, y: i32) -> f32 {
    if corner_radius <= 0.0 {
        return 1.0;
    }
    let half_width = bounds.width as f32 / 2.0;
    let half_height = bounds.height as f32 / 2.0;
    let radius = corner_radius.min(half_width).min(half_height);
    // The pixel's centre relative to the box's centre, folded into one quadrant.
    let dx = (x as f32 + 0.5 - (bounds.left as f32 + half_width)).abs() - (half_width - radius);
    let dy = (y as f32 + 0.5 - (bounds.top as f32 + half_height)).abs() - (half_height - radius);
    let outside = dx.max(0.0).hypot(dy.max(0.0));
    let inside = dx.max(dy).min(0.0);
    let distance = outside + inside - radius;
    (0.5 - distance).clamp(0.0, 1.0)
}

/// Mixes `color` into the pixel at (`x`, `y`) by `opacity` (0 to 1); off-canvas pixels are
/// ignored, so shapes and glyphs may overhang the edge.
pub(super) fn blend_pixel(canvas: &mut RgbImage, x: i32, y: i32, color: Rgb<u8>, opacity: f32) {
    if opacity <= 0.0 {
        return;
    }
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
        return;
    };
    let Some(pixel) = canvas.get_pixel_mut_checked(x, y) else {
        return;
    };
    // Most pixels of a picture are opaque: copying them skips the per-channel arithmetic.
    if opacity >= 1.0 {
        *pixel = color;
        return;
    }
    for (channel, target) in pixel.0.iter_mut().zip(color.0) {
        let mixed = f32::from(*channel) + (f32::from(target) - f32::from(*channel)) * opacity;
        *channel = mixed.round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: Rgb<u8> = Rgb([255, 0, 0]);
    const WHITE: Rgb<u8> = Rgb([255, 255, 255]);

    #[test]
    fn cover_crops_the_long_side_evenly_and_keeps_the_middle() {
        // A 300 × 100 picture: left third black, middle third green, right third blue.
        let picture = RgbaImage::from_fn(300, 100, |x, _| match x / 100 {
            0 => image::Rgba([0, 0, 0, 255]),
            1 => image::Rgba([0, 255, 0, 255]),
            _ => image::Rgba([0, 0, 255, 255]),
        });
        let covered = cover(&DynamicImage::ImageRgba8(picture), 50, 50);
        assert_eq!(covered.dimensions(), (50, 50));
        assert!(covered.pixels().all(|p| p.0 == [0, 255, 0, 255]));
    }

    #[test]
    fn contain_keeps_the_aspect_ratio_inside_the_box() {
        let wide = DynamicImage::ImageRgb8(RgbImage::new(400, 100));
        assert_eq!(contain(&wide, 200, 200).dimensions(), (200, 50));
        let tall = DynamicImage::ImageLuma8(image::GrayImage::new(10, 40));
        assert_eq!(contain(&tall, 200, 200).dimensions(), (50, 200));
    }

    #[test]
    fn a_circle_covers_its_centre_but_not_its_corners() {
        let mut canvas = RgbImage::from_pixel(40, 40, WHITE);
        fill_rounded_rect(&mut canvas, Rect::square(0, 0, 40), 20.0, RED);
        assert_eq!(*canvas.get_pixel(20, 20), RED);
        assert_eq!(*canvas.get_pixel(0, 0), WHITE);
        assert_eq!(*canvas.get_pixel(39, 39), WHITE);
        assert_eq!(*canvas.get_pixel(1, 20), RED);
        let edge = canvas.get_pixel(0, 20).0;
        assert!(
            edge[1] > 0 && edge[1] < 10,
            "the edge is anti-aliased: {edge:?}"
        );
    }

    #[test]
    fn shapes_off_the_canvas_are_clipped_without_panicking() {
        let mut canvas = RgbImage::from_pixel(10, 10, WHITE);
        fill_rect(
            &mut canvas,
            Rect {
                left: -5,
                top: 8,
                width: 30,
                height: 30,
            },
            RED,
        );
        assert_eq!(*canvas.get_pixel(0, 9), RED);
        assert_eq!(*canvas.get_pixel(0, 7), WHITE);
    }

    #[test]
    fn undecodable_bytes_give_no_picture() {
        assert!(decode_picture(b"").is_none());
        assert!(decode_picture(b"\x89PNG\r\n\x1a\n truncated").is_none());
        assert!(decode_picture(b"\xff\xd8\xff garbage jpeg").is_none());
    }
}
