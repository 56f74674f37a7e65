//! `properties` of App Service plans and sites, SQL servers, databases and elastic pools, and
//! storage accounts (ARM and classic).

use serde_json::{Value, json};

use super::super::Resource;
use super::super::kinds::{
    AppServicePlan, ElasticPool, SqlDatabase, SqlServer, SqlSku, StorageAccount, WebSite,
};
use super::{Parts, timestamp};
use crate::rng::uuid_from;

pub(super) fn plan(p: &AppServicePlan) -> Parts {
    Parts::new(
        json!({"name": p.sku.name, "tier": p.sku.tier, "size": p.sku.name,
            "family": &p.sku.name[..1],
            "capacity": p.workers}),
        json!({
            "status": "Ready",
            "numberOfWorkers": p.workers,
            "numberOfSites": p.sites,
            "maximumNumberOfWorkers": if p.sku.tier == "Basic" { 3 } else { 30 },
            "reserved": false,
            "provisioningState": "Succeeded",
        }),
    )
    .kind("app")
}

pub(super) fn site(r: &Resource, s: &WebSite) -> Parts {
    let host = format!("{}.azurewebsites.net", r.name);
    Parts::new(
        Value::Null,
        json!({
            "serverFarmId": s.plan,
            "state": "Running",
            "enabled": true,
            "defaultHostName": host,
            "hostNames": [host],
            "httpsOnly": true,
            "provisioningState": "Succeeded",
        }),
    )
    .kind("app")
}

pub(super) fn sql_server(r: &Resource, s: &SqlServer) -> Parts {
    Parts::new(
        Value::Null,
        json!({
            "fullyQualifiedDomainName": format!("{}.database.windows.net", r.name),
            "administratorLogin": s.admin_login,
            "version": "12.0",
            "state": "Ready",
            "publicNetworkAccess": "Enabled",
            "minimalTlsVersion": "1.2",
        }),
    )
    .kind("v12.0")
}

pub(super) fn sql_database(r: &Resource, d: &SqlDatabase) -> Parts {
    let (sku, objective, kind) = match &d.sku {
        SqlSku::Dtu(s) => (
            json!({"name": s.objective, "tier": s.tier, "capacity": s.dtus}),
            s.objective,
            "v12.0,user",
        ),
        SqlSku::VCore(cores) => (
            json!({"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": cores}),
            if *cores == 2 {
                "GP_Gen5_2"
            } else if *cores == 4 {
                "GP_Gen5_4"
            } else {
                "GP_Gen5_8"
            },
            "v12.0,user,vcore",
        ),
        SqlSku::Pool(_) => (
            json!({"name": "ElasticPool", "tier": "Standard", "capacity": 0}),
            "ElasticPool",
            "v12.0,user,pool",
        ),
    };
    let mut properties = json!({
        "status": "Online",
        "currentServiceObjectiveName": objective,
        "requestedServiceObjectiveName": objective,
        "currentSku": sku,
        "maxSizeBytes": 34_359_738_368u64,
        "databaseId": uuid_from(r.hash, "sql-database", 0),
        "creationDate": timestamp(r.created),
        "collation": "SQL_Latin1_General_CP1_CI_AS",
        "zoneRedundant": false,
    });
    if let SqlSku::Pool(pool) = &d.sku {
        properties["elasticPoolId"] = json!(pool);
    }
    Parts::new(sku, properties).kind(kind)
}

pub(super) fn elastic_pool(r: &Resource, p: &ElasticPool) -> Parts {
    Parts::new(
        json!({"name": p.sku.name, "tier": p.sku.tier, "capacity": p.sku.edtus}),
        json!({
            "state": "Ready",
            "creationDate": timestamp(r.created),
            "maxSizeBytes": 53_687_091_200u64,
            "perDatabaseSettings": {"minCapacity": 0, "maxCapacity": p.sku.edtus.min(100)},
            "zoneRedundant": false,
        }),
    )
    .kind("pool")
}

pub(super) fn storage_account(r: &Resource, s: &StorageAccount) -> Parts {
    let tier = if s.sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    let properties = json!({
        "accessTier": s.access_tier,
        "provisioningState": "Succeeded",
        "creationTime": timestamp(r.created),
        "primaryEndpoints": {"blob": format!("https://{}.blob.core.windows.net/", r.name)},
    });
    Parts::new(json!({"name": s.sku, "tier": tier}), properties).kind("StorageV2")
}

pub(super) fn classic_storage(r: &Resource, s: &StorageAccount) -> Parts {
    Parts::new(
        Value::Null,
        json!({
            "accountType": s.sku,
            "status": "Created",
            "provisioningState": "Succeeded",
            "creationTime": timestamp(r.created),
            "endpoints": [format!("https://{}.blob.core.windows.net/", r.name)],
        }),
    )
}
