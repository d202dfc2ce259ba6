-- Group membership as the outbox knows it, kept whether or not the tenant is connected, so that
-- connecting Microsoft 365 later pushes the groups and members made before (issue 4, item 5).
CREATE TABLE outbox_group_members (
    tenant_id text NOT NULL,
    group_id  text NOT NULL,
    user_id   text NOT NULL,
    -- An ADD_GROUP_MEMBER task was derived for it (so a reconnection does not queue another).
    queued    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
ALTER TABLE outbox_group_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_group_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_group_members
    USING (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true));

-- A deleted group is never pushed on a later connection.
ALTER TABLE outbox_groups ADD COLUMN deleted boolean NOT NULL DEFAULT false;
