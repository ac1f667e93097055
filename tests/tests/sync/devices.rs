//! Devices (issue #17, "Devices"): the admin's list shows each device's user, receipt series,
//! last pull and push and the edits it reported queued; revoking one stops its tokens at once
//! (403 `device_revoked` on REST, push, pull, refresh and login), keeps its unsent edits on it,
//! and never hands its receipt series to another device.

use daftar_client_core::client::{office, outbox_file, ClientError};
use daftar_client_core::protocol::PaymentMethod;
use daftar_tests::server::TestServer;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::*;

/// `POST {url}/api/v1{path}` with `body` (and `token` when given): status and JSON body.
fn post(url: &str, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut req = ureq::post(&format!("{url}/api/v1{path}"));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    answer(req.send_json(body))
}

/// `GET {url}/api/v1{path}` as `token`: status and JSON body.
fn get_status(url: &str, token: &str, path: &str) -> (u16, Value) {
    answer(
        ureq::get(&format!("{url}/api/v1{path}"))
            .set("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("transport: {e}"),
    }
}

fn refused_code(r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Server { problem, .. }) => {
            assert_eq!(problem.status, 403, "{problem:?}");
            problem.code
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn listed(url: &str, admin: &str, device: &str) -> Value {
    let (status, list) = get_status(url, admin, "/devices");
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .expect("a list")
        .iter()
        .find(|d| d["id"] == json!(device))
        .cloned()
        .unwrap_or_else(|| panic!("device {device} not listed: {list}"))
}

#[test]
fn a_revoked_device_is_refused_everywhere_and_keeps_its_unsent_edits() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let server = TestServer::start(tdb.url());
    let url = server.url();
    let dir = tempfile::tempdir().expect("tmp");
    let mut office_pc = enrol(dir.path(), &url, "accountant");
    let device = office_pc
        .store
        .device("device_id")
        .expect("device")
        .expect("enrolled");
    let series = office_pc
        .store
        .device("receipt_series")
        .expect("series")
        .expect("a series");
    let admin = token(&url, "admin");
    let family = diesel::sql_query("SELECT id FROM families ORDER BY id LIMIT 1")
        .get_result::<IdRow>(&mut conn)
        .expect("a family")
        .id;

    // Two payments taken offline, then a pull: the device reports them queued.
    for amount in [7_011, 8_011] {
        office::record_payment(
            &mut office_pc.store,
            family,
            amount,
            PaymentMethod::Cash,
            None,
            None,
        )
        .expect("pay offline");
    }
    office_pc.pull(&mut |_, _| {}).expect("pull");
    let d = listed(&url, &admin, &device);
    assert_eq!(d["username"], json!("accountant"));
    assert_eq!(d["receipt_series"], json!(series));
    assert_eq!(d["queued_ops"], json!(2), "{d}");
    assert!(
        d["last_pull_at"].is_string() && d["last_push_at"].is_null(),
        "{d}"
    );
    assert!(d["revoked_at"].is_null());

    // They are pushed; a third is taken and not yet sent.
    office_pc.push().expect("push");
    assert!(listed(&url, &admin, &device)["last_push_at"].is_string());
    let unsent = office::record_payment(
        &mut office_pc.store,
        family,
        9_011,
        PaymentMethod::Cash,
        None,
        None,
    )
    .expect("pay offline");
    // What the device would export; an enrolled device's outbox is not imported.
    let early = serde_json::to_value(office_pc.outbox_export().expect("export")).expect("json");
    let (status, body) = post(&url, Some(&admin), "/devices/import-outbox", early);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("device_not_revoked")),
        "{body}"
    );

    // A device-bound login of the same device, to try its refresh token afterwards.
    let (status, bound) = post(
        &url,
        None,
        "/auth/login",
        json!({"school": "demo", "username": "accountant", "password": PW, "device_id": device}),
    );
    assert_eq!(status, 200, "{bound}");
    let bound_access = bound["access_token"].as_str().expect("access").to_string();
    let bound_refresh = bound["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_eq!(
        get_status(&url, &bound_access, &format!("/families/{family}/dues")).0,
        200
    );
    let (status, body) = get_status(&url, &bound_access, "/sync/pull?queued=1000001");
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("queued")),
        "{body}"
    );

    // Only the admin lists and revokes.
    let accountant = token(&url, "accountant");
    assert_eq!(get_status(&url, &accountant, "/devices").0, 403);
    assert_eq!(
        post(
            &url,
            Some(&accountant),
            &format!("/devices/{device}/revoke"),
            json!({})
        )
        .0,
        403
    );
    assert_eq!(
        post(
            &url,
            Some(&admin),
            &format!("/devices/{}/revoke", uuid::Uuid::now_v7()),
            json!({})
        )
        .0,
        404
    );

    // Revoked: at once, idempotently.
    let (status, revoked) = post(
        &url,
        Some(&admin),
        &format!("/devices/{device}/revoke"),
        json!({}),
    );
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, again) = post(
        &url,
        Some(&admin),
        &format!("/devices/{device}/revoke"),
        json!({}),
    );
    assert_eq!(status, 200);
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);

    // Every way in is refused with the same clear code.
    let (status, body) = get_status(&url, &bound_access, &format!("/families/{family}/dues"));
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    let (status, body) = post(
        &url,
        None,
        "/auth/refresh",
        json!({"refresh_token": bound_refresh}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    let (status, body) = post(
        &url,
        None,
        "/auth/login",
        json!({"school": "demo", "username": "accountant", "password": PW, "device_id": device}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    assert_eq!(refused_code(office_pc.push()), "device_revoked");
    assert_eq!(
        refused_code(office_pc.pull(&mut |_, _| {})),
        "device_revoked"
    );

    // The unsent payment is still on the device; the server has only the two sent.
    assert_eq!(office_pc.store.counts().expect("counts").pending, 1);
    let on_server = count_for(
        &mut conn,
        "SELECT count(*) AS n FROM payments WHERE family_id = $1 AND amount IN (7011, 8011, 9011)",
        family,
    );
    assert_eq!(on_server, 2);

    // The admin imports the exported outbox on another device: the payment is applied as the
    // accountant's on the revoked device, with the receipt number printed offline; once.
    let export = office_pc.outbox_export().expect("export");
    assert_eq!(export.ops.len(), 1);
    let file = dir.path().join("unsent.json");
    outbox_file::write_export(&file, &export).expect("write");
    assert!(outbox_file::write_export(&file, &export)
        .expect_err("never overwritten")
        .to_string()
        .contains("must not exist yet"),);
    let export = outbox_file::read_export(&file).expect("read back");
    let body = serde_json::to_value(&export).expect("json");
    assert_eq!(
        post(
            &url,
            Some(&accountant),
            "/devices/import-outbox",
            body.clone()
        )
        .0,
        403,
        "only the admin imports"
    );
    let mut wrong = body.clone();
    wrong["format"] = json!("something-else/1");
    let (status, problem) = post(&url, Some(&admin), "/devices/import-outbox", wrong);
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("format")),
        "{problem}"
    );
    let admin_dir = tempfile::tempdir().expect("tmp");
    let admin_pc = enrol(admin_dir.path(), &url, "admin");
    let outcomes = admin_pc.api.import_outbox(&export).expect("import");
    let summary = outbox_file::ImportSummary::of(&outcomes);
    assert_eq!(
        (summary.ops, summary.applied, summary.replayed),
        (1, 1, 0),
        "{summary}"
    );
    assert_eq!(
        summary.receipts,
        vec![unsent.receipt_no.clone()],
        "the printed number"
    );
    let again =
        outbox_file::ImportSummary::of(&admin_pc.api.import_outbox(&export).expect("again"));
    assert_eq!(
        (again.applied, again.replayed),
        (0, 1),
        "imported once: {again}"
    );
    let (receipt_no, received_by): (String, uuid::Uuid) = diesel::sql_query(
        "SELECT p.receipt_no AS text, p.received_by AS id FROM payments p WHERE p.family_id = $1 AND p.amount = 9011",
    )
    .bind::<diesel::sql_types::Uuid, _>(family)
    .get_result::<TextAndId>(&mut conn)
    .map(|r| (r.text, r.id))
    .expect("the imported payment");
    assert_eq!(receipt_no, unsent.receipt_no);
    let accountant_id = diesel::sql_query("SELECT id FROM users WHERE username = 'accountant'")
        .get_result::<IdRow>(&mut conn)
        .expect("accountant")
        .id;
    assert_eq!(
        received_by, accountant_id,
        "taken by the accountant, not the admin"
    );

    // The same user's next device gets a new series; the revoked one stays taken.
    let dir2 = tempfile::tempdir().expect("tmp");
    let mut next = enrol(dir2.path(), &url, "accountant");
    let next_series = next
        .store
        .device("receipt_series")
        .expect("series")
        .expect("a series");
    assert_ne!(next_series, series);
    assert!(listed(&url, &admin, &device)["revoked_at"].is_string());

    // And the audit log says who revoked it.
    let (status, log) = get_status(
        &url,
        &admin,
        &format!("/audit-log?entity=device&entity_id={device}"),
    );
    assert_eq!(status, 200);
    let actions: Vec<&Value> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| &e["action"])
        .collect();
    assert_eq!(
        actions,
        [
            &json!("outbox_imported"),
            &json!("outbox_imported"),
            &json!("revoked"),
            &json!("create")
        ],
        "{log}"
    );
    assert_eq!(log["items"][0]["username"], json!("admin"));
    assert_eq!(log["items"][2]["username"], json!("admin"));
}

#[derive(diesel::QueryableByName)]
struct TextAndId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
}
