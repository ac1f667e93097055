//! Users: students, guardians (grouped into families), teachers and administrators, and their logins.

use super::*;
use crate::schema::user_roles;
use daftar_client_core::protocol::Role;

/// Database ids of imported people by OneRoster `sourcedId`.
#[derive(Default)]
pub(super) struct People {
    pub(super) students: HashMap<String, Uuid>,
    pub(super) teachers: HashMap<String, Uuid>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Student,
    Guardian,
    Teacher,
    Admin,
}

pub(super) fn kind_of(row: &Row) -> Result<Kind, ImportError> {
    match row.get("role") {
        "student" => Ok(Kind::Student),
        "parent" | "guardian" | "relative" => Ok(Kind::Guardian),
        "teacher" | "aide" | "proctor" => Ok(Kind::Teacher),
        "administrator" => Ok(Kind::Admin),
        other => Err(row.error("role", format!(
            "`{other}`: expected student, teacher, parent, guardian, relative, aide, proctor or administrator"
        ))),
    }
}

/// Union–find root of `x`.
pub(super) fn root(parent: &mut HashMap<String, String>, x: &str) -> String {
    let mut r = x.to_string();
    while let Some(p) = parent.get(&r).filter(|p| **p != r) {
        r = p.clone();
    }
    parent.insert(x.to_string(), r.clone());
    r
}

