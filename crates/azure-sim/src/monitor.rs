//! Azure Monitor metrics of the estate's VMs, scale sets, managed disks, App Service plans and
//! SQL databases ([`metrics::NAMESPACES`]): the ARM API
//! (`GET {resourceId}/providers/Microsoft.Insights/metrics`) and the data-plane batch API
//! (`POST /monitor/{region}/subscriptions/{sub}/metrics:getBatch`, one `metricnamespace` per
//! call, at most 50 resources of one subscription, region and type; `starttime`/`endtime`,
//! never `timespan`).

use std::collections::HashSet;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::arm::ArmRequest;
use super::auth::authorize;
use super::error::{ApiError, ApiResult, ErrorStyle};
use super::metrics::{self, MetricObject, Namespace, namespaces};
use super::server::Shared;

mod request;

use request::{MetricsQuery, parse_time, timespan};

/// Most resources one batch call takes.
pub const BATCH_LIMIT: usize = 50;
const RETENTION_DAYS: i64 = 93;
const READ: &str = "Microsoft.Insights/metrics/read";

/// `GET {resourceId}/providers/Microsoft.Insights/metrics`.
pub fn metrics(
    state: &Shared,
    request: &ArmRequest,
    resource_id: &str,
    subscription: &str,
) -> ApiResult {
    authorize(&state.estate, &request.principal, subscription, READ)?;
    let resource = state
        .estate
        .resource(resource_id)
        .ok_or_else(|| not_found(resource_id))?;
    let bare =
        |message: String| ApiError::bad_request("BadRequest", message).style(ErrorStyle::Bare);
    let Some(namespace) = namespaces::for_kind(resource.kind()) else {
        let kind = resource.kind().arm_type();
        return Err(bare(format!(
            "Metrics of '{kind}' are not simulated; only {}.",
            served_namespaces()
        )));
    };
    if let Some(ns) = request
        .param("metricnamespace")
        .filter(|ns| !ns.eq_ignore_ascii_case(namespace.name))
    {
        return Err(bare(format!(
            "Metric namespace '{ns}' is not valid for resource type '{}'; use {}.",
            resource.kind().arm_type(),
            namespace.name
        )));
    }
    let (start, end) = match request.param("timespan") {
        Some(span) => timespan(span).map_err(bare)?,
        None => (Utc::now() - Duration::hours(1), Utc::now()),
    };
    let default_metric = namespace.metrics[0].name;
    let query = MetricsQuery::parse(
        request,
        namespace,
        request.param("metricnames").unwrap_or(default_metric),
        (start, end),
    )
    .map_err(bare)?;
    let rate = state.estate.config().metric_error_rate;
    let value: Vec<MetricObject> = query
        .names
        .iter()
        .map(|m| metrics::metric_json(&state.estate, resource, m, &query.window, rate))
        .collect();
    Ok(Json(json!({
        "cost": query.window.point_count() * query.names.len() as i64,
        "timespan": format!("{}/{}", seconds(start), seconds(end)),
        "interval": query.interval,
        "value": value,
        "namespace": namespace.name,
        "resourceregion": resource.location,
    }))
    .into_response())
}

fn served_namespaces() -> String {
    metrics::NAMESPACES
        .iter()
        .map(|n| n.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `POST /monitor/{region}/subscriptions/{sub}/metrics:getBatch`.
pub fn batch(state: &Shared, request: &ArmRequest, region: &str, subscription: &str) -> ApiResult {
    batch_inner(state, request, region, subscription).map_err(|e| e.style(ErrorStyle::Batch))
}

fn batch_inner(
    state: &Shared,
    request: &ArmRequest,
    region: &str,
    subscription: &str,
) -> ApiResult {
    authorize(&state.estate, &request.principal, subscription, READ)?;
    let bad = |message: String| ApiError::bad_request("BadRequest", message);
    if request.param("timespan").is_some() {
        return Err(bad(
            "Query parameter 'timespan' is not supported by metrics:getBatch; use 'starttime' and 'endtime'.".into(),
        ));
    }
    let required = |name: &str| {
        request
            .param(name)
            .ok_or_else(|| bad(format!("The query parameter '{name}' is required.")))
    };
    let namespace_name = required("metricnamespace")?;
    let namespace = namespaces::by_name(namespace_name).ok_or_else(|| {
        bad(format!(
            "Metric namespace '{namespace_name}' is not supported; supported: {}.",
            served_namespaces()
        ))
    })?;
    let names = required("metricnames")?;
    let end = request
        .param("endtime")
        .map(parse_time)
        .transpose()
        .map_err(bad)?
        .unwrap_or_else(Utc::now);
    let start = request
        .param("starttime")
        .map(parse_time)
        .transpose()
        .map_err(bad)?;
    let query = MetricsQuery::parse(
        request,
        namespace,
        names,
        (start.unwrap_or(end - Duration::hours(1)), end),
    )
    .map_err(bad)?;
    let ids = resource_ids(&request.body).map_err(bad)?;
    check_batch(state, &ids, (region, subscription), namespace.name).map_err(bad)?;
    let (starttime, endtime) = (millis(query.window.start), millis(query.window.end));
    let values: Vec<BatchValue<'_>> = ids
        .iter()
        .map(|id| BatchValue {
            starttime: &starttime,
            endtime: &endtime,
            interval: &query.interval,
            namespace: namespace_name,
            resourceregion: region,
            resourceid: id,
            value: batch_metrics(state, id, namespace, &query),
        })
        .collect();
    Ok(Json(BatchAnswer { values }).into_response())
}

/// A `metrics:getBatch` answer.
#[derive(Serialize)]
struct BatchAnswer<'a> {
    values: Vec<BatchValue<'a>>,
}

/// One resource's entry of a batch answer.
#[derive(Serialize)]
struct BatchValue<'a> {
    starttime: &'a str,
    endtime: &'a str,
    interval: &'a str,
    namespace: &'a str,
    resourceregion: &'a str,
    resourceid: &'a str,
    value: Vec<MetricObject>,
}

