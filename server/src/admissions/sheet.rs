//! Reading one sheet of an `.xlsx`/`.ods` workbook (`calamine`) or a `.csv` file (`csv`) into
//! typed cells with the row numbers and column letters a spreadsheet user sees.

use std::io::Cursor;

use calamine::{Data, Reader};
use chrono::NaiveDate;

/// A file format the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Office Open XML workbook (Excel 2007+, ISO/IEC 29500).
    Xlsx,
    /// OpenDocument spreadsheet (LibreOffice, ISO/IEC 26300).
    Ods,
    /// RFC 4180 comma-separated values, UTF-8 (a byte-order mark is allowed).
    Csv,
}

impl Format {
    /// The media types a client sends for each format (Excel's, LibreOffice's, RFC 7111's).
    pub const MEDIA_TYPES: [(&'static str, Format); 4] = [
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Xlsx,
        ),
        (
            "application/vnd.oasis.opendocument.spreadsheet",
            Format::Ods,
        ),
        ("text/csv", Format::Csv),
        // Browsers on Windows label a .csv as Excel's.
        ("application/vnd.ms-excel", Format::Csv),
    ];

    /// The format of a `Content-Type` value (parameters ignored).
    pub fn from_media_type(value: &str) -> Option<Format> {
        let essence = value.split(';').next()?.trim();
        Self::MEDIA_TYPES
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(essence))
            .map(|(_, f)| *f)
    }

    /// The format of a file name's extension (`.xlsx`, `.ods`, `.csv`).
    pub fn from_file_name(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" => Some(Format::Xlsx),
            "ods" => Some(Format::Ods),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The primary media type of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Xlsx => Self::MEDIA_TYPES[0].0,
            Format::Ods => Self::MEDIA_TYPES[1].0,
            Format::Csv => "text/csv",
        }
    }

    /// `xlsx`, `ods` or `csv`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Ods => "ods",
            Format::Csv => "csv",
        }
    }
}

/// One cell's value as the spreadsheet holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    /// Text, trimmed (never empty: blank text is [`Cell::Empty`]).
    Text(String),
    /// A number cell (Excel keeps integers as floats too).
    Number(f64),
    Bool(bool),
    /// A cell formatted as a date (the time of day, if any, dropped).
    Date(NaiveDate),
    /// A formula error such as `#N/A` or `#REF!`.
    Error(String),
}

/// A data row: its number as the spreadsheet shows it (1-based) and its cells by column.
#[derive(Debug, Clone)]
pub struct SheetRow {
    pub row: u32,
    pub cells: Vec<Cell>,
}

/// One sheet read: the header row and every non-empty row below it.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    /// Every sheet of the workbook (the file's name alone for a CSV).
    pub sheets: Vec<String>,
    /// Header texts by column (trimmed; empty for a blank header cell).
    pub headers: Vec<String>,
    pub rows: Vec<SheetRow>,
    /// How cells were read that the office should know about (merged cells filled in).
    pub warnings: Vec<String>,
}

/// A file that cannot be read at all; the message names the file (and sheet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SheetError(pub String);

/// The column letters of 0-based column `index` (`0` → `A`, `27` → `AB`).
pub fn column_letters(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Reads sheet `sheet` (default: the first) of `bytes` in `format`. `file_name` is used in
/// messages only. The header row is the first non-empty row; fully empty rows are skipped.
///
/// Errors: a file that is not of its format, a workbook without the named sheet or with no
/// rows, a CSV that is not UTF-8 or is malformed (naming the line).
pub fn read(
    bytes: &[u8],
    format: Format,
    sheet: Option<&str>,
    file_name: &str,
) -> Result<Sheet, SheetError> {
    match format {
        Format::Csv => read_csv(bytes, file_name),
        Format::Xlsx => {
            let mut book = calamine::Xlsx::new(Cursor::new(bytes))
                .map_err(|e| SheetError(format!("{file_name} is not an .xlsx workbook ({e})")))?;
            let name = pick_sheet(&book.sheet_names(), sheet, file_name)?;
            let range = book
                .worksheet_range(&name)
                .map_err(|e| SheetError(format!("{file_name}, sheet {name}: {e}")))?;
            let merged = match book.worksheet_merge_cells(&name) {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    return Err(SheetError(format!("{file_name}, sheet {name}: {e}")));
                }
                None => Vec::new(),
            };
            from_range(&range, &merged, name, book.sheet_names(), file_name)
        }
        Format::Ods => {
            let mut book = calamine::Ods::new(Cursor::new(bytes))
                .map_err(|e| SheetError(format!("{file_name} is not an .ods spreadsheet ({e})")))?;
            let name = pick_sheet(&book.sheet_names(), sheet, file_name)?;
            let range = book
                .worksheet_range(&name)
                .map_err(|e| SheetError(format!("{file_name}, sheet {name}: {e}")))?;
            from_range(&range, &[], name, book.sheet_names(), file_name)
        }
    }
}

