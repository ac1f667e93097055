//! `GET /api/v1/reports/{name}`: one operation per report, each declaring the parameters it
//! reads and its own response schema (ARCHITECTURE.md §10), over one shared [`serve`].

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{Days, NaiveDate, Utc};
use daftar_client_core::protocol::ReportTable;
use serde::Deserialize;
use uuid::Uuid;

use super::{build, export, DuesGroup, ReportName, ReportParams};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::ledger::limits::MAX_AMOUNT_CEILING;
use crate::query::Query;

/// Longest `min_days` of the defaulters report (100 years).
pub const MAX_MIN_DAYS: i64 = 36_500;

/// How a report is answered: a JSON table (default), CSV (RFC 4180, money in major units) or
/// an Excel workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
    Xlsx,
}

/// A period report's query: `from`/`to` are inclusive school-local dates (default: the 30
/// days up to today); `to` may not be before `from`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// A balance report's query: `as_of` (default today, school-local).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    pub as_of: Option<NaiveDate>,
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The dues report's query: `as_of` (default today) and the grouping (default `family`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuesQuery {
    pub as_of: Option<NaiveDate>,
    #[param(inline)]
    pub group: Option<DuesGroup>,
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The defaulters report's query: families with at least `min_amount` minor units (default 1)
/// more than `min_days` days (default 30) past due as of `as_of` (default today).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DefaultersQuery {
    pub as_of: Option<NaiveDate>,
    #[param(minimum = 0, maximum = 36500)]
    pub min_days: Option<i64>,
    #[param(minimum = 1, maximum = 10_000_000_000_000_i64)]
    pub min_amount: Option<i64>,
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The family statement's query: the family (required).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    pub family_id: Uuid,
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// Everything a report request may say, before validation.
#[derive(Debug, Default)]
struct Asked {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    as_of: Option<NaiveDate>,
    group: Option<DuesGroup>,
    min_days: Option<i64>,
    min_amount: Option<i64>,
    family_id: Option<Uuid>,
    format: Option<ReportFormat>,
}

/// Validates `asked` into [`ReportParams`]; `today` is the school-local date.
///
/// Errors: validation naming `to` (before `from`), `from` (no date 30 days before `to`),
/// `min_days` (outside 0..=36,500) or `min_amount` (outside 1..=10^13).
fn params(asked: &Asked, today: NaiveDate) -> ApiResult<ReportParams> {
    let to = asked.to.unwrap_or(today);
    let from = match asked.from {
        Some(f) => f,
        None => to
            .checked_sub_days(Days::new(30))
            .ok_or_else(|| ApiError::validation("to", "is too early to have a default from"))?,
    };
    if to < from {
        return Err(ApiError::validation("to", "must not be before from"));
    }
    let min_days = asked.min_days.unwrap_or(30);
    if !(0..=MAX_MIN_DAYS).contains(&min_days) {
        return Err(ApiError::validation(
            "min_days",
            format!("must be 0 to {MAX_MIN_DAYS}"),
        ));
    }
    let min_amount = asked.min_amount.unwrap_or(1);
    if !(1..=MAX_AMOUNT_CEILING).contains(&min_amount) {
        return Err(ApiError::validation(
            "min_amount",
            format!("must be 1 to {MAX_AMOUNT_CEILING} minor units"),
        ));
    }
    Ok(ReportParams {
        from,
        to,
        as_of: asked.as_of.unwrap_or(today),
        group: asked.group.unwrap_or_default(),
        min_days,
        min_amount,
        family_id: asked.family_id,
    })
}

/// Builds and answers report `name` in the asked format.
async fn serve(
    db: web::Data<Db>,
    auth: AuthUser,
    name: ReportName,
    asked: Asked,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let school_id = auth.school_id;
    let format = asked.format.unwrap_or_default();
    let table = db
        .run(move |conn| {
            let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
            let params = params(&asked, today)?;
            build(conn, school_id, name, &params)
        })
        .await?;
    answer(table, format)
}

fn answer(table: ReportTable, format: ReportFormat) -> ApiResult<HttpResponse> {
    let file = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.{ext}\"", table.report),
        )
    };
    Ok(match format {
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(file("csv"))
            .body(export::to_csv(&table)?),
        ReportFormat::Xlsx => HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header(file("xlsx"))
            .body(export::to_xlsx(&table)?),
        ReportFormat::Json => HttpResponse::Ok().json(&table),
    })
}

/// Media type of an Excel workbook (ECMA-376).
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl From<AsOfQuery> for Asked {
    fn from(q: AsOfQuery) -> Self {
        Asked {
            as_of: q.as_of,
            format: q.format,
            ..Default::default()
        }
    }
}

