//! From a read sheet and the school's current roster to a plan: every row's outcome (the
//! preview) and the rows a commit writes. Pure apart from the reads in [`Roster::load`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use daftar_client_core::protocol::{
    AdmissionCellError, AdmissionCounts, AdmissionFamilyGroup, AdmissionField, AdmissionOutcome,
    AdmissionRow, AdmissionsMapping, AdmissionsPreview, FamilyGrouping,
};
use daftar_client_core::validate as rules;
use diesel::prelude::*;
use uuid::Uuid;

use super::sheet::{column_letters, Cell, Sheet, SheetRow};
use crate::roster::models::{
    AcademicYearRow, ClassRow, EnrollmentRow, FamilyRow, GuardianRow, StudentGuardianRow,
    StudentRow,
};
use crate::schema::{
    academic_years, classes, enrollments, families, guardians, student_guardians, students,
};

/// Other spellings of each field's header, compared after [`normalise`] (lower case, letters
/// and digits only).
fn aliases(field: AdmissionField) -> &'static [&'static str] {
    match field {
        AdmissionField::AdmissionNo => &[
            "admissionno",
            "admissionnumber",
            "admno",
            "admissionnum",
            "grno",
            "studentid",
        ],
        AdmissionField::GivenName => &[
            "givenname",
            "firstname",
            "first",
            "studentfirstname",
            "name",
        ],
        AdmissionField::FamilyName => &["familyname", "lastname", "surname", "studentlastname"],
        AdmissionField::DateOfBirth => &["dateofbirth", "dob", "birthdate", "birthday"],
        AdmissionField::Gender => &["gender", "sex"],
        AdmissionField::Grade => &["grade", "gradelevel", "level"],
        AdmissionField::Class => &["class", "classname", "section", "classsection"],
        AdmissionField::FamilyKey => &["familykey", "family", "familyid", "familycode", "familyno"],
        AdmissionField::GuardianGivenName => &[
            "guardiangivenname",
            "guardianfirstname",
            "parentgivenname",
            "parentfirstname",
            "guardianname",
            "parentname",
            "fathername",
            "mothername",
        ],
        AdmissionField::GuardianFamilyName => &[
            "guardianfamilyname",
            "guardianlastname",
            "parentfamilyname",
            "parentlastname",
        ],
        AdmissionField::GuardianRelationship => {
            &["guardianrelationship", "relationship", "relation"]
        }
        AdmissionField::GuardianPhone => &[
            "guardianphone",
            "phone",
            "parentphone",
            "mobile",
            "guardianmobile",
            "contactnumber",
        ],
        AdmissionField::GuardianEmail => &["guardianemail", "email", "parentemail"],
    }
}

/// Lower case, letters and digits only: `Date of Birth` → `dateofbirth`.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which column each field is read from: the school's mapping first, then the template header
/// or an alias. Errors name a mapped header the file does not have.
pub fn resolve_columns(
    headers: &[String],
    mapping: &AdmissionsMapping,
    sheet: &str,
) -> Result<BTreeMap<AdmissionField, usize>, String> {
    let normalised: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
    let mut out = BTreeMap::new();
    let mut taken = HashSet::new();
    for (key, header) in &mapping.columns {
        let Some(field) = AdmissionField::from_key(key) else {
            continue;
        };
        let wanted = normalise(header);
        if wanted.is_empty() {
            continue;
        }
        let col = normalised.iter().position(|h| *h == wanted).ok_or_else(|| {
            format!(
                "sheet {sheet}: the mapping reads {} from a column headed {header:?}, which the file does not have",
                field.label()
            )
        })?;
        out.insert(field, col);
        taken.insert(col);
    }
    for field in AdmissionField::ALL {
        if out.contains_key(&field) {
            continue;
        }
        if let Some(col) = normalised
            .iter()
            .enumerate()
            .position(|(i, h)| !taken.contains(&i) && aliases(field).contains(&h.as_str()))
        {
            out.insert(field, col);
            taken.insert(col);
        }
    }
    if !out.contains_key(&AdmissionField::AdmissionNo) {
        return Err(format!(
            "sheet {sheet}: no column holds the admission number (its header should be \"admission_no\"; map your column on the mapping step)"
        ));
    }
    Ok(out)
}

