//! A deterministic, seeded fault-injection simulation of offline sync (ARCHITECTURE.md §6, in
//! the style of TigerBeetle's VOPR): office agents and a teacher make random edits while the
//! server goes away and comes back, requests are lost or sent twice, and clients are killed
//! between any two steps — before a local commit, after it, after the server committed but
//! before the acknowledgement was stored. When the faults heal, the invariants must hold:
//!
//! 1. every locally committed op was decided by the server exactly once (applied, or rejected
//!    with a stored reason) — never absent;
//! 2. no payment exists twice, and every queued payment exists once;
//! 3. every replica equals the server (digest at the same version);
//! 4. every outbox drained;
//! 5. the journal balances.
//!
//! The seed fixes every choice the simulation makes; `daftar-sim --seed N` replays one.
//! (Thread scheduling and PostgreSQL timing are real, so a replay follows the same script of
//! faults, not necessarily the same interleaving inside the server.)

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::Utc;
use daftar_client_core::client::{office, SyncEngine};
use daftar_client_core::protocol::sync::{PushRequest, STUDENT_UPDATE};
use daftar_client_core::protocol::{LoginRequest, PaymentMethod};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use crate::server::TestServer;
use crate::TestDb;

const PW: &str = "sim-password-1234";

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct SimReport {
    pub seed: u64,
    pub steps: usize,
    pub ops_committed: usize,
    pub payments: usize,
    pub server_restarts: usize,
    pub client_kills: usize,
    pub lost_acks: usize,
    pub duplicated_pushes: usize,
    pub rejected: usize,
}

struct Client {
    dir: tempfile::TempDir,
    username: &'static str,
    engine: Option<SyncEngine>,
}

impl Client {
    fn engine(&mut self) -> &mut SyncEngine {
        if self.engine.is_none() {
            let (e, _) = SyncEngine::open(self.dir.path()).expect("reopen after kill");
            self.engine = Some(e);
        }
        self.engine.as_mut().expect("engine")
    }

    fn kill(&mut self) {
        self.engine = None;
    }
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .map(|n| n.n)
        .unwrap_or(-1)
}

