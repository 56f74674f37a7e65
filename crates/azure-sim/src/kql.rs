//! A tiny KQL interpreter for the Resource Graph simulator: enough of the language to run
//! AzCops' inventory, waste and rightsizing queries over the estate (`Resources` and
//! `ResourceContainers`, `where` with `and`/`or`, comparisons, `in`/`in~`/`!in`/`!in~` with a
//! list of strings, `isnull`, `tostring`/`toint`/`todatetime`/`tolower`, `ago`, `extend`,
//! `join kind=leftouter (subquery) on column, …`, `project` with aliases, `order by`, `limit`).
//! Anything else is reported as unsupported.
//!
//! The simulator knows nothing of AzCops' query library: it interprets whatever text it is sent
//! (instead of hard-coding each result), so it stays right when a query changes. That every
//! query of the library runs here is checked by the `azcops` package's contract test.

mod eval;
mod join;
mod parse;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use join::JoinTable;
pub use parse::parse;

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column and the keys below it: `properties.diskState`, `tags['cost-center']`.
    Path(Vec<String>),
    Str(String),
    Num(f64),
    /// A timespan literal such as `90d`, in seconds.
    Span(i64),
    Call(Func, Vec<Expr>),
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// `value in ('a', 'b')`, `in~` (case-insensitive), `!in`, `!in~`.
    In {
        value: Box<Expr>,
        list: Vec<String>,
        case_insensitive: bool,
        negated: bool,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// The supported functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    ToString,
    ToInt,
    ToReal,
    ToDateTime,
    ToLower,
    IsNull,
    IsNotNull,
    IsEmpty,
    IsNotEmpty,
    Not,
    Ago,
    Now,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=~`, case-insensitive equality.
    EqCi,
    /// `!~`.
    NeCi,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One output column of a `project`.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub expr: Expr,
}

/// The table a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    #[default]
    Resources,
    /// Subscriptions and resource groups.
    ResourceContainers,
}

/// A `join kind=leftouter (right) on keys`: each row gets the columns of the right side's row
/// whose `keys` columns equal its own (all null when none does); a right column whose name
/// the row already has is renamed with a number, as KQL does (`subscriptionId1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The joined subquery: a table, filters, `extend` and `project` (no `join`, `order` or
    /// `limit`).
    pub right: Box<Plan>,
    /// Columns of both sides compared for equality (`on a, b`).
    pub keys: Vec<String>,
}

/// A parsed query, in the shape the simulator supports: filters, `extend`s, left outer joins,
/// then an optional projection, ordering (evaluated on the source row) and limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub table: Table,
    pub filters: Vec<Expr>,
    /// Columns computed from the source row (after the filters).
    pub extends: Vec<Column>,
    pub joins: Vec<Join>,
    pub projection: Option<Vec<Column>>,
    pub order: Option<(Expr, bool)>,
    pub limit: Option<usize>,
}

impl Plan {
    /// Whether `row` passes every `where`.
    pub fn matches(&self, row: &Value, now: DateTime<Utc>) -> bool {
        self.filters
            .iter()
            .all(|f| eval::truthy(&eval::eval(f, row, now)))
    }

    /// The row with its `extend`ed columns and the columns of each join, `tables` being the
    /// joins' right sides in order ([`Join::index`]).
    pub fn augment(&self, mut row: Value, now: DateTime<Utc>, tables: &[JoinTable]) -> Value {
        for column in &self.extends {
            let value = eval::to_json(eval::eval(&column.expr, &row, now));
            if let Value::Object(object) = &mut row {
                object.insert(column.name.clone(), value);
            }
        }
        for (join, table) in self.joins.iter().zip(tables) {
            table.add_columns(&join.keys, &mut row);
        }
        row
    }

