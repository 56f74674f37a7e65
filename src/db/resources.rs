//! The `resources` aggregate: the inventory Resource Graph reports, one row per ARM resource id
//! and subscription, marked deleted when a full inventory no longer contains it.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page, Planning};

/// A resource as the API shows it.
///
/// Its JSON columns are passed through as PostgreSQL's text of them: decoded into a
/// `serde_json::Value` and encoded again, a page's tags and SKUs cost 7 % of the handler's CPU
/// for a tenant's type + location list (`BENCHMARKS.md`, issue 15).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resource {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The AzCops subscription (`/api/v1/subscriptions/{id}`).
    pub subscription_db_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    /// The ARM resource id, lower-cased.
    pub resource_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub kind: Option<String>,
    pub location: Option<String>,
    pub resource_group: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub sku: Option<Box<RawValue>>,
    /// Tag names to values.
    #[schema(value_type = Object)]
    pub tags: Box<RawValue>,
    /// Only in the single-resource view.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Box<RawValue>>,
    #[serde(serialize_with = "rfc3339::time")]
    pub first_seen_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::time")]
    pub last_seen_at: DateTime<Utc>,
    /// When a full inventory stopped reporting it.
    #[serde(serialize_with = "rfc3339::optional_time")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339::time")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::time")]
    pub updated_at: DateTime<Utc>,
}

/// A resource's times as chrono's `Serialize` writes them (RFC 3339, `Z`, as many fractional
/// digits as needed), written into a `String` first. chrono's own `Serialize` formats through
/// `serde_json`'s `collect_str`, which escapes each character as it is written: a page's 400
/// times were a tenth of the handler's CPU for a 100-row page (`BENCHMARKS.md`, issue 15,
/// eleventh pass).
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub(super) fn time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub(super) fn optional_time<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => time(t, s),
            None => s.serialize_none(),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, TimeZone, Utc};
        use serde::Serialize;

        #[derive(Serialize)]
        struct Times {
            #[serde(serialize_with = "super::time")]
            at: DateTime<Utc>,
            #[serde(serialize_with = "super::optional_time")]
            maybe: Option<DateTime<Utc>>,
        }

        #[derive(Serialize)]
        struct ChronoTimes {
            at: DateTime<Utc>,
            maybe: Option<DateTime<Utc>>,
        }

        #[test]
        fn writes_what_chrono_writes() {
            let whole = Utc.with_ymd_and_hms(2026, 12, 7, 2, 5, 9).unwrap();
            for (at, maybe) in [
                (whole, None),
                (whole + chrono::Duration::milliseconds(120), Some(whole)),
                (whole + chrono::Duration::microseconds(123_456), None),
                (whole + chrono::Duration::microseconds(1), Some(whole)),
                (Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(), None),
            ] {
                let ours = serde_json::to_string(&Times { at, maybe }).unwrap();
                let chrono = serde_json::to_string(&ChronoTimes { at, maybe }).unwrap();
                assert_eq!(ours, chrono);
            }
            assert_eq!(
                serde_json::to_string(&Times {
                    at: whole,
                    maybe: Some(whole + chrono::Duration::microseconds(123_456))
                })
                .unwrap(),
                r#"{"at":"2026-12-07T02:05:09Z","maybe":"2026-12-07T02:05:09.123456Z"}"#
            );
        }
    }
}

/// Which resources a list returns; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub tenant_id: Option<Uuid>,
    /// An AzCops subscription id or an Azure subscription id.
    pub subscription: Option<Uuid>,
    pub resource_type: Option<String>,
    pub location: Option<String>,
    pub resource_group: Option<String>,
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
    pub include_deleted: bool,
}

/// Where a resource sorts in lists: its ARM resource id, then its id.
pub type ResourceKey = (String, Uuid);

impl Resource {
    /// Its place in the list order.
    pub fn key(&self) -> ResourceKey {
        (self.resource_id.clone(), self.id)
    }
}

/// The list's columns, in the order [`Resource::from_list_row`] reads them. The Azure
/// subscription id is the row's copy: looked up in `subscriptions` per row, it was a fifth of
/// PostgreSQL's CPU for a page (migration `20261222000000`).
const LIST_COLUMNS: &str = "SELECT r.id, r.tenant_id, r.subscription_db_id, r.subscription_id, \
        r.resource_id, r.name, r.type, r.kind, r.location, r.resource_group, r.sku, r.tags, \
        r.first_seen_at, r.last_seen_at, r.deleted_at, r.created_at, r.updated_at \
    FROM resources r WHERE true";

