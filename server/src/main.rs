//! `daftar-server`: `serve`, `migrate`, `demo`, `import-oneroster`, `create-school`,
//! `create-admin`, `compact-change-log`. With no `DATABASE_URL` the server owns an embedded PostgreSQL cluster under
//! the data directory, started at launch and stopped on exit (Ctrl-C / SIGTERM).

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use daftar_client_core::protocol::Role;
use daftar_server::app::{build_app, AppState};
use daftar_server::attendance::notify::{dispatch_pending, LogProvider};
use daftar_server::config::{AuthConfig, Cli, Command, ServeArgs};
use daftar_server::db::{build_pool, run_migrations, Db};
use daftar_server::embedded_pg::{ClusterOptions, EmbeddedCluster};
use daftar_server::oneroster::import::{import, ImportFailure, ImportOptions};
use daftar_server::oneroster::RosterFiles;
use daftar_server::sync::events::Pokes;
use daftar_server::{audit::Actor, auth::password, demo, schools};
use diesel::Connection;
use tracing_subscriber::EnvFilter;

/// Bounds glibc's malloc arenas to the number of CPUs (glibc's default is eight a CPU) unless
/// the operator set `MALLOC_ARENA_MAX`. Memory freed on one thread is reused by the next
/// request only within its arena: with many arenas each large import's peak stayed resident
/// beside the last one's (a re-import of 50,000 students: 304 MiB peak, 250 MiB with this;
/// BENCHMARKS.md, "Spreadsheet admissions").
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cpus.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other
        // thread exists, and takes no pointers (glibc mallopt(3)).
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

fn main() -> ExitCode {
    bound_malloc_arenas();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The database in use: a URL, and the embedded cluster when we own one (dropped = stopped).
struct Database {
    url: String,
    _cluster: Option<EmbeddedCluster>,
}

fn database(cli: &Cli) -> anyhow::Result<Database> {
    if let Some(url) = &cli.database_url {
        return Ok(Database {
            url: url.clone(),
            _cluster: None,
        });
    }
    let dir = cli.data_dir.join("postgres");
    let cluster = EmbeddedCluster::start(&ClusterOptions::new(&dir))?;
    if let Some(elsewhere) = cluster.relocated() {
        eprintln!(
            "PostgreSQL's OS user cannot enter {}, so the embedded cluster lives in {} \
             (recorded in {}/{})",
            dir.display(),
            elsewhere.display(),
            dir.display(),
            daftar_server::embedded_pg::LOCATION_FILE
        );
    }
    eprintln!(
        "embedded PostgreSQL running on 127.0.0.1:{}, data in {}",
        cluster.port(),
        cluster.pgdata().display()
    );
    let admin_url = cluster.url("postgres");
    let mut conn = diesel::PgConnection::establish(&admin_url)
        .context("connecting to the embedded PostgreSQL")?;
    use diesel::RunQueryDsl;
    let exists: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM pg_database WHERE datname = 'daftar')",
    ))
    .get_result(&mut conn)?;
    if exists == 0 {
        diesel::sql_query("CREATE DATABASE daftar").execute(&mut conn)?;
    }
    Ok(Database {
        url: cluster.url("daftar"),
        _cluster: Some(cluster),
    })
}

