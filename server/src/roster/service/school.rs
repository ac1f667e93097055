//! The school's academic years and terms.

use super::*;

/// Creates an academic year and its terms (admin) in the caller's transaction, with one audit
/// row. Terms lie within the year and do not overlap.
///
/// Errors: validation naming `ends_on`, `name`, or `terms[i].ends_on` / `starts_on` / `name`;
/// 409 when the year's name or id is taken.
pub fn create_academic_year(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: &CreateAcademicYearRequest,
) -> ApiResult<(AcademicYearRow, Vec<TermRow>)> {
    if req.ends_on < req.starts_on {
        return Err(ApiError::validation(
            "ends_on",
            "must not be before starts_on",
        ));
    }
    let now = Utc::now();
    let year = AcademicYearRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        name: validate::text("name", &req.name, 100)?,
        starts_on: req.starts_on,
        ends_on: req.ends_on,
        sourced_id: None,
        created_at: now,
    };
    let mut term_rows: Vec<TermRow> = Vec::new();
    for (i, t) in req.terms.iter().enumerate() {
        let field = |f: &str| format!("terms[{i}].{f}");
        if t.ends_on < t.starts_on {
            return Err(ApiError::validation(
                field("ends_on"),
                "must not be before starts_on",
            ));
        }
        if t.starts_on < year.starts_on || t.ends_on > year.ends_on {
            return Err(ApiError::validation(
                field("starts_on"),
                "term must lie within the academic year",
            ));
        }
        if term_rows
            .iter()
            .any(|o| t.starts_on <= o.ends_on && o.starts_on <= t.ends_on)
        {
            return Err(ApiError::validation(
                field("starts_on"),
                "overlaps another term",
            ));
        }
        term_rows.push(TermRow {
            school_id: auth.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year.id,
            name: validate::text(&field("name"), &t.name, 100)?,
            starts_on: t.starts_on,
            ends_on: t.ends_on,
            active: true,
            sourced_id: None,
            created_at: now,
        });
    }
    diesel::insert_into(academic_years::table)
        .values(&year)
        .execute(conn)?;
    diesel::insert_into(terms::table)
        .values(&term_rows)
        .execute(conn)?;
    let entry = AuditEntry::new(auth.school_id, Actor::from(auth), "academic_year", year.id);
    entry.created(conn, &(&year, &term_rows))?;
    Ok((year, term_rows))
}

/// Applies `req` to the school's settings (issue #17, "school settings"): absent fields are
/// kept; nothing is written when nothing changes. Audited as an update of the `school` with
/// the before and after images. `schools` is change-logged, so office devices see the change
/// after their next pull.
///
/// Errors: validation naming `name`, `address`, `currency`, `timezone` or
/// `attendance_edit_window_days`; 409 `currency_in_use` when the currency would change and
/// the school's journal has entries (its amounts are in the old currency).
pub fn update_school(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &daftar_client_core::protocol::UpdateSchoolRequest,
) -> ApiResult<daftar_client_core::protocol::School> {
    use crate::schema::{journal_entries, schools};
    let before = crate::tenancy::school_wire(conn, school_id).map_err(not_found("school"))?;
    let mut after = before.clone();
    if let Some(name) = &req.name {
        after.name = validate::text("name", name, 200)?;
    }
    if let Some(address) = &req.address {
        let address = address.trim();
        if address.chars().count() > 300 || address.contains('\0') {
            return Err(ApiError::validation(
                "address",
                "at most 300 characters, without NUL",
            ));
        }
        address.clone_into(&mut after.address);
    }
    if let Some(zone) = &req.timezone {
        let zone = zone.trim();
        if zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::validation(
                "timezone",
                format!("`{zone}` is not an IANA time zone such as Asia/Karachi"),
            ));
        }
        zone.clone_into(&mut after.timezone);
    }
    if let Some(days) = req.attendance_edit_window_days {
        if !(0..=365).contains(&days) {
            return Err(ApiError::validation(
                "attendance_edit_window_days",
                "must be 0 to 365 days",
            ));
        }
        after.attendance_edit_window_days = days;
    }
    if let Some(currency) = &req.currency {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::validation(
                "currency",
                "must be an ISO 4217 code such as PKR or USD",
            ));
        }
        if currency != before.currency {
            let entries: i64 = journal_entries::table
                .filter(journal_entries::school_id.eq(school_id))
                .count()
                .get_result(conn)?;
            if entries > 0 {
                return Err(ApiError::Conflict {
                    code: "currency_in_use",
                    detail: format!(
                        "the journal already has {entries} entries in {}; the currency cannot change under them",
                        before.currency
                    ),
                });
            }
        }
        after.currency = currency;
    }
    if after == before {
        return Ok(after);
    }
    diesel::update(schools::table.find(school_id))
        .set((
            schools::name.eq(&after.name),
            schools::address.eq(&after.address),
            schools::currency.eq(&after.currency),
            schools::timezone.eq(&after.timezone),
            schools::attendance_edit_window_days.eq(after.attendance_edit_window_days),
            schools::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "school", school_id).updated(conn, &before, &after)?;
    Ok(after)
}

