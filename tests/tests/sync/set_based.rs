//! Set-based push equals one-at-a-time push, row for row (issue #16, "Set-based push"). The
//! server records a chunk's payments as one batch and its register marks as another
//! (`push::Application::Batched`); the reference is every op alone in its own savepoint, in seq
//! order (`Application::OneAtATime`). The same random pushes — payments that fill lines, leave
//! credit, go to Suspense or are refused, retried payments, reversals and discounts between
//! them, registers marked, corrected and overridden by the office and a teacher, refused codes,
//! an op repeated inside one push and a whole push sent twice — run against two copies of one
//! database, one per path. Then every row of every table, and every push response, must be the
//! same, up to the ids the server generates (matched by what refers to them), the transaction
//! ids that version the change log, and the clock of each run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Duration, Utc};
use daftar_client_core::protocol::sync::{
    PushRequest, SyncOp, ATTENDANCE_MARK_REGISTER, ATTENDANCE_OVERRIDE, DISCOUNT_GRANT,
    PAYMENT_RECORD, PAYMENT_REVERSE, STUDENT_UPDATE,
};
use daftar_client_core::protocol::Role;
use daftar_server::auth::AuthUser;
use daftar_server::sync::devices::{self, DeviceRow};
use daftar_server::sync::push::{push_with, Application};
use diesel::prelude::*;
use diesel::sql_types::Text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

#[derive(QueryableByName)]
struct JsonText {
    #[diesel(sql_type = Text)]
    j: String,
}

/// The one `j` column of `sql` (a `SELECT … AS j` of one row) as JSON.
fn query_json(conn: &mut PgConnection, sql: &str) -> Value {
    let row = diesel::sql_query(sql)
        .get_result::<JsonText>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    serde_json::from_str(&row.j).expect("json")
}

/// What the random pushes are made of, read once from the first database (the copy has the
/// same rows and ids).
struct School {
    admin: Uuid,
    families: Vec<Uuid>,
    lines: Vec<(Uuid, Uuid)>,
    classes: Vec<(Uuid, Vec<Uuid>)>,
    students: Vec<(Uuid, String)>,
    dates: Vec<String>,
    codes: Vec<String>,
}

impl School {
    fn read(conn: &mut PgConnection) -> School {
        let ids = |v: &Value| -> Vec<Uuid> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_str().expect("id").parse().expect("uuid"))
                .collect()
        };
        let admin = query_json(
            conn,
            "SELECT to_json(id)::text AS j FROM users WHERE username = 'admin'",
        );
        let families = query_json(
            conn,
            "SELECT json_agg(id ORDER BY id)::text AS j FROM
               (SELECT DISTINCT i.family_id AS id FROM invoices i ORDER BY 1 LIMIT 24) f",
        );
        let lines = query_json(
            conn,
            "SELECT json_agg(json_build_array(l.id, i.family_id) ORDER BY l.id)::text AS j
               FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
              WHERE i.family_id IN (SELECT DISTINCT family_id FROM invoices ORDER BY 1 LIMIT 24)",
        );
        let classes = query_json(
            conn,
            "SELECT json_agg(json_build_array(class_id, students) ORDER BY class_id)::text AS j FROM
               (SELECT class_id, json_agg(student_id ORDER BY student_id) AS students
                  FROM enrollments WHERE active GROUP BY class_id
                 ORDER BY class_id IN (SELECT t.class_id FROM class_teachers t
                                         JOIN users u ON u.id = t.teacher_id
                                        WHERE u.username = 'teacher1') DESC, class_id
                 LIMIT 4) c",
        );
        let students = query_json(
            conn,
            "SELECT json_agg(json_build_array(id, given_name) ORDER BY id)::text AS j FROM
               (SELECT id, given_name FROM students ORDER BY id LIMIT 12) s",
        );
        let dates = query_json(
            conn,
            "SELECT json_agg(d ORDER BY d)::text AS j FROM
               (SELECT DISTINCT on_date AS d FROM registers ORDER BY 1 DESC LIMIT 3) r",
        );
        let codes = query_json(
            conn,
            "SELECT json_agg(code ORDER BY code)::text AS j FROM attendance_codes WHERE active",
        );
        let pair = |v: &Value| -> (Uuid, Uuid) {
            let a = ids(v);
            (a[0], a[1])
        };
        let today = (Utc::now() + Duration::hours(5)).date_naive().to_string();
        let mut dates: Vec<String> = dates
            .as_array()
            .expect("dates")
            .iter()
            .map(|d| d.as_str().expect("date").to_string())
            .collect();
        dates.push(today);
        School {
            admin: admin.as_str().expect("admin").parse().expect("uuid"),
            families: ids(&families),
            lines: lines.as_array().expect("lines").iter().map(pair).collect(),
            classes: classes
                .as_array()
                .expect("classes")
                .iter()
                .map(|c| {
                    (
                        c[0].as_str().expect("class").parse().expect("uuid"),
                        ids(&c[1]),
                    )
                })
                .collect(),
            students: students
                .as_array()
                .expect("students")
                .iter()
                .map(|s| {
                    (
                        s[0].as_str().expect("id").parse().expect("uuid"),
                        s[1].as_str().expect("name").to_string(),
                    )
                })
                .collect(),
            dates,
            codes: codes
                .as_array()
                .expect("codes")
                .iter()
                .map(|c| c.as_str().expect("code").to_string())
                .collect(),
        }
    }
}