/// What the import knows of the school before it writes.
pub struct Roster {
    pub students: HashMap<String, StudentRow>,
    pub families: HashMap<Uuid, FamilyRow>,
    /// Guardians by family.
    pub guardians: HashMap<Uuid, Vec<GuardianRow>>,
    /// Family of each guardian phone (digits) held by exactly one family.
    pub phone_family: HashMap<String, Option<Uuid>>,
    pub links: HashSet<(Uuid, Uuid)>,
    /// Active classes by normalised name and by normalised code.
    pub classes: HashMap<String, Vec<ClassRow>>,
    pub class_year: HashMap<Uuid, Uuid>,
    pub year_start: HashMap<Uuid, NaiveDate>,
    /// Active enrolments by student.
    pub enrolments: HashMap<Uuid, Vec<EnrollmentRow>>,
}

impl Roster {
    /// Reads the school's students, families, guardians, links, active classes and active
    /// enrolments (a handful of whole-school reads; a 50,000-student school is ~100 MB less
    /// than that in memory).
    pub fn load(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<Roster> {
        let students = students::table
            .filter(students::school_id.eq(school_id))
            .select(StudentRow::as_select())
            .load::<StudentRow>(conn)?
            .into_iter()
            .map(|s| (s.admission_no.clone(), s))
            .collect();
        let families = families::table
            .filter(families::school_id.eq(school_id))
            .select(FamilyRow::as_select())
            .load::<FamilyRow>(conn)?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        let mut by_family: HashMap<Uuid, Vec<GuardianRow>> = HashMap::new();
        let mut phone_family: HashMap<String, Option<Uuid>> = HashMap::new();
        for g in guardians::table
            .filter(guardians::school_id.eq(school_id))
            .select(GuardianRow::as_select())
            .load::<GuardianRow>(conn)?
        {
            if let Some(p) = g.phone.as_deref().map(phone_digits) {
                phone_family
                    .entry(p)
                    .and_modify(|f| {
                        if *f != Some(g.family_id) {
                            *f = None;
                        }
                    })
                    .or_insert(Some(g.family_id));
            }
            by_family.entry(g.family_id).or_default().push(g);
        }
        let links = student_guardians::table
            .filter(student_guardians::school_id.eq(school_id))
            .select(StudentGuardianRow::as_select())
            .load::<StudentGuardianRow>(conn)?
            .into_iter()
            .map(|l| (l.student_id, l.guardian_id))
            .collect();
        let mut class_map: HashMap<String, Vec<ClassRow>> = HashMap::new();
        let mut class_year = HashMap::new();
        for c in classes::table
            .filter(classes::school_id.eq(school_id))
            .filter(classes::active.eq(true))
            .select(ClassRow::as_select())
            .load::<ClassRow>(conn)?
        {
            class_year.insert(c.id, c.academic_year_id);
            if let Some(code) = c.code.as_deref().map(normalise) {
                if code != normalise(&c.name) {
                    class_map.entry(code).or_default().push(c.clone());
                }
            }
            class_map.entry(normalise(&c.name)).or_default().push(c);
        }
        let year_start = academic_years::table
            .filter(academic_years::school_id.eq(school_id))
            .select(AcademicYearRow::as_select())
            .load::<AcademicYearRow>(conn)?
            .into_iter()
            .map(|y| (y.id, y.starts_on))
            .collect();
        let mut enrolments: HashMap<Uuid, Vec<EnrollmentRow>> = HashMap::new();
        for e in enrollments::table
            .filter(enrollments::school_id.eq(school_id))
            .filter(enrollments::active.eq(true))
            .select(EnrollmentRow::as_select())
            .load::<EnrollmentRow>(conn)?
        {
            enrolments.entry(e.student_id).or_default().push(e);
        }
        Ok(Roster {
            students,
            families,
            guardians: by_family,
            phone_family,
            links,
            classes: class_map,
            class_year,
            year_start,
            enrolments,
        })
    }
}

/// The digits of a phone number (what siblings' rows are compared by).
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Every row a commit writes, in the order it writes them.
#[derive(Debug, Default)]
pub struct Writes {
    pub families: Vec<FamilyRow>,
    pub students: Vec<StudentRow>,
    pub student_updates: Vec<(StudentRow, StudentRow)>,
    pub guardians: Vec<GuardianRow>,
    pub guardian_updates: Vec<(GuardianRow, GuardianRow)>,
    pub links: Vec<StudentGuardianRow>,
    pub enrolments: Vec<EnrollmentRow>,
    /// Active enrolments a class change ends (same academic year as the new class).
    pub ended_enrolments: Vec<EnrollmentRow>,
}

/// The preview and the writes of one file.
pub struct Plan {
    pub preview: AdmissionsPreview,
    pub writes: Writes,
}

/// Options of one run.
pub struct PlanOptions<'a> {
    pub school_id: Uuid,
    pub format: &'a str,
    pub group_by_phone: bool,
    /// Today in the school's time zone (dates of birth after it are refused; ended
    /// enrolments end on it).
    pub today: NaiveDate,
}

