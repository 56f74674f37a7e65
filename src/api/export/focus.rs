//! Costs in FOCUS 1.2 (the FinOps Foundation's cost and usage format): `GET
//! /api/v1/costs/export.focus.csv` and `.jsonl`, with the cost list's filters, order and
//! streaming; `GET /api/v1/exports/focus-metadata` says what each column holds and why a column
//! our data cannot fill is null or a stand-in ([`columns`]). The columns and the mapping are
//! those of the README's "FOCUS export" section.

pub mod columns;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use futures::future::BoxFuture;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::costs::ExportCosts;
use super::{Export, Format, Record, respond_as};
use crate::api::costs::filter;
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::{AppState, Caller};
use crate::db::costs::focus::{self, FocusCost};
use crate::db::costs::{CostFilter, CostKey};
use crate::db::{Listed, Page};
use columns::{COLUMNS, Column, HEADER, SERVICE_CATEGORY_MAPPING, service_category};

/// The FOCUS version the export follows.
pub const FOCUS_VERSION: &str = "1.2";
/// Where the synchronous export's metadata is served.
pub const METADATA_PATH: &str = "/api/v1/exports/focus-metadata";

/// The cost rows a filter selects, as FOCUS rows, in the cost list's order.
pub struct Focus(pub CostFilter);

impl Export for Focus {
    type Key = CostKey;
    type Row = FocusCost;
    const NAME: &'static str = "costs-focus";
    const HEADER: &'static [&'static str] = HEADER;

    fn read<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        page: &'a Page<CostKey>,
    ) -> BoxFuture<'a, Result<Listed<FocusCost>, sqlx::Error>> {
        Box::pin(focus::list(conn, &self.0, page))
    }

    fn key(&self, row: &FocusCost) -> CostKey {
        row.key()
    }

    fn write(c: &FocusCost, out: &mut Record) {
        let subscription = format!("/subscriptions/{}", c.subscription_id);
        let (month, next_month) = month_of(c.date);
        out.number(c.cost);
        out.text(c.billing_scope.as_deref().unwrap_or(&subscription));
        out.null();
        out.text(&c.currency);
        out.text(midnight(next_month));
        out.text(midnight(month));
        out.text("Usage");
        out.null();
        out.opt_text(non_empty(&c.meter_category));
        out.text("Usage-Based");
        out.text(midnight(c.date.succ_opt().unwrap_or(c.date)));
        out.text(midnight(c.date));
        out.null();
        out.number(c.amortized_cost);
        out.text("Microsoft");
        out.null();
        out.null();
        out.null();
        out.text("Microsoft");
        out.text("Microsoft");
        out.text(service_category(&c.service_name));
        out.text(non_empty(&c.service_name).unwrap_or("Unknown"));
        out.text(&subscription);
        out.text(&c.subscription_name);
        out.text("Subscription");
        // RegionId, RegionName, ResourceId, ResourceName, ResourceType, Tags, ConsumedQuantity,
        // ConsumedUnit, ListUnitPrice, ContractedUnitPrice, PricingCategory, SkuId, SkuPriceId,
        // CommitmentDiscountId, CommitmentDiscountCategory, CommitmentDiscountName,
        // CommitmentDiscountStatus, CommitmentDiscountType: not held (see `columns`).
        for _ in 0..18 {
            out.null();
        }
        out.opt_text(non_empty(&c.resource_group));
        out.opt_text(non_empty(&c.meter_category));
    }
}

fn non_empty(text: &str) -> Option<&str> {
    Some(text).filter(|t| !t.is_empty())
}

/// FOCUS Date/Time: ISO 8601 in UTC, to the second. Written from the date's numbers (four a
/// row): chrono's `format` parses its pattern at every call.
fn midnight(date: NaiveDate) -> String {
    format!(
        "{:04}-{:02}-{:02}T00:00:00Z",
        date.year(),
        date.month(),
        date.day()
    )
}

/// The first day of `date`'s month and of the next.
fn month_of(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = date.with_day(1).unwrap_or(date);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next)
}

/// A service name and its ServiceCategory.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryMapping {
    pub service_name: &'static str,
    pub service_category: &'static str,
}

/// What a FOCUS export holds: its columns (name, feature level, type, how filled, and why not
/// when not) and the ServiceCategory mapping. A job's `focus-metadata.json` adds the job.
#[derive(Debug, Serialize, ToSchema)]
pub struct FocusMetadata {
    /// `1.2`.
    pub focus_version: &'static str,
    /// What one row is.
    pub grain: &'static str,
    pub generator: String,
    pub columns: Vec<Column>,
    /// Columns our data cannot fill: always null (Mandatory ones among them are known
    /// non-conformances).
    pub null_columns: Vec<&'static str>,
    /// Columns holding a stand-in for data we do not collect.
    pub substituted_columns: Vec<&'static str>,
    /// Azure service names (compared without case) and their ServiceCategory.
    pub service_category_mapping: Vec<CategoryMapping>,
    /// The category of any other service name.
    pub default_service_category: &'static str,
    /// The export job this file belongs to (a job's `focus-metadata.json` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub export: Option<serde_json::Value>,
}

