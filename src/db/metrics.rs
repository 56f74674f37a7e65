//! The `resource_metrics` aggregate: the latest statistics of each metric of each resource
//! (avg, max, min, nearest-rank p95 of the hourly values, how many hours had data, the unit),
//! with an explicit state so that a metric Azure could not deliver is never read as an idle
//! resource: `data`, `no_data` (Azure answered without values) or `failed`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What the numbers of a metric row mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricState {
    /// Statistics of at least one point.
    Data,
    /// Azure answered, with no value in the window (e.g. a VM deallocated all along).
    NoData,
    /// The call or the metric failed.
    Failed,
}

impl MetricState {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricState::Data => "data",
            MetricState::NoData => "no_data",
            MetricState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "data" => MetricState::Data,
            "no_data" => MetricState::NoData,
            _ => MetricState::Failed,
        }
    }
}

/// Statistics over the window (present exactly when the state is [`MetricState::Data`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub avg: f64,
    pub max: f64,
    pub min: f64,
    pub p95: f64,
    pub samples: i32,
}

/// One metric of one resource to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMetric {
    /// Lower-cased ARM id.
    pub resource_id: String,
    pub metric: String,
    pub namespace: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub unit: String,
    pub state: MetricState,
    pub stats: Option<Stats>,
    /// Why it failed (sanitised by the caller: no tokens, no bodies).
    pub error: Option<String>,
}

/// A stored metric row.
pub type MetricRow = NewMetric;

/// Inserts or replaces a batch of one subscription's metric rows in one statement; rows whose
/// window, state and values did not change are left alone. Returns rows written.
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    rows: &[NewMetric],
) -> Result<u64, sqlx::Error> {
    let text = |f: fn(&NewMetric) -> &str| -> Vec<String> {
        rows.iter().map(|r| f(r).to_owned()).collect()
    };
    let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.window_start).collect();
    let ends: Vec<DateTime<Utc>> = rows.iter().map(|r| r.window_end).collect();
    let stat = |f: fn(&Stats) -> f64| -> Vec<Option<f64>> {
        rows.iter().map(|r| r.stats.as_ref().map(f)).collect()
    };
    let samples: Vec<i32> = rows
        .iter()
        .map(|r| r.stats.map_or(0, |s| s.samples))
        .collect();
    let errors: Vec<Option<String>> = rows.iter().map(|r| r.error.clone()).collect();
    let states: Vec<String> = rows.iter().map(|r| r.state.as_str().to_owned()).collect();
    let result = sqlx::query!(
        r#"INSERT INTO resource_metrics (tenant_id, subscription_db_id, resource_id, metric, namespace,
                                        window_start, window_end, unit, state, avg, max, min, p95, samples, error)
           SELECT $1, $2, m.resource_id, m.metric, m.namespace, m.window_start, m.window_end, m.unit, m.state,
                  m.avg, m.max, m.min, m.p95, m.samples, m.error
           FROM UNNEST($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[],
                       $9::text[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::int4[],
                       $15::text[])
                AS m(resource_id, metric, namespace, window_start, window_end, unit, state, avg, max, min, p95,
                     samples, error)
           ON CONFLICT (tenant_id, subscription_db_id, resource_id, metric) DO UPDATE SET
               namespace = EXCLUDED.namespace, window_start = EXCLUDED.window_start,
               window_end = EXCLUDED.window_end, unit = EXCLUDED.unit, state = EXCLUDED.state,
               avg = EXCLUDED.avg, max = EXCLUDED.max, min = EXCLUDED.min, p95 = EXCLUDED.p95,
               samples = EXCLUDED.samples, error = EXCLUDED.error
           WHERE (resource_metrics.namespace, resource_metrics.window_start, resource_metrics.window_end,
                  resource_metrics.unit, resource_metrics.state, resource_metrics.avg, resource_metrics.max,
                  resource_metrics.min, resource_metrics.p95, resource_metrics.samples, resource_metrics.error)
                 IS DISTINCT FROM (EXCLUDED.namespace, EXCLUDED.window_start, EXCLUDED.window_end,
                                   EXCLUDED.unit, EXCLUDED.state, EXCLUDED.avg, EXCLUDED.max, EXCLUDED.min,
                                   EXCLUDED.p95, EXCLUDED.samples, EXCLUDED.error)"#,
        tenant_id,
        subscription_db_id,
        &text(|r| &r.resource_id),
        &text(|r| &r.metric),
        &text(|r| &r.namespace),
        &starts,
        &ends,
        &text(|r| &r.unit),
        &states,
        &stat(|s| s.avg) as &[Option<f64>],
        &stat(|s| s.max) as &[Option<f64>],
        &stat(|s| s.min) as &[Option<f64>],
        &stat(|s| s.p95) as &[Option<f64>],
        &samples,
        &errors as &[Option<String>],
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Every metric row of one subscription, by resource and metric.
pub async fn for_subscription(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Vec<MetricRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT resource_id, metric, namespace, window_start, window_end, unit, state,
                  avg, max, min, p95, samples, error
           FROM resource_metrics WHERE tenant_id = $1 AND subscription_db_id = $2
           ORDER BY resource_id, metric"#,
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = MetricState::parse(&r.state);
            let stats = match (state, r.avg, r.max, r.min, r.p95) {
                (MetricState::Data, Some(avg), Some(max), Some(min), Some(p95)) => Some(Stats {
                    avg,
                    max,
                    min,
                    p95,
                    samples: r.samples,
                }),
                _ => None,
            };
            NewMetric {
                resource_id: r.resource_id,
                metric: r.metric,
                namespace: r.namespace,
                window_start: r.window_start,
                window_end: r.window_end,
                unit: r.unit,
                state,
                stats,
                error: r.error,
            }
        })
        .collect())
}
