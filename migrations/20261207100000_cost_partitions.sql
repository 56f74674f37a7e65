-- The cost tables partitioned by month, and the rollups the cost summary reads (README "Cost
-- storage").
--
-- `costs_daily` (RANGE on date) and `resource_costs` (RANGE on window_end) become partitioned
-- tables with one partition a month, named <table>_YYYY_MM, and a DEFAULT partition
-- (<table>_default) so that a write never fails for want of a partition. Their keys gain the
-- partition column, as PostgreSQL requires, and keep tenant_id (migration 20261207090000).
--
-- Three rollups of `costs_daily`, partitioned the same way, let the summary answer without
-- reading a daily row: sums (and the number of rows summed) per subscription, day, service and
-- currency (`costs_daily_by_service`), per subscription, day and currency
-- (`costs_daily_totals`) and per subscription, month, service and currency
-- (`costs_monthly_by_service`). Statement triggers on `costs_daily` recompute the days (and
-- months) a statement touched, in its transaction, and write only what changed.
--
-- Partitions are created, drained and dropped by the SECURITY DEFINER functions below (the
-- application's role owns nothing): ahead of time, for every month an ingestion writes, and
-- past the retention. A partition's rows are reached only through its parent, whose grants and
-- row-level security apply; each partition also has the parent's policies, forced, for anyone
-- reading it directly.
--
-- The rows of both tables are copied into the new ones: the migration takes its time (about
-- 20 s per million cost rows measured) while the old tables are locked.

-- Row-level security is forced on these tables, also for their owner: act as the operator.
SELECT set_config('azcops.operator', 'on', true);

------------------------------------------------------------------------------------------------
-- Partition management.

-- The tables partitioned by month, parents before the rollups they feed.
CREATE FUNCTION azcops_cost_partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['costs_daily', 'costs_daily_by_service', 'costs_daily_totals',
                 'costs_monthly_by_service', 'resource_costs']
$$;

-- Gives a new partition of `p_parent` what PostgreSQL does not carry over from a parent: its
-- indexes are named after it (<partition>_pkey, as <parent>_pkey), and it gets row-level
-- security, forced, with the parent's policies.
CREATE FUNCTION azcops_partition_finish(p_parent text, p_partition text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    r record;
    v_name text;
BEGIN
    FOR r IN SELECT c.relname AS index_name, pc.relname AS parent_index
             FROM pg_index x
             JOIN pg_class c ON c.oid = x.indexrelid
             JOIN pg_inherits i ON i.inhrelid = x.indexrelid
             JOIN pg_class pc ON pc.oid = i.inhparent
             WHERE x.indrelid = format('public.%I', p_partition)::regclass
    LOOP
        v_name := p_partition || substr(r.parent_index, length(p_parent) + 1);
        IF starts_with(r.parent_index, p_parent) AND length(v_name) <= 63
           AND v_name <> r.index_name AND to_regclass(format('public.%I', v_name)) IS NULL THEN
            EXECUTE format('ALTER INDEX public.%I RENAME TO %I', r.index_name, v_name);
        END IF;
    END LOOP;
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
                   p_partition);
    FOR r IN SELECT p.polname, p.polpermissive, p.polcmd,
                    pg_get_expr(p.polqual, p.polrelid) AS qual,
                    pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
                    (SELECT string_agg(CASE WHEN role = 0 THEN 'PUBLIC'
                                            ELSE quote_ident(pg_get_userbyid(role)) END, ', ')
                     FROM unnest(p.polroles) AS role) AS roles
             FROM pg_policy p
             WHERE p.polrelid = format('public.%I', p_parent)::regclass
    LOOP
        EXECUTE format('CREATE POLICY %I ON public.%I AS %s FOR %s TO %s%s%s',
                       r.polname, p_partition,
                       CASE WHEN r.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                       CASE r.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                     WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                       r.roles,
                       coalesce(' USING (' || r.qual || ')', ''),
                       coalesce(' WITH CHECK (' || r.with_check || ')', ''));
    END LOOP;
END
$$;

-- Creates the partition of `p_parent` for the month of `p_month` unless it exists, and returns
-- whether it did. The month's rows in the DEFAULT partition are moved into it (PostgreSQL
-- refuses a partition whose rows are in DEFAULT): the new table is filled, then attached, which
-- takes only a SHARE UPDATE EXCLUSIVE lock on the parent (reads and writes go on) and a brief
-- exclusive one on DEFAULT. Another session creating it at the same time wins: false.
CREATE FUNCTION azcops_create_month_partition(p_parent text, p_month date) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_lo date := date_trunc('month', p_month)::date;
    v_hi date := (date_trunc('month', p_month) + interval '1 month')::date;
    v_name text := p_parent || '_' || to_char(p_month, 'YYYY_MM');
    v_default text := p_parent || '_default';
    v_key text;
BEGIN
    IF to_regclass(format('public.%I', v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT a.attname INTO STRICT v_key
    FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = format('public.%I', p_parent)::regclass;
    BEGIN
        EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS INCLUDING STORAGE)', v_name, p_parent);
        IF to_regclass(format('public.%I', v_default)) IS NOT NULL THEN
            -- No write may reach DEFAULT between the move and the attach (reads may).
            EXECUTE format('LOCK TABLE public.%I IN EXCLUSIVE MODE', v_default);
            EXECUTE format('WITH moved AS (DELETE FROM public.%I WHERE %I >= $1 AND %I < $2 '
                           'RETURNING *) INSERT INTO public.%I SELECT * FROM moved',
                           v_default, v_key, v_key, v_name)
                USING v_lo, v_hi;
        END IF;
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                       p_parent, v_name, v_lo, v_hi);
        PERFORM azcops_partition_finish(p_parent, v_name);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN false;
    END;
    RETURN true;
END
$$;

-- The caller must act for the operator: partitions hold every tenant's rows.
CREATE FUNCTION azcops_require_operator() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT azcops_is_operator() THEN
        RAISE EXCEPTION 'cost partitions are managed in an operator transaction'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- Makes sure every cost table has the partitions of the months from `p_from` to `p_to`
-- (1200 months at most) and returns how many it created. Cheap when they exist: it only looks
-- them up, taking no lock.
CREATE FUNCTION azcops_ensure_cost_partitions(p_from date, p_to date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '10s' AS $$
DECLARE
    v_month date;
    v_parent text;
    v_locked boolean := false;
    v_created integer := 0;
BEGIN
    PERFORM azcops_require_operator();
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION 'bad month range % to %', p_from, p_to USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (date_part('year', p_to) - date_part('year', p_from)) * 12
       + date_part('month', p_to) - date_part('month', p_from) >= 1200 THEN
        RAISE EXCEPTION 'month range % to % is longer than 1200 months', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_month IN SELECT generate_series(date_trunc('month', p_from), date_trunc('month', p_to),
                                          interval '1 month')::date
    LOOP
        FOREACH v_parent IN ARRAY azcops_cost_partitioned_tables()
        LOOP
            CONTINUE WHEN to_regclass(format('public.%I', v_parent || '_' || to_char(v_month, 'YYYY_MM')))
                          IS NOT NULL;
            IF NOT v_locked THEN
                -- One session creates partitions at a time (the lock ends with the transaction).
                PERFORM pg_advisory_xact_lock(hashtext('azcops_cost_partitions'));
                v_locked := true;
            END IF;
            IF azcops_create_month_partition(v_parent, v_month) THEN
                v_created := v_created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN v_created;
END
$$;

-- Moves the rows every DEFAULT partition holds into partitions of their months, created for
-- them (in every cost table, as azcops_ensure_cost_partitions does), and returns how many
-- partitions that created.
CREATE FUNCTION azcops_drain_cost_default_partitions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '10s' AS $$
DECLARE
    v_parent text;
    v_key text;
    v_found date[];
    v_months date[] := '{}';
    v_month date;
    v_created integer := 0;
BEGIN
    PERFORM azcops_require_operator();
    FOREACH v_parent IN ARRAY azcops_cost_partitioned_tables()
    LOOP
        CONTINUE WHEN to_regclass(format('public.%I', v_parent || '_default')) IS NULL;
        SELECT a.attname INTO STRICT v_key
        FROM pg_partitioned_table p
        JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = format('public.%I', v_parent)::regclass;
        EXECUTE format('SELECT array_agg(DISTINCT date_trunc(''month'', %I)::date) FROM public.%I',
                       v_key, v_parent || '_default')
            INTO v_found;
        v_months := v_months || coalesce(v_found, '{}');
    END LOOP;
    FOR v_month IN SELECT DISTINCT m FROM unnest(v_months) AS m ORDER BY m
    LOOP
        v_created := v_created + azcops_ensure_cost_partitions(v_month, v_month);
    END LOOP;
    RETURN v_created;
END
$$;

-- Drops the monthly partitions of every cost table whose month ended before the
-- `p_keep_months` whole months preceding the current one (12 at least: a summary covers up to
-- 366 days) and returns their names. Whole partitions only: rows are never deleted one by one,
-- and a DEFAULT partition is never dropped (drain it first).
CREATE FUNCTION azcops_drop_cost_partitions(p_keep_months integer) RETURNS SETOF text
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
END
$$;

REVOKE ALL ON FUNCTION azcops_partition_finish(text, text), azcops_create_month_partition(text, date),
    azcops_ensure_cost_partitions(date, date), azcops_drain_cost_default_partitions(),
    azcops_drop_cost_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION azcops_ensure_cost_partitions(date, date),
    azcops_drain_cost_default_partitions(), azcops_drop_cost_partitions(integer) TO azcops_app;

------------------------------------------------------------------------------------------------
-- The old tables step aside: their constraint and index names go to the new ones.

ALTER TABLE costs_daily RENAME TO costs_daily_unpartitioned;
ALTER TABLE costs_daily_unpartitioned
    DROP CONSTRAINT costs_daily_pkey,
    DROP CONSTRAINT costs_daily_natural_key,
    DROP CONSTRAINT costs_daily_subscription_fkey;
DROP INDEX costs_daily_tenant_date_idx;

ALTER TABLE resource_costs RENAME TO resource_costs_unpartitioned;
ALTER TABLE resource_costs_unpartitioned
    DROP CONSTRAINT resource_costs_pkey,
    DROP CONSTRAINT resource_costs_subscription_fkey,
    DROP CONSTRAINT resource_costs_window;
DROP INDEX resource_costs_resource_idx;

------------------------------------------------------------------------------------------------
-- The partitioned tables.

CREATE TABLE costs_daily (
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    date               date NOT NULL,
    resource_group     text NOT NULL DEFAULT '',
    service_name       text NOT NULL DEFAULT '',
    meter_category     text NOT NULL DEFAULT '',
    cost               numeric(20, 6) NOT NULL DEFAULT 0,
    amortized_cost     numeric(20, 6) NOT NULL DEFAULT 0,
    currency           text NOT NULL DEFAULT 'USD',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT costs_daily_pkey PRIMARY KEY (id, date, tenant_id),
    CONSTRAINT costs_daily_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT costs_daily_natural_key
        UNIQUE (subscription_db_id, date, resource_group, service_name, meter_category, tenant_id)
) PARTITION BY RANGE (date);
CREATE INDEX costs_daily_tenant_date_idx ON costs_daily (tenant_id, date);
CREATE TRIGGER costs_daily_set_updated_at BEFORE UPDATE ON costs_daily
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE resource_costs (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    window_end         date NOT NULL,
    resource_id        text NOT NULL,
    service_name       text NOT NULL DEFAULT '',
    window_start       date NOT NULL,
    resource_group     text NOT NULL DEFAULT '',
    cost               numeric(20, 6) NOT NULL DEFAULT 0,
    amortized_cost     numeric(20, 6) NOT NULL DEFAULT 0,
    currency           text NOT NULL DEFAULT 'USD',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_costs_pkey
        PRIMARY KEY (tenant_id, subscription_db_id, window_end, resource_id, service_name),
    CONSTRAINT resource_costs_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resource_costs_window CHECK (window_start <= window_end)
) PARTITION BY RANGE (window_end);
CREATE INDEX resource_costs_resource_idx ON resource_costs (tenant_id, resource_id, window_end);
CREATE TRIGGER resource_costs_set_updated_at BEFORE UPDATE ON resource_costs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Rollups: sums of costs_daily's amounts (exact: numeric), one row per group that has rows.

CREATE TABLE costs_daily_by_service (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    date               date NOT NULL,
    service_name       text NOT NULL,
    currency           text NOT NULL,
    cost               numeric NOT NULL,
    amortized_cost     numeric NOT NULL,
    -- The costs_daily rows summed: a month's total less some of its days still has rows.
    row_count          integer NOT NULL CHECK (row_count > 0),
    CONSTRAINT costs_daily_by_service_pkey
        PRIMARY KEY (tenant_id, date, subscription_db_id, service_name, currency),
    CONSTRAINT costs_daily_by_service_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (date);
-- The operator's summary reads some days of every tenant.
CREATE INDEX costs_daily_by_service_date_idx ON costs_daily_by_service (date);

CREATE TABLE costs_daily_totals (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    date               date NOT NULL,
    currency           text NOT NULL,
    cost               numeric NOT NULL,
    amortized_cost     numeric NOT NULL,
    CONSTRAINT costs_daily_totals_pkey PRIMARY KEY (tenant_id, date, subscription_db_id, currency),
    CONSTRAINT costs_daily_totals_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (date);

CREATE TABLE costs_monthly_by_service (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    -- The first day of the month.
    month              date NOT NULL CONSTRAINT costs_monthly_by_service_first_day
                       CHECK (month = date_trunc('month', month)),
    service_name       text NOT NULL,
    currency           text NOT NULL,
    cost               numeric NOT NULL,
    amortized_cost     numeric NOT NULL,
    row_count          integer NOT NULL CHECK (row_count > 0),
    CONSTRAINT costs_monthly_by_service_pkey
        PRIMARY KEY (tenant_id, month, subscription_db_id, service_name, currency),
    CONSTRAINT costs_monthly_by_service_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (month);

-- The application reads the rollups; only the triggers below write them.
GRANT SELECT, INSERT, UPDATE, DELETE ON costs_daily, resource_costs TO azcops_app;
GRANT SELECT ON costs_daily_by_service, costs_daily_totals, costs_monthly_by_service TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY azcops_cost_partitioned_tables()
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

-- The months of the existing rows, the previous month (Cost Management restates it in the
-- first days of a month) and the current one with three ahead.
DO $$
DECLARE
    v_month date;
BEGIN
    -- Also when the file is applied statement by statement, outside one transaction.
    PERFORM set_config('azcops.operator', 'on', true);
    FOR v_month IN
        SELECT DISTINCT date_trunc('month', date)::date FROM costs_daily_unpartitioned
        UNION
        SELECT DISTINCT date_trunc('month', window_end)::date FROM resource_costs_unpartitioned
    LOOP
        PERFORM azcops_ensure_cost_partitions(v_month, v_month);
    END LOOP;
    PERFORM azcops_ensure_cost_partitions((current_date - interval '1 month')::date,
                                          (current_date + interval '3 months')::date);
END
$$;

------------------------------------------------------------------------------------------------
-- The rows, as they were.

INSERT INTO costs_daily (id, tenant_id, subscription_db_id, date, resource_group, service_name,
                         meter_category, cost, amortized_cost, currency, created_at, updated_at)
SELECT id, tenant_id, subscription_db_id, date, resource_group, service_name,
       meter_category, cost, amortized_cost, currency, created_at, updated_at
FROM costs_daily_unpartitioned;
DROP TABLE costs_daily_unpartitioned;

INSERT INTO resource_costs (tenant_id, subscription_db_id, window_end, resource_id, service_name,
                            window_start, resource_group, cost, amortized_cost, currency,
                            created_at, updated_at)
SELECT tenant_id, subscription_db_id, window_end, resource_id, service_name,
       window_start, resource_group, cost, amortized_cost, currency, created_at, updated_at
FROM resource_costs_unpartitioned;
DROP TABLE resource_costs_unpartitioned;

INSERT INTO costs_daily_by_service (tenant_id, subscription_db_id, date, service_name, currency,
                                    cost, amortized_cost, row_count)
SELECT tenant_id, subscription_db_id, date, service_name, currency, sum(cost), sum(amortized_cost),
       count(*)
FROM costs_daily
GROUP BY tenant_id, subscription_db_id, date, service_name, currency;

INSERT INTO costs_daily_totals (tenant_id, subscription_db_id, date, currency, cost, amortized_cost)
SELECT tenant_id, subscription_db_id, date, currency, sum(cost), sum(amortized_cost)
FROM costs_daily_by_service
GROUP BY tenant_id, subscription_db_id, date, currency;

INSERT INTO costs_monthly_by_service (tenant_id, subscription_db_id, month, service_name, currency,
                                      cost, amortized_cost, row_count)
SELECT tenant_id, subscription_db_id, date_trunc('month', date)::date, service_name, currency,
       sum(cost), sum(amortized_cost), sum(row_count)
FROM costs_daily_by_service
GROUP BY tenant_id, subscription_db_id, date_trunc('month', date), service_name, currency;

------------------------------------------------------------------------------------------------
-- Rollup maintenance.

-- Recomputes the rollups of the (tenant, subscription, day)s given as three parallel arrays
-- from costs_daily: those days per service and in total, and the months of those days per
-- service. A group whose sums did not change is not written; one without rows any more is
-- deleted. Row-level security applies (the caller's tenant, or the operator).
CREATE FUNCTION costs_refresh_rollups(p_tenants uuid[], p_subscriptions uuid[], p_dates date[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF coalesce(cardinality(p_dates), 0) = 0 THEN
        RETURN;
    END IF;

    WITH days AS (
        SELECT DISTINCT u.tenant_id, u.subscription_db_id, u.date
        FROM unnest(p_tenants, p_subscriptions, p_dates) AS u(tenant_id, subscription_db_id, date)),
    fresh AS (
        SELECT c.tenant_id, c.subscription_db_id, c.date, c.service_name, c.currency,
               sum(c.cost) AS cost, sum(c.amortized_cost) AS amortized_cost, count(*)::integer AS row_count
        FROM days d
        JOIN costs_daily c ON c.tenant_id = d.tenant_id AND c.subscription_db_id = d.subscription_db_id
                          AND c.date = d.date
        GROUP BY c.tenant_id, c.subscription_db_id, c.date, c.service_name, c.currency),
    gone AS (
        DELETE FROM costs_daily_by_service r
        USING days d
        WHERE r.tenant_id = d.tenant_id AND r.subscription_db_id = d.subscription_db_id
          AND r.date = d.date
          AND NOT EXISTS (SELECT 1 FROM fresh f
                          WHERE f.tenant_id = r.tenant_id AND f.subscription_db_id = r.subscription_db_id
                            AND f.date = r.date AND f.service_name = r.service_name
                            AND f.currency = r.currency))
    INSERT INTO costs_daily_by_service AS r (tenant_id, subscription_db_id, date, service_name,
                                             currency, cost, amortized_cost, row_count)
    SELECT * FROM fresh
    ON CONFLICT (tenant_id, date, subscription_db_id, service_name, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost,
            row_count = EXCLUDED.row_count
        WHERE (r.cost, r.amortized_cost, r.row_count)
              IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.amortized_cost, EXCLUDED.row_count);

    WITH days AS (
        SELECT DISTINCT u.tenant_id, u.subscription_db_id, u.date
        FROM unnest(p_tenants, p_subscriptions, p_dates) AS u(tenant_id, subscription_db_id, date)),
    fresh AS (
        SELECT c.tenant_id, c.subscription_db_id, c.date, c.currency,
               sum(c.cost) AS cost, sum(c.amortized_cost) AS amortized_cost
        FROM days d
        JOIN costs_daily_by_service c
          ON c.tenant_id = d.tenant_id AND c.subscription_db_id = d.subscription_db_id AND c.date = d.date
        GROUP BY c.tenant_id, c.subscription_db_id, c.date, c.currency),
    gone AS (
        DELETE FROM costs_daily_totals r
        USING days d
        WHERE r.tenant_id = d.tenant_id AND r.subscription_db_id = d.subscription_db_id
          AND r.date = d.date
          AND NOT EXISTS (SELECT 1 FROM fresh f
                          WHERE f.tenant_id = r.tenant_id AND f.subscription_db_id = r.subscription_db_id
                            AND f.date = r.date AND f.currency = r.currency))
    INSERT INTO costs_daily_totals AS r (tenant_id, subscription_db_id, date, currency, cost,
                                         amortized_cost)
    SELECT * FROM fresh
    ON CONFLICT (tenant_id, date, subscription_db_id, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost
        WHERE (r.cost, r.amortized_cost) IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.amortized_cost);

    WITH months AS (
        SELECT DISTINCT u.tenant_id, u.subscription_db_id, date_trunc('month', u.date)::date AS month
        FROM unnest(p_tenants, p_subscriptions, p_dates) AS u(tenant_id, subscription_db_id, date)),
    fresh AS (
        SELECT m.tenant_id, m.subscription_db_id, m.month, c.service_name, c.currency,
               sum(c.cost) AS cost, sum(c.amortized_cost) AS amortized_cost,
               sum(c.row_count)::integer AS row_count
        FROM months m
        JOIN costs_daily_by_service c
          ON c.tenant_id = m.tenant_id AND c.subscription_db_id = m.subscription_db_id
         AND c.date >= m.month AND c.date < (m.month + interval '1 month')::date
        GROUP BY m.tenant_id, m.subscription_db_id, m.month, c.service_name, c.currency),
    gone AS (
        DELETE FROM costs_monthly_by_service r
        USING months m
        WHERE r.tenant_id = m.tenant_id AND r.subscription_db_id = m.subscription_db_id
          AND r.month = m.month
          AND NOT EXISTS (SELECT 1 FROM fresh f
                          WHERE f.tenant_id = r.tenant_id AND f.subscription_db_id = r.subscription_db_id
                            AND f.month = r.month AND f.service_name = r.service_name
                            AND f.currency = r.currency))
    INSERT INTO costs_monthly_by_service AS r (tenant_id, subscription_db_id, month, service_name,
                                               currency, cost, amortized_cost, row_count)
    SELECT * FROM fresh
    ON CONFLICT (tenant_id, month, subscription_db_id, service_name, currency) DO UPDATE
        SET cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost,
            row_count = EXCLUDED.row_count
        WHERE (r.cost, r.amortized_cost, r.row_count)
              IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.amortized_cost, EXCLUDED.row_count);
END
$$;
REVOKE ALL ON FUNCTION costs_refresh_rollups(uuid[], uuid[], date[]) FROM PUBLIC;

-- After each statement on costs_daily: the rollups of the days its rows had (before or after).
-- SECURITY DEFINER because the application may only read the rollups; row-level security
-- still limits it to the transaction's tenant.
CREATE FUNCTION costs_daily_refresh_rollups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_tenants uuid[];
    v_subscriptions uuid[];
    v_dates date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT DISTINCT tenant_id, subscription_db_id, date FROM new_rows) k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT tenant_id, subscription_db_id, date FROM new_rows
              UNION
              SELECT tenant_id, subscription_db_id, date FROM old_rows) k;
    ELSE
        SELECT array_agg(tenant_id), array_agg(subscription_db_id), array_agg(date)
        INTO v_tenants, v_subscriptions, v_dates
        FROM (SELECT DISTINCT tenant_id, subscription_db_id, date FROM old_rows) k;
    END IF;
    PERFORM costs_refresh_rollups(v_tenants, v_subscriptions, v_dates);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION costs_daily_refresh_rollups() FROM PUBLIC;

-- A trigger with transition tables handles one event.
CREATE TRIGGER costs_daily_rollups_insert AFTER INSERT ON costs_daily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_refresh_rollups();
CREATE TRIGGER costs_daily_rollups_update AFTER UPDATE ON costs_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_refresh_rollups();
CREATE TRIGGER costs_daily_rollups_delete AFTER DELETE ON costs_daily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costs_daily_refresh_rollups();
