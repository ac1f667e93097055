//! Which reports exist (ARCHITECTURE.md §4): their names, columns and totals, and the JSON
//! Schema of each report's answer in the OpenAPI document. The figures are computed in
//! `crate::reports`.

use daftar_client_core::protocol::{ColumnKind, ReportColumn};
use serde::Deserialize;

/// The reports this module builds, by URL name (`GET /api/v1/reports/{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportName {
    TrialBalance,
    Dues,
    Collections,
    Income,
    Defaulters,
    ZeroActivity,
    FamilyStatement,
}

impl ReportName {
    /// Every report, in the order the API lists them.
    pub const ALL: [ReportName; 7] = [
        ReportName::TrialBalance,
        ReportName::Dues,
        ReportName::Collections,
        ReportName::Income,
        ReportName::Defaulters,
        ReportName::ZeroActivity,
        ReportName::FamilyStatement,
    ];

    /// The URL name, e.g. `trial_balance`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportName::TrialBalance => "trial_balance",
            ReportName::Dues => "dues",
            ReportName::Collections => "collections",
            ReportName::Income => "income",
            ReportName::Defaulters => "defaulters",
            ReportName::ZeroActivity => "zero_activity",
            ReportName::FamilyStatement => "family_statement",
        }
    }

    /// The name of this report's response schema in the OpenAPI document.
    pub fn schema_name(self) -> &'static str {
        match self {
            ReportName::TrialBalance => "TrialBalanceReport",
            ReportName::Dues => "DuesReport",
            ReportName::Collections => "CollectionsReport",
            ReportName::Income => "IncomeReport",
            ReportName::Defaulters => "DefaultersReport",
            ReportName::ZeroActivity => "ZeroActivityReport",
            ReportName::FamilyStatement => "FamilyStatementReport",
        }
    }

    /// The columns of this report. `group` matters to `dues` only (its first column is the
    /// group).
    pub fn columns(self, group: DuesGroup) -> Vec<ReportColumn> {
        use ColumnKind::{Count, Date as D, Money, Text as T};
        let spec: Vec<(&str, &str, ColumnKind)> = match self {
            ReportName::TrialBalance => vec![
                ("code", "Code", T),
                ("account", "Account", T),
                ("kind", "Kind", T),
                ("debit", "Debit", Money),
                ("credit", "Credit", Money),
            ],
            ReportName::Dues => vec![
                (group.as_str(), group.label(), T),
                ("not_due", "Not yet due", Money),
                ("days_0_30", "0–30 days", Money),
                ("days_31_60", "31–60 days", Money),
                ("days_61_90", "61–90 days", Money),
                ("days_90_plus", "90+ days", Money),
                ("total", "Total", Money),
            ],
            ReportName::Collections => vec![
                ("date", "Date", D),
                ("cashier", "Cashier", T),
                ("method", "Method", T),
                ("receipts", "Receipts", Count),
                ("collected", "Collected", Money),
                ("reversed", "Reversed", Money),
                ("net", "Net", Money),
            ],
            ReportName::Income => vec![
                ("code", "Code", T),
                ("account", "Income account", T),
                ("amount", "Amount", Money),
            ],
            ReportName::Defaulters => vec![
                ("family", "Family", T),
                ("phones", "Guardian phones", T),
                ("students", "Students", Count),
                ("oldest_due", "Oldest due", D),
                ("overdue", "Overdue", Money),
                ("total", "Total owing", Money),
            ],
            ReportName::ZeroActivity => vec![
                ("kind", "Kind", T),
                ("name", "Name", T),
                ("last_activity", "Last activity", D),
            ],
            ReportName::FamilyStatement => vec![
                ("entry_no", "Entry", Count),
                ("date", "Date", D),
                ("kind", "Kind", T),
                ("memo", "Details", T),
                ("debit", "Debit", Money),
                ("credit", "Credit", Money),
                ("balance", "Balance", Money),
            ],
        };
        spec.into_iter()
            .map(|(k, l, kind)| col(k, l, kind))
            .collect()
    }

    /// Whether the report ends with a totals row.
    pub fn has_totals(self) -> bool {
        !matches!(self, ReportName::ZeroActivity | ReportName::FamilyStatement)
    }

    /// Whether a cell of column `key` may be empty (`null`): only a never-active row's
    /// `last_activity`.
    pub fn may_be_empty(self, key: &str) -> bool {
        self == ReportName::ZeroActivity && key == "last_activity"
    }
}