/// One enrolled device of the demo user `username`, with its caller identity.
struct Writer {
    auth: AuthUser,
    device: DeviceRow,
    client_id: Uuid,
    next_seq: i64,
}

fn writer(conn: &mut PgConnection, username: &str) -> Writer {
    let user = query_json(
        conn,
        &format!(
            "SELECT json_build_array(u.id, u.school_id, r.role)::text AS j
               FROM users u JOIN user_roles r ON r.school_id = u.school_id AND r.user_id = u.id
              WHERE u.username = '{username}'"
        ),
    );
    let role = match user[2].as_str().expect("role") {
        "admin" => Role::Admin,
        "accountant" => Role::Accountant,
        "teacher" => Role::Teacher,
        other => panic!("role {other}"),
    };
    let mut auth = AuthUser {
        user_id: user[0].as_str().expect("id").parse().expect("uuid"),
        school_id: user[1].as_str().expect("school").parse().expect("uuid"),
        roles: daftar_client_core::protocol::Roles::of([role]),
        device_id: None,
    };
    let (device, client_id) =
        devices::register(conn, &auth, &format!("{username}'s test device")).expect("register");
    auth.device_id = Some(device.id);
    Writer {
        auth,
        device,
        client_id,
        next_seq: 1,
    }
}

/// A random op of `writer` (office or teacher) over `school`, remembering the payments it
/// made so that later ops can retry or reverse them.
fn random_op(
    rng: &mut StdRng,
    school: &School,
    office: bool,
    paid: &mut Vec<Value>,
    past: DateTime<Utc>,
) -> (String, Value) {
    let roll = rng.gen_range(0..100);
    let family = school.families[rng.gen_range(0..school.families.len())];
    let mark = |rng: &mut StdRng, reason: Option<&str>| -> Value {
        // The teacher's own class sorts first; now and then it tries another one (refused).
        let at = if !office && rng.gen_bool(0.9) {
            0
        } else {
            rng.gen_range(0..school.classes.len())
        };
        let (class, students) = &school.classes[at];
        // Teachers mostly mark today (their edit window is the school's setting, 0 days in
        // the demo); the office corrects any day.
        let on_date = if !office && rng.gen_bool(0.7) {
            school.dates.last().expect("today")
        } else {
            &school.dates[rng.gen_range(0..school.dates.len())]
        };
        let mut exceptions = Vec::new();
        for _ in 0..rng.gen_range(0..6) {
            let student = students[rng.gen_range(0..students.len())];
            let code = if rng.gen_bool(0.05) {
                "Z".to_string()
            } else {
                school.codes[rng.gen_range(0..school.codes.len())].clone()
            };
            exceptions.push(json!({ "student_id": student, "code": code }));
        }
        json!({ "class_id": class, "on_date": on_date,
                "default_code": if rng.gen_bool(0.8) { Some("P") } else { None },
                "exceptions": exceptions, "reason": reason })
    };
    if !office {
        return (ATTENDANCE_MARK_REGISTER.into(), mark(rng, None));
    }
    match roll {
        0..=44 => {
            let amount: i64 = match rng.gen_range(0..10) {
                0 => 0,
                1 => 5_000_000,
                _ => rng.gen_range(1..40) * 500,
            };
            let family_id = match rng.gen_range(0..20) {
                0 => Value::Null,
                1 => json!(Uuid::now_v7()),
                _ => json!(family),
            };
            let method = ["cash", "bank_transfer", "cheque"][rng.gen_range(0..3)];
            let args = json!({
                "id": Uuid::now_v7(), "family_id": family_id, "amount": amount,
                "currency": if rng.gen_range(0..30) == 0 { "USD" } else { "PKR" },
                "method": method,
                "reference": format!("ref {}", rng.gen_range(0..1000)),
                "received_at": if rng.gen_bool(0.5) { json!(past) } else { Value::Null },
            });
            paid.push(args.clone());
            (PAYMENT_RECORD.into(), args)
        }
        45..=49 if !paid.is_empty() => {
            // The same payment again under a new op id (a retry from another outbox), or
            // the same id with another amount (refused).
            let mut args = paid[rng.gen_range(0..paid.len())].clone();
            if rng.gen_bool(0.3) {
                args["amount"] = json!(args["amount"].as_i64().unwrap_or(0) + 1);
            }
            (PAYMENT_RECORD.into(), args)
        }
        50..=54 if !paid.is_empty() => {
            let payment = &paid[rng.gen_range(0..paid.len())];
            (
                PAYMENT_REVERSE.into(),
                json!({ "payment_id": payment["id"], "reason": "cheque bounced" }),
            )
        }
        55..=61 => {
            let (line, _) = school.lines[rng.gen_range(0..school.lines.len())];
            (
                DISCOUNT_GRANT.into(),
                json!({ "invoice_line_id": line, "id": Uuid::now_v7(), "kind": "discount",
                        "amount": rng.gen_range(1..20) * 100, "reason": "sibling concession",
                        "approved_by": school.admin }),
            )
        }
        62..=66 => {
            let (id, name) = &school.students[rng.gen_range(0..school.students.len())];
            let base = if rng.gen_bool(0.7) {
                name.clone()
            } else {
                "Someone".into()
            };
            (
                STUDENT_UPDATE.into(),
                json!({ "id": id, "fields": { "given_name": {
                    "base": base, "value": format!("{name} {}", rng.gen_range(0..9)) } } }),
            )
        }
        67..=84 => (ATTENDANCE_MARK_REGISTER.into(), mark(rng, None)),
        85..=94 => {
            let reason = if rng.gen_bool(0.85) {
                Some("office correction")
            } else {
                None
            };
            (ATTENDANCE_OVERRIDE.into(), mark(rng, reason))
        }
        95..=96 => (
            "attendance.unknown@9".into(),
            json!({ "class_id": Uuid::now_v7() }),
        ),
        _ => (PAYMENT_RECORD.into(), json!({ "id": "not a uuid" })),
    }
}

