//! Outbox export files (issue #17, "Devices"): what a revoked device writes with
//! `daftar-agent export-outbox` and an admin imports on another device, and what an import
//! did, op by op.

use std::io::Write;
use std::path::Path;

use super::error::{ClientError, ClientResult};
use crate::protocol::sync::{OpOutcome, OpStatus, OutboxExport, OUTBOX_EXPORT_FORMAT};

/// The largest export file read (64 MiB, about 100,000 ops).
pub const MAX_EXPORT_BYTES: usize = 64 << 20;

/// Reads an export from `bytes` (the contents of `name`, for the messages).
///
/// Errors: [`ClientError::Invalid`] naming the file, and the line and column of a JSON error
/// or the field that is missing or wrong; a file that is not an outbox export (another
/// `format`); one larger than [`MAX_EXPORT_BYTES`].
pub fn parse_export(name: &str, bytes: &[u8]) -> ClientResult<OutboxExport> {
    let invalid = |message: String| ClientError::Invalid {
        field: name.to_string(),
        message,
    };
    if bytes.len() > MAX_EXPORT_BYTES {
        return Err(invalid(format!(
            "{} bytes is more than an outbox export can be ({MAX_EXPORT_BYTES})",
            bytes.len()
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        invalid(format!(
            "not JSON (line {}, column {}: {e})",
            e.line(),
            e.column()
        ))
    })?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(OUTBOX_EXPORT_FORMAT) => {}
        other => {
            return Err(invalid(format!(
                "not an outbox export written by `daftar-agent export-outbox` (format {}, expected “{OUTBOX_EXPORT_FORMAT}”)",
                other.map(|f| format!("“{f}”")).unwrap_or_else(|| "missing".into())
            )))
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))
}

/// Reads the export file at `path`; errors as [`parse_export`], or the file cannot be read.
pub fn read_export(path: &Path) -> ClientResult<OutboxExport> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ClientError::Invalid {
        field: name.clone(),
        message: format!("cannot read: {e}"),
    })?;
    parse_export(&name, &bytes)
}

/// Writes `export` to a new file at `path` and syncs it to disk.
///
/// Errors: [`ClientError::Invalid`] naming the file when it exists already (an export is never
/// overwritten) or cannot be created or written.
pub fn write_export(path: &Path, export: &OutboxExport) -> ClientResult<()> {
    let name = path.display().to_string();
    let failed = |message: String| ClientError::Invalid {
        field: name.clone(),
        message,
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| failed(format!("cannot create (it must not exist yet): {e}")))?;
    let body = serde_json::to_vec_pretty(export)?;
    out.write_all(&body)
        .and_then(|()| out.sync_all())
        .map_err(|e| failed(format!("cannot write: {e}")))
}

/// What an import did: how many ops were newly applied (conflicts included), rejected (now on
/// the needs-attention list), or had been decided before (replayed: sent by the device
/// itself, or imported already), and the receipt numbers of the payments among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub ops: usize,
    pub applied: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub replayed: usize,
    /// Receipt numbers the server gave (the ones printed offline, from the device's series).
    pub receipts: Vec<String>,
}

impl ImportSummary {
    /// The summary of `outcomes` (one per op, as [`super::Api::import_outbox`] returns them).
    pub fn of(outcomes: &[OpOutcome]) -> Self {
        let mut s = ImportSummary {
            ops: outcomes.len(),
            ..Self::default()
        };
        for o in outcomes {
            if o.replayed {
                s.replayed += 1;
            } else {
                match o.status {
                    OpStatus::Applied => s.applied += 1,
                    OpStatus::Conflict => s.conflicts += 1,
                    OpStatus::Rejected => s.rejected += 1,
                }
            }
            if let Some(r) = o.result.get("receipt_no").and_then(|r| r.as_str()) {
                s.receipts.push(r.to_string());
            }
        }
        s
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} edit(s) imported: {} applied, {} with conflicts, {} rejected (see needs attention), {} already on the server",
            self.ops, self.applied, self.conflicts, self.rejected, self.replayed
        )?;
        if !self.receipts.is_empty() {
            write!(f, "; receipts {}", self.receipts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_an_export_is_named_with_what_is_wrong() {
        let bad = |bytes: &[u8]| {
            parse_export("x.json", bytes)
                .expect_err("refused")
                .to_string()
        };
        assert!(bad(b"{\n  \"format\": ").contains("x.json: not JSON (line 2"));
        assert!(bad(br#"{"format": "other/1"}"#).contains("format “other/1”"));
        assert!(bad(b"[]").contains("format missing"));
        let missing =
            bad(format!(r#"{{"format": "{OUTBOX_EXPORT_FORMAT}", "ops": []}}"#).as_bytes());
        assert!(
            missing.contains("exported_at") || missing.contains("missing field"),
            "{missing}"
        );
    }
}
