-- The outbox: provisioning tasks derived from events by the `outbox` projection, claimed by
-- workers. Everything but the claim columns (lease_until, claimed_by) is derived from events
-- (task outcomes are events of the ProvisioningTask aggregate), so a rebuild loses nothing
-- and redoes nothing.
CREATE TABLE outbox_tasks (
    tenant_id       text NOT NULL,
    task_id         text NOT NULL,
    seq             bigint NOT NULL,            -- derivation order: FIFO per target
    target          text NOT NULL,              -- 'user:{id}'
    kind            text NOT NULL,              -- PROVISION_USER, UPDATE_USER, GRANT_LICENSE, …
    user_id         text,
    sku_id          text,
    status          text NOT NULL,              -- PENDING | SUCCEEDED | FAILED | CANCELLED
    attempts        bigint NOT NULL,            -- every attempt so far
    round_attempts  bigint NOT NULL,            -- attempts since the last retryTask (the retry limit counts these)
    next_attempt_at bigint NOT NULL,            -- unix milliseconds
    lease_until     bigint,                     -- unix milliseconds; set by the claiming worker
    claimed_by      text,
    last_error      text,                       -- JSON: Graph's status, code, message, request ids
    graph_object_id text,
    detail          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, task_id)
);
CREATE UNIQUE INDEX outbox_tasks_seq ON outbox_tasks (seq);
CREATE INDEX outbox_tasks_target ON outbox_tasks (tenant_id, target, seq);
CREATE INDEX outbox_tasks_due ON outbox_tasks (status, next_attempt_at);
CREATE INDEX outbox_tasks_user ON outbox_tasks (tenant_id, user_id, seq);

-- What the projection needs to know to derive tasks: whether a tenant is connected and its
-- deprovision action, and which users are assigned (and their Microsoft 365 object id).
CREATE TABLE outbox_tenants (
    tenant_id          text PRIMARY KEY,
    connected          boolean NOT NULL,
    deprovision_action text NOT NULL
);

CREATE TABLE outbox_users (
    tenant_id       text NOT NULL,
    user_id         text NOT NULL,
    assigned        boolean NOT NULL,
    graph_object_id text,
    PRIMARY KEY (tenant_id, user_id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['outbox_tasks', 'outbox_tenants', 'outbox_users'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