fn pick_sheet(
    names: &[String],
    wanted: Option<&str>,
    file_name: &str,
) -> Result<String, SheetError> {
    match wanted {
        Some(w) => names
            .iter()
            .find(|n| n.as_str() == w)
            .cloned()
            .ok_or_else(|| {
                SheetError(format!(
                    "{file_name} has no sheet named {w:?}; its sheets are {}",
                    names.join(", ")
                ))
            }),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| SheetError(format!("{file_name} has no sheets"))),
    }
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) | Data::DurationIso(s) => text(s),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) if d.is_datetime() => Cell::Date(dt.date()),
            _ => Cell::Number(d.as_f64()),
        },
        Data::DateTimeIso(s) => s
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(Cell::Date)
            .unwrap_or_else(|| text(s)),
        Data::Error(e) => Cell::Error(format!("{e}")),
    }
}

fn text(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(t.to_string())
    }
}

fn from_range(
    range: &calamine::Range<Data>,
    merged: &[calamine::Dimensions],
    name: String,
    sheets: Vec<String>,
    file_name: &str,
) -> Result<Sheet, SheetError> {
    let Some((first_row, first_col)) = range.start() else {
        return Err(SheetError(format!(
            "{file_name}, sheet {name}: the sheet is empty"
        )));
    };
    let width = range.width();
    // Absolute (row, column) → value, with merged areas filled from their top-left cell.
    let mut fill: Vec<(calamine::Dimensions, Cell)> = Vec::new();
    let mut warnings = Vec::new();
    for m in merged {
        let value = range.get_value(m.start).map(cell_of).unwrap_or(Cell::Empty);
        let area = format!(
            "{}{}:{}{}",
            column_letters(m.start.1 as usize),
            m.start.0 + 1,
            column_letters(m.end.1 as usize),
            m.end.0 + 1
        );
        warnings.push(format!(
            "sheet {name}: cells {area} are merged; each row of it is read as {}{}",
            column_letters(m.start.1 as usize),
            m.start.0 + 1
        ));
        fill.push((*m, value));
    }
    let mut rows = Vec::new();
    let mut headers: Option<Vec<String>> = None;
    for (i, cells) in range.rows().enumerate() {
        let abs_row = first_row + i as u32;
        let mut out: Vec<Cell> = Vec::with_capacity(width + first_col as usize);
        out.resize(first_col as usize, Cell::Empty);
        for (j, d) in cells.iter().enumerate() {
            let abs_col = first_col + j as u32;
            let merged_value = fill
                .iter()
                .find(|(m, _)| m.contains(abs_row, abs_col))
                .map(|(_, v)| v.clone());
            out.push(merged_value.unwrap_or_else(|| cell_of(d)));
        }
        if out.iter().all(|c| *c == Cell::Empty) {
            continue;
        }
        if headers.is_none() {
            headers = Some(
                out.iter()
                    .map(|c| match c {
                        Cell::Text(s) => s.clone(),
                        Cell::Number(n) => format!("{n}"),
                        _ => String::new(),
                    })
                    .collect(),
            );
            continue;
        }
        rows.push(SheetRow {
            row: abs_row + 1,
            cells: out,
        });
    }
    let headers = headers
        .ok_or_else(|| SheetError(format!("{file_name}, sheet {name}: the sheet is empty")))?;
    Ok(Sheet {
        name,
        sheets,
        headers,
        rows,
        warnings,
    })
}

fn read_csv(bytes: &[u8], file_name: &str) -> Result<Sheet, SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    // Lines as an editor numbers them (the `csv` crate's count is short on CRLF files).
    let mut lines = crate::oneroster::csv_source::LineCounter::new(bytes);
    for record in reader.byte_records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
            SheetError(format!("{file_name} line {line}: not valid CSV ({e})"))
        })?;
        let line = record
            .position()
            .map(|p| lines.line_at(p.byte()))
            .unwrap_or(0) as u32;
        let mut cells = Vec::with_capacity(record.len());
        for field in record.iter() {
            let s = std::str::from_utf8(field).map_err(|_| {
                SheetError(format!(
                    "{file_name} line {line}: the file is not UTF-8; save it as \"CSV UTF-8\""
                ))
            })?;
            cells.push(text(s));
        }
        if cells.iter().all(|c| *c == Cell::Empty) {
            continue;
        }
        if headers.is_none() {
            headers = Some(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect(),
            );
            continue;
        }
        rows.push(SheetRow { row: line, cells });
    }
    let headers = headers.ok_or_else(|| SheetError(format!("{file_name} is empty")))?;
    Ok(Sheet {
        name: file_name.to_string(),
        sheets: vec![file_name.to_string()],
        headers,
        rows,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_count_like_a_spreadsheet() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn a_csv_is_read_with_its_line_numbers() {
        let s = read(
            b"\xEF\xBB\xBFadmission_no,given_name\r\n\r\n1001, Amna \r\n1002,\"Bilal\nKhan\"\r\n1003,Sara\r\n",
            Format::Csv,
            None,
            "s.csv",
        )
        .expect("read");
        assert_eq!(s.headers, ["admission_no", "given_name"]);
        let rows: Vec<u32> = s.rows.iter().map(|r| r.row).collect();
        assert_eq!(rows, [3, 4, 6]);
        assert_eq!(s.rows[0].cells[1], Cell::Text("Amna".into()));
        let bad = read(b"a,b\n\xff,1\n", Format::Csv, None, "s.csv").expect_err("latin-1");
        assert!(bad.0.contains("s.csv line 2"), "{bad}");
    }
}
