-- Realised savings kept with each changed recommendation (issue 15). The recommendation summary
-- measured every executed (or approved, then resolved) recommendation of the tenant on each
-- request: a query over the per-resource cost windows and daily costs whose planning alone took
-- 6-24 ms a request (resource_costs' partitions, referenced twice), 1.5 s p99 for the largest
-- tenant of the MSP database under load.
--
-- A row here is one changed recommendation's measurement as last made by
-- crate::db::recommendations::realised (the only place that measures). A missing row means "not
-- measured since its inputs changed": the summary measures those at the request, and the
-- evaluation after each full ingestion run and each execution store them again. Rows are removed
-- when what they were measured from changes:
--   * the recommendation's status, times of change, baseline or resource (a row trigger);
--   * its subscription's per-resource cost windows, daily costs or their coverage (statement
--     triggers: a write removes every row of the subscriptions it touched).
-- Only the measurement is kept; the estimate, the rule, superseding and hiding are read from the
-- recommendation at the request.

CREATE TYPE realised_measurement AS ENUM ('measured', 'pending', 'unmeasurable');

CREATE TABLE recommendation_realised (
    tenant_id          uuid NOT NULL,
    recommendation_id  uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    measurement        realised_measurement NOT NULL,
    -- The currency of the measured costs (NULL when nothing was measured).
    currency           text,
    -- (before - after) x 30.44, when measured.
    monthly_savings    numeric,
    measured_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recommendation_realised_pkey PRIMARY KEY (tenant_id, recommendation_id),
    CONSTRAINT recommendation_realised_recommendation_fkey FOREIGN KEY (tenant_id, recommendation_id)
        REFERENCES recommendations (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT recommendation_realised_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT recommendation_realised_savings CHECK ((measurement = 'measured') = (monthly_savings IS NOT NULL))
);
CREATE INDEX recommendation_realised_subscription_idx
    ON recommendation_realised (tenant_id, subscription_db_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON recommendation_realised TO azcops_app;

ALTER TABLE recommendation_realised ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendation_realised FORCE ROW LEVEL SECURITY;
CREATE POLICY recommendation_realised_isolation ON recommendation_realised
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));

-- A recommendation's measurement is forgotten when what it was measured from changes.
CREATE FUNCTION recommendations_forget_realised() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = 'auto' AS $$
BEGIN
    DELETE FROM recommendation_realised
    WHERE tenant_id = OLD.tenant_id AND recommendation_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER recommendations_forget_realised
    AFTER UPDATE OF status, approved_at, executed_at, resolved_at, resource_id, subscription_db_id,
                    baseline_daily_cost, baseline_currency, baseline_window_start, baseline_window_end
    ON recommendations FOR EACH ROW
    WHEN ((OLD.status, OLD.approved_at, OLD.executed_at, OLD.resolved_at, OLD.resource_id,
           OLD.subscription_db_id, OLD.baseline_daily_cost, OLD.baseline_currency,
           OLD.baseline_window_start, OLD.baseline_window_end)
          IS DISTINCT FROM
          (NEW.status, NEW.approved_at, NEW.executed_at, NEW.resolved_at, NEW.resource_id,
           NEW.subscription_db_id, NEW.baseline_daily_cost, NEW.baseline_currency,
           NEW.baseline_window_start, NEW.baseline_window_end))
    EXECUTE FUNCTION recommendations_forget_realised();

-- A write of a subscription's per-resource costs forgets the measurements of its changed
-- recommendations. Every trigger below names its transition table changed_rows.
CREATE FUNCTION costs_forget_realised() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = 'auto' AS $$
BEGIN
    DELETE FROM recommendation_realised r
    USING (SELECT DISTINCT c.tenant_id, c.subscription_db_id FROM changed_rows c) s
    WHERE r.tenant_id = s.tenant_id AND r.subscription_db_id = s.subscription_db_id;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['resource_costs', 'resource_daily_costs', 'resource_daily_cost_coverage']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION costs_forget_realised()',
                       t || '_forget_realised_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION costs_forget_realised()',
                       t || '_forget_realised_update', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION costs_forget_realised()',
                       t || '_forget_realised_delete', t);
    END LOOP;
END
$$;
