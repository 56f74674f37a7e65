-- Covering indexes the MSP-sized database (issue 15) showed missing after 20261212100000.
--
-- Row-level security makes every scan read tenant_id (the policy's column), so an index-only
-- scan needs it in the index. The operator's (type, location) index of 20261212100000 lacked
-- it: the planner counted an operator's matching resources by reading the whole
-- (tenant_id, type, location) index instead (48,000 of 1,000,000 rows: 290 ms).
DROP INDEX resources_type_location_idx;
CREATE INDEX resources_type_location_idx ON resources (type, location) INCLUDE (deleted_at, tenant_id);

-- A tenant's cost summary reads its rows of the three rollups for the window (365 days of
-- totals: 18,600 rows for the largest tenant of the MSP database, spread over every page of
-- each month's partition, since each day's rows are written together for every tenant): from
-- the index alone. The (tenant_id, date) prefix is the primary keys' own.
CREATE INDEX costs_daily_totals_tenant_cover_idx ON costs_daily_totals (tenant_id, date)
    INCLUDE (subscription_db_id, currency, cost, amortized_cost);
CREATE INDEX costs_daily_by_service_tenant_cover_idx ON costs_daily_by_service (tenant_id, date)
    INCLUDE (subscription_db_id, service_name, currency, cost, amortized_cost, row_count);
CREATE INDEX costs_monthly_by_service_tenant_cover_idx ON costs_monthly_by_service (tenant_id, month)
    INCLUDE (subscription_db_id, service_name, currency, cost, amortized_cost, row_count);

-- Each partition's copy is named after the partition (<partition>_tenant_cover_idx), as
-- azcops_partition_finish names those of partitions created later.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname AS index_name, t.relname AS partition,
                    substr(p.relname, length(pt.relname) + 1) AS suffix
             FROM pg_class p
             JOIN pg_index px ON px.indexrelid = p.oid
             JOIN pg_class pt ON pt.oid = px.indrelid
             JOIN pg_inherits i ON i.inhparent = p.oid
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_index x ON x.indexrelid = c.oid
             JOIN pg_class t ON t.oid = x.indrelid
             WHERE p.relname IN ('costs_daily_totals_tenant_cover_idx', 'costs_daily_by_service_tenant_cover_idx',
                                 'costs_monthly_by_service_tenant_cover_idx')
    LOOP
        IF length(r.partition || r.suffix) <= 63 AND r.index_name <> r.partition || r.suffix THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.index_name, r.partition || r.suffix);
        END IF;
    END LOOP;
END
$$;
