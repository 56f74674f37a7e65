//! Operator tools: run one collector for one subscription and print what it returns
//! (`azcops collect`), and put an ingestion message on the queue by hand (`azcops enqueue`).

use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;
use uuid::Uuid;

use crate::azure::client::{AzureClient, CallContext};
use crate::azure::config::AzureConfig;
use crate::azure::qpu_budget::MemoryQpuBudget;
use crate::azure::{advisor, cost_management, monitor, resource_graph};
use crate::ingestion::collect::VM_TYPE;
use crate::ingestion::message::{IngestMessage, Mode, SCHEMA_VERSION};
use crate::ingestion::runtime::IngestionConfig;

/// The collectors `azcops collect` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Collector {
    /// The full inventory (Resource Graph).
    Inventory,
    /// The five waste queries (Resource Graph).
    Waste,
    /// The three rightsizing queries (Resource Graph).
    Rightsizing,
    /// Actual and amortized daily costs (Cost Management).
    Cost,
    /// Advisor cost recommendations.
    Advisor,
    /// 14 days of VM CPU and memory (Monitor).
    Metrics,
}

/// What `azcops collect` needs.
#[derive(Debug, Clone, Args)]
pub struct CollectArgs {
    /// The collector to run.
    #[arg(value_enum)]
    pub collector: Collector,
    /// The Entra ID tenant of the subscription.
    #[arg(long)]
    pub tenant: Uuid,
    /// The Azure subscription id.
    #[arg(long)]
    pub subscription: Uuid,
    /// First day of costs (with `--to`; default yesterday).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last day of costs, inclusive.
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// A Cost Management scope wider than the subscription (billing account, …).
    #[arg(long)]
    pub billing_scope: Option<String>,
    #[command(flatten)]
    pub azure: AzureConfig,
    /// Client id of the user-assigned managed identity, if any.
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,
}

fn json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

/// Runs one collector and returns its normalised result as pretty JSON.
pub async fn collect(args: &CollectArgs) -> anyhow::Result<String> {
    let client_id = args
        .azure_client_id
        .as_deref()
        .filter(|id| !id.trim().is_empty());
    let budget = Arc::new(
        MemoryQpuBudget::new(args.azure.cost_qpu_limits)
            .with_resource_graph_quota(args.azure.resource_graph_quota),
    );
    let client = AzureClient::from_config(&args.azure, client_id, None, budget)
        .context("configuration: Azure")?;
    let subscription = args.subscription.to_string();
    let ctx = CallContext::new(args.tenant.to_string()).with_subscription(subscription.clone());
    let subscriptions = [subscription.clone()];
    let output = match args.collector {
        Collector::Inventory => {
            json(&resource_graph::collect_inventory(&client, &ctx, &subscriptions).await?)?
        }
        Collector::Waste => {
            json(&resource_graph::collect_waste_candidates(&client, &ctx, &subscriptions).await?)?
        }
        Collector::Rightsizing => json(
            &resource_graph::collect_rightsizing_candidates(&client, &ctx, &subscriptions).await?,
        )?,
        Collector::Cost => {
            let scope = cost_management::CostScope::for_subscription(
                &subscription,
                args.billing_scope.as_deref(),
            )?;
            let rows = match (args.from, args.to) {
                (Some(from), Some(to)) => {
                    cost_management::collect_range(&client, &ctx, &scope, from, to).await?
                }
                _ => cost_management::collect(&client, &ctx, &scope).await?,
            };
            json(&rows)?
        }
        Collector::Advisor => json(&advisor::collect(&client, &ctx, &subscription).await?)?,
        Collector::Metrics => {
            let inventory =
                resource_graph::collect_inventory(&client, &ctx, &subscriptions).await?;
            let vms: Vec<monitor::VmTarget> = inventory
                .into_iter()
                .filter(|r| r.resource_type == VM_TYPE)
                .map(|r| monitor::VmTarget {
                    resource_id: r.resource_id,
                    location: r.location,
                })
                .collect();
            json(
                &monitor::collect(
                    &client,
                    &ctx,
                    &vms,
                    &monitor::MonitorOptions::last_14_days(Utc::now()),
                )
                .await?,
            )?
        }
    };
    let calls = serde_json::to_string(&ctx.stats.snapshot())?;
    tracing::info!(azure_calls = %calls, "collected");
    Ok(output)
}

/// What `azcops enqueue` needs.
#[derive(Debug, Clone, Args)]
pub struct EnqueueArgs {
    /// The AzCops tenant id (`GET /api/v1/tenants`).
    #[arg(long)]
    pub tenant: Uuid,
    /// The Azure subscription id.
    #[arg(long)]
    pub subscription: Uuid,
    /// `full` or `cost`.
    #[arg(long, default_value = "full", value_parser = ["full", "cost"])]
    pub mode: String,
    /// First day of costs (with `--to`).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last day of costs, inclusive.
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    #[command(flatten)]
    pub queue: IngestionConfig,
}

/// Puts one ingestion message on the queue; returns the message text.
pub async fn enqueue(args: &EnqueueArgs) -> anyhow::Result<String> {
    let message = IngestMessage {
        v: SCHEMA_VERSION,
        run_id: None,
        tenant_id: args.tenant,
        subscription_id: args.subscription,
        mode: if args.mode == "cost" {
            Mode::Cost
        } else {
            Mode::Full
        },
        cost_from: args.from,
        cost_to: args.to,
        stage: None,
        deferrals: 0,
    };
    let text = message.to_text();
    IngestMessage::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let queue = args
        .queue
        .queue(|name| std::env::var(name).ok())?
        .with_context(|| {
            format!(
                "configuration: {}: is required to reach the queue",
                args.queue.queue_connection
            )
        })?;
    queue.create_if_missing().await?;
    queue.send(&text, None).await?;
    Ok(text)
}
