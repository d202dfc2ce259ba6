-- The Microsoft 365 connection of each tenant as the admin API shows it (never a secret: the
-- sealed client secret and private key stay in the events), and the last compatibility check
-- of each domain.
CREATE TABLE microsoft365_connections (
    tenant_id              text PRIMARY KEY,
    entra_tenant_id        text NOT NULL,
    client_id              text NOT NULL,
    credential_type        text NOT NULL,          -- CLIENT_SECRET | CERTIFICATE
    certificate_pem        text,
    certificate_sha1       text,
    certificate_sha256     text,
    certificate_not_before timestamptz,
    certificate_not_after  timestamptz,
    login_base_url         text NOT NULL,
    graph_base_url         text NOT NULL,
    connected_at           timestamptz NOT NULL,
    last_test_at           timestamptz,
    last_test_succeeded    boolean,
    last_test_permissions  text,                   -- JSON array
    last_test_findings     text,                   -- JSON array of findings
    last_test_error        text                    -- JSON object (Graph's code, message, ids)
);

CREATE TABLE microsoft365_compatibility (
    tenant_id  text NOT NULL,
    domain     text NOT NULL,
    compatible boolean NOT NULL,
    findings   text NOT NULL,                      -- JSON array of findings
    checked_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['microsoft365_connections', 'microsoft365_compatibility'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