/// The random pushes of one seed: (writer index, request), pushes sent twice included.
fn random_pushes(seed: u64, school: &School, writers: &mut [Writer]) -> Vec<(usize, PushRequest)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let past = Utc::now() - Duration::hours(3);
    let mut paid = Vec::new();
    let mut pushes = Vec::new();
    for _ in 0..6 {
        let w = rng.gen_range(0..writers.len());
        let office = writers[w].auth.is_office();
        let mut ops: Vec<SyncOp> = Vec::new();
        for _ in 0..rng.gen_range(20..160) {
            if !ops.is_empty() && rng.gen_range(0..40) == 0 {
                // The same op twice in one push.
                let again = ops[rng.gen_range(0..ops.len())].clone();
                ops.push(SyncOp {
                    seq: writers[w].next_seq,
                    ..again
                });
                writers[w].next_seq += 1;
                continue;
            }
            let (mutation, args) = random_op(&mut rng, school, office, &mut paid, past);
            ops.push(SyncOp {
                op_id: Uuid::now_v7(),
                seq: writers[w].next_seq,
                mutation,
                args,
                base_version: None,
                created_at: past + Duration::seconds(ops.len() as i64),
            });
            writers[w].next_seq += 1;
        }
        let req = PushRequest {
            client_id: writers[w].client_id,
            ops,
        };
        if rng.gen_bool(0.3) {
            pushes.push((w, req.clone()));
        }
        pushes.push((w, req));
    }
    pushes
}

/// Tables whose rows are compared: all of them except the login machinery.
const SKIPPED_TABLES: [&str; 4] = [
    "__diesel_schema_migrations",
    "login_throttles",
    "refresh_tokens",
    "sql_functions",
];

