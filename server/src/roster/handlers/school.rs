//! The school, its academic years and terms.

use super::*;

/// The caller's school.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = School), (status = 401, body = Problem)))]
#[get("/school")]
pub async fn get_school(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<School>> {
    let school = db
        .run(move |conn| Ok(crate::tenancy::school_wire(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(school))
}

/// Change the school's settings (admin; issue #17): name, address, currency, time zone and
/// the attendance edit window. One transaction, audited with the before and after images;
/// office devices receive the change with their next pull.
///
/// Errors: 422 naming the field (`timezone` not an IANA zone, `currency` not ISO 4217,
/// `attendance_edit_window_days` outside 0..=365, empty `name`); 409 `currency_in_use` when
/// the currency would change after the journal has entries.
#[utoipa::path(tag = "roster", request_body = UpdateSchoolRequest, security(("bearer" = [])),
    responses((status = 200, body = School), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/school")]
pub async fn update_school(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<UpdateSchoolRequest>,
) -> ApiResult<web::Json<School>> {
    auth.require_admin()?;
    let req = body.into_inner();
    let school = db
        .transaction(move |conn| {
            service::update_school(conn, auth.school_id, Actor::from(&auth), &req)
        })
        .await?;
    Ok(web::Json(school))
}

/// The school's terms, by start date.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<Term>), (status = 401, body = Problem)))]
#[get("/terms")]
pub async fn list_terms(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<Vec<Term>>> {
    let rows = db
        .run(move |conn| Ok(repo::list_terms(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Term::from).collect()))
}

/// The school's academic years with their terms, newest first.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<AcademicYear>), (status = 401, body = Problem)))]
#[get("/academic-years")]
pub async fn list_academic_years(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<AcademicYear>>> {
    let (years, terms) = db
        .run(move |conn| {
            Ok((
                repo::list_academic_years(conn, auth.school_id)?,
                repo::list_terms(conn, auth.school_id)?,
            ))
        })
        .await?;
    Ok(web::Json(
        years
            .into_iter()
            .map(|y| AcademicYear {
                terms: terms
                    .iter()
                    .filter(|t| t.academic_year_id == y.id)
                    .cloned()
                    .map(Term::from)
                    .collect(),
                id: y.id,
                name: y.name,
                starts_on: y.starts_on,
                ends_on: y.ends_on,
            })
            .collect(),
    ))
}

/// Create an academic year and its terms (admin). Terms must lie within the year and not
/// overlap each other.
#[utoipa::path(tag = "roster", request_body = CreateAcademicYearRequest, security(("bearer" = [])),
    responses((status = 201, body = AcademicYear), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/academic-years")]
pub async fn create_academic_year(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateAcademicYearRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
    let (year, term_rows) = db
        .transaction(move |conn| service::create_academic_year(conn, &auth, &req))
        .await?;
    Ok(HttpResponse::Created().json(AcademicYear {
        id: year.id,
        name: year.name,
        starts_on: year.starts_on,
        ends_on: year.ends_on,
        terms: term_rows.into_iter().map(Term::from).collect(),
    }))
}
