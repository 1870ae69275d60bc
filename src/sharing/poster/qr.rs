//! The share link's QR code, drawn module by module on the poster.

use image::{Rgb, RgbImage};
use qrcode::{Color, EcLevel, QrCode};

use super::PosterError;
use super::canvas::{Rect, fill_rect, saturating_i32};

/// The white margin the QR specification asks for around the code, in modules; without it
/// scanners can lose the finder patterns against whatever surrounds the code.
const QUIET_ZONE_MODULES: u32 = 4;
/// Below two pixels a module smears once WeChat recompresses the shared image.
const MIN_MODULE_PX: u32 = 2;

const DARK: Rgb<u8> = Rgb([0, 0, 0]);
const LIGHT: Rgb<u8> = Rgb([255, 255, 255]);

/// Draws `link` as a QR code centred in `area` (a square), quiet zone included, with whole
/// pixels per module so every module edge is sharp.
pub(super) fn draw_qr(canvas: &mut RgbImage, link: &str, area: Rect) -> Result<(), PosterError> {
    // Level M survives about 15% damage: enough for a poster photographed or recompressed,
    // while keeping the code coarse enough for the space it has.
    let code = QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M)
        .map_err(|_| PosterError::LinkTooLong { bytes: link.len() })?;
    let modules = u32::try_from(code.width()).unwrap_or(u32::MAX);
    let side_in_modules = modules.saturating_add(2 * QUIET_ZONE_MODULES);
    let module_px = area.width.min(area.height) / side_in_modules;
    if module_px < MIN_MODULE_PX {
        return Err(PosterError::LinkTooLong { bytes: link.len() });
    }
    let drawn_side = module_px * side_in_modules;
    let left = area.left + saturating_i32((area.width - drawn_side) / 2);
    let top = area.top + saturating_i32((area.height - drawn_side) / 2);
    fill_rect(canvas, Rect::square(left, top, drawn_side), LIGHT);

    let first_module_offset = saturating_i32(QUIET_ZONE_MODULES * module_px);
    let module_step = saturating_i32(module_px);
    let dark_modules = code
        .to_colors()
        .into_iter()
        .enumerate()
        .filter(|(_, color)| *color == Color::Dark);
    for (index, _) in dark_modules {
        let (row, column) = (index / code.width(), index % code.width());
        let module = Rect::square(
            left + first_module_offset + saturating_i32(column) * module_step,
            top + first_module_offset + saturating_i32(row) * module_step,
            module_px,
        );
        fill_rect(canvas, module, DARK);
    }
    Ok(())
}

/// Every QR code a scanner finds on `canvas`, decoded (the green channel stands in for
/// brightness, as the codes are drawn black on white).
#[cfg(test)]
pub(super) fn decode_qr_codes(canvas: &RgbImage) -> Vec<String> {
    let (width, height) = canvas.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            canvas.get_pixel(x as u32, y as u32).0[1]
        });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, content)| content))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_code_decodes_to_the_link() {
        let link = "https://mall.example.com/s/Xy7Kq2?ref=u_1024&c=group_55";
        let grey = Rgb([200, 200, 200]);
        let mut canvas = RgbImage::from_pixel(240, 240, grey);
        draw_qr(&mut canvas, link, Rect::square(20, 20, 200)).expect("a short link fits");
        assert_eq!(decode_qr_codes(&canvas), [link]);

        // Across the middle row, the code starts with a quiet zone painted white even on grey.
        let row: Vec<Rgb<u8>> = (0..240).map(|x| *canvas.get_pixel(x, 120)).collect();
        let painted = row
            .iter()
            .position(|p| *p != grey)
            .expect("the code is drawn");
        let dark = row
            .iter()
            .position(|p| *p == DARK)
            .expect("the code has dark modules");
        assert!(painted >= 20, "drawn inside its area");
        assert!(row[painted..dark].iter().all(|p| *p == LIGHT));
        assert!(dark - painted >= (QUIET_ZONE_MODULES * MIN_MODULE_PX) as usize);
    }

    #[test]
    fn a_link_too_long_for_the_box_is_an_error_not_a_blur() {
        let link = format!("https://mall.example.com/s/{}", "a".repeat(600));
        let mut canvas = RgbImage::from_pixel(200, 200, LIGHT);
        let error = draw_qr(&mut canvas, &link, Rect::square(0, 0, 170)).unwrap_err();
        assert!(matches!(error, PosterError::LinkTooLong { bytes } if bytes == link.len()));
        let beyond_any_qr = "a".repeat(8000);
        assert!(draw_qr(&mut canvas, &beyond_any_qr, Rect::square(0, 0, 170)).is_err());
    }
}
