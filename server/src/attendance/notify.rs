//! Guardian notifications: a durable outbox (`guardian_notifications`) drained by a pluggable
//! provider. The default [`LogProvider`] writes each message to the log; an SMS or WhatsApp
//! gateway implements [`NotificationProvider`] the same way.

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::guardian_notifications;

/// Attempts before a notification is marked `failed`.
pub const MAX_ATTEMPTS: i32 = 5;

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct PendingNotification {
    pub school_id: Uuid,
    pub id: Uuid,
    pub phone: Option<String>,
    pub message: String,
}

/// Delivers a message; `Err` with a reason to retry later.
pub trait NotificationProvider: Send + Sync {
    /// Sends one message (blocking is fine: called off the async workers).
    fn send(&self, n: &PendingNotification) -> Result<(), String>;
}

/// Writes notifications to the log (default provider). Logs the message but not the phone
/// number (no PII in logs).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogProvider;

impl NotificationProvider for LogProvider {
    fn send(&self, n: &PendingNotification) -> Result<(), String> {
        tracing::info!(notification = %n.id, school = %n.school_id, has_phone = n.phone.is_some(), message = %n.message, "guardian notification");
        Ok(())
    }
}

/// Delivers up to `limit` pending notifications (oldest first; rows locked with SKIP LOCKED so
/// several servers can drain one outbox). Returns how many were sent.
pub fn dispatch_pending(
    conn: &mut PgConnection,
    provider: &dyn NotificationProvider,
    limit: i64,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let rows: Vec<(Uuid, Uuid, Option<String>, String, i32)> = guardian_notifications::table
            .filter(guardian_notifications::status.eq("pending"))
            .order(guardian_notifications::created_at)
            .limit(limit)
            .for_update()
            .skip_locked()
            .select((
                guardian_notifications::school_id,
                guardian_notifications::id,
                guardian_notifications::phone,
                guardian_notifications::message,
                guardian_notifications::attempts,
            ))
            .load(conn)?;
        let mut sent = 0;
        for (school_id, id, phone, message, attempts) in rows {
            let n = PendingNotification {
                school_id,
                id,
                phone,
                message,
            };
            let target = guardian_notifications::table.find((school_id, id));
            match provider.send(&n) {
                Ok(()) => {
                    diesel::update(target)
                        .set((
                            guardian_notifications::status.eq("sent"),
                            guardian_notifications::sent_at.eq(Some(Utc::now())),
                            guardian_notifications::attempts.eq(attempts + 1),
                        ))
                        .execute(conn)?;
                    sent += 1;
                }
                Err(e) => {
                    let status = if attempts + 1 >= MAX_ATTEMPTS {
                        "failed"
                    } else {
                        "pending"
                    };
                    diesel::update(target)
                        .set((
                            guardian_notifications::status.eq(status),
                            guardian_notifications::attempts.eq(attempts + 1),
                            guardian_notifications::last_error.eq(Some(e)),
                        ))
                        .execute(conn)?;
                }
            }
        }
        Ok(sent)
    })
}
