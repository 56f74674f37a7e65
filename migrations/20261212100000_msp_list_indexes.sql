-- Indexes the MSP-sized database (issue 15, `scripts/bench msp`) showed missing.
--
-- The cost list for an operator (every tenant): its order (day descending, then subscription,
-- resource group, service, meter, id) had no index without tenant_id first, so every page
-- sorted all the rows of the window (every row of every month without a date filter: 30 M on
-- the MSP database). With it each month's partition is read in list order and the page stops
-- after its rows. Created on the partitioned table, so every partition (and every partition
-- created later) has it; each partition's copy is named after the partition as
-- azcops_partition_finish names the others (<partition>_list_idx).
CREATE INDEX costs_daily_list_idx
    ON costs_daily (date DESC, subscription_db_id, resource_group, service_name, meter_category, id);

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname AS index_name, t.relname AS partition
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_index x ON x.indexrelid = c.oid
             JOIN pg_class t ON t.oid = x.indrelid
             WHERE i.inhparent = 'costs_daily_list_idx'::regclass
    LOOP
        IF length(r.partition || '_list_idx') <= 63 AND r.index_name <> r.partition || '_list_idx' THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.index_name, r.partition || '_list_idx');
        END IF;
    END LOOP;
END
$$;

-- The resource list filtered by type and location, and its total: a tenant's (largest tenant:
-- 100,000 resources) and an operator's (1,000,000) matching rows are counted from the index
-- alone (deleted_at is included for the default "not deleted" filter), instead of visiting
-- every heap page of the type. The tenant index replaces (tenant_id, type), which it serves.
CREATE INDEX resources_tenant_type_location_idx
    ON resources (tenant_id, type, location) INCLUDE (deleted_at);
DROP INDEX resources_tenant_type_idx;
CREATE INDEX resources_type_location_idx ON resources (type, location) INCLUDE (deleted_at);

-- The recommendation summary's cells (status, category, rule, currency: count and savings) and
-- the list's total, for a tenant, from the index alone; it serves every use of the
-- (tenant_id, status) index it replaces.
CREATE INDEX recommendations_tenant_cells_idx
    ON recommendations (tenant_id, status, category, rule_id, currency)
    INCLUDE (estimated_monthly_savings, superseded_by, subscription_db_id, resource_db_id, id);
DROP INDEX recommendations_tenant_status_idx;

-- The operator's cost summary subtracts the days of a month outside its window from the month's
-- rollup (30 days back from the 5th: five days of every subscription, 35,000 rows on the MSP
-- database): read from the index alone instead of the rollup's heap. Replaces the (date) index
-- of migration 20261207100000, which it serves.
CREATE INDEX costs_daily_by_service_date_cover_idx ON costs_daily_by_service (date)
    INCLUDE (tenant_id, service_name, currency, cost, amortized_cost, row_count);
DROP INDEX costs_daily_by_service_date_idx;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname AS index_name, t.relname AS partition
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_index x ON x.indexrelid = c.oid
             JOIN pg_class t ON t.oid = x.indrelid
             WHERE i.inhparent = 'costs_daily_by_service_date_cover_idx'::regclass
    LOOP
        IF length(r.partition || '_date_cover_idx') <= 63 AND r.index_name <> r.partition || '_date_cover_idx' THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.index_name, r.partition || '_date_cover_idx');
        END IF;
    END LOOP;
END
$$;

-- The recommendations hidden at `p_at` (migration 20261206100100), the same set, driven by
-- the suppressions and disabled rules: each one's recommendations are read through the tenant's
-- index (a LATERAL subquery that is not flattened), so a tenant without suppressions reads no
-- recommendation. The joined form let the planner hash-join with a sequential scan of
-- recommendations under row-level security, which read the table up to the caller's first row
-- (half of 500,000 rows for a tenant in the middle) on every list, count and summary.
CREATE OR REPLACE FUNCTION recommendations_hidden(p_at timestamptz) RETURNS TABLE (id uuid)
LANGUAGE sql STABLE AS $$
    SELECT h.id
    FROM suppressions s
    CROSS JOIN LATERAL (
        SELECT r.id
        FROM recommendations r
        LEFT JOIN resources res ON res.tenant_id = r.tenant_id AND res.id = r.resource_db_id
        WHERE r.tenant_id = s.tenant_id
          AND CASE s.target WHEN 'rule' THEN r.rule_id = s.rule_id
                            WHEN 'category' THEN r.category = s.category
                            ELSE true END
          AND CASE s.scope
                WHEN 'tenant' THEN true
                WHEN 'subscription' THEN r.subscription_db_id = s.subscription_db_id
                WHEN 'resource_group' THEN coalesce(res.resource_group = s.resource_group, false)
                     AND (s.subscription_db_id IS NULL OR r.subscription_db_id = s.subscription_db_id)
                WHEN 'resource' THEN coalesce(r.resource_id = s.resource_id, false)
                ELSE coalesce(res.tags ->> s.tag_key = s.tag_value, false)
                     OR EXISTS (SELECT 1 FROM resource_containers c
                                WHERE c.tenant_id = r.tenant_id AND c.subscription_db_id = r.subscription_db_id
                                  AND (c.kind = 'subscription'
                                       OR c.kind = 'resource_group' AND c.resource_group = res.resource_group)
                                  AND c.tags ->> s.tag_key = s.tag_value)
              END
        OFFSET 0) h
    WHERE s.kind = 'exclude' OR s.expires_at > p_at
    UNION
    SELECT h.id
    FROM rule_settings rs
    CROSS JOIN LATERAL (
        SELECT r.id FROM recommendations r
        WHERE r.tenant_id = rs.tenant_id AND r.rule_id = rs.rule_id AND r.source = 'rule'
        OFFSET 0) h
    WHERE NOT rs.enabled
$$;
