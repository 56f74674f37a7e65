-- The recommendation summary's realised savings, kept per tenant (issue 15). The summary read
-- every changed recommendation of the tenant (executed, or approved and then resolved) with its
-- kept measurement (migration 20261217000000) and added them up on each request: 1,094 rows for
-- the largest tenant of the MSP database, about 2.8 ms of PostgreSQL a request. These cells hold
-- the same sums, one row per tenant x rule x estimate currency x measurement x measured currency
-- (tens of rows for that tenant), kept at commit as the open savings' cells are (migrations
-- 20261215000000 and 20261218000100): deltas queued by statement triggers, added up once at
-- commit in key order.
--
-- What a cell counts:
--   * a changed, unsuperseded recommendation without a kept measurement, in the cell whose
--     measurement is '' (the summary measures those at the request, as before);
--   * a kept measurement, in the cell of its measurement and measured currency ('' without one).
-- The two are kept by two triggers, each reading only its own table: one on recommendations adds
-- each changed recommendation to the '' cell, one on recommendation_realised moves a
-- recommendation from the '' cell to its measurement's cell while its measurement is kept. That
-- holds while a measurement is kept only for a changed, unsuperseded recommendation, with that
-- recommendation's rule, estimate currency and estimate, which are now copied into it:
--   * the measurements kept of anything else are deleted below (the summary never read them);
--   * the measurement is forgotten when any of those columns change (the row trigger, below);
--   * crate::db::recommendations::realised::store inserts only for changed, unsuperseded
--     recommendations, locking them until it commits.
-- What suppressions and disabled rules hide is subtracted at the request, as for the open cells.

-- Writers wait until this migration commits.
LOCK TABLE recommendations IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE recommendation_realised IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE recommendation_summary_pending IN SHARE ROW EXCLUSIVE MODE;

SELECT set_config('azcops.operator', 'on', true);

