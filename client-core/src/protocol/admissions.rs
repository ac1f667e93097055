//! Spreadsheet admissions (issue #17, item 2): `POST /api/v1/imports/admissions` reads
//! students, guardians and families from an `.xlsx`, `.ods` or `.csv` sheet, answers a
//! preview of every row's outcome, and with `commit=true` writes them in one transaction.

use std::collections::BTreeMap;

use super::*;

/// A column the admissions import understands. The template's header row spells each as
/// [`AdmissionField::key`]; a file with other headers is mapped by [`AdmissionsMapping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdmissionField {
    /// Required. The school's admission number: the import is idempotent by it (≤ 50 chars).
    AdmissionNo,
    /// Required for a new student (≤ 100 chars).
    GivenName,
    /// Required for a new student (≤ 100 chars).
    FamilyName,
    /// A date cell, an Excel serial number, or text `YYYY-MM-DD` or day first
    /// (`DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`).
    DateOfBirth,
    /// ≤ 20 chars.
    Gender,
    /// The grade the student is in (`5`, `KG`); taken from the class when empty.
    Grade,
    /// The class to enrol in: a class's name or code, as the school spells it.
    Class,
    /// Rows with the same family key are siblings in one family (the billing account).
    FamilyKey,
    GuardianGivenName,
    GuardianFamilyName,
    /// `mother`, `father`, `guardian`, … (≤ 50 chars; `guardian` when empty).
    GuardianRelationship,
    /// E.164-length phone number; rows without a family key sharing it are siblings.
    GuardianPhone,
    GuardianEmail,
}

impl AdmissionField {
    /// Every field, in the template's column order.
    pub const ALL: [AdmissionField; 13] = [
        AdmissionField::AdmissionNo,
        AdmissionField::GivenName,
        AdmissionField::FamilyName,
        AdmissionField::DateOfBirth,
        AdmissionField::Gender,
        AdmissionField::Grade,
        AdmissionField::Class,
        AdmissionField::FamilyKey,
        AdmissionField::GuardianGivenName,
        AdmissionField::GuardianFamilyName,
        AdmissionField::GuardianRelationship,
        AdmissionField::GuardianPhone,
        AdmissionField::GuardianEmail,
    ];

    /// The wire and template spelling (`admission_no`, `guardian_phone`, …).
    pub fn key(self) -> &'static str {
        match self {
            AdmissionField::AdmissionNo => "admission_no",
            AdmissionField::GivenName => "given_name",
            AdmissionField::FamilyName => "family_name",
            AdmissionField::DateOfBirth => "date_of_birth",
            AdmissionField::Gender => "gender",
            AdmissionField::Grade => "grade",
            AdmissionField::Class => "class",
            AdmissionField::FamilyKey => "family_key",
            AdmissionField::GuardianGivenName => "guardian_given_name",
            AdmissionField::GuardianFamilyName => "guardian_family_name",
            AdmissionField::GuardianRelationship => "guardian_relationship",
            AdmissionField::GuardianPhone => "guardian_phone",
            AdmissionField::GuardianEmail => "guardian_email",
        }
    }

    /// What the office calls it (the console's mapping page).
    pub fn label(self) -> &'static str {
        match self {
            AdmissionField::AdmissionNo => "Admission number",
            AdmissionField::GivenName => "Given name",
            AdmissionField::FamilyName => "Family name",
            AdmissionField::DateOfBirth => "Date of birth",
            AdmissionField::Gender => "Gender",
            AdmissionField::Grade => "Grade",
            AdmissionField::Class => "Class",
            AdmissionField::FamilyKey => "Family key",
            AdmissionField::GuardianGivenName => "Guardian given name",
            AdmissionField::GuardianFamilyName => "Guardian family name",
            AdmissionField::GuardianRelationship => "Guardian relationship",
            AdmissionField::GuardianPhone => "Guardian phone",
            AdmissionField::GuardianEmail => "Guardian e-mail",
        }
    }

    /// Parses [`AdmissionField::key`].
    pub fn from_key(key: &str) -> Option<AdmissionField> {
        AdmissionField::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// Which header of the school's files holds which field, remembered per school
/// (`GET`/`PUT /api/v1/imports/admissions/mapping`). A field not named here is found by its
/// template header or a common alias (`First name`, `DOB`, `Surname`, …), compared ignoring
/// case, spaces and punctuation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionsMapping {
    /// Field key ([`AdmissionField::key`]) → the header text in the file (≤ 200 chars).
    pub columns: BTreeMap<String, String>,
}

