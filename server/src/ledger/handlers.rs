//! Fee and ledger endpoints under `/api/v1` (ARCHITECTURE.md §4).

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::Utc;
use daftar_client_core::protocol::{
    Account, AddFineRequest, AssignSuspenseRequest, CreateAccountRequest, CreateFeeHeadRequest,
    CreateFeeScheduleRequest, CreateLateFineRuleRequest, Discount, FamilyDues, FamilyStatement,
    FeeHead, FeeSchedule, Fine, GrantDiscountRequest, InvoiceDue, InvoiceRunPreview,
    InvoiceRunProgress, IssueInvoicesReport, LateFineRule, LateFineRun, Payment, PaymentReversal,
    Problem, RecordPaymentRequest, Refund, RefundRequest, ReversePaymentRequest,
    UpdateLateFineRuleRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::adjustments;
use super::invoicing::InvoiceRuns;
use super::late_fines;
use super::models::{AccountRow, FeeHeadRow, FeeScheduleRow};
use super::payments::{self, Recorded};
use super::repo;
use super::service;
use super::setup;
use crate::access::Scope;
use crate::audit::Actor;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;
use crate::schema::{accounts, fee_heads, fee_schedules};

fn head_wire(r: FeeHeadRow) -> FeeHead {
    FeeHead {
        id: r.id,
        name: r.name,
        income_account_id: r.income_account_id,
        active: r.active,
    }
}

fn schedule_wire(r: FeeScheduleRow) -> FeeSchedule {
    FeeSchedule {
        id: r.id,
        term_id: r.term_id,
        class_id: r.class_id,
        fee_head_id: r.fee_head_id,
        amount: r.amount,
        due_on: r.due_on,
    }
}

/// Fee heads (office).
#[utoipa::path(tag = "fees", security(("bearer" = [])), responses((status = 200, body = Vec<FeeHead>), (status = 403, body = Problem)))]
#[get("/fee-heads")]
pub async fn list_fee_heads(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<FeeHead>>> {
    auth.require_office()?;
    let rows: Vec<FeeHeadRow> = db
        .run(move |conn| {
            Ok(fee_heads::table
                .filter(fee_heads::school_id.eq(auth.school_id))
                .order(fee_heads::name)
                .select(FeeHeadRow::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(head_wire).collect()))
}

/// Create a fee head (office) with its own "Fee Income — <name>" income account.
#[utoipa::path(tag = "fees", request_body = CreateFeeHeadRequest, security(("bearer" = [])),
    responses((status = 201, body = FeeHead), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/fee-heads")]
pub async fn create_fee_head(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateFeeHeadRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let row = db
        .transaction(move |conn| {
            setup::create_fee_head(conn, auth.school_id, Actor::from(&auth), &req)
        })
        .await?;
    Ok(HttpResponse::Created().json(head_wire(row)))
}

/// Fee schedules of a term (office); `?term_id=` narrows.
#[utoipa::path(tag = "fees", params(("term_id" = Option<Uuid>, Query, description = "Only this term")), security(("bearer" = [])),
    responses((status = 200, body = Vec<FeeSchedule>), (status = 403, body = Problem)))]
#[get("/fee-schedules")]
pub async fn list_fee_schedules(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<TermFilter>,
) -> ApiResult<web::Json<Vec<FeeSchedule>>> {
    auth.require_office()?;
    let term = q.term_id;
    let rows: Vec<FeeScheduleRow> = db
        .run(move |conn| {
            let mut query = fee_schedules::table
                .filter(fee_schedules::school_id.eq(auth.school_id))
                .into_boxed();
            if let Some(t) = term {
                query = query.filter(fee_schedules::term_id.eq(t));
            }
            Ok(query
                .order((fee_schedules::due_on, fee_schedules::id))
                .select(FeeScheduleRow::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(schedule_wire).collect()))
}

/// `?term_id=` filter.
#[derive(Debug, serde::Deserialize)]
pub struct TermFilter {
    pub term_id: Option<Uuid>,
}

/// Set what a class pays for a fee head in a term, and when it is due (office).
#[utoipa::path(tag = "fees", request_body = CreateFeeScheduleRequest, security(("bearer" = [])),
    responses((status = 201, body = FeeSchedule), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/fee-schedules")]
pub async fn create_fee_schedule(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateFeeScheduleRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let row = db
        .transaction(move |conn| {
            setup::create_fee_schedule(conn, auth.school_id, Actor::from(&auth), &req)
        })
        .await?;
    Ok(HttpResponse::Created().json(schedule_wire(row)))
}

/// Issue the term's invoices (office): one per enrolled student of the scheduled classes, one
/// line per fee head; Family Credit is applied to them at once. Safe to repeat: students
/// already invoiced for the term are skipped. While it runs, `GET …/invoices/progress` says
/// how far it got.
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = IssueInvoicesReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/terms/{id}/invoices")]
pub async fn issue_invoices(
    db: web::Data<Db>,
    runs: web::Data<InvoiceRuns>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<IssueInvoicesReport>> {
    auth.require_office()?;
    let (school, term) = (auth.school_id, id.into_inner());
    let tracker = runs.get_ref().clone();
    let report = db
        .transaction(move |conn| {
            let today = crate::calendar::local_date(conn, school, Utc::now())?;
            super::invoicing::issue_invoices_reporting(
                conn,
                school,
                term,
                Actor::from(&auth),
                today,
                &mut |issued, total| tracker.report(school, term, issued, total, true),
            )
        })
        .await;
    // Over: a rolled-back run issued nothing.
    let last = runs.progress(school, term);
    let issued = if report.is_ok() { last.issued } else { 0 };
    runs.report(school, term, issued, last.total, false);
    Ok(web::Json(report?))
}

/// How far the term's invoice run has got (office; issue #17): `issued` of `total` while
/// `running`, else the last run's figures (in this server process).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = InvoiceRunProgress), (status = 403, body = Problem)))]
#[get("/terms/{id}/invoices/progress")]
pub async fn invoice_run_progress(
    runs: web::Data<InvoiceRuns>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<InvoiceRunProgress>> {
    auth.require_office()?;
    Ok(web::Json(runs.progress(auth.school_id, id.into_inner())))
}

/// What issuing the term's invoices would do now (office), writing nothing: the count, total
/// and families of the invoices it would issue, the students it would skip as already
/// invoiced, and the total per fee head (issue #17).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = InvoiceRunPreview), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/terms/{id}/invoices/preview")]
pub async fn preview_invoices(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<InvoiceRunPreview>> {
    auth.require_office()?;
    let term = id.into_inner();
    let preview = db
        .run(move |conn| super::invoicing::preview_invoices(conn, auth.school_id, term))
        .await?;
    Ok(web::Json(preview))
}

/// Record a family payment (office) and issue its receipt. Replays of the same `id` return the
/// original (200); a new payment answers 201.
#[utoipa::path(tag = "fees", request_body = RecordPaymentRequest, security(("bearer" = [])),
    responses((status = 201, body = Payment), (status = 200, description = "Replay of an earlier request", body = Payment),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/payments")]
pub async fn record_payment(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<RecordPaymentRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let recorded = db
        .transaction(move |conn| {
            payments::record_payment(conn, auth.school_id, Actor::from(&auth), &req)
        })
        .await?;
    Ok(match recorded {
        Recorded::New(p) => HttpResponse::Created().json(p),
        Recorded::Replayed(p) => HttpResponse::Ok().json(p),
    })
}

/// One payment with its receipt and allocations (office, or a parent of the paying family).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = Payment), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/payments/{id}")]
pub async fn get_payment(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Payment>> {
    let id = id.into_inner();
    let p = db
        .run(move |conn| {
            let p = service::load_payment(conn, auth.school_id, id)?;
            ensure_family(conn, &auth, p.family_id)?;
            Ok(p)
        })
        .await?;
    Ok(web::Json(p))
}

/// Runs `read` for family `id` after checking it exists in the caller's school and that the
/// caller may see its money (office, or a parent of that family): the shared shape of the
/// family money views.
async fn read_family<T, F>(db: &Db, auth: AuthUser, id: Uuid, read: F) -> ApiResult<web::Json<T>>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection, Uuid, Uuid) -> ApiResult<T> + Send + 'static,
{
    let out = db
        .run(move |conn| {
            crate::roster::repo::family(conn, auth.school_id, id)
                .map_err(|_| ApiError::NotFound("family"))?;
            ensure_family(conn, &auth, Some(id))?;
            read(conn, auth.school_id, id)
        })
        .await?;
    Ok(web::Json(out))
}

/// Ok when the caller's [`Scope`] sees `family`'s money (`None`: cash held in Suspense, which
/// only the office sees).
fn ensure_family(conn: &mut PgConnection, auth: &AuthUser, family: Option<Uuid>) -> ApiResult<()> {
    let scope = Scope::of(conn, auth)?;
    match family {
        Some(f) => scope.require_family(f),
        None if scope == Scope::School => Ok(()),
        None => Err(ApiError::forbidden("only the office sees unassigned cash")),
    }
}

/// What a family owes (office, or a parent of that family): per student and per invoice,
/// oldest due first, and its credit balance.
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = FamilyDues), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/families/{id}/dues")]
pub async fn family_dues(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<FamilyDues>> {
    read_family(&db, auth, id.into_inner(), service::family_dues).await
}

/// A family's statement with running balance (office, or a parent of that family).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = FamilyStatement), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/families/{id}/statement")]
pub async fn family_statement(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<FamilyStatement>> {
    read_family(&db, auth, id.into_inner(), service::family_statement).await
}

/// Grant a discount, waiver or scholarship on one invoice line (office).
#[utoipa::path(tag = "fees", request_body = GrantDiscountRequest, security(("bearer" = [])),
    responses((status = 200, body = Discount), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/invoice-lines/{id}/discounts")]
pub async fn grant_discount(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<GrantDiscountRequest>,
) -> ApiResult<web::Json<Discount>> {
    auth.require_office()?;
    let (line, req) = (id.into_inner(), body.into_inner());
    let d = db
        .transaction(move |conn| {
            adjustments::grant_discount(conn, auth.school_id, Actor::from(&auth), line, &req)
        })
        .await?;
    Ok(web::Json(d))
}

/// Add a late-fine line to an overdue invoice (office).
#[utoipa::path(tag = "fees", request_body = AddFineRequest, security(("bearer" = [])),
    responses((status = 200, body = Fine), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/invoices/{id}/fines")]
pub async fn add_fine(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<AddFineRequest>,
) -> ApiResult<web::Json<Fine>> {
    auth.require_office()?;
    let (invoice, req) = (id.into_inner(), body.into_inner());
    let f = db
        .transaction(move |conn| {
            let today = crate::calendar::local_date(conn, auth.school_id, Utc::now())?;
            adjustments::add_fine(
                conn,
                auth.school_id,
                Actor::from(&auth),
                invoice,
                &req,
                today,
            )
        })
        .await?;
    Ok(web::Json(f))
}

/// Refund part of a family's credit (office).
#[utoipa::path(tag = "fees", request_body = RefundRequest, security(("bearer" = [])),
    responses((status = 200, body = Refund), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/families/{id}/refunds")]
pub async fn refund(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<RefundRequest>,
) -> ApiResult<web::Json<Refund>> {
    auth.require_office()?;
    let (family, req) = (id.into_inner(), body.into_inner());
    let r = db
        .transaction(move |conn| {
            adjustments::refund(conn, auth.school_id, Actor::from(&auth), family, &req)
        })
        .await?;
    Ok(web::Json(r))
}

/// Reverse a payment (bounced cheque), re-opening what it cleared (office). Idempotent.
#[utoipa::path(tag = "fees", request_body = ReversePaymentRequest, security(("bearer" = [])),
    responses((status = 200, body = PaymentReversal), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/payments/{id}/reversal")]
pub async fn reverse_payment(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<ReversePaymentRequest>,
) -> ApiResult<web::Json<PaymentReversal>> {
    auth.require_office()?;
    let (payment, reason) = (id.into_inner(), body.into_inner().reason);
    let r = db
        .transaction(move |conn| {
            adjustments::reverse_payment(conn, auth.school_id, Actor::from(&auth), payment, &reason)
        })
        .await?;
    Ok(web::Json(r))
}

/// Every invoice of a family with its lines and what is still owing (office, or a parent of
/// that family).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvoiceDue>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/families/{id}/invoices")]
pub async fn family_invoices(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<InvoiceDue>>> {
    read_family(&db, auth, id.into_inner(), service::family_invoices).await
}

/// A family's payments with receipt numbers and allocations, newest first (office, or a
/// parent of that family).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = Vec<Payment>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/families/{id}/payments")]
pub async fn family_payments(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<Payment>>> {
    read_family(&db, auth, id.into_inner(), service::family_payments).await
}

/// The school's chart of accounts, by code: every account for the office; for teachers and
/// parents the system accounts only (Cash, Bank, Receivable, Family Credit, …), which is what
/// their devices are sent, so a phone can read a family's lines (ARCHITECTURE.md §6).
#[utoipa::path(tag = "fees", security(("bearer" = [])), responses((status = 200, body = Vec<Account>), (status = 403, body = Problem)))]
#[get("/accounts")]
pub async fn list_accounts(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<Account>>> {
    let office = auth.require_office().is_ok();
    let rows: Vec<AccountRow> = db
        .run(move |conn| {
            if office {
                repo::ensure_chart(conn, auth.school_id)?;
            }
            let mut q = accounts::table
                .filter(accounts::school_id.eq(auth.school_id))
                .order(accounts::code)
                .select(AccountRow::as_select())
                .into_boxed();
            if !office {
                q = q.filter(accounts::system_key.is_not_null());
            }
            Ok(q.load(conn)?)
        })
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|a| Account {
                id: a.id,
                code: a.code,
                name: a.name,
                kind: a.kind,
                system_key: a.system_key,
                active: a.active,
            })
            .collect(),
    ))
}

/// Add an account to the chart (office), e.g. an expense or a second bank account.
#[utoipa::path(tag = "fees", request_body = CreateAccountRequest, security(("bearer" = [])),
    responses((status = 201, body = Account), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/accounts")]
pub async fn create_account(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateAccountRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let row = db
        .transaction(move |conn| {
            setup::create_account(conn, auth.school_id, Actor::from(&auth), &req)
        })
        .await?;
    Ok(HttpResponse::Created().json(Account {
        id: row.id,
        code: row.code,
        name: row.name,
        kind: row.kind,
        system_key: row.system_key,
        active: row.active,
    }))
}

/// Payments held in Suspense (no or unknown family), oldest first, for the office to resolve.
#[utoipa::path(tag = "fees", security(("bearer" = [])), responses((status = 200, body = Vec<Payment>), (status = 403, body = Problem)))]
#[get("/payments/suspense")]
pub async fn list_suspense(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<Payment>>> {
    auth.require_office()?;
    Ok(web::Json(
        db.run(move |conn| service::suspense_payments(conn, auth.school_id))
            .await?,
    ))
}

/// Give a Suspense payment to its family (office); it is allocated like a payment of that
/// family. Idempotent for the same family.
#[utoipa::path(tag = "fees", request_body = AssignSuspenseRequest, security(("bearer" = [])),
    responses((status = 200, body = Payment), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/payments/{id}/assign")]
pub async fn assign_suspense(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<AssignSuspenseRequest>,
) -> ApiResult<web::Json<Payment>> {
    auth.require_office()?;
    let (payment, family) = (id.into_inner(), body.family_id);
    let p = db
        .transaction(move |conn| {
            service::assign_suspense(conn, auth.school_id, Actor::from(&auth), payment, family)
        })
        .await?;
    Ok(web::Json(p))
}

/// The school's late-fine rules with how many invoices each has fined (office; issue #17).
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = Vec<LateFineRule>), (status = 403, body = Problem)))]
#[get("/late-fine-rules")]
pub async fn list_late_fine_rules(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<LateFineRule>>> {
    auth.require_office()?;
    let rules = db
        .run(move |conn| late_fines::list(conn, auth.school_id))
        .await?;
    Ok(web::Json(rules))
}

/// Add a late-fine rule (admin): an invoice with a line unpaid more than `grace_days` days
/// after its due date is fined `amount`, once, when the rule is run.
#[utoipa::path(tag = "fees", request_body = CreateLateFineRuleRequest, security(("bearer" = [])),
    responses((status = 201, body = LateFineRule), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/late-fine-rules")]
pub async fn create_late_fine_rule(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateLateFineRuleRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
    let rule = db
        .transaction(move |conn| late_fines::create(conn, auth.school_id, Actor::from(&auth), &req))
        .await?;
    Ok(HttpResponse::Created().json(rule))
}

/// Switch a late-fine rule off or on (admin); the fines it made stand.
#[utoipa::path(tag = "fees", request_body = UpdateLateFineRuleRequest, security(("bearer" = [])),
    responses((status = 200, body = LateFineRule), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/late-fine-rules/{id}")]
pub async fn update_late_fine_rule(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateLateFineRuleRequest>,
) -> ApiResult<web::Json<LateFineRule>> {
    auth.require_admin()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let rule = db
        .transaction(move |conn| {
            late_fines::update(conn, auth.school_id, Actor::from(&auth), id, &req)
        })
        .await?;
    Ok(web::Json(rule))
}

/// What running a late-fine rule today would fine (office), writing nothing: how many
/// invoices of how many families, and the total.
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = LateFineRun), (status = 404, body = Problem)))]
#[get("/late-fine-rules/{id}/preview")]
pub async fn preview_late_fines(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<LateFineRun>> {
    auth.require_office()?;
    let id = id.into_inner();
    let run = db
        .run(move |conn| late_fines::preview(conn, auth.school_id, id))
        .await?;
    Ok(web::Json(run))
}

/// Run a late-fine rule today (office): every invoice it finds is fined once, in one
/// transaction; running it again fines only invoices that fell overdue since.
#[utoipa::path(tag = "fees", security(("bearer" = [])),
    responses((status = 200, body = LateFineRun), (status = 404, body = Problem),
        (status = 409, description = "`rule_inactive`", body = Problem)))]
#[post("/late-fine-rules/{id}/apply")]
pub async fn apply_late_fines(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<LateFineRun>> {
    auth.require_office()?;
    let id = id.into_inner();
    let run = db
        .transaction(move |conn| late_fines::apply(conn, auth.school_id, Actor::from(&auth), id))
        .await?;
    Ok(web::Json(run))
}
