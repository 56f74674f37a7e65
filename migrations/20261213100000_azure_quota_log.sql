-- One log for Azure's shared quotas: Cost Management's query units per Entra tenant and
-- Resource Graph's requests per principal had two tables each of the same shape
-- (`cost_query_spend` / `cost_query_holds`, `resource_graph_requests` / `resource_graph_holds`).
-- They become one spending log and one hold table keyed by (quota, key); what the old tables
-- held is carried over.

CREATE TABLE azure_quota_spend (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quota    text NOT NULL CHECK (quota IN ('cost_management', 'resource_graph')),
    key      text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    spent_at timestamptz NOT NULL,
    units    integer NOT NULL CHECK (units > 0),
    -- false: reserved before a request; true: added because Azure's headers said more was spent
    -- than this log knew (another client, or a query costing more than expected)
    observed boolean NOT NULL DEFAULT false
);
CREATE INDEX azure_quota_spend_key_time_idx ON azure_quota_spend (quota, key, spent_at);

CREATE TABLE azure_quota_holds (
    quota      text NOT NULL CHECK (quota IN ('cost_management', 'resource_graph')),
    key        text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    hold_until timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT azure_quota_holds_pkey PRIMARY KEY (quota, key)
);
CREATE TRIGGER azure_quota_holds_set_updated_at BEFORE UPDATE ON azure_quota_holds
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO azure_quota_spend (quota, key, spent_at, units, observed)
SELECT 'cost_management', azure_tenant_id, spent_at, units, observed FROM cost_query_spend
UNION ALL
SELECT 'resource_graph', principal, sent_at, requests, observed FROM resource_graph_requests;

INSERT INTO azure_quota_holds (quota, key, hold_until)
SELECT 'cost_management', azure_tenant_id, hold_until FROM cost_query_holds
UNION ALL
SELECT 'resource_graph', principal, hold_until FROM resource_graph_holds;

DROP TABLE cost_query_spend, cost_query_holds, resource_graph_requests, resource_graph_holds;

GRANT SELECT, INSERT, UPDATE, DELETE ON azure_quota_spend, azure_quota_holds
    TO azcops_app, azcops_runtime;
