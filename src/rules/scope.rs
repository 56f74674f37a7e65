//! The context indexed once per evaluation (resources by id and type, costs, metrics,
//! conditions, sizes, prices, and the links between resources that only the whole inventory
//! shows: which VM lists a disk, how many connections name a gateway, databases per elastic
//! pool, sites per App Service plan), and what a rule sees of it: [`Check`]. A rule answers
//! with a [`Verdict`]: it passes, fires, or could not judge the resource ([`Skip`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::catalogue::RuleInfo;
use super::finding::Draft;
use super::input::{Context, MetricState, MetricStats, Resource, VmSize};
use super::pricing::PriceBook;
use super::props::{inner, list, reference, text};

/// Why a rule could not judge a resource (missing data never resolves a finding).
pub type Skip = &'static str;

/// A rule's answer about one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Judged: the condition does not hold.
    Pass,
    /// Judged: the condition holds.
    Fire(Box<Draft>),
    /// Not judged, for want of data.
    Skip(Skip),
}

impl Verdict {
    pub(crate) fn fire(draft: Draft) -> Self {
        Self::Fire(Box::new(draft))
    }
}

/// The statistics of a metric that has enough data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stat {
    pub avg: f64,
    pub max: f64,
    pub min: f64,
    pub p95: f64,
    pub samples: u32,
}

/// A resource's cost over the window: total amortized and actual, and per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Cost {
    pub amortized: Decimal,
    pub actual: Decimal,
    /// (service, amortized).
    pub services: Vec<(String, Decimal)>,
}

/// The indexed context.
pub(crate) struct Scope<'a> {
    pub ctx: &'a Context,
    pub prices: PriceBook<'a>,
    by_id: HashMap<String, &'a Resource>,
    by_type: HashMap<&'a str, Vec<&'a Resource>>,
    costs: HashMap<String, Cost>,
    metrics: HashMap<(String, String), &'a MetricStats>,
    conditions: HashMap<(String, String), DateTime<Utc>>,
    sizes: HashMap<(String, String), &'a VmSize>,
    /// Disk id → the VM whose storage profile lists it.
    disk_vm: HashMap<String, &'a Resource>,
    /// Gateway id → connections naming it.
    gateway_connections: HashMap<String, usize>,
    /// Elastic pool id → databases in it.
    pool_databases: HashMap<String, usize>,
    /// App Service plan id → sites on it.
    plan_sites: HashMap<String, usize>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The managed disk ids a VM lists (OS disk first).
pub(crate) fn vm_disk_ids(vm: &Resource) -> Vec<String> {
    let p = vm.props();
    let os = reference(p, &["storageProfile", "osDisk", "managedDisk"]);
    let data = list(p, &["storageProfile", "dataDisks"])
        .iter()
        .filter_map(|d| reference(d, &["managedDisk"]));
    os.into_iter().chain(data).collect()
}

