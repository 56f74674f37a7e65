-- Resource Graph's request quota of each principal (15 requests per 5 s window as documented),
-- shared by every Function instance like the Cost Management query budget (migration 6): a log
-- of the requests sent (or learnt from Azure's `x-ms-user-quota-remaining` header) and a hold set
-- when Azure says the quota is used up until it resets, or answers 429. Keyed by the principal
-- the access tokens are issued to (the token's `oid`: the managed identity, or the app's service
-- principal in a customer tenant), which is what Azure counts the quota for, not by AzCops
-- tenant. It is operational state, not tenant data: no tenant_id and no row-level security.
-- Rows older than the quota window are deleted as it goes.

CREATE TABLE resource_graph_requests (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal text NOT NULL CHECK (length(principal) BETWEEN 1 AND 128),
    sent_at   timestamptz NOT NULL,
    requests  integer NOT NULL CHECK (requests > 0),
    -- false: reserved before a request; true: added because Azure's header said more requests
    -- were counted than this log knew (another client of the same principal)
    observed  boolean NOT NULL DEFAULT false
);
CREATE INDEX resource_graph_requests_principal_time_idx
    ON resource_graph_requests (principal, sent_at);

CREATE TABLE resource_graph_holds (
    principal  text PRIMARY KEY CHECK (length(principal) BETWEEN 1 AND 128),
    hold_until timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER resource_graph_holds_set_updated_at BEFORE UPDATE ON resource_graph_holds
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- As for the query budget: the application role, and the runtime login's group, whose
-- transactions on these tables run as the login itself under an advisory lock.
GRANT SELECT, INSERT, UPDATE, DELETE ON resource_graph_requests, resource_graph_holds
    TO azcops_app, azcops_runtime;
