-- Ingestion runs (one per tenant per trigger) and their per-subscription items.

CREATE TYPE ingestion_mode AS ENUM ('full', 'cost');
CREATE TYPE ingestion_trigger AS ENUM ('timer', 'api', 'queue');
CREATE TYPE ingestion_item_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'rejected');

CREATE TABLE ingestion_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mode          ingestion_mode NOT NULL,
    trigger       ingestion_trigger NOT NULL,
    -- the timer's schedule slot: a timer fired twice for one slot finds the existing run
    schedule_slot timestamptz,
    requested_by  text,
    cost_from     date,
    cost_to       date,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ingestion_runs_slot_key UNIQUE (tenant_id, mode, schedule_slot),
    CONSTRAINT ingestion_runs_cost_window CHECK (cost_from IS NULL OR cost_to IS NULL OR cost_from <= cost_to)
);
CREATE INDEX ingestion_runs_tenant_created_idx ON ingestion_runs (tenant_id, created_at DESC);
CREATE TRIGGER ingestion_runs_set_updated_at BEFORE UPDATE ON ingestion_runs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE ingestion_run_items (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id                uuid NOT NULL REFERENCES ingestion_runs (id) ON DELETE CASCADE,
    tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscription_db_id    uuid REFERENCES subscriptions (id) ON DELETE SET NULL,
    subscription_id       uuid NOT NULL,
    status                ingestion_item_status NOT NULL DEFAULT 'queued',
    attempts              integer NOT NULL DEFAULT 0,
    resources_count       integer NOT NULL DEFAULT 0,
    costs_count           integer NOT NULL DEFAULT 0,
    recommendations_count integer NOT NULL DEFAULT 0,
    metrics_count         integer NOT NULL DEFAULT 0,
    azure_calls           jsonb NOT NULL DEFAULT '{}'::jsonb,
    error                 text,
    started_at            timestamptz,
    finished_at           timestamptz,
    duration_ms           bigint,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ingestion_run_items_run_subscription_key UNIQUE (run_id, subscription_id)
);
CREATE INDEX ingestion_run_items_tenant_idx ON ingestion_run_items (tenant_id);
CREATE TRIGGER ingestion_run_items_set_updated_at BEFORE UPDATE ON ingestion_run_items
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