pub(super) fn import_users(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    enrollment_rows: &[Row],
    ours: &HashSet<String>,
) -> Result<People, ImportFailure> {
    let mut kinds: HashMap<String, Kind> = HashMap::new();
    let mut live: Vec<&Row> = Vec::new();
    for row in rows {
        let sid = row.required("sourcedId")?;
        let kind = kind_of(row)?;
        if row.to_be_deleted() {
            cx.report.deactivated += deactivate_person(conn, cx, &sid, kind)?;
            continue;
        }
        let orgs = row.list("orgSourcedIds");
        if !orgs.is_empty() && !orgs.iter().any(|o| ours.contains(o)) {
            cx.warn(
                row,
                format!(
                    "user {sid} is not in this school or one of its departments \
                     (orgSourcedIds); skipped"
                ),
            );
            continue;
        }
        kinds.insert(sid, kind);
        live.push(row);
    }

    // Families: students and guardians linked by agentSourcedIds form one family.
    let mut parent: HashMap<String, String> = HashMap::new();
    for row in &live {
        let sid = row.get("sourcedId").to_string();
        if !matches!(kinds[&sid], Kind::Student | Kind::Guardian) {
            continue;
        }
        root(&mut parent, &sid);
        for agent in row.list("agentSourcedIds") {
            match kinds.get(&agent) {
                Some(Kind::Student | Kind::Guardian) => {
                    let (a, b) = (root(&mut parent, &sid), root(&mut parent, &agent));
                    if a != b {
                        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                        parent.insert(hi, lo);
                    }
                }
                _ => cx.warn(row, format!("agentSourcedIds names `{agent}`, who is not a student or guardian in users.csv; link ignored")),
            }
        }
    }
    let mut members: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &live {
        let sid = row.get("sourcedId").to_string();
        if parent.contains_key(&sid) {
            let r = root(&mut parent, &sid);
            members.entry(r).or_default().push(row);
        }
    }
    let mut family_of: HashMap<String, Uuid> = HashMap::new();
    for group in members.values() {
        let mut existing: Option<Uuid> = None;
        for row in group {
            let sid = row.get("sourcedId");
            let fam: Option<Uuid> = if kinds[sid] == Kind::Student {
                students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::sourced_id.eq(sid))
                    .select(students::family_id)
                    .first(conn)
                    .optional()?
            } else {
                guardians::table
                    .filter(guardians::school_id.eq(cx.school_id))
                    .filter(guardians::sourced_id.eq(sid))
                    .select(guardians::family_id)
                    .first(conn)
                    .optional()?
            };
            if let Some(f) = fam {
                existing.get_or_insert(f);
            }
        }
        let family_id = match existing {
            Some(f) => f,
            None => {
                let namer = group
                    .iter()
                    .find(|r| kinds[r.get("sourcedId")] == Kind::Guardian)
                    .unwrap_or(&group[0]);
                let fam = FamilyRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    name: format!("{} family", namer.get("familyName")),
                    active: true,
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                diesel::insert_into(families::table)
                    .values(&fam)
                    .execute(conn)?;
                cx.stats.wrote(conn, "families", 1);
                fam.id
            }
        };
        for row in group {
            family_of.insert(row.get("sourcedId").to_string(), family_id);
        }
    }

    // Student-role users who teach (teacher enrollments) also get a teacher login.
    let mut teaches: BTreeMap<String, &Row> = BTreeMap::new();
    for e in enrollment_rows {
        if matches!(e.get("role"), "teacher" | "aide") && !e.to_be_deleted() {
            if let Some(Kind::Student | Kind::Guardian) = kinds.get(e.get("userSourcedId")) {
                teaches
                    .entry(e.get("userSourcedId").to_string())
                    .or_insert(e);
            }
        }
    }

    let mut people = People::default();
    let mut guardian_links: Vec<(String, Vec<String>)> = Vec::new();
    for row in live {
        let sid = row.get("sourcedId").to_string();
        let active = !row.get("enabledUser").eq_ignore_ascii_case("false");
        let given = validate::text("givenName", row.get("givenName"), 100)
            .map_err(|_| row.error("givenName", "is required (1 to 100 characters)"))?;
        let family_name = validate::text("familyName", row.get("familyName"), 100)
            .map_err(|_| row.error("familyName", "is required (1 to 100 characters)"))?;
        let email = match validate::email("email", row.opt("email").as_deref()) {
            Ok(e) => e,
            Err(_) => {
                cx.warn(
                    row,
                    format!(
                        "email `{}` is not an e-mail address; left empty",
                        row.get("email")
                    ),
                );
                None
            }
        };
        let raw_phone = row.opt("phone").or_else(|| row.opt("sms"));
        let phone = match validate::phone("phone", raw_phone.as_deref()) {
            Ok(p) => p,
            Err(_) => {
                cx.warn(
                    row,
                    format!(
                        "phone `{}` is not a phone number; left empty",
                        raw_phone.unwrap_or_default()
                    ),
                );
                None
            }
        };
        let mut changed;
        match kinds[&sid] {
            Kind::Student => {
                let admission_no = row
                    .opt("identifier")
                    .or_else(|| row.opt("username"))
                    .unwrap_or_else(|| sid.clone());
                let clash: Option<Option<String>> = students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::admission_no.eq(&admission_no))
                    .select(students::sourced_id)
                    .first(conn)
                    .optional()?;
                if let Some(other) = clash.filter(|o| o.as_deref() != Some(sid.as_str())) {
                    return Err(row
                        .error(
                            "identifier",
                            format!(
                        "admission number `{admission_no}` already belongs to another student ({})",
                        other.unwrap_or_else(|| "entered by hand".into())
                    ),
                        )
                        .into());
                }
                let desired = StudentRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    family_id: family_of[&sid],
                    admission_no,
                    given_name: given.clone(),
                    family_name: family_name.clone(),
                    date_of_birth: None,
                    gender: None,
                    grade: row.list("grades").into_iter().next().unwrap_or_default(),
                    email: email.clone(),
                    active,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                let lookup = students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::sourced_id.eq(sid.clone()));
                let (c, s) = upsert!(
                    conn,
                    cx,
                    students,
                    StudentRow,
                    desired,
                    lookup,
                    keep = [id, created_at, updated_at, family_id, date_of_birth, gender]
                );
                changed = c;
                people.students.insert(sid.clone(), s.id);
            }
            Kind::Guardian => {
                let user = upsert_login(
                    conn,
                    cx,
                    row,
                    "parent",
                    &given,
                    &family_name,
                    &email,
                    &phone,
                    active,
                )?;
                let desired = GuardianRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    family_id: family_of[&sid],
                    user_id: Some(user.1.id),
                    given_name: given.clone(),
                    family_name: family_name.clone(),
                    relationship: row.get("role").to_string(),
                    phone: phone.clone(),
                    email: email.clone(),
                    active,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                let lookup = guardians::table
                    .filter(guardians::school_id.eq(cx.school_id))
                    .filter(guardians::sourced_id.eq(sid.clone()));
                let (c, _) = upsert!(
                    conn,
                    cx,
                    guardians,
                    GuardianRow,
                    desired,
                    lookup,
                    keep = [id, created_at, updated_at, family_id]
                );
                changed = if c == Change::Unchanged { user.0 } else { c };
                guardian_links.push((sid.clone(), row.list("agentSourcedIds")));
            }
            Kind::Teacher | Kind::Admin => {
                let role = if kinds[&sid] == Kind::Admin {
                    "admin"
                } else {
                    "teacher"
                };
                let (c, u) = upsert_login(
                    conn,
                    cx,
                    row,
                    role,
                    &given,
                    &family_name,
                    &email,
                    &phone,
                    active,
                )?;
                changed = c;
                people.teachers.insert(sid.clone(), u.id);
            }
        }
        if let Some(e) = teaches.get(&sid) {
            let e = (*e).clone();
            cx.warn(&e, format!(
                "{sid} is enrolled as {} but is a {} in users.csv; imported, with a teacher login for the assignment",
                e.get("role"), row.get("role")
            ));
            let (c, u) = upsert_login(
                conn,
                cx,
                row,
                "teacher",
                &given,
                &family_name,
                &email,
                &phone,
                active,
            )?;
            if changed == Change::Unchanged {
                changed = c;
            }
            people.teachers.insert(sid.clone(), u.id);
        }
        cx.report.users += changed.counts();
    }

    // Guardian ↔ student links (agentSourcedIds, either side).
    let guardian_ids: HashMap<String, Uuid> = guardians::table
        .filter(guardians::school_id.eq(cx.school_id))
        .select((guardians::sourced_id, guardians::id))
        .load::<(Option<String>, Uuid)>(conn)?
        .into_iter()
        .filter_map(|(s, id)| s.map(|s| (s, id)))
        .collect();
    let mut links: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    for (g, agents) in guardian_links {
        for a in agents {
            if let (Some(&gid), Some(&stid)) = (guardian_ids.get(&g), people.students.get(&a)) {
                links.insert((stid, gid));
            }
        }
    }
    for row in rows.iter().filter(|r| r.get("role") == "student") {
        for a in row.list("agentSourcedIds") {
            if let (Some(&stid), Some(&gid)) = (
                people.students.get(row.get("sourcedId")),
                guardian_ids.get(&a),
            ) {
                links.insert((stid, gid));
            }
        }
    }
    let link_rows: Vec<StudentGuardianRow> = links
        .into_iter()
        .map(|(student_id, guardian_id)| StudentGuardianRow {
            school_id: cx.school_id,
            student_id,
            guardian_id,
        })
        .collect();
    // PostgreSQL takes at most 65,535 bind parameters per statement (3 per link).
    for chunk in link_rows.chunks(LINKS_PER_INSERT) {
        let linked = diesel::insert_into(student_guardians::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)?;
        cx.stats.wrote(conn, "student_guardians", linked as u64);
    }
    Ok(people)
}

