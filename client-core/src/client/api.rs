//! Typed HTTP client over [`crate::protocol`] (ureq, blocking; rustls for `https`). Access
//! tokens are refreshed on a 401 once per call; every rotated refresh token is handed to the
//! `on_tokens` hook so it is stored before it is needed again (RFC 6819 §5.2.2.3 rotation).

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::{ClientError, ClientResult};
use crate::protocol::sync::{
    DeviceRegistration, EnrolledDevice, NewClient, OpOutcome, OutboxExport, PullResponse,
    PushRequest, PushResponse, RegisterDeviceRequest, Rejection, ResolveRejectionRequest,
    SyncDigest,
};
use crate::protocol::{
    AcademicYear, AdmissionsMapping, AdmissionsPreview, AssignTeacherRequest, AttendanceCode,
    Class, CreateAcademicYearRequest, CreateAttendanceCodeRequest, CreateClassRequest,
    CreateFeeHeadRequest, CreateFeeScheduleRequest, CreateLateFineRuleRequest, CreateUserRequest,
    FeeHead, FeeSchedule, ImportReport, InvoiceRunPreview, InvoiceRunProgress, IssueInvoicesReport,
    LateFineRule, LateFineRun, LoginRequest, Page, Problem, RecoveryCodes, RefreshRequest, School,
    TeacherAssignment, TokenResponse, TwoFactorCode, TwoFactorEnrolment, UpdateLateFineRuleRequest,
    UpdateSchoolRequest, UpdateUserRequest, User,
};

/// Ops per request of [`Api::import_outbox`] (the server takes at most 1,000).
pub const IMPORT_BATCH: usize = 500;

type TokenHook = Arc<dyn Fn(&TokenResponse) + Send + Sync>;
/// Reads the stored (access, refresh) tokens, which another process may have rotated.
type TokenLoader = Arc<dyn Fn() -> Option<(Option<String>, String)> + Send + Sync>;

/// A file the server answered with ([`Api::get_file`]).
#[derive(Debug, Clone)]
pub struct DownloadedFile {
    /// `Content-Type` without parameters, e.g. `text/csv`.
    pub content_type: String,
    /// `Content-Disposition`, e.g. `attachment; filename="dues.csv"`.
    pub disposition: Option<String>,
    pub bytes: Vec<u8>,
}

/// The API of one Daftar server (`base_url` like `http://127.0.0.1:8080`, without `/api/v1`).
#[derive(Clone)]
pub struct Api {
    base: String,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    tokens: Arc<Mutex<(Option<String>, Option<String>)>>,
    /// One refresh at a time: a refresh token is single-use, and presenting it twice (two
    /// threads racing) would make the server revoke the whole session family.
    refresh_lock: Arc<Mutex<()>>,
    on_tokens: Option<TokenHook>,
    loader: Option<TokenLoader>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).finish()
    }
}

