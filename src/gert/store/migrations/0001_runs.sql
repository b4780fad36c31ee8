-- Runs, their traces, step records and attachments, and the index columns over them.
-- The manifest, trace lines and step records are kept as the exact text gert wrote, so the
-- hash chain and the step records' SHA-256 verify as they do in run folders.
CREATE TABLE gert_runs (
    run_id TEXT PRIMARY KEY,
    manifest TEXT,  -- NULL until the run's first manifest is saved
    incident_id TEXT NOT NULL DEFAULT '',
    runbook TEXT NOT NULL DEFAULT '',
    runbook_name TEXT NOT NULL DEFAULT '',
    parent_run_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',
    recommendation TEXT NOT NULL DEFAULT '',
    chain_error TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '',
    ended_at TEXT NOT NULL DEFAULT '',
    duration_ms DOUBLE PRECISION,
    steps_total INTEGER NOT NULL DEFAULT 0,
    steps_failed INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX gert_runs_incident ON gert_runs (incident_id, started_at);
CREATE INDEX gert_runs_runbook ON gert_runs (runbook_name, started_at);
CREATE INDEX gert_runs_started ON gert_runs (started_at, run_id);
CREATE INDEX gert_runs_state ON gert_runs (state, started_at);
CREATE INDEX gert_runs_status ON gert_runs (status);
CREATE INDEX gert_runs_parent ON gert_runs (parent_run_id);

CREATE TABLE gert_trace_events (
    run_id TEXT NOT NULL REFERENCES gert_runs (run_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    line TEXT NOT NULL,  -- the event's JSON line exactly as hashed, without its newline
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE gert_step_records (
    run_id TEXT NOT NULL REFERENCES gert_runs (run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,  -- steps/NNN-<step-id>.json
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE gert_attachments (
    run_id TEXT NOT NULL REFERENCES gert_runs (run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,  -- attachments/<file>, as the evidence event names it
    body BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);

-- Who runs a run now: a gert process or worker holds a lease it renews; a lease that ran
-- out belongs to a process that died, and another worker may take the run over.
CREATE TABLE gert_leases (
    run_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