/// The metrics of one resource of a batch; an unknown resource gets an error code per metric.
fn batch_metrics(
    state: &Shared,
    id: &str,
    namespace: &Namespace,
    query: &MetricsQuery,
) -> Vec<MetricObject> {
    let rate = state.estate.config().metric_error_rate;
    match state
        .estate
        .resource(id)
        .filter(|r| r.kind() == namespace.kind)
    {
        Some(r) => query
            .names
            .iter()
            .map(|m| metrics::metric_json(&state.estate, r, m, &query.window, rate))
            .collect(),
        None => {
            let message = format!("The resource '{id}' was not found.");
            query
                .names
                .iter()
                .map(|m| metrics::metric_shell(id, m, "ResourceNotFound", Some(&message)))
                .collect()
        }
    }
}

fn resource_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    let ids = value
        .get("resourceids")
        .and_then(Value::as_array)
        .ok_or("The request body must be {\"resourceids\":[...]} (lower-case key).")?;
    let mut seen = HashSet::new();
    let ids: Vec<String> = ids
        .iter()
        .filter_map(Value::as_str)
        .filter(|id| seen.insert(id.to_ascii_lowercase()))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err("At least one resource id is required.".into());
    }
    if ids.len() > BATCH_LIMIT {
        return Err(format!(
            "The number of resource ids ({}) exceeds the limit of {BATCH_LIMIT}.",
            ids.len()
        ));
    }
    Ok(ids)
}

fn check_batch(
    state: &Shared,
    ids: &[String],
    (region, subscription): (&str, &str),
    namespace: &str,
) -> Result<(), String> {
    for id in ids {
        let segments: Vec<&str> = id.trim_matches('/').split('/').collect();
        if !segments
            .get(1)
            .is_some_and(|s| s.eq_ignore_ascii_case(subscription))
        {
            return Err(format!(
                "All resource ids must belong to subscription '{subscription}': '{id}'."
            ));
        }
        if !resource_type(id).eq_ignore_ascii_case(namespace) {
            return Err(format!(
                "All resources must be of type '{namespace}': '{id}'."
            ));
        }
        if let Some(r) = state
            .estate
            .resource(id)
            .filter(|r| !r.location.eq_ignore_ascii_case(region))
        {
            return Err(format!(
                "All resources must be in region '{region}': '{id}' is in '{}'.",
                r.location
            ));
        }
    }
    Ok(())
}

fn not_found(resource_id: &str) -> ApiError {
    let segments: Vec<&str> = resource_id.trim_matches('/').split('/').collect();
    let group = segments.get(3).copied().unwrap_or_default();
    let name = segments.get(5..).map(|s| s.join("/")).unwrap_or_default();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource '{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

/// The resource type an ARM id names: `Microsoft.Sql/servers/databases` for
/// `…/providers/Microsoft.Sql/servers/s1/databases/db1`.
fn resource_type(id: &str) -> String {
    let segments: Vec<&str> = id.trim_matches('/').split('/').collect();
    let Some(p) = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return String::new();
    };
    let rest = &segments[p + 1..];
    let mut parts: Vec<&str> = rest.first().copied().into_iter().collect();
    parts.extend(rest.iter().skip(1).step_by(2));
    parts.join("/")
}

fn seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_of_nested_ids_include_every_type_segment() {
        let db =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1";
        assert_eq!(resource_type(db), "Microsoft.Sql/servers/databases");
        let vm =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm";
        assert_eq!(resource_type(vm), "Microsoft.Compute/virtualMachines");
    }
}
