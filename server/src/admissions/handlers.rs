//! `POST /api/v1/imports/admissions`, its mapping and its template.

use actix_web::http::header;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use daftar_client_core::protocol::{
    AdmissionField, AdmissionsMapping, AdmissionsPreview, AdmissionsQuery, Problem,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AdmissionsFailure, AdmissionsRun, Format};
use crate::audit::{Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;
use crate::query::Query;

/// Largest spreadsheet accepted (bytes): a 50,000-row CSV with every column is ~8 MiB.
pub const MAX_SPREADSHEET: usize = 32 << 20;

impl From<AdmissionsFailure> for ApiError {
    fn from(e: AdmissionsFailure) -> Self {
        match e {
            AdmissionsFailure::Unreadable(detail) => ApiError::Unprocessable {
                code: "import_failed",
                detail,
            },
            e @ AdmissionsFailure::HasErrors(_) => ApiError::Unprocessable {
                code: "import_has_errors",
                detail: e.to_string(),
            },
            AdmissionsFailure::Database(e) => e.into(),
        }
    }
}

/// Preview or import students, guardians and families from a spreadsheet (admin). The body is
/// the file: `.xlsx`, `.ods` or `.csv` by its `Content-Type` (or, for
/// `application/octet-stream`, by `file_name`'s extension), at most 32 MiB. Without `commit`
/// nothing is written and the answer says what each row would do; with `commit=true` every row
/// is written in one transaction, or, while any row has an error, nothing (422
/// `import_has_errors`, naming the first).
#[utoipa::path(tag = "imports", security(("bearer" = [])), params(AdmissionsQuery),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "The spreadsheet (.xlsx, .ods or .csv)"),
    responses(
        (status = 200, description = "The preview, or with `commit` what was written", body = AdmissionsPreview),
        (status = 403, body = Problem),
        (status = 413, body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "The file cannot be read, or (commit) has row errors; nothing was written", body = Problem)))]
#[post("/imports/admissions")]
pub async fn import_admissions(
    db: web::Data<Db>,
    auth: AuthUser,
    req: HttpRequest,
    q: Query<AdmissionsQuery>,
    mut payload: web::Payload,
) -> ApiResult<web::Json<AdmissionsPreview>> {
    auth.require_admin()?;
    let q = q.0;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let by_name = || q.file_name.as_deref().and_then(Format::from_file_name);
    let format = match Format::from_media_type(&media) {
        Some(f) => f,
        None if media.starts_with("application/octet-stream") || media.is_empty() => {
            by_name().ok_or(ApiError::UnsupportedMediaType {
                expected: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/vnd.oasis.opendocument.spreadsheet or text/csv",
            })?
        }
        None => {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/vnd.oasis.opendocument.spreadsheet or text/csv",
            })
        }
    };
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::Validation {
            field: "body".into(),
            message: format!("the upload was cut off: {e}"),
        })?;
        if body.len() + chunk.len() > MAX_SPREADSHEET {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_SPREADSHEET,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let bytes = body.freeze();
    let file_name = q
        .file_name
        .clone()
        .unwrap_or_else(|| format!("the uploaded .{}", format.extension()));
    if file_name.contains('\0') || q.sheet.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(ApiError::validation("file_name", "must not contain U+0000"));
    }
    let preview = db
        .run(move |conn| {
            let input = AdmissionsRun {
                school_id: auth.school_id,
                actor: Actor::from(&auth),
                bytes: &bytes,
                format,
                file_name: &file_name,
                sheet: q.sheet.as_deref(),
                group_by_phone: q.group_by_phone.unwrap_or(true),
                commit: q.commit,
            };
            if q.commit {
                use diesel::Connection;
                conn.transaction::<_, AdmissionsFailure, _>(|conn| super::run(conn, &input))
                    .map_err(ApiError::from)
            } else {
                super::run(conn, &input).map_err(ApiError::from)
            }
        })
        .await;
    release_freed_memory();
    Ok(web::Json(preview?))
}

/// Hands the heap an import freed back to the operating system. A 50,000-row sheet needs
/// ~150 MB while it is read and planned; glibc keeps freed memory in the arena of the thread
/// that freed it, and the next import runs on another blocking thread (another arena), so
/// without this every import added its peak to the server's resident size (BENCHMARKS.md).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's arenas; it takes no
    // pointers and is safe to call from any thread at any time (glibc malloc(3)).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Checks a mapping: known field keys, header texts of 1 to 200 characters, no header read
/// by two fields. Errors name the field (`columns.given_name`).
pub fn checked_mapping(mut m: AdmissionsMapping) -> ApiResult<AdmissionsMapping> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (key, header) in m.columns.iter_mut() {
        let field = format!("columns.{key}");
        if AdmissionField::from_key(key).is_none() {
            return Err(ApiError::validation(
                &field,
                "is not a field of the admissions import",
            ));
        }
        *header = crate::validate::text(&field, header, 200)?;
        let norm = super::plan::normalise(header);
        if let Some((other, _)) = seen.iter().find(|(_, n)| *n == norm) {
            return Err(ApiError::validation(
                &field,
                format!("reads the same column as columns.{other}"),
            ));
        }
        seen.push((key.clone(), norm));
    }
    Ok(m)
}

/// The school's remembered column mapping for admissions spreadsheets (admin).
#[utoipa::path(tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = AdmissionsMapping), (status = 403, body = Problem)))]
#[get("/imports/admissions/mapping")]
pub async fn get_admissions_mapping(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<AdmissionsMapping>> {
    auth.require_admin()?;
    let m = db
        .run(move |conn| Ok(super::mapping(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(m))
}

/// Remembers which header of the school's files holds which field (admin, audited); the next
/// import reads by it. An empty `columns` forgets it.
#[utoipa::path(tag = "imports", security(("bearer" = [])), request_body = AdmissionsMapping,
    responses((status = 200, body = AdmissionsMapping), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[put("/imports/admissions/mapping")]
pub async fn set_admissions_mapping(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<AdmissionsMapping>,
) -> ApiResult<web::Json<AdmissionsMapping>> {
    auth.require_admin()?;
    let wanted = checked_mapping(body.into_inner())?;
    let m = db
        .transaction(move |conn| {
            let before = super::mapping(conn, auth.school_id)?;
            super::save_mapping(conn, auth.school_id, &wanted)?;
            AuditEntry::new(
                auth.school_id,
                Actor::from(&auth),
                "admissions_mapping",
                auth.school_id,
            )
            .updated(conn, &before, &wanted)?;
            Ok(wanted)
        })
        .await?;
    Ok(web::Json(m))
}

/// Format of the admissions template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateFormat {
    #[default]
    Xlsx,
    Csv,
}

/// Query of `GET /imports/admissions/template`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
pub struct TemplateQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<TemplateFormat>,
}

/// The admissions template: the header row the import reads without a mapping (and, in the
/// workbook, a sheet saying what each column holds). Office staff.
#[utoipa::path(tag = "imports", security(("bearer" = [])), params(TemplateQuery),
    responses(
        (status = 200, description = "The template", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 403, body = Problem)))]
#[get("/imports/admissions/template")]
pub async fn admissions_template(
    auth: AuthUser,
    q: Query<TemplateQuery>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let file = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"admissions-template.{ext}\""),
        )
    };
    Ok(match q.0.format.unwrap_or_default() {
        TemplateFormat::Xlsx => HttpResponse::Ok()
            .content_type(Format::Xlsx.media_type())
            .insert_header(file("xlsx"))
            .body(super::template::xlsx()?),
        TemplateFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(file("csv"))
            .body(super::template::csv()),
    })
}
