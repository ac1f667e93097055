//! Receipts: the text printed at the counter and the PDF handed to the family.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use daftar_client_core::client::office::Receipt;
use daftar_client_core::money::format_money;
use printpdf::image_crate::{DynamicImage, Rgb, RgbImage};
use printpdf::{BuiltinFont, Image, ImageTransform, Mm, PdfDocument, PdfLayerReference};

/// The receipt as plain text (monospace printers), its time in the school's zone `tz`.
pub fn text(r: &Receipt, tz: chrono_tz::Tz) -> String {
    let m = |v: i64| format!("{} {}", r.currency, format_money(v, &r.currency));
    let mut s = String::new();
    s.push_str(&format!("{}\n", r.school));
    if !r.school_address.is_empty() {
        s.push_str(&format!("{}\n", r.school_address));
    }
    s.push_str(&format!("RECEIPT {}\n", r.receipt_no));
    s.push_str(&format!(
        "Date: {}\nFamily: {} ({})\nReceived: {} by {:?}\n",
        r.received_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        r.family,
        r.family_id,
        m(r.amount),
        r.method
    ));
    for (student, line, amount) in &r.allocations {
        s.push_str(&format!("  {student} — {line}: {}\n", m(*amount)));
    }
    if r.to_credit > 0 {
        s.push_str(&format!("  Kept as family credit: {}\n", m(r.to_credit)));
    }
    if r.offline {
        s.push_str("(issued offline; confirmed when this computer next syncs)\n");
    }
    s
}

/// Writes the receipt `r` as a one-page A5 PDF at `path` (times in the school's zone `tz`),
/// with the school's `logo` (PNG or JPEG bytes) when there is one.
///
/// Errors: the file cannot be written.
pub fn write_pdf(
    r: &Receipt,
    tz: chrono_tz::Tz,
    logo: Option<&[u8]>,
    path: &Path,
) -> anyhow::Result<()> {
    let lines: Vec<String> = text(r, tz).lines().map(String::from).collect();
    write_pdf_lines(&format!("Receipt {}", r.receipt_no), &lines, 2, logo, path)
}

/// Page size of the receipt PDF (A5, ISO 216), in millimetres.
const PAGE_MM: (f32, f32) = (148.0, 210.0);
/// The largest the logo is drawn, in millimetres (width, height).
const LOGO_MM: (f32, f32) = (40.0, 18.0);

/// Draws `logo` (PNG or JPEG bytes) in the top right corner of the page, within [`LOGO_MM`]
/// and in its proportions, on white where it is transparent (PDF images here carry no alpha).
/// An image that cannot be decoded is left out with a warning: a receipt never fails for its
/// logo.
fn draw_logo(layer: PdfLayerReference, logo: &[u8]) {
    let decoded = match printpdf::image_crate::load_from_memory(logo) {
        Ok(i) => i.to_rgba8(),
        Err(e) => {
            tracing::warn!("the school's logo cannot be read, receipts print without it: {e}");
            return;
        }
    };
    let (w, h) = decoded.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    let on_white = RgbImage::from_fn(w, h, |x, y| {
        let p = decoded.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let blend = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
        Rgb([blend(p[0]), blend(p[1]), blend(p[2])])
    });
    let mm_per_px = (LOGO_MM.0 / w as f32).min(LOGO_MM.1 / h as f32);
    let (width, height) = (w as f32 * mm_per_px, h as f32 * mm_per_px);
    Image::from_dynamic_image(&DynamicImage::ImageRgb8(on_white)).add_to_layer(
        layer,
        ImageTransform {
            translate_x: Some(Mm(PAGE_MM.0 - 12.0 - width)),
            translate_y: Some(Mm(PAGE_MM.1 - 8.0 - height)),
            dpi: Some(25.4 / mm_per_px),
            ..Default::default()
        },
    );
}

/// Writes `lines` as a one-page A5 PDF at `path`, in Courier so that columns line up, the
/// first `headings` lines larger, with the school's `logo` in the top right corner when given
/// (issue #17). Builtin PDF fonts are WinAnsi, so text is transliterated to ASCII (`Zoë` →
/// `Zoe`) rather than losing letters.
///
/// Errors: the file cannot be written.
pub fn write_pdf_lines(
    title: &str,
    lines: &[String],
    headings: usize,
    logo: Option<&[u8]>,
    path: &Path,
) -> anyhow::Result<()> {
    let (doc, page, layer) = PdfDocument::new(title, Mm(PAGE_MM.0), Mm(PAGE_MM.1), "receipt");
    let font = doc
        .add_builtin_font(BuiltinFont::Courier)
        .context("PDF font")?;
    let bold = doc
        .add_builtin_font(BuiltinFont::CourierBold)
        .context("PDF font")?;
    let layer = doc.get_page(page).get_layer(layer);
    if let Some(logo) = logo {
        draw_logo(layer.clone(), logo);
    }
    let mut y = 195.0;
    for (i, line) in lines.iter().enumerate() {
        let heading = i < headings;
        let line = deunicode::deunicode(line);
        layer.use_text(
            line,
            if heading { 13.0 } else { 9.5 },
            Mm(12.0),
            Mm(y),
            if heading { &bold } else { &font },
        );
        y -= if heading { 7.5 } else { 5.0 };
    }
    let file = File::create(path).with_context(|| format!("writing {}", path.display()))?;
    doc.save(&mut BufWriter::new(file))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
