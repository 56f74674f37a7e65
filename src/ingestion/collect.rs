//! Collection for one subscription: the connectors run against Azure (inventory, daily costs,
//! per-resource costs and Advisor concurrently; Monitor once the inventory has named what to
//! read), with every raw response kept by the call context's recorder for the lake. The
//! containers whose tags the resources inherit cost no request of their own: the subscription
//! is described by the home-tenant check's `GET /subscriptions/{id}`, and each resource group by
//! the inventory rows, which carry their group's tags.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use tokio::time::Instant;

use crate::azure::advisor::{self, AdvisorError, AdvisorRecommendation};
use crate::azure::client::{AzureClient, CallContext};
use crate::azure::cost_management::{
    self, CostError, CostRow, CostScope, CostType, DateRange, ResourceCostRow,
};
use crate::azure::monitor::{self, MetricTarget, MonitorError, MonitorOptions, ResourceMetrics};
use crate::azure::resource_graph::{self, Container, Resource, ResourceGraphError};
use crate::azure::subscriptions::{self, SubscriptionError, SubscriptionInfo};
use crate::ingestion::message::Mode;
use crate::ingestion::targets::{ReferenceNeeds, metric_target};

/// The ARM type of virtual machines, as the mapper lower-cases it.
pub const VM_TYPE: &str = "microsoft.compute/virtualmachines";

/// What one subscription's collection returned.
///
/// The inventory is not kept here: its pages are mapped as they arrive only to find the VMs,
/// and the rows are read back from the raw responses (kept once, for the lake) when they are
/// stored, a page at a time, so a large subscription is never held twice.
#[derive(Debug, Default)]
pub struct Collected {
    /// Resources the inventory reported; `None` in cost mode (no inventory taken).
    pub inventory_count: Option<usize>,
    /// The daily costs of every day of `cost_window`: the window's complete answer.
    pub costs: Vec<CostRow>,
    /// The days the costs cover (inclusive).
    pub cost_window: Option<(NaiveDate, NaiveDate)>,
    pub recommendations: Vec<AdvisorRecommendation>,
    /// The metrics of the resources the inventory named ([`metric_target`]).
    pub metrics: Vec<ResourceMetrics>,
    /// Each resource's cost over [`DateRange::resource_cost_window`] (full runs).
    pub resource_costs: Option<(DateRange, Vec<ResourceCostRow>)>,
    /// The window was due but left to a follow-up message: the tenant's Cost Management budget
    /// has room for it only from this instant on ([`ResourceCosts::Due`]).
    pub resource_costs_deferred: Option<Instant>,
    /// The subscription and the resource groups its inventory named, with their tags (full
    /// runs); a group without resources is not among them.
    pub containers: Option<Vec<Container>>,
    /// The reference data the inventory's resources are priced with.
    pub needs: ReferenceNeeds,
}

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// ARM reports another home tenant for the subscription, or the credentials cannot see it
    /// (moved out, or never this tenant's): nothing is collected.
    #[error(
        "the subscription is not, or no longer, in this tenant's Entra tenant (or its credentials cannot see it): nothing was collected"
    )]
    NotInTenant,
    /// The home-tenant check itself failed (throttling, 5xx, no token, …).
    #[error("checking the subscription's home tenant: {0}")]
    HomeTenant(#[from] SubscriptionError),
    /// Resource Graph returned rows whose `tenantId` is not the tenant's (or is missing).
    #[error(
        "Resource Graph returned {count} row(s) of another Entra tenant (or without tenantId): nothing was stored"
    )]
    ForeignRows { count: usize },
    #[error(transparent)]
    ResourceGraph(#[from] ResourceGraphError),
    #[error(transparent)]
    Cost(#[from] CostError),
    #[error(transparent)]
    Advisor(#[from] AdvisorError),
    #[error(transparent)]
    Monitor(#[from] MonitorError),
}

impl CollectError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CollectError::NotInTenant | CollectError::ForeignRows { .. } => false,
            CollectError::HomeTenant(e) => e.is_retryable(),
            CollectError::ResourceGraph(e) => e.is_retryable(),
            CollectError::Cost(e) => e.is_retryable(),
            CollectError::Advisor(e) => e.is_retryable(),
            CollectError::Monitor(e) => e.is_retryable(),
        }
    }
}

