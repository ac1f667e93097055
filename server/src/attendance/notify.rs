//! Guardian notifications: a durable outbox (`guardian_notifications`) drained by a pluggable
//! provider. The default [`LogProvider`] writes each message to the log; an SMS or WhatsApp
//! gateway implements [`NotificationProvider`] the same way.

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use crate::schema::{guardian_notifications, guardians, students};

/// Notices inserted per statement (each binds 8 parameters; PostgreSQL allows 65,535).
const NOTICES_PER_INSERT: usize = 5000;

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

/// Queues an absence notice to every active guardian with a phone of each (register, student,
/// class name, date) in `absent`, with one read and one insert.
pub(crate) fn queue_absence_notices(
    conn: &mut PgConnection,
    school_id: Uuid,
    absent: &[(Uuid, Uuid, &str, NaiveDate)],
) -> QueryResult<()> {
    if absent.is_empty() {
        return Ok(());
    }
    let students_absent: Vec<Uuid> = absent
        .iter()
        .map(|a| a.1)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut contacts: HashMap<Uuid, Vec<(Uuid, Option<String>, String)>> = HashMap::new();
    for (student, guardian, phone, name) in guardians::table
        .inner_join(
            students::table.on(students::school_id
                .eq(guardians::school_id)
                .and(students::family_id.eq(guardians::family_id))),
        )
        .filter(guardians::school_id.eq(school_id))
        .filter(guardians::active.eq(true))
        .filter(guardians::phone.is_not_null())
        .filter(students::id.eq_any(&students_absent))
        .select((
            students::id,
            guardians::id,
            guardians::phone,
            students::given_name,
        ))
        .load::<(Uuid, Uuid, Option<String>, String)>(conn)?
    {
        contacts
            .entry(student)
            .or_default()
            .push((guardian, phone, name));
    }
    let mut values = Vec::new();
    for (register_id, student, class_name, on_date) in absent {
        for (guardian, phone, name) in contacts.get(student).map(Vec::as_slice).unwrap_or_default()
        {
            values.push((
                guardian_notifications::school_id.eq(school_id),
                guardian_notifications::id.eq(Uuid::now_v7()),
                guardian_notifications::kind.eq("absence"),
                guardian_notifications::register_id.eq(*register_id),
                guardian_notifications::student_id.eq(*student),
                guardian_notifications::guardian_id.eq(*guardian),
                guardian_notifications::phone.eq(phone.clone()),
                guardian_notifications::message.eq(format!(
                    "{name} was marked absent from {class_name} on {on_date}."
                )),
            ));
        }
    }
    for chunk in values.chunks(NOTICES_PER_INSERT) {
        diesel::insert_into(guardian_notifications::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)?;
    }
    Ok(())
}
