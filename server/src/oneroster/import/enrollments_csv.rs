//! Enrolments of students in classes, and teachers assigned to them.

use super::*;

pub(super) fn import_enrollments(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    class_ids: &HashMap<String, Uuid>,
    set_aside: &SetAside,
    people: &People,
) -> Result<(), ImportFailure> {
    for row in rows {
        let sid = row.required("sourcedId")?;
        let class_sid = row.required("classSourcedId")?;
        let user_sid = row.required("userSourcedId")?;
        let role = row.get("role");
        if row.to_be_deleted() {
            let n = diesel::update(
                enrollments::table
                    .filter(enrollments::school_id.eq(cx.school_id))
                    .filter(enrollments::sourced_id.eq(&sid))
                    .filter(enrollments::active.eq(true)),
            )
            .set(enrollments::active.eq(false))
            .execute(conn)?;
            let m = diesel::delete(
                class_teachers::table
                    .filter(class_teachers::school_id.eq(cx.school_id))
                    .filter(class_teachers::sourced_id.eq(&sid)),
            )
            .execute(conn)?;
            cx.report.deactivated += (n + m) as u64;
            continue;
        }
        if let Some(why) = set_aside.get(&class_sid) {
            cx.warn(
                row,
                format!("enrollment {sid} is into class `{class_sid}`, which {why}; skipped"),
            );
            continue;
        }
        let Some(&class_id) = class_ids.get(&class_sid) else {
            return Err(row
                .error(
                    "classSourcedId",
                    format!("class `{class_sid}` is not in classes.csv"),
                )
                .into());
        };
        match role {
            "student" => {
                let Some(&student_id) = people.students.get(&user_sid) else {
                    if people.teachers.contains_key(&user_sid) {
                        cx.warn(row, format!("{user_sid} is enrolled as student but is not a student in users.csv; skipped"));
                        continue;
                    }
                    return Err(row
                        .error(
                            "userSourcedId",
                            format!("user `{user_sid}` is not in users.csv"),
                        )
                        .into());
                };
                let desired = EnrollmentRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    class_id,
                    student_id,
                    starts_on: row.date("beginDate")?,
                    ends_on: row.date("endDate")?,
                    active: true,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                };
                let lookup = enrollments::table
                    .filter(enrollments::school_id.eq(cx.school_id))
                    .filter(enrollments::sourced_id.eq(sid.clone()));
                let (change, _) = upsert!(
                    conn,
                    cx,
                    enrollments,
                    EnrollmentRow,
                    desired,
                    lookup,
                    keep = [id, created_at]
                );
                cx.report.enrollments += change.counts();
            }
            "teacher" | "aide" | "proctor" => {
                let Some(&teacher_id) = people.teachers.get(&user_sid) else {
                    return Err(row
                        .error(
                            "userSourcedId",
                            format!("user `{user_sid}` is not in users.csv"),
                        )
                        .into());
                };
                let is_primary = row.get("primary").eq_ignore_ascii_case("true");
                let existing = class_teachers::table
                    .find((cx.school_id, class_id, teacher_id))
                    .select(ClassTeacherRow::as_select())
                    .first(conn)
                    .optional()?;
                match existing {
                    Some(old)
                        if old.is_primary == is_primary
                            && old.sourced_id.as_deref() == Some(sid.as_str()) => {}
                    Some(_) => {
                        diesel::update(class_teachers::table.find((
                            cx.school_id,
                            class_id,
                            teacher_id,
                        )))
                        .set((
                            class_teachers::is_primary.eq(is_primary),
                            class_teachers::sourced_id.eq(Some(sid.clone())),
                        ))
                        .execute(conn)?;
                        cx.report.enrollments += 1;
                    }
                    None => {
                        diesel::insert_into(class_teachers::table)
                            .values(&ClassTeacherRow {
                                school_id: cx.school_id,
                                class_id,
                                teacher_id,
                                is_primary,
                                sourced_id: Some(sid.clone()),
                                created_at: cx.now,
                                subject: None,
                            })
                            .execute(conn)?;
                        cx.stats.wrote(conn, "class_teachers", 1);
                        cx.report.enrollments += 1;
                    }
                }
            }
            other => {
                cx.warn(row, format!("enrollment role `{other}` is not imported (only student, teacher, aide, proctor)"));
            }
        }
    }
    Ok(())
}
