-- Row-level security evaluated once per query, not once per row: the policies call the
-- setting functions through scalar subqueries, which PostgreSQL runs once (an InitPlan) and
-- whose result it can compare against an index. Same rules as migration 5; measured on
-- 100k-resource tenants, a policy function call per row was about 40 % of a list's scan time.
-- Also an index for the resource list's tag filter (`tags ? key`), which scanned every row.

ALTER POLICY tenants_isolation ON tenants
    USING ((SELECT azcops_is_operator()) OR id = (SELECT azcops_current_tenant())
           OR azure_tenant_id = (SELECT azcops_caller_azure_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR id = (SELECT azcops_current_tenant()));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['subscriptions', 'resources', 'costs_daily', 'recommendations',
                             'ingestion_runs', 'ingestion_run_items', 'audit_logs']
    LOOP
        EXECUTE format(
            'ALTER POLICY %I ON %I '
            'USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant())) '
            'WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))',
            t || '_isolation', t);
    END LOOP;
END
$$;

CREATE INDEX resources_tags_idx ON resources USING gin (tags);