impl Resource {
    /// A row of [`LIST_COLUMNS`], read by position. Read by name (sqlx's `FromRow`), each of a
    /// page's 1,700 values was first looked up among the column names: about 4 % of the
    /// handler's CPU samples for a 100-row page (`BENCHMARKS.md`, issue 15, twelfth pass).
    fn from_list_row(row: PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            tenant_id: row.try_get(1)?,
            subscription_db_id: row.try_get(2)?,
            subscription_id: row.try_get(3)?,
            resource_id: row.try_get(4)?,
            name: row.try_get(5)?,
            resource_type: row.try_get(6)?,
            kind: row.try_get(7)?,
            location: row.try_get(8)?,
            resource_group: row.try_get(9)?,
            sku: row.try_get(10)?,
            tags: row.try_get(11)?,
            properties: None,
            first_seen_at: row.try_get(12)?,
            last_seen_at: row.try_get(13)?,
            deleted_at: row.try_get(14)?,
            created_at: row.try_get(15)?,
            updated_at: row.try_get(16)?,
        })
    }
}

/// How a list of `f`'s resources from `page` is planned ([`super::begin_for_caller_planned`]).
///
/// A list by tenant (or every tenant's), by type and location together or by neither, from a
/// cursor or the first page, keeps one generic plan per session ([`Planning::Generic`]): an
/// index in list order (`(tenant_id, type, location, resource_id, id)`,
/// `(tenant_id, resource_id, id)` and their all-tenant twins) reads its page whatever the
/// values, and planning it was as long as running it (0.23 ms of 0.45 for the median tenant).
/// The best plan for a tag, a resource group, a subscription, a type or location alone, or an
/// `OFFSET` depends on how many rows match: a kept plan of the largest tenant's tag filter, made
/// for the average tenant, took seconds a page (`BENCHMARKS.md`, issue 15). Those are planned
/// for their values each time.
pub fn planning(f: &ResourceFilter, page: &Page<ResourceKey>) -> Planning {
    let same_plan_for_every_value = f.subscription.is_none()
        && f.resource_group.is_none()
        && f.tag_key.is_none()
        && f.tag_value.is_none()
        && f.resource_type.is_some() == f.location.is_some()
        && page.offset() == 0;
    if same_plan_for_every_value {
        Planning::Generic
    } else {
        Planning::EachExecution
    }
}

/// A page of resources in resource-id order (then id), and the total when asked for.
///
/// The statement names only the filters given: one text per combination of filters (and page
/// size), so each is prepared once per session and, in a transaction planned as [`planning`]
/// says, planned once too. A catch-all statement (`$1 IS NULL OR …`) needs a plan for every
/// execution: half of PostgreSQL's time for a tenant's type + location page (issue 15).
pub async fn list(
    conn: &mut PgConnection,
    f: &ResourceFilter,
    page: &Page<ResourceKey>,
) -> Result<Listed<Resource>, sqlx::Error> {
    let total = if page.count {
        let mut count = QueryBuilder::new("SELECT count(*) FROM resources r WHERE true");
        push_filter(&mut count, f);
        Some(
            count
                .build_query_scalar::<i64>()
                .fetch_one(&mut *conn)
                .await?,
        )
    } else {
        None
    };
    let mut query = QueryBuilder::new(LIST_COLUMNS);
    push_filter(&mut query, f);
    // One table in the FROM list, so the page is read in list order from an index and the
    // scan stops at its last row. Joined with `subscriptions`, the planner, estimating a
    // tenant's type + location at a dozen rows where there were hundreds, hashed the join and
    // sorted every matching row (issue 15).
    if let Some((resource_id, id)) = page.after() {
        query
            .push(" AND (r.resource_id, r.id) > (")
            .push_bind(resource_id.clone())
            .push(", ")
            .push_bind(*id)
            .push(")");
    }
    // The row count is part of the text: a generic plan of `LIMIT $n` assumes a tenth of the
    // rows are read. It is at most the largest page plus one, so there are few such texts.
    query.push(format_args!(
        " ORDER BY r.resource_id, r.id LIMIT {}",
        page.fetch()
    ));
    if page.offset() > 0 {
        query.push(" OFFSET ").push_bind(page.offset());
    }
    if f.tenant_id.is_some() && f.tag_key.is_some() {
        // Read a tenant's tagged resources in list order, until the page is full. Under
        // row-level security PostgreSQL keeps column statistics from operators that are not
        // leakproof, jsonb's `@>` and `?` among them, and guesses that 0.5 % of the rows match:
        // fewer than a page, so it read the tenant's whole range through another index and
        // sorted it (2.6 ms for the median tenant of the MSP database, where 41 % matched, against
        // 0.3 ms read in order; `BENCHMARKS.md`, issue 15). Read in order, a page never reads
        // more than that range. Only for a tenant: over every tenant a rare tag is best found
        // through the tags' GIN index and sorted.
        sqlx::query("SELECT set_config('enable_sort', 'off', true)")
            .execute(&mut *conn)
            .await?;
    }
    let rows = query
        .build()
        .try_map(Resource::from_list_row)
        .fetch_all(conn)
        .await?;
    Ok(Listed { rows, total })
}

