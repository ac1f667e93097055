//! The commit-ordered change feed without a per-school lock (issue #16; the argument is in
//! `server::sync::feed`). Several real connections interleave writing transactions in a fixed
//! order — a long one that began first commits last, others commit in between, another
//! school's transaction stays open — and a pull is taken after every step. Every change must
//! arrive exactly once, each row's images in its commit order, and the cursor never goes back.

use std::collections::{BTreeMap, HashSet};

use daftar_client_core::protocol::sync::{Cursor, SyncScope};
use daftar_server::schools::{self, NewSchool};
use daftar_server::sync::{feed, pull};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};

use super::*;

/// Everything a device has been handed so far, pull after pull.
struct Device {
    school: Uuid,
    cursor: String,
    /// (entity, id, version) of every change received: a repeat is a failure.
    seen: HashSet<(String, String, i64)>,
    /// Rows per pull page.
    page: u32,
    /// Per student: the given names received, in order.
    names: BTreeMap<Uuid, Vec<String>>,
    /// The complete cursors' versions, in order.
    versions: Vec<i64>,
}

impl Device {
    /// A device that has pulled the whole school once (a snapshot) and keeps only what comes
    /// after it.
    fn new(conn: &mut PgConnection, school: Uuid) -> Device {
        let mut d = Device {
            school,
            cursor: String::new(),
            page: 5000,
            seen: HashSet::new(),
            names: BTreeMap::new(),
            versions: Vec::new(),
        };
        d.pull(conn);
        d.seen.clear();
        d.names.clear();
        d.page = 2;
        d
    }

    /// Pulls to the end (after the snapshot in pages of 2, so that pages cross the steps'
    /// changes), recording every change; returns the complete cursor's version.
    fn pull(&mut self, conn: &mut PgConnection) -> i64 {
        loop {
            let page = pull::pull(
                conn,
                self.school,
                &SyncScope::School,
                Some(&self.cursor),
                Some(self.page),
            )
            .expect("pull");
            for c in &page.changes {
                assert!(
                    self.seen
                        .insert((c.entity.clone(), c.id.clone(), c.version)),
                    "{}/{} at version {} was handed out twice",
                    c.entity,
                    c.id,
                    c.version
                );
                if c.entity == "students" {
                    let name = c.row.as_ref().expect("image")["given_name"]
                        .as_str()
                        .expect("given_name")
                        .to_string();
                    self.names
                        .entry(c.id.parse().expect("uuid"))
                        .or_default()
                        .push(name);
                }
            }
            let next: Cursor = page.cursor.parse().expect("cursor");
            let prev: Cursor = self.cursor.parse().expect("cursor");
            assert!(next >= prev, "cursor went back from {prev} to {next}");
            self.cursor = page.cursor;
            if !page.has_more {
                let v = next.version;
                if let Some(&last) = self.versions.last() {
                    assert!(v >= last, "complete cursor went back from {last} to {v}");
                }
                self.versions.push(v);
                return v;
            }
        }
    }

