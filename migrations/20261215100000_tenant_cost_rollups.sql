-- Tenant-level rollups of `costs_daily` (issue 15, README "Cost storage"): the three rollups of
-- migration 20261207100000 without the subscription, so that a summary without a subscription
-- filter sums one row per tenant (and service, day or month) instead of one per subscription.
--
-- `costs_tenant_daily_by_service` (per tenant, day, service and currency, with the number of
-- daily rows summed), `costs_tenant_daily_totals` (per tenant, day and currency) and
-- `costs_tenant_monthly_by_service` (per tenant, month, service and currency, with the rows
-- summed) are partitioned by month like the other cost tables, by the same functions (created
-- ahead, drained from DEFAULT, dropped past the retention), with the same row-level security.
--
-- They are kept by the statement triggers of `costs_daily`, in the writing transaction, after
-- the per-subscription rollups: the statement's rows (its transition tables) give the change of
-- each (tenant, day, service, currency) and of its month, which is added to the row there (exact:
-- numeric), a group left without rows deleted, nothing written where nothing changed; the day
-- totals of the tenant-days touched are recomputed from the tenant's day rows (a dozen per day).
-- Cost: proportional to the statement's groups, not to the tenant's subscriptions. The
-- ingestions of one tenant's subscriptions run concurrently and share these rows: the trigger
-- takes a transaction-scoped advisory lock per tenant (in tenant order, so no deadlock) before
-- it reads and writes them, so a tenant's cost writes serialise from there to their commit.
--
-- The migration fills them from the per-subscription rollups.

-- Row-level security is forced on these tables, also for their owner: act as the operator.
SELECT set_config('azcops.operator', 'on', true);

-- The tables partitioned by month, parents before the rollups they feed.
CREATE OR REPLACE FUNCTION azcops_cost_partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['costs_daily', 'costs_daily_by_service', 'costs_daily_totals',
                 'costs_monthly_by_service', 'costs_tenant_daily_by_service',
                 'costs_tenant_daily_totals', 'costs_tenant_monthly_by_service', 'resource_costs']
$$;

-- The primary keys carry the sums (INCLUDE), so that a tenant's window is read from the index
-- alone (its rows of a day are scattered over a partition written by every tenant every day).
CREATE TABLE costs_tenant_daily_by_service (
    tenant_id      uuid NOT NULL CONSTRAINT costs_tenant_daily_by_service_tenant_fkey
                   REFERENCES tenants (id) ON DELETE CASCADE,
    date           date NOT NULL,
    service_name   text NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    -- The costs_daily rows summed: a month's total less some of its days still has rows.
    row_count      integer NOT NULL CHECK (row_count > 0),
    CONSTRAINT costs_tenant_daily_by_service_pkey PRIMARY KEY (tenant_id, date, service_name, currency)
        INCLUDE (cost, amortized_cost, row_count)
) PARTITION BY RANGE (date);
-- The operator's summary over every tenant reads some days of every tenant.
CREATE INDEX costs_tenant_daily_by_service_date_idx ON costs_tenant_daily_by_service (date)
    INCLUDE (tenant_id, service_name, currency, cost, amortized_cost, row_count);

CREATE TABLE costs_tenant_daily_totals (
    tenant_id      uuid NOT NULL CONSTRAINT costs_tenant_daily_totals_tenant_fkey
                   REFERENCES tenants (id) ON DELETE CASCADE,
    date           date NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    CONSTRAINT costs_tenant_daily_totals_pkey PRIMARY KEY (tenant_id, date, currency)
        INCLUDE (cost, amortized_cost)
) PARTITION BY RANGE (date);
CREATE INDEX costs_tenant_daily_totals_date_idx ON costs_tenant_daily_totals (date)
    INCLUDE (tenant_id, currency, cost, amortized_cost);

