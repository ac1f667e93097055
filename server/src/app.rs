//! Routes, shared state and the OpenAPI document.
//!
//! Every endpoint is registered through `utoipa_actix_web`, so the served spec
//! (`/api/v1/openapi.json`), the committed `openapi/openapi.json` and the routes cannot drift
//! apart: the drift test regenerates the file with [`openapi_json`] and compares.

use actix_web::{web, App, HttpRequest};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::AuthConfig;
use crate::db::Db;
use crate::edge::RouteTable;
use crate::errors::ApiError;
use crate::sync::events::Pokes;
use crate::{
    admissions, attendance, audit_viewer, auth, health, ledger, oneroster, reports, roster, sync,
};

/// Shared state handed to every worker.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub auth: AuthConfig,
    /// Fan-out of sync pokes to this process's SSE streams.
    pub pokes: Pokes,
    /// Invoice runs in progress in this process (shared by its workers), for the progress
    /// the console shows while a run issues (issue #17).
    pub invoice_runs: crate::ledger::invoicing::InvoiceRuns,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Daftar API",
        description = "Offline-first school ERP: roster, auth, ledger, attendance and sync. \
                       Errors are RFC 9457 problem documents. Money is integer minor units \
                       with an ISO 4217 currency; instants are UTC.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Login, token refresh, logout"),
        (name = "roster", description = "Classes, students, families, guardians, enrollments"),
        (name = "users", description = "Staff and parent logins (admin)"),
        (name = "imports", description = "OneRoster 1.1 CSV import and spreadsheet admissions"),
        (name = "fees", description = "Fee heads, schedules, invoices, payments, dues and statements"),
        (name = "attendance", description = "Codes, registers, marks and attendance views"),
        (name = "reports", description = "Reports computed from the journal, as JSON, CSV or Excel"),
        (name = "sync", description = "Offline sync: device enrolment, push, pull, pokes, digest, rejections"),
        (name = "audit", description = "The audit log: who changed what, from which device, before and after (admin)"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

fn query_error(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::validation("query", err.to_string()).into()
}

fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::validation("path", err.to_string()).into()
}

/// Path of the served OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Registers every route: Swagger UI at `/docs/`, the OpenAPI document at [`OPENAPI_PATH`],
/// the API under `/api/v1`, and a default service answering unrouted requests with 404 or 405
/// problem documents ([`crate::edge`]).
pub fn build_app(
    state: AppState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let spec = openapi_document();
    let table = RouteTable::from_openapi(&spec, &[(OPENAPI_PATH, "get")]);
    // The spec and Swagger UI come before the `/api/v1` scope: a scope that matches a prefix
    // never falls through to later services, which is how `openapi.json` used to answer 404.
    let (app, _) = App::new()
        .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked(OPENAPI_PATH, spec))
        .service(web::redirect("/docs", "/docs/"))
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(web::Data::new(state.db.clone()))
        .app_data(web::Data::new(state.auth.clone()))
        .app_data(web::Data::new(state.pokes.clone()))
        .app_data(web::Data::new(state.invoice_runs.clone()))
        .app_data(web::Data::new(table))
        // Request bodies are read by `crate::json::Json` up to its own limit; without this the
        // extractor's default (256 KiB) refused a full push batch of larger ops.
        .app_data(web::PayloadConfig::new(crate::json::MAX_JSON_BODY))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(health::healthz)
        .service(health::readyz)
        .service(routes())
        .split_for_parts();
    app.default_service(web::to(crate::edge::unrouted))
        .wrap(actix_web::middleware::from_fn(
            crate::edge::reject_nul_in_query,
        ))
        .wrap(tracing_actix_web::TracingLogger::default())
}

