-- Domains Microsoft 365 federates with Tessera, as the outbox projection needs them: a signing-key
-- rollover derives an UPDATE_FEDERATION task for each.
CREATE TABLE outbox_domains (
    tenant_id text NOT NULL,
    domain    text NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
ALTER TABLE outbox_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_domains
    USING (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true));
