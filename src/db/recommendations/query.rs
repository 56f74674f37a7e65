//! Reading recommendations: the filtered list, one with its evidence and timeline, and the
//! sums the summary is made of. Suppressed findings (and those of rules the tenant disabled)
//! are left out unless asked for; so are Advisor recommendations superseded by a rule finding,
//! whose group the leading finding stands for.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Level, Status};
use crate::db::{Listed, Page, Planning};

/// A recommendation as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Recommendation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The AzCops subscription.
    pub subscription_db_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    /// `rule` (AzCops' rule engine) or `advisor` (Azure Advisor).
    pub source: String,
    /// A rule id of the catalogue, or `advisor:<recommendationTypeId>`.
    pub rule_id: String,
    pub category: String,
    pub action: String,
    pub variant: String,
    /// The inventory's resource (`/api/v1/resources/{id}`), when it has it.
    pub resource_db_id: Option<Uuid>,
    /// The ARM id of the resource, lower-cased.
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub resource_group: Option<String>,
    pub title: String,
    pub description: Option<String>,
    /// Monthly, in `currency`; null for findings without savings.
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>)]
    pub estimated_monthly_savings: Option<Decimal>,
    pub currency: String,
    /// How the savings were computed: `c30`, `delta`, `retail` (estimated from list prices),
    /// `advisor`, ….
    pub savings_basis: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub confidence: Decimal,
    pub risk: Level,
    pub effort: Level,
    pub status: Status,
    /// Executed, then found again.
    pub regressed: bool,
    /// A snoozed dismissal reopens then.
    pub snoozed_until: Option<DateTime<Utc>>,
    pub first_detected_at: DateTime<Utc>,
    /// The last evaluation that wrote it (new, changed or found again).
    pub last_detected_at: DateTime<Utc>,
    /// Consecutive evaluations of its rule without it (resolved at 2).
    pub absent_evaluations: i32,
    pub approved_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
    pub executed_reference: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The rule finding leading this Advisor recommendation's group (then not in totals).
    pub superseded_by: Option<Uuid>,
    /// Hidden by a suppression or a disabled rule (shown only with `include_suppressed`).
    pub suppressed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The savings order's value: the savings as float8, -1 without (not shown).
    #[serde(skip)]
    pub savings_rank: f64,
    /// The confidence order's value: the confidence as float8 (not shown).
    #[serde(skip)]
    pub confidence_rank: f64,
}

/// How a list is ordered (each descending, then by id, descending too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Largest estimated savings first (none last).
    #[default]
    Savings,
    /// Most recently first detected first.
    Detected,
    /// Most confident first.
    Confidence,
}

/// A recommendation's value in the order of a [`Sort`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rank {
    /// A savings or confidence rank (the bits of the float8, kept exact).
    Number(u64),
    /// A first detection.
    Time(DateTime<Utc>),
}

/// Where a recommendation sorts in a list: its value in the list's order, then its id.
pub type RecommendationKey = (Rank, Uuid);

impl Recommendation {
    /// Its place in the order of `sort`.
    pub fn key(&self, sort: Sort) -> RecommendationKey {
        let rank = match sort {
            Sort::Savings => Rank::Number(self.savings_rank.to_bits()),
            Sort::Detected => Rank::Time(self.first_detected_at),
            Sort::Confidence => Rank::Number(self.confidence_rank.to_bits()),
        };
        (rank, self.id)
    }
}

impl Sort {
    /// Whether `rank` is a value of this order.
    pub fn ranks_by(self, rank: Rank) -> bool {
        matches!(
            (self, rank),
            (Sort::Savings | Sort::Confidence, Rank::Number(_)) | (Sort::Detected, Rank::Time(_))
        )
    }
}

