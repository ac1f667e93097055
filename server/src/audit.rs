//! The append-only audit log (ARCHITECTURE.md §7): every mutation writes one row with actor,
//! device, entity and the before/after images, in the same transaction as the change.

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::audit_log;

/// Who made a change: a user on a device, or the system itself (CLI import, demo seeding).
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
}

impl Actor {
    /// Changes made by the server itself (`import-oneroster`, `demo`, `create-*` commands).
    pub const SYSTEM: Actor = Actor {
        user_id: None,
        device_id: None,
    };
}

/// One audit row ready to insert; made by [`AuditEntry::created_row`] and written with
/// others by [`insert_all`].
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow {
    school_id: Uuid,
    id: Uuid,
    actor_id: Option<Uuid>,
    device_id: Option<Uuid>,
    action: String,
    entity: String,
    entity_id: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

/// One audited entity: `entity` is the table-ish name (`student`, `class`, …) and `entity_id`
/// its id. Row images are serialised with serde; row structs skip secrets (password hashes).
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub school_id: Uuid,
    pub actor: Actor,
    pub entity: &'a str,
    pub entity_id: String,
}

impl<'a> AuditEntry<'a> {
    /// An entry for `entity`/`entity_id` in `school_id` by `actor`.
    pub fn new(school_id: Uuid, actor: Actor, entity: &'a str, entity_id: impl ToString) -> Self {
        AuditEntry {
            school_id,
            actor,
            entity,
            entity_id: entity_id.to_string(),
        }
    }

    /// Records a creation (`after` image only).
    pub fn created<A: Serialize>(&self, conn: &mut PgConnection, after: &A) -> QueryResult<()> {
        self.write(conn, "create", None, Some(to_json(after)?))
    }

    /// Records an update with both images.
    pub fn updated<B: Serialize, A: Serialize>(
        &self,
        conn: &mut PgConnection,
        before: &B,
        after: &A,
    ) -> QueryResult<()> {
        self.write(
            conn,
            "update",
            Some(to_json(before)?),
            Some(to_json(after)?),
        )
    }

    /// Records a deletion (`before` image only).
    pub fn deleted<B: Serialize>(&self, conn: &mut PgConnection, before: &B) -> QueryResult<()> {
        self.write(conn, "delete", Some(to_json(before)?), None)
    }

    /// Records any other event (`login`, `logout`, `import`, …) with an optional detail image.
    pub fn event<A: Serialize>(
        &self,
        conn: &mut PgConnection,
        action: &str,
        detail: Option<&A>,
    ) -> QueryResult<()> {
        let after = detail.map(to_json).transpose()?;
        self.write(conn, action, None, after)
    }

    /// The row [`AuditEntry::created`] would write, for [`insert_all`] to write with others
    /// (batched paths: one INSERT for a whole push batch).
    pub fn created_row<A: Serialize>(&self, after: &A) -> QueryResult<NewAuditRow> {
        Ok(self.row("create", None, Some(to_json(after)?)))
    }

    /// The row [`AuditEntry::updated`] would write, for [`insert_all`].
    pub fn updated_row<B: Serialize, A: Serialize>(
        &self,
        before: &B,
        after: &A,
    ) -> QueryResult<NewAuditRow> {
        Ok(self.row("update", Some(to_json(before)?), Some(to_json(after)?)))
    }

    /// The row [`AuditEntry::event`] would write, for [`insert_all`].
    pub fn event_row<A: Serialize>(
        &self,
        action: &str,
        detail: Option<&A>,
    ) -> QueryResult<NewAuditRow> {
        let after = detail.map(to_json).transpose()?;
        Ok(self.row(action, None, after))
    }

    fn row(
        &self,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> NewAuditRow {
        NewAuditRow {
            school_id: self.school_id,
            id: Uuid::now_v7(),
            actor_id: self.actor.user_id,
            device_id: self.actor.device_id,
            action: action.to_string(),
            entity: self.entity.to_string(),
            entity_id: self.entity_id.clone(),
            before,
            after,
        }
    }

    fn write(
        &self,
        conn: &mut PgConnection,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> QueryResult<()> {
        diesel::insert_into(audit_log::table)
            .values(&self.row(action, before, after))
            .execute(conn)
            .map(|_| ())
    }
}

/// Writes `rows` with multi-row INSERTs (1,000 rows per statement).
pub fn insert_all(conn: &mut PgConnection, rows: &[NewAuditRow]) -> QueryResult<()> {
    if let [one] = rows {
        // A statement the connection keeps prepared (every REST change is one row).
        return diesel::insert_into(audit_log::table)
            .values(one)
            .execute(conn)
            .map(|_| ());
    }
    for chunk in rows.chunks(1000) {
        diesel::insert_into(audit_log::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> QueryResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}
