//! Reading OneRoster CSV files from a folder or a zip, with errors that name file, line and
//! column.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// A OneRoster file that could not be imported. `line` is 1-based (the header is line 1);
/// `column` is the header name when one column is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}{}: {message}",
    line.map(|l| format!(" line {l}")).unwrap_or_default(),
    column.as_ref().map(|c| format!(" column `{c}`")).unwrap_or_default())]
pub struct ImportError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub message: String,
}

impl ImportError {
    /// An error about a whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ImportError {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

/// Largest inflated size of one file of an uploaded export (bytes): 64 MiB, about 300,000
/// OneRoster user rows.
pub const MAX_INFLATED_ENTRY: u64 = 64 << 20;
/// Largest inflated size of all files of an uploaded export together (bytes).
pub const MAX_INFLATED_TOTAL: u64 = 160 << 20;

fn too_large(name: &str, at_least: u64) -> ImportError {
    ImportError::file(
        name,
        format!(
            "inflates to more than {} MiB (at least {at_least} bytes); the limit per file is {} \
             MiB",
            MAX_INFLATED_ENTRY >> 20,
            MAX_INFLATED_ENTRY >> 20
        ),
    )
}

/// The raw files of one export, by file name (`users.csv`, …).
#[derive(Debug, Clone, Default)]
pub struct RosterFiles {
    files: BTreeMap<String, Vec<u8>>,
}

impl RosterFiles {
    /// Reads every `*.csv` in `dir`.
    ///
    /// Errors: the folder or a file cannot be read.
    pub fn from_dir(dir: &Path) -> Result<Self, ImportError> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ImportError::file(&shown, format!("cannot read folder: {e}")))?;
        let mut files = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| ImportError::file(&shown, e.to_string()))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".csv") {
                let bytes = std::fs::read(entry.path())
                    .map_err(|e| ImportError::file(&name, format!("cannot read: {e}")))?;
                files.insert(name, bytes);
            }
        }
        Ok(RosterFiles { files })
    }

    /// Reads every `*.csv` in a zip archive (at its root or in one folder), inflating each
    /// entry as a stream that stops at [`MAX_INFLATED_ENTRY`] bytes, and all of them at
    /// [`MAX_INFLATED_TOTAL`]: a small archive that inflates to gigabytes (a "zip bomb") is
    /// refused naming its entry, having used at most those bytes of memory (ARCHITECTURE.md §11).
    ///
    /// Errors: not a zip, an entry cannot be inflated, or an entry or the whole export
    /// inflates past its limit.
    pub fn from_zip(bytes: &[u8]) -> Result<Self, ImportError> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| ImportError::file("upload", format!("not a readable zip archive: {e}")))?;
        let mut files = BTreeMap::new();
        let mut total: u64 = 0;
        for i in 0..archive.len() {
            let mut f = archive
                .by_index(i)
                .map_err(|e| ImportError::file("upload", format!("zip entry {i}: {e}")))?;
            if f.is_dir() {
                continue;
            }
            let name = f.name().rsplit('/').next().unwrap_or("").to_string();
            if !name.ends_with(".csv") {
                continue;
            }
            if f.size() > MAX_INFLATED_ENTRY {
                return Err(too_large(&name, f.size()));
            }
            let room = MAX_INFLATED_ENTRY.min(MAX_INFLATED_TOTAL - total);
            let mut buf = Vec::new();
            (&mut f)
                .take(room + 1)
                .read_to_end(&mut buf)
                .map_err(|e| ImportError::file(&name, format!("cannot inflate: {e}")))?;
            if buf.len() as u64 > room {
                return Err(if room < MAX_INFLATED_ENTRY {
                    ImportError::file(
                        &name,
                        format!(
                            "the export inflates to more than {} MiB in all; split it or \
                             import it with `daftar-server import-oneroster DIR`",
                            MAX_INFLATED_TOTAL >> 20
                        ),
                    )
                } else {
                    too_large(&name, buf.len() as u64)
                });
            }
            total += buf.len() as u64;
            files.insert(name, buf);
        }
        Ok(RosterFiles { files })
    }

    /// Adds or replaces a file (tests and tools).
    pub fn insert(&mut self, name: &str, contents: impl Into<Vec<u8>>) {
        self.files.insert(name.to_string(), contents.into());
    }

    /// True when the export has this file.
    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// Parses `name` into rows keyed by header. `None` when the file is absent.
    ///
    /// Errors: not UTF-8, malformed CSV (with its line), or a missing required column.
    pub fn table(&self, name: &str, required: &[&str]) -> Result<Option<Table>, ImportError> {
        let Some(bytes) = self.files.get(name) else {
            return Ok(None);
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(name, &e, &mut LineCounter::new(bytes)))?
            .iter()
            .map(str::to_string)
            .collect();
        if let Some(h) = headers.iter().find(|h| h.contains('\0')) {
            return Err(ImportError {
                file: name.to_string(),
                line: Some(1),
                column: Some(h.replace('\0', "")),
                message: crate::edge::NUL_MESSAGE.into(),
            });
        }
        for r in required {
            if !headers.iter().any(|h| h == r) {
                return Err(ImportError {
                    file: name.to_string(),
                    line: Some(1),
                    column: Some(r.to_string()),
                    message: "required column is missing from the header".into(),
                });
            }
        }
        let mut rows = Vec::new();
        let mut lines = LineCounter::new(bytes);
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(name, &e, &mut lines))?;
            let line = record
                .position()
                .map(|p| lines.line_at(p.byte()))
                .unwrap_or(0);
            if record.iter().all(str::is_empty) {
                continue;
            }
            if let Some((i, _)) = record.iter().enumerate().find(|(_, v)| v.contains('\0')) {
                return Err(ImportError {
                    file: name.to_string(),
                    line: Some(line),
                    column: headers.get(i).cloned(),
                    message: crate::edge::NUL_MESSAGE.into(),
                });
            }
            rows.push(Row {
                file: name.to_string(),
                line,
                values: headers
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_string))
                    .collect(),
            });
        }
        Ok(Some(Table { rows }))
    }
}

