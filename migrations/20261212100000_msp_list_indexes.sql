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
