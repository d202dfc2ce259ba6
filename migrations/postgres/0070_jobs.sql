-- Import and export jobs (the `jobs` projection): one row per job with its progress counts,
-- one per user it handled with the outcome. The job worker writes the claim columns
-- (`lease_until`, `claimed_by`) itself, like the outbox's.
CREATE TABLE jobs (
    tenant_id   text NOT NULL,
    job_id      text NOT NULL,
    kind        text NOT NULL,
    status      text NOT NULL,
    domains     text NOT NULL,
    total       bigint,
    created     bigint NOT NULL DEFAULT 0,
    matched     bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    error       text,
    started_by  text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    lease_until bigint,
    claimed_by  text,
    PRIMARY KEY (tenant_id, job_id)
);
CREATE INDEX jobs_running ON jobs (status, lease_until);

CREATE TABLE job_items (
    tenant_id       text NOT NULL,
    job_id          text NOT NULL,
    item_key        text NOT NULL,
    user_id         text,
    graph_object_id text,
    upn             text NOT NULL,
    outcome         text NOT NULL,
    error_code      text,
    error_message   text,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, job_id, item_key)
);
CREATE INDEX job_items_user ON job_items (tenant_id, user_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['jobs', 'job_items'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
