//! Collection for one subscription: the connectors run against Azure (inventory, costs and
//! Advisor concurrently; Monitor once the inventory has named the VMs), with every raw
//! response kept by the call context's recorder for the lake.

use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;

use crate::azure::advisor::{self, AdvisorError, AdvisorRecommendation};
use crate::azure::client::{AzureClient, CallContext};
use crate::azure::cost_management::{self, CostError, CostRow, CostScope};
use crate::azure::monitor::{self, MonitorError, MonitorOptions, VmMetrics, VmTarget};
use crate::azure::resource_graph::{self, Resource, ResourceGraphError};
use crate::ingestion::message::Mode;

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
    pub costs: Vec<CostRow>,
    pub recommendations: Vec<AdvisorRecommendation>,
    pub metrics: Vec<VmMetrics>,
}

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
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
    pub billing_scope: Option<&'a str>,
    pub mode: Mode,
    /// Inclusive; `None` is yesterday.
    pub cost_window: Option<(NaiveDate, NaiveDate)>,
    pub now: DateTime<Utc>,
}

async fn costs(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
) -> Result<Vec<CostRow>, CostError> {
    let scope = CostScope::for_subscription(target.subscription_id, target.billing_scope)?;
    match target.cost_window {
        Some((from, to)) => cost_management::collect_range(client, ctx, &scope, from, to).await,
        None => cost_management::collect(client, ctx, &scope).await,
    }
}

/// Runs the collectors `target.mode` asks for.
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    target: &Target<'_>,
) -> Result<Collected, CollectError> {
    if target.mode == Mode::Cost {
        return Ok(Collected {
            costs: costs(client, ctx, target).await?,
            ..Collected::default()
        });
    }
    let subscriptions = [target.subscription_id.to_owned()];
    let (inventory, costs, recommendations) = tokio::join!(
        inventory(client, ctx, &subscriptions),
        costs(client, ctx, target),
        advisor::collect(client, ctx, target.subscription_id),
    );
    let ((count, vms), costs, recommendations) = (inventory?, costs?, recommendations?);
    let metrics = if vms.is_empty() {
        Vec::new()
    } else {
        monitor::collect(client, ctx, &vms, &MonitorOptions::last_14_days(target.now)).await?
    };
    Ok(Collected {
        inventory_count: Some(count),
        costs,
        recommendations,
        metrics,
    })
}

/// Walks the inventory page by page: how many resources, and which are VMs.
async fn inventory(
    client: &AzureClient,
    ctx: &CallContext,
    subscriptions: &[String],
) -> Result<(usize, Vec<VmTarget>), ResourceGraphError> {
    let mut pages = std::pin::pin!(resource_graph::inventory_pages(client, ctx, subscriptions));
    let (mut count, mut vms) = (0, Vec::new());
    while let Some(page) = pages.next().await {
        let page = page?;
        count += page.len();
        vms.extend(page.into_iter().filter(is_vm).map(|r| VmTarget {
            resource_id: r.resource_id,
            location: r.location,
        }));
    }
    Ok((count, vms))
}

fn is_vm(resource: &Resource) -> bool {
    resource.resource_type == VM_TYPE
}
