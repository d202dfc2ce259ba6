-- See the PostgreSQL migration of the same number.
CREATE TABLE outbox_group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    queued    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, group_id, user_id)
);

ALTER TABLE outbox_groups ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