/// The JSON Schema (OpenAPI 3.1) of one report's JSON answer: a [`ReportTable`] whose
/// `report` is `name`, whose `columns` are exactly [`ReportName::columns`], and whose rows and
/// totals hold one cell per column of that column's kind (ARCHITECTURE.md §10).
pub fn openapi_schema(name: ReportName) -> serde_json::Value {
    use serde_json::json;
    let groups: Vec<Vec<ReportColumn>> = match name {
        ReportName::Dues => DuesGroup::ALL.iter().map(|g| name.columns(*g)).collect(),
        _ => vec![name.columns(DuesGroup::Family)],
    };
    let columns = &groups[0];
    let kind_str = |k: ColumnKind| match k {
        ColumnKind::Text => "text",
        ColumnKind::Money => "money",
        ColumnKind::Count => "count",
        ColumnKind::Date => "date",
    };
    let mut keys: Vec<&str> = groups.iter().flatten().map(|c| c.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    let mut kinds: Vec<&str> = columns.iter().map(|c| kind_str(c.kind)).collect();
    kinds.sort();
    kinds.dedup();
    let column = json!({
        "type": "object",
        "required": ["key", "label", "kind"],
        "properties": {
            "key": {"type": "string", "enum": keys},
            "label": {"type": "string"},
            "kind": {"type": "string", "enum": kinds},
        }
    });
    // One cell per column; a cell is text, an integer (money in minor units, or a count) or,
    // where a column may be empty, null.
    let mut cell_types = vec!["string"];
    if columns
        .iter()
        .any(|c| matches!(c.kind, ColumnKind::Money | ColumnKind::Count))
    {
        cell_types.push("integer");
    }
    if columns.iter().any(|c| name.may_be_empty(&c.key)) {
        cell_types.push("null");
    }
    let n = columns.len();
    let row = json!({
        "type": "array",
        "minItems": n,
        "maxItems": n,
        "items": {"type": cell_types},
    });
    let totals = if name.has_totals() {
        json!({"type": "array", "minItems": n, "maxItems": n,
               "items": {"type": ["string", "integer", "null"]}})
    } else {
        json!({"type": "null"})
    };
    json!({
        "type": "object",
        "description": format!(
            "The `{}` report: columns {}.",
            name.as_str(),
            columns.iter().map(|c| format!("`{}` ({})", c.key, kind_str(c.kind))).collect::<Vec<_>>().join(", ")
        ),
        "required": ["report", "title", "currency", "columns", "rows"],
        "properties": {
            "report": {"type": "string", "enum": [name.as_str()]},
            "title": {"type": "string"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "columns": {"type": "array", "minItems": n, "maxItems": n, "items": column},
            "rows": {"type": "array", "items": row},
            "totals": totals,
        }
    })
}

/// How the dues report groups open lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuesGroup {
    #[default]
    Family,
    Student,
    Class,
}

impl DuesGroup {
    /// Every grouping.
    pub const ALL: [DuesGroup; 3] = [DuesGroup::Family, DuesGroup::Student, DuesGroup::Class];

    /// The column key, e.g. `family`.
    pub fn as_str(self) -> &'static str {
        match self {
            DuesGroup::Family => "family",
            DuesGroup::Student => "student",
            DuesGroup::Class => "class",
        }
    }

    fn label(self) -> &'static str {
        match self {
            DuesGroup::Family => "Family",
            DuesGroup::Student => "Student",
            DuesGroup::Class => "Class",
        }
    }
}

fn col(key: &str, label: &str, kind: ColumnKind) -> ReportColumn {
    ReportColumn {
        key: key.into(),
        label: label.into(),
        kind,
    }
}
