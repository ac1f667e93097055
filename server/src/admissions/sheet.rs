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
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Cell {
    #[default]
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
            let sheets = book.sheet_names();
            let name = pick_sheet(&sheets, sheet, file_name)?;
            let bad =
                |e: calamine::XlsxError| SheetError(format!("{file_name}, sheet {name}: {e}"));
            let merged = match book.worksheet_merge_cells(&name) {
                Some(m) => m.map_err(bad)?,
                None => Vec::new(),
            };
            let mut out = Assembler::new(name.clone(), file_name, &merged);
            let mut cells = book.worksheet_cells_reader(&name).map_err(bad)?;
            while let Some(c) = cells.next_cell().map_err(bad)? {
                out.cell(c.get_position(), cell_of_ref(c.get_value()));
            }
            drop(cells);
            out.finish(sheets)
        }
        Format::Ods => {
            let mut book = calamine::Ods::new(Cursor::new(bytes))
                .map_err(|e| SheetError(format!("{file_name} is not an .ods spreadsheet ({e})")))?;
            let sheets = book.sheet_names();
            let name = pick_sheet(&sheets, sheet, file_name)?;
            let range = book
                .worksheet_range(&name)
                .map_err(|e| SheetError(format!("{file_name}, sheet {name}: {e}")))?;
            let mut out = Assembler::new(name, file_name, &[]);
            for (r, c, d) in range.used_cells() {
                let (row0, col0) = range.start().unwrap_or((0, 0));
                out.cell((row0 + r as u32, col0 + c as u32), cell_of(d));
            }
            out.finish(sheets)
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

/// A [`calamine::DataRef`] (the streaming xlsx reader's cell) as a [`Cell`].
fn cell_of_ref(data: &calamine::DataRef<'_>) -> Cell {
    use calamine::DataRef as D;
    match data {
        D::SharedString(s) => text(s),
        D::String(s) => cell_of(&Data::String(s.clone())),
        D::Int(i) => Cell::Number(*i as f64),
        D::Float(f) => Cell::Number(*f),
        D::Bool(b) => Cell::Bool(*b),
        D::DateTime(d) => cell_of(&Data::DateTime(*d)),
        D::DateTimeIso(s) => cell_of(&Data::DateTimeIso(s.clone())),
        D::DurationIso(s) => text(s),
        D::Error(e) => Cell::Error(format!("{e}")),
        D::Empty => Cell::Empty,
    }
}

/// Builds the sheet from its used cells in row order ((row, column) 0-based), filling merged
/// areas from their top-left cell. Rows are assembled one at a time, so a sheet costs its
/// cells once (not a whole-sheet range and a copy).
struct Assembler<'a> {
    name: String,
    file_name: &'a str,
    merged: &'a [calamine::Dimensions],
    /// The top-left value of each merged area seen so far.
    fill: Vec<Option<Cell>>,
    current: Option<(u32, Vec<Cell>)>,
    headers: Option<Vec<String>>,
    rows: Vec<SheetRow>,
}

impl<'a> Assembler<'a> {
    fn new(name: String, file_name: &'a str, merged: &'a [calamine::Dimensions]) -> Self {
        Assembler {
            name,
            file_name,
            merged,
            fill: vec![None; merged.len()],
            current: None,
            headers: None,
            rows: Vec::new(),
        }
    }

    fn cell(&mut self, (row, col): (u32, u32), cell: Cell) {
        if self.current.as_ref().map(|(r, _)| *r) != Some(row) {
            self.finish_row();
            self.current = Some((row, Vec::new()));
        }
        for (i, m) in self.merged.iter().enumerate() {
            if m.start == (row, col) {
                self.fill[i] = Some(cell.clone());
            }
        }
        if let Some((_, cells)) = self.current.as_mut() {
            let col = col as usize;
            if cells.len() <= col {
                cells.resize(col + 1, Cell::Empty);
            }
            cells[col] = cell;
        }
    }

    fn finish_row(&mut self) {
        let Some((row, mut cells)) = self.current.take() else {
            return;
        };
        for (m, value) in self.merged.iter().zip(&self.fill) {
            if row < m.start.0 || row > m.end.0 {
                continue;
            }
            let Some(value) = value else { continue };
            for col in m.start.1..=m.end.1 {
                let col = col as usize;
                if cells.len() <= col {
                    cells.resize(col + 1, Cell::Empty);
                }
                cells[col] = value.clone();
            }
        }
        if cells.iter().all(|c| *c == Cell::Empty) {
            return;
        }
        if self.headers.is_none() {
            self.headers = Some(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(s) => s.clone(),
                        Cell::Number(n) => format!("{n}"),
                        _ => String::new(),
                    })
                    .collect(),
            );
            return;
        }
        self.rows.push(SheetRow {
            row: row + 1,
            cells,
        });
    }

    fn finish(mut self, sheets: Vec<String>) -> Result<Sheet, SheetError> {
        self.finish_row();
        let name = self.name;
        let headers = self.headers.ok_or_else(|| {
            SheetError(format!(
                "{}, sheet {name}: the sheet is empty",
                self.file_name
            ))
        })?;
        let warnings = self
            .merged
            .iter()
            .map(|m| {
                let start = format!("{}{}", column_letters(m.start.1 as usize), m.start.0 + 1);
                format!(
                    "sheet {name}: cells {start}:{}{} are merged; each row of it is read as {start}",
                    column_letters(m.end.1 as usize),
                    m.end.0 + 1
                )
            })
            .collect();
        Ok(Sheet {
            name,
            sheets,
            headers,
            rows: self.rows,
            warnings,
        })
    }
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
