-- The outbox (see the PostgreSQL migration of the same number).
CREATE TABLE outbox_tasks (
    tenant_id       TEXT NOT NULL,
    task_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    user_id         TEXT,
    sku_id          TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    round_attempts  INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claimed_by      TEXT,
    last_error      TEXT,
    graph_object_id TEXT,
    detail          TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, task_id)
);
CREATE UNIQUE INDEX outbox_tasks_seq ON outbox_tasks (seq);
CREATE INDEX outbox_tasks_target ON outbox_tasks (tenant_id, target, seq);
CREATE INDEX outbox_tasks_due ON outbox_tasks (status, next_attempt_at);
CREATE INDEX outbox_tasks_user ON outbox_tasks (tenant_id, user_id, seq);

CREATE TABLE outbox_tenants (
    tenant_id          TEXT PRIMARY KEY,
    connected          INTEGER NOT NULL,
    deprovision_action TEXT NOT NULL
);

CREATE TABLE outbox_users (
    tenant_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    assigned        INTEGER NOT NULL,
    graph_object_id TEXT,
    PRIMARY KEY (tenant_id, user_id)
);