/// A guardian as a row gives it.
#[derive(Debug, Clone)]
struct GuardianInput {
    given_name: String,
    family_name: String,
    relationship: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// A row whose cells all read.
#[derive(Debug, Clone)]
struct Candidate<'r> {
    index: usize,
    admission_no: String,
    given_name: Option<String>,
    family_name: Option<String>,
    date_of_birth: Option<NaiveDate>,
    gender: Option<String>,
    grade: Option<String>,
    class: Option<&'r ClassRow>,
    family_key: Option<String>,
    guardian: Option<GuardianInput>,
}

/// Reads one row's cells, each once: a cell's value is moved out, not copied (a 50,000-row
/// sheet's text is not held twice).
struct RowReader<'a> {
    sheet: &'a str,
    headers: &'a [String],
    columns: &'a BTreeMap<AdmissionField, usize>,
    row: SheetRow,
    errors: Vec<AdmissionCellError>,
}

impl RowReader<'_> {
    fn take(&mut self, field: AdmissionField) -> Option<Cell> {
        let col = *self.columns.get(&field)?;
        let cell = std::mem::take(self.row.cells.get_mut(col)?);
        (cell != Cell::Empty).then_some(cell)
    }

    /// True when a cell of `field` already has an error (so "required" is not said twice).
    fn has_error(&self, field: AdmissionField) -> bool {
        let col = self.columns.get(&field).map(|&c| column_letters(c));
        self.errors.iter().any(|e| Some(&e.column) == col.as_ref())
    }

    fn error(&mut self, field: AdmissionField, message: impl Into<String>) {
        let col = self.columns.get(&field).copied();
        self.errors.push(AdmissionCellError {
            sheet: self.sheet.to_string(),
            row: self.row.row,
            column: col.map(column_letters).unwrap_or_default(),
            header: col
                .and_then(|c| self.headers.get(c).cloned())
                .unwrap_or_else(|| field.label().to_string()),
            message: message.into(),
        });
    }

    /// Text of a text field; an integral number is read as its digits (`1001`), anything else
    /// is a wrong type.
    fn text(&mut self, field: AdmissionField, numbers_ok: bool) -> Option<String> {
        let value = match self.take(field)? {
            Cell::Text(s) => Ok(s),
            Cell::Number(n) if numbers_ok && n.fract() == 0.0 && n.abs() < 1e15 => {
                Ok(format!("{}", n as i64))
            }
            Cell::Number(n) => Err(format!("must be text, but the cell holds the number {n}")),
            Cell::Bool(b) => Err(format!(
                "must be text, but the cell holds {}",
                if b { "TRUE" } else { "FALSE" }
            )),
            Cell::Date(d) => Err(format!("must be text, but the cell holds the date {d}")),
            Cell::Error(e) => Err(format!("the cell holds the spreadsheet error {e}")),
            Cell::Empty => return None,
        };
        match value {
            Ok(v) => Some(v),
            Err(m) => {
                self.error(field, m);
                None
            }
        }
    }

    fn checked(
        &mut self,
        field: AdmissionField,
        numbers_ok: bool,
        check: impl FnOnce(&str) -> Result<Option<String>, rules::FieldError>,
    ) -> Option<String> {
        let raw = self.text(field, numbers_ok)?;
        match check(&raw) {
            Ok(v) => v,
            Err(e) => {
                self.error(field, e.message);
                None
            }
        }
    }

    fn date(&mut self, field: AdmissionField, today: NaiveDate) -> Option<NaiveDate> {
        let parsed = match self.take(field)? {
            Cell::Date(d) => Ok(d),
            Cell::Number(n) => excel_serial(n).ok_or_else(|| {
                format!("the number {n} is not a date (an Excel date serial is 1 to 2958465)")
            }),
            Cell::Text(s) => parse_date_text(&s),
            Cell::Bool(_) => Err("must be a date, but the cell holds TRUE/FALSE".to_string()),
            Cell::Error(e) => Err(format!("the cell holds the spreadsheet error {e}")),
            Cell::Empty => return None,
        };
        match parsed {
            Ok(d) if d > today => {
                self.error(field, format!("{d} is in the future"));
                None
            }
            Ok(d) if d < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) => {
                self.error(field, format!("{d} is before 1900"));
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                self.error(field, m);
                None
            }
        }
    }
}