/// Query of `POST /api/v1/imports/admissions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct AdmissionsQuery {
    /// `false` (default): a dry run that writes nothing. `true`: write it all in one
    /// transaction, refused with 422 `import_has_errors` while any row has an error.
    #[serde(default)]
    pub commit: bool,
    /// The sheet of a workbook to read (default: the first).
    pub sheet: Option<String>,
    /// Group rows without a family key by shared guardian phone (default `true`); the office
    /// turns it off when the preview's phone groups are wrong.
    pub group_by_phone: Option<bool>,
    /// The file's name, for messages (`students.xlsx`).
    pub file_name: Option<String>,
}

/// What happens to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdmissionOutcome {
    /// A new student (admission number not yet in the school).
    New,
    /// An existing student whose fields, guardian or class change.
    Updated,
    /// An existing student the row does not change.
    Unchanged,
    /// The row cannot be imported; see its errors.
    Error,
}

/// A cell that cannot be imported, named the way a spreadsheet user finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionCellError {
    pub sheet: String,
    /// Row number as the spreadsheet shows it (1 = the first row).
    pub row: u32,
    /// Column letter(s) as the spreadsheet shows them (`A`, `AB`); empty for a whole-row error.
    pub column: String,
    /// The file's header of that column.
    pub header: String,
    pub message: String,
}

/// One data row's outcome in the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionRow {
    /// Row number as the spreadsheet shows it.
    pub row: u32,
    pub admission_no: String,
    /// Given and family name as read.
    pub name: String,
    pub outcome: AdmissionOutcome,
    /// Fields an update changes ([`AdmissionField::key`]s).
    pub changes: Vec<String>,
    pub errors: Vec<AdmissionCellError>,
    /// The family group's key ([`AdmissionFamilyGroup::key`]).
    pub family: Option<String>,
}

/// Why students were put in one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FamilyGrouping {
    /// The same family key.
    FamilyKey,
    /// No family key and the same guardian phone.
    GuardianPhone,
    /// A student alone (no key, no shared phone).
    Alone,
}

/// A family the import fills: siblings grouped for the office to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionFamilyGroup {
    /// `key:<family key>`, `phone:<digits>` or `row:<n>`.
    pub key: String,
    pub grouped_by: FamilyGrouping,
    /// The family's name (an existing family's, or the new one's).
    pub family_name: String,
    /// The existing family the group joins, if any (a student or guardian already in it).
    pub family_id: Option<Uuid>,
    /// Admission numbers of the group's rows, in row order.
    pub admission_nos: Vec<String>,
    /// Something the office should look at (students already in two families).
    pub note: Option<String>,
}

/// Counts of rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionCounts {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub error: u64,
    /// Families created (with `commit`, or that a commit would create).
    pub new_families: u64,
    /// Guardians created.
    pub new_guardians: u64,
}

/// The answer of `POST /api/v1/imports/admissions`: the preview, or what was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdmissionsPreview {
    /// `xlsx`, `ods` or `csv`.
    pub format: String,
    pub sheet: String,
    /// Sheets of the workbook (one for a CSV).
    pub sheets: Vec<String>,
    /// The header row as read.
    pub headers: Vec<String>,
    /// Field key → the header it was read from.
    pub mapping: BTreeMap<String, String>,
    /// Headers no field reads.
    pub ignored_headers: Vec<String>,
    /// True when this answer's rows were written.
    pub committed: bool,
    pub counts: AdmissionCounts,
    /// Groups of two or more students, and groups joining an existing family.
    pub families: Vec<AdmissionFamilyGroup>,
    /// Every data row, in sheet order.
    pub rows: Vec<AdmissionRow>,
    /// Things read in a way the office should know (merged cells filled down).
    pub warnings: Vec<String>,
}
