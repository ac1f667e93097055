//! Synthetic schools for tests and benchmarks of the bulk paths (roster import, invoice
//! runs): a OneRoster export of any size, and a fee schedule to invoice it.

use chrono::{NaiveDate, Utc};
use daftar_server::audit::Actor;
use daftar_server::ledger::models::FeeScheduleRow;
use daftar_server::ledger::repo as ledger_repo;
use daftar_server::oneroster::import::{import, ImportFailure, ImportOptions};
use daftar_server::oneroster::RosterFiles;
use daftar_server::schema::{classes, fee_schedules, terms};
use diesel::prelude::*;
use uuid::Uuid;

/// A OneRoster 1.1 export of one school (`org`): one school year with one term, a class (and
/// its teacher) per 25 students, a guardian per two students (siblings share one, so each pair
/// is one family), and every student enrolled in one class.
pub fn oneroster_export(org: &str, students: usize) -> RosterFiles {
    let classes = students.div_ceil(25);
    let mut files = RosterFiles::default();
    files.insert(
        "manifest.csv",
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n\
         file.academicSessions,bulk\nfile.classes,bulk\nfile.courses,bulk\n\
         file.enrollments,bulk\nfile.orgs,bulk\nfile.users,bulk\n",
    );
    files.insert(
        "orgs.csv",
        format!("sourcedId,name,type\n{org},School {org},school\n"),
    );
    files.insert(
        "academicSessions.csv",
        "sourcedId,title,type,startDate,endDate,parentSourcedId\n\
         sy,2027-28,schoolYear,2027-04-01,2028-03-31,\n\
         t1,Spring,term,2027-04-01,2027-09-30,sy\n",
    );
    files.insert("courses.csv", "sourcedId,title,grades\nco,General,05\n");
    let mut classes_csv =
        String::from("sourcedId,title,courseSourcedId,schoolSourcedId,termSourcedIds\n");
    let mut users = String::from(
        "sourcedId,role,username,givenName,familyName,identifier,agentSourcedIds,orgSourcedIds\n",
    );
    let mut enrollments = String::from("sourcedId,classSourcedId,userSourcedId,role\n");
    for c in 0..classes {
        classes_csv.push_str(&format!("cl{c},Class {c},co,{org},t1\n"));
        users.push_str(&format!("t{c},teacher,teacher{c},Teacher,No{c},,,{org}\n"));
        enrollments.push_str(&format!("et{c},cl{c},t{c},teacher\n"));
    }
    for g in 0..students.div_ceil(2) {
        users.push_str(&format!(
            "g{g},guardian,guardian{g},Guardian,Fam{g},,,{org}\n"
        ));
    }
    for s in 0..students {
        users.push_str(&format!(
            "s{s},student,pupil{s},Pupil,Fam{},{org}-{s:05},g{},{org}\n",
            s / 2,
            s / 2
        ));
        enrollments.push_str(&format!("es{s},cl{},s{s},student\n", s % classes));
    }
    files.insert("classes.csv", classes_csv);
    files.insert("users.csv", users);
    files.insert("enrollments.csv", enrollments);
    files
}

/// Imports `files` as the CLI does (finding or creating the school by its org, PKR,
/// Asia/Karachi), inside the caller's transaction. Returns the school's id.
///
/// Errors: as [`import`].
pub fn import_roster(conn: &mut PgConnection, files: &RosterFiles) -> Result<Uuid, ImportFailure> {
    let options = ImportOptions {
        school_id: None,
        currency: "PKR".into(),
        timezone: "Asia/Karachi".into(),
        actor: Actor::SYSTEM,
    };
    Ok(import(conn, files, &options)?.school_id)
}

/// The due date of [`schedule_tuition`]'s fee (2027-04-10, in the export's only term).
pub fn tuition_due() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 4, 10).unwrap_or_default()
}

/// Schedules a "Tuition" fee of 150,000 minor units due [`tuition_due`] for every class of
/// `school`'s first term (an [`oneroster_export`] school has one), and returns the term's id.
///
/// Errors: the school has no term, or the database.
pub fn schedule_tuition(conn: &mut PgConnection, school: Uuid) -> QueryResult<Uuid> {
    let term: Uuid = terms::table
        .filter(terms::school_id.eq(school))
        .select(terms::id)
        .first(conn)?;
    let head = ledger_repo::fee_head_named(conn, school, "Tuition")?;
    let class_ids: Vec<Uuid> = classes::table
        .filter(classes::school_id.eq(school))
        .select(classes::id)
        .load(conn)?;
    let schedules: Vec<FeeScheduleRow> = class_ids
        .into_iter()
        .map(|class_id| FeeScheduleRow {
            school_id: school,
            id: Uuid::now_v7(),
            term_id: term,
            class_id,
            fee_head_id: head.id,
            amount: 150_000,
            due_on: tuition_due(),
            created_at: Utc::now(),
        })
        .collect();
    diesel::insert_into(fee_schedules::table)
        .values(&schedules)
        .execute(conn)?;
    Ok(term)
}

/// A benchmark's working directory and migrated database.
pub struct BenchDatabase {
    /// A fresh directory under `/tmp` (mode 0755, so the cluster's OS user can enter it),
    /// removed on drop.
    pub dir: tempfile::TempDir,
    /// The database's URL.
    pub url: String,
    /// The embedded cluster when the benchmark owns one (stopped on drop).
    _cluster: Option<daftar_server::embedded_pg::EmbeddedCluster>,
}

impl BenchDatabase {
    /// The data directory of the benchmark's own cluster (`None` with a `database_url`).
    pub fn pgdata(&self) -> Option<&std::path::Path> {
        self._cluster.as_ref().map(|c| c.pgdata())
    }
}

/// Makes a directory `/tmp/<prefix>…` and a migrated database for a benchmark: `database_url`
/// (an empty database of your own, e.g. for `pg_stat_statements`) or database `bench` in a
/// private, durable embedded cluster under the directory.
///
/// Errors: the directory, the cluster, the connection or a migration failed.
pub fn bench_database(prefix: &str, database_url: Option<&str>) -> anyhow::Result<BenchDatabase> {
    use daftar_server::embedded_pg::{ClusterOptions, EmbeddedCluster};
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in("/tmp")?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let (url, cluster) = match database_url {
        Some(u) => (u.to_string(), None),
        None => {
            let cluster = EmbeddedCluster::start(&ClusterOptions::new(dir.path().join("pg")))?;
            let mut admin = PgConnection::establish(&cluster.url("postgres"))?;
            diesel::sql_query("CREATE DATABASE bench").execute(&mut admin)?;
            (cluster.url("bench"), Some(cluster))
        }
    };
    let mut conn = PgConnection::establish(&url)?;
    daftar_server::db::run_migrations(&mut conn)?;
    Ok(BenchDatabase {
        dir,
        url,
        _cluster: cluster,
    })
}
