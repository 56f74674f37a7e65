-- The realised savings of the recommendation summary (crate::db::recommendations::realised)
-- read every changed recommendation of the tenant through recommendations_changed_idx, then
-- each row from the heap: 961 buffers and 3.6 ms of execution for the 1,094 of the MSP
-- database's largest tenant (issue 15). With the columns that query reads in the index, it is
-- an index-only scan: 1.7 ms. The index stays partial (changed recommendations only, 2 % of them
-- on that database), so writes of the others do not touch it. Built without CONCURRENTLY (a
-- migration is one transaction): writes of recommendations wait for it, well under a second
-- there.
DROP INDEX recommendations_changed_idx;
CREATE INDEX recommendations_changed_idx ON recommendations (tenant_id, subscription_db_id)
    INCLUDE (id, rule_id, currency, estimated_monthly_savings, superseded_by)
    WHERE status = 'executed' OR (status = 'resolved' AND approved_at IS NOT NULL);