/// Which recommendations a list returns; `None` matches everything.
#[derive(Debug, Clone)]
pub struct RecommendationFilter {
    pub tenant_id: Option<Uuid>,
    /// An AzCops or an Azure subscription id.
    pub subscription: Option<Uuid>,
    pub status: Option<Status>,
    pub category: Option<String>,
    pub rule_id: Option<String>,
    pub source: Option<String>,
    /// Lower-cased.
    pub resource_group: Option<String>,
    /// Lower-cased ARM id.
    pub resource_id: Option<String>,
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
    pub min_savings: Option<Decimal>,
    pub risk: Option<Level>,
    pub include_suppressed: bool,
    pub include_superseded: bool,
    pub sort: Sort,
    /// The time suppressions are judged at.
    pub at: DateTime<Utc>,
}

/// The columns of a listed recommendation; `{suppressed}` is `false` or the hidden-set test.
const LIST_COLUMNS: &str = "SELECT r.id, r.tenant_id, r.subscription_db_id, s.subscription_id, r.source, \
        r.rule_id, r.category, r.action, r.variant, r.resource_db_id, r.resource_id, \
        res.name AS resource_name, res.type AS resource_type, res.resource_group, r.title, \
        r.description, r.estimated_monthly_savings, r.currency, r.savings_basis, \
        r.confidence_score AS confidence, r.risk_level AS risk, r.effort_level AS effort, r.status, \
        r.regressed, r.snoozed_until, r.first_detected_at, r.last_detected_at, r.absent_evaluations, \
        r.approved_at, r.executed_at, r.executed_reference, r.resolved_at, r.superseded_by, ";

/// How a list of `f`'s recommendations from `page` is planned
/// ([`crate::db::begin_for_caller_planned`]).
///
/// A list by tenant (or every tenant's) with no other filter, from a cursor or the first page,
/// keeps one generic plan per session ([`Planning::Generic`]): the index in the list's order
/// (`(tenant_id, savings_rank, id)` and the like) reads its page whatever the tenant, and
/// planning it took as long as running it (about 0.5 ms each for the median tenant of the MSP
/// database, `BENCHMARKS.md`, issue 15). With a filter on a column the order's index does not
/// hold (a status, a rule, a tag…), the best plan depends on how many rows match: those, pages
/// by number after the first, and lists counted too (the count's statement has optional
/// filters), are planned for their values each time.
pub fn list_planning(f: &RecommendationFilter, page: &Page<RecommendationKey>) -> Planning {
    let same_plan_for_every_value = f.subscription.is_none()
        && f.status.is_none()
        && f.category.is_none()
        && f.rule_id.is_none()
        && f.source.is_none()
        && f.resource_group.is_none()
        && f.resource_id.is_none()
        && f.tag_key.is_none()
        && f.tag_value.is_none()
        && f.min_savings.is_none()
        && f.risk.is_none()
        && page.offset() == 0
        && !page.count;
    if same_plan_for_every_value {
        Planning::Generic
    } else {
        Planning::EachExecution
    }
}

