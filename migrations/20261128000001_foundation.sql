-- Shared helpers, the application role, tenants and subscriptions.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The role every request and ingestion transaction switches to (SET LOCAL ROLE), so that
-- row-level security applies even when the login user owns the tables or is a superuser.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'azcops_app') THEN
        CREATE ROLE azcops_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another database's migration in the same cluster
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT azcops_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'could not grant azcops_app to %: %', current_user, SQLERRM;
END
$$;

-- The tenant a transaction acts for, set with set_config('azcops.tenant_id', …, true).
CREATE FUNCTION azcops_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('azcops.tenant_id', true), '')::uuid
$$;

-- True when the transaction acts for the operator (all tenants).
CREATE FUNCTION azcops_is_operator() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('azcops.operator', true), '') = 'on'
$$;

-- The Entra ID tenant of the caller, used only to find the caller's own tenant row.
CREATE FUNCTION azcops_caller_azure_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('azcops.caller_azure_tenant_id', true), '')::uuid
$$;

CREATE TYPE tenant_type AS ENUM ('internal', 'external');

CREATE TABLE tenants (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    azure_tenant_id uuid NOT NULL CONSTRAINT tenants_azure_tenant_id_key UNIQUE,
    type            tenant_type NOT NULL DEFAULT 'external',
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tenants_set_updated_at BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE subscriptions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL
                    CONSTRAINT subscriptions_tenant_id_fkey REFERENCES tenants (id) ON DELETE RESTRICT,
    subscription_id uuid NOT NULL CONSTRAINT subscriptions_subscription_id_key UNIQUE,
    display_name    text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    billing_scope   text CHECK (billing_scope IS NULL OR length(billing_scope) BETWEEN 1 AND 500),
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- lets child tables reference (tenant_id, id) so a row can never point at another tenant's subscription
    CONSTRAINT subscriptions_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX subscriptions_tenant_id_idx ON subscriptions (tenant_id);
CREATE TRIGGER subscriptions_set_updated_at BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
