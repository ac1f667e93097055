//! Attendance endpoints under `/api/v1` (ARCHITECTURE.md §5).

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{NaiveDate, Utc};
use daftar_client_core::protocol::{
    AttendanceCode, ClassAttendanceGrid, CreateAttendanceCodeRequest, DailyAttendanceSummary,
    MarkRegisterRequest, MarkRegisterResult, MyRegister, Problem, Register, RegisterNotTaken, Role,
    StudentAttendance,
};
use diesel::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::{marks, service};
use crate::access::Scope;
use crate::audit::Actor;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;

/// `?from=&to=` (inclusive ISO dates).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    fn check(&self) -> ApiResult<()> {
        if self.to < self.from {
            return Err(ApiError::validation("to", "must not be before from"));
        }
        if (self.to - self.from).num_days() > 400 {
            return Err(ApiError::validation(
                "to",
                "the range may span at most 400 days",
            ));
        }
        Ok(())
    }
}

/// `?date=` (default: today at the school). These views are of whole-day registers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    pub date: Option<NaiveDate>,
}

/// The school's attendance codes (anyone signed in).
#[utoipa::path(tag = "attendance", security(("bearer" = [])), responses((status = 200, body = Vec<AttendanceCode>)))]
#[get("/attendance-codes")]
pub async fn list_codes(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<AttendanceCode>>> {
    Ok(web::Json(
        db.run(move |conn| Ok(marks::codes(conn, auth.school_id)?))
            .await?,
    ))
}

/// Add an attendance code (admin).
#[utoipa::path(tag = "attendance", request_body = CreateAttendanceCodeRequest, security(("bearer" = [])),
    responses((status = 201, body = AttendanceCode), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attendance-codes")]
pub async fn create_code(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateAttendanceCodeRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
    let out = db
        .transaction(move |conn| marks::create_code(conn, auth.school_id, Actor::from(&auth), &req))
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Mark a class register for a date in one request (the class's teachers within the edit
/// window, or the office). Returns the register as stored.
#[utoipa::path(tag = "attendance", request_body = MarkRegisterRequest, security(("bearer" = [])),
    responses((status = 200, body = MarkRegisterResult), (status = 403, description = "Not assigned, or the edit window has closed", body = Problem),
        (status = 404, body = Problem), (status = 422, description = "Outside any term, future date, unknown code, student not enrolled", body = Problem)))]
#[put("/classes/{id}/registers/{date}")]
pub async fn mark_register(
    db: web::Data<Db>,
    auth: AuthUser,
    path: web::Path<(Uuid, NaiveDate)>,
    body: Json<MarkRegisterRequest>,
) -> ApiResult<web::Json<MarkRegisterResult>> {
    let (class_id, on_date) = path.into_inner();
    let req = body.into_inner();
    let out = db
        .transaction(move |conn| {
            service::mark_register(conn, &auth, class_id, on_date, &req, Utc::now())
        })
        .await?;
    Ok(web::Json(out))
}

/// One register with its marks (office and the class's teachers); 404 when not taken.
#[utoipa::path(tag = "attendance", params(("period" = Option<i16>, Query, minimum = 0, maximum = 20, description = "0 = whole day; lesson periods 1 to 20")), security(("bearer" = [])),
    responses((status = 200, body = Register), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/classes/{id}/registers/{date}")]
pub async fn get_register(
    db: web::Data<Db>,
    auth: AuthUser,
    path: web::Path<(Uuid, NaiveDate)>,
    q: crate::query::Query<PeriodQuery>,
) -> ApiResult<web::Json<Register>> {
    let (class_id, on_date) = path.into_inner();
    let period = q.period;
    if !(0..=20).contains(&period) {
        return Err(ApiError::validation(
            "period",
            "must be 0 (whole day) to 20",
        ));
    }
    let reg = db
        .run(move |conn| {
            ensure_class_staff(conn, &auth, class_id)?;
            service::find_register(conn, auth.school_id, class_id, on_date, period)?
                .ok_or(ApiError::NotFound("register"))
        })
        .await?;
    Ok(web::Json(reg))
}

/// `?period=`.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    pub period: i16,
}

/// Ok for the office and the class's teachers ([`Scope`]); parents see attendance through
/// their children, not class views.
fn ensure_class_staff(conn: &mut PgConnection, auth: &AuthUser, class_id: Uuid) -> ApiResult<()> {
    if auth.is_office() {
        return Ok(());
    }
    if !auth.has(Role::Teacher) {
        return Err(ApiError::forbidden(
            "parents see attendance through their children",
        ));
    }
    // A teacher who is also a parent sees class views of the classes they teach only.
    match Scope::of(conn, auth)? {
        Scope::Limited(crate::access::Limited {
            taught: Some(t), ..
        }) if t.class_ids.contains(&class_id) => Ok(()),
        _ => Err(ApiError::forbidden("this class is not assigned to you")),
    }
}

/// The class register grid between two dates (office and the class's teachers).
#[utoipa::path(tag = "attendance", params(DateRange), security(("bearer" = [])),
    responses((status = 200, body = ClassAttendanceGrid), (status = 403, body = Problem)))]
