//! One scope rule for REST and sync (ARCHITECTURE.md §6): for each role, what a device is sent
//! by a pull is exactly what the same user may read through REST, entity by entity.

use std::collections::{BTreeMap, BTreeSet};

use daftar_tests::server::TestServer;
use serde_json::Value;

use super::*;

/// Every live row a device of `username` is sent, by entity, pulling page by page from the
/// beginning over HTTP with a freshly enrolled device's token.
fn pulled(url: &str, username: &str) -> BTreeMap<String, BTreeSet<String>> {
    let user_token = token(url, username);
    let reg: Value = ureq::post(&format!("{url}/api/v1/sync/devices"))
        .set("Authorization", &format!("Bearer {user_token}"))
        .send_json(serde_json::json!({ "name": format!("{username}'s phone") }))
        .expect("enrol")
        .into_json()
        .expect("json");
    let device_token = reg["tokens"]["access_token"].as_str().expect("token");
    let mut rows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let page: Value = ureq::get(&format!("{url}/api/v1/sync/pull"))
            .query("cursor", &cursor)
            .query("limit", "5000")
            .set("Authorization", &format!("Bearer {device_token}"))
            .call()
            .expect("pull")
            .into_json()
            .expect("json");
        for c in page["changes"].as_array().expect("changes") {
            let entity = c["entity"].as_str().expect("entity").to_string();
            let id = c["id"].as_str().expect("id").to_string();
            let set = rows.entry(entity).or_default();
            if c["deleted"].as_bool() == Some(true) {
                set.remove(&id);
            } else {
                set.insert(id);
            }
        }
        cursor = page["cursor"].as_str().expect("cursor").to_string();
        if page["has_more"] != true {
            break;
        }
    }
    rows
}

/// The ids REST gives `token` for `path`: a list, a page (followed to its end) or one object;
/// empty when REST refuses (403).
fn rest_ids(url: &str, token: &str, path: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut offset = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let paged = format!("{path}{sep}limit=500&offset={offset}");
        let r = ureq::get(&format!("{url}/api/v1{paged}"))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        let v: Value = match r {
            Ok(r) => r.into_json().expect("json"),
            Err(ureq::Error::Status(403, _)) => return ids,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let items = if let Some(items) = v["items"].as_array() {
            items.clone()
        } else if let Some(list) = v.as_array() {
            list.clone()
        } else {
            vec![v.clone()]
        };
        for item in &items {
            ids.insert(item["id"].as_str().expect("id").to_string());
        }
        let total = v["total"].as_u64();
        offset += 500;
        if total.is_none_or(|t| offset >= t) {
            return ids;
        }
    }
}

#[test]
fn every_role_pulls_exactly_what_rest_lets_it_read() {
    let tdb = demo_db();
    let server = TestServer::start(tdb.url());
    let url = server.url();
    // Synced entities with a REST listing, and that listing.
    let listings = [
        ("schools", "/school"),
        ("academic_years", "/academic-years"),
        ("terms", "/terms"),
        ("attendance_codes", "/attendance-codes"),
        ("classes", "/classes"),
        ("fee_heads", "/fee-heads"),
        ("accounts", "/accounts"),
        ("students", "/students"),
        ("families", "/families"),
        ("guardians", "/guardians"),
        // `users` (logins) are not synced to any device; REST alone serves them.
    ];
    // A teacher who is also a parent (issue #17): one class taught, and a family whose
    // children are not in it. Their device must be sent the union, as REST shows them.
    let admin = token(&url, "admin");
    let post = |path: &str, body: Value| -> Value {
        ureq::post(&format!("{url}/api/v1{path}"))
            .set("Authorization", &format!("Bearer {admin}"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
            .into_json()
            .expect("json")
    };
    let both = post(
        "/users",
        serde_json::json!({"username": "teachparent",
        "display_name": "Ms Both", "roles": ["teacher", "parent"], "password": PW}),
    );
    let both_id = both["id"].as_str().expect("id");
    let classes = get(&url, &admin, "/classes?limit=500");
    let taught = classes["items"][0]["id"]
        .as_str()
        .expect("class")
        .to_string();
    ureq::put(&format!("{url}/api/v1/classes/{taught}/teachers/{both_id}"))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("assign");
    let in_taught: BTreeSet<String> =
        rest_ids(&url, &admin, &format!("/students?class_id={taught}"));
    let students = get(&url, &admin, "/students?limit=500");
    let family = students["items"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| !in_taught.contains(s["id"].as_str().expect("id")))
        .map(|s| s["family_id"].as_str().expect("family").to_string())
        .expect("a family outside the class");
    post(
        "/guardians",
        serde_json::json!({"family_id": family, "user_id": both_id,
        "given_name": "Both", "family_name": "Parent"}),
    );

    for username in ["accountant", "teacher1", "parent", "teachparent"] {
        let device = pulled(&url, username);
        let t = token(&url, username);
        let mut disagreements = Vec::new();
        for (entity, path) in listings {
            let pull = device.get(entity).cloned().unwrap_or_default();
            let rest = rest_ids(&url, &t, path);
            if pull != rest {
                disagreements.push(format!(
                    "{entity}: pulled {} rows, REST {path} gives {} ({} only pulled, {} only REST)",
                    pull.len(),
                    rest.len(),
                    pull.difference(&rest).count(),
                    rest.difference(&pull).count()
                ));
            }
        }
        // A family's invoices and payments: REST per family the user may read.
        let families = rest_ids(&url, &t, "/families");
        for (entity, suffix, key) in [
            ("invoices", "invoices", "invoice_id"),
            ("payments", "payments", "id"),
        ] {
            let mut rest = BTreeSet::new();
            for f in &families {
                let v = get(&url, &t, &format!("/families/{f}/{suffix}"));
                for item in v.as_array().expect("list") {
                    rest.insert(item[key].as_str().expect("id").to_string());
                }
            }
            let pull = device.get(entity).cloned().unwrap_or_default();
            if pull != rest {
                disagreements.push(format!(
                    "{entity}: pulled {} rows, REST per family gives {}",
                    pull.len(),
                    rest.len()
                ));
            }
        }
        assert!(
            disagreements.is_empty(),
            "{username}: the pull and REST disagree:\n{}",
            disagreements.join("\n")
        );
        // The check has teeth: every role is sent something of each kind it may read.
        assert!(
            device.contains_key("classes") && device.contains_key("students"),
            "{username}"
        );
        if username == "teachparent" {
            // Both halves arrived: the taught class's pupils and the family's record.
            let pulled_students = device.get("students").cloned().unwrap_or_default();
            assert!(
                in_taught.is_subset(&pulled_students),
                "the taught class's students"
            );
            assert_eq!(
                device.get("families").cloned().unwrap_or_default(),
                BTreeSet::from([family.clone()]),
                "their own family, and no pupil's"
            );
            assert!(
                pulled_students.len() > in_taught.len(),
                "their own child too"
            );
        }
    }
}