impl<'a> Scope<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        let mut s = Self {
            ctx,
            prices: PriceBook::new(&ctx.prices, &ctx.currency),
            by_id: HashMap::with_capacity(ctx.resources.len()),
            by_type: HashMap::new(),
            costs: HashMap::new(),
            metrics: HashMap::new(),
            conditions: HashMap::new(),
            sizes: HashMap::new(),
            disk_vm: HashMap::new(),
            gateway_connections: HashMap::new(),
            pool_databases: HashMap::new(),
            plan_sites: HashMap::new(),
        };
        for r in &ctx.resources {
            s.by_id.insert(lower(&r.resource_id), r);
            s.by_type
                .entry(r.resource_type.as_str())
                .or_default()
                .push(r);
            s.link(r);
        }
        for c in &ctx.costs {
            let cost = s.costs.entry(lower(&c.resource_id)).or_default();
            cost.amortized = cost.amortized.saturating_add(c.amortized);
            cost.actual = cost.actual.saturating_add(c.actual);
            cost.services.push((c.service_name.clone(), c.amortized));
        }
        for m in &ctx.metrics {
            s.metrics
                .insert((lower(&m.resource_id), lower(&m.metric)), m);
        }
        for c in &ctx.conditions {
            s.conditions
                .insert((lower(&c.resource_id), lower(&c.condition)), c.since);
        }
        for v in &ctx.vm_sizes {
            s.sizes.insert((lower(&v.location), lower(&v.name)), v);
        }
        s
    }

    /// Records the links `r` makes to other resources.
    fn link(&mut self, r: &'a Resource) {
        let p = r.props();
        let count = |map: &mut HashMap<String, usize>, id: Option<String>| {
            if let Some(id) = id {
                *map.entry(id).or_default() += 1;
            }
        };
        match r.resource_type.as_str() {
            "microsoft.compute/virtualmachines" => {
                for disk in vm_disk_ids(r) {
                    self.disk_vm.insert(disk, r);
                }
            }
            "microsoft.network/connections" => {
                let one = reference(p, &["virtualNetworkGateway1"]);
                let two =
                    reference(p, &["virtualNetworkGateway2"]).filter(|t| Some(t) != one.as_ref());
                count(&mut self.gateway_connections, one);
                count(&mut self.gateway_connections, two);
            }
            "microsoft.sql/servers/databases" => {
                let pool = text(p, &["elasticPoolId"]);
                count(
                    &mut self.pool_databases,
                    (!pool.is_empty()).then(|| lower(pool)),
                );
            }
            "microsoft.web/sites" => {
                let plan = text(p, &["serverFarmId"]);
                count(
                    &mut self.plan_sites,
                    (!plan.is_empty()).then(|| lower(plan)),
                );
            }
            _ => {}
        }
    }

    /// The resources of one (lower-case) type.
    pub(crate) fn of_type(&self, resource_type: &str) -> &[&'a Resource] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// A resource of the inventory by id (any case).
    pub(crate) fn resource(&self, id: &str) -> Option<&'a Resource> {
        self.by_id.get(&lower(id)).copied()
    }

    /// The resource's cost over the window, when it has any row.
    pub(crate) fn cost(&self, id: &str) -> Option<&Cost> {
        self.costs.get(&lower(id))
    }

    /// Since when `condition` has held for the resource, per the condition history.
    pub(crate) fn condition(&self, id: &str, condition: &str) -> Option<DateTime<Utc>> {
        self.conditions.get(&(lower(id), lower(condition))).copied()
    }

    /// A VM size of a region by name.
    pub(crate) fn size(&self, location: &str, name: &str) -> Option<&'a VmSize> {
        self.sizes.get(&(lower(location), lower(name))).copied()
    }

    /// The sizes of one region.
    pub(crate) fn sizes_in(&self, location: &str) -> impl Iterator<Item = &'a VmSize> + '_ {
        let location = lower(location);
        self.ctx
            .vm_sizes
            .iter()
            .filter(move |s| lower(&s.location) == location)
    }

    /// The VM whose storage profile lists the disk.
    pub(crate) fn disk_vm(&self, disk_id: &str) -> Option<&'a Resource> {
        self.disk_vm.get(&lower(disk_id)).copied()
    }

    pub(crate) fn gateway_connections(&self, id: &str) -> usize {
        self.gateway_connections
            .get(&lower(id))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn pool_databases(&self, id: &str) -> usize {
        self.pool_databases.get(&lower(id)).copied().unwrap_or(0)
    }

    pub(crate) fn plan_sites(&self, id: &str) -> usize {
        self.plan_sites.get(&lower(id)).copied().unwrap_or(0)
    }

    /// The raw statistics row of a metric.
    pub(crate) fn metric(&self, id: &str, metric: &str) -> Option<&'a MetricStats> {
        self.metrics.get(&(lower(id), lower(metric))).copied()
    }
}

/// The public IPs bound to a NIC's IP configurations.
pub(crate) fn nic_public_ips(nic: &Resource) -> Vec<String> {
    list(nic.props(), &["ipConfigurations"])
        .iter()
        .filter_map(|c| reference(inner(c), &["publicIPAddress"]))
        .collect()
}

/// What one rule sees: the scope and its own catalogue entry (for its thresholds).
pub(crate) struct Check<'s, 'a> {
    pub scope: &'s Scope<'a>,
    pub info: &'static RuleInfo,
}

impl Check<'_, '_> {
    /// The value in force of one of the rule's parameters (NaN for a name the rule does not
    /// have, so no comparison with it holds; the catalogue tests catch such a typo).
    pub(crate) fn param(&self, name: &str) -> f64 {
        self.info.parameter(name).map_or(f64::NAN, |p| {
            self.scope.ctx.settings.threshold(self.info, p)
        })
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.scope.ctx.now
    }

    /// Days (with their fraction) from `since` to now; negative for the future.
    pub(crate) fn days_since(&self, since: DateTime<Utc>) -> f64 {
        (self.now() - since).num_seconds() as f64 / 86_400.0
    }

    /// A metric with data from at least `min_samples` hours, or why the rule cannot judge.
    pub(crate) fn stat(&self, id: &str, metric: &str) -> Result<Stat, Skip> {
        let m = self.scope.metric(id, metric).ok_or("metric_missing")?;
        match m.state {
            MetricState::Failed => return Err("metric_failed"),
            MetricState::NoData => return Err("metric_no_data"),
            MetricState::Data => {}
        }
        let (Some(avg), Some(max), Some(min), Some(p95)) = (m.avg, m.max, m.min, m.p95) else {
            return Err("metric_no_data");
        };
        if ![avg, max, min, p95].iter().all(|v| v.is_finite()) {
            return Err("metric_invalid");
        }
        if f64::from(m.samples) < self.param("min_samples") {
            return Err("too_few_samples");
        }
        Ok(Stat {
            avg,
            max,
            min,
            p95,
            samples: m.samples,
        })
    }
}
