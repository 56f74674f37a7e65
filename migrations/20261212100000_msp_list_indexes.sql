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
