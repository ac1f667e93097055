//! The tenant rules of ARCHITECTURE.md §3, read from the live catalog: every tenant table has
//! `school_id` leading its primary key and every unique constraint/index, and every foreign key
//! between tenant tables includes `school_id` on both sides.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::*;

#[derive(QueryableByName, Debug)]
struct Violation {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    problem: String,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    ok: bool,
}

const CHECK: &str = r#"
WITH tenant AS (
    SELECT c.oid, c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
      -- Not tenant rows: the tenants themselves, Diesel's bookkeeping, and login attempts,
      -- which are throttled before (or without) any school being known (ARCHITECTURE.md §7),
      -- and the hash of the live functions as last applied (server/sql/functions.sql).
      AND c.relname NOT IN ('schools', '__diesel_schema_migrations', 'login_throttles',
                            'sql_functions')
),
school_col AS (
    SELECT t.oid, a.attnum FROM tenant t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'school_id' AND NOT a.attisdropped
)
SELECT t.relname::text AS table_name, 'has no school_id column' AS problem
FROM tenant t WHERE NOT EXISTS (SELECT 1 FROM school_col s WHERE s.oid = t.oid)
UNION ALL
SELECT t.relname::text, 'primary key does not start with school_id'
FROM tenant t JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'p'
JOIN school_col s ON s.oid = t.oid
WHERE k.conkey[1] <> s.attnum
UNION ALL
SELECT t.relname::text, 'has no primary key'
FROM tenant t WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = t.oid AND k.contype = 'p')
UNION ALL
SELECT t.relname::text, 'unique index ' || ic.relname || ' does not include school_id'
FROM tenant t JOIN pg_index i ON i.indrelid = t.oid AND i.indisunique
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN school_col s ON s.oid = t.oid
WHERE NOT (s.attnum = ANY (i.indkey::int2[]))
UNION ALL
SELECT t.relname::text, 'foreign key ' || k.conname || ' to tenant table ' || rt.relname || ' does not include school_id on both sides'
FROM tenant t JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'f'
JOIN tenant rt ON rt.oid = k.confrelid
JOIN school_col s ON s.oid = t.oid
JOIN school_col rs ON rs.oid = rt.oid
WHERE NOT EXISTS (
    SELECT 1 FROM unnest(k.conkey, k.confkey) AS p(col, refcol)
    WHERE p.col = s.attnum AND p.refcol = rs.attnum
)
ORDER BY 1, 2
"#;

#[test]
fn tenant_tables_follow_the_distribution_rules() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let violations: Vec<Violation> = diesel::sql_query(CHECK)
        .load(&mut conn)
        .expect("catalog query");
    assert!(
        violations.is_empty(),
        "tenant rule violations: {violations:#?}"
    );

    // The check must be able to fail: a table that breaks the rules is caught.
    diesel::sql_query(
        "CREATE TABLE rogue (school_id uuid NOT NULL, id uuid PRIMARY KEY, code text UNIQUE)",
    )
    .execute(&mut conn)
    .expect("create rogue");
    let violations: Vec<Violation> = diesel::sql_query(CHECK)
        .load(&mut conn)
        .expect("catalog query");
    let rogue: Vec<&str> = violations
        .iter()
        .filter(|v| v.table_name == "rogue")
        .map(|v| v.problem.as_str())
        .collect();
    assert_eq!(
        rogue.len(),
        3,
        "{rogue:?}: PK, the PK's own unique index, and the code index"
    );
}

#[test]
fn every_id_is_a_uuid_and_every_instant_a_timestamptz() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let ok: Flag = diesel::sql_query(
        "SELECT NOT EXISTS (
            SELECT 1 FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'
              AND ((column_name = 'id' OR column_name LIKE '%\\_id' ESCAPE '\\') AND column_name NOT IN ('sourced_id', 'entity_id') AND data_type <> 'uuid'
                   OR column_name LIKE '%\\_at' ESCAPE '\\' AND data_type <> 'timestamp with time zone')
        ) AS ok",
    )
    .get_result(&mut conn)
    .expect("query");
    assert!(ok.ok, "ids must be uuid and *_at columns timestamptz");
}

