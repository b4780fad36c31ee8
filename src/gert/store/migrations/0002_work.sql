-- Work for gert workers: one row per run that has something left to do. The row is the
-- truth; the broker's message only wakes a worker, so a lost or repeated message loses
-- or repeats nothing (a worker takes a row only while it is queued).
CREATE TABLE gert_work (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,  -- start: the chain's root run; resume: go on with the run
    spec TEXT NOT NULL DEFAULT '{}',  -- JSON: runbook, mode, inputs, answers, decisions
    state TEXT NOT NULL DEFAULT 'queued',  -- queued, taken, done, parked
    runbook TEXT NOT NULL DEFAULT '',
    incident_id TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',  -- why a run parked
    worker TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    taken_at TIMESTAMPTZ,
    done_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX gert_work_state ON gert_work (state, enqueued_at);
CREATE INDEX gert_work_runbook ON gert_work (runbook) WHERE state = 'taken';
CREATE INDEX gert_work_incident ON gert_work (incident_id) WHERE state = 'taken';

-- Workers alive: each renews its row; gert status counts those seen lately.
CREATE TABLE gert_workers (
    name TEXT PRIMARY KEY,
    concurrency INTEGER NOT NULL DEFAULT 1,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
