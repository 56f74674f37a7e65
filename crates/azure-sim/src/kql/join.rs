//! The right side of a `join kind=leftouter`: its rows filtered, extended and projected once
//! per request, indexed by their key columns, then looked up for each row of the left side.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Join, eval};

/// A join's right side, ready to be looked up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinTable {
    /// Its columns, in order (the projection's, else every column its rows have).
    columns: Vec<String>,
    /// Its rows by the values of the join's keys.
    rows: HashMap<Vec<String>, Map<String, Value>>,
}

/// The values of `keys` in `row`, or `None` when one is null or missing (null keys never
/// match in KQL).
fn key_of(keys: &[String], row: &Map<String, Value>) -> Option<Vec<String>> {
    keys.iter()
        .map(|k| match row.get(k) {
            None | Some(Value::Null) => None,
            Some(value) => Some(eval::to_string(&eval::Val::Dyn(value.clone()))),
        })
        .collect()
}

impl Join {
    /// Builds the right side from its table's rows (before its filters). Two rows with the
    /// same keys are refused: a left outer join would then repeat the left row, which the
    /// simulator, paging over source rows, cannot answer.
    pub fn index(
        &self,
        rows: impl Iterator<Item = Value>,
        now: DateTime<Utc>,
    ) -> Result<JoinTable, String> {
        let right = &self.right;
        let mut table = JoinTable::default();
        if let Some(projection) = &right.projection {
            table.columns = projection.iter().map(|c| c.name.clone()).collect();
            if let Some(key) = self.keys.iter().find(|k| !table.columns.contains(k)) {
                return Err(format!(
                    "the join key `{key}` is not a column of the subquery"
                ));
            }
        }
        for row in rows.filter(|row| right.matches(row, now)) {
            let row = right.project(right.augment(row, now, &[]), now);
            let Value::Object(object) = row else { continue };
            if right.projection.is_none() {
                for key in object.keys() {
                    if !table.columns.contains(key) {
                        table.columns.push(key.clone());
                    }
                }
            }
            let Some(key) = key_of(&self.keys, &object) else {
                continue;
            };
            if table.rows.insert(key.clone(), object).is_some() {
                return Err(format!(
                    "the joined subquery has two rows with the keys {key:?}; the simulator supports joins with at most one right row per key"
                ));
            }
        }
        Ok(table)
    }
}

impl JoinTable {
    /// Adds the right side's columns to `row`: the values of the row matching its `keys`, or
    /// nulls. A name the row already has gets the first free number (`subscriptionId1`).
    pub fn add_columns(&self, keys: &[String], row: &mut Value) {
        let Value::Object(object) = row else { return };
        let matched = key_of(keys, object).and_then(|key| self.rows.get(&key));
        for column in &self.columns {
            let name = free_name(object, column);
            let value = matched
                .and_then(|m| m.get(column))
                .cloned()
                .unwrap_or(Value::Null);
            object.insert(name, value);
        }
    }
}

