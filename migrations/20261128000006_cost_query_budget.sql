-- The Cost Management query budget (QPU) of each Entra ID tenant, shared by every Function
-- instance: a log of the units spent (or observed in Azure's headers) and a hold set when Azure
-- asks to back off. Keyed by the Entra tenant id of the subscriptions queried, which is what
-- Azure's quota is counted for; it is operational state, not tenant data, so it has no
-- row-level security. Rows older than the longest quota window (1 h) are deleted as it goes.

CREATE TABLE cost_query_spend (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    azure_tenant_id text NOT NULL CHECK (length(azure_tenant_id) BETWEEN 1 AND 64),
    spent_at        timestamptz NOT NULL,
    units           integer NOT NULL CHECK (units > 0),
    -- false: reserved by `acquire` before a query; true: added because Azure's headers said
    -- more was spent than this log knew (another client, or a query costing more than expected)
    observed        boolean NOT NULL DEFAULT false
);
CREATE INDEX cost_query_spend_tenant_time_idx ON cost_query_spend (azure_tenant_id, spent_at);

CREATE TABLE cost_query_holds (
    azure_tenant_id text PRIMARY KEY CHECK (length(azure_tenant_id) BETWEEN 1 AND 64),
    hold_until      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER cost_query_holds_set_updated_at BEFORE UPDATE ON cost_query_holds
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE ON cost_query_spend, cost_query_holds TO azcops_app;
