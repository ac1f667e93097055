//! Classes of the school (and those set aside: to be deleted, or another school's).

use super::*;

/// Classes of `classes.csv` set aside by the import, by `sourcedId` → why (naming their line).
pub(super) type SetAside = HashMap<String, String>;

/// Imports classes; returns class `sourcedId` → id for the school's classes, and the classes of
/// this file that were set aside (marked `tobedeleted`, or of another school) → why, naming
/// their line, so an enrollment into one is skipped with a warning rather than refused.
pub(super) fn import_classes(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    ours: &HashSet<String>,
    term_ids: &HashMap<String, (Uuid, Uuid)>,
    course_grades: &HashMap<String, String>,
) -> Result<(HashMap<String, Uuid>, SetAside), ImportFailure> {
    let mut set_aside = HashMap::new();
    for row in rows {
        let sid = row.required("sourcedId")?;
        let lookup = classes::table
            .filter(classes::school_id.eq(cx.school_id))
            .filter(classes::sourced_id.eq(sid.clone()));
        if row.to_be_deleted() {
            let n = diesel::update(lookup.filter(classes::active.eq(true)))
                .set((classes::active.eq(false), classes::updated_at.eq(cx.now)))
                .execute(conn)?;
            cx.report.deactivated += n as u64;
            set_aside.insert(
                sid,
                format!("is marked tobedeleted ({} line {})", row.file, row.line),
            );
            continue;
        }
        if !ours.contains(row.get("schoolSourcedId")) {
            cx.warn(
                row,
                format!(
                    "class {sid} belongs to org `{}`, which is not this school or one of its \
                     departments; skipped",
                    row.get("schoolSourcedId")
                ),
            );
            set_aside.insert(
                sid,
                format!("belongs to another school ({} line {})", row.file, row.line),
            );
            continue;
        }
        let class_terms = row.list("termSourcedIds");
        let first = class_terms
            .first()
            .ok_or_else(|| row.error("termSourcedIds", "is required and empty"))?;
        let (term_id, year_id) = *term_ids.get(first).ok_or_else(|| {
            row.error(
                "termSourcedIds",
                format!("term `{first}` is not in academicSessions.csv"),
            )
        })?;
        if !course_grades.contains_key(row.get("courseSourcedId")) {
            cx.warn(
                row,
                format!(
                    "course `{}` is not in courses.csv",
                    row.get("courseSourcedId")
                ),
            );
        }
        let grade = row
            .list("grades")
            .into_iter()
            .next()
            .or_else(|| course_grades.get(row.get("courseSourcedId")).cloned())
            .unwrap_or_default();
        let desired = ClassRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year_id,
            term_id: if class_terms.len() == 1 {
                Some(term_id)
            } else {
                None
            },
            campus_id: None,
            name: row.required("title")?,
            grade,
            section: String::new(),
            code: row.opt("classCode"),
            homeroom_teacher_id: None,
            active: true,
            sourced_id: Some(sid),
            created_at: cx.now,
            updated_at: cx.now,
        };
        let (change, _) = upsert!(
            conn,
            cx,
            classes,
            ClassRow,
            desired,
            lookup,
            keep = [
                id,
                created_at,
                updated_at,
                homeroom_teacher_id,
                campus_id,
                section
            ]
        );
        cx.report.classes += change.counts();
    }
    let known: Vec<(Option<String>, Uuid)> = classes::table
        .filter(classes::school_id.eq(cx.school_id))
        .select((classes::sourced_id, classes::id))
        .load(conn)?;
    let known = known
        .into_iter()
        .filter_map(|(s, id)| s.map(|s| (s, id)))
        .filter(|(s, _)| !set_aside.contains_key(s))
        .collect();
    Ok((known, set_aside))
}