fn free_name(object: &Map<String, Value>, column: &str) -> String {
    if !object.contains_key(column) {
        return column.to_owned();
    }
    (1..)
        .map(|n| format!("{column}{n}"))
        .find(|name| !object.contains_key(name))
        .unwrap_or_else(|| column.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    const QUERY: &str = "Resources | extend rgKey = tolower(resourceGroup) \
        | join kind=leftouter (ResourceContainers \
            | where type =~ 'microsoft.resources/subscriptions/resourcegroups' \
            | project subscriptionId, rgKey = tolower(resourceGroup), groupTags = tags) \
          on subscriptionId, rgKey \
        | project id, resourceGroup, groupTags | order by id asc";

    fn containers() -> Vec<Value> {
        let group = |sub: &str, name: &str, tags: Value| {
            json!({"id": format!("/subscriptions/{sub}/resourceGroups/{name}"), "subscriptionId": sub,
                "type": "microsoft.resources/subscriptions/resourcegroups", "resourceGroup": name, "tags": tags})
        };
        vec![
            json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "resourceGroup": "",
                "type": "microsoft.resources/subscriptions", "tags": {"owner": "sub"}}),
            group("s1", "RG-Web", json!({"env": "prod"})),
            group("s2", "rg-web", json!({"env": "dev"})),
        ]
    }

    fn joined(plan: &super::super::Plan, row: Value) -> Value {
        let table = plan.joins[0]
            .index(containers().into_iter(), now())
            .expect("indexes");
        plan.project(plan.augment(row, now(), &[table]), now())
    }

    #[test]
    fn a_left_outer_join_adds_the_matching_rows_columns_or_nulls() {
        let plan = parse(QUERY).expect("parses");
        assert!(plan.orders_by_id_ascending() && !plan.needs_rows());
        let row = |sub: &str, group: &str| {
            json!({"id": format!("/subscriptions/{sub}/resourceGroups/{group}/providers/x/y/z"),
                "subscriptionId": sub, "resourceGroup": group, "tags": {"own": "tag"}})
        };
        // The key is lower-cased on both sides, and the subscription is part of it.
        let web = joined(&plan, row("s1", "rg-WEB"));
        assert_eq!(web["groupTags"], json!({"env": "prod"}));
        assert_eq!(web.as_object().map(|o| o.len()), Some(3));
        assert_eq!(
            joined(&plan, row("s2", "RG-Web"))["groupTags"],
            json!({"env": "dev"})
        );
        // No such group (or none in that subscription): the right columns are null.
        let missing = joined(&plan, row("s1", "rg-gone"));
        assert_eq!(missing["groupTags"], Value::Null);
        assert!(
            missing
                .as_object()
                .is_some_and(|o| o.contains_key("groupTags"))
        );
    }

    #[test]
    fn clashing_right_columns_are_numbered_as_in_kql() {
        let plan = parse(
            "Resources | join kind=leftouter (ResourceContainers \
             | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId, tags) \
             on subscriptionId",
        )
        .expect("parses");
        let row = joined(
            &plan,
            json!({"id": "/x", "subscriptionId": "s1", "tags": {"own": "tag"}}),
        );
        assert_eq!(row["tags"], json!({"own": "tag"}));
        assert_eq!(row["subscriptionId1"], json!("s1"));
        assert_eq!(row["tags1"], json!({"owner": "sub"}));
    }

    #[test]
    fn two_right_rows_with_the_same_keys_are_refused() {
        let plan = parse(
            "Resources | join kind=leftouter (ResourceContainers | project subscriptionId) \
             on subscriptionId",
        )
        .expect("parses");
        let err = plan.joins[0]
            .index(containers().into_iter(), now())
            .expect_err("s1 twice");
        assert!(err.contains("at most one right row per key"), "{err}");
    }

    #[test]
    fn other_join_flavours_and_stage_orders_are_unsupported() {
        let sub = "(ResourceContainers | project subscriptionId) on subscriptionId";
        for flavour in ["", "kind=inner ", "kind=innerunique ", "kind=fullouter "] {
            assert!(
                parse(&format!("Resources | join {flavour}{sub}")).is_err(),
                "{flavour}"
            );
        }
        let left = format!("Resources | join kind=leftouter {sub}");
        assert!(parse(&format!("{left} | where id == 'x'")).is_err());
        assert!(parse(&format!("{left} | extend a = id")).is_err());
        assert!(
            parse(&format!(
                "Resources | project id | join kind=leftouter {sub}"
            ))
            .is_err()
        );
        assert!(parse(&format!("{left} | project id | order by id asc")).is_ok());
        let lacking =
            parse("Resources | join kind=leftouter (ResourceContainers | project name) on id")
                .expect("parses");
        let err = lacking.joins[0]
            .index(containers().into_iter(), now())
            .expect_err("no id");
        assert!(err.contains("`id` is not a column"), "{err}");
        assert!(parse("Resources | join kind=leftouter (ResourceContainers on id").is_err());
    }
}