    fn names_of(&self, student: Uuid) -> Vec<&str> {
        self.names
            .get(&student)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// A second school, `other`, beside the demo school.
fn other_school(conn: &mut PgConnection) -> daftar_server::tenancy::SchoolRow {
    schools::create_school(
        conn,
        &NewSchool {
            slug: "other".into(),
            name: "Other".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    )
    .expect("other school")
}

fn rename(conn: &mut PgConnection, student: Uuid, name: &str) {
    diesel::sql_query("UPDATE students SET given_name = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(student)
        .bind::<Text, _>(name)
        .execute(conn)
        .expect("rename");
}

#[test]
fn pulls_between_interleaved_commits_see_every_change_once_in_commit_order() {
    let tdb = demo_db();
    let mut setup = tdb.conn();
    let school: IdRow = diesel::sql_query("SELECT id FROM schools WHERE slug = 'demo'")
        .get_result(&mut setup)
        .expect("school");
    let school = school.id;
    let other = other_school(&mut setup);
    let students: Vec<Uuid> = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::school_id.eq(school))
        .order(daftar_server::schema::students::id)
        .select(daftar_server::schema::students::id)
        .limit(4)
        .load(&mut setup)
        .expect("students");
    let (r1, r2, r3, r4) = (students[0], students[1], students[2], students[3]);

    let mut reader = tdb.conn();
    let mut dev = Device::new(&mut reader, school);
    let start = *dev.versions.last().expect("snapshot");

    let (mut long, mut a, mut b, mut elsewhere) = (tdb.conn(), tdb.conn(), tdb.conn(), tdb.conn());

    // 1. Another school's transaction opens and stays open to the end: it must not hold this
    //    school's feed back.
    elsewhere.batch_execute("BEGIN").expect("begin");
    diesel::sql_query("UPDATE schools SET name = 'Other, renamed' WHERE id = $1")
        .bind::<SqlUuid, _>(other.id)
        .execute(&mut elsewhere)
        .expect("write other school");
    rename(&mut a, r4, "Four-a");
    let v = dev.pull(&mut reader);
    assert_eq!(dev.names_of(r4), ["Four-a"], "held back by another school");
    assert!(v > start);

    // 2. The long transaction begins first (it takes the lower transaction id) and writes R1.
    long.batch_execute("BEGIN").expect("begin");
    feed::register_writer(&mut long, school).expect("register");
    rename(&mut long, r1, "One-long");
    let long_version = feed::commit_version(&mut long).expect("xid");
    dev.pull(&mut reader);
    assert!(
        dev.names_of(r1).is_empty(),
        "an uncommitted change was handed out"
    );

    // 3. Others commit while it is open: R2 twice (b after a), R3 by a.
    rename(&mut a, r2, "Two-a");
    rename(&mut b, r2, "Two-b");
    rename(&mut a, r3, "Three-a");
    let held = dev.pull(&mut reader);
    assert!(
        held < long_version,
        "the watermark ({held}) passed the open transaction ({long_version})"
    );
    assert!(
        dev.names_of(r2).is_empty() && dev.names_of(r3).is_empty(),
        "a change above an open transaction of the school was handed out before it"
    );

    // 4. The long transaction now also rewrites R3, after a's commit, and commits last: R3's
    //    last commit is the long one although its transaction id is lower.
    rename(&mut long, r3, "Three-long");
    long.batch_execute("COMMIT").expect("commit");
    let after = dev.pull(&mut reader);
    assert!(after >= long_version);
    assert_eq!(dev.names_of(r1), ["One-long"]);
    assert_eq!(
        dev.names_of(r2),
        ["Two-b"],
        "R2 arrives once, at its last commit"
    );
    assert_eq!(
        dev.names_of(r3),
        ["Three-long"],
        "R3's last commit is the long one"
    );

    // 5. More commits after, R2 again: it comes in commit order after its earlier image.
    rename(&mut b, r2, "Two-c");
    dev.pull(&mut reader);
    assert_eq!(dev.names_of(r2), ["Two-b", "Two-c"]);
    elsewhere.batch_execute("COMMIT").expect("commit");
    dev.pull(&mut reader);

    // Nothing was skipped: what the device holds equals a fresh snapshot of the same rows.
    let mut fresh = Device::new(&mut reader, school);
    fresh.cursor = String::new();
    fresh.page = 5000;
    fresh.pull(&mut reader);
    for (s, want) in [
        (r1, "One-long"),
        (r2, "Two-c"),
        (r3, "Three-long"),
        (r4, "Four-a"),
    ] {
        assert_eq!(dev.names_of(s).last().copied(), Some(want));
        assert_eq!(fresh.names_of(s), [want]);
    }
}

#[test]
fn a_transaction_may_log_the_rows_of_one_school_only() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let other = other_school(&mut conn);
    let err = conn
        .transaction(|c| {
            diesel::sql_query("UPDATE schools SET name = name || '.' WHERE slug = 'demo'")
                .execute(c)?;
            diesel::sql_query("UPDATE schools SET name = name || '.' WHERE id = $1")
                .bind::<SqlUuid, _>(other.id)
                .execute(c)
        })
        .expect_err("two schools in one transaction");
    assert!(err.to_string().contains("one school only"), "{err}");
}
