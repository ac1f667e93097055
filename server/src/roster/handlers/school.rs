//! The school, its academic years and terms.

use super::*;

/// The caller's school.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = School), (status = 401, body = Problem)))]
#[get("/school")]
pub async fn get_school(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<School>> {
    let school = db
        .run(move |conn| {
            let row = schools::table
                .find(auth.school_id)
                .select(SchoolRow::as_select())
                .first(conn)?;
            let max = crate::tenancy::max_amount(conn, auth.school_id)?;
            Ok(row.into_wire(max))
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
