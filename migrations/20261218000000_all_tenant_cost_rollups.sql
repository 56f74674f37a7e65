-- All-tenant rollups of `costs_daily` for the operator (issue 15, README "Cost storage"). The
-- operator's summary over every tenant summed the tenant rollups: about 25,000 rows for 30 days
-- of the 200-tenant MSP database (449 ms p99 under load, target 300 ms). These two tables hold
-- the same sums without the tenant, so that summary reads one row per day (or month) and service:
--
--   costs_all_tenants_daily_by_service    per day, service and currency (with the rows summed)
--   costs_all_tenants_monthly_by_service  per month, service and currency (with the rows summed)
--
-- (the operator's daily trend adds up the day's services: a few dozen rows a day). They are
-- partitioned by month like the other cost tables, by the same functions (created ahead,
-- drained from DEFAULT, dropped past the retention). They hold no tenant's rows, only sums over
-- every tenant: only the operator reads them.
--
-- Every tenant's cost writes change these rows. Changing them in the writing statement would
-- lock them until the transaction ends, so that every tenant's ingestion would wait for every
-- other's. As for the recommendation summary's cells (migration 20261215000000), a statement
-- trigger on `costs_daily` queues the statement's changes (inserts only: no lock), and the
-- transaction adds them at its commit, in one upsert per table in key order: a row is held for
-- the instant of a commit, and two commits take rows in the same order (no deadlock).
--
-- The migration fills them from the tenant rollups.

-- Row-level security is forced on the cost tables, also for their owner: act as the operator.
SELECT set_config('azcops.operator', 'on', true);

CREATE OR REPLACE FUNCTION azcops_cost_partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['costs_daily', 'costs_daily_by_service', 'costs_daily_totals',
                 'costs_monthly_by_service', 'costs_tenant_daily_by_service',
                 'costs_tenant_daily_totals', 'costs_tenant_monthly_by_service',
                 'costs_all_tenants_daily_by_service', 'costs_all_tenants_monthly_by_service',
                 'resource_costs']
$$;

-- No CHECK on row_count: an upsert's proposed row (the change, possibly negative) would be
-- refused before it meets the existing row. The commit deletes rows that reach 0 and fails on
-- a negative count.
CREATE TABLE costs_all_tenants_daily_by_service (
    date           date NOT NULL,
    service_name   text NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    row_count      bigint NOT NULL,
    CONSTRAINT costs_all_tenants_daily_by_service_pkey PRIMARY KEY (date, service_name, currency)
        INCLUDE (cost, amortized_cost, row_count)
) PARTITION BY RANGE (date);

CREATE TABLE costs_all_tenants_monthly_by_service (
    -- The first day of the month.
    month          date NOT NULL CONSTRAINT costs_all_tenants_monthly_by_service_first_day
                   CHECK (month = date_trunc('month', month)),
    service_name   text NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    row_count      bigint NOT NULL,
    CONSTRAINT costs_all_tenants_monthly_by_service_pkey PRIMARY KEY (month, service_name, currency)
        INCLUDE (cost, amortized_cost, row_count)
) PARTITION BY RANGE (month);

-- The application reads them (as the operator: row-level security); only the triggers write.
GRANT SELECT ON costs_all_tenants_daily_by_service, costs_all_tenants_monthly_by_service TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['costs_all_tenants_daily_by_service',
                             'costs_all_tenants_monthly_by_service']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I '
            'USING ((SELECT azcops_is_operator())) WITH CHECK ((SELECT azcops_is_operator()))',
            t || '_operator', t);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
        PERFORM azcops_partition_finish(t, t || '_default');
    END LOOP;
END
$$;

-- The months the other cost tables have partitions for (the new tables get theirs; nothing else
-- is created), the previous month, the current one and three ahead.
DO $$
DECLARE
    v_month date;
BEGIN
    -- Also when the file is applied statement by statement, outside one transaction.
    PERFORM set_config('azcops.operator', 'on', true);
    FOR v_month IN
        SELECT DISTINCT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([0-9-]+)''\)')::date
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'costs_daily_by_service'::regclass
          AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        ORDER BY 1
    LOOP
        PERFORM azcops_ensure_cost_partitions(v_month, v_month);
    END LOOP;
    PERFORM azcops_ensure_cost_partitions((current_date - interval '1 month')::date,
                                          (current_date + interval '3 months')::date);
END
$$;

-- What a transaction's cost statements changed, until it commits (rows visible only to their
-- own transaction: the commit removes them, a rollback discards them).
CREATE TABLE costs_all_tenants_pending (
    tenant_id      uuid NOT NULL,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    date           date NOT NULL,
    service_name   text NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    row_count      bigint NOT NULL,
    -- The transaction's first row: its deferred trigger applies all of them at commit.
    first          boolean NOT NULL DEFAULT false,
    CONSTRAINT costs_all_tenants_pending_pkey PRIMARY KEY (tenant_id, id)
);

