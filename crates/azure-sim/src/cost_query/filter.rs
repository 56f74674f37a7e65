//! Cost Management's recursive `dataset.filter`: `and`/`or` (at least two operands), `not`,
//! and `dimensions`/`tags` conditions with the `In` operator.

use std::collections::HashMap;

use serde::Deserialize;
use uuid::Uuid;

use super::{canonical_dimension, dimension, invalid};
use crate::costs::CostLine;
use crate::error::ApiError;

/// The recursive filter expression.
#[derive(Debug, Clone, Deserialize)]
pub struct Filter {
    and: Option<Vec<Filter>>,
    or: Option<Vec<Filter>>,
    not: Option<Box<Filter>>,
    dimensions: Option<Condition>,
    tags: Option<Condition>,
}

#[derive(Debug, Clone, Deserialize)]
struct Condition {
    name: String,
    operator: String,
    values: Vec<String>,
}

/// Checks operand counts, operators and dimension names.
pub(super) fn validate_filter(f: &Filter) -> Result<(), ApiError> {
    for list in [&f.and, &f.or].into_iter().flatten() {
        if list.len() < 2 {
            return Err(invalid("'and' and 'or' need at least two expressions"));
        }
        list.iter().try_for_each(validate_filter)?;
    }
    if let Some(not) = &f.not {
        validate_filter(not)?;
    }
    for condition in [&f.dimensions, &f.tags].into_iter().flatten() {
        if !condition.operator.eq_ignore_ascii_case("In") {
            return Err(invalid(format!(
                "operator '{}' is not supported",
                condition.operator
            )));
        }
    }
    if let Some(d) = &f.dimensions {
        canonical_dimension(&d.name)?;
    }
    Ok(())
}

/// Whether a cost line passes the filter.
pub(super) fn matches(f: &Filter, line: &CostLine<'_>, subscription: Uuid) -> bool {
    if let Some(all) = &f.and {
        return all.iter().all(|g| matches(g, line, subscription));
    }
    if let Some(any) = &f.or {
        return any.iter().any(|g| matches(g, line, subscription));
    }
    if let Some(not) = &f.not {
        return !matches(not, line, subscription);
    }
    if let Some(d) = &f.dimensions {
        let name = canonical_dimension(&d.name).unwrap_or("ResourceId");
        let value = dimension(line, name, subscription);
        return d.values.iter().any(|v| v.eq_ignore_ascii_case(&value));
    }
    if let Some(t) = &f.tags {
        let tags: HashMap<&str, &str> = if line.purchase {
            HashMap::new()
        } else {
            line.resource.tags.to_map().into_iter().collect()
        };
        return tags
            .get(t.name.as_str())
            .is_some_and(|v| t.values.iter().any(|x| x == v));
    }
    true
}
