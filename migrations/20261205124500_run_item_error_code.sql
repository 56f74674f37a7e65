-- Run items show their tenant's readers a sanitised failure: a stable code and a short fixed
-- message (`error`); the full Azure error text stays in the logs. Errors stored before this
-- migration may carry Azure's text, so they are replaced by the generic failure.

ALTER TABLE ingestion_run_items ADD COLUMN error_code text;

UPDATE ingestion_run_items
SET error_code = CASE WHEN status = 'rejected' THEN 'rejected_message' ELSE 'ingestion_failed' END,
    error = CASE WHEN status = 'rejected' THEN 'the queue message was rejected and will not be retried'
                 ELSE 'the ingestion failed; the operators'' logs have the details' END
WHERE error IS NOT NULL;