impl From<DuesQuery> for Asked {
    fn from(q: DuesQuery) -> Self {
        Asked {
            as_of: q.as_of,
            group: q.group,
            format: q.format,
            ..Default::default()
        }
    }
}

impl From<PeriodQuery> for Asked {
    fn from(q: PeriodQuery) -> Self {
        Asked {
            from: q.from,
            to: q.to,
            format: q.format,
            ..Default::default()
        }
    }
}

impl From<DefaultersQuery> for Asked {
    fn from(q: DefaultersQuery) -> Self {
        Asked {
            as_of: q.as_of,
            min_days: q.min_days,
            min_amount: q.min_amount,
            format: q.format,
            ..Default::default()
        }
    }
}

impl From<StatementQuery> for Asked {
    fn from(q: StatementQuery) -> Self {
        Asked {
            family_id: Some(q.family_id),
            format: q.format,
            ..Default::default()
        }
    }
}

/// One report operation: its doc comment, handler name, path, query type and report, and any
/// responses of its own besides the table.
macro_rules! report_operation {
    ($(#[doc = $doc:literal])* $handler:ident, $path:literal, $query:ty, $report:expr
     $(, extra: ($($extra:tt)*))?) => {
        $(#[doc = $doc])*
        #[utoipa::path(tag = "reports", params($query), security(("bearer" = [])),
            responses((status = 200, description = "The report as a table, CSV or Excel workbook",
                content((ReportTable = "application/json"), (String = "text/csv"),
                    (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))
                $(, ($($extra)*))?))]
        #[get($path)]
        pub async fn $handler(
            db: web::Data<Db>,
            auth: AuthUser,
            q: Query<$query>,
        ) -> ApiResult<HttpResponse> {
            serve(db, auth, $report, q.into_inner().into()).await
        }
    };
}

report_operation!(
    /// Trial balance (office): every account's debit or credit balance as of `as_of`, from the
    /// journal. Money cells are integer minor units in JSON; CSV and Excel show major units.
    trial_balance, "/reports/trial_balance", AsOfQuery, ReportName::TrialBalance
);
report_operation!(
    /// Dues (office): what is owing as of `as_of` by family, student or class, aged not yet due,
    /// 0–30, 31–60, 61–90 and 90+ days past due.
    dues, "/reports/dues", DuesQuery, ReportName::Dues
);
report_operation!(
    /// Collections (office): receipts and reversals per day, cashier and method in `from..=to`.
    collections, "/reports/collections", PeriodQuery, ReportName::Collections
);
report_operation!(
    /// Income (office): income and contra-income per fee head in `from..=to`.
    income, "/reports/income", PeriodQuery, ReportName::Income
);
report_operation!(
    /// Defaulters (office): families owing at least `min_amount` more than `min_days` past due.
    defaulters, "/reports/defaulters", DefaultersQuery, ReportName::Defaulters
);
report_operation!(
    /// Zero activity (office): active families and students with no journal line in
    /// `from..=to`.
    zero_activity, "/reports/zero_activity", PeriodQuery, ReportName::ZeroActivity
);
report_operation!(
    /// Family statement (office): every entry touching the family's receivable or credit, with
    /// a running balance.
    family_statement, "/reports/family_statement", StatementQuery, ReportName::FamilyStatement,
    extra: (status = 404, description = "No such family in the caller's school",
            body = daftar_client_core::protocol::Problem)
);

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn every_parameter_is_bounded_and_named() {
        let today = day("2026-12-02");
        let field = |a: Asked| {
            params(&a, today)
                .expect_err("invalid")
                .problem()
                .field
                .unwrap_or_default()
        };
        assert_eq!(
            field(Asked {
                min_days: Some(3_000_000),
                ..Default::default()
            }),
            "min_days"
        );
        assert_eq!(
            field(Asked {
                min_days: Some(i64::MAX),
                ..Default::default()
            }),
            "min_days"
        );
        assert_eq!(
            field(Asked {
                min_days: Some(-1),
                ..Default::default()
            }),
            "min_days"
        );
        assert_eq!(
            field(Asked {
                min_amount: Some(0),
                ..Default::default()
            }),
            "min_amount"
        );
        assert_eq!(
            field(Asked {
                min_amount: Some(i64::MAX),
                ..Default::default()
            }),
            "min_amount"
        );
        assert_eq!(
            field(Asked {
                from: Some(day("2026-02-01")),
                to: Some(day("2026-01-01")),
                ..Default::default()
            }),
            "to"
        );
        assert_eq!(
            field(Asked {
                to: Some(NaiveDate::MIN),
                ..Default::default()
            }),
            "to"
        );
        let p = params(
            &Asked {
                min_days: Some(MAX_MIN_DAYS),
                ..Default::default()
            },
            today,
        )
        .expect("ok");
        assert_eq!((p.from, p.to), (day("2026-11-02"), today));
    }
}
