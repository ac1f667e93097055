//! Spreadsheets the project writes itself for its admissions tests and benchmark: `.xlsx`
//! through `rust_xlsxwriter` (real date cells, numbers, booleans, merged cells), `.ods` as the
//! OpenDocument zip (ISO/IEC 26300: `mimetype` stored first, `content.xml`, the manifest).

use std::io::Write;

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// One cell of a fixture row.
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureCell {
    Empty,
    Text(String),
    Number(f64),
    /// A date cell (formatted `yyyy-mm-dd`).
    Date(NaiveDate),
    Bool(bool),
}

/// Text cell.
pub fn t(s: &str) -> FixtureCell {
    FixtureCell::Text(s.to_string())
}

/// A merged area: first row, first column, last row, last column (0-based), shown as the
/// first cell's value.
pub type Merge = (u32, u16, u32, u16);

/// An `.xlsx` workbook with one sheet `sheet`: `headers` in row 1, `rows` below, `merges`
/// merged. Panics on a writer failure (fixtures only).
pub fn xlsx(sheet: &str, headers: &[&str], rows: &[Vec<FixtureCell>], merges: &[Merge]) -> Vec<u8> {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = book.add_worksheet();
    ws.set_name(sheet).expect("sheet name");
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    for (r, row) in (1u32..).zip(rows) {
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                FixtureCell::Empty => {}
                FixtureCell::Text(s) => {
                    ws.write_string(r, c, s).expect("text");
                }
                FixtureCell::Number(n) => {
                    ws.write_number(r, c, *n).expect("number");
                }
                FixtureCell::Bool(b) => {
                    ws.write_boolean(r, c, *b).expect("bool");
                }
                FixtureCell::Date(d) => {
                    let dt =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .expect("date");
                    ws.write_datetime_with_format(r, c, &dt, &date)
                        .expect("date");
                }
            }
        }
    }
    for &(r1, c1, r2, c2) in merges {
        let first = rows
            .get(r1 as usize - 1)
            .and_then(|row| row.get(c1 as usize))
            .and_then(|c| match c {
                FixtureCell::Text(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        ws.merge_range(r1, c1, r2, c2, &first, &Format::new())
            .expect("merge");
    }
    book.save_to_buffer().expect("xlsx")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An `.ods` spreadsheet with one sheet `sheet` of text cells (and date cells for
/// [`FixtureCell::Date`]). Panics on a writer failure (fixtures only).
pub fn ods(sheet: &str, headers: &[&str], rows: &[Vec<FixtureCell>]) -> Vec<u8> {
    let cell = |c: &FixtureCell| {
        match c {
        FixtureCell::Empty => "<table:table-cell/>".to_string(),
        FixtureCell::Text(s) => format!(
            "<table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell>",
            xml_escape(s)
        ),
        FixtureCell::Number(n) => format!(
            "<table:table-cell office:value-type=\"float\" office:value=\"{n}\"><text:p>{n}</text:p></table:table-cell>"
        ),
        FixtureCell::Bool(b) => format!(
            "<table:table-cell office:value-type=\"boolean\" office:boolean-value=\"{b}\"><text:p>{b}</text:p></table:table-cell>"
        ),
        FixtureCell::Date(d) => format!(
            "<table:table-cell office:value-type=\"date\" office:date-value=\"{d}\"><text:p>{d}</text:p></table:table-cell>"
        ),
    }
    };
    let mut body = String::new();
    let header_cells: Vec<FixtureCell> = headers.iter().map(|h| t(h)).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        body.push_str("<table:table-row>");
        for c in row {
            body.push_str(&cell(c));
        }
        body.push_str("</table:table-row>");
    }
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="{}">{body}</table:table></office:spreadsheet></office:body></office:document-content>"#,
        xml_escape(sheet)
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("mimetype", stored).expect("zip");
        z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .expect("zip");
        let deflated = zip::write::SimpleFileOptions::default();
        z.start_file("content.xml", deflated).expect("zip");
        z.write_all(content.as_bytes()).expect("zip");
        z.start_file("META-INF/manifest.xml", deflated)
            .expect("zip");
        z.write_all(manifest.as_bytes()).expect("zip");
        z.finish().expect("zip");
    }
    buf.into_inner()
}

/// The template's header row (`admission_no`, `given_name`, …).
pub const TEMPLATE_HEADERS: [&str; 13] = [
    "admission_no",
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "grade",
    "class",
    "family_key",
    "guardian_given_name",
    "guardian_family_name",
    "guardian_relationship",
    "guardian_phone",
    "guardian_email",
];

/// `n` students in the template's columns, admission numbers `prefix` + 1.., spread over
/// `classes` (round robin; empty for none), two siblings per family: the odd rows' siblings
/// share a family key, the even rows' a guardian phone only.
pub fn admissions_rows(prefix: &str, n: usize, classes: &[&str]) -> Vec<Vec<FixtureCell>> {
    (0..n)
        .map(|i| {
            let family = i / 2;
            let by_key = family % 2 == 0;
            let surname = format!("Family{family}");
            let class = if classes.is_empty() {
                FixtureCell::Empty
            } else {
                t(classes[i % classes.len()])
            };
            vec![
                t(&format!("{prefix}{}", i + 1)),
                t(&format!("Child{i}")),
                t(&surname),
                FixtureCell::Date(
                    NaiveDate::from_ymd_opt(
                        2012 + (i % 8) as i32,
                        1 + (i % 12) as u32,
                        1 + (i % 28) as u32,
                    )
                    .expect("date"),
                ),
                t(if i % 2 == 0 { "F" } else { "M" }),
                FixtureCell::Empty,
                class,
                if by_key {
                    t(&format!("FAM-{family}"))
                } else {
                    FixtureCell::Empty
                },
                t(&format!("Parent{family}")),
                t(&surname),
                t("mother"),
                t(&format!("+92399{:07}", family)),
                FixtureCell::Empty,
            ]
        })
        .collect()
}
