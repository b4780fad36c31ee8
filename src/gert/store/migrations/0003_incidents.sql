-- Incidents of the local provider, when runs live in PostgreSQL: every worker and
-- server sees the same incidents and timelines. Each is kept as the JSON gert writes.
CREATE TABLE gert_incidents (
    incident_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL
);
CREATE INDEX gert_incidents_created ON gert_incidents (created_at);
