//! Every official Azure REST example in `tests/fixtures/azure-rest-examples/` is read by its
//! connector's parser into the expected normalised rows. A fixture without a check here fails
//! `every_fixture_file_has_a_parser_check`, so a new one cannot be skipped silently.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

mod advisor_examples;
mod cost_examples;
mod monitor_examples;
mod prices_examples;
mod resource_graph_examples;
mod skus_examples;

use advisor_examples::{advisor_detail, advisor_list_2023, advisor_list_2025};
use cost_examples::{
    cost_mg_grouping, cost_mg_query, cost_rg_grouping, cost_rg_query, cost_sub_grouping,
    cost_sub_query,
};
use monitor_examples::{metrics_batch, metrics_get, metrics_multi_resource};
use prices_examples::prices_vm;
use resource_graph_examples::{rg_basic, rg_facet, rg_first_page, rg_next_page, rg_random_page};
use skus_examples::{skus_all, skus_extended_locations, skus_for_region};

const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/azure-rest-examples"
);

/// Parses one example and asserts the normalised result.
type Check = fn(&Value);

/// Each fixture (relative path) and the check that parses it.
const CHECKS: &[(&str, Check)] = &[
    (
        "resourcegraph/2022-10-01/ResourcesBasicQuery.json",
        rg_basic,
    ),
    (
        "resourcegraph/2021-03-01/ResourcesMgBasicQuery.json",
        rg_basic,
    ),
    (
        "resourcegraph/2021-03-01/ResourcesTenantBasicQuery.json",
        rg_basic,
    ),
    (
        "resourcegraph/2022-10-01/ResourcesFacetQuery.json",
        rg_facet,
    ),
    (
        "resourcegraph/2022-10-01/ResourcesFirstPageQuery.json",
        rg_first_page,
    ),
    (
        "resourcegraph/2022-10-01/ResourcesNextPageQuery.json",
        rg_next_page,
    ),
    (
        "resourcegraph/2022-10-01/ResourcesRandomPageQuery.json",
        rg_random_page,
    ),
    (
        "costmanagement/2023-11-01/ManagementGroupQueryGrouping.json",
        cost_mg_grouping,
    ),
    (
        "costmanagement/2023-11-01/ResourceGroupQuery.json",
        cost_rg_query,
    ),
    (
        "costmanagement/2023-11-01/ResourceGroupQueryGrouping.json",
        cost_rg_grouping,
    ),
    (
        "costmanagement/2023-11-01/SubscriptionQueryGrouping.json",
        cost_sub_grouping,
    ),
    (
        "costmanagement/2025-03-01/ManagementGroupQuery.json",
        cost_mg_query,
    ),
    (
        "costmanagement/2025-03-01/SubscriptionQuery.json",
        cost_sub_query,
    ),
    (
        "advisor/2023-01-01/ListRecommendations.json",
        advisor_list_2023,
    ),
    (
        "advisor/2025-01-01/ListRecommendations.json",
        advisor_list_2025,
    ),
    (
        "advisor/2023-01-01/GetRecommendationDetail.json",
        advisor_detail,
    ),
    ("monitor-metrics/2023-10-01/GetMetric.json", metrics_get),
    (
        "monitor-metrics/2023-10-01/PostMultiResourceMetricBody.json",
        metrics_multi_resource,
    ),
    (
        "monitor-metrics-batch/2024-02-01/MetricBatchExample.json",
        metrics_batch,
    ),
    (
        "compute-skus/2021-07-01/ListAvailableResourceSkusForARegion.json",
        skus_for_region,
    ),
    (
        "compute-skus/2021-07-01/ListAvailableResourceSkus.json",
        skus_all,
    ),
    (
        "compute-skus/2021-07-01/ListAvailableResourceSkusWithExtendedLocations.json",
        skus_extended_locations,
    ),
    (
        "retail-prices/2023-01-01-preview/RetailPricesVirtualMachines.json",
        prices_vm,
    ),
];

/// The connectors' folders; each has a test below running its checks.
const CONNECTORS: [&str; 7] = [
    "resourcegraph/",
    "costmanagement/",
    "advisor/",
    "monitor-metrics/",
    "monitor-metrics-batch/",
    "compute-skus/",
    "retail-prices/",
];

fn read(relative: &str) -> Value {
    let path = Path::new(ROOT).join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn json_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "json") {
            found.push(path);
        }
    }
}

fn run_checks(prefix: &str) {
    let mut ran = 0;
    for (relative, check) in CHECKS.iter().filter(|(p, _)| p.starts_with(prefix)) {
        check(&read(relative));
        ran += 1;
    }
    assert!(ran > 0, "no fixture under {prefix}");
}

fn body(example: &Value) -> &Value {
    &example["responses"]["200"]["body"]
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

#[test]
fn every_fixture_file_has_a_parser_check() {
    let mut files = Vec::new();
    json_files(Path::new(ROOT), &mut files);
    let on_disk: BTreeSet<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(ROOT)
                .expect("under root")
                .to_string_lossy()
                .trim_start_matches('/')
                .replace('\\', "/")
        })
        .collect();
    let checked: BTreeSet<String> = CHECKS.iter().map(|(p, _)| (*p).to_owned()).collect();
    let unchecked: Vec<_> = on_disk.difference(&checked).collect();
    assert!(
        unchecked.is_empty(),
        "fixtures without a parser check: {unchecked:?}"
    );
    let missing: Vec<_> = checked.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "checks for fixtures that do not exist: {missing:?}"
    );
    for (path, _) in CHECKS {
        assert!(
            CONNECTORS.iter().any(|c| path.starts_with(c)),
            "{path} belongs to no connector test"
        );
    }
}

#[test]
fn resource_graph_examples_map_to_normalised_resources() {
    run_checks("resourcegraph/");
}

#[test]
fn cost_management_examples_map_columns_by_name_to_cost_rows() {
    run_checks("costmanagement/");
}

#[test]
fn advisor_examples_map_to_recommendations_with_savings_and_confidence() {
    run_checks("advisor/");
}

#[test]
fn monitor_examples_give_per_resource_statistics() {
    run_checks("monitor-metrics/");
    run_checks("monitor-metrics-batch/");
}

#[test]
fn resource_sku_examples_give_vm_sizes() {
    run_checks("compute-skus/");
}

#[test]
fn the_documented_retail_prices_answer_gives_exact_prices() {
    run_checks("retail-prices/");
}
