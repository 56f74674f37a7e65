-- Every tenant table keys on tenant_id, so the schema can be distributed by tenant with Citus
-- (README "Toward Citus"): a distributed table's primary key, unique constraints and indexes
-- must include the distribution column, and a foreign key between two distributed tables must
-- pair it with the other's. Checked over the catalogue by tests/it/db_schema_keys.rs.
--
-- tenant_id is added as the last key column: every index keeps serving the lookups by its
-- leading columns (by id alone, for an operator or an optional tenant filter; by subscription
-- and natural key, for ingestion), and Citus needs only that the column is among the key's.
-- A foreign key names (tenant_id, …) on both sides, in the same position, as Citus requires.
-- The unique (tenant_id, id) constraints that let children reference subscriptions and
-- recommendations within a tenant are now their primary keys, so they go.
--
-- The Azure subscription id is unique per tenant rather than over all tenants: registering
-- one checks with Azure that it belongs to the tenant's Entra tenant, which one tenant has.

-- Row-level security is forced on these tables, also for their owner: act as the operator.
SELECT set_config('azcops.operator', 'on', true);

-- The audit records of no tenant (the operator's: rejected queue messages) get the nil tenant,
-- which no tenant has: a distribution column holds no NULL. Rows are otherwise unchanged.
ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only;
UPDATE audit_logs SET tenant_id = '00000000-0000-0000-0000-000000000000' WHERE tenant_id IS NULL;
ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only;
ALTER TABLE audit_logs
    ALTER COLUMN tenant_id SET DEFAULT '00000000-0000-0000-0000-000000000000',
    ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE tenants
    ADD CONSTRAINT tenants_id_not_nil CHECK (id <> '00000000-0000-0000-0000-000000000000');

-- The foreign keys onto the keys that change; added back below, with tenant_id where it lacked.
ALTER TABLE resources DROP CONSTRAINT resources_subscription_fkey;
ALTER TABLE costs_daily DROP CONSTRAINT costs_daily_subscription_fkey;
ALTER TABLE recommendations
    DROP CONSTRAINT recommendations_subscription_fkey,
    DROP CONSTRAINT recommendations_resource_db_id_fkey,
    DROP CONSTRAINT recommendations_superseded_by_fkey;
ALTER TABLE recommendation_events DROP CONSTRAINT recommendation_events_recommendation_fkey;
ALTER TABLE suppressions DROP CONSTRAINT suppressions_subscription_fkey;
ALTER TABLE ingestion_run_items
    DROP CONSTRAINT ingestion_run_items_run_id_fkey,
    DROP CONSTRAINT ingestion_run_items_subscription_db_id_fkey;
ALTER TABLE resource_costs DROP CONSTRAINT resource_costs_subscription_fkey;
ALTER TABLE resource_metrics DROP CONSTRAINT resource_metrics_subscription_fkey;
ALTER TABLE resource_containers DROP CONSTRAINT resource_containers_subscription_fkey;
ALTER TABLE resource_conditions DROP CONSTRAINT resource_conditions_subscription_fkey;

-- Primary and unique keys, under their former names.
ALTER TABLE subscriptions
    DROP CONSTRAINT subscriptions_tenant_id_id_key,
    DROP CONSTRAINT subscriptions_pkey,
    ADD CONSTRAINT subscriptions_pkey PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT subscriptions_subscription_id_key,
    ADD CONSTRAINT subscriptions_subscription_id_key UNIQUE (subscription_id, tenant_id);
ALTER TABLE resources
    DROP CONSTRAINT resources_pkey,
    ADD CONSTRAINT resources_pkey PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT resources_subscription_resource_id_key,
    ADD CONSTRAINT resources_subscription_resource_id_key
        UNIQUE (subscription_db_id, resource_id, tenant_id);
ALTER TABLE costs_daily
    DROP CONSTRAINT costs_daily_pkey,
    ADD CONSTRAINT costs_daily_pkey PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT costs_daily_natural_key,
    ADD CONSTRAINT costs_daily_natural_key
        UNIQUE (subscription_db_id, date, resource_group, service_name, meter_category, tenant_id);
ALTER TABLE recommendations
    DROP CONSTRAINT recommendations_tenant_id_id_key,
    DROP CONSTRAINT recommendations_pkey,
    ADD CONSTRAINT recommendations_pkey PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT recommendations_external_key,
    ADD CONSTRAINT recommendations_external_key
        UNIQUE (subscription_db_id, source, external_id, tenant_id);
ALTER TABLE recommendation_events
    DROP CONSTRAINT recommendation_events_pkey,
    ADD CONSTRAINT recommendation_events_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE audit_logs
    DROP CONSTRAINT audit_logs_pkey,
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE suppressions
    DROP CONSTRAINT suppressions_pkey,
    ADD CONSTRAINT suppressions_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE ingestion_runs
    DROP CONSTRAINT ingestion_runs_pkey,
    ADD CONSTRAINT ingestion_runs_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE ingestion_run_items
    DROP CONSTRAINT ingestion_run_items_pkey,
    ADD CONSTRAINT ingestion_run_items_pkey PRIMARY KEY (id, tenant_id),
    DROP CONSTRAINT ingestion_run_items_run_subscription_key,
    ADD CONSTRAINT ingestion_run_items_run_subscription_key
        UNIQUE (run_id, subscription_id, tenant_id);

-- The foreign keys again, with their former names and actions. SET NULL clears only the
-- reference (PostgreSQL 15's column list), never tenant_id.
ALTER TABLE resources ADD CONSTRAINT resources_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE costs_daily ADD CONSTRAINT costs_daily_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE recommendations
    ADD CONSTRAINT recommendations_subscription_fkey
        FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT recommendations_resource_db_id_fkey
        FOREIGN KEY (tenant_id, resource_db_id) REFERENCES resources (tenant_id, id)
        ON DELETE SET NULL (resource_db_id),
    ADD CONSTRAINT recommendations_superseded_by_fkey
        FOREIGN KEY (tenant_id, superseded_by) REFERENCES recommendations (tenant_id, id);
ALTER TABLE recommendation_events ADD CONSTRAINT recommendation_events_recommendation_fkey
    FOREIGN KEY (tenant_id, recommendation_id) REFERENCES recommendations (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE ingestion_run_items
    ADD CONSTRAINT ingestion_run_items_run_id_fkey
        FOREIGN KEY (tenant_id, run_id) REFERENCES ingestion_runs (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT ingestion_run_items_subscription_db_id_fkey
        FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id)
        ON DELETE SET NULL (subscription_db_id);
ALTER TABLE resource_costs ADD CONSTRAINT resource_costs_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE resource_metrics ADD CONSTRAINT resource_metrics_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE resource_containers ADD CONSTRAINT resource_containers_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE resource_conditions ADD CONSTRAINT resource_conditions_subscription_fkey
    FOREIGN KEY (tenant_id, subscription_db_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE;
