-- Reopening ended snoozes, which every recommendation list, summary, single view and export
-- runs first, usually finds nothing to reopen. As one `UPDATE` planned for each request (the
-- API's transactions plan every execution) it cost a plan, a statement trigger that fired with
-- no row (the summary cells' queue), and a scan of every tenant's ended snoozes, read through
-- the snooze index and dropped by row-level security (162 on the MSP database of issue 15, more
-- with every tenant that does not call; ~0.6 ms a request). This function looks in the
-- caller's tenant only (a new index), updates only when there is something to reopen, and
-- keeps its plans for the session. Same rows reopened, same locks (`SKIP LOCKED`) as before.
CREATE INDEX recommendations_tenant_snoozed_idx ON recommendations (tenant_id, snoozed_until)
    WHERE status = 'dismissed';

CREATE FUNCTION recommendations_expire_snoozes(p_at timestamptz, p_tenant uuid)
RETURNS TABLE (id uuid, tenant_id uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = 'auto'
AS $$
#variable_conflict use_column
BEGIN
    IF p_tenant IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM recommendations r
                       WHERE r.tenant_id = p_tenant AND r.status = 'dismissed'
                         AND r.snoozed_until <= p_at) THEN
            RETURN;
        END IF;
        RETURN QUERY
        WITH target AS (
            SELECT r.id FROM recommendations r
            WHERE r.tenant_id = p_tenant AND r.status = 'dismissed' AND r.snoozed_until <= p_at
            FOR UPDATE SKIP LOCKED)
        UPDATE recommendations r SET status = 'open'
        FROM target t WHERE r.id = t.id
        RETURNING r.id, r.tenant_id;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM recommendations r
                       WHERE r.status = 'dismissed' AND r.snoozed_until <= p_at) THEN
            RETURN;
        END IF;
        RETURN QUERY
        WITH target AS (
            SELECT r.id FROM recommendations r
            WHERE r.status = 'dismissed' AND r.snoozed_until <= p_at
            FOR UPDATE SKIP LOCKED)
        UPDATE recommendations r SET status = 'open'
        FROM target t WHERE r.id = t.id
        RETURNING r.id, r.tenant_id;
    END IF;
END
$$;
