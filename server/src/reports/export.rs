//! CSV and Excel renderings of a [`ReportTable`]. Money is stored as integer minor units; the
//! exports show major units using the currency's ISO 4217 minor-unit exponent (CSV as exact
//! decimal text, Excel as a number with that many decimals).

use daftar_client_core::protocol::{ColumnKind, ReportCell, ReportTable};
use rust_xlsxwriter::{Format, Workbook};

pub use daftar_client_core::money::{format_money, format_money_wide, minor_unit_exponent};

fn cell_text(cell: &ReportCell, kind: ColumnKind, currency: &str) -> String {
    match (cell, kind) {
        (ReportCell::Int(n), ColumnKind::Money) => format_money_wide(*n, currency),
        (ReportCell::Int(n), _) => n.to_string(),
        (ReportCell::Text(s), _) => s.clone(),
        (ReportCell::Empty, _) => String::new(),
    }
}

/// The report as CSV (RFC 4180): a header of column keys, the rows, then the totals row.
///
/// Errors: only on an internal writer failure.
pub fn to_csv(t: &ReportTable) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(t.columns.iter().map(|c| {
        if c.kind == ColumnKind::Money {
            format!("{} ({})", c.key, t.currency)
        } else {
            c.key.clone()
        }
    }))?;
    for row in t.rows.iter().chain(t.totals.iter()) {
        w.write_record(
            row.iter()
                .zip(&t.columns)
                .map(|(cell, c)| cell_text(cell, c.kind, &t.currency)),
        )?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))
}

/// The report as an Excel workbook (.xlsx) with a title row, bold headers and a bold total.
///
/// Errors: only on an internal writer failure.
pub fn to_xlsx(t: &ReportTable) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    let exp = minor_unit_exponent(&t.currency);
    let pattern = if exp == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{}", "0".repeat(exp as usize))
    };
    let money = Format::new().set_num_format(&pattern);
    let money_bold = Format::new().set_num_format(&pattern).set_bold();
    sheet.write_string_with_format(0, 0, &t.title, &bold)?;
    for (c, col) in t.columns.iter().enumerate() {
        let label = if col.kind == ColumnKind::Money {
            format!("{} ({})", col.label, t.currency)
        } else {
            col.label.clone()
        };
        sheet.write_string_with_format(2, c as u16, &label, &bold)?;
    }
    let divisor = 10f64.powi(exp as i32);
    let all: Vec<(&Vec<ReportCell>, bool)> = t
        .rows
        .iter()
        .map(|x| (x, false))
        .chain(t.totals.iter().map(|x| (x, true)))
        .collect();
    for (r, (row, is_total)) in (3u32..).zip(all) {
        for (c, (cell, col)) in row.iter().zip(&t.columns).enumerate() {
            let c = c as u16;
            match (cell, col.kind) {
                (ReportCell::Int(n), ColumnKind::Money) => {
                    sheet.write_number_with_format(
                        r,
                        c,
                        *n as f64 / divisor,
                        if is_total { &money_bold } else { &money },
                    )?;
                }
                (ReportCell::Int(n), _) => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                (ReportCell::Text(s), _) if is_total => {
                    sheet.write_string_with_format(r, c, s, &bold)?;
                }
                (ReportCell::Text(s), _) => {
                    sheet.write_string(r, c, s)?;
                }
                (ReportCell::Empty, _) => {}
            }
        }
    }
    sheet.autofit();
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_exactly_by_iso_4217_exponent() {
        assert_eq!(format_money(12345, "PKR"), "123.45");
        assert_eq!(format_money(-5, "USD"), "-0.05");
        assert_eq!(format_money(1500, "JPY"), "1500");
        assert_eq!(format_money(1234, "KWD"), "1.234");
        assert_eq!(format_money(i64::MIN, "USD"), "-92233720368547758.08");
    }
}
