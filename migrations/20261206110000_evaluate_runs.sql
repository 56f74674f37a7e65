-- Rule evaluation as a run of its own (POST /api/v1/rules/evaluate: one queue message per
-- subscription, no Azure call), and how many findings each item's evaluation produced (a full
-- run evaluates the rules after storing its data).
ALTER TYPE ingestion_mode ADD VALUE IF NOT EXISTS 'evaluate';
ALTER TABLE ingestion_run_items ADD COLUMN findings_count integer NOT NULL DEFAULT 0;