    /// The projected row (the row itself without `project`).
    pub fn project(&self, row: Value, now: DateTime<Utc>) -> Value {
        match &self.projection {
            None => row,
            Some(columns) => {
                let out: Map<String, Value> = columns
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone(),
                            eval::to_json(eval::eval(&c.expr, &row, now)),
                        )
                    })
                    .collect();
                Value::Object(out)
            }
        }
    }

    /// The sort key of `row`, as a string (ordinal order), when the query orders.
    pub fn order_key(&self, row: &Value, now: DateTime<Utc>) -> Option<String> {
        let (expr, _) = self.order.as_ref()?;
        Some(eval::to_string(&eval::eval(expr, row, now)))
    }

    /// Whether the query orders by `id` ascending (the estate's natural order).
    pub fn orders_by_id_ascending(&self) -> bool {
        matches!(&self.order, Some((Expr::Path(p), false)) if p.len() == 1 && p[0] == "id")
    }

    /// The literal of a top-level `type =~ '…'` filter, which lets callers skip rows cheaply.
    pub fn type_literal(&self) -> Option<&str> {
        self.filters.iter().find_map(|f| match f {
            Expr::Cmp(l, CmpOp::EqCi, r) => match (l.as_ref(), r.as_ref()) {
                (Expr::Path(p), Expr::Str(s)) if p.len() == 1 && p[0] == "type" => Some(s.as_str()),
                _ => None,
            },
            _ => None,
        })
    }

    /// Whether rows must be evaluated at all (a filter, or an order other than the natural one).
    pub fn needs_rows(&self) -> bool {
        !self.filters.is_empty() || (self.order.is_some() && !self.orders_by_id_ascending())
    }

    /// The column names and their Resource Graph types, for `resultFormat: table`.
    pub fn table_columns(&self, first_row: Option<&Value>) -> Vec<(String, &'static str)> {
        match &self.projection {
            Some(columns) => columns
                .iter()
                .map(|c| (c.name.clone(), column_type(&c.expr)))
                .collect(),
            None => first_row
                .and_then(Value::as_object)
                .map(|o| {
                    o.keys()
                        .map(|k| (k.clone(), column_type(&Expr::Path(vec![k.clone()]))))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

fn column_type(expr: &Expr) -> &'static str {
    const STRINGS: [&str; 9] = [
        "id",
        "name",
        "type",
        "kind",
        "location",
        "resourceGroup",
        "subscriptionId",
        "tenantId",
        "managedBy",
    ];
    match expr {
        Expr::Call(Func::ToString | Func::ToLower, _) | Expr::Str(_) => "string",
        Expr::Call(Func::ToInt, _) => "integer",
        Expr::Call(Func::ToReal, _) | Expr::Num(_) => "number",
        Expr::Call(Func::ToDateTime | Func::Ago | Func::Now, _) => "datetime",
        Expr::Cmp(..) | Expr::In { .. } | Expr::And(..) | Expr::Or(..) => "boolean",
        Expr::Call(
            Func::IsNull | Func::IsNotNull | Func::IsEmpty | Func::IsNotEmpty | Func::Not,
            _,
        ) => "boolean",
        Expr::Path(p) if p.len() == 1 && STRINGS.contains(&p[0].as_str()) => "string",
        _ => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn unattached_disks_match_and_project_flattened_columns() {
        let plan = parse(
            "Resources | where type =~ 'microsoft.compute/disks' \
             | where tostring(properties.diskState) =~ 'Unattached' \
             | project id, diskSizeGb = toint(properties.diskSizeGB), \
             timeCreated = tostring(properties.timeCreated) | order by id asc",
        )
        .expect("parses");
        assert!(plan.orders_by_id_ascending());
        let disk = json!({"id": "/x", "type": "microsoft.compute/disks", "tags": {},
            "properties": {"diskState": "Unattached", "diskSizeGB": 128, "timeCreated": "2024-01-01T00:00:00Z"}});
        assert!(plan.matches(&disk, now()));
        let row = plan.project(disk.clone(), now());
        assert_eq!(row["diskSizeGb"], json!(128));
        assert_eq!(row["timeCreated"], json!("2024-01-01T00:00:00Z"));
        let attached =
            json!({"type": "Microsoft.Compute/disks", "properties": {"diskState": "Attached"}});
        assert!(!plan.matches(&attached, now()));
    }

    #[test]
    fn ago_compares_with_datetimes() {
        let plan = parse(
            "Resources | where type =~ 'microsoft.compute/snapshots' \
             | where todatetime(properties.timeCreated) < ago(90d) | project id",
        )
        .expect("parses");
        let old = json!({"type": "microsoft.compute/snapshots", "properties": {"timeCreated": "2025-01-01T00:00:00Z"}});
        let new = json!({"type": "microsoft.compute/snapshots", "properties": {"timeCreated": "2025-05-01T00:00:00Z"}});
        assert!(plan.matches(&old, now()));
        assert!(!plan.matches(&new, now()));
    }

    #[test]
    fn missing_tag_is_null_and_bare_paths_flatten_with_underscores() {
        let plan = parse("Resources | where isnull(tags['cost-center']) | project properties.a.b")
            .expect("parses");
        assert!(plan.matches(&json!({"tags": {"owner": "x"}}), now()));
        assert!(!plan.matches(&json!({"tags": {"cost-center": "CC"}}), now()));
        assert!(plan.matches(&json!({"tags": "{\"owner\":\"x\"}"}), now()));
        let row = plan.project(json!({"properties": {"a": {"b": 1}}}), now());
        assert_eq!(row, json!({"properties_a_b": 1}));
    }

    #[test]
    fn in_lists_compare_with_or_without_case() {
        let plan = parse(
            "resourcecontainers | where type in~ ('microsoft.resources/subscriptions', \
             'microsoft.resources/subscriptions/resourcegroups') | where name !in ('skip') \
             | project id, name, type, tenantId, subscriptionId, resourceGroup, tags | order by id asc",
        )
        .expect("parses");
        assert_eq!(plan.table, Table::ResourceContainers);
        let rg = json!({"id": "/subscriptions/s/resourceGroups/RG", "name": "RG",
            "type": "Microsoft.Resources/subscriptions/resourceGroups"});
        assert!(plan.matches(&rg, now()));
        assert!(!plan.matches(
            &json!({"type": "microsoft.resources/subscriptions", "name": "skip"}),
            now()
        ));
        let exact = parse("Resources | where type in ('Microsoft.Compute/disks')").expect("parses");
        assert!(!exact.matches(&json!({"type": "microsoft.compute/disks"}), now()));
    }

    #[test]
    fn unsupported_syntax_is_an_error() {
        assert!(parse("Resources | summarize count() by type").is_err());
        assert!(parse("AdvisorResources | project id").is_err());
        assert!(parse("Resources | where type in~ ('a', 1)").is_err());
        assert!(parse("Resources | where name startswith 'x'").is_err());
    }
}
