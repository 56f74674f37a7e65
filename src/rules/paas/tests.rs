use serde_json::json;

use crate::rules::testing::*;
use crate::rules::{Context, Resource, SavingsBasis};

fn plan(name: &str, sku: &str, tier: &str, sites: u32) -> Resource {
    with_sku(
        resource(
            "Microsoft.Web/serverFarms",
            name,
            json!({"numberOfSites": sites, "numberOfWorkers": 2, "reserved": false}),
        ),
        json!({"name": sku, "tier": tier, "capacity": 2}),
    )
}

fn plan_prices(c: &mut Context) {
    for (sku, meter, hourly) in [
        ("P0 v3", "P0 v3 App", "0.125"),
        ("P1 v3", "P1 v3 App", "0.25"),
        ("P2 v3", "P2 v3 App", "0.5"),
    ] {
        c.prices.push(price(
            "Azure App Service",
            "Azure App Service Premium v3 Plan",
            sku,
            meter,
            "1 Hour",
            hourly,
        ));
    }
    c.prices.push(price(
        "Azure App Service",
        "Azure App Service Premium v3 Plan - Linux",
        "P1 v3",
        "P1 v3 App",
        "1 Hour",
        "0.2",
    ));
}

#[test]
fn a_paid_plan_without_sites_is_empty_and_a_free_one_or_one_with_a_site_is_not() {
    let mut c = ctx();
    plan_prices(&mut c);
    let empty = plan("empty", "P1v3", "PremiumV3", 0);
    let free = plan("free", "F1", "Free", 0);
    let reported_empty = plan("hosting", "P1v3", "PremiumV3", 0);
    let site = resource(
        "Microsoft.Web/sites",
        "app",
        json!({"serverFarmId": reported_empty.resource_id.to_uppercase()}),
    );
    c.resources
        .extend([empty.clone(), free.clone(), reported_empty.clone(), site]);
    let f = outcome(&c, "asp.empty", &empty.resource_id).finding();
    assert_eq!(
        (f.savings_basis, f.monthly_savings),
        (SavingsBasis::Retail, Some(dec("365.00"))),
        "2 × 0.25 × 730"
    );
    assert_eq!(outcome(&c, "asp.empty", &free.resource_id), Outcome::Passed);
    assert_eq!(
        outcome(&c, "asp.empty", &reported_empty.resource_id),
        Outcome::Passed
    );
}

fn busy(c: &mut Context, id: &str, cpu: f64, memory: f64) {
    c.metrics
        .push(metric(id, "CpuPercentage", cpu, 50.0, 1.0, 336));
    c.metrics
        .push(metric(id, "MemoryPercentage", memory, 60.0, 1.0, 336));
}

#[test]
fn an_oversized_plan_moves_one_size_down_in_its_tier() {
    let mut c = ctx();
    plan_prices(&mut c);
    let p = plan("p", "P2v3", "PremiumV3", 3);
    busy(&mut c, &p.resource_id, 29.9, 49.9);
    c.costs
        .push(cost(&p.resource_id, "Azure App Service", "720.00"));
    c.resources.push(p.clone());
    let f = outcome(&c, "asp.oversized", &p.resource_id).finding();
    assert_eq!(
        (f.variant.as_str(), f.monthly_savings),
        ("P1v3", Some(dec("360.00")))
    );
    assert_eq!(f.savings_basis, SavingsBasis::PriceRatio);
}

#[test]
fn a_plan_at_the_thresholds_or_at_its_tiers_smallest_is_not_oversized() {
    for (sku, cpu, memory) in [("P2v3", 30.0, 10.0), ("P2v3", 10.0, 50.0), ("S1", 5.0, 5.0)] {
        let mut c = ctx();
        plan_prices(&mut c);
        c.prices.push(price(
            "Azure App Service",
            "Azure App Service Standard Plan",
            "S1",
            "S1 App",
            "1 Hour",
            "0.1",
        ));
        let p = plan("p", sku, "PremiumV3", 3);
        busy(&mut c, &p.resource_id, cpu, memory);
        c.resources.push(p.clone());
        assert_eq!(
            outcome(&c, "asp.oversized", &p.resource_id),
            Outcome::Passed,
            "{sku} {cpu} {memory}"
        );
    }
    let mut c = ctx();
    let p = plan("p", "P1v3", "PremiumV3", 3);
    busy(&mut c, &p.resource_id, 5.0, 5.0);
    plan_prices(&mut c);
    c.resources.push(p.clone());
    let f = outcome(&c, "asp.oversized", &p.resource_id).finding();
    assert_eq!(f.variant, "P0v3", "P1v3 → P0v3 at the Windows price");
    assert_eq!(f.evidence["current_price"]["unit_price"], "0.25");
    c.metrics.clear();
    assert_eq!(
        outcome(&c, "asp.oversized", &p.resource_id),
        Outcome::Skipped("metric_missing")
    );
}

