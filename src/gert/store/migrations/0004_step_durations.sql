-- Step durations by runbook and bucket, kept up to date as steps complete, so /metrics
-- shows a step-duration histogram without reading any trace.
CREATE TABLE gert_step_durations (
    runbook_name TEXT NOT NULL,
    bucket INTEGER NOT NULL,  -- index into the store's STEP_BUCKETS; len(): above them all
    count BIGINT NOT NULL DEFAULT 0,
    sum_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (runbook_name, bucket)
);