/// `AND` each condition of `f` that is set.
fn push_filter(query: &mut QueryBuilder<Postgres>, f: &ResourceFilter) {
    if let Some(tenant_id) = f.tenant_id {
        query.push(" AND r.tenant_id = ").push_bind(tenant_id);
    }
    if let Some(subscription) = f.subscription {
        query
            .push(" AND r.subscription_db_id IN (SELECT s.id FROM subscriptions s WHERE s.id = ")
            .push_bind(subscription)
            .push(" OR s.subscription_id = ")
            .push_bind(subscription)
            .push(")");
    }
    for (column, value) in [
        ("type", &f.resource_type),
        ("location", &f.location),
        ("resource_group", &f.resource_group),
    ] {
        if let Some(value) = value {
            query
                .push(format_args!(" AND r.{column} = "))
                .push_bind(value.clone());
        }
    }
    // A tag filter with a value is a containment (`tags @> {"key": "value"}`, tags being
    // strings): one condition the GIN index serves, whose estimate the planner can weigh, where
    // `tags ? key AND tags ->> key = value` was estimated at a few rows under row-level security
    // and joined with subscriptions in a nested loop (minutes for an operator over 1,000,000
    // resources).
    match (&f.tag_key, &f.tag_value) {
        (Some(key), Some(value)) => {
            let mut pair = serde_json::Map::new();
            pair.insert(key.clone(), Value::String(value.clone()));
            query.push(" AND r.tags @> ").push_bind(Value::Object(pair));
        }
        (Some(key), None) => {
            query.push(" AND r.tags ? ").push_bind(key.clone());
        }
        (None, _) => {}
    }
    if !f.include_deleted {
        query.push(" AND r.deleted_at IS NULL");
    }
}

/// One resource with its properties.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query_as!(
        Resource,
        r#"SELECT r.id, r.tenant_id, r.subscription_db_id, r.subscription_id, r.resource_id, r.name,
                  r.type AS resource_type, r.kind, r.location, r.resource_group,
                  r.sku AS "sku: Box<RawValue>", r.tags AS "tags: Box<RawValue>",
                  r.properties AS "properties: Box<RawValue>", r.first_seen_at, r.last_seen_at, r.deleted_at, r.created_at, r.updated_at
           FROM resources r
           WHERE r.id = $2 AND ($1::uuid IS NULL OR r.tenant_id = $1)"#,
        tenant_id,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A resource to write, as the inventory reports it (mapped from Resource Graph's rows by the
/// ingestion pipeline).
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    /// The ARM resource id, lower-cased.
    pub resource_id: String,
    pub name: String,
    pub resource_type: String,
    pub kind: Option<String>,
    pub location: Option<String>,
    pub resource_group: Option<String>,
    pub sku: Option<Value>,
    /// A JSON object of tag names to values.
    pub tags: Value,
    pub properties: Option<Value>,
}