fn database(name: &str, objective: &str, tier: &str) -> Resource {
    with_sku(
        resource(
            "Microsoft.Sql/servers/databases",
            name,
            json!({"currentServiceObjectiveName": objective}),
        ),
        json!({"name": objective, "tier": tier}),
    )
}

fn sql_prices(c: &mut Context) {
    for (tier, objective, daily) in [
        ("Standard", "S0", "0.48"),
        ("Standard", "S1", "0.97"),
        ("Standard", "S2", "2.42"),
        ("Basic", "Basic", "0.16"),
    ] {
        let product = format!("SQL Database Single {tier}");
        c.prices.push(price(
            "SQL Database",
            &product,
            objective,
            &format!("{objective} DTUs"),
            "1/Day",
            daily,
        ));
    }
}

#[test]
fn an_underused_dtu_database_moves_one_objective_down() {
    let mut c = ctx();
    sql_prices(&mut c);
    let db = database("db", "S2", "Standard");
    c.metrics.push(metric(
        &db.resource_id,
        "dtu_consumption_percent",
        39.9,
        80.0,
        0.0,
        336,
    ));
    c.costs.push(cost(&db.resource_id, "SQL Database", "72.60"));
    c.resources.push(db.clone());
    let f = outcome(&c, "sql.dtu_underused", &db.resource_id).finding();
    assert_eq!(f.variant, "S1");
    // 72.60 × (1 − 0.97 / 2.42) = 43.50
    assert_eq!(f.monthly_savings, Some(dec("43.50")));
}

#[test]
fn dtu_databases_at_40_percent_smallest_pooled_or_vcore_are_not_underused() {
    let mut c = ctx();
    sql_prices(&mut c);
    let at = database("at", "S2", "Standard");
    let s0 = database("s0", "S0", "Standard");
    let basic = database("basic", "Basic", "Basic");
    let mut pooled = database("pooled", "ElasticPool", "Standard");
    set(&mut pooled, &["elasticPoolId"], json!("/pool"));
    let vcore = database("vcore", "GP_Gen5_2", "GeneralPurpose");
    for db in [&at, &s0, &basic, &pooled, &vcore] {
        c.metrics.push(metric(
            &db.resource_id,
            "dtu_consumption_percent",
            40.0,
            80.0,
            0.0,
            336,
        ));
    }
    c.metrics[1].p95 = Some(1.0);
    c.resources.extend([
        at.clone(),
        s0.clone(),
        basic.clone(),
        pooled.clone(),
        vcore.clone(),
    ]);
    for db in [&at, &s0, &basic, &pooled, &vcore] {
        assert_eq!(
            outcome(&c, "sql.dtu_underused", &db.resource_id),
            Outcome::Passed,
            "{}",
            db.name
        );
    }
    c.metrics[0].samples = 10;
    assert_eq!(
        outcome(&c, "sql.dtu_underused", &at.resource_id),
        Outcome::Skipped("too_few_samples")
    );
}

#[test]
fn an_elastic_pool_without_databases_is_empty() {
    let mut c = ctx();
    let pool = |name: &str| {
        with_sku(
            resource("Microsoft.Sql/servers/elasticPools", name, json!({})),
            json!({"name": "StandardPool", "tier": "Standard", "capacity": 100}),
        )
    };
    let (empty, used) = (pool("empty"), pool("used"));
    let mut db = database("db", "ElasticPool", "Standard");
    set(
        &mut db,
        &["elasticPoolId"],
        json!(used.resource_id.to_uppercase()),
    );
    c.prices.push(price(
        "SQL Database",
        "SQL Database Elastic Pool - Standard",
        "100 eDTUs",
        "100 eDTUs Pool",
        "1/Day",
        "7.26",
    ));
    c.resources.extend([empty.clone(), used.clone(), db]);
    let f = outcome(&c, "sql.pool_empty", &empty.resource_id).finding();
    assert_eq!(f.monthly_savings, Some(dec("220.83")), "7.26 × 730 ÷ 24");
    assert_eq!(
        outcome(&c, "sql.pool_empty", &used.resource_id),
        Outcome::Passed
    );
}
