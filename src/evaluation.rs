//! Rule evaluation of one subscription: load what the rules read from PostgreSQL (the live
//! inventory, container tags, the latest per-resource cost window, metric statistics, condition
//! history, the cached VM sizes and retail prices, the tenant's rule settings), run the pure
//! rule engine ([`crate::rules`]) and apply its findings to the recommendations: upserted by
//! fingerprint (an unchanged finding writes nothing), resolved only where a rule that ran judged
//! the resource and no longer finds it (missing data never resolves a finding).
//!
//! It runs after every successful full ingestion of a subscription and on request
//! (`POST /api/v1/rules/evaluate`). Reads and the write are two short transactions under the
//! tenant's row-level security; the rules run in between, on a blocking thread (a 20,000-resource
//! subscription is a few seconds of CPU), holding no connection.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::recommendations::{self, Evaluated, EvaluationOutcome, NewFinding};
use crate::db::{self, Scope};
use crate::rules::{self, Context};

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub resources: usize,
    pub findings: usize,
    /// (rule, resource) pairs a rule could not judge for missing data.
    pub skipped: usize,
    pub inserted: u64,
    pub updated: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub unchanged: u64,
    pub duration_ms: u64,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the rule engine stopped: {0}")]
    Engine(String),
}

/// Evaluates the rules over one subscription (`subscription_db_id` of `tenant_id`) at `now`.
#[tracing::instrument(skip_all, err, fields(tenant_id = %tenant_id, subscription_db_id = %subscription_db_id))]
pub async fn evaluate_subscription(
    pool: &PgPool,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Report, EvaluationError> {
    let started = Instant::now();
    let mut tx = db::begin(pool, Scope::Tenant(tenant_id)).await?;
    let ctx = load_context(&mut tx, tenant_id, subscription_db_id, now).await?;
    tx.commit().await?;
    let resources = ctx.resources.len();
    let evaluation = tokio::task::spawn_blocking(move || rules::evaluate(&ctx))
        .await
        .map_err(|e| EvaluationError::Engine(e.to_string()))?;
    let rule_ids: Vec<String> = evaluation
        .evaluated_rules
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let skipped: Vec<(String, String)> = evaluation
        .skipped
        .into_keys()
        .map(|(rule, resource)| (rule.to_owned(), resource))
        .collect();
    let findings: Vec<NewFinding> = evaluation.findings.into_iter().map(new_finding).collect();
    let evaluated = Evaluated {
        rule_ids: &rule_ids,
        skipped: &skipped,
    };
    let mut tx = db::begin(pool, Scope::Tenant(tenant_id)).await?;
    let outcome: EvaluationOutcome = recommendations::apply_evaluation(
        &mut tx,
        tenant_id,
        subscription_db_id,
        now,
        &findings,
        &evaluated,
    )
    .await?;
    tx.commit().await?;
    Ok(Report {
        resources,
        findings: findings.len(),
        skipped: skipped.len(),
        inserted: outcome.inserted,
        updated: outcome.updated,
        resolved: outcome.resolved,
        reopened: outcome.reopened,
        unchanged: outcome.unchanged,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

fn new_finding(f: rules::Finding) -> NewFinding {
    NewFinding {
        rule_id: f.rule_id.to_owned(),
        category: f.category.as_str().to_owned(),
        action: f.action.to_owned(),
        savings_basis: f.savings_basis.as_str().to_owned(),
        risk: f.risk.as_str().to_owned(),
        effort: f.effort.as_str().to_owned(),
        resource_id: f.resource_id,
        variant: f.variant,
        fingerprint: f.fingerprint,
        title: f.title,
        description: f.description,
        monthly_savings: f.monthly_savings,
        currency: f.currency,
        confidence: f.confidence,
        evidence: f.evidence,
    }
}

/// Everything the rules read about one subscription.
pub async fn load_context(
    conn: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Context, sqlx::Error> {
    let subscription_id = db::subscriptions::get(conn, Some(tenant_id), subscription_db_id)
        .await?
        .map(|s| s.subscription_id.to_string())
        .unwrap_or_default();
    let resources: Vec<rules::Resource> =
        db::resources::live_for_subscription(conn, tenant_id, subscription_db_id)
            .map_ok(resource)
            .try_collect()
            .await?;
    let (subscription_tags, resource_group_tags) = container_tags(
        db::containers::tags_for_subscription(conn, tenant_id, subscription_db_id).await?,
    );
    let cost_rows = db::resource_costs::latest_rows(conn, tenant_id, subscription_db_id).await?;
    let currency = cost_rows
        .first()
        .map(|(_, r)| r.currency.to_ascii_uppercase())
        .unwrap_or_else(|| "USD".to_owned());
    let cost_window = cost_rows.first().map(|(w, _)| rules::CostWindow {
        start: w.start,
        end: w.end,
    });
    let costs = cost_rows
        .into_iter()
        .map(|(_, r)| rules::ResourceCost {
            resource_id: r.resource_id,
            service_name: r.service_name,
            amortized: r.amortized_cost,
            actual: r.cost,
        })
        .collect();
    let metrics = db::metrics::for_subscription(conn, tenant_id, subscription_db_id)
        .await?
        .into_iter()
        .map(metric)
        .collect();
    let conditions = db::conditions::for_subscription(conn, tenant_id, subscription_db_id)
        .await?
        .into_iter()
        .map(|c| rules::ConditionSince {
            since: c.since(),
            resource_id: c.resource_id,
            condition: c.condition,
        })
        .collect();
    let regions: BTreeSet<String> = resources
        .iter()
        .map(|r| r.location.clone())
        .filter(|l| !l.is_empty())
        .collect();
    let mut vm_sizes = Vec::new();
    let mut prices = Vec::new();
    for region in &regions {
        vm_sizes.extend(
            db::reference::vm_sizes(conn, region)
                .await?
                .into_iter()
                .map(vm_size),
        );
        prices.extend(
            db::reference::prices_in_region(conn, &currency, region)
                .await?
                .into_iter()
                .map(price),
        );
    }
    let settings = settings(db::rule_settings::load(conn, tenant_id).await?);
    Ok(Context {
        subscription_id,
        currency,
        now,
        resources,
        subscription_tags,
        resource_group_tags,
        cost_window,
        costs,
        metrics,
        conditions,
        vm_sizes,
        prices,
        settings,
    })
}

/// The tenant's stored settings as the rules read them. Thresholds were validated when they
/// were set; one that no longer parses (a parameter a later version dropped) falls back to
/// the rule's defaults rather than stopping the evaluation.
fn settings(stored: db::rule_settings::Settings) -> rules::Settings {
    let rules = stored
        .rules
        .into_iter()
        .map(|(rule_id, s)| {
            let thresholds = rules::parse_thresholds(&rule_id, &s.thresholds).unwrap_or_else(|e| {
                tracing::warn!(rule_id, error = %e, "stored thresholds ignored");
                BTreeMap::new()
            });
            let settings = rules::RuleSettings {
                enabled: s.enabled,
                thresholds,
            };
            (rule_id, settings)
        })
        .collect();
    rules::Settings {
        rules,
        min_monthly_savings: stored.tenant.min_savings,
        required_tags: stored.tenant.required_tag_keys,
        owns_licences: stored.tenant.owns_licences,
    }
}

fn resource(r: db::resources::LiveResource) -> rules::Resource {
    // simd-json's own parser sizes every object and array exactly (through serde they grow by
    // doubling); text PostgreSQL produced from jsonb always parses, and anything else reads as
    // absent, as the rules treat missing data.
    let json = |text: String| {
        let mut bytes = text.into_bytes();
        simd_json::to_owned_value(&mut bytes).ok()
    };
    rules::Resource {
        resource_id: r.resource_id,
        name: r.name,
        resource_type: r.resource_type,
        kind: r.kind,
        location: r.location.unwrap_or_default(),
        resource_group: r.resource_group.unwrap_or_default(),
        sku: r.sku.and_then(json),
        tags: tag_pairs(&r.tags),
        properties: r.properties.and_then(json),
    }
}

fn tag_map(tags: &Value) -> BTreeMap<String, String> {
    tags.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn tag_pairs(tags: &Value) -> Vec<(String, String)> {
    tag_map(tags).into_iter().collect()
}

type Tags = BTreeMap<String, String>;

fn container_tags(rows: Vec<db::containers::ContainerTags>) -> (Tags, BTreeMap<String, Tags>) {
    let mut subscription = Tags::new();
    let mut groups = BTreeMap::new();
    for row in rows {
        let tags = tag_map(&row.tags);
        if row.kind == db::containers::ContainerKind::Subscription.as_str() {
            subscription = tags;
        } else {
            groups.insert(row.resource_group.to_ascii_lowercase(), tags);
        }
    }
    (subscription, groups)
}

fn metric(m: db::metrics::MetricRow) -> rules::MetricStats {
    let state = match m.state {
        db::metrics::MetricState::Data => rules::MetricState::Data,
        db::metrics::MetricState::NoData => rules::MetricState::NoData,
        db::metrics::MetricState::Failed => rules::MetricState::Failed,
    };
    rules::MetricStats {
        resource_id: m.resource_id,
        metric: m.metric,
        state,
        avg: m.stats.map(|s| s.avg),
        max: m.stats.map(|s| s.max),
        min: m.stats.map(|s| s.min),
        p95: m.stats.map(|s| s.p95),
        samples: m.stats.map_or(0, |s| u32::try_from(s.samples).unwrap_or(0)),
        unit: m.unit,
    }
}

fn vm_size(s: db::reference::VmSize) -> rules::VmSize {
    rules::VmSize {
        location: s.location,
        name: s.name,
        family: s.family,
        vcpus: u32::try_from(s.vcpus).unwrap_or(0),
        memory_gb: s.memory_gb,
        max_data_disks: u32::try_from(s.max_data_disks).unwrap_or(0),
        max_nics: u32::try_from(s.max_nics).unwrap_or(0),
    }
}

fn price(p: db::reference::RetailPrice) -> rules::RetailPrice {
    rules::RetailPrice {
        currency: p.currency,
        region: p.region,
        service_name: p.service_name,
        product_name: p.product_name,
        sku_name: p.sku_name,
        arm_sku_name: p.arm_sku_name,
        meter_name: p.meter_name,
        unit_of_measure: p.unit_of_measure,
        unit_price: p.unit_price,
        price_type: p.price_type,
    }
}