/// Inserts or updates a batch of one subscription's resources in one statement, as seen at
/// `seen_at` (the run's time, so a second delivery writes the same values). Rows that did not
/// change are left alone; a resource seen again is no longer deleted. Returns rows written.
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    seen_at: DateTime<Utc>,
    rows: &[NewResource],
) -> Result<u64, sqlx::Error> {
    let col = |f: fn(&NewResource) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let json = |f: fn(&NewResource) -> Option<Value>| rows.iter().map(f).collect::<Vec<_>>();
    let result = sqlx::query!(
        r#"INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, kind, location,
                                 resource_group, sku, tags, properties, first_seen_at, last_seen_at)
           SELECT $1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), r.resource_id, r.name, r.type, r.kind, r.location, r.resource_group,
                  r.sku, coalesce(r.tags, '{}'::jsonb), r.properties, $3, $3
           FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::jsonb[], $11::jsonb[], $12::jsonb[])
                AS r(resource_id, name, type, kind, location, resource_group, sku, tags, properties)
           ON CONFLICT (subscription_db_id, resource_id, tenant_id) DO UPDATE SET
               name = EXCLUDED.name, type = EXCLUDED.type, kind = EXCLUDED.kind, location = EXCLUDED.location,
               resource_group = EXCLUDED.resource_group, sku = EXCLUDED.sku, tags = EXCLUDED.tags,
               properties = EXCLUDED.properties,
               last_seen_at = greatest(resources.last_seen_at, EXCLUDED.last_seen_at),
               deleted_at = CASE WHEN EXCLUDED.last_seen_at >= resources.last_seen_at THEN NULL ELSE resources.deleted_at END
           WHERE (resources.name, resources.type, resources.kind, resources.location, resources.resource_group,
                  resources.sku, resources.tags, resources.properties, resources.last_seen_at, resources.deleted_at)
                 IS DISTINCT FROM
                 (EXCLUDED.name, EXCLUDED.type, EXCLUDED.kind, EXCLUDED.location, EXCLUDED.resource_group,
                  EXCLUDED.sku, EXCLUDED.tags, EXCLUDED.properties,
                  greatest(resources.last_seen_at, EXCLUDED.last_seen_at),
                  CASE WHEN EXCLUDED.last_seen_at >= resources.last_seen_at THEN NULL ELSE resources.deleted_at END)"#,
        tenant_id,
        subscription_db_id,
        seen_at,
        &col(|r| Some(r.resource_id.clone())) as &[Option<String>],
        &col(|r| Some(r.name.clone())) as &[Option<String>],
        &col(|r| Some(r.resource_type.clone())) as &[Option<String>],
        &col(|r| r.kind.clone()) as &[Option<String>],
        &col(|r| r.location.clone()) as &[Option<String>],
        &col(|r| r.resource_group.clone()) as &[Option<String>],
        &json(|r| r.sku.clone()) as &[Option<Value>],
        &json(|r| Some(r.tags.clone())) as &[Option<Value>],
        &json(|r| r.properties.clone()) as &[Option<Value>],
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Marks deleted the subscription's resources a full inventory taken at `seen_at` did not
/// report. Returns how many were marked.
pub async fn mark_missing_deleted(
    conn: &mut PgConnection,
    subscription_db_id: Uuid,
    seen_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE resources SET deleted_at = $2
         WHERE subscription_db_id = $1 AND deleted_at IS NULL AND last_seen_at < $2",
        subscription_db_id,
        seen_at,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// A live resource as a rule evaluation reads it. `sku` and `properties` come as JSON text, for
/// the caller to parse into whatever representation holds a whole subscription's inventory
/// compactly.
#[derive(Debug, Clone)]
pub struct LiveResource {
    /// The ARM resource id, lower-cased.
    pub resource_id: String,
    pub name: String,
    pub resource_type: String,
    pub kind: Option<String>,
    pub location: Option<String>,
    pub resource_group: Option<String>,
    /// JSON text.
    pub sku: Option<String>,
    /// A JSON object of tag names to values.
    pub tags: Value,
    /// JSON text.
    pub properties: Option<String>,
}

/// The live (not deleted) resources of one subscription with their properties, by resource id,
/// streamed (what a rule evaluation reads; the caller keeps each row in its own shape).
pub fn live_for_subscription<'c>(
    conn: &'c mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> BoxStream<'c, Result<LiveResource, sqlx::Error>> {
    sqlx::query_as!(
        LiveResource,
        r#"SELECT resource_id, name, type AS resource_type, kind, location, resource_group,
                  sku::text AS sku, tags, properties::text AS properties
           FROM resources
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND deleted_at IS NULL
           ORDER BY resource_id"#,
        tenant_id,
        subscription_db_id,
    )
    .fetch(conn)
}