impl Api {
    /// A client for `base_url`; requests time out after 30 s (connect: 5 s).
    pub fn new(base_url: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build();
        // SSE streams stay open; a read gap over 45 s (three missed keep-alives) is a dead link.
        let stream_agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(Duration::from_secs(45))
            .build();
        Api {
            base: base_url.trim_end_matches('/').to_string(),
            agent,
            stream_agent,
            tokens: Arc::new(Mutex::new((None, None))),
            refresh_lock: Arc::new(Mutex::new(())),
            on_tokens: None,
            loader: None,
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Calls `hook` with every token response (login, refresh, enrolment) so the caller can
    /// persist the rotated refresh token.
    pub fn on_tokens(mut self, hook: impl Fn(&TokenResponse) + Send + Sync + 'static) -> Self {
        self.on_tokens = Some(Arc::new(hook));
        self
    }

    /// Uses a stored refresh token (the access token is fetched on first use).
    pub fn set_refresh_token(&self, refresh: Option<String>) {
        self.set_tokens(None, refresh);
    }

    /// Uses stored tokens (an expired access token is refreshed on its first 401).
    pub fn set_tokens(&self, access: Option<String>, refresh: Option<String>) {
        if let Ok(mut t) = self.tokens.lock() {
            *t = (access, refresh);
        }
    }

    /// Before refreshing, re-reads the stored tokens with `loader`: if another process
    /// rotated them meanwhile, those are used instead of presenting a spent refresh token.
    pub fn with_token_loader(
        mut self,
        loader: impl Fn() -> Option<(Option<String>, String)> + Send + Sync + 'static,
    ) -> Self {
        self.loader = Some(Arc::new(loader));
        self
    }

    fn access(&self) -> Option<String> {
        self.tokens.lock().ok().and_then(|t| t.0.clone())
    }

    fn take(&self, t: &TokenResponse) {
        if let Ok(mut g) = self.tokens.lock() {
            *g = (Some(t.access_token.clone()), Some(t.refresh_token.clone()));
        }
        if let Some(h) = &self.on_tokens {
            h(t);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    /// `POST /auth/login`. Errors: 401 `invalid_credentials`, 429 with retry-after.
    pub fn login(&self, req: &LoginRequest) -> ClientResult<TokenResponse> {
        let t: TokenResponse = decode(self.agent.post(&self.url("/auth/login")).send_json(req))?;
        self.take(&t);
        Ok(t)
    }

    /// `POST /auth/logout` with the current refresh token, then forgets the tokens.
    pub fn logout(&self) -> ClientResult<()> {
        let refresh = self.tokens.lock().ok().and_then(|t| t.1.clone());
        if let Some(refresh_token) = refresh {
            let r = self
                .agent
                .post(&self.url("/auth/logout"))
                .send_json(RefreshRequest { refresh_token });
            match r {
                Ok(_) | Err(ureq::Error::Status(_, _)) => {}
                Err(e) => return Err(ClientError::Network(e.to_string())),
            }
        }
        self.set_refresh_token(None);
        Ok(())
    }

    /// Gets a new access token because `failed` (the one just refused, or none) is no good.
    fn refresh(&self, failed: Option<&str>) -> ClientResult<()> {
        let _one_at_a_time = self
            .refresh_lock
            .lock()
            .map_err(|_| ClientError::storage("token lock poisoned"))?;
        let current = self.access();
        if current.is_some() && current.as_deref() != failed {
            return Ok(()); // another thread refreshed while we waited
        }
        let mut refresh = self.tokens.lock().ok().and_then(|t| t.1.clone());
        if let Some((access, stored)) = self.loader.as_ref().and_then(|l| l()) {
            if Some(&stored) != refresh.as_ref() {
                // Another process rotated the tokens: adopt them.
                let fresh = access.is_some() && access.as_deref() != failed;
                self.set_tokens(access, Some(stored.clone()));
                if fresh {
                    return Ok(());
                }
                refresh = Some(stored);
            }
        }
        let Some(refresh_token) = refresh else {
            return Err(ClientError::NotEnrolled("no session: log in first".into()));
        };
        let r = self
            .agent
            .post(&self.url("/auth/refresh"))
            .send_json(RefreshRequest { refresh_token });
        match decode::<TokenResponse>(r) {
            Ok(t) => {
                self.take(&t);
                Ok(())
            }
            Err(ClientError::Server { problem, .. }) if problem.status == 401 => {
                Err(ClientError::NotEnrolled(problem.detail))
            }
            Err(e) => Err(e),
        }
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn erased::Body>,
    ) -> ClientResult<T> {
        decode_ok(self.send(method, path, query, body.map(Payload::Json))?)
    }

    /// Sends an authenticated request, refreshing the access token once on a 401; a non-2xx
    /// answer is the server's problem document as [`ClientError::Server`].
    fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<Payload<'_>>,
    ) -> ClientResult<ureq::Response> {
        for attempt in 0..2 {
            let Some(access) = self.access() else {
                self.refresh(None)?;
                continue;
            };
            let mut req = self
                .agent
                .request(method, &self.url(path))
                .set("Authorization", &format!("Bearer {access}"));
            for (k, v) in query {
                req = req.query(k, v);
            }
            let resp = match body {
                Some(Payload::Json(b)) => req.send_json(b.json()),
                Some(Payload::Bytes { media_type, bytes }) => {
                    req.set("Content-Type", media_type).send_bytes(bytes)
                }
                None => req.call(),
            };
            match resp {
                Err(ureq::Error::Status(401, _)) if attempt == 0 => self.refresh(Some(&access))?,
                r => return r.map_err(into_error),
            }
        }
        Err(ClientError::NotEnrolled(
            "the server keeps refusing our token".into(),
        ))
    }

    /// An authenticated GET under `/api/v1` with `query`, answered as a file (a report as CSV
    /// or .xlsx): its content type, its `Content-Disposition` (when the server gave one) and
    /// its bytes (at most 64 MiB).
    ///
    /// Errors: as every call (network, the server's problem document, no session).
    pub fn get_file(&self, path: &str, query: &[(&str, String)]) -> ClientResult<DownloadedFile> {
        let resp = self.send("GET", path, query, None)?;
        let content_type = resp.content_type().to_string();
        let disposition = resp.header("Content-Disposition").map(str::to_string);
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(64 << 20)
            .read_to_end(&mut bytes)
            .map_err(|e| ClientError::Network(format!("reading the answer: {e}")))?;
        Ok(DownloadedFile {
            content_type,
            disposition,
            bytes,
        })
    }

    /// [`Api::get`] with a query string.
    pub fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ClientResult<T> {
        self.call("GET", path, query, None)
    }

    /// `POST /sync/devices`: enrols this device; its device-bound tokens replace the current.
    pub fn register_device(&self, name: &str) -> ClientResult<DeviceRegistration> {
        let body = RegisterDeviceRequest { name: name.into() };
        let reg: DeviceRegistration = self.call("POST", "/sync/devices", &[], Some(&body))?;
        self.take(&reg.tokens);
        Ok(reg)
    }

    /// `POST /sync/clients`: a fresh client id for this device (after an outbox salvage).
    pub fn new_client(&self) -> ClientResult<NewClient> {
        self.call("POST", "/sync/clients", &[], None)
    }

    /// `POST /sync/push`.
    pub fn push(&self, req: &PushRequest) -> ClientResult<PushResponse> {
        self.call("POST", "/sync/push", &[], Some(req))
    }

    /// `GET /sync/pull`, reporting `queued` edits still on this device when given.
    pub fn pull(
        &self,
        cursor: &str,
        limit: u32,
        queued: Option<u32>,
    ) -> ClientResult<PullResponse> {
        let mut query = vec![("cursor", cursor.to_string()), ("limit", limit.to_string())];
        if let Some(q) = queued {
            query.push(("queued", q.to_string()));
        }
        self.call("GET", "/sync/pull", &query, None)
    }

    /// `POST /auth/two-factor/enrol`: a new TOTP secret for this login's user (admin or
    /// accountant), not in force until [`Api::confirm_two_factor`].
    pub fn enrol_two_factor(&self) -> ClientResult<TwoFactorEnrolment> {
        self.call("POST", "/auth/two-factor/enrol", &[], None)
    }

    /// `POST /auth/two-factor/confirm` with the app's `code`: two-factor login is on, and the
    /// ten recovery codes are returned this once.
    pub fn confirm_two_factor(&self, code: &str) -> ClientResult<RecoveryCodes> {
        let body = TwoFactorCode { code: code.into() };
        self.call("POST", "/auth/two-factor/confirm", &[], Some(&body))
    }

    /// `GET /devices` (admin): every device enrolled at the school, revoked ones included.
    pub fn devices(&self) -> ClientResult<Vec<EnrolledDevice>> {
        self.call("GET", "/devices", &[], None)
    }

    /// `POST /devices/{id}/revoke` (admin): revokes device `id` at once (idempotent).
    pub fn revoke_device(&self, id: Uuid) -> ClientResult<EnrolledDevice> {
        self.call("POST", &format!("/devices/{id}/revoke"), &[], None)
    }

    /// `POST /devices/import-outbox` (admin): imports a revoked device's [`OutboxExport`]
    /// in requests of at most [`IMPORT_BATCH`] ops, in seq order, and returns every op's
    /// outcome. The server applies them as that device's pushes would (its user, its receipt
    /// series), exactly once: re-importing replays.
    ///
    /// Errors: the server's problem (403 for a non-admin, 404 unknown device, 409
    /// `device_not_revoked`, 409 `seq_gap`, 422 naming a field); network errors. Ops of the
    /// requests answered before an error stay applied; importing the file again is safe.
    pub fn import_outbox(&self, export: &OutboxExport) -> ClientResult<Vec<OpOutcome>> {
        let mut outcomes = Vec::with_capacity(export.ops.len());
        for chunk in export.ops.chunks(IMPORT_BATCH) {
            let part = OutboxExport {
                ops: chunk.to_vec(),
                ..export.clone()
            };
            let resp: PushResponse =
                self.call("POST", "/devices/import-outbox", &[], Some(&part))?;
            let complete = resp.results.len() == chunk.len();
            outcomes.extend(resp.results);
            if !complete {
                return Err(ClientError::Network(format!(
                    "the server stopped the import after {} of {} ops (retry in {} s; importing again is safe)",
                    outcomes.len(),
                    export.ops.len(),
                    resp.retry_after_secs.unwrap_or(1)
                )));
            }
        }
        Ok(outcomes)
    }

    /// `POST /imports/admissions` (admin): the spreadsheet `bytes` (`media_type` one of
    /// `.xlsx`'s, `.ods`'s or `text/csv`) previewed, or with `commit` written in one
    /// transaction. `file_name` names the file in the server's messages.
    ///
    /// Errors: the server's problem (403 for a non-admin; 415 another media type; 422
    /// `import_failed` for a file that cannot be read, `import_has_errors` for a commit with
    /// row errors); network errors.
    pub fn import_admissions(
        &self,
        bytes: &[u8],
        media_type: &str,
        file_name: &str,
        commit: bool,
        group_by_phone: bool,
    ) -> ClientResult<AdmissionsPreview> {
        let query = [
            ("file_name", file_name.to_string()),
            ("commit", commit.to_string()),
            ("group_by_phone", group_by_phone.to_string()),
        ];
        let resp = self.send(
            "POST",
            "/imports/admissions",
            &query,
            Some(Payload::Bytes { media_type, bytes }),
        )?;
        decode_ok(resp)
    }

    /// `POST /imports/oneroster` (admin): a OneRoster 1.1 export zipped; with `dry_run` the
    /// server reports what it would change and keeps nothing.
    ///
    /// Errors: the server's problem (403; 422 `import_failed` naming file, line and column).
    pub fn import_oneroster(&self, zip: &[u8], dry_run: bool) -> ClientResult<ImportReport> {
        let resp = self.send(
            "POST",
            "/imports/oneroster",
            &[("dry_run", dry_run.to_string())],
            Some(Payload::Bytes {
                media_type: "application/zip",
                bytes: zip,
            }),
        )?;
        decode_ok(resp)
    }

    /// `GET /imports/admissions/mapping` (admin): the school's remembered column mapping.
    pub fn admissions_mapping(&self) -> ClientResult<AdmissionsMapping> {
        self.call("GET", "/imports/admissions/mapping", &[], None)
    }

    /// `PUT /imports/admissions/mapping` (admin). Errors: 422 naming `columns.<field>`.
    pub fn set_admissions_mapping(
        &self,
        mapping: &AdmissionsMapping,
    ) -> ClientResult<AdmissionsMapping> {
        self.call("PUT", "/imports/admissions/mapping", &[], Some(mapping))
    }

    /// `GET /school`: the caller's school and its settings.
    pub fn school(&self) -> ClientResult<School> {
        self.call("GET", "/school", &[], None)
    }

    /// `PATCH /school` (admin): changes the school's settings. Errors: 422 naming the field,
    /// 409 `currency_in_use`.
    pub fn update_school(&self, req: &UpdateSchoolRequest) -> ClientResult<School> {
        self.call("PATCH", "/school", &[], Some(req))
    }

    /// `GET /attendance-codes`: the school's attendance codes.
    pub fn attendance_codes(&self) -> ClientResult<Vec<AttendanceCode>> {
        self.call("GET", "/attendance-codes", &[], None)
    }

    /// `POST /attendance-codes` (admin): a new code. Errors: 422 naming the field, 409 for a
    /// code in use.
    pub fn create_attendance_code(
        &self,
        req: &CreateAttendanceCodeRequest,
    ) -> ClientResult<AttendanceCode> {
        self.call("POST", "/attendance-codes", &[], Some(req))
    }

    /// `GET /academic-years`: the school's years, each with its terms.
    pub fn academic_years(&self) -> ClientResult<Vec<AcademicYear>> {
        self.call("GET", "/academic-years", &[], None)
    }

    /// `POST /academic-years` (admin): a year and its terms in one transaction. Errors: 422
    /// naming the field (dates outside the year, overlapping terms), 409 for a name in use.
    pub fn create_academic_year(
        &self,
        req: &CreateAcademicYearRequest,
    ) -> ClientResult<AcademicYear> {
        self.call("POST", "/academic-years", &[], Some(req))
    }

    /// `GET /classes`: the school's classes (at most 500, the listing's largest page).
    pub fn classes(&self) -> ClientResult<Page<Class>> {
        self.call("GET", "/classes", &[("limit", "500".into())], None)
    }

    /// `POST /classes` (admin). Errors: 422 naming the field, 409 for a name in use.
    pub fn create_class(&self, req: &CreateClassRequest) -> ClientResult<Class> {
        self.call("POST", "/classes", &[], Some(req))
    }

    /// `GET /users` (admin): the school's logins (at most 500).
    pub fn users(&self) -> ClientResult<Page<User>> {
        self.call("GET", "/users", &[("limit", "500".into())], None)
    }

    /// `POST /users` (admin): a new login. Errors: 422 naming the field (password 10..=256
    /// characters, username characters), 409 for a username in use.
    pub fn create_user(&self, req: &CreateUserRequest) -> ClientResult<User> {
        self.call("POST", "/users", &[], Some(req))
    }

    /// `PATCH /users/{id}` (admin): only the fields present change; a new password also
    /// clears a lock-out after wrong passwords, and `active: false` ends the user's sessions
    /// at once. Errors: 422 naming the field (an admin cannot demote or deactivate
    /// themselves), 404.
    pub fn update_user(&self, id: Uuid, req: &UpdateUserRequest) -> ClientResult<User> {
        self.call("PATCH", &format!("/users/{id}"), &[], Some(req))
    }

    /// `GET /classes/{id}/teachers`: the class's teachers.
    pub fn class_teachers(&self, class_id: Uuid) -> ClientResult<Vec<TeacherAssignment>> {
        self.call("GET", &format!("/classes/{class_id}/teachers"), &[], None)
    }

    /// `PUT /classes/{id}/teachers/{teacher_id}` (admin): the teacher teaches the class
    /// (idempotent), with `subject` when given (issue #17; empty clears it). Errors: 404, 422
    /// when the user is not a teacher or the subject is too long.
    pub fn assign_teacher(
        &self,
        class_id: Uuid,
        teacher_id: Uuid,
        subject: Option<&str>,
    ) -> ClientResult<()> {
        let body = AssignTeacherRequest {
            subject: subject.map(str::to_string),
        };
        let resp = self.send(
            "PUT",
            &format!("/classes/{class_id}/teachers/{teacher_id}"),
            &[],
            Some(Payload::Json(&body)),
        )?;
        drop(resp);
        Ok(())
    }

    /// `POST /users/{id}/two-factor/reset` (admin): turns another user's two-factor login off
    /// and ends their logins (a lost phone). Errors: 409 `two_factor_not_on`.
    pub fn reset_two_factor(&self, user_id: Uuid) -> ClientResult<()> {
        self.send(
            "POST",
            &format!("/users/{user_id}/two-factor/reset"),
            &[],
            None,
        )?;
        Ok(())
    }

    /// `GET /class-teachers` (office): every teacher assignment of the school, with subjects.
    pub fn all_class_teachers(&self) -> ClientResult<Vec<TeacherAssignment>> {
        self.call("GET", "/class-teachers", &[], None)
    }

    /// `GET /fee-heads` (office).
    pub fn fee_heads(&self) -> ClientResult<Vec<FeeHead>> {
        self.call("GET", "/fee-heads", &[], None)
    }

    /// `POST /fee-heads` (office): a fee head with its own income account.
    pub fn create_fee_head(&self, req: &CreateFeeHeadRequest) -> ClientResult<FeeHead> {
        self.call("POST", "/fee-heads", &[], Some(req))
    }

    /// `GET /fee-schedules` (office): every term's schedules.
    pub fn fee_schedules(&self) -> ClientResult<Vec<FeeSchedule>> {
        self.call("GET", "/fee-schedules", &[], None)
    }

    /// `POST /fee-schedules` (office): what one class pays for one fee head in a term.
    /// Errors: 422 naming the field (amount, due date), 409 when the class already has that
    /// head in that term.
    pub fn create_fee_schedule(&self, req: &CreateFeeScheduleRequest) -> ClientResult<FeeSchedule> {
        self.call("POST", "/fee-schedules", &[], Some(req))
    }

    /// `GET /terms/{id}/invoices/preview` (office): what the term's invoice run would issue
    /// now; writes nothing.
    pub fn preview_invoices(&self, term_id: Uuid) -> ClientResult<InvoiceRunPreview> {
        self.call(
            "GET",
            &format!("/terms/{term_id}/invoices/preview"),
            &[],
            None,
        )
    }

    /// `GET /terms/{id}/invoices/progress` (office): how far the term's invoice run has got.
    pub fn invoice_run_progress(&self, term_id: Uuid) -> ClientResult<InvoiceRunProgress> {
        self.call(
            "GET",
            &format!("/terms/{term_id}/invoices/progress"),
            &[],
            None,
        )
    }

    /// `POST /terms/{id}/invoices` (office): issues the term's invoices; students already
    /// invoiced are skipped, so repeating it is safe. Errors: 422 `nothing_to_invoice`.
    pub fn issue_invoices(&self, term_id: Uuid) -> ClientResult<IssueInvoicesReport> {
        self.call("POST", &format!("/terms/{term_id}/invoices"), &[], None)
    }

    /// `GET /school/logo`: the school's receipt logo (its media type and bytes), or `None` when
    /// the school has none (issue #17).
    pub fn school_logo(&self) -> ClientResult<Option<DownloadedFile>> {
        match self.get_file("/school/logo", &[]) {
            Ok(f) => Ok(Some(f)),
            Err(ClientError::Server { problem, .. }) if problem.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /school/logo` (admin): `bytes` of `media_type` (`image/png` or `image/jpeg`, at
    /// most 256 KiB) become the receipt logo. Errors: 415 another type, 413 too large, 422 not
    /// the image its type says.
    pub fn set_school_logo(&self, media_type: &str, bytes: &[u8]) -> ClientResult<School> {
        decode_ok(self.send(
            "PUT",
            "/school/logo",
            &[],
            Some(Payload::Bytes { media_type, bytes }),
        )?)
    }

    /// `DELETE /school/logo` (admin). Errors: 404 when there is none.
    pub fn remove_school_logo(&self) -> ClientResult<()> {
        self.send("DELETE", "/school/logo", &[], None)?;
        Ok(())
    }

    /// `GET /late-fine-rules` (office): the school's late-fine rules (issue #17).
    pub fn late_fine_rules(&self) -> ClientResult<Vec<LateFineRule>> {
        self.call("GET", "/late-fine-rules", &[], None)
    }

    /// `POST /late-fine-rules` (admin). Errors: 422 naming `name`, `grace_days` or `amount`;
    /// 409 when the name is taken.
    pub fn create_late_fine_rule(
        &self,
        req: &CreateLateFineRuleRequest,
    ) -> ClientResult<LateFineRule> {
        self.call("POST", "/late-fine-rules", &[], Some(req))
    }

    /// `PATCH /late-fine-rules/{id}` (admin): switch a rule off or on.
    pub fn update_late_fine_rule(
        &self,
        id: Uuid,
        req: &UpdateLateFineRuleRequest,
    ) -> ClientResult<LateFineRule> {
        self.call("PATCH", &format!("/late-fine-rules/{id}"), &[], Some(req))
    }

    /// `GET /late-fine-rules/{id}/preview` (office): what a run today would fine.
    pub fn preview_late_fines(&self, id: Uuid) -> ClientResult<LateFineRun> {
        self.call("GET", &format!("/late-fine-rules/{id}/preview"), &[], None)
    }

    /// `POST /late-fine-rules/{id}/apply` (office): fines every invoice the rule finds today,
    /// once. Errors: 409 `rule_inactive`.
    pub fn apply_late_fines(&self, id: Uuid) -> ClientResult<LateFineRun> {
        self.call("POST", &format!("/late-fine-rules/{id}/apply"), &[], None)
    }

    /// `GET /sync/digest`.
    pub fn digest(&self) -> ClientResult<SyncDigest> {
        self.call("GET", "/sync/digest", &[], None)
    }

    /// `GET /sync/rejections`.
    pub fn rejections(&self) -> ClientResult<Vec<Rejection>> {
        self.call("GET", "/sync/rejections", &[], None)
    }

    /// `POST /sync/rejections/{op_id}/resolve`.
    pub fn resolve_rejection(&self, op_id: Uuid, resolution: &str) -> ClientResult<()> {
        let body = ResolveRejectionRequest {
            resolution: resolution.into(),
        };
        self.call::<serde_json::Value>(
            "POST",
            &format!("/sync/rejections/{op_id}/resolve"),
            &[],
            Some(&body),
        )
        .map(|_| ())
    }

    /// Any authenticated GET under `/api/v1` (reports, registers), decoded as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.call("GET", path, &[], None)
    }

    /// `GET /sync/events`: calls `on_poke(version)` for every poke until the stream ends or
    /// `on_poke` returns false. Errors: network errors (the caller falls back to polling).
    pub fn events(&self, mut on_poke: impl FnMut(i64) -> bool) -> ClientResult<()> {
        for attempt in 0..2 {
            let Some(access) = self.access() else {
                self.refresh(None)?;
                continue;
            };
            let resp = self
                .stream_agent
                .get(&self.url("/sync/events"))
                .set("Authorization", &format!("Bearer {access}"))
                .set("Accept", "text/event-stream")
                .call();
            let resp = match resp {
                Err(ureq::Error::Status(401, _)) if attempt == 0 => {
                    self.refresh(Some(&access))?;
                    continue;
                }
                Err(e) => return Err(into_error(e)),
                Ok(r) => r,
            };
            let mut data = String::new();
            for line in BufReader::new(resp.into_reader()).lines() {
                let line = line.map_err(|e| ClientError::Network(e.to_string()))?;
                if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim().to_string();
                } else if line.is_empty() && !data.is_empty() {
                    if let Ok(v) = data.parse::<i64>() {
                        if !on_poke(v) {
                            return Ok(());
                        }
                    }
                    data.clear();
                }
            }
            return Ok(());
        }
        Ok(())
    }
}

fn into_error(e: ureq::Error) -> ClientError {
    match e {
        ureq::Error::Status(status, resp) => {
            let retry_after = resp
                .header("Retry-After")
                .and_then(|v| v.trim().parse().ok());
            let mut body = String::new();
            let _ = resp.into_reader().take(1 << 20).read_to_string(&mut body);
            let problem = serde_json::from_str::<Problem>(&body).unwrap_or(Problem {
                type_uri: "about:blank".into(),
                title: "Error".into(),
                status,
                detail: body.chars().take(500).collect(),
                code: format!("http_{status}"),
                field: None,
            });
            ClientError::Server {
                problem: Box::new(problem),
                retry_after,
            }
        }
        ureq::Error::Transport(t) => ClientError::Network(t.to_string()),
    }
}

fn decode<T: DeserializeOwned>(r: Result<ureq::Response, ureq::Error>) -> ClientResult<T> {
    let resp = r.map_err(into_error)?;
    decode_ok(resp)
}

fn decode_ok<T: DeserializeOwned>(resp: ureq::Response) -> ClientResult<T> {
    if resp.status() == 204 {
        return serde_json::from_value(serde_json::Value::Null)
            .map_err(|e| ClientError::Network(format!("unexpected empty answer: {e}")));
    }
    resp.into_json::<T>()
        .map_err(|e| ClientError::Network(format!("reading the answer: {e}")))
}

/// A request body: JSON, or a file's bytes with its media type.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Json(&'a dyn erased::Body),
    Bytes {
        media_type: &'a str,
        bytes: &'a [u8],
    },
}

mod erased {
    /// A JSON request body behind a trait object (so `call` need not be generic over it).
    pub trait Body {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Body for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