DELETE FROM recommendation_realised m
USING recommendations r
WHERE r.tenant_id = m.tenant_id AND r.id = m.recommendation_id
  AND NOT ((r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
           AND r.superseded_by IS NULL);

ALTER TABLE recommendation_realised
    ADD COLUMN rule_id text,
    ADD COLUMN estimate_currency text,
    ADD COLUMN estimated_monthly_savings numeric;
UPDATE recommendation_realised m
SET rule_id = r.rule_id, estimate_currency = r.currency,
    estimated_monthly_savings = r.estimated_monthly_savings
FROM recommendations r
WHERE r.tenant_id = m.tenant_id AND r.id = m.recommendation_id;
ALTER TABLE recommendation_realised
    ALTER COLUMN rule_id SET NOT NULL,
    ALTER COLUMN estimate_currency SET NOT NULL;

-- Forgotten also when the recommendation is superseded (or no longer is), or its rule, estimate
-- or estimate currency changes.
DROP TRIGGER recommendations_forget_realised ON recommendations;
CREATE TRIGGER recommendations_forget_realised
    AFTER UPDATE OF status, approved_at, executed_at, resolved_at, resource_id, subscription_db_id,
                    baseline_daily_cost, baseline_currency, baseline_window_start, baseline_window_end,
                    superseded_by, rule_id, currency, estimated_monthly_savings
    ON recommendations FOR EACH ROW
    WHEN ((OLD.status, OLD.approved_at, OLD.executed_at, OLD.resolved_at, OLD.resource_id,
           OLD.subscription_db_id, OLD.baseline_daily_cost, OLD.baseline_currency,
           OLD.baseline_window_start, OLD.baseline_window_end, OLD.superseded_by, OLD.rule_id,
           OLD.currency, OLD.estimated_monthly_savings)
          IS DISTINCT FROM
          (NEW.status, NEW.approved_at, NEW.executed_at, NEW.resolved_at, NEW.resource_id,
           NEW.subscription_db_id, NEW.baseline_daily_cost, NEW.baseline_currency,
           NEW.baseline_window_start, NEW.baseline_window_end, NEW.superseded_by, NEW.rule_id,
           NEW.currency, NEW.estimated_monthly_savings))
    EXECUTE FUNCTION recommendations_forget_realised();

CREATE TABLE recommendation_realised_cells (
    tenant_id                 uuid NOT NULL CONSTRAINT recommendation_realised_cells_tenant_fkey
                              REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id                   text NOT NULL,
    -- The currency of the recommendations' estimates.
    estimate_currency         text NOT NULL,
    -- 'measured', 'pending' or 'unmeasurable'; '' for recommendations without a kept measurement.
    measurement               text NOT NULL,
    -- The currency of the measured costs; '' without one.
    currency                  text NOT NULL,
    -- Never below 0, which the commit checks (as for the open cells).
    count                     bigint NOT NULL,
    -- The recommendations' estimates (a NULL estimate counts as 0).
    estimated_monthly_savings numeric NOT NULL,
    -- What the measured ones saved a month (0 in the other cells).
    monthly_savings           numeric NOT NULL,
    CONSTRAINT recommendation_realised_cells_pkey
        PRIMARY KEY (tenant_id, rule_id, estimate_currency, measurement, currency)
        INCLUDE (count, estimated_monthly_savings, monthly_savings)
);
CREATE INDEX recommendation_realised_cells_empty_idx ON recommendation_realised_cells (tenant_id)
    WHERE count = 0;

GRANT SELECT ON recommendation_realised_cells TO azcops_app;

ALTER TABLE recommendation_realised_cells ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_realised_cells FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_realised_cells_isolation ON recommendation_realised_cells
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- A transaction's deltas until it commits, as recommendation_summary_pending: inserts only,
-- visible only to their own transaction, removed by the commit that adds them to the cells.
CREATE TABLE recommendation_realised_pending (
    tenant_id                 uuid NOT NULL,
    id                        bigint GENERATED ALWAYS AS IDENTITY,
    rule_id                   text NOT NULL,
    estimate_currency         text NOT NULL,
    measurement               text NOT NULL,
    currency                  text NOT NULL,
    count                     bigint NOT NULL,
    estimated_monthly_savings numeric NOT NULL,
    monthly_savings           numeric NOT NULL,
    -- The transaction's first row: its deferred trigger applies all of them at commit.
    first                     boolean NOT NULL DEFAULT false,
    CONSTRAINT recommendation_realised_pending_pkey PRIMARY KEY (tenant_id, id)
);

GRANT SELECT ON recommendation_realised_pending TO azcops_app;

ALTER TABLE recommendation_realised_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_realised_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_realised_pending_isolation ON recommendation_realised_pending
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- After each statement on recommendations: each changed, unsuperseded recommendation it
-- inserted (+), deleted (-) or updated (old -, new +), in the '' cell of its rule and estimate
-- currency. An update that keeps a row changed with the same rule, currency and estimate nets
-- to nothing and queues nothing. SECURITY DEFINER: the application may not write the queue.
-- A statement may name only the transition tables its event has, hence one per event.
CREATE FUNCTION recommendations_queue_realised_deltas() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_first boolean := coalesce(current_setting('azcops.realised_cells_queued', true), '') <> 'on';
    v_rows bigint;
BEGIN
    IF v_first THEN
        PERFORM set_config('azcops.realised_cells_queued', 'on', true);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO recommendation_realised_pending
            (tenant_id, rule_id, estimate_currency, measurement, currency, count,
             estimated_monthly_savings, monthly_savings, first)
        SELECT n.tenant_id, n.rule_id, n.currency, '', '', count(*),
               coalesce(sum(n.estimated_monthly_savings), 0), 0,
               v_first AND row_number() OVER () = 1
        FROM new_rows n
        WHERE (n.status = 'executed' OR (n.status = 'resolved' AND n.approved_at IS NOT NULL))
          AND n.superseded_by IS NULL
        GROUP BY n.tenant_id, n.rule_id, n.currency;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO recommendation_realised_pending
            (tenant_id, rule_id, estimate_currency, measurement, currency, count,
             estimated_monthly_savings, monthly_savings, first)
        SELECT d.tenant_id, d.rule_id, d.currency, '', '', sum(d.count), sum(d.estimate), 0,
               v_first AND row_number() OVER () = 1
        FROM (SELECT o.tenant_id, o.rule_id, o.currency, -1 AS count,
                     -coalesce(o.estimated_monthly_savings, 0) AS estimate
              FROM old_rows o
              WHERE (o.status = 'executed' OR (o.status = 'resolved' AND o.approved_at IS NOT NULL))
                AND o.superseded_by IS NULL
              UNION ALL
              SELECT n.tenant_id, n.rule_id, n.currency, 1, coalesce(n.estimated_monthly_savings, 0)
              FROM new_rows n
              WHERE (n.status = 'executed' OR (n.status = 'resolved' AND n.approved_at IS NOT NULL))
                AND n.superseded_by IS NULL) d
        GROUP BY d.tenant_id, d.rule_id, d.currency
        HAVING sum(d.count) <> 0 OR sum(d.estimate) <> 0;
    ELSE
        INSERT INTO recommendation_realised_pending
            (tenant_id, rule_id, estimate_currency, measurement, currency, count,
             estimated_monthly_savings, monthly_savings, first)
        SELECT o.tenant_id, o.rule_id, o.currency, '', '', -count(*),
               -coalesce(sum(o.estimated_monthly_savings), 0), 0,
               v_first AND row_number() OVER () = 1
        FROM old_rows o
        WHERE (o.status = 'executed' OR (o.status = 'resolved' AND o.approved_at IS NOT NULL))
          AND o.superseded_by IS NULL
        GROUP BY o.tenant_id, o.rule_id, o.currency;
    END IF;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_first AND v_rows = 0 THEN
        PERFORM set_config('azcops.realised_cells_queued', '', true);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION recommendations_queue_realised_deltas() FROM PUBLIC;

-- The deltas of kept measurements: each one (sign +1 inserted or new, -1 deleted or old) in its
-- measurement's cell, and the opposite in the '' cell of its recommendation.
CREATE FUNCTION recommendation_realised_deltas(p_rows recommendation_realised[], p_sign integer)
RETURNS TABLE (tenant_id uuid, rule_id text, estimate_currency text, measurement text,
               currency text, count bigint, estimated_monthly_savings numeric,
               monthly_savings numeric)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.tenant_id, k.rule_id, k.estimate_currency, c.measurement, c.currency,
           p_sign * c.sign, p_sign * c.sign * coalesce(k.estimated_monthly_savings, 0),
           p_sign * c.savings
    FROM unnest(p_rows) k
    CROSS JOIN LATERAL (
        VALUES (k.measurement::text, coalesce(k.currency, ''), 1, coalesce(k.monthly_savings, 0)),
               ('', '', -1, 0)) c(measurement, currency, sign, savings)
$$;

-- After each statement on recommendation_realised: a kept measurement inserted moves its
-- recommendation from the '' cell to its measurement's cell; deleted, back; updated, from the
-- old measurement's cell to the new one's.
CREATE FUNCTION recommendation_realised_queue_deltas() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_first boolean := coalesce(current_setting('azcops.realised_cells_queued', true), '') <> 'on';
    v_old recommendation_realised[] := '{}';
    v_new recommendation_realised[] := '{}';
    v_rows bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT coalesce(array_agg(o), '{}') INTO v_old FROM old_rows o;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT coalesce(array_agg(n), '{}') INTO v_new FROM new_rows n;
    END IF;
    IF v_first THEN
        PERFORM set_config('azcops.realised_cells_queued', 'on', true);
    END IF;
    INSERT INTO recommendation_realised_pending
        (tenant_id, rule_id, estimate_currency, measurement, currency, count,
         estimated_monthly_savings, monthly_savings, first)
    SELECT d.tenant_id, d.rule_id, d.estimate_currency, d.measurement, d.currency, sum(d.count),
           sum(d.estimated_monthly_savings), sum(d.monthly_savings),
           v_first AND row_number() OVER () = 1
    FROM (SELECT * FROM recommendation_realised_deltas(v_old, -1)
          UNION ALL
          SELECT * FROM recommendation_realised_deltas(v_new, 1)) d
    GROUP BY d.tenant_id, d.rule_id, d.estimate_currency, d.measurement, d.currency
    HAVING sum(d.count) <> 0 OR sum(d.estimated_monthly_savings) <> 0 OR sum(d.monthly_savings) <> 0;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_first AND v_rows = 0 THEN
        PERFORM set_config('azcops.realised_cells_queued', '', true);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION recommendation_realised_queue_deltas() FROM PUBLIC;

-- A trigger with transition tables handles one event (and an UPDATE one takes no column list).
CREATE TRIGGER recommendations_realised_cells_insert AFTER INSERT ON recommendations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_realised_deltas();
CREATE TRIGGER recommendations_realised_cells_update AFTER UPDATE ON recommendations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_realised_deltas();
CREATE TRIGGER recommendations_realised_cells_delete AFTER DELETE ON recommendations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_realised_deltas();
CREATE TRIGGER recommendation_realised_cells_insert AFTER INSERT ON recommendation_realised
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendation_realised_queue_deltas();
CREATE TRIGGER recommendation_realised_cells_update AFTER UPDATE ON recommendation_realised
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendation_realised_queue_deltas();
CREATE TRIGGER recommendation_realised_cells_delete AFTER DELETE ON recommendation_realised
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendation_realised_queue_deltas();
-- At commit, once per transaction, whichever queue's deferred trigger fires first: both queues'
-- deltas added to their cells, always in the same order (the open savings' tenant cells, their
-- subscription cells, then the realised cells), each upsert in key order, so that two commits
-- take the rows they share in the same order; emptied cells deleted. The later trigger finds
-- both queues empty. As before, a cell that would fall below zero stops the commit, and the
-- deltas of a tenant deleted meanwhile are dropped (its cells went with it).
CREATE OR REPLACE FUNCTION recommendation_summary_apply_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_emptied bigint;
    v_negative bigint;
    v_tenant_emptied bigint;
    v_tenant_negative bigint;
    v_realised_emptied bigint;
    v_realised_negative bigint;
BEGIN
    PERFORM set_config('azcops.summary_cells_queued', '', true);
    PERFORM set_config('azcops.realised_cells_queued', '', true);
    WITH upserted AS (
        INSERT INTO recommendation_tenant_summary_cells AS c
            (tenant_id, status, category, rule_id, currency, count, savings)
        SELECT q.tenant_id, q.status, q.category, q.rule_id, q.currency,
               sum(q.count)::bigint, sum(q.savings)
        FROM recommendation_summary_pending q
        WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = q.tenant_id)
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(q.count) <> 0 OR sum(q.savings) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_id, status, category, rule_id, currency) DO UPDATE
            SET count = c.count + EXCLUDED.count, savings = c.savings + EXCLUDED.savings
        RETURNING c.count)
    SELECT count(*) FILTER (WHERE count = 0), count(*) FILTER (WHERE count < 0)
    INTO v_tenant_emptied, v_tenant_negative
    FROM upserted;

    WITH queued AS (
        DELETE FROM recommendation_summary_pending RETURNING *),
    sums AS (
        SELECT q.tenant_id, q.subscription_db_id, q.status, q.category, q.rule_id, q.currency,
               sum(q.count)::bigint AS count, sum(q.savings) AS savings
        FROM queued q
        WHERE EXISTS (SELECT 1 FROM subscriptions s
                      WHERE s.tenant_id = q.tenant_id AND s.id = q.subscription_db_id)
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(q.count) <> 0 OR sum(q.savings) <> 0),
    upserted AS (
        INSERT INTO recommendation_summary_cells AS c
            (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
        SELECT * FROM sums
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (tenant_id, subscription_db_id, status, category, rule_id, currency) DO UPDATE
            SET count = c.count + EXCLUDED.count, savings = c.savings + EXCLUDED.savings
        RETURNING c.count)
    SELECT count(*) FILTER (WHERE count = 0), count(*) FILTER (WHERE count < 0)
    INTO v_emptied, v_negative
    FROM upserted;

    WITH queued AS (
        DELETE FROM recommendation_realised_pending RETURNING *),
    sums AS (
        SELECT q.tenant_id, q.rule_id, q.estimate_currency, q.measurement, q.currency,
               sum(q.count)::bigint AS count, sum(q.estimated_monthly_savings) AS estimated,
               sum(q.monthly_savings) AS savings
        FROM queued q
        WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = q.tenant_id)
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(q.count) <> 0 OR sum(q.estimated_monthly_savings) <> 0
            OR sum(q.monthly_savings) <> 0),
    upserted AS (
        INSERT INTO recommendation_realised_cells AS c
            (tenant_id, rule_id, estimate_currency, measurement, currency, count,
             estimated_monthly_savings, monthly_savings)
        SELECT * FROM sums
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_id, rule_id, estimate_currency, measurement, currency) DO UPDATE
            SET count = c.count + EXCLUDED.count,
                estimated_monthly_savings = c.estimated_monthly_savings + EXCLUDED.estimated_monthly_savings,
                monthly_savings = c.monthly_savings + EXCLUDED.monthly_savings
        RETURNING c.count)
    SELECT count(*) FILTER (WHERE count = 0), count(*) FILTER (WHERE count < 0)
    INTO v_realised_emptied, v_realised_negative
    FROM upserted;

    IF v_negative > 0 OR v_tenant_negative > 0 THEN
        RAISE EXCEPTION 'recommendation_summary_cells would count fewer than 0 recommendations'
            USING ERRCODE = 'data_exception',
                  HINT = 'the cells no longer match recommendations: rebuild them as migrations 20261215000000 and 20261218000100 do';
    END IF;
    IF v_realised_negative > 0 THEN
        RAISE EXCEPTION 'recommendation_realised_cells would count fewer than 0 recommendations'
            USING ERRCODE = 'data_exception',
                  HINT = 'the cells no longer match recommendations and their kept measurements: rebuild them as migration 20261221000000 does';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM recommendation_summary_cells WHERE count = 0;
    END IF;
    IF v_tenant_emptied > 0 THEN
        DELETE FROM recommendation_tenant_summary_cells WHERE count = 0;
    END IF;
    IF v_realised_emptied > 0 THEN
        DELETE FROM recommendation_realised_cells WHERE count = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER recommendation_realised_pending_apply
    AFTER INSERT ON recommendation_realised_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.first)
    EXECUTE FUNCTION recommendation_summary_apply_pending();

-- The cells of the recommendations and measurements there are.
INSERT INTO recommendation_realised_cells
    (tenant_id, rule_id, estimate_currency, measurement, currency, count,
     estimated_monthly_savings, monthly_savings)
SELECT d.tenant_id, d.rule_id, d.estimate_currency, d.measurement, d.currency, sum(d.count),
       sum(d.estimated_monthly_savings), sum(d.monthly_savings)
FROM (SELECT r.tenant_id, r.rule_id, r.currency AS estimate_currency, '' AS measurement,
             '' AS currency, 1 AS count, coalesce(r.estimated_monthly_savings, 0) AS estimated_monthly_savings,
             0 AS monthly_savings
      FROM recommendations r
      WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
        AND r.superseded_by IS NULL
      UNION ALL
      SELECT d.* FROM recommendation_realised_deltas(
          (SELECT coalesce(array_agg(m), '{}') FROM recommendation_realised m), 1) d) d
GROUP BY 1, 2, 3, 4, 5
HAVING sum(d.count) <> 0;
