//! The school org of the export, and the departments that roll up to it.

use super::*;

pub(super) fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug
        .trim_end_matches('-')
        .chars()
        .take(50)
        .collect::<String>();
    if slug.len() < 2 {
        "school".into()
    } else {
        slug
    }
}

pub(super) fn resolve_school(
    conn: &mut PgConnection,
    orgs: &[Row],
    options: &ImportOptions,
) -> Result<(SchoolRow, Change), ImportFailure> {
    let school_orgs: Vec<&Row> = orgs
        .iter()
        .filter(|r| r.get("type").eq_ignore_ascii_case("school") && !r.to_be_deleted())
        .collect();
    let org = match school_orgs.as_slice() {
        [one] => *one,
        [] => return Err(ImportError::file("orgs.csv", "has no org of type `school`").into()),
        [_, second, ..] => {
            return Err(second
                .error("type", "a second school org: import one school at a time")
                .into())
        }
    };
    let sourced_id = org.required("sourcedId")?;
    let name = org.required("name")?;
    let now = Utc::now();
    let existing: Option<SchoolRow> = match options.school_id {
        Some(id) => {
            let s: SchoolRow = schools::table
                .find(id)
                .select(SchoolRow::as_select())
                .first(conn)?;
            if s.sourced_id.as_deref().is_some_and(|sid| sid != sourced_id) {
                return Err(org.error("sourcedId", format!(
                    "this export is for school `{sourced_id}`, but your school was imported from `{}`",
                    s.sourced_id.as_deref().unwrap_or("")
                )).into());
            }
            Some(s)
        }
        None => schools::table
            .filter(schools::sourced_id.eq(&sourced_id))
            .select(SchoolRow::as_select())
            .first(conn)
            .optional()?,
    };
    match existing {
        Some(mut s) => {
            // The HTTP import keeps the school's own name; the CLI follows the export.
            let new_name = if options.school_id.is_some() {
                s.name.clone()
            } else {
                name
            };
            if s.sourced_id.as_deref() == Some(sourced_id.as_str()) && s.name == new_name {
                return Ok((s, Change::Unchanged));
            }
            s.sourced_id = Some(sourced_id);
            s.name = new_name;
            s.updated_at = now;
            diesel::update(schools::table.find(s.id))
                .set(&s)
                .execute(conn)?;
            Ok((s, Change::Updated))
        }
        None => {
            let base = slugify(&name);
            let mut slug = base.clone();
            let mut n = 1;
            while schools::table
                .filter(schools::slug.eq(&slug))
                .count()
                .get_result::<i64>(conn)?
                > 0
            {
                n += 1;
                slug = format!("{base}-{n}");
            }
            let s = SchoolRow {
                id: Uuid::now_v7(),
                slug,
                name,
                currency: options.currency.clone(),
                timezone: options.timezone.clone(),
                sourced_id: Some(sourced_id),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(schools::table)
                .values(&s)
                .execute(conn)?;
            crate::ledger::repo::ensure_chart(conn, s.id)?;
            Ok((s, Change::Inserted))
        }
    }
}

/// The orgs whose classes and users belong to the school `school_sid`: the school itself and
/// every `department` under it (a department rolls up to its parent, possibly through other
/// departments; OneRoster 1.1 §4.5 `parentSourcedId`).
///
/// Errors: a department whose parent is not in `orgs.csv`, naming the department's line, or
/// a cycle of departments.
pub(super) fn orgs_of_school(
    orgs: &[Row],
    school_sid: &str,
) -> Result<HashSet<String>, ImportError> {
    let by_id: HashMap<&str, &Row> = orgs.iter().map(|r| (r.get("sourcedId"), r)).collect();
    let mut ours = HashSet::from([school_sid.to_string()]);
    for row in orgs
        .iter()
        .filter(|r| r.get("type").eq_ignore_ascii_case("department") && !r.to_be_deleted())
    {
        let mut at: &Row = row;
        let mut seen = HashSet::new();
        // Walk up to the first org that is not a department.
        while at.get("type").eq_ignore_ascii_case("department") {
            if !seen.insert(at.get("sourcedId")) {
                return Err(row.error(
                    "parentSourcedId",
                    format!("department `{}` is its own ancestor", row.get("sourcedId")),
                ));
            }
            let parent = at.get("parentSourcedId");
            at = match by_id.get(parent) {
                Some(p) => *p,
                None => {
                    return Err(at.error(
                        "parentSourcedId",
                        if parent.is_empty() {
                            format!(
                                "department `{}` names no parent school; a department must sit \
                                 under a school",
                                at.get("sourcedId")
                            )
                        } else {
                            format!(
                                "department `{}` has parent `{parent}`, which is not in orgs.csv",
                                at.get("sourcedId")
                            )
                        },
                    ))
                }
            };
        }
        if at.get("sourcedId") == school_sid {
            ours.insert(row.get("sourcedId").to_string());
        }
    }
    Ok(ours)
}
