//! Attendance codes, registers, marks and attendance views (ARCHITECTURE.md §5).

use super::*;

/// What an attendance code means for reports (ARCHITECTURE.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttendanceCategory {
    Present,
    Absent,
    Late,
    Excused,
    HalfDay,
}

impl AttendanceCategory {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttendanceCategory::Present => "present",
            AttendanceCategory::Absent => "absent",
            AttendanceCategory::Late => "late",
            AttendanceCategory::Excused => "excused",
            AttendanceCategory::HalfDay => "half_day",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Present,
            Self::Absent,
            Self::Late,
            Self::Excused,
            Self::HalfDay,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A school's attendance code, e.g. `P` = Present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceCode {
    pub id: Uuid,
    pub code: String,
    pub label: String,
    pub category: AttendanceCategory,
    pub active: bool,
}

/// `POST /api/v1/attendance-codes` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateAttendanceCodeRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9]{1,4}\s*$"))]
    pub code: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 50,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub label: String,
    pub category: AttendanceCategory,
}

/// One student whose mark differs from the register's default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkException {
    pub student_id: Uuid,
    pub code: String,
}

/// `PUT /api/v1/classes/{id}/registers/{date}`: mark the whole class in one request — every
/// enrolled student gets `default_code` (default `P`) except those listed. An office user
/// changing a teacher's mark must give a `reason`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRegisterRequest {
    /// 0 = the whole day (default), else the lesson period.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 20))]
    pub period: i16,
    #[serde(default)]
    pub default_code: Option<String>,
    #[serde(default)]
    pub exceptions: Vec<MarkException>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Who made a mark: a teacher (for their assigned classes, within the edit window) or the
/// office (admin or accountant, any class, overriding with a reason). Stored and sent as
/// `teacher` / `office`; the precedence between them is `crate::attendance::precedence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MarkSource {
    Teacher,
    Office,
}

impl MarkSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkSource::Teacher => "teacher",
            MarkSource::Office => "office",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "teacher" => Some(MarkSource::Teacher),
            "office" => Some(MarkSource::Office),
            _ => None,
        }
    }
}

/// A student's current mark in a register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceMark {
    pub student_id: Uuid,
    pub code: String,
    pub category: AttendanceCategory,
    pub source: MarkSource,
    pub reason: Option<String>,
    pub marked_by: Uuid,
    pub marked_at: DateTime<Utc>,
}

/// A register (one class, one date, one period) and its marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Register {
    pub id: Uuid,
    pub class_id: Uuid,
    pub on_date: NaiveDate,
    pub period: i16,
    pub taken_at: Option<DateTime<Utc>>,
    pub marks: Vec<AttendanceMark>,
}

/// Result of marking: the register, and students whose office override was kept over the
/// teacher's mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRegisterResult {
    pub register: Register,
    pub changed: u32,
    pub kept_office_overrides: Vec<Uuid>,
}

/// Counts of marks by category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CategoryCounts {
    pub present: u32,
    pub absent: u32,
    pub late: u32,
    pub excused: u32,
    pub half_day: u32,
}

impl CategoryCounts {
    /// Adds one mark of `c`.
    pub fn add(&mut self, c: AttendanceCategory) {
        match c {
            AttendanceCategory::Present => self.present += 1,
            AttendanceCategory::Absent => self.absent += 1,
            AttendanceCategory::Late => self.late += 1,
            AttendanceCategory::Excused => self.excused += 1,
            AttendanceCategory::HalfDay => self.half_day += 1,
        }
    }

    /// Attendance percentage: (present + late + ½·half-day) / (all − excused) × 100, rounded to
    /// one decimal; `None` when nothing counts.
    pub fn percentage(&self) -> Option<f64> {
        let counted = self.present + self.absent + self.late + self.half_day;
        if counted == 0 {
            return None;
        }
        let attended = f64::from(self.present + self.late) + f64::from(self.half_day) / 2.0;
        Some((attended * 1000.0 / f64::from(counted)).round() / 10.0)
    }
}

/// One day (register) in a student's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentDay {
    pub on_date: NaiveDate,
    pub period: i16,
    pub class_id: Uuid,
    pub code: String,
    pub category: AttendanceCategory,
}

/// `GET /api/v1/students/{id}/attendance?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentAttendance {
    pub student_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<StudentDay>,
    pub counts: CategoryCounts,
    /// See [`CategoryCounts::percentage`].
    pub percentage: Option<f64>,
}

/// One student's row in a class grid: a code (or nothing) per date of `ClassAttendanceGrid::dates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GridRow {
    pub student_id: Uuid,
    pub name: String,
    pub codes: Vec<Option<String>>,
}

/// `GET /api/v1/classes/{id}/attendance?from=&to=`: the register grid (whole-day registers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ClassAttendanceGrid {
    pub class_id: Uuid,
    pub dates: Vec<NaiveDate>,
    pub rows: Vec<GridRow>,
}

/// A class whose register has not been taken on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterNotTaken {
    pub class_id: Uuid,
    pub class_name: String,
    pub teacher_ids: Vec<Uuid>,
}

/// One class's line in the daily summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ClassDaySummary {
    pub class_id: Uuid,
    pub class_name: String,
    pub taken: bool,
    pub counts: CategoryCounts,
}

/// `GET /api/v1/attendance/summary?date=`: the school's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DailyAttendanceSummary {
    pub on_date: NaiveDate,
    pub registers_taken: u32,
    pub classes: u32,
    pub counts: CategoryCounts,
    pub per_class: Vec<ClassDaySummary>,
}
