//! Global reference data, the same for every tenant (no tenant id, no row-level security): VM
//! sizes per region and retail prices, and when each part was last refreshed. Many Functions
//! instances ingest at once; [`claim`] lets exactly one of them refresh a stale part.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// A VM size in a region (Resource SKUs API).
#[derive(Debug, Clone, PartialEq)]
pub struct VmSize {
    /// Lower-cased region name.
    pub location: String,
    /// As Azure spells it, e.g. `Standard_D2s_v5`.
    pub name: String,
    pub family: String,
    pub tier: Option<String>,
    pub vcpus: i32,
    pub memory_gb: f64,
    pub max_data_disks: i32,
    pub max_nics: i32,
}

/// A pay-as-you-go price (Retail Prices API).
#[derive(Debug, Clone, PartialEq)]
pub struct RetailPrice {
    pub currency: String,
    /// Lower-cased `armRegionName`.
    pub region: String,
    pub meter_id: String,
    pub product_name: String,
    pub sku_name: String,
    pub price_type: String,
    pub tier_minimum_units: Decimal,
    pub service_name: String,
    pub service_family: String,
    pub arm_sku_name: String,
    pub meter_name: String,
    pub unit_of_measure: String,
    pub unit_price: Decimal,
    pub retail_price: Decimal,
    pub effective_start: Option<DateTime<Utc>>,
    pub is_primary_meter_region: bool,
}

/// Claims the refresh of `(source, key)` when it was never refreshed or its last refresh began
/// longer than `max_age_secs` ago: true for exactly one caller until the claim is
/// [`finish`]ed or itself goes stale. Runs in its own short transaction (autocommit).
pub async fn claim(
    conn: &mut PgConnection,
    source: &str,
    key: &str,
    now: DateTime<Utc>,
    max_age_secs: i64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query_scalar!(
        r#"INSERT INTO reference_refreshes (source, key, refreshed_at, succeeded)
           VALUES ($1, $2, $3, false)
           ON CONFLICT (source, key) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, succeeded = false
           WHERE reference_refreshes.refreshed_at < EXCLUDED.refreshed_at - make_interval(secs => $4)
           RETURNING true AS "claimed!""#,
        source,
        key,
        now,
        max_age_secs as f64,
    )
    .fetch_optional(conn)
    .await?;
    Ok(claimed.unwrap_or(false))
}

