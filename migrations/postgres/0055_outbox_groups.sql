-- Groups pushed to Microsoft 365 as security groups, with their object id once created.
CREATE TABLE outbox_groups (
    tenant_id       text NOT NULL,
    group_id        text NOT NULL,
    graph_object_id text,
    PRIMARY KEY (tenant_id, group_id)
);
ALTER TABLE outbox_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_groups
    USING (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true));