/// The largest receipt logo accepted, in bytes (`school_logos.image`).
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The image format `bytes` are, by their signature: `image/png` (RFC 2083 §3.1) or
/// `image/jpeg` (an SOI marker, `FF D8 FF`); `None` for anything else.
pub fn logo_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Sets the school's receipt logo (admin; issue #17) in the caller's transaction: the image,
/// and `schools.logo_updated_at`, which every device pulls and then fetches the image once.
/// Audited as a `logo_set` event with its type and size (not the image).
///
/// Errors: validation naming `body` when `bytes` are empty, over [`MAX_LOGO_BYTES`], or not
/// the PNG or JPEG image `declared` says they are.
pub fn set_logo(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    declared: &str,
    bytes: &[u8],
) -> ApiResult<daftar_client_core::protocol::School> {
    use crate::schema::{school_logos, schools};
    if bytes.is_empty() || bytes.len() > MAX_LOGO_BYTES {
        return Err(ApiError::validation(
            "body",
            format!(
                "the logo must be 1 byte to {} KiB (this one is {} bytes)",
                MAX_LOGO_BYTES / 1024,
                bytes.len()
            ),
        ));
    }
    let found = logo_media_type(bytes);
    if found != Some(declared) {
        return Err(ApiError::validation(
            "body",
            format!(
                "the file is not a {declared} image{}",
                found.map(|f| format!(" (it is {f})")).unwrap_or_default()
            ),
        ));
    }
    let now = Utc::now();
    diesel::insert_into(school_logos::table)
        .values((
            school_logos::school_id.eq(school_id),
            school_logos::content_type.eq(declared),
            school_logos::image.eq(bytes),
            school_logos::updated_at.eq(now),
        ))
        .on_conflict(school_logos::school_id)
        .do_update()
        .set((
            school_logos::content_type.eq(declared),
            school_logos::image.eq(bytes),
            school_logos::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(schools::table.find(school_id))
        .set(schools::logo_updated_at.eq(Some(now)))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "school", school_id).event(
        conn,
        "logo_set",
        Some(&serde_json::json!({ "content_type": declared, "bytes": bytes.len() })),
    )?;
    crate::tenancy::school_wire(conn, school_id).map_err(not_found("school"))
}

/// Removes the school's receipt logo (admin), audited as `logo_removed`; receipts print
/// without one once devices have pulled the change.
///
/// Errors: 404 when the school has no logo.
pub fn remove_logo(conn: &mut PgConnection, school_id: Uuid, actor: Actor) -> ApiResult<()> {
    use crate::schema::{school_logos, schools};
    let gone = diesel::delete(school_logos::table.find(school_id)).execute(conn)?;
    if gone == 0 {
        return Err(ApiError::NotFound("logo"));
    }
    diesel::update(schools::table.find(school_id))
        .set(schools::logo_updated_at.eq(Some(Utc::now())))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "school", school_id).event(
        conn,
        "logo_removed",
        None::<&()>,
    )?;
    Ok(())
}

/// The school's receipt logo: its media type and bytes.
///
/// Errors: 404 when the school has none.
pub fn logo(conn: &mut PgConnection, school_id: Uuid) -> ApiResult<(String, Vec<u8>)> {
    use crate::schema::school_logos;
    school_logos::table
        .find(school_id)
        .select((school_logos::content_type, school_logos::image))
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("logo"))
}
