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

    /// Reads every `*.csv` in a zip archive (at its root or in one folder).
    ///
    /// Errors: not a zip, or an entry cannot be inflated.
    pub fn from_zip(bytes: &[u8]) -> Result<Self, ImportError> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| ImportError::file("upload", format!("not a readable zip archive: {e}")))?;
        let mut files = BTreeMap::new();
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
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)
                .map_err(|e| ImportError::file(&name, format!("cannot inflate: {e}")))?;
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
            .map_err(|e| csv_error(name, &e))?
            .iter()
            .map(str::to_string)
            .collect();
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
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(name, &e))?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            if record.iter().all(str::is_empty) {
                continue;
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

fn csv_error(file: &str, e: &csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line());
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
