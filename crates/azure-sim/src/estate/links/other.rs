//! Sites to App Service plans (and plans' site counts), databases to elastic pools on their
//! server (and pools' database counts), private endpoints to what they connect to.

use super::super::kinds::{SqlSku, Utilisation};
use super::super::plan::Plant;
use super::super::resource::{Details, Resource, ResourceKind as K};
use super::{Index, link_rng, pick};
use crate::catalog::SQL_DTU_SKUS;

pub(super) fn sites(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let plans = index.of(K::AppServicePlan);
    for s in index.of(K::WebSite) {
        let mut r = link_rng(&res[s]);
        let usable = |k: usize| plants[plans[k]] != Plant::EmptyPlan;
        let Some(k) =
            pick(&mut r, plans.len(), usable).or_else(|| pick(&mut r, plans.len(), |_| true))
        else {
            continue;
        };
        let plan = res[plans[k]].id.clone();
        if let Details::AppServicePlan(p) = &mut res[plans[k]].details {
            p.sites += 1;
        }
        if let Details::WebSite(site) = &mut res[s].details {
            site.plan = plan;
        }
    }
    for p in plans {
        if let Details::AppServicePlan(plan) = &mut res[p].details
            && plan.sites == 0
        {
            // An empty plan idles: low CPU, memory held by the platform; it is empty, not oversized.
            plan.utilisation = Utilisation::Idle;
            plan.target = None;
        }
    }
}

pub(super) fn databases(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let pools = index.of(K::ElasticPool);
    for d in index.of(K::SqlDatabase) {
        if !matches!(&res[d].details, Details::SqlDatabase(db) if db.sku == SqlSku::Pool(String::new()))
        {
            continue;
        }
        let mut r = link_rng(&res[d]);
        let server = res[d]
            .id
            .split("/databases/")
            .next()
            .unwrap_or_default()
            .to_owned();
        let on_server = |k: usize| {
            plants[pools[k]] != Plant::EmptyPool
                && res[pools[k]]
                    .id
                    .starts_with(&format!("{server}/elasticPools/"))
        };
        let pool = pick(&mut r, pools.len(), on_server);
        if let Some(k) = pool
            && let Details::ElasticPool(p) = &mut res[pools[k]].details
        {
            p.databases += 1;
        }
        let pool_id = pool.map(|k| res[pools[k]].id.clone());
        if let Details::SqlDatabase(db) = &mut res[d].details {
            db.sku = match pool_id {
                Some(id) => SqlSku::Pool(id),
                None => SqlSku::Dtu(SQL_DTU_SKUS[1]),
            };
            db.utilisation = Utilisation::Moderate;
            db.target = None;
        }
    }
}

pub(super) fn endpoint_targets(res: &mut [Resource], index: &Index) {
    let mut targets: Vec<(String, &'static str)> = index
        .of(K::StorageAccount)
        .into_iter()
        .map(|i| (res[i].id.clone(), "blob"))
        .collect();
    targets.extend(
        index
            .of(K::SqlServer)
            .into_iter()
            .map(|i| (res[i].id.clone(), "sqlServer")),
    );
    for e in index.of(K::PrivateEndpoint) {
        let mut r = link_rng(&res[e]);
        let target = pick(&mut r, targets.len(), |_| true).map(|k| targets[k].clone());
        if let (Some((id, group)), Details::PrivateEndpoint(pe)) = (target, &mut res[e].details) {
            pe.target = id;
            pe.group_id = group;
        }
    }
}