/// A page of recommendations in the filter's order, and the total when asked for.
///
/// The statement names only the filters given, the order and the cursor's condition in that
/// order's columns: one text per combination, so each is prepared once per session and, in a
/// transaction planned as [`list_planning`] says, planned once too (as `resources::list`).
pub async fn list(
    conn: &mut PgConnection,
    f: &RecommendationFilter,
    page: &Page<RecommendationKey>,
) -> Result<Listed<Recommendation>, sqlx::Error> {
    let total = if page.count {
        Some(count(conn, f).await?)
    } else {
        None
    };
    let mut query = QueryBuilder::new(LIST_COLUMNS);
    // With `include_suppressed` false every row listed is unsuppressed, so the hidden set is
    // only worked out again for the column when suppressed rows are listed.
    if f.include_suppressed {
        query
            .push("r.id IN (SELECT h.id FROM recommendations_hidden(")
            .push_bind(f.at)
            .push(") h) AS suppressed");
    } else {
        query.push("false AS suppressed");
    }
    query.push(
        ", r.created_at, r.updated_at, r.savings_rank, r.confidence_rank \
         FROM recommendations r JOIN subscriptions s ON s.id = r.subscription_db_id \
         LEFT JOIN resources res ON res.tenant_id = r.tenant_id AND res.id = r.resource_db_id \
         WHERE true",
    );
    push_list_filter(&mut query, f);
    let rank = match f.sort {
        Sort::Savings => "r.savings_rank",
        Sort::Detected => "r.first_detected_at",
        Sort::Confidence => "r.confidence_rank",
    };
    match page.after() {
        Some((Rank::Number(bits), id)) => {
            query
                .push(format_args!(" AND ({rank}, r.id) < ("))
                .push_bind(f64::from_bits(*bits))
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        Some((Rank::Time(at), id)) => {
            query
                .push(format_args!(" AND ({rank}, r.id) < ("))
                .push_bind(*at)
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        None => {}
    }
    // The row count is part of the text, as in `resources::list`: a generic plan of `LIMIT $n`
    // assumes a tenth of the rows are read.
    query.push(format_args!(
        " ORDER BY {rank} DESC, r.id DESC LIMIT {}",
        page.fetch()
    ));
    if page.offset() > 0 {
        query.push(" OFFSET ").push_bind(page.offset());
    }
    let rows = query
        .build_query_as::<Recommendation>()
        .fetch_all(conn)
        .await?;
    Ok(Listed { rows, total })
}

/// `AND` each condition of `f` that is set.
fn push_list_filter(query: &mut QueryBuilder<Postgres>, f: &RecommendationFilter) {
    if let Some(tenant_id) = f.tenant_id {
        query.push(" AND r.tenant_id = ").push_bind(tenant_id);
    }
    if let Some(subscription) = f.subscription {
        query
            .push(" AND (s.id = ")
            .push_bind(subscription)
            .push(" OR s.subscription_id = ")
            .push_bind(subscription)
            .push(")");
    }
    if let Some(status) = f.status {
        query.push(" AND r.status = ").push_bind(status);
    }
    for (column, value) in [
        ("r.category", &f.category),
        ("r.rule_id", &f.rule_id),
        ("r.source", &f.source),
        ("res.resource_group", &f.resource_group),
        ("r.resource_id", &f.resource_id),
    ] {
        if let Some(value) = value {
            query
                .push(format_args!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if let Some(key) = &f.tag_key {
        query.push(" AND res.tags ? ").push_bind(key.clone());
        if let Some(value) = &f.tag_value {
            query
                .push(" AND res.tags ->> ")
                .push_bind(key.clone())
                .push(" = ")
                .push_bind(value.clone());
        }
    }
    if let Some(min) = f.min_savings {
        query
            .push(" AND r.estimated_monthly_savings >= ")
            .push_bind(min);
    }
    if let Some(risk) = f.risk {
        query.push(" AND r.risk_level = ").push_bind(risk);
    }
    if !f.include_superseded {
        query.push(" AND r.superseded_by IS NULL");
    }
    if !f.include_suppressed {
        query
            .push(" AND r.id NOT IN (SELECT h.id FROM recommendations_hidden(")
            .push_bind(f.at)
            .push(") h)");
    }
}

/// How many recommendations `f` selects.
async fn count(conn: &mut PgConnection, f: &RecommendationFilter) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!"
           FROM recommendations r
           LEFT JOIN resources res ON res.tenant_id = r.tenant_id AND res.id = r.resource_db_id
           WHERE ($1::uuid IS NULL OR r.tenant_id = $1)
             AND ($2::uuid IS NULL OR r.subscription_db_id IN
                  (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
             AND ($3::recommendation_status IS NULL OR r.status = $3)
             AND ($4::text IS NULL OR r.category = $4) AND ($5::text IS NULL OR r.rule_id = $5)
             AND ($6::text IS NULL OR r.source = $6) AND ($7::text IS NULL OR res.resource_group = $7)
             AND ($8::text IS NULL OR r.resource_id = $8)
             AND ($9::text IS NULL OR res.tags ? $9) AND ($10::text IS NULL OR res.tags ->> $9 = $10)
             AND ($11::numeric IS NULL OR r.estimated_monthly_savings >= $11)
             AND ($12::level IS NULL OR r.risk_level = $12)
             AND ($14 OR r.superseded_by IS NULL)
             AND ($13 OR r.id NOT IN (SELECT h.id FROM recommendations_hidden($15) h))"#,
        f.tenant_id, f.subscription, f.status as Option<Status>, f.category, f.rule_id, f.source,
        f.resource_group, f.resource_id, f.tag_key, f.tag_value, f.min_savings, f.risk as Option<Level>,
        f.include_suppressed, f.include_superseded, f.at,
    )
    .fetch_one(conn)
    .await
}

/// One recommendation with what only the single view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub recommendation: Recommendation,
    /// The observed values next to the thresholds that fired (rule findings).
    pub evidence: Value,
    /// What Advisor said (Advisor recommendations).
    pub details: Value,
}

/// One recommendation (of `tenant_id` when given), with its suppression judged at `at`.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Detail>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT r.id, r.tenant_id, r.subscription_db_id, s.subscription_id, r.source, r.rule_id, r.category,
                  r.action, r.variant, r.resource_db_id, r.resource_id, res.name AS "resource_name?",
                  res.type AS "resource_type?", res.resource_group AS "resource_group?", r.title, r.description,
                  r.estimated_monthly_savings, r.currency, r.savings_basis, r.confidence_score,
                  r.risk_level AS "risk: Level", r.effort_level AS "effort: Level", r.status AS "status: Status",
                  r.regressed, r.snoozed_until, r.first_detected_at, r.last_detected_at, r.absent_evaluations,
                  r.approved_at, r.executed_at, r.executed_reference, r.resolved_at, r.superseded_by,
                  EXISTS (SELECT 1 FROM recommendations_hidden($3) h WHERE h.id = r.id) AS "suppressed!",
                  r.created_at, r.updated_at, r.evidence, r.details, r.savings_rank, r.confidence_rank
           FROM recommendations r JOIN subscriptions s ON s.id = r.subscription_db_id
           LEFT JOIN resources res ON res.tenant_id = r.tenant_id AND res.id = r.resource_db_id
           WHERE r.id = $1 AND ($2::uuid IS NULL OR r.tenant_id = $2)"#,
        id,
        tenant_id,
        at,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Detail {
        evidence: r.evidence,
        details: r.details,
        recommendation: Recommendation {
            id: r.id,
            tenant_id: r.tenant_id,
            subscription_db_id: r.subscription_db_id,
            subscription_id: r.subscription_id,
            source: r.source,
            rule_id: r.rule_id,
            category: r.category,
            action: r.action,
            variant: r.variant,
            resource_db_id: r.resource_db_id,
            resource_id: r.resource_id,
            resource_name: r.resource_name,
            resource_type: r.resource_type,
            resource_group: r.resource_group,
            title: r.title,
            description: r.description,
            estimated_monthly_savings: r.estimated_monthly_savings,
            currency: r.currency,
            savings_basis: r.savings_basis,
            confidence: r.confidence_score,
            risk: r.risk,
            effort: r.effort,
            status: r.status,
            regressed: r.regressed,
            snoozed_until: r.snoozed_until,
            first_detected_at: r.first_detected_at,
            last_detected_at: r.last_detected_at,
            absent_evaluations: r.absent_evaluations,
            approved_at: r.approved_at,
            executed_at: r.executed_at,
            executed_reference: r.executed_reference,
            resolved_at: r.resolved_at,
            superseded_by: r.superseded_by,
            suppressed: r.suppressed,
            created_at: r.created_at,
            updated_at: r.updated_at,
            savings_rank: r.savings_rank,
            confidence_rank: r.confidence_rank,
        },
    }))
}

/// One status change on a recommendation's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The principal who decided, or `system`.
    pub actor: String,
    /// `decision` (a person's), `resolved`, `reopened` or `snooze_expired` (the system's).
    pub kind: String,
    pub from: Status,
    pub to: Status,
    pub reason: Option<String>,
    /// `until`, `reference`, `regressed` as the change had them.
    pub details: Value,
}