ALTER TABLE costs_all_tenants_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE costs_all_tenants_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY costs_all_tenants_pending_isolation ON costs_all_tenants_pending
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- After each statement on costs_daily: the change of each (day, service, currency) that its
-- rows made (inserted +, deleted −, updated old − new +), queued; nothing when it nets to
-- nothing. The transaction's first queued row is marked (the transaction-local setting
-- azcops.all_tenant_costs_queued says one is), so that one deferred trigger applies the
-- transaction's changes at commit. SECURITY DEFINER: the application may not write the queue;
-- row-level security still limits the rows to the transaction's tenant.
CREATE FUNCTION costs_daily_queue_all_tenant_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_first boolean := coalesce(current_setting('azcops.all_tenant_costs_queued', true), '') <> 'on';
    v_rows bigint;
BEGIN
    -- Said before the rows are queued: a trigger made IMMEDIATE applies them at the end of the
    -- INSERT below, and clears it again.
    IF v_first THEN
        PERFORM set_config('azcops.all_tenant_costs_queued', 'on', true);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO costs_all_tenants_pending
            (tenant_id, date, service_name, currency, cost, amortized_cost, row_count, first)
        SELECT n.tenant_id, n.date, n.service_name, n.currency, sum(n.cost), sum(n.amortized_cost),
               count(*), v_first AND row_number() OVER () = 1
        FROM new_rows n
        GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO costs_all_tenants_pending
            (tenant_id, date, service_name, currency, cost, amortized_cost, row_count, first)
        SELECT d.tenant_id, d.date, d.service_name, d.currency, sum(d.cost), sum(d.amortized_cost),
               sum(d.n), v_first AND row_number() OVER () = 1
        FROM (SELECT o.tenant_id, o.date, o.service_name, o.currency, -o.cost AS cost,
                     -o.amortized_cost AS amortized_cost, -1 AS n
              FROM old_rows o
              UNION ALL
              SELECT n.tenant_id, n.date, n.service_name, n.currency, n.cost, n.amortized_cost, 1
              FROM new_rows n) d
        GROUP BY 1, 2, 3, 4
        HAVING sum(d.cost) <> 0 OR sum(d.amortized_cost) <> 0 OR sum(d.n) <> 0;
    ELSE
        INSERT INTO costs_all_tenants_pending
            (tenant_id, date, service_name, currency, cost, amortized_cost, row_count, first)
        SELECT o.tenant_id, o.date, o.service_name, o.currency, -sum(o.cost), -sum(o.amortized_cost),
               -count(*), v_first AND row_number() OVER () = 1
        FROM old_rows o
        GROUP BY 1, 2, 3, 4;
    END IF;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_first AND v_rows = 0 THEN
        PERFORM set_config('azcops.all_tenant_costs_queued', '', true);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION costs_daily_queue_all_tenant_changes() FROM PUBLIC;

-- A trigger with transition tables handles one event.
CREATE TRIGGER costs_daily_all_tenants_insert AFTER INSERT ON costs_daily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_queue_all_tenant_changes();
CREATE TRIGGER costs_daily_all_tenants_update AFTER UPDATE ON costs_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_queue_all_tenant_changes();
CREATE TRIGGER costs_daily_all_tenants_delete AFTER DELETE ON costs_daily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_queue_all_tenant_changes();

-- At commit (or SET CONSTRAINTS … IMMEDIATE), once per transaction: the queued changes summed
-- per (day, service, currency) and per month, added in one upsert per table in key order, rows
-- left without cost rows deleted. The queue is read with the transaction's tenant; the
-- all-tenant rows are written as the operator (the function's own setting, restored on
-- return). The partitions of the days exist: the cost writes made them first (a day without
-- its month's partition would wait in DEFAULT, as costs_daily's row would). A count below zero
-- means the rollup no longer matches costs_daily (written around the triggers): the commit
-- fails rather than keep wrong figures.
CREATE FUNCTION costs_all_tenants_apply_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_dates date[];
    v_services text[];
    v_currencies text[];
    v_costs numeric[];
    v_amortized numeric[];
    v_counts bigint[];
    v_emptied bigint;
    v_negative bigint;
    v_operator text := current_setting('azcops.operator', true);
