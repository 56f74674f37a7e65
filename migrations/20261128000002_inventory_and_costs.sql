-- Resources discovered by Resource Graph and daily costs from Cost Management.

CREATE TABLE resources (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    resource_id        text NOT NULL CHECK (resource_id <> ''),
    name               text NOT NULL,
    type               text NOT NULL,
    kind               text,
    location           text,
    resource_group     text,
    sku                jsonb,
    tags               jsonb NOT NULL DEFAULT '{}'::jsonb,
    properties         jsonb,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resources_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resources_subscription_resource_id_key UNIQUE (subscription_db_id, resource_id)
);
CREATE INDEX resources_tenant_type_idx ON resources (tenant_id, type);
CREATE INDEX resources_tenant_location_idx ON resources (tenant_id, location);
CREATE INDEX resources_tenant_resource_group_idx ON resources (tenant_id, resource_group);
CREATE TRIGGER resources_set_updated_at BEFORE UPDATE ON resources
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE costs_daily (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL,
    subscription_db_id uuid NOT NULL,
    date               date NOT NULL,
    resource_group     text NOT NULL DEFAULT '',
    service_name       text NOT NULL DEFAULT '',
    meter_category     text NOT NULL DEFAULT '',
    cost               numeric(20, 6) NOT NULL DEFAULT 0,
    amortized_cost     numeric(20, 6) NOT NULL DEFAULT 0,
    currency           text NOT NULL DEFAULT 'USD',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT costs_daily_subscription_fkey FOREIGN KEY (tenant_id, subscription_db_id)
        REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT costs_daily_natural_key
        UNIQUE (subscription_db_id, date, resource_group, service_name, meter_category)
);
CREATE INDEX costs_daily_tenant_date_idx ON costs_daily (tenant_id, date);
CREATE TRIGGER costs_daily_set_updated_at BEFORE UPDATE ON costs_daily
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