CREATE TABLE costs_tenant_monthly_by_service (
    tenant_id      uuid NOT NULL CONSTRAINT costs_tenant_monthly_by_service_tenant_fkey
                   REFERENCES tenants (id) ON DELETE CASCADE,
    -- The first day of the month.
    month          date NOT NULL CONSTRAINT costs_tenant_monthly_by_service_first_day
                   CHECK (month = date_trunc('month', month)),
    service_name   text NOT NULL,
    currency       text NOT NULL,
    cost           numeric NOT NULL,
    amortized_cost numeric NOT NULL,
    row_count      integer NOT NULL CHECK (row_count > 0),
    CONSTRAINT costs_tenant_monthly_by_service_pkey PRIMARY KEY (tenant_id, month, service_name, currency)
        INCLUDE (cost, amortized_cost, row_count)
) PARTITION BY RANGE (month);

-- The application reads the rollups; only the triggers write them.
GRANT SELECT ON costs_tenant_daily_by_service, costs_tenant_daily_totals,
    costs_tenant_monthly_by_service TO azcops_app;

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
            'CREATE POLICY %I ON %I '
            'USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant())) '
            'WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))',
            t || '_isolation', t);
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

-- The sums, from the per-subscription rollups.
INSERT INTO costs_tenant_daily_by_service (tenant_id, date, service_name, currency, cost,
                                           amortized_cost, row_count)
SELECT tenant_id, date, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
FROM costs_daily_by_service
GROUP BY tenant_id, date, service_name, currency;

INSERT INTO costs_tenant_daily_totals (tenant_id, date, currency, cost, amortized_cost)
SELECT tenant_id, date, currency, sum(cost), sum(amortized_cost)
FROM costs_daily_totals
GROUP BY tenant_id, date, currency;

INSERT INTO costs_tenant_monthly_by_service (tenant_id, month, service_name, currency, cost,
                                             amortized_cost, row_count)
SELECT tenant_id, month, service_name, currency, sum(cost), sum(amortized_cost), sum(row_count)
FROM costs_monthly_by_service
GROUP BY tenant_id, month, service_name, currency;

------------------------------------------------------------------------------------------------
-- Maintenance.