#[derive(QueryableByName, Debug)]
struct LoggedRows {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    checked: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    missing: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    different: i64,
}

/// The scope rule (which devices see a row, ARCHITECTURE.md §6) and the row images are
/// written once in `log_image` (migration 000009), which deletes use row by row, and again,
/// set-wise for speed, in 000008's `log_change_rows` (journal entries and lines, allocations,
/// payments, registers, marks) and in `log_statement_rows`' invoice-line branch. For every row
/// the demo seed writes, its change-log entry must carry exactly what `log_image` gives the
/// live row, so a tombstone reaches the same devices as the rows it deletes.
#[test]
fn every_logged_row_carries_the_scope_and_image_log_image_gives_it() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    daftar_tests::seed_demo(&mut conn, PW);
    #[derive(QueryableByName)]
    struct Entity {
        #[diesel(sql_type = Text)]
        entity: String,
    }
    let entities: Vec<String> =
        diesel::sql_query("SELECT DISTINCT entity FROM change_log ORDER BY entity")
            .load::<Entity>(&mut conn)
            .expect("entities")
            .into_iter()
            .map(|e| e.entity)
            .collect();
    let mut checked = Vec::new();
    for table in &entities {
        assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let rows: LoggedRows = diesel::sql_query(format!(
            "SELECT count(*) AS checked, \
                    count(*) FILTER (WHERE c.row_key IS NULL) AS missing, \
                    count(*) FILTER (WHERE c.row_key IS NOT NULL AND \
                        (c.deleted, c.everyone, c.class_id, c.family_id, c.student_id, c.row) \
                        IS DISTINCT FROM (false, k.everyone, k.cls, k.fam, k.stu, k.img)) AS different \
             FROM {table} r \
             CROSS JOIN LATERAL log_image('{table}', to_jsonb(r)) k \
             LEFT JOIN change_log c \
               ON c.school_id = k.school AND c.entity = '{table}' AND c.row_key = k.rid"
        ))
        .get_result(&mut conn)
        .expect("compare");
        assert_eq!(
            (rows.missing, rows.different),
            (0, 0),
            "{table}: {rows:?} (rows not logged, rows logged with another scope or image)"
        );
        checked.push((table.as_str(), rows.checked));
    }
    for copy in [
        "journal_entries",
        "journal_lines",
        "allocations",
        "payments",
        "registers",
        "attendance_marks",
        "invoice_lines",
    ] {
        assert!(
            checked.iter().any(|(t, n)| *t == copy && *n > 0),
            "the seed wrote no {copy} to compare: {checked:?}"
        );
    }
}

#[derive(QueryableByName, Debug)]
struct FunctionDef {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    def: String,
}

/// Name → definition of every function in `schema` (Diesel's own helpers aside), with the
/// schema's name written `public`.
fn functions_in(
    conn: &mut PgConnection,
    schema: &str,
) -> std::collections::BTreeMap<String, String> {
    diesel::sql_query(format!(
        "SELECT p.proname::text AS name, pg_get_functiondef(p.oid) AS def
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = '{schema}' AND p.proname NOT LIKE 'diesel\\_%' ESCAPE '\\'"
    ))
    .load::<FunctionDef>(conn)
    .expect("functions")
    .into_iter()
    .map(|f| (f.name, f.def.replace(&format!("{schema}."), "public.")))
    .collect()
}

#[test]
fn the_live_functions_are_this_file() {
    // Upgraded: the template went through every migration, dead function versions included.
    // Fresh: `server/sql/functions.sql` alone, applied to an empty schema.
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let fresh_sql = daftar_server::db::FUNCTIONS_SQL.replace("public.", "fresh.");
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        &format!("CREATE SCHEMA fresh; {fresh_sql}"),
    )
    .expect("the file applies on its own");
    let migrated = functions_in(&mut conn, "public");
    let fresh = functions_in(&mut conn, "fresh");
    assert!(fresh.len() >= 11, "{:?}", fresh.keys());
    assert_eq!(
        migrated.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "the database has exactly the file's functions (no dead versions, none outside it)"
    );
    for (name, def) in &fresh {
        assert_eq!(
            &migrated[name], def,
            "function {name} differs from the file"
        );
    }

    // The comparison can fail: a body changed outside the file is caught.
    diesel::sql_query(
        "CREATE OR REPLACE FUNCTION public.change_version() RETURNS bigint
         LANGUAGE sql AS $$ SELECT 0::bigint $$",
    )
    .execute(&mut conn)
    .expect("replace");
    assert_ne!(
        functions_in(&mut conn, "public")["change_version"],
        fresh["change_version"]
    );
}

