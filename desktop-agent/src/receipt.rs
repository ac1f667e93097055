//! Receipts: the text printed at the counter and the PDF handed to the family.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use daftar_client_core::client::office::Receipt;
use daftar_client_core::money::format_money;
use printpdf::{BuiltinFont, Mm, PdfDocument};

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

/// Writes the receipt `r` as a one-page A5 PDF at `path` (times in the school's zone `tz`).
///
/// Errors: the file cannot be written.
pub fn write_pdf(r: &Receipt, tz: chrono_tz::Tz, path: &Path) -> anyhow::Result<()> {
    let lines: Vec<String> = text(r, tz).lines().map(String::from).collect();
    write_pdf_lines(&format!("Receipt {}", r.receipt_no), &lines, 2, path)
}

/// Writes `lines` as a one-page A5 PDF at `path`, in Courier so that columns line up, the
/// first `headings` lines larger. Builtin PDF fonts are WinAnsi, so text is transliterated to
/// ASCII (`Zoë` → `Zoe`) rather than losing letters.
///
/// Errors: the file cannot be written.
pub fn write_pdf_lines(
    title: &str,
    lines: &[String],
    headings: usize,
    path: &Path,
) -> anyhow::Result<()> {
    let (doc, page, layer) = PdfDocument::new(title, Mm(148.0), Mm(210.0), "receipt");
    let font = doc
        .add_builtin_font(BuiltinFont::Courier)
        .context("PDF font")?;
    let bold = doc
        .add_builtin_font(BuiltinFont::CourierBold)
        .context("PDF font")?;
    let layer = doc.get_page(page).get_layer(layer);
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