/// Marks a claimed refresh done; a failed one is released so the next caller tries again.
pub async fn finish(
    conn: &mut PgConnection,
    source: &str,
    key: &str,
    succeeded: bool,
) -> Result<(), sqlx::Error> {
    if succeeded {
        sqlx::query!(
            "UPDATE reference_refreshes SET succeeded = true WHERE source = $1 AND key = $2",
            source,
            key
        )
        .execute(conn)
        .await?;
    } else {
        sqlx::query!(
            "DELETE FROM reference_refreshes WHERE source = $1 AND key = $2",
            source,
            key
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Stores the VM sizes of one region (upsert, unchanged rows left alone).
pub async fn upsert_vm_sizes(
    conn: &mut PgConnection,
    sizes: &[VmSize],
    refreshed_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let text =
        |f: fn(&VmSize) -> &str| -> Vec<String> { sizes.iter().map(|s| f(s).to_owned()).collect() };
    let tiers: Vec<Option<String>> = sizes.iter().map(|s| s.tier.clone()).collect();
    let int = |f: fn(&VmSize) -> i32| -> Vec<i32> { sizes.iter().map(f).collect() };
    let memory: Vec<f64> = sizes.iter().map(|s| s.memory_gb).collect();
    let result = sqlx::query!(
        r#"INSERT INTO vm_sizes (location, name, family, tier, vcpus, memory_gb, max_data_disks, max_nics, refreshed_at)
           SELECT v.location, v.name, v.family, v.tier, v.vcpus, v.memory_gb, v.max_data_disks, v.max_nics, $1
           FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::float8[], $8::int4[], $9::int4[])
                AS v(location, name, family, tier, vcpus, memory_gb, max_data_disks, max_nics)
           ON CONFLICT (location, name) DO UPDATE SET
               family = EXCLUDED.family, tier = EXCLUDED.tier, vcpus = EXCLUDED.vcpus,
               memory_gb = EXCLUDED.memory_gb, max_data_disks = EXCLUDED.max_data_disks,
               max_nics = EXCLUDED.max_nics, refreshed_at = EXCLUDED.refreshed_at
           WHERE (vm_sizes.family, vm_sizes.tier, vm_sizes.vcpus, vm_sizes.memory_gb, vm_sizes.max_data_disks,
                  vm_sizes.max_nics)
                 IS DISTINCT FROM (EXCLUDED.family, EXCLUDED.tier, EXCLUDED.vcpus, EXCLUDED.memory_gb,
                                   EXCLUDED.max_data_disks, EXCLUDED.max_nics)"#,
        refreshed_at,
        &text(|s| &s.location),
        &text(|s| &s.name),
        &text(|s| &s.family),
        &tiers as &[Option<String>],
        &int(|s| s.vcpus),
        &memory,
        &int(|s| s.max_data_disks),
        &int(|s| s.max_nics),
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// The VM sizes known in `location`, by name.
pub async fn vm_sizes(conn: &mut PgConnection, location: &str) -> Result<Vec<VmSize>, sqlx::Error> {
    sqlx::query_as!(
        VmSize,
        "SELECT location, name, family, tier, vcpus, memory_gb, max_data_disks, max_nics
         FROM vm_sizes WHERE location = $1 ORDER BY name",
        location
    )
    .fetch_all(conn)
    .await
}

/// Stores a batch of retail prices (upsert, unchanged rows left alone).
pub async fn upsert_prices(
    conn: &mut PgConnection,
    prices: &[RetailPrice],
    refreshed_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let text = |f: fn(&RetailPrice) -> &str| -> Vec<String> {
        prices.iter().map(|p| f(p).to_owned()).collect()
    };
    let dec = |f: fn(&RetailPrice) -> Decimal| -> Vec<Decimal> { prices.iter().map(f).collect() };
    let starts: Vec<Option<DateTime<Utc>>> = prices.iter().map(|p| p.effective_start).collect();
    let primary: Vec<bool> = prices.iter().map(|p| p.is_primary_meter_region).collect();
    let result = sqlx::query!(
        r#"INSERT INTO retail_prices (currency, region, meter_id, product_name, sku_name, price_type,
                                     tier_minimum_units, service_name, service_family, arm_sku_name, meter_name,
                                     unit_of_measure, unit_price, retail_price, effective_start,
                                     is_primary_meter_region, refreshed_at)
           SELECT p.currency, p.region, p.meter_id, p.product_name, p.sku_name, p.price_type, p.tier_minimum_units,
                  p.service_name, p.service_family, p.arm_sku_name, p.meter_name, p.unit_of_measure, p.unit_price,
                  p.retail_price, p.effective_start, p.is_primary_meter_region, $1
           FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[],
                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::numeric[],
                       $15::numeric[], $16::timestamptz[], $17::bool[])
                AS p(currency, region, meter_id, product_name, sku_name, price_type, tier_minimum_units,
                     service_name, service_family, arm_sku_name, meter_name, unit_of_measure, unit_price,
                     retail_price, effective_start, is_primary_meter_region)
           ON CONFLICT (currency, region, meter_id, product_name, sku_name, price_type, tier_minimum_units)
           DO UPDATE SET
               service_name = EXCLUDED.service_name, service_family = EXCLUDED.service_family,
               arm_sku_name = EXCLUDED.arm_sku_name, meter_name = EXCLUDED.meter_name,
               unit_of_measure = EXCLUDED.unit_of_measure, unit_price = EXCLUDED.unit_price,
               retail_price = EXCLUDED.retail_price, effective_start = EXCLUDED.effective_start,
               is_primary_meter_region = EXCLUDED.is_primary_meter_region, refreshed_at = EXCLUDED.refreshed_at
           WHERE (retail_prices.unit_price, retail_prices.retail_price, retail_prices.effective_start,
                  retail_prices.unit_of_measure, retail_prices.arm_sku_name, retail_prices.meter_name)
                 IS DISTINCT FROM (EXCLUDED.unit_price, EXCLUDED.retail_price, EXCLUDED.effective_start,
                                   EXCLUDED.unit_of_measure, EXCLUDED.arm_sku_name, EXCLUDED.meter_name)"#,
        refreshed_at,
        &text(|p| &p.currency),
        &text(|p| &p.region),
        &text(|p| &p.meter_id),
        &text(|p| &p.product_name),
        &text(|p| &p.sku_name),
        &text(|p| &p.price_type),
        &dec(|p| p.tier_minimum_units),
        &text(|p| &p.service_name),
        &text(|p| &p.service_family),
        &text(|p| &p.arm_sku_name),
        &text(|p| &p.meter_name),
        &text(|p| &p.unit_of_measure),
        &dec(|p| p.unit_price),
        &dec(|p| p.retail_price),
        &starts as &[Option<DateTime<Utc>>],
        &primary,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// The retail prices of `service_name` in `region` and `currency`.
pub async fn prices(
    conn: &mut PgConnection,
    currency: &str,
    region: &str,
    service_name: &str,
) -> Result<Vec<RetailPrice>, sqlx::Error> {
    sqlx::query_as!(
        RetailPrice,
        "SELECT currency, region, meter_id, product_name, sku_name, price_type, tier_minimum_units,
                service_name, service_family, arm_sku_name, meter_name, unit_of_measure, unit_price,
                retail_price, effective_start, is_primary_meter_region
         FROM retail_prices WHERE currency = $1 AND region = $2 AND service_name = $3
         ORDER BY arm_sku_name, product_name, sku_name, meter_name, tier_minimum_units",
        currency,
        region,
        service_name
    )
    .fetch_all(conn)
    .await
}

/// Every cached retail price of `region` in `currency` (all services).
pub async fn prices_in_region(
    conn: &mut PgConnection,
    currency: &str,
    region: &str,
) -> Result<Vec<RetailPrice>, sqlx::Error> {
    sqlx::query_as!(
        RetailPrice,
        "SELECT currency, region, meter_id, product_name, sku_name, price_type, tier_minimum_units,
                service_name, service_family, arm_sku_name, meter_name, unit_of_measure, unit_price,
                retail_price, effective_start, is_primary_meter_region
         FROM retail_prices WHERE currency = $1 AND region = $2
         ORDER BY service_name, arm_sku_name, product_name, sku_name, meter_name, tier_minimum_units",
        currency,
        region
    )
    .fetch_all(conn)
    .await
}

/// Whether the refresh of `(source, key)` has finished: `Some(true)` done, `Some(false)` still
/// claimed by someone, `None` never claimed or released after a failure.
pub async fn refresh_done(
    conn: &mut PgConnection,
    source: &str,
    key: &str,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT succeeded FROM reference_refreshes WHERE source = $1 AND key = $2",
        source,
        key
    )
    .fetch_optional(conn)
    .await
}
