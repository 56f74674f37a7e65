//! Cost Management examples: columns by name, dates, amounts, groups, next links.

use azcops::azure::cost_management::{self, QueryResult};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{body, day, dec};

pub(super) fn cost_page(example: &Value) -> QueryResult {
    serde_json::from_value(body(example).clone()).expect("QueryResult")
}

pub(super) const MG_NEXT_LINK: &str = "https://management.azure.com/providers/Microsoft.Management/managementGroups/MyMgId/providers/Microsoft.CostManagement/Query?api-version=2021-10-01&$skiptoken=AQAAAA%3D%3D";

pub(super) fn cost_mg_grouping(example: &Value) {
    let page = cost_page(example);
    assert_eq!(page.next_link().as_deref(), Some(MG_NEXT_LINK));
    let rows = cost_management::parse_rows(&page, day(2000, 1, 1)).expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].date, day(2018, 3, 31));
    assert_eq!(rows[0].resource_group, "vstshol-1595322048000");
    assert_eq!(rows[0].cost, dec("20.35941656262545"));
    assert_eq!(rows[1].resource_group, "rviiot-trial");
    assert_eq!(rows[1].cost, dec("173.41979241290323"));
    assert!(
        rows.iter()
            .all(|r| r.currency == "USD" && r.service_name.is_empty())
    );
}

pub(super) fn cost_rg_query(example: &Value) {
    let page = cost_page(example);
    assert_eq!(page.next_link(), None);
    let rows = cost_management::parse_rows(&page, day(2000, 1, 1)).expect("rows");
    let got: Vec<(NaiveDate, &str, Decimal)> = rows
        .iter()
        .map(|r| (r.date, r.resource_group.as_str(), r.cost))
        .collect();
    assert_eq!(
        got,
        [
            (
                day(2018, 4, 17),
                "screensharingtest-peer",
                dec("2.10333307059661")
            ),
            (
                day(2018, 4, 18),
                "screensharingtest-peer",
                dec("20.10333307059661")
            ),
        ]
    );
}

pub(super) fn cost_rg_grouping(example: &Value) {
    // Grouped by ResourceType: no group or service column, so those read as empty.
    let rows = cost_management::parse_rows(&cost_page(example), day(2000, 1, 1)).expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].date, rows[0].cost),
        (day(2018, 4, 17), dec("2.10333307059661"))
    );
    assert_eq!(
        (rows[1].date, rows[1].cost),
        (day(2018, 4, 18), dec("20.10333307059661"))
    );
    assert!(
        rows.iter().all(|r| r.resource_group.is_empty()
            && r.service_name.is_empty()
            && r.currency == "USD")
    );
}

pub(super) fn cost_sub_grouping(example: &Value) {
    // No UsageDate column (granularity None): rows take the queried period's first day.
    let rows = cost_management::parse_rows(&cost_page(example), day(2018, 3, 1)).expect("rows");
    let got: Vec<(&str, Decimal)> = rows
        .iter()
        .map(|r| (r.resource_group.as_str(), r.cost))
        .collect();
    assert_eq!(
        got,
        [
            (
                "ict_stratandplan_goldsprova_prod_0",
                dec("0.009865586851323632")
            ),
            // A 17-digit literal reads as the shortest decimal of the same double.
            (
                "ict_stratandplan_goldsprova_prod_1",
                dec("218.6879574193549")
            ),
            ("screensharingtest-peer1", dec("2.10333307059661")),
            ("ssbciotelement01", dec("0.14384913581657052")),
        ]
    );
    assert!(rows.iter().all(|r| r.date == day(2018, 3, 1)));
    // The real `granularity: None` answer, grouped by resource group: the per-resource reader
    // refuses it instead of storing its costs as charges without a resource.
    assert_eq!(
        cost_management::parse_resource_rows(&cost_page(example)),
        Err(cost_management::ParseError::MissingColumn {
            column: "ResourceId"
        })
    );
}

pub(super) fn cost_mg_query(example: &Value) {
    let page = cost_page(example);
    assert_eq!(page.next_link().as_deref(), Some(MG_NEXT_LINK));
    let rows = cost_management::parse_rows(&page, day(2000, 1, 1)).expect("rows");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3].resource_group, "gs-stms-dev");
    assert_eq!(rows[3].cost, dec("0.16677720329728665"));
    assert!(rows.iter().all(|r| r.date == day(2018, 3, 31)));
}

pub(super) fn cost_sub_query(example: &Value) {
    let rows = cost_management::parse_rows(&cost_page(example), day(2000, 1, 1)).expect("rows");
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[2].date, rows[2].cost),
        (day(2018, 4, 1), dec("0.14384913581657052"))
    );
    // One group in two cases on two days: same lower-cased group, two rows.
    let merged = cost_management::merge(rows.clone(), rows);
    assert_eq!(merged.len(), 4);
    let prod: Vec<_> = merged
        .iter()
        .filter(|r| r.resource_group == "ict_stratandplan_goldsprova_prod")
        .collect();
    assert_eq!(prod.len(), 2);
    assert_eq!(
        (prod[0].date, prod[0].cost, prod[0].amortized_cost),
        (
            day(2018, 3, 31),
            dec("218.6879574193549"),
            dec("218.6879574193549")
        )
    );
    assert_eq!(prod[1].date, day(2018, 4, 29));
    assert!(merged.iter().all(|r| r.currency == "USD"));
}
