//! Data and web: App Service plans and sites, SQL servers, databases and elastic pools,
//! storage accounts (ARM and classic).

use crate::catalog::{PlanSku, PoolSku, SqlDtuSku};

use super::Utilisation;

#[derive(Debug, Clone)]
pub struct AppServicePlan {
    pub sku: PlanSku,
    pub workers: u32,
    /// Sites hosted (`numberOfSites`), counted from the sites that name the plan.
    pub sites: u32,
    pub utilisation: Utilisation,
    /// For an oversized plan: the next smaller SKU of its tier.
    pub target: Option<PlanSku>,
}

#[derive(Debug, Clone)]
pub struct WebSite {
    /// The plan (`serverFarmId`).
    pub plan: String,
}

#[derive(Debug, Clone)]
pub struct SqlServer {
    pub admin_login: &'static str,
}

/// How a database is sized.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlSku {
    Dtu(SqlDtuSku),
    /// General Purpose, Gen5, `capacity` vCores.
    VCore(u32),
    /// In an elastic pool (its id).
    Pool(String),
}

#[derive(Debug, Clone)]
pub struct SqlDatabase {
    pub server: String,
    pub sku: SqlSku,
    /// `Oversized` on a DTU database plants `sql.dtu_underused` (with `target`).
    pub utilisation: Utilisation,
    pub target: Option<SqlDtuSku>,
}

#[derive(Debug, Clone)]
pub struct ElasticPool {
    pub sku: PoolSku,
    pub databases: u32,
}

#[derive(Debug, Clone)]
pub struct StorageAccount {
    pub sku: &'static str,
    pub access_tier: &'static str,
    pub daily_price: f64,
}
