//! `GET /api/v1/reports/{name}`.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};
use daftar_client_core::protocol::{Problem, ReportTable};
use serde::Deserialize;

use super::{build, export, ReportParams};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};

/// Query of a report: `from`/`to` (inclusive dates; default: the last 30 days), `as_of`
/// (default today), `group` (dues: `family`, `student`, `class`; default `family`),
/// `min_days` (defaulters, default 30), `min_amount` (defaulters, minor units, default 1),
/// `format` (`json` default, `csv`, `xlsx`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub as_of: Option<NaiveDate>,
    pub group: Option<String>,
    pub min_days: Option<i64>,
    pub min_amount: Option<i64>,
    /// The family, for `family_statement`.
    pub family_id: Option<uuid::Uuid>,
    pub format: Option<String>,
}

/// A report computed from the journal (office): `trial_balance`, `dues`, `collections`,
/// `income`, `defaulters`, `zero_activity`, `family_statement` (with `family_id`). Money cells are integer minor units in JSON; CSV
/// and Excel show major units.
#[utoipa::path(tag = "reports", params(("name" = String, Path, description = "Report name"), ReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "JSON table, or text/csv, or an .xlsx workbook", body = ReportTable),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/reports/{name}")]
pub async fn report(
    db: web::Data<Db>,
    auth: AuthUser,
    name: web::Path<String>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let name = name.into_inner();
    let today = Utc::now().date_naive();
    let to = q.to.unwrap_or(today);
    let from = q.from.unwrap_or(to - Duration::days(30));
    if to < from {
        return Err(ApiError::validation("to", "must not be before from"));
    }
    let params = ReportParams {
        from,
        to,
        as_of: q.as_of.unwrap_or(today),
        group: q.group.clone().unwrap_or_else(|| "family".into()),
        min_days: q.min_days.unwrap_or(30),
        min_amount: q.min_amount.unwrap_or(1),
        family_id: q.family_id,
    };
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "csv" | "xlsx") {
        return Err(ApiError::validation("format", "must be json, csv or xlsx"));
    }
    let school_id = auth.school_id;
    let table = db
        .run(move |conn| build(conn, school_id, &name, &params))
        .await?;
    let file = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.{ext}\"", table.report),
        )
    };
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(file("csv"))
            .body(export::to_csv(&table)?),
        "xlsx" => HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header(file("xlsx"))
            .body(export::to_xlsx(&table)?),
        _ => HttpResponse::Ok().json(&table),
    })
}
