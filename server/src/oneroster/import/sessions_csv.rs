//! Academic sessions: school years and terms.

use super::*;

/// Imports academic sessions; returns term `sourcedId` → (term id, academic year id).
pub(super) fn import_sessions(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
) -> Result<HashMap<String, (Uuid, Uuid)>, ImportFailure> {
    let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.get("sourcedId"), r)).collect();
    // Resolve each session's school year: its schoolYear-typed ancestor, else its `schoolYear`
    // column (a synthetic year spanning its terms).
    let mut years: BTreeMap<String, (String, NaiveDate, NaiveDate)> = BTreeMap::new();
    let mut year_of: HashMap<String, String> = HashMap::new();
    for row in rows {
        let kind = row.get("type");
        if !matches!(kind, "schoolYear" | "term" | "semester" | "gradingPeriod") {
            return Err(row
                .error(
                    "type",
                    format!("`{kind}`: expected schoolYear, term, semester or gradingPeriod"),
                )
                .into());
        }
        let start = row
            .date("startDate")?
            .ok_or_else(|| row.error("startDate", "is required"))?;
        let end = row
            .date("endDate")?
            .ok_or_else(|| row.error("endDate", "is required"))?;
        if end < start {
            return Err(row.error("endDate", "is before startDate").into());
        }
        let mut cursor: &Row = row;
        let mut hops = 0;
        while cursor.get("type") != "schoolYear" {
            match by_id.get(cursor.get("parentSourcedId")) {
                Some(parent) if hops < 8 => {
                    cursor = *parent;
                    hops += 1;
                }
                _ => break,
            }
        }
        let key = if cursor.get("type") == "schoolYear" {
            let title = cursor.required("title")?;
            years
                .entry(cursor.get("sourcedId").to_string())
                .or_insert((title, start, end));
            cursor.get("sourcedId").to_string()
        } else {
            let sy = row.required("schoolYear").map_err(|_| {
                row.error(
                    "schoolYear",
                    "is empty and the session has no schoolYear parent",
                )
            })?;
            let key = format!("schoolYear:{sy}");
            let e = years.entry(key.clone()).or_insert((sy, start, end));
            e.1 = e.1.min(start);
            e.2 = e.2.max(end);
            key
        };
        if row.get("type") == "schoolYear" {
            let e = years
                .get_mut(&key)
                .ok_or_else(|| row.error("sourcedId", "internal: year vanished"))?;
            e.1 = start;
            e.2 = end;
        }
        year_of.insert(row.get("sourcedId").to_string(), key);
    }
    let mut year_ids = HashMap::new();
    for (key, (name, starts_on, ends_on)) in years {
        // A year the office set up by hand (no sourcedId) under the same name is the export's
        // year: adopt it rather than fail on the unique name. One matched by sourcedId wins.
        let lookup = academic_years::table
            .filter(academic_years::school_id.eq(cx.school_id))
            .filter(
                academic_years::sourced_id
                    .eq(key.clone())
                    .or(academic_years::sourced_id
                        .is_null()
                        .and(academic_years::name.eq(name.clone()))),
            )
            .order(academic_years::sourced_id.is_null().asc());
        let desired = AcademicYearRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            name,
            starts_on,
            ends_on,
            sourced_id: Some(key.clone()),
            created_at: cx.now,
        };
        let (_, row) = upsert!(
            conn,
            cx,
            academic_years,
            AcademicYearRow,
            desired,
            lookup,
            keep = [id, created_at]
        );
        year_ids.insert(key, row.id);
    }
    let mut out = HashMap::new();
    for row in rows.iter().filter(|r| r.get("type") != "schoolYear") {
        let sid = row.get("sourcedId").to_string();
        let year_id = year_of
            .get(&sid)
            .and_then(|k| year_ids.get(k))
            .copied()
            .ok_or_else(|| row.error("schoolYear", "no school year"))?;
        let lookup = terms::table
            .filter(terms::school_id.eq(cx.school_id))
            .filter(terms::sourced_id.eq(sid.clone()));
        if row.to_be_deleted() {
            let n = diesel::update(lookup.filter(terms::active.eq(true)))
                .set(terms::active.eq(false))
                .execute(conn)?;
            cx.report.deactivated += n as u64;
            continue;
        }
        let desired = TermRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year_id,
            name: row.required("title")?,
            starts_on: row.date("startDate")?.unwrap_or_default(),
            ends_on: row.date("endDate")?.unwrap_or_default(),
            active: true,
            sourced_id: Some(sid.clone()),
            created_at: cx.now,
        };
        let (change, term) = upsert!(
            conn,
            cx,
            terms,
            TermRow,
            desired,
            lookup,
            keep = [id, created_at]
        );
        cx.report.terms += change.counts();
        out.insert(sid, (term.id, year_id));
    }
    // Terms imported earlier and referred to by classes in a delta file.
    let known: Vec<(Option<String>, Uuid, Uuid)> = terms::table
        .filter(terms::school_id.eq(cx.school_id))
        .select((terms::sourced_id, terms::id, terms::academic_year_id))
        .load(conn)?;
    for (sid, id, year) in known {
        if let Some(sid) = sid {
            out.entry(sid).or_insert((id, year));
        }
    }
    Ok(out)
}
