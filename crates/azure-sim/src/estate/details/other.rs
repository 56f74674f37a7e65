//! Own attributes of App Service, SQL and storage resources.

use super::super::catalog::STORAGE_SKUS;
use super::super::kinds::{
    AppServicePlan, ElasticPool, SqlDatabase, SqlServer, SqlSku, StorageAccount, Utilisation,
    WebSite,
};
use super::super::plan::{Plant, Skeleton};
use crate::catalog::{
    PLAN_SKUS, POOL_SKUS, SQL_DTU_SKUS, plan_one_size_down, sql_one_objective_down,
};
use crate::rng::SplitMix64;

pub(super) fn plan(r: &mut SplitMix64, plant: Plant) -> AppServicePlan {
    let shrinkable: Vec<_> = PLAN_SKUS
        .iter()
        .filter(|p| plan_one_size_down(p.name).is_some())
        .collect();
    let sku = if plant == Plant::OversizedPlan {
        *shrinkable[r.below(shrinkable.len() as u64) as usize]
    } else {
        r.pick(&PLAN_SKUS)
    };
    let target = plan_one_size_down(sku.name);
    let utilisation = match (plant, r.next_f64()) {
        (Plant::OversizedPlan, _) => Utilisation::Oversized,
        (_, x) if x < 0.3 && target.is_some() => Utilisation::Oversized,
        (_, x) if x < 0.75 => Utilisation::Moderate,
        _ => Utilisation::Busy,
    };
    AppServicePlan {
        workers: if sku.tier == "IsolatedV2" {
            1 + r.below(2) as u32
        } else {
            1 + r.below(4) as u32
        },
        sku,
        sites: 0,
        utilisation,
        target: (utilisation == Utilisation::Oversized)
            .then_some(target)
            .flatten(),
    }
}

pub(super) fn site() -> WebSite {
    WebSite {
        plan: String::new(),
    }
}

pub(super) fn sql_server(r: &mut SplitMix64) -> SqlServer {
    SqlServer {
        admin_login: r.pick(&["sqladmin", "dbowner", "azureuser"]),
    }
}

pub(super) fn sql_database(r: &mut SplitMix64, s: &Skeleton) -> SqlDatabase {
    // The server is the 9th segment of `/subscriptions/…/providers/Microsoft.Sql/servers/{server}/…`.
    let server = s.id.split('/').nth(8).unwrap_or_default().to_owned();
    let roll = r.next_f64();
    let sku = if s.plant == Plant::UnderusedDtuDb || roll < 0.5 {
        let candidates: Vec<_> = SQL_DTU_SKUS
            .iter()
            .filter(|d| {
                s.plant != Plant::UnderusedDtuDb || sql_one_objective_down(d.objective).is_some()
            })
            .collect();
        SqlSku::Dtu(*candidates[r.below(candidates.len() as u64) as usize])
    } else if roll < 0.65 {
        SqlSku::VCore(r.pick(&[2, 4, 8]))
    } else {
        // Wishes to be pooled; linking finds a pool on its server or makes it an S0.
        SqlSku::Pool(String::new())
    };
    let target = match &sku {
        SqlSku::Dtu(d) => sql_one_objective_down(d.objective),
        _ => None,
    };
    let utilisation = match (s.plant, r.next_f64()) {
        (Plant::UnderusedDtuDb, _) => Utilisation::Oversized,
        (_, x) if x < 0.35 && target.is_some() => Utilisation::Oversized,
        (_, x) if x < 0.75 => Utilisation::Moderate,
        _ => Utilisation::Busy,
    };
    SqlDatabase {
        server,
        sku,
        utilisation,
        target: (utilisation == Utilisation::Oversized)
            .then_some(target)
            .flatten(),
    }
}

pub(super) fn elastic_pool(r: &mut SplitMix64) -> ElasticPool {
    ElasticPool {
        sku: r.pick(&POOL_SKUS),
        databases: 0,
    }
}

pub(super) fn storage_account(r: &mut SplitMix64) -> StorageAccount {
    StorageAccount {
        sku: r.pick(&STORAGE_SKUS),
        access_tier: r.pick(&["Hot", "Cool"]),
        daily_price: (r.range(0.3, 25.0) * 100.0).round() / 100.0,
    }
}

pub(super) fn classic_storage(r: &mut SplitMix64) -> StorageAccount {
    StorageAccount {
        sku: r.pick(&["Standard-LRS", "Standard-GRS"]),
        access_tier: "Hot",
        daily_price: (r.range(0.2, 6.0) * 100.0).round() / 100.0,
    }
}
