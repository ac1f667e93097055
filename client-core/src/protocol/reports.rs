//! Reports computed from the journal, as tables (ARCHITECTURE.md §4).

use super::*;

/// What a report column holds. `money` cells are integer minor units of the report's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Text,
    Money,
    Count,
    Date,
}

/// A report column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReportColumn {
    /// Stable snake_case key (CSV header).
    pub key: String,
    /// Human label (spreadsheet header).
    pub label: String,
    pub kind: ColumnKind,
}

/// One cell: text, an integer (money in minor units, or a count), or empty. Integers are
/// `i128` because a total over the whole journal may pass `i64::MAX`; JSON
/// carries them as exact integer literals.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum ReportCell {
    Int(i128),
    Text(String),
    Empty,
}

/// Read by hand: serde's untagged enums buffer values in a form without `i128`, so a derived
/// reader refuses every integer cell. Integers beyond `i64`/`u64` arrive exactly through
/// `visit_i128`/`visit_u128` where the format has them; a fractional number is refused.
impl<'de> Deserialize<'de> for ReportCell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Cell;
        impl serde::de::Visitor<'_> for Cell {
            type Value = ReportCell;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer, a string or null")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ReportCell, E> {
                Ok(ReportCell::Int(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ReportCell, E> {
                Ok(ReportCell::Int(v.into()))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<ReportCell, E> {
                Ok(ReportCell::Int(v))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<ReportCell, E> {
                i128::try_from(v)
                    .map(ReportCell::Int)
                    .map_err(|_| E::custom("integer cell beyond i128"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ReportCell, E> {
                Ok(ReportCell::Text(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<ReportCell, E> {
                Ok(ReportCell::Empty)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<ReportCell, E> {
                Ok(ReportCell::Empty)
            }
        }
        d.deserialize_any(Cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_back_what_the_server_writes() {
        let cells = vec![
            ReportCell::Int(150_000),
            ReportCell::Int(-7),
            ReportCell::Text("Cash".into()),
            ReportCell::Empty,
        ];
        let json = serde_json::to_string(&cells).expect("writes");
        assert_eq!(json, r#"[150000,-7,"Cash",null]"#);
        let back: Vec<ReportCell> = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, cells);
        assert!(serde_json::from_str::<ReportCell>("1.5").is_err());
    }
}

/// A report as a table (`GET /api/v1/reports/{name}`; also served as CSV or .xlsx). Every
/// figure is computed from the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReportTable {
    /// The report's name, e.g. `trial_balance`.
    pub report: String,
    pub title: String,
    /// ISO 4217 currency of `money` columns.
    pub currency: String,
    pub columns: Vec<ReportColumn>,
    pub rows: Vec<Vec<ReportCell>>,
    /// Column totals (money and count columns), when the report has them.
    pub totals: Option<Vec<ReportCell>>,
}

/// A teacher's class and its register status on a date (`GET /api/v1/attendance/my-registers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MyRegister {
    pub class_id: Uuid,
    pub class_name: String,
    pub on_date: NaiveDate,
    pub enrolled: u32,
    pub marked: u32,
    pub taken: bool,
}

/// An account of the school's chart (`GET /api/v1/accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Account {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// `asset`, `liability`, `equity`, `income`, `contra_income` or `expense`.
    pub kind: String,
    /// Set on the accounts the system posts to (`cash`, `receivable`, …).
    pub system_key: Option<String>,
    pub active: bool,
}

/// `POST /api/v1/accounts` (admin, accountant): add an account to the chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateAccountRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    /// 1..=20 of letters, digits, `.` and `-`; unique in the school.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9.-]{1,20}\s*$"))]
    pub code: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^(asset|liability|equity|income|contra_income|expense)$")
    )]
    pub kind: String,
}

/// `POST /api/v1/payments/{id}/assign` (office): a payment held in Suspense is given to the
/// family it belongs to; it is then allocated like any payment of that family.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AssignSuspenseRequest {
    pub family_id: Uuid,
}
