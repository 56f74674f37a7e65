-- What the rule engine reads besides the inventory (PHASE3 §1): each resource's cost over a
-- window, its metric statistics, the tags of its resource group and subscription, and since when
-- a tracked condition has held; plus two global caches of Azure reference data (VM sizes and
-- retail prices), which hold no tenant data.
--
-- Every tenant table keys on tenant_id first (a table distributed by tenant keeps each tenant's
-- rows together), carries the composite foreign key to its subscription and row-level security
-- like every other tenant table.

-- The actual and amortized cost of each resource (and service) over one window of complete days.
-- resource_id is '' for charges without a resource (purchases, support, Marketplace), kept as such.
CREATE TABLE resource_costs (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    window_end         date NOT NULL,
    resource_id        text NOT NULL,
    service_name       text NOT NULL DEFAULT '',
    window_start       date NOT NULL,
    resource_group     text NOT NULL DEFAULT '',
    cost               numeric(20, 6) NOT NULL DEFAULT 0,
    amortized_cost     numeric(20, 6) NOT NULL DEFAULT 0,
    currency           text NOT NULL DEFAULT 'USD',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subscription_db_id, window_end, resource_id, service_name),
    CONSTRAINT resource_costs_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resource_costs_window CHECK (window_start <= window_end)
);
CREATE INDEX resource_costs_resource_idx ON resource_costs (tenant_id, resource_id, window_end);
CREATE TRIGGER resource_costs_set_updated_at BEFORE UPDATE ON resource_costs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The latest statistics of each metric of each resource. state says what the numbers mean:
-- 'data' (statistics of `samples` points), 'no_data' (Azure answered, without a value: e.g. a
-- deallocated VM) or 'failed' (the call or the metric failed: never read as an idle resource).
CREATE TABLE resource_metrics (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    resource_id        text NOT NULL,
    metric             text NOT NULL,
    namespace          text NOT NULL,
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    interval           text NOT NULL DEFAULT 'PT1H',
    unit               text NOT NULL DEFAULT '',
    state              text NOT NULL CHECK (state IN ('data', 'no_data', 'failed')),
    avg                double precision,
    max                double precision,
    min                double precision,
    p95                double precision,
    samples            integer NOT NULL DEFAULT 0 CHECK (samples >= 0),
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subscription_db_id, resource_id, metric),
    CONSTRAINT resource_metrics_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resource_metrics_data_has_values CHECK (
        state <> 'data' OR (avg IS NOT NULL AND max IS NOT NULL AND min IS NOT NULL
                            AND p95 IS NOT NULL AND samples > 0))
);
CREATE TRIGGER resource_metrics_set_updated_at BEFORE UPDATE ON resource_metrics
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Subscriptions and resource groups with their tags (Resource Graph's ResourceContainers), so a
-- tag rule sees what a resource inherits.
CREATE TABLE resource_containers (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    container_id       text NOT NULL CHECK (container_id <> ''),
    kind               text NOT NULL CHECK (kind IN ('subscription', 'resource_group')),
    resource_group     text NOT NULL DEFAULT '',
    name               text NOT NULL,
    tags               jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_seen_at       timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subscription_db_id, container_id),
    CONSTRAINT resource_containers_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
);
CREATE TRIGGER resource_containers_set_updated_at BEFORE UPDATE ON resource_containers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Since when a tracked condition (disk unattached, VM deallocated, …) has held for a resource:
-- first_seen_at is when AzCops first saw it, since_hint what Azure itself says (e.g. a disk's
-- LastOwnershipUpdateTime) where it says anything. A row is deleted when its condition ends.
CREATE TABLE resource_conditions (
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    resource_id        text NOT NULL,
    condition          text NOT NULL,
    first_seen_at      timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    since_hint         timestamptz,
    PRIMARY KEY (tenant_id, subscription_db_id, resource_id, condition),
    CONSTRAINT resource_conditions_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE
);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON resource_costs, resource_metrics, resource_containers, resource_conditions TO azcops_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['resource_costs', 'resource_metrics', 'resource_containers',
                             'resource_conditions']
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

-- Global reference data: the same for every tenant, so no tenant_id and no row-level security.

-- VM sizes per region, from the Resource SKUs API.
CREATE TABLE vm_sizes (
    location        text NOT NULL,
    name            text NOT NULL,
    family          text NOT NULL DEFAULT '',
    tier            text,
    vcpus           integer NOT NULL CHECK (vcpus > 0),
    memory_gb       double precision NOT NULL CHECK (memory_gb > 0),
    max_data_disks  integer NOT NULL DEFAULT 0,
    max_nics        integer NOT NULL DEFAULT 0,
    refreshed_at    timestamptz NOT NULL,
    PRIMARY KEY (location, name)
);

-- Pay-as-you-go retail prices (Azure Retail Prices API) of the regions, services and SKUs the
-- estate uses, per billing currency.
CREATE TABLE retail_prices (
    currency            text NOT NULL,
    region              text NOT NULL,
    meter_id            text NOT NULL,
    product_name        text NOT NULL,
    sku_name            text NOT NULL,
    price_type          text NOT NULL,
    tier_minimum_units  numeric(20, 6) NOT NULL DEFAULT 0,
    service_name        text NOT NULL,
    service_family      text NOT NULL DEFAULT '',
    arm_sku_name        text NOT NULL DEFAULT '',
    meter_name          text NOT NULL DEFAULT '',
    unit_of_measure     text NOT NULL DEFAULT '',
    unit_price          numeric(20, 10) NOT NULL,
    retail_price        numeric(20, 10) NOT NULL,
    effective_start     timestamptz,
    is_primary_meter_region boolean NOT NULL DEFAULT true,
    refreshed_at        timestamptz NOT NULL,
    PRIMARY KEY (currency, region, meter_id, product_name, sku_name, price_type, tier_minimum_units)
);
CREATE INDEX retail_prices_sku_idx ON retail_prices (currency, region, service_name, arm_sku_name);

-- When each piece of reference data was last refreshed (e.g. ('vm_sizes', 'westeurope') or
-- ('retail_prices', 'EUR/westeurope/Virtual Machines')): an instance claims a stale key with one
-- UPDATE … WHERE refreshed_at < now() - interval, so many instances refresh it once a day.
CREATE TABLE reference_refreshes (
    source       text NOT NULL,
    key          text NOT NULL,
    refreshed_at timestamptz NOT NULL,
    succeeded    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (source, key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON vm_sizes, retail_prices, reference_refreshes TO azcops_app;
