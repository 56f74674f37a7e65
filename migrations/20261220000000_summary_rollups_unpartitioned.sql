-- The cost summary's tenant and all-tenant rollups leave monthly partitioning (issue 15, README
-- "Cost storage"):
--
--   costs_tenant_daily_by_service, costs_tenant_daily_totals, costs_tenant_monthly_by_service,
--   costs_all_tenants_daily_by_service, costs_all_tenants_monthly_by_service
--
-- A summary of 365 days read 13 monthly partitions of each: planning its two statements took
-- 2.9 ms of the 4.7 ms PostgreSQL spent on them (the partitions' paths, one per month and
-- table), and the summary served 250 requests a second at 50 connections on the MSP database
-- (p99 250-270 ms, target 150). Unpartitioned, each is one index range: the same statements ran
-- at 2.5x the rate. Partitioning is what lets retention drop two years of daily rows (30 M per
-- 200 tenants) without a `DELETE`; these tables are small beside `costs_daily` (a row per tenant,
-- day and service: 1.75 M rows for the MSP database's two years, 0.6 % of its daily rows), so
-- retention deletes their expired rows instead. The per-subscription rollups and `costs_daily`
-- stay partitioned.

-- Row-level security is forced on the cost tables, also for their owner: act as the operator.
SELECT set_config('azcops.operator', 'on', true);

CREATE OR REPLACE FUNCTION azcops_cost_partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['costs_daily', 'costs_daily_by_service', 'costs_daily_totals',
                 'costs_monthly_by_service', 'resource_costs']
$$;

------------------------------------------------------------------------------------------------
-- The partitioned tables step aside: their index names go to the new ones.

ALTER TABLE costs_tenant_daily_by_service RENAME TO costs_tenant_daily_by_service_by_month;
ALTER INDEX costs_tenant_daily_by_service_pkey RENAME TO costs_tenant_daily_by_service_by_month_pkey;
ALTER INDEX costs_tenant_daily_by_service_date_idx RENAME TO costs_tenant_daily_by_service_by_month_date_idx;
ALTER TABLE costs_tenant_daily_totals RENAME TO costs_tenant_daily_totals_by_month;
ALTER INDEX costs_tenant_daily_totals_pkey RENAME TO costs_tenant_daily_totals_by_month_pkey;
ALTER INDEX costs_tenant_daily_totals_date_idx RENAME TO costs_tenant_daily_totals_by_month_date_idx;
ALTER TABLE costs_tenant_monthly_by_service RENAME TO costs_tenant_monthly_by_service_by_month;
ALTER INDEX costs_tenant_monthly_by_service_pkey RENAME TO costs_tenant_monthly_by_service_by_month_pkey;
ALTER TABLE costs_all_tenants_daily_by_service RENAME TO costs_all_tenants_daily_by_service_by_month;
ALTER INDEX costs_all_tenants_daily_by_service_pkey RENAME TO costs_all_tenants_daily_by_service_by_month_pkey;
ALTER TABLE costs_all_tenants_monthly_by_service RENAME TO costs_all_tenants_monthly_by_service_by_month;
ALTER INDEX costs_all_tenants_monthly_by_service_pkey RENAME TO costs_all_tenants_monthly_by_service_by_month_pkey;

------------------------------------------------------------------------------------------------
-- The same tables, columns and checks, unpartitioned, with their rows (in key order).

CREATE TABLE costs_tenant_daily_by_service
    (LIKE costs_tenant_daily_by_service_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO costs_tenant_daily_by_service
SELECT * FROM costs_tenant_daily_by_service_by_month ORDER BY tenant_id, date, service_name, currency;

CREATE TABLE costs_tenant_daily_totals
    (LIKE costs_tenant_daily_totals_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO costs_tenant_daily_totals
SELECT * FROM costs_tenant_daily_totals_by_month ORDER BY tenant_id, date, currency;

CREATE TABLE costs_tenant_monthly_by_service
    (LIKE costs_tenant_monthly_by_service_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO costs_tenant_monthly_by_service
SELECT * FROM costs_tenant_monthly_by_service_by_month ORDER BY tenant_id, month, service_name, currency;

CREATE TABLE costs_all_tenants_daily_by_service
    (LIKE costs_all_tenants_daily_by_service_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO costs_all_tenants_daily_by_service
SELECT * FROM costs_all_tenants_daily_by_service_by_month ORDER BY date, service_name, currency;

CREATE TABLE costs_all_tenants_monthly_by_service
    (LIKE costs_all_tenants_monthly_by_service_by_month INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO costs_all_tenants_monthly_by_service
SELECT * FROM costs_all_tenants_monthly_by_service_by_month ORDER BY month, service_name, currency;

DROP TABLE costs_tenant_daily_by_service_by_month, costs_tenant_daily_totals_by_month,
    costs_tenant_monthly_by_service_by_month, costs_all_tenants_daily_by_service_by_month,
    costs_all_tenants_monthly_by_service_by_month;

------------------------------------------------------------------------------------------------
-- Keys, indexes, isolation and grants as before.

ALTER TABLE costs_tenant_daily_by_service
    ADD CONSTRAINT costs_tenant_daily_by_service_pkey
        PRIMARY KEY (tenant_id, date, service_name, currency) INCLUDE (cost, amortized_cost, row_count),
    ADD CONSTRAINT costs_tenant_daily_by_service_tenant_fkey
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
CREATE INDEX costs_tenant_daily_by_service_date_idx ON costs_tenant_daily_by_service (date)
    INCLUDE (tenant_id, service_name, currency, cost, amortized_cost, row_count);

ALTER TABLE costs_tenant_daily_totals
    ADD CONSTRAINT costs_tenant_daily_totals_pkey
        PRIMARY KEY (tenant_id, date, currency) INCLUDE (cost, amortized_cost),
    ADD CONSTRAINT costs_tenant_daily_totals_tenant_fkey
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
CREATE INDEX costs_tenant_daily_totals_date_idx ON costs_tenant_daily_totals (date)
    INCLUDE (tenant_id, currency, cost, amortized_cost);

ALTER TABLE costs_tenant_monthly_by_service
    ADD CONSTRAINT costs_tenant_monthly_by_service_pkey
        PRIMARY KEY (tenant_id, month, service_name, currency) INCLUDE (cost, amortized_cost, row_count),
    ADD CONSTRAINT costs_tenant_monthly_by_service_tenant_fkey
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

ALTER TABLE costs_all_tenants_daily_by_service
    ADD CONSTRAINT costs_all_tenants_daily_by_service_pkey
        PRIMARY KEY (date, service_name, currency) INCLUDE (cost, amortized_cost, row_count);

ALTER TABLE costs_all_tenants_monthly_by_service
    ADD CONSTRAINT costs_all_tenants_monthly_by_service_pkey
        PRIMARY KEY (month, service_name, currency) INCLUDE (cost, amortized_cost, row_count);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['costs_tenant_daily_by_service', 'costs_tenant_daily_totals',
                             'costs_tenant_monthly_by_service']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I
                 USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
                 WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))',
            t || '_isolation', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['costs_all_tenants_daily_by_service', 'costs_all_tenants_monthly_by_service']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING ((SELECT azcops_is_operator())) WITH CHECK ((SELECT azcops_is_operator()))',
            t || '_operator', t);
    END LOOP;
END
$$;

GRANT SELECT ON costs_tenant_daily_by_service, costs_tenant_daily_totals,
    costs_tenant_monthly_by_service, costs_all_tenants_daily_by_service,
    costs_all_tenants_monthly_by_service TO azcops_app;

ANALYZE costs_tenant_daily_by_service, costs_tenant_daily_totals, costs_tenant_monthly_by_service,
    costs_all_tenants_daily_by_service, costs_all_tenants_monthly_by_service;

------------------------------------------------------------------------------------------------
-- Retention: past the kept months, the partitioned tables lose whole partitions and these
-- rollups the rows of the same months (those before the first month kept).

CREATE OR REPLACE FUNCTION azcops_drop_cost_partitions(p_keep_months integer) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '10s' AS $$
DECLARE
    v_cutoff date;
    v_parent text;
    r record;
BEGIN
    PERFORM azcops_require_operator();
    IF p_keep_months IS NULL OR p_keep_months < 12 THEN
        RAISE EXCEPTION 'cost retention must keep at least 12 months, not %', p_keep_months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_cutoff := (date_trunc('month', current_date) - make_interval(months => p_keep_months))::date;
    FOREACH v_parent IN ARRAY azcops_cost_partitioned_tables()
    LOOP
        FOR r IN SELECT c.relname,
                        substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([0-9-]+)''\)')::date AS upper
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = format('public.%I', v_parent)::regclass
                   AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
                 ORDER BY 2
        LOOP
            CONTINUE WHEN r.upper IS NULL OR r.upper > v_cutoff;
            EXECUTE format('DROP TABLE public.%I', r.relname);
            RETURN NEXT r.relname;
        END LOOP;
    END LOOP;
    DELETE FROM costs_tenant_daily_by_service WHERE date < v_cutoff;
    DELETE FROM costs_tenant_daily_totals WHERE date < v_cutoff;
    DELETE FROM costs_tenant_monthly_by_service WHERE month < v_cutoff;
    DELETE FROM costs_all_tenants_daily_by_service WHERE date < v_cutoff;
    DELETE FROM costs_all_tenants_monthly_by_service WHERE month < v_cutoff;
END
$$;

REVOKE ALL ON FUNCTION azcops_drop_cost_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION azcops_drop_cost_partitions(integer) TO azcops_app;
