-- Import and export jobs (see the PostgreSQL migration of the same number).
CREATE TABLE jobs (
    tenant_id   TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    domains     TEXT NOT NULL,
    total       INTEGER,
    created     INTEGER NOT NULL DEFAULT 0,
    matched     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    started_by  TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    lease_until INTEGER,
    claimed_by  TEXT,
    PRIMARY KEY (tenant_id, job_id)
);
CREATE INDEX jobs_running ON jobs (status, lease_until);

CREATE TABLE job_items (
    tenant_id       TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    user_id         TEXT,
    graph_object_id TEXT,
    upn             TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job_id, item_key)
);
CREATE INDEX job_items_user ON job_items (tenant_id, user_id);
