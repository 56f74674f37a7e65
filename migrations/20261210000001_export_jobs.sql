-- Export jobs (POST /api/v1/exports): a large export run through the queue and written,
-- gzip-compressed, to the lake under the tenant's prefix; GET /api/v1/exports/{id} reads its
-- status, row count and checksum and hands out a short-lived download link.
--
-- A tenant table like the others: tenant_id first in the keys, row-level security, the
-- application role's grants.
CREATE TABLE export_jobs (
    tenant_id    uuid NOT NULL CONSTRAINT export_jobs_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    -- what is exported: costs, focus (costs in FOCUS 1.2), resources or recommendations
    what         text NOT NULL CHECK (what IN ('costs', 'focus', 'resources', 'recommendations')),
    format       text NOT NULL CHECK (format IN ('csv', 'jsonl')),
    -- the list filters, as given (validated before the job is created)
    filters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    row_count    bigint CHECK (row_count IS NULL OR row_count >= 0),
    -- size and sha256 (hex) of the compressed file as downloaded
    bytes        bigint CHECK (bytes IS NULL OR bytes >= 0),
    sha256       text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
    -- the file's path in the lake (under the tenant's prefix) once written
    lake_path    text,
    error        text,
    requested_by text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT export_jobs_done_has_file CHECK (
        status <> 'succeeded' OR (row_count IS NOT NULL AND sha256 IS NOT NULL AND lake_path IS NOT NULL)),
    CONSTRAINT export_jobs_failed_says_why CHECK (status <> 'failed' OR error IS NOT NULL)
);
-- The tenant's list, newest first (keyset on created_at, id).
CREATE INDEX export_jobs_tenant_created_idx ON export_jobs (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER export_jobs_set_updated_at BEFORE UPDATE ON export_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE ON export_jobs TO azcops_app;

ALTER TABLE export_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE export_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY export_jobs_isolation ON export_jobs
    USING ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()))
    WITH CHECK ((SELECT azcops_is_operator()) OR tenant_id = (SELECT azcops_current_tenant()));
