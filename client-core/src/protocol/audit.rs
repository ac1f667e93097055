//! The audit log viewer's wire types (issue #17, "Audit log viewer"): `GET /api/v1/audit-log`.

use super::*;

/// Filters of `GET /api/v1/audit-log`. Every filter is optional and they combine with AND.
/// Entries come newest first, `limit` per page (1..=200, default 50); the next page is asked
/// with `before` = the previous page's [`AuditPage::next_before`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct AuditQuery {
    /// Only changes made by this user.
    pub user_id: Option<Uuid>,
    /// Only changes made from this device.
    pub device_id: Option<Uuid>,
    /// Only this kind of entity (`student`, `family`, `payment`, `register`, `user`, …; see
    /// [`AuditEvent::entity`]).
    pub entity: Option<String>,
    /// Only this entity (with `entity`): its id as the log writes it.
    pub entity_id: Option<String>,
    /// Only entries at or after this instant (RFC 3339, UTC).
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this instant (RFC 3339, UTC; exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Only entries older than this one (an entry id: the previous page's `next_before`).
    pub before: Option<Uuid>,
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
}

/// One audit-log entry: who (user and device, with the names they have now), what (`action` on
/// `entity`/`entity_id`) and when (`at`, UTC), with the row's image before and after the
/// change. `create` has only `after`, `delete` only `before`, `update` both; other actions
/// (`login`, `login_failed`, `revoke_on_reuse`, …) are events whose details are in `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// `None` for changes made by the server itself (imports, the demo, CLI commands).
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    pub user_display_name: Option<String>,
    pub device_id: Option<Uuid>,
    pub device_name: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A page of [`AuditEvent`]s, newest first. `next_before` is set when older entries may
/// follow: pass it as `before` to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub next_before: Option<Uuid>,
}