/// The recommendation's status changes, oldest first.
pub async fn timeline(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as!(
        Event,
        r#"SELECT at, actor, kind, from_status AS "from: Status", to_status AS "to: Status", reason, details
           FROM recommendation_events WHERE tenant_id = $1 AND recommendation_id = $2
           ORDER BY id"#,
        tenant_id,
        id,
    )
    .fetch_all(conn)
    .await
}

/// The Advisor recommendations a rule finding leads (its group, besides itself).
pub async fn superseded(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM recommendations WHERE tenant_id = $1 AND superseded_by = $2 ORDER BY id",
        tenant_id,
        id,
    )
    .fetch_all(conn)
    .await
}

/// What a summary covers.
#[derive(Debug, Clone)]
pub struct SummaryFilter {
    pub tenant_id: Option<Uuid>,
    pub subscription: Option<Uuid>,
    pub include_suppressed: bool,
    pub at: DateTime<Utc>,
}

/// How a summary under `f` is planned ([`crate::db::begin_for_caller_planned`]): a tenant's
/// without a subscription filter reads the tenant's cells ([`cells`] and
/// [`super::realised::figures`]) with statements that name only the tenant, whose plan is the
/// same for every tenant (an index range of the tenant's cells), so it is kept per session
/// ([`Planning::Generic`]); planning them took as long as running them (about 0.9 of 1.3 ms of
/// PostgreSQL for the median tenant of the MSP database, `BENCHMARKS.md`, issue 15). The rest is
/// planned for its values each time.
pub fn summary_planning(f: &SummaryFilter) -> Planning {
    if f.tenant_id.is_some() && f.subscription.is_none() {
        Planning::Generic
    } else {
        Planning::EachExecution
    }
}

