-- Row-level security: the second wall behind the queries' own tenant filters.
-- A transaction sees a tenant's rows only after set_config('azcops.tenant_id', …, true), or every
-- row after set_config('azcops.operator', 'on', true). Without either it sees nothing.

GRANT USAGE ON SCHEMA public TO azcops_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON tenants, subscriptions, resources, costs_daily, recommendations, ingestion_runs, ingestion_run_items
    TO azcops_app;
GRANT SELECT, INSERT ON audit_logs TO azcops_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO azcops_app;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_isolation ON tenants
    USING (azcops_is_operator() OR id = azcops_current_tenant() OR azure_tenant_id = azcops_caller_azure_tenant())
    WITH CHECK (azcops_is_operator() OR id = azcops_current_tenant());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['subscriptions', 'resources', 'costs_daily', 'recommendations',
                             'ingestion_runs', 'ingestion_run_items', 'audit_logs']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (azcops_is_operator() OR tenant_id = azcops_current_tenant()) '
            'WITH CHECK (azcops_is_operator() OR tenant_id = azcops_current_tenant())',
            t || '_isolation', t);
    END LOOP;
END
$$;
