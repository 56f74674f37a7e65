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
    -- estimate counts as 0, as the summary's sum does). Never below 0, which the commit checks
    -- (a CHECK constraint would refuse the negative delta an upsert proposes before it meets
    -- the existing cell).
    count              bigint NOT NULL,
    savings            numeric NOT NULL,
    CONSTRAINT recommendation_summary_cells_pkey
        PRIMARY KEY (tenant_id, subscription_db_id, status, category, rule_id, currency),
    CONSTRAINT recommendation_summary_cells_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
);
-- Cells that reached 0 exist only inside the commit that emptied them, which deletes them
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

-- What a transaction's statements changed, until it commits. Adding a statement's deltas to the
-- cells at once would lock the cells until the transaction ends: an approval would wait for
-- an evaluation of the subscription to commit, and two transactions could deadlock, each
-- holding a cell the other needs and waiting for a recommendation row the other has locked
-- (an evaluation's first statement touches a cell, its third updates the row an approver locked
-- before the approval's update needs that cell). Queued here instead (inserts only: no
-- locks), the deltas are added to the cells when the transaction commits, in one upsert in key
-- order, by a transaction that is done taking row locks: cells are held for the instant of a
-- commit and two commits take them in the same order. Rows are visible only to their own
-- transaction: a commit removes them, a rollback discards them.
CREATE TABLE recommendation_summary_pending (
    tenant_id          uuid NOT NULL,
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    subscription_db_id uuid NOT NULL,
    status             recommendation_status NOT NULL,
    category           text NOT NULL,
    rule_id            text NOT NULL,
    currency           text NOT NULL,
    count              bigint NOT NULL,
    savings            numeric NOT NULL,
    -- The transaction's first row: its deferred trigger applies all of them at commit.
    first              boolean NOT NULL DEFAULT false,
    CONSTRAINT recommendation_summary_pending_pkey PRIMARY KEY (tenant_id, id)
);

-- The application reads what its own transaction queued (a summary after a write); only the
-- triggers below write.
GRANT SELECT ON recommendation_summary_pending TO azcops_app;

ALTER TABLE recommendation_summary_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_summary_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_summary_pending_isolation ON recommendation_summary_pending
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- After each statement on recommendations: the rows it inserted (+), the rows it deleted (−),
-- the rows it updated (old −, new +), counting only rows with superseded_by IS NULL, summed per
-- cell and queued. An update that changes none of a counted row's cell, status or savings
-- nets to nothing and queues nothing. The transaction's first queued row is marked (the
-- transaction-local setting azcops.summary_cells_queued says one is), so that one deferred
-- trigger applies the transaction's deltas at commit. SECURITY DEFINER because the application
-- may not write the queue or the cells; row-level security still limits the writes to the
-- transaction's tenant (the operator: any).
CREATE FUNCTION recommendations_queue_summary_deltas() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_first boolean := coalesce(current_setting('azcops.summary_cells_queued', true), '') <> 'on';
    v_rows bigint;
BEGIN
    -- Said before the rows are queued: a trigger made IMMEDIATE applies them at the end of the
    -- INSERT below, and clears it again.
    IF v_first THEN
        PERFORM set_config('azcops.summary_cells_queued', 'on', true);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO recommendation_summary_pending
            (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings, first)
        SELECT n.tenant_id, n.subscription_db_id, n.status, n.category, n.rule_id, n.currency,
               count(*), coalesce(sum(n.estimated_monthly_savings), 0),
               v_first AND row_number() OVER () = 1
        FROM new_rows n
        WHERE n.superseded_by IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO recommendation_summary_pending
            (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings, first)
        SELECT d.tenant_id, d.subscription_db_id, d.status, d.category, d.rule_id, d.currency,
               sum(d.count), sum(d.savings), v_first AND row_number() OVER () = 1
        FROM (SELECT o.tenant_id, o.subscription_db_id, o.status, o.category, o.rule_id, o.currency,
                     -1 AS count, -coalesce(o.estimated_monthly_savings, 0) AS savings
              FROM old_rows o
              WHERE o.superseded_by IS NULL
              UNION ALL
              SELECT n.tenant_id, n.subscription_db_id, n.status, n.category, n.rule_id, n.currency,
                     1, coalesce(n.estimated_monthly_savings, 0)
              FROM new_rows n
              WHERE n.superseded_by IS NULL) d
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(d.count) <> 0 OR sum(d.savings) <> 0;
    ELSE
        INSERT INTO recommendation_summary_pending
            (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings, first)
        SELECT o.tenant_id, o.subscription_db_id, o.status, o.category, o.rule_id, o.currency,
               -count(*), -coalesce(sum(o.estimated_monthly_savings), 0),
               v_first AND row_number() OVER () = 1
        FROM old_rows o
        WHERE o.superseded_by IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6;
    END IF;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_first AND v_rows = 0 THEN
        PERFORM set_config('azcops.summary_cells_queued', '', true);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION recommendations_queue_summary_deltas() FROM PUBLIC;

-- A trigger with transition tables handles one event (and an UPDATE one takes no column list).
CREATE TRIGGER recommendations_summary_cells_insert AFTER INSERT ON recommendations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_summary_deltas();
CREATE TRIGGER recommendations_summary_cells_update AFTER UPDATE ON recommendations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_summary_deltas();
CREATE TRIGGER recommendations_summary_cells_delete AFTER DELETE ON recommendations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recommendations_queue_summary_deltas();

-- At commit (or SET CONSTRAINTS … IMMEDIATE), once per transaction: the queued deltas summed
-- per cell, added in one upsert in key order, and emptied cells deleted. Deltas of a
-- subscription deleted meanwhile are dropped (its cells went with it; re-creating them would
-- point at nothing). A cell that would fall below zero no longer matches its recommendations
-- (written around the triggers): the commit fails rather than keep wrong figures.
CREATE FUNCTION recommendation_summary_apply_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_emptied bigint;
    v_negative bigint;
BEGIN
    PERFORM set_config('azcops.summary_cells_queued', '', true);
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
    IF v_negative > 0 THEN
        RAISE EXCEPTION 'recommendation_summary_cells would count fewer than 0 recommendations'
            USING ERRCODE = 'data_exception',
                  HINT = 'the cells no longer match recommendations: rebuild them as migration 20261215000000 does';
    END IF;
    IF v_emptied > 0 THEN
        DELETE FROM recommendation_summary_cells WHERE count = 0;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION recommendation_summary_apply_pending() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER recommendation_summary_pending_apply
    AFTER INSERT ON recommendation_summary_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.first)
    EXECUTE FUNCTION recommendation_summary_apply_pending();

-- The cells of the recommendations there are. The migration runs in one transaction, in which
-- the triggers' creation keeps writers of recommendations waiting until the backfill commits.
INSERT INTO recommendation_summary_cells
    (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings)
SELECT tenant_id, subscription_db_id, status, category, rule_id, currency,
       count(*), coalesce(sum(estimated_monthly_savings), 0)
FROM recommendations
WHERE superseded_by IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;