#[test]
fn every_change_log_row_is_its_synced_type() {
    use daftar_client_core::protocol::synced::{SyncEntity, SyncedRow};
    use daftar_client_core::protocol::{
        AddFineRequest, DiscountKind, GrantDiscountRequest, PaymentMethod, RecordPaymentRequest,
        RefundRequest,
    };
    use daftar_server::audit::Actor;
    use daftar_server::ledger::{adjustments, payments, service};

    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    daftar_tests::seed_demo(&mut conn, PW);
    #[derive(QueryableByName)]
    struct Ids {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        school: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        admin: uuid::Uuid,
    }
    let ids: Ids = diesel::sql_query(
        "SELECT s.id AS school, u.id AS admin FROM schools s JOIN users u ON u.school_id = s.id
         WHERE s.slug = 'demo' AND u.username = 'admin'",
    )
    .get_result(&mut conn)
    .expect("demo");
    let (school, actor) = (ids.school, Actor::SYSTEM);
    // What the demo does not write: a discount, a fine, a refund, cash resolved out of
    // Suspense, a student–guardian link.
    let families: Vec<uuid::Uuid> = daftar_server::schema::families::table
        .filter(daftar_server::schema::families::school_id.eq(school))
        .select(daftar_server::schema::families::id)
        .load(&mut conn)
        .expect("families");
    let today =
        daftar_server::calendar::local_date(&mut conn, school, chrono::Utc::now()).expect("today");
    conn.transaction::<_, daftar_server::errors::ApiError, _>(|c| {
        let owing = families
            .iter()
            .find_map(|f| {
                let d = service::family_dues(c, school, *f).ok()?;
                let line = d.invoices.first()?.lines.first()?.clone();
                Some((*f, d.invoices[0].invoice_id, line))
            })
            .expect("a family owes");
        adjustments::grant_discount(
            c,
            school,
            actor,
            owing.2.invoice_line_id,
            &GrantDiscountRequest {
                id: uuid::Uuid::now_v7(),
                kind: DiscountKind::Waiver,
                amount: Some(1),
                percent_bp: None,
                reason: "typed-row test".into(),
                approved_by: ids.admin,
            },
        )?;
        adjustments::add_fine(
            c,
            school,
            actor,
            owing.1,
            &AddFineRequest {
                id: uuid::Uuid::now_v7(),
                amount: 100,
                reason: "late".into(),
                due_on: None,
            },
            owing.2.due_on.max(today) + chrono::Duration::days(400),
        )?;
        let with_credit = families
            .iter()
            .find(|f| service::credit_balance(c, school, **f).unwrap_or(0) > 0)
            .copied()
            .expect("a family with credit");
        adjustments::refund(
            c,
            school,
            actor,
            with_credit,
            &RefundRequest {
                id: uuid::Uuid::now_v7(),
                amount: 1,
                method: PaymentMethod::Cash,
                reason: "typed-row test".into(),
            },
        )?;
        let unknown = RecordPaymentRequest {
            id: uuid::Uuid::now_v7(),
            family_id: None,
            amount: 500,
            currency: "PKR".into(),
            method: PaymentMethod::Cash,
            reference: None,
            received_at: None,
            cashier_id: None,
        };
        payments::record_payment(c, school, actor, &unknown)?;
        service::assign_suspense(c, school, actor, unknown.id, owing.0)?;
        diesel::sql_query(
            "INSERT INTO student_guardians (school_id, student_id, guardian_id)
             SELECT s.school_id, s.id, g.id FROM students s
             JOIN guardians g ON g.school_id = s.school_id AND g.family_id = s.family_id
             WHERE s.school_id = $1 LIMIT 1 ON CONFLICT DO NOTHING",
        )
        .bind::<diesel::sql_types::Uuid, _>(school)
        .execute(c)?;
        Ok(())
    })
    .expect("the rows the demo lacks");

    #[derive(QueryableByName)]
    struct Logged {
        #[diesel(sql_type = Text)]
        entity: String,
        #[diesel(sql_type = Text)]
        row_key: String,
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        row: serde_json::Value,
    }
    let rows: Vec<Logged> = diesel::sql_query(
        "SELECT entity, row_key, row FROM change_log WHERE NOT deleted ORDER BY entity, row_key",
    )
    .load(&mut conn)
    .expect("change log");
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for r in rows {
        let Some(entity) = SyncEntity::parse(&r.entity) else {
            failures.push(format!("{}: not a SyncEntity", r.entity));
            continue;
        };
        seen.insert(entity);
        if let Err(e) = SyncedRow::parse(entity, r.row) {
            failures.push(format!("{} {}: {e}", r.entity, r.row_key));
        }
    }
    failures.dedup_by(|a, b| a.split(' ').next() == b.split(' ').next());
    assert!(
        failures.is_empty(),
        "rows that are not their type:\n{}",
        failures.join("\n")
    );
    let unseen: Vec<_> = SyncEntity::ALL
        .iter()
        .filter(|e| !seen.contains(e))
        .collect();
    assert!(
        unseen.is_empty(),
        "every entity was checked; not written: {unseen:?}"
    );

    // The logged tables are exactly the synced entities.
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let logged: std::collections::BTreeSet<String> = diesel::sql_query(
        "SELECT DISTINCT tgrelid::regclass::text AS name FROM pg_trigger WHERE tgname LIKE 'log\\_change%' ESCAPE '\\'",
    )
    .load::<Table>(&mut conn)
    .expect("triggers")
    .into_iter()
    .map(|t| t.name)
    .collect();
    let declared: std::collections::BTreeSet<String> = SyncEntity::ALL
        .iter()
        .map(|e| e.as_str().to_string())
        .collect();
    assert_eq!(logged, declared);
}