impl FocusMetadata {
    /// The metadata of every FOCUS export of this build.
    pub fn new() -> Self {
        let with = |fill| {
            COLUMNS
                .iter()
                .filter(|c| c.fill == fill)
                .map(|c| c.name)
                .collect()
        };
        Self {
            focus_version: FOCUS_VERSION,
            grain: "one row per day, subscription, resource group, service and meter category (costs_daily), in the subscription's billing currency",
            generator: format!("AzCops {}", crate::VERSION),
            columns: COLUMNS.to_vec(),
            null_columns: with(columns::Fill::Null),
            substituted_columns: with(columns::Fill::Substitute),
            service_category_mapping: SERVICE_CATEGORY_MAPPING
                .iter()
                .map(|&(service_name, service_category)| CategoryMapping {
                    service_name,
                    service_category,
                })
                .collect(),
            default_service_category: "Other",
            export: None,
        }
    }
}

impl Default for FocusMetadata {
    fn default() -> Self {
        Self::new()
    }
}

async fn export(
    state: AppState,
    caller: Caller,
    p: ExportCosts,
    format: Format,
) -> Result<Response, ApiError> {
    let filter = filter(
        &caller,
        (p.from, p.to),
        p.subscription_id,
        p.service_name,
        p.resource_group,
    )?;
    let mut response = respond_as(
        &state,
        caller.scope,
        Focus(filter),
        false,
        format,
        Focus::NAME,
    )
    .await?;
    let headers = response.headers_mut();
    headers.insert(
        header::LINK,
        HeaderValue::from_static("</api/v1/exports/focus-metadata>; rel=\"describedby\""),
    );
    headers.insert("x-focus-version", HeaderValue::from_static(FOCUS_VERSION));
    Ok(response)
}

/// Exports daily costs in FOCUS 1.2 as CSV.
///
/// The rows the cost list (`GET /api/v1/costs`) selects with the same filters, in its order,
/// streamed, one FOCUS row each (columns, mapping and gaps: `GET
/// /api/v1/exports/focus-metadata`, linked from the `Link` header, and the README). Text
/// starting with `= + - @`, tab or CR is prefixed with `'`; null cells are empty.
#[utoipa::path(get, path = "/api/v1/costs/export.focus.csv", operation_id = "exportCostsFocusCsv", tag = "costs",
    params(ExportCosts),
    responses((status = 200, description = "Every matching daily cost row as a FOCUS 1.2 row, CSV (RFC 4180, UTF-8, header row).", body = String, content_type = "text/csv"),
        (status = 422, description = "More rows than a synchronous export streams (`AZCOPS_EXPORT_SYNC_MAX_ROWS`): narrow the filters or use an export job (`POST /api/v1/exports`).")))]
pub async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportCosts>,
) -> Result<Response, ApiError> {
    export(state, caller, p, Format::Csv).await
}

/// Exports daily costs in FOCUS 1.2 as JSON Lines.
///
/// As `export.focus.csv`, one JSON object per line: Decimal columns are JSON numbers with the
/// exact decimal digits, null columns `null`, text unaltered.
#[utoipa::path(get, path = "/api/v1/costs/export.focus.jsonl", operation_id = "exportCostsFocusJsonl", tag = "costs",
    params(ExportCosts),
    responses((status = 200, description = "Every matching daily cost row as a FOCUS 1.2 row, one JSON object per line.", body = String, content_type = "application/x-ndjson"),
        (status = 422, description = "More rows than a synchronous export streams (`AZCOPS_EXPORT_SYNC_MAX_ROWS`): narrow the filters or use an export job (`POST /api/v1/exports`).")))]
pub async fn export_jsonl(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportCosts>,
) -> Result<Response, ApiError> {
    export(state, caller, p, Format::Jsonl).await
}

/// What the FOCUS exports hold.
///
/// Each column's FOCUS name, feature level and type, how AzCops fills it, and for a column our
/// data cannot fill, why it is null or a stand-in; the ServiceCategory mapping.
#[utoipa::path(get, path = "/api/v1/exports/focus-metadata", operation_id = "getFocusMetadata", tag = "exports",
    responses((status = 200, description = "The FOCUS export's columns and mapping.", body = FocusMetadata)))]
pub async fn metadata(_caller: Caller) -> Json<FocusMetadata> {
    Json(FocusMetadata::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_the_day_and_its_calendar_month() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let (month, next) = month_of(day);
        assert_eq!(midnight(month), "2026-12-01T00:00:00Z");
        assert_eq!(midnight(next), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn a_row_fills_every_column() {
        let row = FocusCost {
            id: uuid::Uuid::nil(),
            subscription_db_id: uuid::Uuid::nil(),
            subscription_id: uuid::Uuid::nil(),
            subscription_name: "s".into(),
            billing_scope: None,
            date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            resource_group: String::new(),
            service_name: "Storage".into(),
            meter_category: "Storage".into(),
            cost: rust_decimal::Decimal::new(1050, 2),
            amortized_cost: rust_decimal::Decimal::new(1050, 2),
            currency: "EUR".into(),
        };
        let bytes = super::super::record::encode(Format::Jsonl, None, HEADER, &[row], Focus::write)
            .unwrap();
        let value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&str> = value.keys().map(String::as_str).collect();
        let mut header = HEADER.to_vec();
        header.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, header);
        assert_eq!(value["ServiceCategory"], "Storage");
        assert_eq!(value["ChargePeriodEnd"], "2026-01-03T00:00:00Z");
        assert_eq!(value["x_ResourceGroupName"], serde_json::Value::Null);
    }
}
