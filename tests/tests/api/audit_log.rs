//! The audit log viewer's endpoint (issue #17, "Audit log viewer"): `GET /api/v1/audit-log`
//! filters by user, device, entity and time, pages newest first without gaps or repeats, shows
//! an edit's before and after, is for the admin only, and names the bad parameter.

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

/// Every entry of `query` (a query string without `limit`/`before`), read `limit` at a time.
async fn all_pages<S, B>(app: &S, token: &str, query: &str, limit: i64) -> Vec<Value>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/audit-log?limit={limit}&{query}");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let r = send(app, Method::GET, &path, Some(token), None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.json);
        let items = r.json["items"].as_array().expect("items").clone();
        assert!(items.len() as i64 <= limit);
        out.extend(items);
        match r.json["next_before"].as_str() {
            Some(b) => before = Some(b.to_string()),
            None => return out,
        }
    }
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

#[actix_web::test]
async fn the_admin_reads_who_changed_what_with_before_and_after() {
    let t = TestApp::new();
    let app = test::init_service(daftar_server::app::build_app(t.state.clone())).await;
    let s = scenario(&t, &app, "audit").await;
    let acct = login_full(&app, "audit", "acct", PW).await;
    let acct_id = acct.json["user"]["id"]
        .as_str()
        .expect("acct id")
        .to_string();
    let acct_token = acct.json["access_token"]
        .as_str()
        .expect("token")
        .to_string();

    // The admin renames a student; the accountant renames a family.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/students/{}", s.s1),
        Some(&s.admin),
        Some(json!({"given_name": "Alia"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/families/{}", s.f2),
        Some(&acct_token),
        Some(json!({"name": "Shah-Bukhari family"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    // One student's history, newest first: the rename, then the admission.
    let student = all_pages(
        &app,
        &s.admin,
        &format!("entity=student&entity_id={}", s.s1),
        50,
    )
    .await;
    let actions: Vec<&str> = student
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["update", "create"], "{student:?}");
    let edit = &student[0];
    assert_eq!(edit["before"]["given_name"], json!("Ali"));
    assert_eq!(edit["after"]["given_name"], json!("Alia"));
    assert_eq!(
        edit["before"]["admission_no"],
        edit["after"]["admission_no"]
    );
    assert_eq!(edit["username"], json!("admin"));
    assert_eq!(edit["user_display_name"], json!("Admin"));
    assert!(student[1]["before"].is_null() && student[1]["after"]["given_name"] == json!("Ali"));

    // By user: only the accountant's login and family edit.
    let by_acct = all_pages(&app, &s.admin, &format!("user_id={acct_id}"), 50).await;
    assert!(!by_acct.is_empty());
    assert!(
        by_acct.iter().all(|e| e["user_id"] == json!(acct_id)),
        "{by_acct:?}"
    );
    let acct_actions: Vec<(&str, &str)> = by_acct
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().unwrap_or(""),
                e["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(acct_actions, [("family", "update"), ("user", "login")]);

    // Paging: pages of 3 add up to the whole log, newest first, nothing twice.
    let whole = all_pages(&app, &s.admin, "", 200).await;
    assert!(
        whole.len() > 20,
        "the scenario wrote {} entries",
        whole.len()
    );
    let paged = all_pages(&app, &s.admin, "", 3).await;
    assert_eq!(ids_of(&paged), ids_of(&whole));
    let mut sorted = ids_of(&whole);
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, ids_of(&whole), "newest first, no repeats");

    // Time: nothing from the future; everything since an hour ago.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let enc = |s: &str| s.replace('+', "%2B");
    assert!(
        all_pages(&app, &s.admin, &format!("from={}", enc(&soon)), 50)
            .await
            .is_empty()
    );
    let recent = all_pages(
        &app,
        &s.admin,
        &format!("from={}&to={}", enc(&ago), enc(&soon)),
        200,
    )
    .await;
    assert_eq!(ids_of(&recent), ids_of(&whole));

    // A device filter that matches nothing (no device made these changes).
    assert!(
        all_pages(&app, &s.admin, &format!("device_id={}", Uuid::now_v7()), 50)
            .await
            .is_empty()
    );

    // Admin only.
    for user in ["acct", "t1", "p1"] {
        let token = login(&app, "audit", user).await;
        let r = send(&app, Method::GET, "/api/v1/audit-log", Some(&token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {}", r.json);
    }

    // Bad parameters are named.
    let long = "x".repeat(65);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("user_id=not-a-uuid", "user_id"),
        ("from=yesterday", "from"),
        (&*format!("entity={long}"), "entity"),
        (&*format!("from={}&to={}", enc(&soon), enc(&ago)), "to"),
    ] {
        let r = send(
            &app,
            Method::GET,
            &format!("/api/v1/audit-log?{query}"),
            Some(&s.admin),
            None,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.json
        );
        assert_eq!(r.json["field"], json!(field), "{query}: {}", r.json);
    }
}
