-- The recommendation summary's cells per tenant (issue 15). Without a subscription filter the
-- summary added up every per-subscription cell of the tenant: 4,661 rows for the largest tenant
-- of the MSP database (51 subscriptions), 7–9 ms of execution a request. This table holds the
-- same sums without the subscription, one row per tenant × status × category × rule ×
-- currency (166 rows for that tenant), kept at the same instant: the deferred trigger of
-- migration 20261215000000 that adds a transaction's queued deltas to the cells at commit adds
-- them here too.

-- Writers of recommendations queue their deltas here first: they wait until the migration
-- commits, and then commit through the function below (one that queued before waits for it
-- first, and its deltas are in the cells the backfill reads).
LOCK TABLE recommendation_summary_pending IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE recommendation_tenant_summary_cells (
    tenant_id uuid NOT NULL CONSTRAINT recommendation_tenant_summary_cells_tenant_fkey
              REFERENCES tenants (id) ON DELETE CASCADE,
    status    recommendation_status NOT NULL,
    category  text NOT NULL,
    rule_id   text NOT NULL,
    currency  text NOT NULL,
    -- As in recommendation_summary_cells: never below 0, which the commit checks.
    count     bigint NOT NULL,
    savings   numeric NOT NULL,
    CONSTRAINT recommendation_tenant_summary_cells_pkey
        PRIMARY KEY (tenant_id, status, category, rule_id, currency) INCLUDE (count, savings)
);

-- Cells that reached 0 exist only inside the commit that emptied them, which deletes them
-- through this index.
CREATE INDEX recommendation_tenant_summary_cells_empty_idx ON recommendation_tenant_summary_cells (tenant_id)
    WHERE count = 0;

-- The application reads the cells; only the deferred trigger writes them.
GRANT SELECT ON recommendation_tenant_summary_cells TO azcops_app;

ALTER TABLE recommendation_tenant_summary_cells ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_tenant_summary_cells FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_tenant_summary_cells_isolation ON recommendation_tenant_summary_cells
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- At commit, once per transaction: the queued deltas added to the tenant cells, then (as
-- before) to the per-subscription cells; emptied cells deleted. Two statements, in that order
-- in every transaction, each upsert in key order: two commits take the rows they share in the
-- same order. The tenant cells take the deltas of a subscription deleted meanwhile (its
-- recommendations went with it, and so must their counts), but not those of a tenant deleted
-- meanwhile (its cells went with it). A cell that would fall below zero no longer matches its
-- recommendations: the commit fails rather than keep wrong figures.
CREATE OR REPLACE FUNCTION recommendation_summary_apply_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = 'auto' AS $$
DECLARE
    v_emptied bigint;
    v_negative bigint;
    v_tenant_emptied bigint;
    v_tenant_negative bigint;
BEGIN
    PERFORM set_config('azcops.summary_cells_queued', '', true);
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
    IF v_negative > 0 OR v_tenant_negative > 0 THEN
        RAISE EXCEPTION 'recommendation_summary_cells would count fewer than 0 recommendations'
            USING ERRCODE = 'data_exception',
                  HINT = 'the cells no longer match recommendations: rebuild them as migrations 20261215000000 and 20261218000100 do';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM recommendation_summary_cells WHERE count = 0;
    END IF;
    IF v_tenant_emptied > 0 THEN
        DELETE FROM recommendation_tenant_summary_cells WHERE count = 0;
    END IF;
    RETURN NULL;
END
$$;

-- The tenant cells of the cells there are.
SELECT set_config('azcops.operator', 'on', true);
INSERT INTO recommendation_tenant_summary_cells (tenant_id, status, category, rule_id, currency,
                                                 count, savings)
SELECT tenant_id, status, category, rule_id, currency, sum(count), sum(savings)
FROM recommendation_summary_cells
GROUP BY 1, 2, 3, 4, 5;
