-- See the PostgreSQL migration of the same number.
CREATE TABLE outbox_groups (
    tenant_id       TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    graph_object_id TEXT,
    PRIMARY KEY (tenant_id, group_id)
);
