//! Keeps the global reference data fresh: VM sizes per region (Resource SKUs API) and retail
//! prices per currency, region and service (Retail Prices API), for what a subscription's
//! inventory uses. Each part is refreshed at most once a day across every instance (a claim in
//! `db::reference`), after the subscription's own data is stored.
//!
//! Best effort by design: the rules price with what the cache holds (or fall back to
//! per-resource costs), so a throttled or failing SKU or prices API fails only the refresh that
//! needed it — logged here, once, released for the next ingestion to try — never the item.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::targets::ReferenceNeeds;
use crate::azure::client::{AzureClient, CallContext};
use crate::azure::resource_skus::{self, VmSku};
use crate::azure::retail_prices::{self, PriceQuery, RetailPrice};
use crate::db::reference::{self, VmSize};
use crate::db::{self, Scope};

/// How old a part may be before it is refreshed.
pub const MAX_AGE_SECS: i64 = 24 * 60 * 60;

/// Rows written per statement.
const BATCH: usize = 1000;

/// How long an ingestion waits for a part another one is refreshing, so its evaluation prices
/// with it (a refresh that takes longer is not waited for; the next evaluation has it).
const WAIT_FOR_OTHERS: std::time::Duration = std::time::Duration::from_secs(60);

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub vm_size_regions: usize,
    pub price_parts: usize,
    /// Parts whose refresh failed (released for the next ingestion).
    pub failed: usize,
}

/// Where and as whom a refresh runs.
pub struct Refresher<'a> {
    pub pool: &'a PgPool,
    pub azure: &'a AzureClient,
    pub ctx: &'a CallContext,
    /// The tenant whose ingestion runs it (the database role is switched as for its data; the
    /// reference tables themselves hold no tenant data).
    pub tenant_id: Uuid,
    pub subscription_id: &'a str,
    pub now: DateTime<Utc>,
}

impl Refresher<'_> {
    /// Refreshes what `needs` names and is stale, prices in `currency`.
    pub async fn refresh(&self, needs: &ReferenceNeeds, currency: &str) -> Refreshed {
        let mut done = Refreshed::default();
        for region in &needs.vm_regions {
            match self.vm_sizes(region).await {
                Ok(true) => done.vm_size_regions += 1,
                Ok(false) => {}
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(azure.region = %region, error = format!("{e:#}"), "VM sizes not refreshed");
                }
            }
        }
        for (region, service) in &needs.price_services {
            match self.prices(currency, region, service).await {
                Ok(true) => done.price_parts += 1,
                Ok(false) => {}
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(
                        azure.region = %region, prices.service = %service, prices.currency = currency,
                        error = format!("{e:#}"), "retail prices not refreshed"
                    );
                }
            }
        }
        done
    }

    /// Claims `(source, key)`; runs `work` if claimed and records how it went.
    async fn claimed<F, Fut>(&self, source: &str, key: &str, work: F) -> anyhow::Result<bool>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let mut tx = db::begin(self.pool, Scope::Tenant(self.tenant_id)).await?;
        let claimed = reference::claim(&mut tx, source, key, self.now, MAX_AGE_SECS).await?;
        tx.commit().await?;
        if !claimed {
            self.wait_for_other(source, key).await?;
            return Ok(false);
        }
        let result = work().await;
        let mut tx = db::begin(self.pool, Scope::Tenant(self.tenant_id)).await?;
        reference::finish(&mut tx, source, key, result.is_ok()).await?;
        tx.commit().await?;
        result.map(|()| true)
    }

    /// Waits (up to [`WAIT_FOR_OTHERS`]) while another ingestion refreshes `(source, key)`.
    async fn wait_for_other(&self, source: &str, key: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_OTHERS;
        loop {
            let mut tx = db::begin(self.pool, Scope::Tenant(self.tenant_id)).await?;
            let done = reference::refresh_done(&mut tx, source, key).await?;
            tx.commit().await?;
            if done != Some(false) || tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn vm_sizes(&self, region: &str) -> anyhow::Result<bool> {
        self.claimed("vm_sizes", region, || async {
            let skus =
                resource_skus::list_vm_skus(self.azure, self.ctx, self.subscription_id, region)
                    .await?;
            let sizes: Vec<VmSize> = skus.iter().filter_map(|s| vm_size(region, s)).collect();
            let mut tx = db::begin(self.pool, Scope::Tenant(self.tenant_id)).await?;
            for batch in sizes.chunks(BATCH) {
                reference::upsert_vm_sizes(&mut tx, batch, self.now).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Every pay-as-you-go price of `service` in `region`: the whole service, not only the
    /// SKUs one subscription uses, since the part is shared by every tenant that bills in
    /// `currency` (and a rightsizing prices sizes nobody uses yet). A region's VM prices are a
    /// few pages of 1,000 items.
    async fn prices(&self, currency: &str, region: &str, service: &str) -> anyhow::Result<bool> {
        let key = format!("{currency}/{region}/{service}");
        self.claimed("retail_prices", &key, || async {
            let query = PriceQuery::consumption(currency, region, service, Vec::new());
            let prices = retail_prices::query_prices(self.azure, self.ctx, &query).await?;
            let rows = price_rows(prices);
            let mut tx = db::begin(self.pool, Scope::Tenant(self.tenant_id)).await?;
            for batch in rows.chunks(BATCH) {
                reference::upsert_prices(&mut tx, batch, self.now).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// A Resource SKUs answer as a cached size; a size without a vCPU count or memory is skipped.
fn vm_size(region: &str, sku: &VmSku) -> Option<VmSize> {
    let vcpus = i32::try_from(sku.vcpus).ok().filter(|n| *n > 0)?;
    (sku.memory_gb > 0.0).then(|| VmSize {
        location: region.to_owned(),
        name: sku.name.clone(),
        family: sku.family.clone(),
        tier: sku.tier.clone(),
        vcpus,
        memory_gb: sku.memory_gb,
        max_data_disks: i32::try_from(sku.max_data_disks).unwrap_or(i32::MAX),
        max_nics: i32::try_from(sku.max_nics).unwrap_or(i32::MAX),
    })
}

/// Retail prices as cached rows, one per key (a price listed twice is kept once).
fn price_rows(prices: Vec<RetailPrice>) -> Vec<reference::RetailPrice> {
    let mut rows: Vec<reference::RetailPrice> = prices
        .into_iter()
        .map(|p| reference::RetailPrice {
            currency: p.currency,
            region: p.region.to_ascii_lowercase(),
            meter_id: p.meter_id,
            product_name: p.product_name,
            sku_name: p.sku_name,
            price_type: p.price_type,
            tier_minimum_units: p.tier_minimum_units,
            service_name: p.service_name,
            service_family: p.service_family,
            arm_sku_name: p.arm_sku_name,
            meter_name: p.meter_name,
            unit_of_measure: p.unit_of_measure,
            unit_price: p.unit_price,
            retail_price: p.retail_price,
            effective_start: Some(p.effective_start),
            is_primary_meter_region: p.is_primary_meter_region,
        })
        .collect();
    let key = |p: &reference::RetailPrice| {
        (
            p.currency.clone(),
            p.region.clone(),
            p.meter_id.clone(),
            p.product_name.clone(),
            p.sku_name.clone(),
            p.price_type.clone(),
            p.tier_minimum_units,
        )
    };
    rows.sort_by_key(key);
    rows.dedup_by(|a, b| key(a) == key(b));
    rows
}
