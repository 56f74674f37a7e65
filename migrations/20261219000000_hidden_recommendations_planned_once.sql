-- The recommendations hidden at `p_at` (migrations 20261206100100 and 20261212100000): the same
-- set, now computed by a PL/pgSQL function that keeps one generic plan per session instead of a
-- SQL function inlined into every query that calls it.
--
-- Inlined, its two LATERAL branches were planned again with each recommendation list, count,
-- summary (twice: the cells and the realised savings) and single view, because the API's
-- transactions plan every execution (`db::Planning::EachExecution`): on the MSP database
-- (issue 15) the list of the median tenant planned in 1.2 ms and ran in 1.0 ms, of which the
-- hidden set was a fraction. Called as a function it is one function scan in the caller's plan,
-- and its own statement is planned once per session: `p_at` only filters the suppressions, so
-- the generic plan is the plan each value would get. Row-level security still applies inside
-- (the function is SECURITY INVOKER; the tenant is read at execution, as in every plan).
CREATE OR REPLACE FUNCTION recommendations_hidden(p_at timestamptz) RETURNS TABLE (id uuid)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = 'force_generic_plan'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT h.id
    FROM suppressions s
    CROSS JOIN LATERAL (
        SELECT r.id
        FROM recommendations r
        LEFT JOIN resources res ON res.tenant_id = r.tenant_id AND res.id = r.resource_db_id
        WHERE r.tenant_id = s.tenant_id
          AND CASE s.target WHEN 'rule' THEN r.rule_id = s.rule_id
                            WHEN 'category' THEN r.category = s.category
                            ELSE true END
          AND CASE s.scope
                WHEN 'tenant' THEN true
                WHEN 'subscription' THEN r.subscription_db_id = s.subscription_db_id
                WHEN 'resource_group' THEN coalesce(res.resource_group = s.resource_group, false)
                     AND (s.subscription_db_id IS NULL OR r.subscription_db_id = s.subscription_db_id)
                WHEN 'resource' THEN coalesce(r.resource_id = s.resource_id, false)
                ELSE coalesce(res.tags ->> s.tag_key = s.tag_value, false)
                     OR EXISTS (SELECT 1 FROM resource_containers c
                                WHERE c.tenant_id = r.tenant_id AND c.subscription_db_id = r.subscription_db_id
                                  AND (c.kind = 'subscription'
                                       OR c.kind = 'resource_group' AND c.resource_group = res.resource_group)
                                  AND c.tags ->> s.tag_key = s.tag_value)
              END
        OFFSET 0) h
    WHERE s.kind = 'exclude' OR s.expires_at > p_at
    UNION
    SELECT h.id
    FROM rule_settings rs
    CROSS JOIN LATERAL (
        SELECT r.id FROM recommendations r
        WHERE r.tenant_id = rs.tenant_id AND r.rule_id = rs.rule_id AND r.source = 'rule'
        OFFSET 0) h
    WHERE NOT rs.enabled;
END
$$;