/// An Excel date serial (1900 date system, the default of every workbook Excel writes on
/// Windows; 1 = 1900-01-01, with Excel's phantom 1900-02-29 at 60) → a date.
pub fn excel_serial(n: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&n) {
        return None;
    }
    let days = n.floor() as i64;
    // From 1899-12-30, serials from 61 on are right; below 60 Excel counts one day more.
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    let days = if days < 60 { days + 1 } else { days };
    base.checked_add_signed(chrono::Duration::days(days))
}

/// A date written as text: `YYYY-MM-DD` (ISO 8601), or day first `DD/MM/YYYY`, `DD-MM-YYYY`,
/// `DD.MM.YYYY`, or `3 Mar 2015` / `3-Mar-2015`. A month above 12 with a day at most 12
/// (`03/25/2015`) is taken for month-first and refused rather than guessed.
pub fn parse_date_text(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d);
    }
    for f in ["%d %b %Y", "%d-%b-%Y", "%d %B %Y", "%d-%B-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(d);
        }
    }
    let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
    if let [d, m, y] = parts.as_slice() {
        if let (Ok(d), Ok(m), Ok(y)) = (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>()) {
            if y >= 1000 {
                if m > 12 && d <= 12 {
                    return Err(format!(
                        "{s:?} reads as month first; write the day first (DD/MM/YYYY) or YYYY-MM-DD"
                    ));
                }
                if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                    return Ok(date);
                }
                return Err(format!("{s:?} is not a date of the calendar"));
            }
        }
    }
    Err(format!(
        "{s:?} is not a date; write YYYY-MM-DD or DD/MM/YYYY, or format the cell as a date"
    ))
}