BEGIN
    PERFORM set_config('azcops.all_tenant_costs_queued', '', true);
    WITH queued AS (
        DELETE FROM costs_all_tenants_pending RETURNING *)
    SELECT array_agg(date ORDER BY date, service_name, currency),
           array_agg(service_name ORDER BY date, service_name, currency),
           array_agg(currency ORDER BY date, service_name, currency),
           array_agg(cost ORDER BY date, service_name, currency),
           array_agg(amortized_cost ORDER BY date, service_name, currency),
           array_agg(row_count ORDER BY date, service_name, currency)
    INTO v_dates, v_services, v_currencies, v_costs, v_amortized, v_counts
    FROM (SELECT q.date, q.service_name, q.currency, sum(q.cost) AS cost,
                 sum(q.amortized_cost) AS amortized_cost, sum(q.row_count)::bigint AS row_count
          FROM queued q
          GROUP BY 1, 2, 3
          HAVING sum(q.cost) <> 0 OR sum(q.amortized_cost) <> 0 OR sum(q.row_count) <> 0) s;
    IF v_dates IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM set_config('azcops.operator', 'on', true);
    WITH upserted AS (
        INSERT INTO costs_all_tenants_daily_by_service AS r
            (date, service_name, currency, cost, amortized_cost, row_count)
        SELECT * FROM unnest(v_dates, v_services, v_currencies, v_costs, v_amortized, v_counts)
        ON CONFLICT (date, service_name, currency) DO UPDATE
            SET cost = r.cost + EXCLUDED.cost, amortized_cost = r.amortized_cost + EXCLUDED.amortized_cost,
                row_count = r.row_count + EXCLUDED.row_count
        RETURNING r.row_count)
    SELECT count(*) FILTER (WHERE row_count = 0), count(*) FILTER (WHERE row_count < 0)
    INTO v_emptied, v_negative
    FROM upserted;
    IF v_negative > 0 THEN
        RAISE EXCEPTION 'costs_all_tenants_daily_by_service would sum fewer than 0 cost rows'
            USING ERRCODE = 'data_exception',
                  HINT = 'the all-tenant rollups no longer match costs_daily: rebuild them as migration 20261218000000 does';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM costs_all_tenants_daily_by_service r
        USING unnest(v_dates, v_services, v_currencies) AS u(date, service_name, currency)
        WHERE r.date = u.date AND r.service_name = u.service_name AND r.currency = u.currency
          AND r.row_count = 0;
    END IF;

    WITH upserted AS (
        INSERT INTO costs_all_tenants_monthly_by_service AS r
            (month, service_name, currency, cost, amortized_cost, row_count)
        SELECT date_trunc('month', u.date)::date, u.service_name, u.currency, sum(u.cost),
               sum(u.amortized_cost), sum(u.row_count)::bigint
        FROM unnest(v_dates, v_services, v_currencies, v_costs, v_amortized, v_counts)
             AS u(date, service_name, currency, cost, amortized_cost, row_count)
        GROUP BY 1, 2, 3
        HAVING sum(u.cost) <> 0 OR sum(u.amortized_cost) <> 0 OR sum(u.row_count) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (month, service_name, currency) DO UPDATE
            SET cost = r.cost + EXCLUDED.cost, amortized_cost = r.amortized_cost + EXCLUDED.amortized_cost,
                row_count = r.row_count + EXCLUDED.row_count
        RETURNING r.row_count)
    SELECT count(*) FILTER (WHERE row_count = 0), count(*) FILTER (WHERE row_count < 0)
    INTO v_emptied, v_negative
    FROM upserted;
    IF v_negative > 0 THEN
        RAISE EXCEPTION 'costs_all_tenants_monthly_by_service would sum fewer than 0 cost rows'
            USING ERRCODE = 'data_exception',
                  HINT = 'the all-tenant rollups no longer match costs_daily: rebuild them as migration 20261218000000 does';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM costs_all_tenants_monthly_by_service r
        USING unnest(v_dates, v_services, v_currencies) AS u(date, service_name, currency)
        WHERE r.month = date_trunc('month', u.date)::date AND r.service_name = u.service_name
          AND r.currency = u.currency AND r.row_count = 0;
    END IF;
    PERFORM set_config('azcops.operator', coalesce(v_operator, ''), true);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION costs_all_tenants_apply_pending() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER costs_all_tenants_pending_apply
    AFTER INSERT ON costs_all_tenants_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.first)
    EXECUTE FUNCTION costs_all_tenants_apply_pending();

-- The sums, from the tenant rollups. The migration runs in one transaction, in which the
-- triggers' creation keeps writers of costs_daily waiting until the backfill commits.
INSERT INTO costs_all_tenants_daily_by_service (date, service_name, currency, cost, amortized_cost,
                                                row_count)
SELECT date, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
FROM costs_tenant_daily_by_service
GROUP BY date, service_name, currency;

INSERT INTO costs_all_tenants_monthly_by_service (month, service_name, currency, cost,
                                                  amortized_cost, row_count)
SELECT month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
FROM costs_tenant_monthly_by_service
GROUP BY month, service_name, currency;