/// What to collect for one subscription.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub subscription_id: &'a str,
    /// The tenant's Entra tenant: the subscription's home must be this one, and every
    /// inventory row must carry it as `tenantId`.
    pub entra_tenant_id: &'a str,
    pub billing_scope: Option<&'a str>,
    pub mode: Mode,
    /// Inclusive; `None` is the mode's own window ([`Target::daily_cost_window`]).
    pub cost_window: Option<(NaiveDate, NaiveDate)>,
    pub now: DateTime<Utc>,
    /// Whether this item queries the per-resource cost window (full runs).
    pub resource_costs: ResourceCosts,
}

/// What a full run does about the per-resource cost window ([`DateRange::resource_cost_window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceCosts {
    /// Not this item: another mode, or the window already stored (it moves once a day, and it
    /// costs the tenant query units, [`resource_cost_units`], so a second full run the same
    /// day, e.g. an ad-hoc re-ingestion, keeps them).
    Skip,
    /// Query it with the rest, whatever the wait for query units.
    Now,
    /// Query it with the rest if the tenant's budget has room for it once the inventory has
    /// said how large it is; otherwise leave it to a follow-up message
    /// ([`Collected::resource_costs_deferred`]) rather than hold the queue slot while the
    /// budget refills.
    Due,
}

/// A wait for query units longer than this defers the per-resource window
/// ([`ResourceCosts::Due`]).
pub const DEFER_AFTER: Duration = Duration::from_secs(2);

/// The query units the per-resource window of a subscription of `resources` resources costs:
/// both cost types, every page (about one row per resource and service) charged the months the
/// window touches.
pub fn resource_cost_units(window: DateRange, resources: usize) -> u32 {
    let pages = u32::try_from(resources / cost_management::PAGE_ROWS + 1).unwrap_or(u32::MAX);
    let months = cost_management::query_units(window.from, window.to);
    2u32.saturating_mul(months).saturating_mul(pages)
}

impl Target<'_> {
    /// The days whose daily costs this item collects: the message's window if it names one;
    /// else, on a full run, [`DateRange::restated`] (D−3..D−1: Azure restates recent
    /// days, so they are read again until they settle); on an hourly cost run, yesterday.
    pub fn daily_cost_window(&self) -> (NaiveDate, NaiveDate) {
        if let Some(window) = self.cost_window {
            return window;
        }
        let range = match self.mode {
            Mode::Full => DateRange::restated(self.now),
            Mode::Cost | Mode::Evaluate => DateRange::yesterday(self.now),
        };
        (range.from, range.to)
    }
}

async fn costs(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
) -> Result<Vec<CostRow>, CostError> {
    let scope = CostScope::for_subscription(target.subscription_id, target.billing_scope)?;
    let (from, to) = target.daily_cost_window();
    cost_management::collect_range(client, ctx, &scope, from, to).await
}

