//! The lifeboat (ARCHITECTURE.md §6): a corrupt `replica.db` is moved aside; a corrupt
//! `outbox.db` is salvaged row by row, or from the newest of the rolling snapshots.

use super::*;

impl Store {
    /// Copies `outbox.db` to `snapshots/outbox-<time>.db` (`VACUUM INTO`), keeping the newest
    /// [`SNAPSHOTS_KEPT`].
    pub fn snapshot_outbox(&mut self) -> ClientResult<PathBuf> {
        let dir = self.dir.join("snapshots");
        std::fs::create_dir_all(&dir).map_err(|e| storage(&dir, e))?;
        let path = dir.join(format!(
            "outbox-{}.db",
            Utc::now().format("%Y%m%dT%H%M%S%.6f")
        ));
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(path.to_string_lossy().to_string())
            .execute(&mut self.outbox)?;
        let mut all = snapshots(&dir);
        while all.len() > SNAPSHOTS_KEPT {
            let _ = std::fs::remove_file(all.remove(0));
        }
        Ok(path)
    }
}

pub(super) fn move_aside(path: &Path) -> ClientResult<PathBuf> {
    let to = path.with_extension(format!(
        "db.corrupt-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3f")
    ));
    std::fs::rename(path, &to).map_err(|e| storage(path, e))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            let _ = std::fs::rename(&side, PathBuf::from(format!("{}{suffix}", to.display())));
        }
    }
    Ok(to)
}

pub(super) fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("outbox-") && n.ends_with(".db"))
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

/// Copies what can still be read from the corrupt outbox at `from` (or, if nothing can, from
/// the newest snapshot) into `to`: device settings, then every readable op — renumbered from
/// seq 1, state `pending`, original `op_id` — with its overlay rows. The client id is dropped so
/// the engine asks the server for a new one before re-sending. Returns the ops salvaged.
pub(super) fn salvage(
    from: &Path,
    to: &mut SqliteConnection,
    snapshot_dir: &Path,
) -> ClientResult<usize> {
    let n = salvage_from(from, to).unwrap_or(0);
    if n > 0 {
        return Ok(n);
    }
    match snapshots(snapshot_dir).pop() {
        Some(snap) => salvage_from(&snap, to),
        None => Ok(0),
    }
}

fn salvage_from(from: &Path, to: &mut SqliteConnection) -> ClientResult<usize> {
    let mut src = SqliteConnection::establish(&from.to_string_lossy())?;
    // Device settings, row by row.
    #[derive(QueryableByName)]
    struct Kv {
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Text)]
        value: String,
    }
    if let Ok(kvs) = diesel::sql_query("SELECT key, value FROM device").load::<Kv>(&mut src) {
        for kv in kvs {
            if kv.key == "client_id" {
                continue;
            }
            diesel::sql_query("INSERT OR REPLACE INTO device (key, value) VALUES (?, ?)")
                .bind::<Text, _>(&kv.key)
                .bind::<Text, _>(&kv.value)
                .execute(to)?;
        }
    }
    diesel::sql_query(
        "INSERT OR REPLACE INTO device (key, value) VALUES ('needs_new_client', '1')",
    )
    .execute(to)?;
    let max = diesel::sql_query("SELECT coalesce(max(seq), 0) AS n FROM ops")
        .get_result::<Count>(&mut src)
        .map(|c| c.n)
        .unwrap_or(100_000);
    let mut salvaged = 0usize;
    for seq in 1..=max {
        let row: Option<OpRow> =
            match diesel::sql_query(format!("SELECT {OP_COLUMNS} FROM ops WHERE seq = ?"))
                .bind::<BigInt, _>(seq)
                .get_result(&mut src)
                .optional()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(seq, error = %e, "outbox op unreadable; skipped");
                    continue;
                }
            };
        let Some(row) = row else { continue };
        let overlay: Vec<OverlayRow> =
            diesel::sql_query("SELECT entity, id, data FROM overlay WHERE op_seq = ?")
                .bind::<BigInt, _>(seq)
                .load(&mut src)
                .unwrap_or_default();
        to.immediate_transaction(|c| {
            diesel::sql_query(
                "INSERT OR IGNORE INTO ops (op_id, mutation, args, base_version, created_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind::<Text, _>(&row.op_id)
            .bind::<Text, _>(&row.mutation)
            .bind::<Text, _>(&row.args)
            .bind::<Nullable<BigInt>, _>(row.base_version)
            .bind::<Text, _>(&row.created_at)
            .execute(c)?;
            let new_seq = diesel::sql_query("SELECT max(seq) AS n FROM ops")
                .get_result::<Count>(c)?
                .n;
            for o in &overlay {
                insert_overlay(c, new_seq, &o.entity, &o.id, &o.data)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        salvaged += 1;
    }
    Ok(salvaged)
}