#[get("/classes/{id}/attendance")]
pub async fn class_grid(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    q: crate::query::Query<DateRange>,
) -> ApiResult<web::Json<ClassAttendanceGrid>> {
    q.check()?;
    let class_id = id.into_inner();
    let (from, to) = (q.from, q.to);
    let grid = db
        .run(move |conn| {
            ensure_class_staff(conn, &auth, class_id)?;
            service::class_grid(conn, auth.school_id, class_id, from, to)
        })
        .await?;
    Ok(web::Json(grid))
}

/// A student's attendance history and percentage (office, the student's teachers, or a
/// parent of the student's family).
#[utoipa::path(tag = "attendance", params(DateRange), security(("bearer" = [])),
    responses((status = 200, body = StudentAttendance), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/students/{id}/attendance")]
pub async fn student_attendance(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    q: crate::query::Query<DateRange>,
) -> ApiResult<web::Json<StudentAttendance>> {
    q.check()?;
    let student_id = id.into_inner();
    let (from, to) = (q.from, q.to);
    let out = db
        .run(move |conn| {
            let s = crate::roster::repo::student(conn, auth.school_id, student_id)
                .map_err(|_| ApiError::NotFound("student"))?;
            Scope::of(conn, &auth)?.require_student(student_id, s.family_id)?;
            service::student_attendance(conn, auth.school_id, student_id, from, to)
        })
        .await?;
    Ok(web::Json(out))
}

/// Classes whose whole-day register has not been taken on a date (office).
#[utoipa::path(tag = "attendance", params(DayQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<RegisterNotTaken>), (status = 403, body = Problem)))]
#[get("/attendance/not-taken")]
pub async fn not_taken(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<DayQuery>,
) -> ApiResult<web::Json<Vec<RegisterNotTaken>>> {
    auth.require_office()?;
    let date = q.date;
    let out = db
        .run(move |conn| {
            let day = service::day_or_today(conn, auth.school_id, date)?;
            service::not_taken(conn, auth.school_id, day)
        })
        .await?;
    Ok(web::Json(out))
}

/// The school's attendance on a date, per class and in total (office).
#[utoipa::path(tag = "attendance", params(DayQuery), security(("bearer" = [])),
    responses((status = 200, body = DailyAttendanceSummary), (status = 403, body = Problem)))]
#[get("/attendance/summary")]
pub async fn daily_summary(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<DayQuery>,
) -> ApiResult<web::Json<DailyAttendanceSummary>> {
    auth.require_office()?;
    let date = q.date;
    let out = db
        .run(move |conn| {
            let day = service::day_or_today(conn, auth.school_id, date)?;
            service::daily_summary(conn, auth.school_id, day)
        })
        .await?;
    Ok(web::Json(out))
}

/// The caller's classes (teacher: assigned; office: all) and whether each whole-day register
/// is taken on the date (default today at the school).
#[utoipa::path(tag = "attendance", params(DayQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<MyRegister>), (status = 403, body = Problem)))]
#[get("/attendance/my-registers")]
pub async fn my_registers(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<DayQuery>,
) -> ApiResult<web::Json<Vec<MyRegister>>> {
    auth.require(&[Role::Admin, Role::Accountant, Role::Teacher])?;
    let date = q.date;
    let out = db
        .run(move |conn| {
            let day = service::day_or_today(conn, auth.school_id, date)?;
            service::my_registers(conn, &auth, day)
        })
        .await?;
    Ok(web::Json(out))
}
