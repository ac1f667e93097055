//! `daftar-agent`: the office agent (ARCHITECTURE.md §6). It keeps a local replica and outbox
//! (client-core) so fees are collected, receipts printed and registers marked with or without
//! the internet, and syncs with the server when it can.

mod console;
mod receipt;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use comfy_table::Table;
use daftar_client_core::client::{office, outbox_file};
use daftar_client_core::client::{ClientError, Store, SyncEngine};
use daftar_client_core::money::{format_money, parse_money};
use daftar_client_core::protocol::{LoginRequest, PaymentMethod};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "daftar-agent",
    version,
    about = "Daftar office agent: works offline, syncs when it can"
)]
struct Cli {
    /// Where replica.db, outbox.db and snapshots/ live.
    #[arg(
        long,
        env = "DAFTAR_AGENT_DIR",
        default_value = "daftar-agent-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Ops per push request (1..=1000).
    #[arg(
        long,
        env = "DAFTAR_PUSH_BATCH",
        default_value_t = 500,
        global = true,
        hide = true
    )]
    push_batch: i64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    Cash,
    BankTransfer,
    Cheque,
    Card,
    MobileMoney,
}

#[derive(Subcommand)]
enum Command {
    /// Log in, enrol this device, and download the school (needs the network once).
    Init {
        #[arg(long)]
        server: String,
        /// The school's slug.
        #[arg(long)]
        school: String,
        #[arg(long)]
        username: String,
        /// Password (else $DAFTAR_PASSWORD, else asked for).
        #[arg(long, env = "DAFTAR_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, default_value = "Office PC")]
        device_name: String,
        /// The code from the authenticator app, for an account with two-factor login (else
        /// $DAFTAR_TWO_FACTOR_CODE, else asked for when the server needs it). Needed once:
        /// the console's offline sign-in on this device uses the password alone.
        #[arg(long, env = "DAFTAR_TWO_FACTOR_CODE", hide_env_values = true)]
        two_factor_code: Option<String>,
    },
    /// Push queued edits and pull changes once.
    Sync,
    /// Keep syncing: on every server poke, every --poll-secs, with backoff when offline.
    Run {
        #[arg(long, default_value_t = 30)]
        poll_secs: u64,
        /// Also serve the office console (see `console`).
        #[arg(long)]
        console: bool,
        /// The console's port on --bind.
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// The console's address: loopback unless you mean otherwise.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// The console's thermal printer: tcp:HOST:PORT or file:PATH (see `console`).
        #[arg(long)]
        printer: Option<console::thermal::PrinterTarget>,
    },
    /// Serve the office console in a browser at http://127.0.0.1:PORT/ (works offline) and
    /// keep syncing in the background.
    Console {
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// Address to listen on: loopback unless you mean otherwise.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        #[arg(long, default_value_t = 30)]
        poll_secs: u64,
        /// Thermal printer for receipts (ESC/POS): tcp:HOST:PORT (network, usually 9100) or
        /// file:PATH (a device such as /dev/usb/lp0).
        #[arg(long)]
        printer: Option<console::thermal::PrinterTarget>,
    },
    /// Queued, applied and rejected edits; last pull; lag behind the server.
    Status,
    /// Check both local databases and repair them (the lifeboat); --rebuild-replica re-downloads.
    Rescue {
        #[arg(long)]
        rebuild_replica: bool,
    },
    /// Search students by name or admission number (offline).
    Students { query: Vec<String> },
    /// Classes on this device (offline).
    Classes,
    /// A family's dues and payments (offline).
    Family { family_id: Uuid },
    /// Record a payment and print its receipt (offline; text, and PDF with --pdf).
    Pay {
        #[arg(long)]
        family: Uuid,
        /// In major units of the school's currency, e.g. 1500 or 1500.50.
        #[arg(long)]
        amount: String,
        #[arg(long, value_enum, default_value = "cash")]
        method: Method,
        #[arg(long)]
        reference: Option<String>,
        /// Also write the receipt as a PDF here.
        #[arg(long)]
        pdf: Option<PathBuf>,
    },
    /// Mark a class register (offline), or --show it.
    Register {
        #[arg(long)]
        class: Uuid,
        /// School-local date, YYYY-MM-DD (default: the school's today, in its time zone).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Code for everyone not listed in --mark (default P). Without --mark or --default the
        /// register is only shown.
        #[arg(long)]
        default: Option<String>,
        /// Exceptions as STUDENT_ID=CODE (repeatable).
        #[arg(long = "mark")]
        marks: Vec<String>,
        /// Office override of a teacher's marks needs a reason.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        show: bool,
    },
    /// Write the edits not yet sent to a JSON file, for an admin when this device was revoked
    /// (issue #17): every pending op with its op id, seq, mutation and arguments, in seq order.
    /// Refuses to overwrite an existing file. The outbox itself is left as it is.
    ExportOutbox {
        #[arg(long)]
        file: PathBuf,
    },
    /// Import a revoked device's unsent edits from the file its `export-outbox` wrote (admin,
    /// issue #17). The server applies them as that device would have (its user, its receipt
    /// series) and each op exactly once, so importing a file twice changes nothing.
    ImportOutbox {
        #[arg(long)]
        file: PathBuf,
    },
    /// Edits the server rejected or merged with conflicts; --resolve OP_ID --note TEXT.
    Rejections {
        #[arg(long)]
        resolve: Option<Uuid>,
        #[arg(long)]
        note: Option<String>,
    },
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away (`| head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DAFTAR_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        let offline = e
            .downcast_ref::<ClientError>()
            .is_some_and(|c| matches!(c, ClientError::Network(_)));
        std::process::exit(if offline { 2 } else { 1 });
    }
}

fn progress(json: bool) -> (ProgressBar, impl FnMut(usize, i64)) {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} pulling: {pos} rows ({per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let b = bar.clone();
    (bar, move |rows: usize, version: i64| {
        b.set_position(rows as u64);
        b.set_message(format!("to server version {version}"));
    })
}

fn open(cli: &Cli) -> anyhow::Result<SyncEngine> {
    let (mut engine, report) = SyncEngine::open(&cli.data_dir)?;
    engine.push_batch = cli.push_batch;
    if let Some(p) = &report.replica_moved_to {
        eprintln!(
            "lifeboat: replica.db was corrupt; moved to {} and will be re-downloaded",
            p.display()
        );
    }
    if let Some((p, n)) = &report.outbox_salvaged {
        eprintln!(
            "lifeboat: outbox.db was corrupt; moved to {}; {n} edit(s) salvaged and queued again",
            p.display()
        );
    }
    Ok(engine)
}

fn print(cli: &Cli, value: serde_json::Value, table: Table) {
    if cli.json {
        println!("{value:#}");
    } else {
        println!("{table}");
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init {
            server,
            school,
            username,
            password,
            device_name,
            two_factor_code,
        } => {
            let password = match password {
                Some(p) => p.clone(),
                None => rpassword::prompt_password("password: ").context("reading the password")?,
            };
            let mut login = LoginRequest {
                school: school.clone(),
                username: username.clone(),
                password,
                device_id: None,
                two_factor_code: two_factor_code.clone(),
            };
            let mut engine = match SyncEngine::init(&cli.data_dir, server, &login, device_name) {
                Err(e) if e.is_two_factor_required() && std::io::stdin().is_terminal() => {
                    eprint!("two-factor code from the authenticator app: ");
                    let mut code = String::new();
                    std::io::stdin()
                        .read_line(&mut code)
                        .context("reading the code")?;
                    login.two_factor_code = Some(code.trim().to_string());
                    SyncEngine::init(&cli.data_dir, server, &login, device_name)?
                }
                Err(e) if e.is_two_factor_required() => anyhow::bail!(
                    "{username} has two-factor login: pass the authenticator app's code with --two-factor-code CODE"
                ),
                other => other?,
            };
            // The enrolling user may sign in to the console offline from now on.
            let me = daftar_client_core::protocol::User {
                id: engine
                    .store
                    .device("user_id")?
                    .unwrap_or_default()
                    .parse()?,
                school_id: Uuid::nil(),
                username: login.username.clone(),
                display_name: engine.store.device("display_name")?.unwrap_or_default(),
                role: serde_json::from_value(json!(engine.store.device("role")?))?,
                roles: match engine.store.device("roles")? {
                    Some(r) => serde_json::from_str(&r)?,
                    None => Vec::new(),
                },
                email: None,
                phone: None,
                active: true,
            };
            console::login::remember(&mut engine.store, &me, &login.password)?;
            let (bar, mut p) = progress(cli.json);
            let report = engine.sync_once(&mut p)?;
            bar.finish_and_clear();
            let series = engine.store.device("receipt_series")?.unwrap_or_default();
            if cli.json {
                println!(
                    "{:#}",
                    json!({ "enrolled": true, "receipt_series": series, "sync": report })
                );
            } else {
                println!(
                    "enrolled: receipts will be numbered {series}-000001 onwards; {} rows downloaded",
                    report.pulled
                );
            }
            Ok(())
        }
        Command::Sync => {
            let mut engine = open(&cli)?;
            let (bar, mut p) = progress(cli.json);
            let r = engine.sync_once(&mut p);
            bar.finish_and_clear();
            match r {
                Ok(report) => {
                    if cli.json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        println!(
                            "pushed {} (applied {}, rejected {}, conflicts {}); pulled {} rows",
                            report.pushed,
                            report.applied,
                            report.rejected,
                            report.conflicts,
                            report.pulled
                        );
                    }
                    Ok(())
                }
                Err(e) => {
                    let pending = engine.store.counts().map(|c| c.pending).unwrap_or(0);
                    Err(anyhow::Error::new(e).context(format!(
                        "sync did not finish; {pending} edit(s) stay queued"
                    )))
                }
            }
        }
        Command::Console {
            port,
            bind,
            poll_secs,
            printer,
        } => {
            let engine = open(&cli)?;
            let poll = Duration::from_secs(*poll_secs);
            std::thread::Builder::new()
                .name("sync".into())
                .spawn(move || {
                    let engine = std::sync::Mutex::new(engine);
                    SyncEngine::run(&engine, Arc::new(AtomicBool::new(false)), poll, |r| {
                        // What the console's sync bar reads: when the server last answered.
                        let attempt = json!({
                            "at": Utc::now(), "ok": r.is_ok(),
                            "error": r.as_ref().err().map(|e| e.to_string()),
                        });
                        if let Ok(mut e) = engine.lock() {
                            let _ = e
                                .store
                                .set_device(console::page::LAST_SYNC, &attempt.to_string());
                        }
                        if let Err(e) = r {
                            eprintln!(
                                "{} sync failed (will retry): {e}",
                                Utc::now().format("%H:%M:%S")
                            );
                        }
                    });
                })
                .context("starting the sync thread")?;
            console::serve(
                &cli.data_dir,
                std::net::SocketAddr::new(*bind, *port),
                printer.clone(),
            )
        }
        Command::Run {
            poll_secs,
            console: with_console,
            port,
            bind,
            printer,
        } => {
            if *with_console {
                let dir = cli.data_dir.clone();
                let addr = std::net::SocketAddr::new(*bind, *port);
                let printer = printer.clone();
                std::thread::Builder::new()
                    .name("console".into())
                    .spawn(move || {
                        if let Err(e) = console::serve(&dir, addr, printer) {
                            eprintln!("console stopped: {e:#}");
                        }
                    })
                    .context("starting the console")?;
            }
            let engine = std::sync::Mutex::new(open(&cli)?);
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            unsafe {
                libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
                libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
            }
            let stop = Arc::new(AtomicBool::new(false));
            let s2 = stop.clone();
            std::thread::spawn(move || loop {
                if STOP.load(Ordering::SeqCst) {
                    s2.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            });
            let json = cli.json;
            SyncEngine::run(
                &engine,
                stop,
                Duration::from_secs(*poll_secs),
                |r| match r {
                    Ok(rep) if rep.pushed > 0 || rep.pulled > 0 => {
                        if json {
                            println!("{}", serde_json::to_string(rep).unwrap_or_default());
                        } else {
                            println!(
                                "{} synced: pushed {}, pulled {}",
                                Utc::now().format("%H:%M:%S"),
                                rep.pushed,
                                rep.pulled
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!(
                        "{} sync failed (will retry): {e}",
                        Utc::now().format("%H:%M:%S")
                    ),
                },
            );
            Ok(())
        }
        Command::ExportOutbox { file } => {
            let mut engine = open(&cli)?;
            let export = engine.outbox_export()?;
            let ops = &export.ops;
            outbox_file::write_export(file, &export)?;
            if cli.json {
                println!("{}", json!({ "file": file, "ops": ops.len() }));
            } else {
                println!(
                    "{} edit(s) not yet sent written to {}",
                    ops.len(),
                    file.display()
                );
            }
            Ok(())
        }
        Command::ImportOutbox { file } => {
            let export = outbox_file::read_export(file)?;
            let engine = open(&cli)?;
            let outcomes = engine.api.import_outbox(&export)?;
            let summary = outbox_file::ImportSummary::of(&outcomes);
            if cli.json {
                println!(
                    "{}",
                    json!({
                        "device_id": export.device_id, "ops": summary.ops,
                        "applied": summary.applied, "conflicts": summary.conflicts,
                        "rejected": summary.rejected, "replayed": summary.replayed,
                        "receipts": summary.receipts,
                    })
                );
            } else {
                println!(
                    "{summary} (from device {} of {}, series {})",
                    export.device_id, export.username, export.receipt_series
                );
            }
            Ok(())
        }
        Command::Status => {
            let mut engine = open(&cli)?;
            let revoked_at = engine.revoked_at()?;
            let counts = engine.store.counts()?;
            let last = engine.store.last_pull()?;
            let replica_version = engine.store.replica_version()?;
            let wedged = engine
                .store
                .ops(None)?
                .iter()
                .filter(|o| o.wedged && o.state == "pending")
                .count();
            let diffs = office::receipt_differences(&mut engine.store)?;
            let server_version = last.map(|l| l.1).unwrap_or(0);
            let value = json!({
                "pending": counts.pending, "applied": counts.applied,
                "rejected": counts.rejected, "conflicts": counts.conflict,
                "needing_attention": counts.needing_attention, "wedged": wedged,
                "last_pull_at": last.map(|l| l.0), "replica_version": replica_version,
                "lag_seconds": last.map(|l| (Utc::now() - l.0).num_seconds()),
                "receipt_differences": diffs, "revoked_at": revoked_at,
            });
            let mut t = Table::new();
            t.set_header(["", ""]);
            if let Some(at) = &revoked_at {
                t.add_row([
                    "REVOKED".to_string(),
                    format!(
                        "this device was revoked (the server said so at {at}); the {} edit(s) not yet sent are kept and can be exported: daftar-agent export-outbox --file FILE",
                        counts.pending
                    ),
                ]);
            }
            t.add_row(["queued edits", &counts.pending.to_string()]);
            t.add_row(["applied", &counts.applied.to_string()]);
            t.add_row(["needing attention", &counts.needing_attention.to_string()]);
            t.add_row(["wedged (server keeps failing)", &wedged.to_string()]);
            t.add_row([
                "last pull".to_string(),
                last.map(|l| {
                    format!(
                        "{} ({}s ago)",
                        l.0.format("%Y-%m-%d %H:%M:%S UTC"),
                        (Utc::now() - l.0).num_seconds()
                    )
                })
                .unwrap_or_else(|| "never".into()),
            ]);
            t.add_row([
                "replica at version".to_string(),
                format!("{replica_version} (server was at {server_version})"),
            ]);
            for d in &diffs {
                t.add_row([
                    "receipt differs".to_string(),
                    format!(
                        "printed {} / server {} (credit {} vs {})",
                        d.printed_receipt_no,
                        d.server_receipt_no,
                        d.printed_to_credit,
                        d.server_to_credit
                    ),
                ]);
            }
            print(&cli, value, t);
            Ok(())
        }
        Command::Rescue { rebuild_replica } => {
            let (mut store, report) = Store::open(&cli.data_dir)?;
            if *rebuild_replica {
                store.reset_replica()?;
            }
            let snap = store.snapshot_outbox()?;
            let value = json!({
                "replica_moved_to": report.replica_moved_to,
                "outbox_salvaged": report.outbox_salvaged.as_ref().map(|(p, n)| json!({"moved_to": p, "ops": n})),
                "replica_reset": rebuild_replica, "snapshot": snap,
            });
            let mut t = Table::new();
            t.set_header(["check", "result"]);
            t.add_row([
                "replica.db".to_string(),
                match (&report.replica_moved_to, rebuild_replica) {
                    (Some(p), _) => format!(
                        "corrupt; moved to {}; re-download on next sync",
                        p.display()
                    ),
                    (None, true) => "emptied; re-download on next sync".into(),
                    (None, false) => "ok".into(),
                },
            ]);
            t.add_row([
                "outbox.db".to_string(),
                match &report.outbox_salvaged {
                    Some((p, n)) => {
                        format!("corrupt; moved to {}; {n} edit(s) salvaged", p.display())
                    }
                    None => "ok".into(),
                },
            ]);
            t.add_row(["snapshot".to_string(), snap.display().to_string()]);
            print(&cli, value, t);
            Ok(())
        }
        Command::Students { query } => {
            let mut engine = open(&cli)?;
            let found = office::search_students(&mut engine.store, &query.join(" "))?;
            let mut t = Table::new();
            t.set_header(["admission no", "name", "grade", "family", "id"]);
            for s in &found {
                t.add_row([
                    s.admission_no.clone(),
                    s.name(),
                    s.grade.clone(),
                    s.family_id.to_string(),
                    s.id.to_string(),
                ]);
            }
            print(&cli, serde_json::to_value(&found)?, t);
            Ok(())
        }
        Command::Classes => {
            let mut engine = open(&cli)?;
            let classes = office::classes(&mut engine.store)?;
            let mut t = Table::new();
            t.set_header(["class", "id"]);
            for c in &classes {
                t.add_row([c.name.clone(), c.id.to_string()]);
            }
            print(&cli, serde_json::to_value(&classes)?, t);
            Ok(())
        }
        Command::Family { family_id } => {
            let mut engine = open(&cli)?;
            let name = office::family_name(&mut engine.store, *family_id)?;
            let dues = office::family_dues(&mut engine.store, *family_id)?;
            let payments = office::family_payments(&mut engine.store, *family_id)?;
            let cur = dues.currency.clone();
            let mut t = Table::new();
            t.set_header(["", "invoice", "due", "line", "owing"]);
            for inv in &dues.invoices {
                for l in &inv.lines {
                    t.add_row([
                        "invoice".to_string(),
                        format!("#{}", inv.invoice_no),
                        l.due_on.to_string(),
                        l.description.clone(),
                        format_money(l.outstanding, &cur),
                    ]);
                }
            }
            for p in &payments {
                t.add_row([
                    if p.offline {
                        "payment (not synced)".to_string()
                    } else {
                        "payment".to_string()
                    },
                    p.receipt_no.clone(),
                    p.received_at.format("%Y-%m-%d").to_string(),
                    p.method.as_str().to_string(),
                    format_money(p.amount, &cur),
                ]);
            }
            t.add_row([
                "total owing",
                "",
                "",
                "",
                &format_money(dues.total_outstanding, &cur),
            ]);
            t.add_row([
                "family credit",
                "",
                "",
                "",
                &format_money(dues.credit_balance, &cur),
            ]);
            t.add_row(["net due", "", "", "", &format_money(dues.net_due, &cur)]);
            if !cli.json {
                println!("{name} ({family_id}) — {cur}");
            }
            print(
                &cli,
                json!({ "family": name, "dues": dues, "payments": payments }),
                t,
            );
            Ok(())
        }
        Command::Pay {
            family,
            amount,
            method,
            reference,
            pdf,
        } => {
            let mut engine = open(&cli)?;
            let currency = office::school(&mut engine.store)?.currency;
            let minor =
                parse_money(amount, &currency).map_err(|m| anyhow::anyhow!("--amount: {m}"))?;
            let method = match method {
                Method::Cash => PaymentMethod::Cash,
                Method::BankTransfer => PaymentMethod::BankTransfer,
                Method::Cheque => PaymentMethod::Cheque,
                Method::Card => PaymentMethod::Card,
                Method::MobileMoney => PaymentMethod::MobileMoney,
            };
            let r = office::record_payment(
                &mut engine.store,
                *family,
                minor,
                method,
                reference.clone(),
                None,
            )?;
            if let Some(path) = pdf {
                let logo = office::school_logo(&mut engine.store)?.map(|(_, bytes)| bytes);
                let tz = console::page::school_tz(&mut engine.store);
                receipt::write_pdf(&r, tz, logo.as_deref(), path)?;
            }
            // Try to send it at once; offline is fine (it stays queued).
            let sent = engine.push().is_ok();
            if cli.json {
                println!("{:#}", json!({ "receipt": r, "sent": sent }));
            } else {
                print!(
                    "{}",
                    receipt::text(&r, console::page::school_tz(&mut engine.store))
                );
                if !sent {
                    println!("(offline: queued; it will be sent when the server is reachable)");
                }
            }
            Ok(())
        }
        Command::Register {
            class,
            date,
            default,
            marks,
            reason,
            show,
        } => {
            let mut engine = open(&cli)?;
            let date = date.unwrap_or_else(|| console::cashier::school_today(&mut engine.store));
            if !*show && (default.is_some() || !marks.is_empty()) {
                let mut exceptions = Vec::new();
                for (i, m) in marks.iter().enumerate() {
                    let Some((s, c)) = m.split_once('=') else {
                        bail!("--mark[{i}] `{m}`: expected STUDENT_ID=CODE");
                    };
                    let s: Uuid = s
                        .parse()
                        .with_context(|| format!("--mark[{i}] `{m}`: student id"))?;
                    exceptions.push((s, c.to_string()));
                }
                office::mark_register(
                    &mut engine.store,
                    *class,
                    date,
                    default.as_deref().unwrap_or("P"),
                    &exceptions,
                    reason.clone(),
                )?;
                let _ = engine.push();
            }
            let lines = office::register(&mut engine.store, *class, date)?;
            let mut t = Table::new();
            t.set_header(["student", "mark", "by", "id"]);
            for l in &lines {
                t.add_row([
                    l.student.clone(),
                    l.code.clone().unwrap_or_else(|| "-".into()),
                    l.source.map(|s| s.as_str()).unwrap_or_default().to_string(),
                    l.student_id.to_string(),
                ]);
            }
            print(&cli, serde_json::to_value(&lines)?, t);
            Ok(())
        }
        Command::Rejections { resolve, note } => {
            let mut engine = open(&cli)?;
            if let Some(op_id) = resolve {
                let Some(note) = note else {
                    bail!("--note: say what was done about it");
                };
                if !engine.store.resolve_op(*op_id)? {
                    bail!(
                        "--resolve {op_id}: no rejected or conflicting edit with that op id here"
                    );
                }
                if let Err(e) = engine.api.resolve_rejection(*op_id, note) {
                    eprintln!("resolved here; the server will not know until it is reachable: {e}");
                }
            }
            let ops = engine.store.ops_needing_attention()?;
            let mut t = Table::new();
            t.set_header(["op id", "edit", "made at", "outcome", "reason"]);
            let mut list = Vec::new();
            for o in &ops {
                let (code, msg) = o
                    .outcome
                    .as_ref()
                    .map(|x| {
                        (
                            x.code.clone().unwrap_or_else(|| "conflict".into()),
                            x.message
                                .clone()
                                .unwrap_or_else(|| format!("{:?}", x.conflicts)),
                        )
                    })
                    .unwrap_or_default();
                t.add_row([
                    o.op.op_id.to_string(),
                    o.op.mutation.clone(),
                    o.op.created_at.format("%Y-%m-%d %H:%M").to_string(),
                    code.clone(),
                    msg.clone(),
                ]);
                list.push(json!({ "op_id": o.op.op_id, "mutation": o.op.mutation, "args": o.op.args,
                                  "created_at": o.op.created_at, "state": o.state, "code": code, "message": msg }));
            }
            print(&cli, json!(list), t);
            Ok(())
        }
    }
}