fn connect(db: &Database, size: u32, push_limit: Option<u32>) -> anyhow::Result<Db> {
    let pool = build_pool(&db.url, size)?;
    let mut conn = pool.get().context("connecting to PostgreSQL")?;
    let applied = run_migrations(&mut conn)?;
    for m in &applied {
        tracing::info!(migration = %m, "applied");
    }
    let limit = push_limit.unwrap_or_else(|| Db::default_push_limit(size));
    Ok(Db::with_push_limit(pool, limit))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let database = database(&cli)?;
    match &cli.command {
        Command::Migrate => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            let applied = run_migrations(&mut conn)?;
            println!("{} migration(s) applied; schema is current", applied.len());
            Ok(())
        }
        Command::Serve(args) => {
            let db = connect(&database, args.pool_size, args.push_limit)?;
            serve(args, db, &cli.data_dir, &database.url)
        }
        Command::Demo(args) => {
            let db = connect(&database, args.serve.pool_size, args.serve.push_limit)?;
            let mut conn = db.pool().get()?;
            if let Some(dir) = &args.oneroster {
                let files = RosterFiles::from_dir(dir)?;
                let report = import_files(&mut conn, &files)?;
                println!(
                    "seeded from OneRoster export {}: {} users",
                    dir.display(),
                    report.users
                );
            } else {
                let fixed = std::env::var("DAFTAR_DEMO_PASSWORD").ok();
                let logins = demo::seed(&mut conn, fixed.as_deref(), &password::hash)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if logins.is_empty() {
                    println!("demo school `{}` already seeded; reusing it (passwords were printed when it was created)", demo::DEMO_SLUG);
                } else {
                    println!(
                        "demo school `{}` seeded: {} students in {} families. Logins (shown once):",
                        demo::DEMO_SLUG,
                        demo::STUDENTS,
                        demo::FAMILIES
                    );
                    for l in &logins {
                        println!(
                            "  {:<10} school=demo username={:<11} password={}",
                            l.role.as_str(),
                            l.username,
                            l.password
                        );
                    }
                }
            }
            drop(conn);
            serve(&args.serve, db, &cli.data_dir, &database.url)
        }
        Command::ImportOneroster { dir, json } => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            let files = RosterFiles::from_dir(dir)?;
            let report = import_files(&mut conn, &files)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for w in &report.warnings {
                    println!("warning: {} line {}: {}", w.file, w.line, w.message);
                }
                if report.is_unchanged() {
                    println!("no changes: the database already matches this export");
                } else {
                    println!(
                        "imported: {} school, {} terms, {} classes, {} users, {} enrollments, {} deactivated",
                        report.schools, report.terms, report.classes, report.users, report.enrollments, report.deactivated
                    );
                }
            }
            Ok(())
        }
        Command::ImportAdmissions {
            file,
            school,
            sheet,
            commit,
            no_phone_grouping,
            json,
        } => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            import_admissions(
                &mut conn,
                file,
                school,
                sheet.as_deref(),
                *commit,
                !*no_phone_grouping,
                *json,
            )
        }
        Command::CreateSchool {
            slug,
            name,
            currency,
            timezone,
            max_amount,
        } => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            let new = schools::NewSchool {
                slug: slug.clone(),
                name: name.clone(),
                currency: currency.clone(),
                timezone: timezone.clone(),
            };
            let school = conn
                .transaction(|c| {
                    let school = schools::create_school(c, &new)?;
                    if let Some(max) = max_amount {
                        schools::set_max_amount(c, school.id, *max)?;
                    }
                    Ok::<_, daftar_server::errors::ApiError>(school)
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created school `{}` ({})", school.slug, school.id);
            Ok(())
        }
        Command::CreateAdmin {
            school,
            username,
            display_name,
        } => {
            let password = match std::env::var("DAFTAR_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("password (first line of standard input):");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            password::validate("password", &password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = password::hash(&password)?;
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            let user = conn
                .transaction(|c| {
                    let s = schools::school_by_slug(c, school)?;
                    schools::create_user(c, s.id, username, display_name, Role::Admin, Some(hash))
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created admin `{}` ({}) in school `{school}`",
                user.username, user.id
            );
            Ok(())
        }
        Command::ApplyLateFines { school } => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            let all = schools::all_schools(&mut conn)?;
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|s| school.as_ref().is_none_or(|slug| &s.slug == slug))
                .collect();
            if chosen.is_empty() {
                anyhow::bail!("no school `{}`", school.as_deref().unwrap_or_default());
            }
            for s in chosen {
                let runs = conn
                    .transaction(|c| {
                        daftar_server::ledger::late_fines::apply_all(
                            c,
                            s.id,
                            daftar_server::audit::Actor::SYSTEM,
                        )
                    })
                    .map_err(|e| anyhow::anyhow!("{}: {e}", s.slug))?;
                for (rule, run) in runs {
                    println!(
                        "{}: {rule}: fined {} invoice(s) of {} family(ies), {} minor units, on {}",
                        s.slug, run.invoices, run.families, run.amount, run.on
                    );
                }
            }
            Ok(())
        }
        Command::CompactChangeLog { retention_days } => {
            let pool = build_pool(&database.url, 1)?;
            let mut conn = pool.get()?;
            run_migrations(&mut conn)?;
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(*retention_days));
            let all = schools::all_schools(&mut conn)?;
            println!("compacting the change log of {} school(s)", all.len());
            for school in all {
                let done = conn.transaction(|c| {
                    daftar_server::sync::compaction::compact(c, school.id, before)
                })?;
                println!(
                    "{}: {} tombstone(s) older than {retention_days} days removed; horizon {}",
                    school.slug, done.removed, done.horizon
                );
            }
            Ok(())
        }
    }
}

fn import_files(
    conn: &mut diesel::PgConnection,
    files: &RosterFiles,
) -> anyhow::Result<daftar_client_core::protocol::ImportReport> {
    let options = ImportOptions {
        school_id: None,
        currency: "USD".into(),
        timezone: "UTC".into(),
        actor: Actor::SYSTEM,
    };
    conn.transaction::<_, ImportFailure, _>(|c| import(c, files, &options))
        .map_err(|e| anyhow::anyhow!("import failed, nothing was written: {e}"))
}