/// Plans `sheet` against `roster`. Never fails: a row that cannot be imported has outcome
/// `error` and its errors name sheet, row and column.
pub fn plan(
    sheet: Sheet,
    columns: &BTreeMap<AdmissionField, usize>,
    roster: &Roster,
    options: &PlanOptions<'_>,
) -> Plan {
    let now = Utc::now();
    let school_id = options.school_id;
    let Sheet {
        name: sheet_name,
        sheets,
        headers,
        rows: sheet_rows,
        warnings,
    } = sheet;
    let mut rows: Vec<AdmissionRow> = Vec::with_capacity(sheet_rows.len());
    let mut candidates: Vec<Option<Candidate>> = Vec::with_capacity(sheet_rows.len());
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();

    // Each row's cells are consumed (and freed) as it is read.
    for (index, sheet_row) in sheet_rows.into_iter().enumerate() {
        let row_no = sheet_row.row;
        let mut r = RowReader {
            sheet: &sheet_name,
            headers: &headers,
            columns,
            row: sheet_row,
            errors: Vec::new(),
        };
        let admission_no = r.checked(AdmissionField::AdmissionNo, true, |v| {
            rules::text("admission_no", v, 50).map(Some)
        });
        let given_name = r.checked(AdmissionField::GivenName, false, |v| {
            rules::opt_text("given_name", Some(v), 100)
        });
        let family_name = r.checked(AdmissionField::FamilyName, false, |v| {
            rules::opt_text("family_name", Some(v), 100)
        });
        let date_of_birth = r.date(AdmissionField::DateOfBirth, options.today);
        let gender = r.checked(AdmissionField::Gender, false, |v| {
            rules::opt_text("gender", Some(v), 20)
        });
        let grade = r.checked(AdmissionField::Grade, true, |v| {
            rules::opt_text("grade", Some(v), 50)
        });
        let class_name = r.text(AdmissionField::Class, true);
        let class = class_name.and_then(|name| match pick_class(roster, &name) {
            Ok(c) => Some(c),
            Err(m) => {
                r.error(AdmissionField::Class, m);
                None
            }
        });
        let family_key = r.text(AdmissionField::FamilyKey, true);
        let g_given = r.checked(AdmissionField::GuardianGivenName, false, |v| {
            rules::opt_text("guardian_given_name", Some(v), 100)
        });
        let g_family = r.checked(AdmissionField::GuardianFamilyName, false, |v| {
            rules::opt_text("guardian_family_name", Some(v), 100)
        });
        let g_relationship = r.checked(AdmissionField::GuardianRelationship, false, |v| {
            rules::opt_text("guardian_relationship", Some(v), 50)
        });
        let g_phone = r.checked(AdmissionField::GuardianPhone, true, |v| {
            rules::phone("guardian_phone", Some(v))
        });
        let g_email = r.checked(AdmissionField::GuardianEmail, false, |v| {
            rules::email("guardian_email", Some(v))
        });
        let guardian_given = g_given.is_some()
            || g_family.is_some()
            || g_relationship.is_some()
            || g_phone.is_some()
            || g_email.is_some();
        let guardian = if guardian_given {
            match g_given {
                Some(given_name) => Some(GuardianInput {
                    given_name,
                    family_name: g_family.or_else(|| family_name.clone()).unwrap_or_default(),
                    relationship: g_relationship,
                    phone: g_phone,
                    email: g_email,
                }),
                None => {
                    r.error(
                        AdmissionField::GuardianGivenName,
                        "is empty, but the row has other guardian details",
                    );
                    None
                }
            }
        } else {
            None
        };
        let existing = admission_no.as_deref().and_then(|a| roster.students.get(a));
        if existing.is_none() && admission_no.is_some() {
            if given_name.is_none() && !r.has_error(AdmissionField::GivenName) {
                r.error(AdmissionField::GivenName, "is required for a new student");
            }
            if family_name.is_none() && !r.has_error(AdmissionField::FamilyName) {
                r.error(AdmissionField::FamilyName, "is required for a new student");
            }
        }
        if let Some(g) = &guardian {
            if g.family_name.is_empty() {
                r.error(
                    AdmissionField::GuardianFamilyName,
                    "is empty and so is the student's family name",
                );
            }
        }
        if admission_no.is_none() && !r.has_error(AdmissionField::AdmissionNo) {
            r.error(AdmissionField::AdmissionNo, "is empty; every row needs one");
        }
        let name = [given_name.as_deref(), family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let errors = std::mem::take(&mut r.errors);
        if let Some(a) = &admission_no {
            seen.entry(a.clone()).or_default().push(index);
        }
        rows.push(AdmissionRow {
            row: row_no,
            admission_no: admission_no.clone().unwrap_or_default(),
            name: if name.is_empty() {
                existing
                    .map(|s| format!("{} {}", s.given_name, s.family_name))
                    .unwrap_or_default()
            } else {
                name
            },
            outcome: AdmissionOutcome::Error,
            changes: Vec::new(),
            errors,
            family: None,
        });
        candidates.push(admission_no.map(|admission_no| Candidate {
            index,
            admission_no,
            given_name,
            family_name,
            date_of_birth,
            gender,
            grade,
            class,
            family_key,
            guardian,
        }));
    }

    // Duplicate admission numbers: every row of the number is in error.
    let col = columns.get(&AdmissionField::AdmissionNo).copied();
    for (number, indexes) in &seen {
        if indexes.len() < 2 {
            continue;
        }
        for &i in indexes {
            let others: Vec<String> = indexes
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| rows[j].row.to_string())
                .collect();
            let row = rows[i].row;
            rows[i].errors.push(AdmissionCellError {
                sheet: sheet_name.clone(),
                row,
                column: col.map(column_letters).unwrap_or_default(),
                header: col
                    .and_then(|c| headers.get(c).cloned())
                    .unwrap_or_default(),
                message: format!(
                    "admission number {number} is also on row {}",
                    others.join(", ")
                ),
            });
        }
    }

    let valid: Vec<Candidate> = candidates
        .into_iter()
        .flatten()
        .filter(|c| rows[c.index].errors.is_empty())
        .collect();

    // Family groups, in the order their first row appears.
    let mut group_order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, (FamilyGrouping, Vec<usize>)> = HashMap::new();
    for (i, c) in valid.iter().enumerate() {
        let (key, by) = if let Some(k) = &c.family_key {
            (format!("key:{k}"), FamilyGrouping::FamilyKey)
        } else if let Some(p) = c
            .guardian
            .as_ref()
            .and_then(|g| g.phone.as_deref())
            .filter(|_| options.group_by_phone)
        {
            (
                format!("phone:{}", phone_digits(p)),
                FamilyGrouping::GuardianPhone,
            )
        } else {
            (format!("row:{}", rows[c.index].row), FamilyGrouping::Alone)
        };
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                group_order.push(key.clone());
                (by, Vec::new())
            })
            .1
            .push(i);
    }

    let mut writes = Writes::default();
    let mut counts = AdmissionCounts::default();
    let mut family_groups = Vec::new();
    // Guardians created by this import, per family, by match key (siblings share one).
    let mut new_guardians: HashMap<(Uuid, String), usize> = HashMap::new();
    let mut new_links: HashSet<(Uuid, Uuid)> = HashSet::new();

    for key in &group_order {
        let (by, members) = &groups[key];
        let existing_families: Vec<Uuid> = {
            let mut v = Vec::new();
            for &m in members {
                if let Some(s) = roster.students.get(&valid[m].admission_no) {
                    if !v.contains(&s.family_id) {
                        v.push(s.family_id);
                    }
                }
            }
            v
        };
        let phone_match = if existing_families.is_empty() {
            members.iter().find_map(|&m| {
                let p = valid[m].guardian.as_ref()?.phone.as_deref()?;
                roster.phone_family.get(&phone_digits(p)).copied().flatten()
            })
        } else {
            None
        };
        let (family_id, family_name, joins) =
            match existing_families.first().copied().or(phone_match) {
                Some(f) => (
                    f,
                    roster
                        .families
                        .get(&f)
                        .map(|f| f.name.clone())
                        .unwrap_or_default(),
                    true,
                ),
                None => {
                    let first = &valid[members[0]];
                    let name = first
                        .guardian
                        .as_ref()
                        .map(|g| g.family_name.clone())
                        .or_else(|| first.family_name.clone())
                        .unwrap_or_default();
                    (Uuid::now_v7(), name, false)
                }
            };
        let needs_family = !joins
            && members
                .iter()
                .any(|&m| !roster.students.contains_key(&valid[m].admission_no));
        if needs_family {
            writes.families.push(FamilyRow {
                school_id,
                id: family_id,
                name: family_name.clone(),
                active: true,
                created_at: now,
                updated_at: now,
            });
            counts.new_families += 1;
        }
        let note = (existing_families.len() > 1).then(|| {
            format!(
                "these students are already in {} families; they stay there, and new ones join {}",
                existing_families.len(),
                family_name
            )
        });
        if members.len() > 1 || (joins && existing_families.is_empty()) || note.is_some() {
            family_groups.push(AdmissionFamilyGroup {
                key: key.clone(),
                grouped_by: *by,
                family_name: family_name.clone(),
                family_id: joins.then_some(family_id),
                admission_nos: members
                    .iter()
                    .map(|&m| valid[m].admission_no.clone())
                    .collect(),
                note,
            });
        }

        for &m in members {
            let c = &valid[m];
            let row = &mut rows[c.index];
            row.family = Some(key.clone());
            let (student_id, student_family) = match roster.students.get(&c.admission_no) {
                Some(before) => {
                    let mut after = before.clone();
                    let mut changes = Vec::new();
                    if let Some(v) = &c.given_name {
                        if *v != after.given_name {
                            after.given_name = v.clone();
                            changes.push("given_name");
                        }
                    }
                    if let Some(v) = &c.family_name {
                        if *v != after.family_name {
                            after.family_name = v.clone();
                            changes.push("family_name");
                        }
                    }
                    if c.date_of_birth.is_some() && c.date_of_birth != after.date_of_birth {
                        after.date_of_birth = c.date_of_birth;
                        changes.push("date_of_birth");
                    }
                    if c.gender.is_some() && c.gender != after.gender {
                        after.gender = c.gender.clone();
                        changes.push("gender");
                    }
                    if let Some(v) = &c.grade {
                        if *v != after.grade {
                            after.grade = v.clone();
                            changes.push("grade");
                        }
                    }
                    if !changes.is_empty() {
                        after.updated_at = now;
                        writes.student_updates.push((before.clone(), after));
                    }
                    row.changes = changes.into_iter().map(str::to_string).collect();
                    (before.id, before.family_id)
                }
                None => {
                    let id = Uuid::now_v7();
                    writes.students.push(StudentRow {
                        school_id,
                        id,
                        family_id,
                        admission_no: c.admission_no.clone(),
                        given_name: c.given_name.clone().unwrap_or_default(),
                        family_name: c.family_name.clone().unwrap_or_default(),
                        date_of_birth: c.date_of_birth,
                        gender: c.gender.clone(),
                        grade: c
                            .grade
                            .clone()
                            .or_else(|| c.class.as_ref().map(|k| k.grade.clone()))
                            .unwrap_or_default(),
                        email: None,
                        active: true,
                        sourced_id: None,
                        created_at: now,
                        updated_at: now,
                    });
                    (id, family_id)
                }
            };
            let is_new = !roster.students.contains_key(&c.admission_no);

            if let Some(class) = &c.class {
                let current = roster.enrolments.get(&student_id);
                let already = current
                    .map(|es| es.iter().any(|e| e.class_id == class.id))
                    .unwrap_or(false);
                if !already {
                    let year = roster.class_year.get(&class.id);
                    for e in current.into_iter().flatten() {
                        if roster.class_year.get(&e.class_id) == year {
                            let mut ended = e.clone();
                            ended.active = false;
                            ended.ends_on = Some(options.today);
                            writes.ended_enrolments.push(ended);
                        }
                    }
                    writes.enrolments.push(EnrollmentRow {
                        school_id,
                        id: Uuid::now_v7(),
                        class_id: class.id,
                        student_id,
                        starts_on: None,
                        ends_on: None,
                        active: true,
                        sourced_id: None,
                        created_at: now,
                    });
                    if !is_new {
                        row.changes.push("class".into());
                    }
                }
            }

            if let Some(g) = &c.guardian {
                let match_key =
                    g.phone.as_deref().map(phone_digits).unwrap_or_else(|| {
                        normalise(&format!("{} {}", g.given_name, g.family_name))
                    });
                let stored = roster.guardians.get(&student_family).and_then(|gs| {
                    gs.iter().find(|s| {
                        s.phone.as_deref().map(phone_digits).as_deref() == Some(match_key.as_str())
                            || normalise(&format!("{} {}", s.given_name, s.family_name))
                                == match_key
                    })
                });
                let guardian_id = match stored {
                    Some(before) => {
                        let mut after = before.clone();
                        after.given_name = g.given_name.clone();
                        after.family_name = g.family_name.clone();
                        if let Some(r) = &g.relationship {
                            after.relationship = r.clone();
                        }
                        if g.phone.is_some() {
                            after.phone = g.phone.clone();
                        }
                        if g.email.is_some() {
                            after.email = g.email.clone();
                        }
                        if after != *before
                            && !writes
                                .guardian_updates
                                .iter()
                                .any(|(b, _)| b.id == before.id)
                        {
                            after.updated_at = now;
                            writes.guardian_updates.push((before.clone(), after));
                            if !is_new && !row.changes.iter().any(|c| c == "guardian") {
                                row.changes.push("guardian".into());
                            }
                        }
                        before.id
                    }
                    None => match new_guardians.get(&(student_family, match_key.clone())) {
                        Some(&i) => writes.guardians[i].id,
                        None => {
                            let id = Uuid::now_v7();
                            writes.guardians.push(GuardianRow {
                                school_id,
                                id,
                                family_id: student_family,
                                user_id: None,
                                given_name: g.given_name.clone(),
                                family_name: g.family_name.clone(),
                                relationship: g
                                    .relationship
                                    .clone()
                                    .unwrap_or_else(|| "guardian".into()),
                                phone: g.phone.clone(),
                                email: g.email.clone(),
                                active: true,
                                sourced_id: None,
                                created_at: now,
                                updated_at: now,
                            });
                            counts.new_guardians += 1;
                            new_guardians
                                .insert((student_family, match_key), writes.guardians.len() - 1);
                            id
                        }
                    },
                };
                if !roster.links.contains(&(student_id, guardian_id))
                    && new_links.insert((student_id, guardian_id))
                {
                    writes.links.push(StudentGuardianRow {
                        school_id,
                        student_id,
                        guardian_id,
                    });
                    if !is_new && !row.changes.iter().any(|c| c == "guardian") {
                        row.changes.push("guardian".into());
                    }
                }
            }
            row.outcome = if is_new {
                AdmissionOutcome::New
            } else if row.changes.is_empty() {
                AdmissionOutcome::Unchanged
            } else {
                AdmissionOutcome::Updated
            };
        }
    }

    for r in &rows {
        match r.outcome {
            AdmissionOutcome::New => counts.new += 1,
            AdmissionOutcome::Updated => counts.updated += 1,
            AdmissionOutcome::Unchanged => counts.unchanged += 1,
            AdmissionOutcome::Error => counts.error += 1,
        }
    }
    let used: HashSet<usize> = columns.values().copied().collect();
    let mapping = columns
        .iter()
        .map(|(f, &c)| (f.key().to_string(), headers[c].clone()))
        .collect();
    let ignored_headers = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !used.contains(i) && !h.is_empty())
        .map(|(_, h)| h.clone())
        .collect();
    Plan {
        preview: AdmissionsPreview {
            format: options.format.to_string(),
            sheet: sheet_name,
            sheets,
            headers,
            mapping,
            ignored_headers,
            committed: false,
            counts,
            families: family_groups,
            rows,
            warnings,
        },
        writes,
    }
}

