-- The recommendation summary's cells, kept as recommendations change (issue 15). The summary
-- added up every recommendation of the tenant (or of every tenant) on each request: 1.2 s p99
-- for the largest tenant of the 500,000-recommendation MSP database. It now reads these sums,
-- one row per subscription × status × category × rule × currency with recommendations that
-- count (superseded_by IS NULL: a superseded Advisor recommendation's group is counted by its
-- leading finding), and subtracts what suppressions and disabled rules hide at the time of
-- the request (hiding depends on the time and on other tables, so it is not kept here).

CREATE TABLE recommendation_summary_cells (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    status             recommendation_status NOT NULL,
    category           text NOT NULL,
    rule_id            text NOT NULL,
    currency           text NOT NULL,
    -- Recommendations in the cell, and the sum of their estimated monthly savings (a NULL
    -- estimate counts as 0, as the summary's sum does). Never below 0, which the trigger checks
    -- (a CHECK constraint would refuse the negative delta an upsert proposes before it meets
    -- the existing cell).
    count              bigint NOT NULL,
    savings            numeric NOT NULL,
    CONSTRAINT recommendation_summary_cells_pkey
        PRIMARY KEY (tenant_id, subscription_db_id, status, category, rule_id, currency),
    CONSTRAINT recommendation_summary_cells_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
);
-- Cells that reached 0 exist only inside the statement that emptied them, which deletes them
-- through this index.
CREATE INDEX recommendation_summary_cells_empty_idx ON recommendation_summary_cells (tenant_id)
    WHERE count = 0;

-- The application reads the cells; only the triggers below write them.
GRANT SELECT ON recommendation_summary_cells TO azcops_app;

ALTER TABLE recommendation_summary_cells ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_summary_cells FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_summary_cells_isolation ON recommendation_summary_cells
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- After each statement on recommendations: the rows it inserted (+), the rows it deleted (−),
-- the rows it updated (old −, new +), counting only rows with superseded_by IS NULL, summed per
-- cell and added in one upsert, in key order (two transactions lock shared cells in the same
-- order, so they wait for each other instead of deadlocking). An update that changes none of a
-- counted row's cell, status or savings nets to nothing and writes nothing. SECURITY DEFINER
-- because the application may only read the cells; row-level security still limits the writes
-- to the transaction's tenant (the operator: any). Rows deleted with their subscription (whose
-- cells cascade away with it) subtract nothing: their cells are gone, and re-creating them
-- would point at a subscription that no longer exists.
CREATE FUNCTION recommendations_refresh_summary_cells() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_emptied bigint := 0;
    v_negative bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO recommendation_summary_cells AS c
            (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
        SELECT n.tenant_id, n.subscription_db_id, n.status, n.category, n.rule_id, n.currency,
               count(*), coalesce(sum(n.estimated_monthly_savings), 0)
        FROM new_rows n
        WHERE n.superseded_by IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (tenant_id, subscription_db_id, status, category, rule_id, currency) DO UPDATE
            SET count = c.count + EXCLUDED.count, savings = c.savings + EXCLUDED.savings;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH changed AS (
            SELECT o.tenant_id, o.subscription_db_id, o.status, o.category, o.rule_id, o.currency,
                   -1 AS count, -coalesce(o.estimated_monthly_savings, 0) AS savings
            FROM old_rows o
            WHERE o.superseded_by IS NULL
            UNION ALL
            SELECT n.tenant_id, n.subscription_db_id, n.status, n.category, n.rule_id, n.currency,
                   1, coalesce(n.estimated_monthly_savings, 0)
            FROM new_rows n
            WHERE n.superseded_by IS NULL),
        upserted AS (
            INSERT INTO recommendation_summary_cells AS c
                (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
            SELECT d.tenant_id, d.subscription_db_id, d.status, d.category, d.rule_id, d.currency,
                   sum(d.count), sum(d.savings)
            FROM changed d
            GROUP BY 1, 2, 3, 4, 5, 6
            HAVING sum(d.count) <> 0 OR sum(d.savings) <> 0
            ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (tenant_id, subscription_db_id, status, category, rule_id, currency) DO UPDATE
                SET count = c.count + EXCLUDED.count, savings = c.savings + EXCLUDED.savings
            RETURNING c.count)
        SELECT count(*) FILTER (WHERE count = 0), count(*) FILTER (WHERE count < 0)
        INTO v_emptied, v_negative FROM upserted;
    ELSE
        WITH upserted AS (
            INSERT INTO recommendation_summary_cells AS c
                (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
            SELECT o.tenant_id, o.subscription_db_id, o.status, o.category, o.rule_id, o.currency,
                   -count(*), -coalesce(sum(o.estimated_monthly_savings), 0)
            FROM old_rows o
            WHERE o.superseded_by IS NULL
              AND EXISTS (SELECT 1 FROM subscriptions s
                          WHERE s.tenant_id = o.tenant_id AND s.id = o.subscription_db_id)
            GROUP BY 1, 2, 3, 4, 5, 6
            ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (tenant_id, subscription_db_id, status, category, rule_id, currency) DO UPDATE
                SET count = c.count + EXCLUDED.count, savings = c.savings + EXCLUDED.savings
            RETURNING c.count)
        SELECT count(*) FILTER (WHERE count = 0), count(*) FILTER (WHERE count < 0)
        INTO v_emptied, v_negative FROM upserted;
    END IF;
    IF v_negative > 0 THEN
        RAISE EXCEPTION 'recommendation_summary_cells would count fewer than 0 recommendations'
            USING ERRCODE = 'data_exception',
                  HINT = 'the cells no longer match recommendations: rebuild them as the migration does';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM recommendation_summary_cells WHERE count = 0;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION recommendations_refresh_summary_cells() FROM PUBLIC;

-- A trigger with transition tables handles one event (and an UPDATE one takes no column list).
CREATE TRIGGER recommendations_summary_cells_insert AFTER INSERT ON recommendations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_refresh_summary_cells();
CREATE TRIGGER recommendations_summary_cells_update AFTER UPDATE ON recommendations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_refresh_summary_cells();
CREATE TRIGGER recommendations_summary_cells_delete AFTER DELETE ON recommendations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_refresh_summary_cells();

-- The cells of the recommendations there are. The migration runs in one transaction, in which
-- the triggers' creation keeps writers of recommendations waiting until the backfill commits.
INSERT INTO recommendation_summary_cells
    (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
SELECT tenant_id, subscription_db_id, status, category, rule_id, currency,
       count(*), coalesce(sum(estimated_monthly_savings), 0)
FROM recommendations
WHERE superseded_by IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;
