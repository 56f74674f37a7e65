-- Trigger functions plan their statements once per session (`plan_cache_mode = auto`) whatever
-- the transaction that fires them says. The API's transactions plan every execution for their
-- catch-all filters (`db::Planning::EachExecution`), and PostgreSQL applies that to the
-- statements of the triggers they fire too: the summary cells' statement trigger, fired by the
-- snooze expiry that every recommendation read runs (usually updating no row), planned its
-- queries again each time, 7-8 ms per request on the MSP database; 0.4 ms once planned
-- (issue 15). The functions' statements take no parameters but their transition tables, so the
-- plan kept is the plan PostgreSQL would make each time.
ALTER FUNCTION recommendations_queue_summary_deltas() SET plan_cache_mode = 'auto';
ALTER FUNCTION recommendation_summary_apply_pending() SET plan_cache_mode = 'auto';
ALTER FUNCTION costs_daily_refresh_rollups() SET plan_cache_mode = 'auto';