/// The active class a row names, by name or code; of several with that name, the one of the
/// latest academic year.
fn pick_class<'a>(roster: &'a Roster, name: &str) -> Result<&'a ClassRow, String> {
    let matches = roster
        .classes
        .get(&normalise(name))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let start = |c: &ClassRow| roster.year_start.get(&c.academic_year_id).copied();
    let latest = matches.iter().map(start).max().flatten();
    let best: Vec<&ClassRow> = matches.iter().filter(|c| start(c) == latest).collect();
    match best.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no active class of the school is named {name:?}")),
        several => Err(format!(
            "{} classes of this year are named {name:?}; give the class code instead",
            several.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_serials_are_dates_of_the_1900_system() {
        assert_eq!(excel_serial(1.0), NaiveDate::from_ymd_opt(1900, 1, 1));
        assert_eq!(excel_serial(59.0), NaiveDate::from_ymd_opt(1900, 2, 28));
        assert_eq!(excel_serial(61.0), NaiveDate::from_ymd_opt(1900, 3, 1));
        assert_eq!(excel_serial(42005.0), NaiveDate::from_ymd_opt(2015, 1, 1));
        assert_eq!(excel_serial(0.0), None);
    }

    #[test]
    fn dates_as_text_are_read_day_first_and_never_guessed() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(parse_date_text("2015-03-04"), Ok(d(2015, 3, 4)));
        assert_eq!(parse_date_text("04/03/2015"), Ok(d(2015, 3, 4)));
        assert_eq!(parse_date_text("4.3.2015"), Ok(d(2015, 3, 4)));
        assert_eq!(parse_date_text("4 Mar 2015"), Ok(d(2015, 3, 4)));
        assert!(parse_date_text("03/25/2015")
            .expect_err("month first")
            .contains("month first"));
        assert!(parse_date_text("31/02/2015").is_err());
        assert!(parse_date_text("last spring").is_err());
    }

    #[test]
    fn headers_are_found_by_alias_and_the_mapping_wins() {
        let headers: Vec<String> = ["Adm. No", "First Name", "Surname", "D.O.B.", "Notes"]
            .map(String::from)
            .to_vec();
        let cols = resolve_columns(&headers, &AdmissionsMapping::default(), "S").expect("cols");
        assert_eq!(cols[&AdmissionField::AdmissionNo], 0);
        assert_eq!(cols[&AdmissionField::GivenName], 1);
        assert_eq!(cols[&AdmissionField::FamilyName], 2);
        assert_eq!(cols[&AdmissionField::DateOfBirth], 3);
        let mut mapping = AdmissionsMapping::default();
        mapping.columns.insert("given_name".into(), "Notes".into());
        let cols = resolve_columns(&headers, &mapping, "S").expect("cols");
        assert_eq!(cols[&AdmissionField::GivenName], 4);
        mapping.columns.insert("gender".into(), "Sex".into());
        let e = resolve_columns(&headers, &mapping, "S").expect_err("no Sex column");
        assert!(e.contains("\"Sex\""), "{e}");
    }
}
