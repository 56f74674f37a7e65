//! On a full run, the daily amortized cost of the subscription's resources whose
//! recommendations were carried out recently, from 14 days before the (first) change to
//! yesterday, until 14 days after the (last) change are covered and settled
//! ([`db::resource_daily_costs::tracked`]). What realised savings are measured with.
//!
//! A failure here fails nothing else: it is logged, and the savings stay pending until a later
//! run collects the days.

use chrono::Duration;

use super::{Ingestor, SnapshotKey};
use crate::azure::client::{Api, CallContext};
use crate::azure::cost_management::daily_by_resource::collect_daily_for_resources;
use crate::azure::cost_management::{CostScope, DateRange};
use crate::db::resource_daily_costs::{self, DAYS_EACH_SIDE, NewDailyCost};
use crate::db::subscriptions::IngestionTarget;
use crate::db::{self, Scope};

/// The raw answers, beside the item's other cost snapshots.
const SNAPSHOTS: [(&str, &[Api]); 1] =
    [("cost_management_daily_by_resource", &[Api::CostManagement])];

impl Ingestor {
    /// Collects and stores the tracked resources' daily costs; logs a failure once.
    pub(super) async fn collect_realised_inputs(
        &self,
        ctx: &CallContext,
        target: &IngestionTarget,
        key: &SnapshotKey<'_>,
    ) {
        if let Err(e) = self.try_collect_realised_inputs(ctx, target, key).await {
            tracing::warn!(
                azure.subscription_id = %target.subscription_id,
                error = format!("{e:#}"),
                "daily costs of changed resources not collected: their realised savings stay pending"
            );
        }
    }

    async fn try_collect_realised_inputs(
        &self,
        ctx: &CallContext,
        target: &IngestionTarget,
        key: &SnapshotKey<'_>,
    ) -> anyhow::Result<()> {
        let pool = self.db.pool().await?;
        let today = key.run_at.date_naive();
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        let tracked =
            resource_daily_costs::tracked(&mut tx, target.tenant_id, target.id, today).await?;
        tx.commit().await?;
        let (Some(first), Some(last)) = (
            tracked.iter().map(|t| t.first_change).min(),
            tracked.iter().map(|t| t.last_change).max(),
        ) else {
            return Ok(());
        };
        let each_side = Duration::days(i64::from(DAYS_EACH_SIDE));
        let yesterday = today - Duration::days(1);
        let range = DateRange {
            from: first - each_side,
            to: (last + each_side).min(yesterday),
        };
        if range.from > range.to {
            return Ok(());
        }
        let ids: Vec<String> = tracked.into_iter().map(|t| t.resource_id).collect();
        let scope = CostScope::for_subscription(
            &target.subscription_id.to_string(),
            target.billing_scope.as_deref(),
        )?;
        let rows = collect_daily_for_resources(&self.azure, ctx, &scope, range, &ids).await?;
        self.write_snapshots(ctx, key.message, (key.run_id, key.run_at), &SNAPSHOTS)
            .await?;
        let rows: Vec<NewDailyCost> = rows
            .into_iter()
            .map(|r| NewDailyCost {
                resource_id: r.resource_id,
                date: r.date,
                amortized_cost: r.amortized_cost,
                currency: r.currency,
            })
            .collect();
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        resource_daily_costs::replace(
            &mut tx,
            (target.tenant_id, target.id),
            (range.from, range.to),
            &ids,
            &rows,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            azure.subscription_id = %target.subscription_id,
            resources = ids.len(),
            rows = rows.len(),
            "daily costs of changed resources collected"
        );
        Ok(())
    }
}
