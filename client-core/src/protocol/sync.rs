//! Wire types of sync protocol v1 under `/api/v1/sync` (ARCHITECTURE.md §6): device
//! enrolment, the op envelope and push results, pull pages with their cursor, SSE pokes and
//! the replica digest.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

use super::{CreateStudentRequest, GrantDiscountRequest, MarkRegisterRequest, TokenResponse};

/// `payment.record@1`: args [`super::RecordPaymentRequest`]; result [`super::Payment`].
pub const PAYMENT_RECORD: &str = "payment.record@1";
/// `payment.reverse@1`: args [`ReversePaymentArgs`]; result [`super::PaymentReversal`].
pub const PAYMENT_REVERSE: &str = "payment.reverse@1";
/// `discount.grant@1`: args [`GrantDiscountArgs`]; result [`super::Discount`].
pub const DISCOUNT_GRANT: &str = "discount.grant@1";
/// `attendance.mark_register@1`: args [`MarkRegisterArgs`]; result [`RegisterMarked`] (the
/// marks themselves reach devices by pull). Teachers and office.
pub const ATTENDANCE_MARK_REGISTER: &str = "attendance.mark_register@1";
/// `attendance.override@1`: args [`MarkRegisterArgs`] with a `reason`; result
/// [`RegisterMarked`]; office only.
pub const ATTENDANCE_OVERRIDE: &str = "attendance.override@1";
/// `student.update@1`: args [`UpdateRecordArgs`], merged field by field.
pub const STUDENT_UPDATE: &str = "student.update@1";
/// `guardian.update@1`: args [`UpdateRecordArgs`], merged field by field.
pub const GUARDIAN_UPDATE: &str = "guardian.update@1";
/// `student.admit@1`: args [`AdmitStudentArgs`]; result [`super::Student`].
pub const STUDENT_ADMIT: &str = "student.admit@1";

/// Every mutation name@version the server accepts in v1.
pub const MUTATIONS: &[&str] = &[
    PAYMENT_RECORD,
    PAYMENT_REVERSE,
    DISCOUNT_GRANT,
    ATTENDANCE_MARK_REGISTER,
    ATTENDANCE_OVERRIDE,
    STUDENT_UPDATE,
    GUARDIAN_UPDATE,
    STUDENT_ADMIT,
];

/// `POST /api/v1/sync/devices`: enrol the calling user's device. The device's kind follows the
/// user's role (admin/accountant → `office`, teacher, parent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterDeviceRequest {
    /// A name people recognise ("Front office PC"), 1..=100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
}

/// What a device may see and change (ARCHITECTURE.md §6 "Scopes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncScope {
    /// Office device: the whole school.
    School,
    /// Teacher device: the rosters, registers and marks of these (assigned) classes.
    Classes { class_ids: Vec<Uuid> },
    /// Parent device: these families' students, invoices, payments and attendance, and the
    /// classes their children are or were enrolled in (`class_ids`, so that a child joining a
    /// class changes the scope and the device re-reads the class; ARCHITECTURE.md §6).
    Families {
        family_ids: Vec<Uuid>,
        #[serde(default)]
        class_ids: Vec<Uuid>,
    },
    /// A user who both teaches and is a parent (issue #17, several roles): the union of
    /// `Classes { class_ids }` and `Families { family_ids, class_ids: family_class_ids }`.
    ClassesAndFamilies {
        class_ids: Vec<Uuid>,
        family_ids: Vec<Uuid>,
        #[serde(default)]
        family_class_ids: Vec<Uuid>,
    },
}

impl SyncScope {
    /// The classes a teacher's device marks registers for (its assigned ones), or `None` for
    /// the office (every class); empty for a parent's device.
    pub fn taught_class_ids(&self) -> Option<&[Uuid]> {
        match self {
            SyncScope::School => None,
            SyncScope::Classes { class_ids } | SyncScope::ClassesAndFamilies { class_ids, .. } => {
                Some(class_ids)
            }
            SyncScope::Families { .. } => Some(&[]),
        }
    }

    /// The families a parent's device sees (empty for the office and a teacher's device:
    /// the office sees every family, a teacher none).
    pub fn family_ids(&self) -> &[Uuid] {
        match self {
            SyncScope::Families { family_ids, .. }
            | SyncScope::ClassesAndFamilies { family_ids, .. } => family_ids,
            SyncScope::School | SyncScope::Classes { .. } => &[],
        }
    }
}

/// An enrolled device: its id, its first `client_id`, its receipt series (office devices;
/// receipt numbers are `{series}-{n:06}`, gapless per series) and scope, plus tokens bound to
/// the device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceRegistration {
    pub device_id: Uuid,
    pub client_id: Uuid,
    pub receipt_series: String,
    pub scope: SyncScope,
    pub tokens: TokenResponse,
}