fn routes() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    scope::scope("/api/v1")
        .service(sync::handlers::register_device)
        .service(sync::handlers::new_client)
        .service(sync::handlers::push_ops)
        .service(sync::handlers::pull_changes)
        .service(sync::handlers::digest)
        .service(sync::handlers::events)
        .service(sync::handlers::list_rejections)
        .service(sync::handlers::resolve_rejection)
        .service(sync::handlers::list_devices)
        .service(sync::handlers::revoke_device)
        .service(sync::handlers::import_outbox)
        .service(auth::handlers::login)
        .service(auth::handlers::refresh)
        .service(auth::handlers::logout)
        .service(auth::handlers::me)
        .service(auth::handlers::enrol_two_factor)
        .service(auth::handlers::confirm_two_factor)
        .service(auth::handlers::disable_two_factor)
        .service(auth::handlers::reset_two_factor)
        .service(auth::handlers::get_two_factor_policy)
        .service(auth::handlers::set_two_factor_policy)
        .service(roster::handlers::get_school)
        .service(roster::handlers::update_school)
        .service(roster::handlers::get_school_logo)
        .service(roster::handlers::set_school_logo)
        .service(roster::handlers::remove_school_logo)
        .service(roster::handlers::list_terms)
        .service(roster::handlers::list_academic_years)
        .service(roster::handlers::create_academic_year)
        .service(roster::handlers::list_students)
        .service(roster::handlers::get_student)
        .service(roster::handlers::create_student)
        .service(roster::handlers::update_student)
        .service(roster::handlers::delete_student)
        .service(roster::handlers::list_families)
        .service(roster::handlers::get_family)
        .service(roster::handlers::create_family)
        .service(roster::handlers::update_family)
        .service(roster::handlers::delete_family)
        .service(roster::handlers::list_guardians)
        .service(roster::handlers::get_guardian)
        .service(roster::handlers::create_guardian)
        .service(roster::handlers::update_guardian)
        .service(roster::handlers::delete_guardian)
        .service(roster::handlers::list_classes)
        .service(roster::handlers::get_class)
        .service(roster::handlers::class_roster)
        .service(roster::handlers::create_class)
        .service(roster::handlers::update_class)
        .service(roster::handlers::delete_class)
        .service(roster::handlers::list_class_teachers)
        .service(roster::handlers::assign_teacher)
        .service(roster::handlers::list_all_class_teachers)
        .service(roster::handlers::unassign_teacher)
        .service(roster::handlers::list_enrollments)
        .service(roster::handlers::create_enrollment)
        .service(roster::handlers::delete_enrollment)
        .service(roster::handlers::list_users)
        .service(roster::handlers::get_user)
        .service(roster::handlers::create_user)
        .service(roster::handlers::update_user)
        .service(roster::handlers::delete_user)
        .service(oneroster::handlers::import_oneroster)
        .service(admissions::handlers::import_admissions)
        .service(admissions::handlers::get_admissions_mapping)
        .service(admissions::handlers::set_admissions_mapping)
        .service(admissions::handlers::admissions_template)
        .service(ledger::handlers::list_fee_heads)
        .service(ledger::handlers::create_fee_head)
        .service(ledger::handlers::list_fee_schedules)
        .service(ledger::handlers::create_fee_schedule)
        .service(ledger::handlers::preview_invoices)
        .service(ledger::handlers::issue_invoices)
        .service(ledger::handlers::invoice_run_progress)
        .service(ledger::handlers::record_payment)
        .service(ledger::handlers::list_suspense)
        .service(ledger::handlers::assign_suspense)
        .service(ledger::handlers::list_accounts)
        .service(ledger::handlers::create_account)
        .service(ledger::handlers::get_payment)
        .service(ledger::handlers::family_dues)
        .service(ledger::handlers::family_statement)
        .service(ledger::handlers::family_invoices)
        .service(ledger::handlers::family_payments)
        .service(ledger::handlers::grant_discount)
        .service(ledger::handlers::add_fine)
        .service(ledger::handlers::list_late_fine_rules)
        .service(ledger::handlers::create_late_fine_rule)
        .service(ledger::handlers::update_late_fine_rule)
        .service(ledger::handlers::preview_late_fines)
        .service(ledger::handlers::apply_late_fines)
        .service(ledger::handlers::refund)
        .service(ledger::handlers::reverse_payment)
        .service(attendance::handlers::list_codes)
        .service(attendance::handlers::create_code)
        .service(attendance::handlers::mark_register)
        .service(attendance::handlers::get_register)
        .service(attendance::handlers::class_grid)
        .service(attendance::handlers::student_attendance)
        .service(attendance::handlers::not_taken)
        .service(attendance::handlers::daily_summary)
        .service(attendance::handlers::my_registers)
        .service(reports::handlers::trial_balance)
        .service(reports::handlers::dues)
        .service(reports::handlers::collections)
        .service(reports::handlers::income)
        .service(reports::handlers::defaulters)
        .service(reports::handlers::zero_activity)
        .service(reports::handlers::family_statement)
        .service(audit_viewer::handlers::list_audit_log)
}

/// The OpenAPI document the routes describe, completed by [`crate::spec::complete`] (error
/// media types and the error statuses every operation can answer). Served at
/// [`OPENAPI_PATH`] and committed as `openapi/openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(health::healthz)
        .service(health::readyz)
        .service(routes())
        .split_for_parts();
    let mut spec = serde_json::to_value(&api).unwrap_or_default();
    crate::spec::complete(&mut spec);
    spec
}

/// The OpenAPI document as pretty JSON with a trailing newline: exactly what
/// `openapi/openapi.json` must contain.
pub fn openapi_json() -> String {
    let mut s = serde_json::to_string_pretty(&openapi_document()).unwrap_or_default();
    s.push('\n');
    s
}