/// Runs the collectors `target.mode` asks for, once ARM confirms that the subscription's
/// home is still the tenant's Entra tenant (one cheap `GET /subscriptions/{id}` per item: a
/// subscription moved to another tenant after registration fails here, before any of its
/// inventory, costs, Advisor findings or metrics are read).
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
) -> Result<Collected, CollectError> {
    let subscription =
        subscriptions::get_at_home(client, ctx, target.subscription_id, target.entra_tenant_id)
            .await?
            .ok_or(CollectError::NotInTenant)?;
    if target.mode == Mode::Evaluate {
        return Ok(Collected::default());
    }
    if target.mode == Mode::Cost {
        return Ok(Collected {
            costs: costs(client, ctx, target).await?,
            cost_window: Some(target.daily_cost_window()),
            ..Collected::default()
        });
    }
    let subscriptions = [target.subscription_id.to_owned()];
    let window = DateRange::resource_cost_window(target.now);
    let (inventory, costs, recommendations) = tokio::join!(
        inventory(client, ctx, &subscriptions, target.entra_tenant_id),
        costs(client, ctx, target),
        advisor::collect(client, ctx, target.subscription_id),
    );
    let (mut inventory, costs, recommendations) = (inventory?, costs?, recommendations?);
    let containers = containers(&subscription, std::mem::take(&mut inventory.groups));
    let deferred = match target.resource_costs {
        ResourceCosts::Due => {
            let units = resource_cost_units(window, inventory.count);
            let wait = client
                .cost_budget_room_after(target.entra_tenant_id, units)
                .await
                .map_err(|source| CostError::Azure {
                    cost_type: CostType::AmortizedCost,
                    source,
                })?;
            (wait > DEFER_AFTER).then(|| Instant::now() + wait)
        }
        ResourceCosts::Skip | ResourceCosts::Now => None,
    };
    let query_window = target.resource_costs != ResourceCosts::Skip && deferred.is_none();
    let metrics = async {
        if inventory.targets.is_empty() {
            return Ok(Vec::new());
        }
        let options = MonitorOptions::last_14_days(target.now);
        monitor::collect_resources(client, ctx, &inventory.targets, &options).await
    };
    let resource_costs = async {
        if !query_window {
            return Ok(None);
        }
        resource_costs(client, ctx, target, window).await.map(Some)
    };
    let (metrics, resource_costs) = tokio::join!(metrics, resource_costs);
    Ok(Collected {
        inventory_count: Some(inventory.count),
        costs,
        cost_window: Some(target.daily_cost_window()),
        recommendations,
        metrics: metrics?,
        resource_costs: resource_costs?.map(|rows| (window, rows)),
        resource_costs_deferred: deferred,
        containers: Some(containers),
        needs: inventory.needs,
    })
}

/// The per-resource cost window alone: the follow-up message of an item that deferred it.
pub async fn collect_resource_costs(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
) -> Result<(DateRange, Vec<ResourceCostRow>), CollectError> {
    let window = DateRange::resource_cost_window(target.now);
    Ok((window, resource_costs(client, ctx, target, window).await?))
}

async fn resource_costs(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
    window: DateRange,
) -> Result<Vec<ResourceCostRow>, CostError> {
    let scope = CostScope::for_subscription(target.subscription_id, target.billing_scope)?;
    cost_management::collect_by_resource(client, ctx, &scope, window).await
}

/// The subscription, as ARM described it (its home already checked), then the resource groups
/// the inventory named, in id order.
fn containers(
    subscription: &SubscriptionInfo,
    groups: BTreeMap<String, Container>,
) -> Vec<Container> {
    let own = Container::subscription(
        &subscription.subscription_id,
        &subscription.display_name,
        subscription.tenant_id.as_deref().unwrap_or_default(),
        subscription.tags.clone(),
    );
    std::iter::once(own).chain(groups.into_values()).collect()
}

/// What walking the inventory found.
struct InventoryWalk {
    count: usize,
    targets: Vec<MetricTarget>,
    needs: ReferenceNeeds,
    /// The resource groups the rows named, by id, with the tags the first row of each carried.
    groups: BTreeMap<String, Container>,
}

