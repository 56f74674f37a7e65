-- Each resource carries its subscription's Azure id, so that a list page reads it from the row
-- it reads anyway. Looked up per row of the page from `subscriptions` (a subplan: one index
-- scan per row), it was about a fifth of PostgreSQL's CPU for a tenant's type + location page
-- of 100 resources (`BENCHMARKS.md`, issue 15, eleventh pass).
--
-- The foreign key below names the Azure id, so the copy cannot differ from `subscriptions`: a
-- row with another subscription's Azure id is refused, and so is a change of a subscription's
-- Azure id while resources name it (the API never changes it).

ALTER TABLE subscriptions
    ADD CONSTRAINT subscriptions_tenant_id_id_azure_key UNIQUE (tenant_id, id, subscription_id);

ALTER TABLE resources ADD COLUMN subscription_id uuid;
-- Every tenant's rows (row-level security applies to the tables' owner too).
SELECT set_config('azcops.operator', 'on', true);
UPDATE resources r SET subscription_id = s.subscription_id
FROM subscriptions s WHERE s.id = r.subscription_db_id;
ALTER TABLE resources ALTER COLUMN subscription_id SET NOT NULL;

-- One key for both: the subscription is the tenant's, and its Azure id is the one copied.
ALTER TABLE resources
    ADD CONSTRAINT resources_subscription_azure_fkey
        FOREIGN KEY (tenant_id, subscription_db_id, subscription_id)
        REFERENCES subscriptions (tenant_id, id, subscription_id) ON DELETE CASCADE;
ALTER TABLE resources DROP CONSTRAINT resources_subscription_fkey;
