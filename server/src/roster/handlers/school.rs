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

/// The school's receipt logo (issue #17), as uploaded: `image/png` or `image/jpeg`. Any user of
/// the school may read it (it is printed on every receipt); devices fetch it when the school's
/// `logo_updated_at` changes.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, description = "The logo", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"))),
        (status = 404, description = "The school has no logo", body = Problem)))]
#[get("/school/logo")]
pub async fn get_school_logo(db: web::Data<Db>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let (media, bytes) = db
        .run(move |conn| service::logo(conn, auth.school_id))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(media)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-cache"))
        .body(bytes))
}

/// Set the school's receipt logo (admin; issue #17): the body is the image itself, PNG
/// (`Content-Type: image/png`) or JPEG (`image/jpeg`), at most 256 KiB. Audited; devices
/// fetch it after their next pull.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "image/png", description = "The logo: a PNG or JPEG image, at most 256 KiB"),
    responses((status = 200, body = School), (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, description = "Not the image its type says, or empty", body = Problem)))]
#[put("/school/logo")]
pub async fn set_school_logo(
    db: web::Data<Db>,
    auth: AuthUser,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> ApiResult<web::Json<School>> {
    auth.require_admin()?;
    let media = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let declared = match media.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        _ => {
            return Err(ApiError::UnsupportedMediaType {
                expected: "image/png or image/jpeg",
            })
        }
    };
    if body.len() > service::MAX_LOGO_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: service::MAX_LOGO_BYTES,
        });
    }
    let school = db
        .transaction(move |conn| {
            service::set_logo(conn, auth.school_id, Actor::from(&auth), declared, &body)
        })
        .await?;
    Ok(web::Json(school))
}

/// Remove the school's receipt logo (admin).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[delete("/school/logo")]
pub async fn remove_school_logo(db: web::Data<Db>, auth: AuthUser) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    db.transaction(move |conn| service::remove_logo(conn, auth.school_id, Actor::from(&auth)))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