/// `POST /api/v1/sync/clients`: a new `client_id` for the calling device (after its outbox was
/// salvaged by the lifeboat, the salvaged ops are re-sent from a fresh client with seq from 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewClient {
    pub client_id: Uuid,
    pub scope: SyncScope,
    pub receipt_series: String,
}

/// One local edit (ARCHITECTURE.md §6 "Op envelope"). `op_id` is created and persisted before
/// the first send and reused on every retry; `seq` is strictly +1 per `client_id` from 1;
/// `created_at` is the device clock (shown to people, never used for ordering).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncOp {
    pub op_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub seq: i64,
    /// `name@version`, one of [`MUTATIONS`].
    pub mutation: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: serde_json::Value,
    /// The version of the row the edit was based on (field edits).
    #[serde(default)]
    pub base_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/sync/push`: ops of one client in `seq` order (at most 1,000).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushRequest {
    pub client_id: Uuid,
    pub ops: Vec<SyncOp>,
}

/// How the server decided an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    /// Its effects are committed.
    Applied,
    /// A permanent business refusal (kept on the server's "needs attention" list).
    Rejected,
    /// Applied, except fields that clashed with a newer server value (kept in the conflict
    /// log, listed like rejections).
    Conflict,
}

/// One field whose edit lost to a newer server value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldConflict {
    pub field: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub base_value: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub server_value: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub losing_value: serde_json::Value,
}

/// The server's decision on one op. `replayed` is true when the op had been decided before
/// (a retry): the stored outcome is returned unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OpOutcome {
    pub op_id: Uuid,
    pub seq: i64,
    pub status: OpStatus,
    pub replayed: bool,
    /// The school version that committed it (applied/conflict).
    pub version: Option<i64>,
    /// The mutation's result (applied/conflict), e.g. a [`super::Payment`] with its receipt.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: serde_json::Value,
    /// Stable snake_case reason (rejected), as in the REST problem documents.
    pub code: Option<String>,
    pub message: Option<String>,
    /// The field the reason names, if any (`exceptions[0].student_id`).
    pub field: Option<String>,
    #[serde(default)]
    pub conflicts: Vec<FieldConflict>,
}

/// `POST /api/v1/sync/push` answer: the outcome of a prefix of the ops, in order.
/// `retry_after_secs` is set when a transient failure stopped the batch early: the client
/// re-sends the rest after that many seconds (also the `Retry-After` header).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushResponse {
    pub results: Vec<OpOutcome>,
    /// The seq the server expects next from this client.
    pub next_seq: i64,
    pub retry_after_secs: Option<u64>,
}

/// `GET /api/v1/sync/pull` query. `cursor` is opaque (absent = from the beginning, i.e. a
/// snapshot); `limit` rows per page, 1..=5000 (default 1000).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct PullQuery {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        param(pattern = r"^$|^[0-9]{1,18}(/[^/]+/[\s\S]*)?$")
    )]
    pub cursor: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 5000))]
    pub limit: Option<u32>,
    /// Edits still queued on the device (its outbox's pending ops), shown on the admin's
    /// devices page (issue #17, "Devices"). Optional; older clients do not send it. At most
    /// [`MAX_REPORTED_QUEUE`] (a client with more reports that many).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 1000000))]
    pub queued: Option<u32>,
}

/// The largest queued-edit count a pull may report ([`PullQuery::queued`]).
pub const MAX_REPORTED_QUEUE: u32 = 1_000_000;

/// One enrolled device as `GET /api/v1/devices` lists it (admin; issue #17, "Devices"): whose
/// it is, its receipt series (never reused, also after revocation), when it was enrolled and
/// revoked, and what it last did. Instants are UTC; `queued_ops` is what the device reported
/// on its last pull (`None` before it reported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolledDevice {
    pub id: Uuid,
    pub name: String,
    /// `office`, `teacher` or `parent`.
    pub kind: String,
    pub receipt_series: String,
    pub user_id: Uuid,
    pub username: String,
    pub user_display_name: String,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    pub queued_ops: Option<i32>,
}

/// The format tag of an outbox export file ([`OutboxExport::format`]).
pub const OUTBOX_EXPORT_FORMAT: &str = "daftar-outbox-export/1";

/// An outbox export (issue #17, "Devices"): the edits a device had not yet sent when it was
/// revoked, written by `daftar-agent export-outbox --file FILE` and imported by an admin on
/// another device (`daftar-agent import-outbox --file FILE`, the console's *Devices* page,
/// or `POST /api/v1/devices/import-outbox` with at most 1,000 ops per request).
///
/// The ops keep their `op_id`s and the `seq`s of `client_id`, and the server applies them as
/// if that device had pushed them: as its user, from its receipt series (so receipts printed
/// offline keep their numbers), exactly once (an op already applied is replayed, so importing
/// a file twice, or a file holding ops the device did send, changes nothing). `exported_at`
/// and `revoked_at` are UTC; `revoked_at` is what the device knew when it exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OutboxExport {
    /// Always [`OUTBOX_EXPORT_FORMAT`].
    pub format: String,
    pub exported_at: DateTime<Utc>,
    pub device_id: Uuid,
    pub client_id: Uuid,
    pub school: String,
    pub username: String,
    pub receipt_series: String,
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// In seq order; at most 1,000 per import request.
    pub ops: Vec<SyncOp>,
}

/// One row as the server has it now (or a tombstone). `entity` is the server table name
/// (`students`, `attendance_marks`, …); `row` its JSON image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangeRow {
    pub entity: String,
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub row: Option<serde_json::Value>,
}

/// One page of changes after the cursor, oldest version first. Apply the pages, with
/// `cursor`, in one local transaction once `has_more` is false.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PullResponse {
    pub changes: Vec<ChangeRow>,
    pub cursor: String,
    pub has_more: bool,
    /// The school's version when the page was read.
    pub version: i64,
    /// The device's scope as of this page. When it differs from the scope the replica was
    /// built with (a teacher was given another class), the client starts over from an empty
    /// cursor: rows that entered the scope earlier would otherwise never arrive.
    pub scope: SyncScope,
}

/// A position in the change log: everything up to and including (`version`, `entity`, `id`)
/// has been seen. Written `v` or `v/entity/id`; the empty string is the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub version: i64,
    pub entity: String,
    pub id: String,
}

impl Cursor {
    /// The position after the last change of `version`.
    pub fn at_version(version: i64) -> Cursor {
        Cursor {
            version,
            entity: "\u{10FFFF}".into(),
            id: String::new(),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version == 0 && self.entity.is_empty() {
            Ok(())
        } else if self.entity == "\u{10FFFF}" {
            write!(f, "{}", self.version)
        } else {
            write!(f, "{}/{}/{}", self.version, self.entity, self.id)
        }
    }
}

/// A cursor that is not `v` or `v/entity/id`.
#[derive(Debug, thiserror::Error)]
#[error("cursor `{0}` is not `version` or `version/entity/id`")]
pub struct BadCursor(pub String);

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Cursor::default());
        }
        let bad = || BadCursor(s.to_string());
        let mut parts = s.splitn(3, '/');
        let version: i64 = parts
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(bad)?;
        match (parts.next(), parts.next()) {
            (None, None) => Ok(Cursor::at_version(version)),
            (Some(e), Some(i)) if !e.is_empty() => Ok(Cursor {
                version,
                entity: e.to_string(),
                id: i.to_string(),
            }),
            _ => Err(bad()),
        }
    }
}

/// `GET /api/v1/sync/digest`: per entity, the number of live rows in the device's scope and an
/// order-independent hash (XOR of [`row_digest`]) of the rows at or below `version` (the
/// server's watermark; a replica's cursor). A replica that pulled after the school's last
/// commit equals the server exactly when every entity matches. The versions themselves are not
/// compared: the watermark is a transaction id, and moves with every transaction of the
/// database, the school's or not (ARCHITECTURE.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncDigest {
    pub version: i64,
    pub entities: BTreeMap<String, EntityDigest>,
}

/// Count and hash of one entity's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EntityDigest {
    pub count: i64,
    /// XOR of the rows' [`row_digest`], as 16 hex digits.
    #[serde(with = "hex_u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub hash: u64,
}

impl EntityDigest {
    /// Adds one row.
    pub fn add(&mut self, entity: &str, id: &str, version: i64) {
        self.count += 1;
        self.hash ^= row_digest(entity, id, version);
    }
}

/// The first 8 bytes (big-endian) of SHA-256 over `entity \0 id \0 version`: a row's
/// contribution to [`EntityDigest::hash`]. A row's version identifies its content, since the
/// server gives every change a new version.
pub fn row_digest(entity: &str, id: &str, version: i64) -> u64 {
    let mut h = Sha256::new();
    h.update(entity.as_bytes());
    h.update([0]);
    h.update(id.as_bytes());
    h.update([0]);
    h.update(version.to_string().as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}

/// An op the server rejected, or applied with field conflicts, that nobody has resolved yet
/// (`GET /api/v1/sync/rejections`; office: the school's, others: their own devices').
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Rejection {
    pub op_id: Uuid,
    pub client_id: Uuid,
    pub device_id: Uuid,
    pub seq: i64,
    pub mutation: String,
    pub status: OpStatus,
    pub code: Option<String>,
    pub message: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: serde_json::Value,
    #[serde(default)]
    pub conflicts: Vec<FieldConflict>,
    pub device_created_at: Option<DateTime<Utc>>,
    pub decided_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

/// `POST /api/v1/sync/rejections/{op_id}/resolve`: what a person did about it (1..=500 chars).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResolveRejectionRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub resolution: String,
}

/// Args of `attendance.mark_register@1` / `attendance.override@1`: the register's class and
/// school-local date, plus the REST request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRegisterArgs {
    pub class_id: Uuid,
    pub on_date: NaiveDate,
    #[serde(flatten)]
    pub register: MarkRegisterRequest,
}

/// Result of `attendance.mark_register@1` and `attendance.override@1`: which register, how
/// many marks the op changed, and the students whose office marks a teacher's op left alone.
/// Unlike the REST answer ([`super::MarkRegisterResult`]) it carries no marks: a push's
/// results are stored with every op, and a whole register per op made them most of a push's
/// bytes; the marks reach devices by pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterMarked {
    pub register_id: Uuid,
    pub class_id: Uuid,
    /// The register's date in the school's calendar.
    pub on_date: NaiveDate,
    pub period: i16,
    /// When the register was first taken (UTC).
    pub taken_at: Option<DateTime<Utc>>,
    /// Marks this op wrote (new or different codes).
    pub changed: u32,
    pub kept_office_overrides: Vec<Uuid>,
}

impl From<&super::MarkRegisterResult> for RegisterMarked {
    fn from(r: &super::MarkRegisterResult) -> Self {
        RegisterMarked {
            register_id: r.register.id,
            class_id: r.register.class_id,
            on_date: r.register.on_date,
            period: r.register.period,
            taken_at: r.register.taken_at,
            changed: r.changed,
            kept_office_overrides: r.kept_office_overrides.clone(),
        }
    }
}

/// Args of `payment.reverse@1`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReversePaymentArgs {
    pub payment_id: Uuid,
    pub reason: String,
}

/// Args of `discount.grant@1`: the invoice line plus the REST request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GrantDiscountArgs {
    pub invoice_line_id: Uuid,
    #[serde(flatten)]
    pub discount: GrantDiscountRequest,
}

/// One edited field: the value the edit was based on (as the device saw it) and the new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldEdit {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub base: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: serde_json::Value,
}

/// Args of `student.update@1` and `guardian.update@1`: field name (as in
/// [`super::UpdateStudentRequest`] / [`super::UpdateGuardianRequest`]) → edit. The server
/// applies a field when its current value still equals `base` (or already equals `value`);
/// otherwise the server value stays and the edit is recorded as a [`FieldConflict`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateRecordArgs {
    pub id: Uuid,
    pub fields: BTreeMap<String, FieldEdit>,
}

/// Args of `student.admit@1`: a student admitted offline, with (optionally) a new family made
/// on the device (`new_family`, whose id the student's `family_id` names) and the class to
/// enrol them in from `enrolled_on`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmitStudentArgs {
    #[serde(default)]
    pub new_family: Option<NewFamily>,
    pub student: CreateStudentRequest,
    #[serde(default)]
    pub class_id: Option<Uuid>,
    #[serde(default)]
    pub enrolled_on: Option<NaiveDate>,
}

/// A family created on a device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewFamily {
    pub id: Uuid,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_order() {
        for s in ["", "42", "42/students/0192-ab"] {
            let c: Cursor = s.parse().expect("parses");
            assert_eq!(c.to_string(), s);
        }
        let a: Cursor = "5/students/x".parse().expect("parses");
        let b: Cursor = "5".parse().expect("parses");
        assert!(a < b, "a whole version sorts after any row in it");
        assert!("x".parse::<Cursor>().is_err());
        assert!("5/students".parse::<Cursor>().is_err());
    }

    #[test]
    fn digests_ignore_order() {
        let mut a = EntityDigest::default();
        let mut b = EntityDigest::default();
        a.add("students", "1", 3);
        a.add("students", "2", 4);
        b.add("students", "2", 4);
        b.add("students", "1", 3);
        assert_eq!(a, b);
        let mut c = EntityDigest::default();
        c.add("students", "1", 3);
        c.add("students", "2", 5);
        assert_ne!(a, c);
        let json = serde_json::to_string(&a).expect("serialises");
        assert_eq!(
            serde_json::from_str::<EntityDigest>(&json).expect("parses"),
            a
        );
    }
}