/// Line numbers as a person's editor shows them (the header is line 1), from byte offsets:
/// the `csv` crate's own line count is one short on CRLF files. Offsets must be asked in
/// increasing order (records come in file order), so the whole file is counted once.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line_at(&mut self, offset: u64) -> u64 {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        // On CRLF files the reader reports a record as starting at the `\n` that ends the line
        // before it; a record never starts with a line terminator, so step over them.
        while target < self.bytes.len() && matches!(self.bytes[target], b'\r' | b'\n') {
            target += 1;
        }
        if target < self.offset {
            // Out of order: count from the start.
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.bytes[self.offset..target]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.offset = target;
        self.line
    }
}

fn csv_error(file: &str, e: &csv::Error, lines: &mut LineCounter) -> ImportError {
    let line = e.position().map(|p| lines.line_at(p.byte()));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => format!("malformed CSV: {e}"),
    };
    ImportError {
        file: file.to_string(),
        line,
        column: None,
        message,
    }
}

/// The rows of one file.
#[derive(Debug, Clone)]
pub struct Table {
    pub rows: Vec<Row>,
}

/// One data row with its position.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    pub line: u64,
    values: BTreeMap<String, String>,
}

impl Row {
    /// The trimmed value of `column` ("" when absent or empty).
    pub fn get(&self, column: &str) -> &str {
        self.values.get(column).map(String::as_str).unwrap_or("")
    }

    /// `Some(value)` when non-empty.
    pub fn opt(&self, column: &str) -> Option<String> {
        Some(self.get(column).to_string()).filter(|v| !v.is_empty())
    }

