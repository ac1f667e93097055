//! `POST /api/v1/imports/oneroster`.

use actix_web::{post, web};
use daftar_client_core::protocol::{ImportReport, Problem};
use diesel::Connection;

use super::csv_source::RosterFiles;
use super::import::{import, ImportFailure, ImportOptions};
use crate::audit::Actor;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};

/// Largest accepted upload (bytes).
pub const MAX_UPLOAD: usize = 64 << 20;

impl From<ImportFailure> for ApiError {
    fn from(e: ImportFailure) -> Self {
        match e {
            ImportFailure::Invalid(e) => ApiError::Unprocessable {
                code: "import_failed",
                detail: e.to_string(),
            },
            ImportFailure::Database(e) => e.into(),
        }
    }
}

/// Query of `POST /imports/oneroster`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::IntoParams)]
pub struct OneRosterQuery {
    /// `true`: import, report what it would change and the warnings, then roll back (the
    /// console's preview, issue #17). Default `false`.
    pub dry_run: Option<bool>,
}

/// Import a OneRoster 1.1 CSV export into the caller's school (admin). The body is the zip of
/// the export (`Content-Type: application/zip`). One transaction: on any error nothing is
/// written and the problem's `detail` names the file, line and column. With `dry_run=true`
/// the answer is the same report and nothing is kept.
#[utoipa::path(tag = "imports", security(("bearer" = [])), params(OneRosterQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "OneRoster 1.1 CSV export as a zip"),
    responses(
        (status = 200, description = "Imported; counts of rows inserted or changed, and warnings", body = ImportReport),
        (status = 403, body = Problem),
        (status = 422, description = "The export cannot be imported; nothing was written", body = Problem)))]
#[post("/imports/oneroster")]
pub async fn import_oneroster(
    db: web::Data<Db>,
    auth: AuthUser,
    req: actix_web::HttpRequest,
    q: crate::query::Query<OneRosterQuery>,
    body: web::Bytes,
) -> ApiResult<web::Json<ImportReport>> {
    let dry_run = q.0.dry_run.unwrap_or(false);
    auth.require_admin()?;
    let zip = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| {
            let essence = essence.trim();
            // Browsers on Windows label a .zip `application/x-zip-compressed`.
            essence.eq_ignore_ascii_case("application/zip")
                || essence.eq_ignore_ascii_case("application/x-zip-compressed")
        })
        .unwrap_or(false);
    if !zip {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/zip",
        });
    }
    let files = RosterFiles::from_zip(&body).map_err(ImportFailure::from)?;
    let school = db
        .run(move |conn| Ok(crate::roster::repo::school(conn, auth.school_id)?))
        .await?;
    let options = ImportOptions {
        school_id: Some(auth.school_id),
        currency: school.currency,
        timezone: school.timezone,
        actor: Actor::from(&auth),
    };
    let report = db
        .run(move |conn| {
            let mut rolled_back = None;
            let result = conn.transaction::<_, ImportFailure, _>(|conn| {
                let report = import(conn, &files, &options)?;
                if dry_run {
                    rolled_back = Some(report);
                    return Err(diesel::result::Error::RollbackTransaction.into());
                }
                Ok(report)
            });
            match (result, rolled_back) {
                (_, Some(report)) | (Ok(report), None) => Ok(report),
                (Err(e), None) => Err(ApiError::from(e)),
            }
        })
        .await?;
    Ok(web::Json(report))
}