/// `daftar-server import-admissions`: the same run as `POST /api/v1/imports/admissions`, as
/// the system actor; prints each row with an error (sheet, row, column) and the counts.
fn import_admissions(
    conn: &mut diesel::PgConnection,
    file: &Path,
    slug: &str,
    sheet: Option<&str>,
    commit: bool,
    group_by_phone: bool,
    json: bool,
) -> anyhow::Result<()> {
    use daftar_server::admissions::{self, AdmissionsFailure, AdmissionsRun, Format};
    let name = file.display().to_string();
    let format = Format::from_file_name(&name)
        .with_context(|| format!("{name}: the file name must end in .xlsx, .ods or .csv"))?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {name}"))?;
    let school_id = schools::school_by_slug(conn, slug)
        .map_err(|e| anyhow::anyhow!("school {slug:?}: {e}"))?
        .id;
    let input = AdmissionsRun {
        school_id,
        actor: Actor::SYSTEM,
        bytes: &bytes,
        format,
        file_name: &name,
        sheet,
        group_by_phone,
        commit,
    };
    let preview = if commit {
        conn.transaction::<_, AdmissionsFailure, _>(|c| admissions::run(c, &input))
    } else {
        admissions::run(conn, &input)
    };
    let preview = match preview {
        Ok(p) => p,
        Err(AdmissionsFailure::HasErrors(p)) => {
            print_admission_errors(&p);
            anyhow::bail!("{} row(s) have errors; nothing was written", p.counts.error);
        }
        Err(e) => anyhow::bail!("{e}"),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
        return Ok(());
    }
    for w in &preview.warnings {
        println!("warning: {w}");
    }
    print_admission_errors(&preview);
    for g in preview
        .families
        .iter()
        .filter(|g| g.admission_nos.len() > 1)
    {
        println!(
            "family {} ({:?}): {}",
            g.family_name,
            g.grouped_by,
            g.admission_nos.join(", ")
        );
    }
    let c = preview.counts;
    println!(
        "{}: {} new, {} updated, {} unchanged, {} with errors; {} new families, {} new guardians",
        if preview.committed {
            "imported"
        } else {
            "preview (nothing written; add --commit)"
        },
        c.new,
        c.updated,
        c.unchanged,
        c.error,
        c.new_families,
        c.new_guardians
    );
    Ok(())
}

fn print_admission_errors(p: &daftar_client_core::protocol::AdmissionsPreview) {
    for e in p.rows.iter().flat_map(|r| r.errors.iter()) {
        println!(
            "error: sheet {}, row {}, column {} ({}): {}",
            e.sheet, e.row, e.column, e.header, e.message
        );
    }
}

fn jwt_secret(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &args.jwt_secret {
        anyhow::ensure!(s.len() >= 32, "DAFTAR_JWT_SECRET must be at least 32 bytes");
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(s.trim().as_bytes().to_vec());
    }
    use rand::RngCore;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(data_dir)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    Ok(secret.into_bytes())
}

fn serve(args: &ServeArgs, db: Db, data_dir: &Path, database_url: &str) -> anyhow::Result<()> {
    let notify_db = db.clone();
    let pokes = Pokes::default();
    // Stopped (dropped) when serving ends, before the caller stops an embedded cluster.
    let _listener = pokes.listen(database_url.to_string());
    let state = AppState {
        db,
        auth: AuthConfig::new(jwt_secret(args, data_dir)?),
        pokes,
        invoice_runs: Default::default(),
    };
    let bind = args.bind.clone();
    let workers = args.workers;
    actix_web::rt::System::new().block_on(async move {
        let mut server = actix_web::HttpServer::new(move || build_app(state.clone()))
            .bind(&bind)
            .with_context(|| format!("binding {bind}"))?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        eprintln!("listening on http://{bind} (API docs at http://{bind}/docs/); Ctrl-C stops");
        // Drain the guardian-notification outbox every few seconds (log provider by default).
        let dispatcher = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                let sent = notify_db
                    .run(|conn| {
                        dispatch_pending(conn, &LogProvider, 200)
                            .map_err(|e| daftar_server::errors::ApiError::Internal(e.into()))
                    })
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "notification dispatch failed; will retry");
                }
            }
        });
        let result = server.run().await.context("HTTP server");
        dispatcher.abort();
        result
    })?;
    eprintln!("HTTP server stopped");
    Ok(())
}