/// Count and estimated savings of one (status, category, rule, currency) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub status: Status,
    pub category: String,
    pub rule_id: String,
    pub currency: String,
    pub count: i64,
    pub savings: Decimal,
}

/// The cells the summary adds up: every group once (superseded Advisor recommendations left
/// out), suppressed ones only when asked for. Read from the cells the database keeps as
/// recommendations change (`recommendation_summary_cells`, one row per subscription × status ×
/// category × rule × currency, when a subscription is filtered; otherwise
/// `recommendation_tenant_summary_cells`, the same per tenant) with the changes this transaction queued for them
/// (`recommendation_summary_pending`, added at commit), less the hidden recommendations in
/// scope (suppressed, or of a disabled rule, at `f.at`), counted from the recommendations
/// themselves: the same sums as adding up the recommendations, without reading them all. Each
/// hidden one is looked up by id (the LATERAL subquery is not flattened: joined, the planner
/// hashed every recommendation of the tenant against the hidden ids).
///
/// A tenant's summary without a subscription filter names only the tenant (one statement text
/// with no optional filter), so it can keep one plan per session ([`summary_planning`]).
pub async fn cells(conn: &mut PgConnection, f: &SummaryFilter) -> Result<Vec<Cell>, sqlx::Error> {
    if let (Some(tenant_id), None) = (f.tenant_id, f.subscription) {
        return sqlx::query_as!(
            Cell,
            r#"WITH parts AS (
                   SELECT t.status, t.category, t.rule_id, t.currency, t.count, t.savings
                   FROM recommendation_tenant_summary_cells t
                   WHERE t.tenant_id = $1
                   UNION ALL
                   SELECT p.status, p.category, p.rule_id, p.currency, p.count, p.savings
                   FROM recommendation_summary_pending p
                   WHERE p.tenant_id = $1
                     AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = p.tenant_id AND s.id = p.subscription_db_id)
                   UNION ALL
                   SELECT r.status, r.category, r.rule_id, r.currency, -1,
                          -coalesce(r.estimated_monthly_savings, 0)
                   FROM recommendations_hidden($3) h
                   CROSS JOIN LATERAL (
                       SELECT r.status, r.category, r.rule_id, r.currency, r.estimated_monthly_savings
                       FROM recommendations r
                       WHERE r.id = h.id AND r.tenant_id = $1 AND r.superseded_by IS NULL
                       OFFSET 0) r
                   WHERE NOT $2)
               SELECT p.status AS "status!: Status", p.category AS "category!", p.rule_id AS "rule_id!",
                      p.currency AS "currency!", sum(p.count)::bigint AS "count!", sum(p.savings) AS "savings!"
               FROM parts p
               GROUP BY p.status, p.category, p.rule_id, p.currency
               HAVING sum(p.count) <> 0
               ORDER BY p.status, p.category, p.rule_id, p.currency"#,
            tenant_id,
            f.include_suppressed,
            f.at,
        )
        .fetch_all(conn)
        .await;
    }
    sqlx::query_as!(
        Cell,
        r#"WITH scope AS (
               SELECT s.tenant_id, s.id FROM subscriptions s
               WHERE $2::uuid IS NOT NULL AND (s.id = $2 OR s.subscription_id = $2)
                 AND ($1::uuid IS NULL OR s.tenant_id = $1)),
           parts AS (
               SELECT c.status, c.category, c.rule_id, c.currency, c.count, c.savings
               FROM recommendation_summary_cells c
               WHERE $2::uuid IS NOT NULL
                 AND ($1::uuid IS NULL OR c.tenant_id = $1)
                 AND (c.tenant_id, c.subscription_db_id) IN (SELECT tenant_id, id FROM scope)
               UNION ALL
               SELECT t.status, t.category, t.rule_id, t.currency, t.count, t.savings
               FROM recommendation_tenant_summary_cells t
               WHERE $2::uuid IS NULL
                 AND ($1::uuid IS NULL OR t.tenant_id = $1)
               UNION ALL
               SELECT p.status, p.category, p.rule_id, p.currency, p.count, p.savings
               FROM recommendation_summary_pending p
               WHERE ($1::uuid IS NULL OR p.tenant_id = $1)
                 AND ($2::uuid IS NULL OR (p.tenant_id, p.subscription_db_id) IN (SELECT tenant_id, id FROM scope))
                 AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = p.tenant_id AND s.id = p.subscription_db_id)
               UNION ALL
               SELECT r.status, r.category, r.rule_id, r.currency, -1,
                      -coalesce(r.estimated_monthly_savings, 0)
               FROM recommendations_hidden($4) h
               CROSS JOIN LATERAL (
                   SELECT r.status, r.category, r.rule_id, r.currency, r.estimated_monthly_savings
                   FROM recommendations r
                   WHERE r.id = h.id
                     AND ($1::uuid IS NULL OR r.tenant_id = $1)
                     AND ($2::uuid IS NULL OR (r.tenant_id, r.subscription_db_id) IN (SELECT tenant_id, id FROM scope))
                     AND r.superseded_by IS NULL
                   OFFSET 0) r
               WHERE NOT $3)
           SELECT p.status AS "status!: Status", p.category AS "category!", p.rule_id AS "rule_id!",
                  p.currency AS "currency!", sum(p.count)::bigint AS "count!", sum(p.savings) AS "savings!"
           FROM parts p
           GROUP BY p.status, p.category, p.rule_id, p.currency
           HAVING sum(p.count) <> 0
           ORDER BY p.status, p.category, p.rule_id, p.currency"#,
        f.tenant_id,
        f.subscription,
        f.include_suppressed,
        f.at,
    )
    .fetch_all(conn)
    .await
}