    /// An error about `column` of this row.
    pub fn error(&self, column: &str, message: impl Into<String>) -> ImportError {
        ImportError {
            file: self.file.clone(),
            line: Some(self.line),
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    /// A non-empty value of a required column.
    pub fn required(&self, column: &str) -> Result<String, ImportError> {
        self.opt(column)
            .ok_or_else(|| self.error(column, "is required and empty"))
    }

    /// An optional ISO 8601 date (`YYYY-MM-DD`).
    pub fn date(&self, column: &str) -> Result<Option<chrono::NaiveDate>, ImportError> {
        match self.opt(column) {
            None => Ok(None),
            Some(v) => chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| self.error(column, format!("`{v}` is not a date (YYYY-MM-DD)"))),
        }
    }

    /// A list column (OneRoster lists are comma-separated inside one field).
    pub fn list(&self, column: &str) -> Vec<String> {
        self.get(column)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// True when `status` is `tobedeleted` (delta files).
    pub fn to_be_deleted(&self) -> bool {
        self.get("status").eq_ignore_ascii_case("tobedeleted")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_row_is_reported_with_file_and_line() {
        let mut files = RosterFiles::default();
        files.insert("orgs.csv", "sourcedId,name\nor1,A\nor2,B,extra\n");
        let err = files.table("orgs.csv", &["sourcedId"]).expect_err("ragged");
        assert_eq!(err.file, "orgs.csv");
        assert_eq!(err.line, Some(3));
        assert!(err.to_string().starts_with("orgs.csv line 3:"), "{err}");
    }

    #[test]
    fn lines_are_counted_as_an_editor_shows_them_in_crlf_files() {
        let mut files = RosterFiles::default();
        files.insert("orgs.csv", "sourcedId,name\r\nor1,A\r\nor2,B,extra\r\n");
        let err = files.table("orgs.csv", &["sourcedId"]).expect_err("ragged");
        assert_eq!(err.line, Some(3), "{err}");
        files.insert("orgs.csv", "sourcedId,name\r\nor1,A\r\n\r\nor2,B\r\n");
        let t = files.table("orgs.csv", &[]).expect("ok").expect("present");
        assert_eq!(t.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4]);
    }

    #[test]
    fn nul_in_a_field_names_file_line_and_column() {
        let mut files = RosterFiles::default();
        files.insert("users.csv", "sourcedId,givenName\nus1,A\nus2,B\0b\n");
        let err = files.table("users.csv", &[]).expect_err("nul");
        assert_eq!(
            (err.line, err.column.as_deref()),
            (Some(3), Some("givenName"))
        );
    }

    #[test]
    fn a_zip_bomb_is_refused_naming_its_entry() {
        use std::io::Write;
        let mut zipped = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            w.start_file("orgs.csv", opts).expect("entry");
            w.write_all(b"sourcedId,name\nor1,A\n").expect("write");
            w.start_file("users.csv", opts).expect("entry");
            let block = vec![b'a'; 1 << 20];
            for _ in 0..(MAX_INFLATED_ENTRY >> 20) + 1 {
                w.write_all(&block).expect("write");
            }
            w.finish().expect("finish");
        }
        assert!(
            zipped.len() < 1 << 20,
            "the archive is small: {}",
            zipped.len()
        );
        let err = RosterFiles::from_zip(&zipped).expect_err("bomb");
        assert_eq!(err.file, "users.csv");
        assert!(err.message.contains("64 MiB"), "{err}");
    }

    #[test]
    fn an_entry_that_lies_about_its_size_is_still_stopped_at_the_limit() {
        use std::io::Write;
        let mut zipped = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            w.start_file("users.csv", opts).expect("entry");
            let block = vec![b'a'; 1 << 20];
            for _ in 0..(MAX_INFLATED_ENTRY >> 20) + 1 {
                w.write_all(&block).expect("write");
            }
            w.finish().expect("finish");
        }
        // Claim 100 bytes uncompressed in the local and the central header.
        let patch = |bytes: &mut Vec<u8>, signature: [u8; 4], offset: usize| {
            let at = bytes
                .windows(4)
                .position(|w| w == signature)
                .expect("header");
            bytes[at + offset..at + offset + 4].copy_from_slice(&100u32.to_le_bytes());
        };
        patch(&mut zipped, [0x50, 0x4b, 0x03, 0x04], 22);
        patch(&mut zipped, [0x50, 0x4b, 0x01, 0x02], 24);
        let err = RosterFiles::from_zip(&zipped).expect_err("refused");
        assert_eq!(err.file, "users.csv", "{err}");
    }

    #[test]
    fn missing_required_column_is_named() {
        let mut files = RosterFiles::default();
        files.insert("users.csv", "\u{feff}sourcedId,givenName\nus1,A\n");
        let err = files
            .table("users.csv", &["sourcedId", "role"])
            .expect_err("no role");
        assert_eq!(err.column.as_deref(), Some("role"));
        assert_eq!(
            err.to_string(),
            "users.csv line 1 column `role`: required column is missing from the header"
        );
    }

    #[test]
    fn bad_date_names_line_and_column() {
        let mut files = RosterFiles::default();
        files.insert(
            "academicSessions.csv",
            "sourcedId,startDate\nas1,2020-13-45\n",
        );
        let t = files
            .table("academicSessions.csv", &[])
            .expect("parse")
            .expect("present");
        let err = t.rows[0].date("startDate").expect_err("bad date");
        assert_eq!(
            (err.line, err.column.as_deref()),
            (Some(2), Some("startDate"))
        );
    }
}