/// Issue #17's roles migration keeps every existing user's role: a database from before it
/// (the later migrations reverted down to it, which exercises their `down.sql` too) with a
/// user of each role is migrated again, and each user holds exactly the role they had.
#[test]
fn the_roles_migration_keeps_every_existing_users_role() {
    use diesel_migrations::MigrationHarness;
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    loop {
        let reverted = conn
            .revert_last_migration(daftar_server::db::MIGRATIONS)
            .expect("revert");
        if reverted.to_string() == "20261208000018" {
            break;
        }
    }
    let school = daftar_server::schools::create_school(
        &mut conn,
        &daftar_server::schools::NewSchool {
            slug: "before-roles".into(),
            name: "Before roles".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    );
    // create_school writes only `schools` and its accounts; the users are written as the
    // old schema had them, with the one `role` column.
    let school = school.expect("school").id;
    for role in ["admin", "accountant", "teacher", "parent"] {
        diesel::sql_query(
            "INSERT INTO users (school_id, id, username, display_name, role)
             VALUES ($1, gen_random_uuid(), $2, $2, $2)",
        )
        .bind::<diesel::sql_types::Uuid, _>(school)
        .bind::<Text, _>(role)
        .execute(&mut conn)
        .expect("a user of the old schema");
    }
    daftar_server::db::run_migrations(&mut conn).expect("migrate again");
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Held {
        #[diesel(sql_type = Text)]
        username: String,
        #[diesel(sql_type = Text)]
        role: String,
    }
    let held: Vec<Held> = diesel::sql_query(
        "SELECT u.username, r.role FROM users u
           JOIN user_roles r ON r.school_id = u.school_id AND r.user_id = u.id
         WHERE u.school_id = $1 ORDER BY u.username, r.role",
    )
    .bind::<diesel::sql_types::Uuid, _>(school)
    .load(&mut conn)
    .expect("roles");
    let expected: Vec<Held> = ["accountant", "admin", "parent", "teacher"]
        .into_iter()
        .map(|r| Held {
            username: r.into(),
            role: r.into(),
        })
        .collect();
    assert_eq!(held, expected);
}
