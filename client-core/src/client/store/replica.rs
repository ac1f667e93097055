//! `replica.db`: the server's rows this device may see, the pull cursor, and the staging area a
//! pull fills page by page and applies, with its cursor, in one local transaction.

use super::*;

impl Store {
    fn meta(&mut self, key: &str) -> ClientResult<Option<String>> {
        Ok(diesel::sql_query("SELECT value FROM meta WHERE key = ?")
            .bind::<Text, _>(key)
            .get_result::<KeyValue>(&mut self.replica)
            .optional()?
            .map(|k| k.value))
    }

    /// The pull cursor the replica is at ("" before the first pull).
    pub fn cursor(&mut self) -> ClientResult<String> {
        Ok(self.meta("cursor")?.unwrap_or_default())
    }

    /// The server version the replica is at.
    pub fn replica_version(&mut self) -> ClientResult<i64> {
        Ok(self
            .cursor()?
            .parse::<Cursor>()
            .map(|c| c.version)
            .unwrap_or(0))
    }

    /// The replica's version when a pull last changed a row of it (0 before any). The cursor's
    /// version moves on every pull (the server's watermark moves with every transaction of the
    /// database, ARCHITECTURE.md §6); this moves only when rows arrived, so a page that reloads
    /// when it changes does not reload for nothing.
    pub fn replica_changed_version(&mut self) -> ClientResult<i64> {
        Ok(self
            .meta("changed_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// When the last pull completed (UTC), and the server version it saw then.
    pub fn last_pull(&mut self) -> ClientResult<Option<(DateTime<Utc>, i64)>> {
        let at = self.meta("last_pull_at")?;
        let seen = self.meta("server_version")?;
        Ok(match (at, seen) {
            (Some(a), Some(v)) => DateTime::parse_from_rfc3339(&a)
                .ok()
                .map(|t| (t.with_timezone(&Utc), v.parse().unwrap_or(0))),
            _ => None,
        })
    }

    // ----- pull -------------------------------------------------------------------------

    /// Where an interrupted pull left off (its staged pages survive a restart).
    pub fn staged_cursor(&mut self) -> ClientResult<Option<String>> {
        self.meta("staging_cursor")
    }

    /// Stages one page and remembers its cursor, in one transaction.
    pub fn stage(&mut self, changes: &[ChangeRow], cursor: &str) -> ClientResult<()> {
        self.replica.immediate_transaction(|c| {
            for ch in changes {
                let data = ch.row.as_ref().map(|r| r.to_string());
                diesel::sql_query(
                    "INSERT OR REPLACE INTO staging (entity, id, version, deleted, data)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind::<Text, _>(&ch.entity)
                .bind::<Text, _>(&ch.id)
                .bind::<BigInt, _>(ch.version)
                .bind::<BigInt, _>(ch.deleted as i64)
                .bind::<Nullable<Text>, _>(data)
                .execute(c)?;
            }
            set_meta(c, "staging_cursor", cursor)
        })?;
        Ok(())
    }

    /// Starts a full re-snapshot while keeping the replica readable: drops what was staged
    /// and notes that the next [`Store::apply_staged`] replaces every replica row instead of
    /// merging (the server compacted the change log behind our cursor, ARCHITECTURE.md §6). Survives
    /// a restart: a resumed pull still ends in a replacement.
    pub fn begin_resnapshot(&mut self) -> ClientResult<()> {
        self.replica.immediate_transaction(|c| {
            diesel::sql_query("DELETE FROM staging").execute(c)?;
            diesel::sql_query("DELETE FROM meta WHERE key = 'staging_cursor'").execute(c)?;
            set_meta(c, "resnapshot", "1")
        })?;
        Ok(())
    }

    /// Applies every staged row and moves the cursor, in one transaction; returns the number
    /// of rows applied. After [`Store::begin_resnapshot`] the staged snapshot replaces the
    /// replica's rows.
    pub fn apply_staged(&mut self, cursor: &str, server_version: i64) -> ClientResult<usize> {
        let n = self.replica.immediate_transaction(|c| {
            #[derive(QueryableByName)]
            struct Flag {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let resnapshot = diesel::sql_query(
                "SELECT count(*) AS n FROM meta WHERE key = 'resnapshot'",
            )
            .get_result::<Flag>(c)?
            .n > 0;
            if resnapshot {
                diesel::sql_query("DELETE FROM rows").execute(c)?;
                diesel::sql_query("DELETE FROM meta WHERE key = 'resnapshot'").execute(c)?;
            }
            let removed = diesel::sql_query(
                "DELETE FROM rows WHERE (entity, id) IN (SELECT entity, id FROM staging WHERE deleted = 1)",
            )
            .execute(c)?;
            let n = diesel::sql_query(
                "INSERT OR REPLACE INTO rows (entity, id, version, data)
                 SELECT entity, id, version, data FROM staging WHERE deleted = 0",
            )
            .execute(c)?;
            diesel::sql_query("DELETE FROM staging").execute(c)?;
            diesel::sql_query("DELETE FROM meta WHERE key = 'staging_cursor'").execute(c)?;
            set_meta(c, "cursor", cursor)?;
            if resnapshot || n + removed > 0 {
                let at = cursor.parse::<Cursor>().map(|c| c.version).unwrap_or(0);
                set_meta(c, "changed_version", &at.to_string())?;
            }
            set_meta(c, "last_pull_at", &Utc::now().to_rfc3339())?;
            set_meta(c, "server_version", &server_version.to_string())?;
            Ok::<_, diesel::result::Error>(n)
        })?;
        Ok(n)
    }

    /// Forgets every replica row (a re-snapshot follows).
    pub fn reset_replica(&mut self) -> ClientResult<()> {
        self.replica
            .batch_execute("DELETE FROM rows; DELETE FROM staging; DELETE FROM meta;")?;
        Ok(())
    }

    /// (entity, id, version) of every replica row, for the digest.
    pub fn replica_keys(&mut self, mut f: impl FnMut(&str, &str, i64)) -> ClientResult<()> {
        #[derive(QueryableByName)]
        struct K {
            #[diesel(sql_type = Text)]
            entity: String,
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = BigInt)]
            version: i64,
        }
        let rows: Vec<K> =
            diesel::sql_query("SELECT entity, id, version FROM rows").load(&mut self.replica)?;
        for r in rows {
            f(&r.entity, &r.id, r.version);
        }
        Ok(())
    }

    /// Number of replica rows per entity.
    pub fn replica_counts(&mut self) -> ClientResult<Vec<(String, i64)>> {
        #[derive(QueryableByName)]
        struct E {
            #[diesel(sql_type = Text)]
            entity: String,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let rows: Vec<E> = diesel::sql_query(
            "SELECT entity, count(*) AS n FROM rows GROUP BY entity ORDER BY entity",
        )
        .load(&mut self.replica)?;
        Ok(rows.into_iter().map(|e| (e.entity, e.n)).collect())
    }
}
