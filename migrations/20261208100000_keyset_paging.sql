-- Cursor (keyset) paging: every list reads its next page as "the rows after this sort key",
-- which an index in the list's order answers by descending to the key, however deep the page,
-- instead of counting past OFFSET rows. One index per list order: with tenant_id first for a
-- tenant's callers (their queries filter on it), and without it for operators over every tenant.
-- Each order ends with id, so that rows with equal sort values still have one order.
--
-- Row-level security lets an index condition run before the policy only when its operators are
-- leakproof. numeric's comparisons are not (float8's are): the recommendation list's savings
-- and confidence orders read stored float8 copies, which their indexes and cursors use.
-- Recommendations without savings sort last (-1: savings are never negative).
--
-- The cost list's order (day, then subscription, resource group, service, meter) is served by
-- costs_daily_tenant_date_idx and an incremental sort; its indexes belong to the cost tables'
-- own migrations.

-- Tenants, by name.
CREATE INDEX tenants_name_idx ON tenants (name, id);

-- Subscriptions, by display name.
CREATE INDEX subscriptions_tenant_display_name_idx ON subscriptions (tenant_id, display_name, id);
CREATE INDEX subscriptions_display_name_idx ON subscriptions (display_name, id);

-- Resources, by ARM resource id.
CREATE INDEX resources_tenant_resource_id_idx ON resources (tenant_id, resource_id, id);
CREATE INDEX resources_resource_id_idx ON resources (resource_id, id);

-- Recommendations, by savings, first detection or confidence (each descending: the indexes are
-- read backwards).
ALTER TABLE recommendations
    ADD COLUMN savings_rank float8 NOT NULL
        GENERATED ALWAYS AS (coalesce(estimated_monthly_savings::float8, -1)) STORED,
    ADD COLUMN confidence_rank float8 NOT NULL
        GENERATED ALWAYS AS (confidence_score::float8) STORED;
CREATE INDEX recommendations_tenant_savings_idx ON recommendations (tenant_id, savings_rank, id);
CREATE INDEX recommendations_savings_idx ON recommendations (savings_rank, id);
CREATE INDEX recommendations_tenant_detected_idx ON recommendations (tenant_id, first_detected_at, id);
CREATE INDEX recommendations_detected_idx ON recommendations (first_detected_at, id);
CREATE INDEX recommendations_tenant_confidence_idx ON recommendations (tenant_id, confidence_rank, id);
CREATE INDEX recommendations_confidence_idx ON recommendations (confidence_rank, id);

-- Ingestion runs, newest first (the new tenant index serves every use of the one it replaces).
DROP INDEX ingestion_runs_tenant_created_idx;
CREATE INDEX ingestion_runs_tenant_created_idx ON ingestion_runs (tenant_id, created_at, id);
CREATE INDEX ingestion_runs_created_idx ON ingestion_runs (created_at, id);

-- Suppressions, newest first.
CREATE INDEX suppressions_tenant_created_idx ON suppressions (tenant_id, created_at, id);
CREATE INDEX suppressions_created_idx ON suppressions (created_at, id);
