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