/// Walks the inventory page by page: how many resources, which Monitor reads, what reference
/// data prices them, and which resource groups (with their tags) hold them. Rows of another
/// Entra tenant than `entra_tenant_id` fail the whole item rather than being
/// dropped one by one: the raw pages go to the lake as received, so the only way to keep them
/// out of it, and out of the database, is to store nothing of this item.
async fn inventory(
    client: &AzureClient,
    ctx: &CallContext,
    subscriptions: &[String],
    entra_tenant_id: &str,
) -> Result<InventoryWalk, CollectError> {
    let mut pages = std::pin::pin!(resource_graph::inventory_pages(client, ctx, subscriptions));
    let mut walk = InventoryWalk {
        count: 0,
        targets: Vec::new(),
        needs: ReferenceNeeds::default(),
        groups: BTreeMap::new(),
    };
    while let Some(page) = pages.next().await {
        let page = page?;
        let foreign = foreign_rows(&page, entra_tenant_id);
        if foreign > 0 {
            return Err(CollectError::ForeignRows { count: foreign });
        }
        walk.count += page.len();
        for resource in &page {
            walk.needs.add(resource);
            if let Some(group) = Container::group_of(resource) {
                walk.groups.entry(group.id.clone()).or_insert(group);
            }
        }
        walk.targets.extend(page.iter().filter_map(metric_target));
    }
    Ok(walk)
}

/// How many of `page`'s resources do not carry `entra_tenant_id` as their `tenantId`.
pub fn foreign_rows(page: &[Resource], entra_tenant_id: &str) -> usize {
    page.iter()
        .filter(|r| !r.tenant_id.eq_ignore_ascii_case(entra_tenant_id.trim()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::resource_graph::mapper::map_row;
    use serde_json::json;

    const MINE: &str = "0a2c0000-0000-4000-8000-00000000000a";

    fn row(tenant: Option<&str>) -> Resource {
        let mut row =
            json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d"});
        if let Some(tenant) = tenant {
            row["tenantId"] = json!(tenant);
        }
        map_row(0, &row).expect("maps")
    }

    #[test]
    fn rows_of_another_or_no_tenant_are_foreign() {
        let page = [
            row(Some(&MINE.to_ascii_uppercase())),
            row(Some("0a2c0000-0000-4000-8000-00000000000b")),
            row(None),
        ];
        assert_eq!(foreign_rows(&page[..1], MINE), 0, "case does not matter");
        assert_eq!(foreign_rows(&page, MINE), 2);
    }

    #[test]
    fn a_full_run_reads_the_restated_days_again_and_an_hourly_run_yesterday() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let target = |mode, cost_window| Target {
            subscription_id: "s",
            entra_tenant_id: MINE,
            billing_scope: None,
            mode,
            cost_window,
            now,
            resource_costs: ResourceCosts::Skip,
        };
        assert_eq!(
            target(Mode::Full, None).daily_cost_window(),
            (day(2, 27), day(3, 1))
        );
        assert_eq!(
            target(Mode::Cost, None).daily_cost_window(),
            (day(3, 1), day(3, 1))
        );
        let asked = (day(1, 1), day(1, 31));
        assert_eq!(target(Mode::Full, Some(asked)).daily_cost_window(), asked);
    }

    #[test]
    fn the_window_costs_both_cost_types_for_every_page_and_month() {
        let window = |from, to| DateRange {
            from: NaiveDate::from_ymd_opt(2026, 1, from).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 1, to).unwrap(),
        };
        assert_eq!(resource_cost_units(window(1, 30), 0), 2);
        assert_eq!(resource_cost_units(window(1, 30), 2000), 2);
        assert_eq!(resource_cost_units(window(1, 30), 4999), 2);
        assert_eq!(resource_cost_units(window(1, 30), 12_000), 6);
        let two_months = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 1, 20).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 2, 18).unwrap(),
        };
        assert_eq!(resource_cost_units(two_months, 2000), 4);
        assert_eq!(resource_cost_units(two_months, 20_000), 20);
    }

    #[test]
    fn a_foreign_tenant_fails_the_item_for_good() {
        assert!(!CollectError::ForeignRows { count: 1 }.is_retryable());
        assert!(!CollectError::NotInTenant.is_retryable());
        assert!(
            CollectError::NotInTenant
                .to_string()
                .contains("no longer, in this tenant's Entra tenant")
        );
    }
}
