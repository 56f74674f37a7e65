-- Realised savings measure a changed resource's mean daily amortized cost over the 14 days
-- before the change against the 14 days after it (PHASE3 §3). The per-resource windows hold
-- 30-day totals, so the daily cost of the resources whose recommendations were carried out is
-- collected on its own, around the change, and kept here with the days each collection covered
-- (a day inside the covered range without a row cost nothing).

CREATE TABLE resource_daily_costs (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    resource_id        text NOT NULL,
    date               date NOT NULL,
    amortized_cost     numeric(20, 6) NOT NULL,
    currency           text NOT NULL,
    CONSTRAINT resource_daily_costs_pkey PRIMARY KEY (tenant_id, subscription_db_id, resource_id, date),
    CONSTRAINT resource_daily_costs_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE resource_daily_cost_coverage (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    resource_id        text NOT NULL,
    covered_from       date NOT NULL,
    covered_to         date NOT NULL,
    collected_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_daily_cost_coverage_pkey PRIMARY KEY (tenant_id, subscription_db_id, resource_id),
    CONSTRAINT resource_daily_cost_coverage_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resource_daily_cost_coverage_range CHECK (covered_from <= covered_to)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON resource_daily_costs, resource_daily_cost_coverage TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['resource_daily_costs', 'resource_daily_cost_coverage']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I '
            'USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant())) '
            'WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))',
            t || '_isolation', t);
    END LOOP;
END
$$;
