//! `outbox.db`: the queue of local edits, in seq order, each with the overlay rows that show its
//! effect until the server decides it.

use super::*;

impl Store {
    // ----- outbox -----------------------------------------------------------------------

    /// Queues `mutation` with `args` and its overlay rows (entity, id, row JSON) in one durable
    /// transaction; returns the stored op with its new `op_id` and `seq`.
    pub fn enqueue(
        &mut self,
        mutation: &str,
        args: &Value,
        base_version: Option<i64>,
        overlay: &[(String, String, Value)],
    ) -> ClientResult<SyncOp> {
        let op_id = Uuid::now_v7();
        let created_at = Utc::now();
        let seq = self.outbox.immediate_transaction(|c| {
            diesel::sql_query(
                "INSERT INTO ops (op_id, mutation, args, base_version, created_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind::<Text, _>(op_id.to_string())
            .bind::<Text, _>(mutation)
            .bind::<Text, _>(args.to_string())
            .bind::<Nullable<BigInt>, _>(base_version)
            .bind::<Text, _>(created_at.to_rfc3339())
            .execute(c)?;
            let seq = diesel::sql_query("SELECT max(seq) AS n FROM ops")
                .get_result::<Count>(c)?
                .n;
            for (entity, id, data) in overlay {
                insert_overlay(c, seq, entity, id, &data.to_string())?;
            }
            Ok::<_, diesel::result::Error>(seq)
        })?;
        Ok(SyncOp {
            op_id,
            seq,
            mutation: mutation.into(),
            args: args.clone(),
            base_version,
            created_at,
        })
    }

    /// Up to `limit` undecided ops, in seq order.
    pub fn pending_ops(&mut self, limit: i64) -> ClientResult<Vec<StoredOp>> {
        let rows: Vec<OpRow> = diesel::sql_query(format!(
            "SELECT {OP_COLUMNS} FROM ops WHERE state IN ('pending', 'in_flight') ORDER BY seq LIMIT ?"
        ))
        .bind::<BigInt, _>(limit)
        .load(&mut self.outbox)?;
        rows.into_iter().map(OpRow::into_op).collect()
    }

    /// Every op (newest last), or one by id.
    pub fn ops(&mut self, op_id: Option<Uuid>) -> ClientResult<Vec<StoredOp>> {
        let rows: Vec<OpRow> = match op_id {
            Some(id) => diesel::sql_query(format!("SELECT {OP_COLUMNS} FROM ops WHERE op_id = ?"))
                .bind::<Text, _>(id.to_string())
                .load(&mut self.outbox)?,
            None => diesel::sql_query(format!("SELECT {OP_COLUMNS} FROM ops ORDER BY seq"))
                .load(&mut self.outbox)?,
        };
        rows.into_iter().map(OpRow::into_op).collect()
    }

    /// Rejected or conflicting ops nobody has resolved, oldest first.
    pub fn ops_needing_attention(&mut self) -> ClientResult<Vec<StoredOp>> {
        let rows: Vec<OpRow> = diesel::sql_query(format!(
            "SELECT {OP_COLUMNS} FROM ops WHERE state IN ('rejected', 'conflict') AND resolved_at IS NULL ORDER BY seq"
        ))
        .load(&mut self.outbox)?;
        rows.into_iter().map(OpRow::into_op).collect()
    }

    /// Marks ops as sent (state `in_flight`, one more attempt).
    pub fn mark_in_flight(&mut self, first_seq: i64, last_seq: i64) -> ClientResult<()> {
        diesel::sql_query(
            "UPDATE ops SET state = 'in_flight', attempts = attempts + 1
             WHERE seq BETWEEN ? AND ? AND state IN ('pending', 'in_flight')",
        )
        .bind::<BigInt, _>(first_seq)
        .bind::<BigInt, _>(last_seq)
        .execute(&mut self.outbox)?;
        Ok(())
    }

    /// Stores the server's decisions (one transaction); ops sent but not decided go back to
    /// `pending` with `error` noted.
    pub fn record_outcomes(
        &mut self,
        outcomes: &[OpOutcome],
        error: Option<&str>,
    ) -> ClientResult<()> {
        self.outbox.immediate_transaction(|c| {
            for o in outcomes {
                let state = match o.status {
                    OpStatus::Applied => "applied",
                    OpStatus::Rejected => "rejected",
                    OpStatus::Conflict => "conflict",
                };
                let json = serde_json::to_string(o).unwrap_or_default();
                diesel::sql_query(
                    "UPDATE ops SET state = ?, outcome = ?, applied_version = ?, decided_at = ?,
                            last_error = NULL
                     WHERE op_id = ?",
                )
                .bind::<Text, _>(state)
                .bind::<Text, _>(json)
                .bind::<Nullable<BigInt>, _>(o.version)
                .bind::<Text, _>(Utc::now().to_rfc3339())
                .bind::<Text, _>(o.op_id.to_string())
                .execute(c)?;
            }
            diesel::sql_query(
                "UPDATE ops SET state = 'pending', last_error = coalesce(?, last_error)
                 WHERE state = 'in_flight'",
            )
            .bind::<Nullable<Text>, _>(error)
            .execute(c)?;
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Flags the oldest pending op as wedged (the watchdog's "a person should look at this").
    pub fn mark_wedged(&mut self, seq: i64) -> ClientResult<()> {
        diesel::sql_query("UPDATE ops SET wedged = 1 WHERE seq = ?")
            .bind::<BigInt, _>(seq)
            .execute(&mut self.outbox)?;
        Ok(())
    }

    /// Marks a rejected or conflicting op as dealt with locally.
    pub fn resolve_op(&mut self, op_id: Uuid) -> ClientResult<bool> {
        let n = diesel::sql_query(
            "UPDATE ops SET resolved_at = ? WHERE op_id = ? AND state IN ('rejected', 'conflict')",
        )
        .bind::<Text, _>(Utc::now().to_rfc3339())
        .bind::<Text, _>(op_id.to_string())
        .execute(&mut self.outbox)?;
        Ok(n == 1)
    }

    /// Op counts by state.
    pub fn counts(&mut self) -> ClientResult<OpCounts> {
        #[derive(QueryableByName)]
        struct S {
            #[diesel(sql_type = Text)]
            state: String,
            #[diesel(sql_type = BigInt)]
            n: i64,
            #[diesel(sql_type = BigInt)]
            open: i64,
        }
        let rows: Vec<S> = diesel::sql_query(
            "SELECT state, count(*) AS n, sum(resolved_at IS NULL) AS open FROM ops GROUP BY state",
        )
        .load(&mut self.outbox)?;
        let mut c = OpCounts::default();
        for r in rows {
            match r.state.as_str() {
                "pending" | "in_flight" => c.pending += r.n,
                "applied" => c.applied += r.n,
                "rejected" => {
                    c.rejected += r.n;
                    c.needing_attention += r.open;
                }
                "conflict" => {
                    c.conflict += r.n;
                    c.needing_attention += r.open;
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

/// One overlay row of the op at `seq`.
pub(super) fn insert_overlay(
    c: &mut SqliteConnection,
    seq: i64,
    entity: &str,
    id: &str,
    data: &str,
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT OR REPLACE INTO overlay (op_seq, entity, id, data) VALUES (?, ?, ?, ?)",
    )
    .bind::<BigInt, _>(seq)
    .bind::<Text, _>(entity)
    .bind::<Text, _>(id)
    .bind::<Text, _>(data)
    .execute(c)
}

impl Store {
    /// The overlay row of `entity` that the op at `seq` wrote (what this device showed for it
    /// before the server confirmed it), as JSON, if any.
    pub fn overlay_of_op(
        &mut self,
        seq: i64,
        entity: &str,
    ) -> ClientResult<Option<serde_json::Value>> {
        let r: Option<OverlayRow> = diesel::sql_query(
            "SELECT entity, id, data FROM overlay WHERE op_seq = ? AND entity = ?",
        )
        .bind::<BigInt, _>(seq)
        .bind::<Text, _>(entity)
        .get_result(&mut self.outbox)
        .optional()?;
        r.map(|r| serde_json::from_str(&r.data).map_err(Into::into))
            .transpose()
    }
}