/// Every row of every table, as `(table, row)`.
fn dump(conn: &mut PgConnection) -> Vec<(String, Value)> {
    let tables = query_json(
        conn,
        "SELECT json_agg(table_name ORDER BY table_name)::text AS j FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    let mut rows = Vec::new();
    for t in tables.as_array().expect("tables") {
        let t = t.as_str().expect("table");
        if SKIPPED_TABLES.contains(&t) {
            continue;
        }
        let all = query_json(
            conn,
            &format!("SELECT coalesce(json_agg(to_jsonb(x)), '[]')::text AS j FROM {t} x"),
        );
        for row in all.as_array().expect("rows") {
            rows.push((t.to_string(), row.clone()));
        }
    }
    rows
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && Uuid::parse_str(s).is_ok()
}

/// The ids in `v`, including those inside composite keys such as a change-log `row_key`
/// (`<register id>:<student id>`).
fn uuids_in(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) => {
            for part in s.split(':').filter(|p| is_uuid(p)) {
                out.insert(part.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| uuids_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| uuids_in(x, out)),
        _ => {}
    }
}

/// `v` without what differs between two runs by construction: change-log versions are the
/// writing transaction's id and timestamps at or after `since` are the run's own clock.
fn without_run_noise(v: &Value, since: DateTime<Utc>) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| k.as_str() != "version")
                .map(|(k, x)| (k.clone(), without_run_noise(x, since)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| without_run_noise(x, since)).collect()),
        Value::String(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t >= since => json!("<now>"),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

fn render(v: &Value, labels: &HashMap<String, u64>, own: Option<&str>) -> String {
    match v {
        Value::String(s) => {
            let part = |p: &str| match (own == Some(p), labels.get(p)) {
                (true, _) => Some("<self>".to_string()),
                (false, Some(l)) => Some(format!("<id {l:x}>")),
                (false, None) => None,
            };
            let parts: Vec<Option<String>> = s.split(':').map(part).collect();
            if parts.iter().all(Option::is_none) {
                serde_json::to_string(s).unwrap_or_default()
            } else {
                let text: Vec<String> = s
                    .split(':')
                    .zip(parts)
                    .map(|(raw, p)| p.unwrap_or_else(|| raw.to_string()))
                    .collect();
                text.join(":")
            }
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|x| render(x, labels, own)).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(o) => {
            let parts: Vec<String> = o
                .iter()
                .map(|(k, x)| format!("{k}:{}", render(x, labels, own)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// Each row of `rows` as text in which every generated id is replaced by a label computed from
/// the rows it appears in (refined a few rounds, as in Weisfeiler–Lehman colouring), so that
/// two databases that differ only in the ids the server generated render the same.
fn canonical(rows: &[(String, Value)], generated: &HashSet<String>) -> Vec<(String, String)> {
    let mut holders: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, row)) in rows.iter().enumerate() {
        let mut found = HashSet::new();
        uuids_in(row, &mut found);
        for u in found {
            if let Some(g) = generated.get(&u) {
                holders.entry(g.as_str()).or_default().push(i);
            }
        }
    }
    let mut labels: HashMap<String, u64> = generated.iter().map(|g| (g.clone(), 0)).collect();
    for _ in 0..4 {
        let mut next = HashMap::new();
        for (g, at) in &holders {
            let mut sigs: Vec<String> = at
                .iter()
                .map(|&i| format!("{}:{}", rows[i].0, render(&rows[i].1, &labels, Some(g))))
                .collect();
            sigs.sort();
            let mut h = DefaultHasher::new();
            sigs.hash(&mut h);
            next.insert(g.to_string(), h.finish());
        }
        labels = next;
    }
    rows.iter()
        .map(|(t, row)| (t.clone(), render(row, &labels, None)))
        .collect()
}

#[test]
fn batched_push_equals_one_at_a_time_row_for_row() {
    let batched_db = demo_db();
    let since = Utc::now() - Duration::seconds(1);
    let (school, mut writers) = {
        let mut conn = batched_db.conn();
        let school = School::read(&mut conn);
        let writers = vec![
            writer(&mut conn, "accountant"),
            writer(&mut conn, "teacher1"),
        ];
        (school, writers)
    };
    let reference_db = batched_db.copy();

    let mut pushes = Vec::new();
    for seed in [16, 1016, 2016] {
        pushes.extend(random_pushes(seed, &school, &mut writers));
    }
    let ops: usize = pushes.iter().map(|(_, p)| p.ops.len()).sum();
    assert!(ops > 400, "the random pushes carry {ops} ops");

    let mut states = Vec::new();
    for (db, application) in [
        (&batched_db, Application::Batched),
        (&reference_db, Application::OneAtATime),
    ] {
        let mut conn = db.conn();
        let mut rows = Vec::new();
        for (n, (w, req)) in pushes.iter().enumerate() {
            let w = &writers[*w];
            let resp = push_with(&mut conn, &w.auth, &w.device, req, application)
                .unwrap_or_else(|e| panic!("push {n} ({application:?}): {e}"));
            assert_eq!(
                resp.results.len(),
                req.ops.len(),
                "push {n} decided every op"
            );
            let resp = serde_json::to_value(&resp).expect("json");
            rows.push((
                format!("push {n} next_seq"),
                json!({ "next_seq": resp["next_seq"], "retry_after_secs": resp["retry_after_secs"] }),
            ));
            for (i, outcome) in resp["results"]
                .as_array()
                .expect("results")
                .iter()
                .enumerate()
            {
                rows.push((format!("push {n} result {i}"), outcome.clone()));
            }
        }
        rows.extend(dump(&mut conn));
        let rows: Vec<(String, Value)> = rows
            .into_iter()
            .map(|(t, v)| (t, without_run_noise(&v, since)))
            .collect();
        states.push(rows);
    }

    // An id is the server's own when it appears in one database and not the other.
    let mut seen: Vec<HashSet<String>> = Vec::new();
    for rows in &states {
        let mut ids = HashSet::new();
        rows.iter().for_each(|(_, r)| uuids_in(r, &mut ids));
        seen.push(ids);
    }
    let generated: HashSet<String> = seen[0].symmetric_difference(&seen[1]).cloned().collect();
    assert!(
        !generated.is_empty(),
        "the pushes made rows with the server's own ids"
    );

    let mut by_table: Vec<BTreeMap<String, Vec<String>>> = Vec::new();
    for rows in &states {
        let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (t, r) in canonical(rows, &generated) {
            tables.entry(t).or_default().push(r);
        }
        tables.values_mut().for_each(|v| v.sort());
        by_table.push(tables);
    }
    let names: BTreeSet<&String> = by_table[0].keys().chain(by_table[1].keys()).collect();
    let mut differences = Vec::new();
    for t in names {
        let empty = Vec::new();
        let a = by_table[0].get(t).unwrap_or(&empty);
        let b = by_table[1].get(t).unwrap_or(&empty);
        if a != b {
            let clip = |r: &&String| r.chars().take(700).collect::<String>();
            let only_a: Vec<String> = a
                .iter()
                .filter(|r| !b.contains(r))
                .take(3)
                .map(|r| clip(&r))
                .collect();
            let only_b: Vec<String> = b
                .iter()
                .filter(|r| !a.contains(r))
                .take(3)
                .map(|r| clip(&r))
                .collect();
            differences.push(format!(
                "{t}: {} rows batched, {} one at a time\n  batched only: {only_a:#?}\n  one-at-a-time only: {only_b:#?}",
                a.len(),
                b.len()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the batched push and the one-at-a-time push differ:\n{}",
        differences.join("\n")
    );

    // The pushes did what they were meant to exercise.
    let outcomes: Vec<&Value> = states[0]
        .iter()
        .filter(|(t, _)| t.contains(" result "))
        .map(|(_, r)| r)
        .collect();
    let status = |s: &str| outcomes.iter().filter(|o| o["status"] == s).count();
    let replayed = outcomes.iter().filter(|o| o["replayed"] == true).count();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for o in &outcomes {
        *codes
            .entry(o["code"].as_str().unwrap_or("-").to_string())
            .or_default() += 1;
    }
    eprintln!("outcomes by code: {codes:?}; replayed {replayed}");
    assert!(status("applied") > 200, "applied: {}", status("applied"));
    assert!(
        codes.get("forbidden").copied().unwrap_or(0) * 4 < outcomes.len(),
        "the teacher mostly marks its own classes: {codes:?}"
    );
    assert!(status("rejected") > 10, "rejected: {}", status("rejected"));
    assert!(replayed > 10, "replayed: {replayed}");
}
