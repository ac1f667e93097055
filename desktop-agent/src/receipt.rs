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
    s.push_str(&format!("{}\nRECEIPT {}\n", r.school, r.receipt_no));
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

/// Writes the receipt as a one-page A5 PDF at `path` (times in the school's zone `tz`).
///
/// Errors: the file cannot be written.
pub fn write_pdf(r: &Receipt, tz: chrono_tz::Tz, path: &Path) -> anyhow::Result<()> {
    let (doc, page, layer) = PdfDocument::new(
        format!("Receipt {}", r.receipt_no),
        Mm(148.0),
        Mm(210.0),
        "receipt",
    );
    let font = doc
        .add_builtin_font(BuiltinFont::Helvetica)
        .context("PDF font")?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut y = 195.0;
    for (i, line) in text(r, tz).lines().enumerate() {
        let size = if i < 2 { 14.0 } else { 10.0 };
        // Builtin PDF fonts are WinAnsi: keep to what they can show.
        let line: String = line
            .chars()
            .map(|c| if c == '—' { '-' } else { c })
            .filter(|c| c.is_ascii())
            .collect();
        layer.use_text(line, size, Mm(12.0), Mm(y), &font);
        y -= if i < 2 { 8.0 } else { 6.0 };
    }
    let file = File::create(path).with_context(|| format!("writing {}", path.display()))?;
    doc.save(&mut BufWriter::new(file))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
