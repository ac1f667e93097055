//! `manifest.csv`: the export's version and which files it holds, in what mode.

use super::*;

/// Checks `manifest.csv` and returns `file.<name>` → mode (`bulk`, `delta`, `absent`).
pub(super) fn read_manifest(
    files: &RosterFiles,
    warnings: &mut Vec<ImportWarning>,
) -> Result<BTreeMap<String, String>, ImportError> {
    let manifest = files
        .table("manifest.csv", &["propertyName", "value"])?
        .ok_or_else(|| {
            ImportError::file(
                "manifest.csv",
                "is missing; a OneRoster 1.1 export must have one",
            )
        })?;
    // The version decides how everything else reads, so it is checked before any other row
    // (ARCHITECTURE.md §11): a OneRoster 1.2 export differs in files and columns, and would
    // otherwise fail on its first unexpected column with a confusing message.
    if let Some(row) = manifest
        .rows
        .iter()
        .find(|r| r.get("propertyName") == "oneroster.version")
    {
        let version = row.get("value");
        if version != "1.1" {
            return Err(row.error(
                "value",
                format!(
                    "OneRoster version {version} is not supported: this importer reads \
                     OneRoster 1.1 CSV exports (export as 1.1, or convert the files)"
                ),
            ));
        }
    }
    let mut modes = BTreeMap::new();
    for row in &manifest.rows {
        let key = row.get("propertyName");
        let value = row.get("value");
        let warn = |warnings: &mut Vec<ImportWarning>, message: String| {
            warnings.push(ImportWarning {
                file: row.file.clone(),
                line: row.line,
                message,
            })
        };
        if let Some(file) = key.strip_prefix("file.") {
            if !MANIFEST_FILES.contains(&file) {
                warn(warnings, format!("unknown manifest key `{key}`; ignored"));
                continue;
            }
            let mode = value.to_ascii_lowercase();
            if !matches!(mode.as_str(), "bulk" | "delta" | "absent") {
                return Err(row.error(
                    "value",
                    format!("`{value}` for {key}: expected bulk, delta or absent"),
                ));
            }
            let name = format!("{file}.csv");
            if mode != "absent"
                && !files.has(&name)
                && matches!(
                    file,
                    "orgs" | "academicSessions" | "courses" | "classes" | "users" | "enrollments"
                )
            {
                return Err(row.error(
                    "value",
                    format!("manifest says {name} is {mode} but the export has no {name}"),
                ));
            }
            if mode == "absent" && files.has(&name) {
                warn(
                    warnings,
                    format!("{name} is present but the manifest says absent; ignored"),
                );
            }
            modes.insert(file.to_string(), mode);
        } else if key == "oneroster.version" {
            // Checked above.
        } else if !matches!(
            key,
            "manifest.version" | "source.systemName" | "source.systemCode"
        ) {
            warn(warnings, format!("unknown manifest key `{key}`; ignored"));
        }
    }
    Ok(modes)
}