/// Student–guardian links per INSERT: 3 bind parameters each, under PostgreSQL's 65,535.
pub(super) const LINKS_PER_INSERT: usize = 10_000;

#[allow(clippy::too_many_arguments)]
pub(super) fn upsert_login(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    row: &Row,
    role: &str,
    given: &str,
    family_name: &str,
    email: &Option<String>,
    phone: &Option<String>,
    active: bool,
) -> Result<(Change, UserRow), ImportFailure> {
    let sid = row.get("sourcedId").to_string();
    let username = validate::username("username", row.get("username"))
        .map_err(|_| row.error("username", "must be 1 to 100 letters, digits or . _ @ + -"))?;
    let holding_role = user_roles::table
        .filter(user_roles::school_id.eq(cx.school_id))
        .filter(user_roles::role.eq(role.to_string()))
        .select(user_roles::user_id);
    let clash: Option<(Uuid, Option<String>)> = users::table
        .filter(users::school_id.eq(cx.school_id))
        .filter(users::username.eq(&username))
        .select((users::id, users::sourced_id))
        .first(conn)
        .optional()?;
    if let Some((other_id, other)) = clash {
        let other_has_role = crate::tenancy::roles_of(conn, cx.school_id, other_id)?
            .has(Role::parse(role).unwrap_or(Role::Parent));
        if other.as_deref() != Some(sid.as_str()) || !other_has_role {
            return Err(row
                .error(
                    "username",
                    format!("`{username}` is already the login of another user"),
                )
                .into());
        }
    }
    let desired = UserRow {
        school_id: cx.school_id,
        id: Uuid::now_v7(),
        username,
        display_name: format!("{given} {family_name}"),
        email: email.clone(),
        phone: phone.clone(),
        password_hash: None,
        active,
        failed_logins: 0,
        locked_until: None,
        sourced_id: Some(sid.clone()),
        created_at: cx.now,
        updated_at: cx.now,
    };
    let lookup = users::table
        .filter(users::school_id.eq(cx.school_id))
        .filter(users::sourced_id.eq(sid))
        .filter(users::id.eq_any(holding_role));
    let (change, user) = upsert!(
        conn,
        cx,
        users,
        UserRow,
        desired,
        lookup,
        keep = [
            id,
            created_at,
            updated_at,
            password_hash,
            failed_logins,
            locked_until
        ]
    );
    if change == Change::Inserted {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::school_id.eq(cx.school_id),
                user_roles::user_id.eq(user.id),
                user_roles::role.eq(role),
            ))
            .execute(conn)?;
    }
    Ok((change, user))
}

pub(super) fn deactivate_person(
    conn: &mut PgConnection,
    cx: &Ctx,
    sid: &str,
    kind: Kind,
) -> QueryResult<u64> {
    let n = match kind {
        Kind::Student => diesel::update(
            students::table
                .filter(students::school_id.eq(cx.school_id))
                .filter(students::sourced_id.eq(sid))
                .filter(students::active.eq(true)),
        )
        .set((students::active.eq(false), students::updated_at.eq(cx.now)))
        .execute(conn)?,
        Kind::Guardian => diesel::update(
            guardians::table
                .filter(guardians::school_id.eq(cx.school_id))
                .filter(guardians::sourced_id.eq(sid))
                .filter(guardians::active.eq(true)),
        )
        .set((
            guardians::active.eq(false),
            guardians::updated_at.eq(cx.now),
        ))
        .execute(conn)?,
        Kind::Teacher | Kind::Admin => 0,
    };
    let logins = diesel::update(
        users::table
            .filter(users::school_id.eq(cx.school_id))
            .filter(users::sourced_id.eq(sid))
            .filter(users::active.eq(true)),
    )
    .set((users::active.eq(false), users::updated_at.eq(cx.now)))
    .execute(conn)?;
    Ok((n + if n == 0 { logins } else { 0 }) as u64)
}
