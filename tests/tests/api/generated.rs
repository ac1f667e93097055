//! Drift checks for generated files: `openapi/openapi.json` (utoipa) and
//! `server/src/schema.rs` (`diesel print-schema`). With `DAFTAR_UPDATE_GENERATED=1` the tests
//! rewrite the files instead of failing; that is the documented way to regenerate them.

use std::path::PathBuf;
use std::process::Command;

use super::*;

fn workspace_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

fn check_or_update(rel: &str, generated: &str, how: &str) {
    let path = workspace_file(rel);
    if std::env::var_os("DAFTAR_UPDATE_GENERATED").is_some() {
        std::fs::write(&path, generated).expect("write generated file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or(committed.lines().count().min(generated.lines().count()) + 1);
        panic!("{rel} is out of date (first difference at line {first}); regenerate with: {how}");
    }
}

#[test]
fn openapi_json_matches_the_code() {
    check_or_update(
        "openapi/openapi.json",
        &daftar_server::app::openapi_json(),
        "DAFTAR_UPDATE_GENERATED=1 cargo test -p daftar-tests --test api generated",
    );
}

#[test]
fn schema_rs_matches_the_migrations() {
    let tdb = TestDb::new();
    let out = Command::new("diesel")
        .args(["print-schema", "--database-url", tdb.url()])
        .current_dir(workspace_file("."))
        .output()
        .expect("run `diesel print-schema`: install diesel_cli (cargo install diesel_cli --no-default-features --features postgres)");
    assert!(
        out.status.success(),
        "diesel print-schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_or_update(
        "server/src/schema.rs",
        &String::from_utf8(out.stdout).expect("utf-8"),
        "DAFTAR_UPDATE_GENERATED=1 cargo test -p daftar-tests --test api generated",
    );
}

#[test]
fn openapi_documents_every_route_with_problem_errors() {
    let spec: serde_json::Value =
        serde_json::from_str(&daftar_server::app::openapi_json()).expect("json");
    let paths = spec["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/auth/login",
        "/api/v1/students/{id}",
        "/api/v1/imports/oneroster",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}