/// Runs one seed for `steps` steps on a fresh demo school. Errors: the first invariant that
/// failed, naming the seed.
pub fn run(seed: u64, steps: usize) -> Result<SimReport, String> {
    let fail = |what: String| {
        format!("seed {seed}: {what} (replay: cargo run -p daftar-tests --bin daftar-sim -- --seed {seed} --steps {steps})")
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    crate::seed_demo(&mut conn, PW);
    let mut server = TestServer::start(tdb.url());
    let url = server.url();
    let mut clients: Vec<Client> = ["accountant", "admin", "teacher1"]
        .into_iter()
        .map(|username| {
            let dir = tempfile::tempdir().expect("tmp");
            let login = LoginRequest {
                school: "demo".into(),
                username: username.into(),
                password: PW.into(),
                device_id: None,
                two_factor_code: None,
            };
            let mut e = SyncEngine::init(dir.path(), &url, &login, username).expect("enrol");
            e.sync_once(&mut |_, _| {}).expect("bootstrap");
            Client {
                dir,
                username,
                engine: Some(e),
            }
        })
        .collect();
    let families: Vec<Uuid> = diesel::sql_query(
        "SELECT DISTINCT family_id::text AS id FROM invoices ORDER BY 1 LIMIT 12",
    )
    .load::<Id>(&mut conn)
    .map_err(|e| fail(e.to_string()))?
    .into_iter()
    .filter_map(|r| r.id.parse().ok())
    .collect();
    let tz: chrono_tz::Tz = "Asia/Karachi".parse().map_err(|e| fail(format!("{e}")))?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let teacher_class =
        office::classes(&mut clients[2].engine().store).map_err(|e| fail(e.to_string()))?[0].id;

    let mut report = SimReport {
        seed,
        steps,
        ..SimReport::default()
    };
    let mut committed: Vec<Uuid> = Vec::new();
    let mut payment_ids: Vec<Uuid> = Vec::new();
    let mut up = true;
    for _ in 0..steps {
        let who = rng.gen_range(0..clients.len());
        match rng.gen_range(0..100) {
            // Local edits (the most common step).
            0..=39 => {
                let client = &mut clients[who];
                let office_user = client.username != "teacher1";
                let e = client.engine();
                if office_user && rng.gen_bool(0.7) {
                    let family = families[rng.gen_range(0..families.len())];
                    let amount = rng.gen_range(1..=400) * 100;
                    let r = office::record_payment(
                        &mut e.store,
                        family,
                        amount,
                        PaymentMethod::Cash,
                        None,
                        None,
                    )
                    .map_err(|e| fail(format!("offline payment: {e}")))?;
                    payment_ids.push(r.payment_id);
                    let op = e.store.ops(None).map_err(|e| fail(e.to_string()))?;
                    committed.push(op.last().map(|o| o.op.op_id).unwrap_or_default());
                    report.payments += 1;
                } else if office_user {
                    let students = office::search_students(&mut e.store, "")
                        .map_err(|e| fail(e.to_string()))?;
                    let s = &students[rng.gen_range(0..20.min(students.len()))];
                    let name = format!("Sim{}", rng.gen_range(0..1000));
                    let op = e
                        .store
                        .enqueue(
                            STUDENT_UPDATE,
                            &json!({ "id": s.id, "fields": { "given_name": { "base": s.given_name, "value": name } } }),
                            None,
                            &[],
                        )
                        .map_err(|e| fail(e.to_string()))?;
                    committed.push(op.op_id);
                } else {
                    let roster = office::roster(&mut e.store, teacher_class, today)
                        .map_err(|e| fail(e.to_string()))?;
                    let absent: Vec<(Uuid, String)> = roster
                        .iter()
                        .filter(|_| rng.gen_bool(0.1))
                        .map(|s| (s.id, "A".to_string()))
                        .collect();
                    let op = office::mark_register(
                        &mut e.store,
                        teacher_class,
                        today,
                        "P",
                        &absent,
                        None,
                    )
                    .map_err(|e| fail(format!("offline register: {e}")))?;
                    committed.push(op);
                }
                report.ops_committed += 1;
            }
            // A normal sync attempt (fails harmlessly while the server is down).
            40..=64 => {
                let _ = clients[who].engine().sync_once(&mut |_, _| {});
            }
            // The server goes away or comes back.
            65..=72 => {
                if up {
                    server.stop();
                } else {
                    server.resume();
                    report.server_restarts += 1;
                }
                up = !up;
            }
            // A client is killed between two steps (before or after a local commit: its
            // committed ops are in the outbox, the uncommitted one never existed).
            73..=80 => {
                clients[who].kill();
                report.client_kills += 1;
            }
            // The server commits a push but the acknowledgement is lost (and sometimes the
            // client dies before storing it).
            81..=90 => {
                let e = clients[who].engine();
                let ops = e
                    .store
                    .pending_ops(rng.gen_range(1..=20))
                    .map_err(|e| fail(e.to_string()))?;
                if let (Some(first), Some(last)) = (ops.first(), ops.last()) {
                    let _ = e.store.mark_in_flight(first.op.seq, last.op.seq);
                    let client_id = e
                        .store
                        .device("client_id")
                        .ok()
                        .flatten()
                        .and_then(|c| c.parse().ok());
                    if let Some(client_id) = client_id {
                        let req = PushRequest {
                            client_id,
                            ops: ops.into_iter().map(|o| o.op).collect(),
                        };
                        let _ = e.api.push(&req);
                        report.lost_acks += 1;
                    }
                    if rng.gen_bool(0.5) {
                        clients[who].kill();
                        report.client_kills += 1;
                    } else {
                        let _ = clients[who]
                            .engine()
                            .store
                            .record_outcomes(&[], Some("acknowledgement lost"));
                    }
                }
            }
            // The same request arrives twice.
            _ => {
                let e = clients[who].engine();
                let ops = e
                    .store
                    .pending_ops(rng.gen_range(1..=20))
                    .map_err(|e| fail(e.to_string()))?;
                let client_id = e
                    .store
                    .device("client_id")
                    .ok()
                    .flatten()
                    .and_then(|c| c.parse().ok());
                if let (false, Some(client_id)) = (ops.is_empty(), client_id) {
                    let req = PushRequest {
                        client_id,
                        ops: ops.into_iter().map(|o| o.op).collect(),
                    };
                    let _ = e.api.push(&req);
                    if let Ok(resp) = e.api.push(&req) {
                        let _ = e.store.record_outcomes(&resp.results, None);
                    }
                    report.duplicated_pushes += 1;
                }
            }
        }
    }

    // Heal: the server is up, every client syncs until its outbox drains, then pulls once
    // more so every replica has everyone's changes.
    server.resume();
    for c in clients.iter_mut() {
        let mut tries = 0;
        loop {
            let e = c.engine();
            let r = e.sync_once(&mut |_, _| {});
            let pending = e.store.counts().map_err(|e| fail(e.to_string()))?.pending;
            if r.is_ok() && pending == 0 {
                break;
            }
            tries += 1;
            if tries > 20 {
                return Err(fail(format!(
                    "{}'s outbox never drained: {r:?}, {pending} pending",
                    c.username
                )));
            }
        }
    }
    for c in clients.iter_mut() {
        c.engine()
            .sync_once(&mut |_, _| {})
            .map_err(|e| fail(e.to_string()))?;
    }

    // 1. Every committed op decided exactly once.
    let decided: HashSet<String> = diesel::sql_query("SELECT op_id::text AS id FROM applied_ops")
        .load::<Id>(&mut conn)
        .map_err(|e| fail(e.to_string()))?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for op in &committed {
        if !decided.contains(&op.to_string()) {
            return Err(fail(format!(
                "op {op} was committed locally but never decided"
            )));
        }
    }
    report.rejected = count(
        &mut conn,
        "SELECT count(*) AS n FROM applied_ops WHERE status = 'rejected'",
    ) as usize;
    let unexplained = count(
        &mut conn,
        "SELECT count(*) AS n FROM applied_ops WHERE status = 'rejected' AND (result->>'code') IS NULL",
    );
    if unexplained != 0 {
        return Err(fail(format!(
            "{unexplained} rejections without a stored reason"
        )));
    }
    // 2. Every queued payment exists exactly once.
    let ids: Vec<String> = payment_ids.iter().map(|p| format!("'{p}'")).collect();
    if !ids.is_empty() {
        let n = count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM payments WHERE id IN ({})",
                ids.join(",")
            ),
        );
        if n != payment_ids.len() as i64 {
            return Err(fail(format!(
                "{n} payments on the server for {} queued",
                payment_ids.len()
            )));
        }
    }
    // 3 and 4. Replicas converge; outboxes drained.
    for c in clients.iter_mut() {
        let e = c.engine();
        let pending = e.store.counts().map_err(|e| fail(e.to_string()))?.pending;
        if pending != 0 {
            return Err(fail(format!(
                "{} still has {pending} pending ops",
                c.username
            )));
        }
        let (local, remote) = e.digests().map_err(|e| fail(e.to_string()))?;
        if local.entities != remote.entities {
            let differing: Vec<&String> = remote
                .entities
                .keys()
                .chain(local.entities.keys())
                .filter(|k| local.entities.get(*k) != remote.entities.get(*k))
                .collect();
            return Err(fail(format!(
                "{}'s replica (v{}) differs from the server (v{}) in {differing:?}",
                c.username, local.version, remote.version
            )));
        }
    }
    // 5. The journal balances.
    let sum = count(
        &mut conn,
        "SELECT coalesce(sum(amount), 0)::bigint AS n FROM journal_lines",
    );
    if sum != 0 {
        return Err(fail(format!("journal lines sum to {sum}")));
    }
    let _: Vec<PathBuf> = clients.iter().map(|c| c.dir.path().to_path_buf()).collect();
    Ok(report)
}