-- Adds the changes of costs_daily given as parallel arrays, one entry per (tenant, day,
-- service, currency) with the change of its actual and amortized sums and of its row count, to
-- the tenant rollups: the day and month rows by service get the change (a group left without
-- rows is deleted, one without change is not written), the day totals of the tenant-days
-- touched are recomputed from the day rows by service. Row-level security applies (the
-- caller's tenant, or the operator). Takes each tenant's advisory lock first (see the header).
CREATE FUNCTION costs_refresh_tenant_rollups(p_tenants uuid[], p_dates date[], p_services text[],
                                             p_currencies text[], p_costs numeric[],
                                             p_amortized numeric[], p_counts integer[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    -- The tenants and the range of days touched, as constants in every statement below: the
    -- planner prunes the partitions and reads the rows through the primary keys, whatever it
    -- guesses of the arrays' contents.
    v_tenants uuid[];
    v_from date;
    v_to date;
    v_first_month date;
BEGIN
    IF coalesce(cardinality(p_dates), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT array_agg(DISTINCT t ORDER BY t) INTO v_tenants FROM unnest(p_tenants) AS t;
    SELECT min(d), max(d) INTO v_from, v_to FROM unnest(p_dates) AS d;
    v_first_month := date_trunc('month', v_from)::date;

    PERFORM pg_advisory_xact_lock(hashtextextended('azcops.tenant_cost_rollups:' || t::text, 0))
    FROM unnest(v_tenants) AS t;

    -- Each statement reads the rows as they are once the locks are held (a new snapshot).
    WITH change AS (
        SELECT u.tenant_id, u.date, u.service_name, u.currency, sum(u.cost) AS cost,
               sum(u.amortized_cost) AS amortized_cost, sum(u.row_count)::integer AS row_count
        FROM unnest(p_tenants, p_dates, p_services, p_currencies, p_costs, p_amortized, p_counts)
             AS u(tenant_id, date, service_name, currency, cost, amortized_cost, row_count)
        GROUP BY 1, 2, 3, 4
        HAVING sum(u.cost) <> 0 OR sum(u.amortized_cost) <> 0 OR sum(u.row_count) <> 0),
    next AS (
        SELECT c.tenant_id, c.date, c.service_name, c.currency,
               coalesce(r.cost, 0) + c.cost AS cost,
               coalesce(r.amortized_cost, 0) + c.amortized_cost AS amortized_cost,
               coalesce(r.row_count, 0) + c.row_count AS row_count
        FROM change c
        LEFT JOIN costs_tenant_daily_by_service r
          ON r.tenant_id = c.tenant_id AND r.date = c.date AND r.service_name = c.service_name
         AND r.currency = c.currency
         AND r.tenant_id = ANY (v_tenants) AND r.date >= v_from AND r.date <= v_to),
    gone AS (
        DELETE FROM costs_tenant_daily_by_service r
        USING next n
        WHERE r.tenant_id = n.tenant_id AND r.date = n.date AND r.service_name = n.service_name
          AND r.currency = n.currency AND n.row_count = 0
          AND r.tenant_id = ANY (v_tenants) AND r.date >= v_from AND r.date <= v_to)
    INSERT INTO costs_tenant_daily_by_service AS r (tenant_id, date, service_name, currency, cost,
                                                    amortized_cost, row_count)
    SELECT * FROM next WHERE row_count <> 0
    ORDER BY tenant_id, date, service_name, currency
    ON CONFLICT (tenant_id, date, service_name, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost,
            row_count = EXCLUDED.row_count;

    WITH days AS (
        SELECT DISTINCT u.tenant_id, u.date FROM unnest(p_tenants, p_dates) AS u(tenant_id, date)),
    fresh AS (
        SELECT c.tenant_id, c.date, c.currency,
               sum(c.cost) AS cost, sum(c.amortized_cost) AS amortized_cost
        FROM days d
        JOIN costs_tenant_daily_by_service c ON c.tenant_id = d.tenant_id AND c.date = d.date
        WHERE c.tenant_id = ANY (v_tenants) AND c.date >= v_from AND c.date <= v_to
        GROUP BY c.tenant_id, c.date, c.currency),
    gone AS (
        DELETE FROM costs_tenant_daily_totals r
        USING days d
        WHERE r.tenant_id = d.tenant_id AND r.date = d.date
          AND r.tenant_id = ANY (v_tenants) AND r.date >= v_from AND r.date <= v_to
          AND NOT EXISTS (SELECT 1 FROM fresh f
                          WHERE f.tenant_id = r.tenant_id AND f.date = r.date
                            AND f.currency = r.currency))
    INSERT INTO costs_tenant_daily_totals AS r (tenant_id, date, currency, cost, amortized_cost)
    SELECT * FROM fresh
    ORDER BY tenant_id, date, currency
    ON CONFLICT (tenant_id, date, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost
        WHERE (r.cost, r.amortized_cost) IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.amortized_cost);

    WITH change AS (
        SELECT u.tenant_id, date_trunc('month', u.date)::date AS month, u.service_name, u.currency,
               sum(u.cost) AS cost, sum(u.amortized_cost) AS amortized_cost,
               sum(u.row_count)::integer AS row_count
        FROM unnest(p_tenants, p_dates, p_services, p_currencies, p_costs, p_amortized, p_counts)
             AS u(tenant_id, date, service_name, currency, cost, amortized_cost, row_count)
        GROUP BY 1, 2, 3, 4
        HAVING sum(u.cost) <> 0 OR sum(u.amortized_cost) <> 0 OR sum(u.row_count) <> 0),
    next AS (
        SELECT c.tenant_id, c.month, c.service_name, c.currency,
               coalesce(r.cost, 0) + c.cost AS cost,
               coalesce(r.amortized_cost, 0) + c.amortized_cost AS amortized_cost,
               coalesce(r.row_count, 0) + c.row_count AS row_count
        FROM change c
        LEFT JOIN costs_tenant_monthly_by_service r
          ON r.tenant_id = c.tenant_id AND r.month = c.month AND r.service_name = c.service_name
         AND r.currency = c.currency
         AND r.tenant_id = ANY (v_tenants) AND r.month >= v_first_month AND r.month <= v_to),
    gone AS (
        DELETE FROM costs_tenant_monthly_by_service r
        USING next n
        WHERE r.tenant_id = n.tenant_id AND r.month = n.month AND r.service_name = n.service_name
          AND r.currency = n.currency AND n.row_count = 0
          AND r.tenant_id = ANY (v_tenants) AND r.month >= v_first_month AND r.month <= v_to)
    INSERT INTO costs_tenant_monthly_by_service AS r (tenant_id, month, service_name, currency, cost,
                                                      amortized_cost, row_count)
    SELECT * FROM next WHERE row_count <> 0
    ORDER BY tenant_id, month, service_name, currency
    ON CONFLICT (tenant_id, month, service_name, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost,
            row_count = EXCLUDED.row_count;
END
$$;
REVOKE ALL ON FUNCTION costs_refresh_tenant_rollups(uuid[], date[], text[], text[], numeric[],
                                                    numeric[], integer[]) FROM PUBLIC;

-- After each statement on costs_daily: the per-subscription rollups of the days its rows had
-- (before or after), recomputed; then the tenant rollups, changed by what its rows added and
-- removed. SECURITY DEFINER because the application may only read the rollups; row-level
-- security still limits it to the transaction's tenant.
CREATE OR REPLACE FUNCTION costs_daily_refresh_rollups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_tenants uuid[];
    v_subscriptions uuid[];
    v_dates date[];
    c_tenants uuid[];
    c_dates date[];
    c_services text[];
    c_currencies text[];
    c_costs numeric[];
    c_amortized numeric[];
    c_counts integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT DISTINCT tenant_id, subscription_db_id, date FROM new_rows) k;
        SELECT array_agg(tenant_id), array_agg(date), array_agg(service_name), array_agg(currency),
               array_agg(cost), array_agg(amortized_cost), array_agg(row_count)
        INTO c_tenants, c_dates, c_services, c_currencies, c_costs, c_amortized, c_counts
        FROM (SELECT tenant_id, date, service_name, currency, sum(cost) AS cost,
                     sum(amortized_cost) AS amortized_cost, count(*)::integer AS row_count
              FROM new_rows GROUP BY 1, 2, 3, 4) k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT tenant_id, subscription_db_id, date FROM new_rows
              UNION
              SELECT tenant_id, subscription_db_id, date FROM old_rows) k;
        SELECT array_agg(tenant_id), array_agg(date), array_agg(service_name), array_agg(currency),
               array_agg(cost), array_agg(amortized_cost), array_agg(row_count)
        INTO c_tenants, c_dates, c_services, c_currencies, c_costs, c_amortized, c_counts
        FROM (SELECT tenant_id, date, service_name, currency, sum(cost) AS cost,
                     sum(amortized_cost) AS amortized_cost, sum(n)::integer AS row_count
              FROM (SELECT tenant_id, date, service_name, currency, cost, amortized_cost, 1 AS n
                    FROM new_rows
                    UNION ALL
                    SELECT tenant_id, date, service_name, currency, -cost, -amortized_cost, -1
                    FROM old_rows) u
              GROUP BY 1, 2, 3, 4) k;
    ELSE
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT DISTINCT tenant_id, subscription_db_id, date FROM old_rows) k;
        SELECT array_agg(tenant_id), array_agg(date), array_agg(service_name), array_agg(currency),
               array_agg(cost), array_agg(amortized_cost), array_agg(row_count)
        INTO c_tenants, c_dates, c_services, c_currencies, c_costs, c_amortized, c_counts
        FROM (SELECT tenant_id, date, service_name, currency, -sum(cost) AS cost,
                     -sum(amortized_cost) AS amortized_cost, -count(*)::integer AS row_count
              FROM old_rows GROUP BY 1, 2, 3, 4) k;
    END IF;
    PERFORM costs_refresh_rollups(v_tenants, v_subscriptions, v_dates);
    PERFORM costs_refresh_tenant_rollups(c_tenants, c_dates, c_services, c_currencies, c_costs,
                                         c_amortized, c_counts);
    RETURN NULL;
END
$$;
