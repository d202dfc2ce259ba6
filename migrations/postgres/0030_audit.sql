-- The audit trail.
--
-- request_origins: where a request that changed something came from. Personal data with its own
-- retention, so it lives beside the events (joined by metadata->>'request_id'), not in them.
CREATE TABLE request_origins (
    tenant_id   text NOT NULL,
    request_id  text NOT NULL,
    client_ip   text,
    user_agent  text,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
);

-- One hash-chain link per event, per tenant (tenant '' holds events of no tenant: operator keys).
-- seq counts a tenant's events from 1 in commit order; hash = SHA-256(previous hash, event).
CREATE TABLE audit_chain (
    tenant_id text   NOT NULL,
    seq       bigint NOT NULL,
    position  bigint NOT NULL,
    hash      text   NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX audit_chain_position ON audit_chain (tenant_id, position);

-- Each tenant's Ed25519 audit key; the private half sealed with the master key.
CREATE TABLE audit_keys (
    tenant_id          text NOT NULL,
    key_id             text NOT NULL,
    public_key_pem     text NOT NULL,
    private_key_sealed text NOT NULL,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);

-- Signed chain heads: the tenant's chain up to seq ends in head_hash, signed by key_id.
CREATE TABLE audit_checkpoints (
    tenant_id text        NOT NULL,
    seq       bigint      NOT NULL,
    position  bigint      NOT NULL,
    head_hash text        NOT NULL,
    key_id    text        NOT NULL,
    signed_at timestamptz NOT NULL,
    signature text        NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['request_origins', 'audit_chain', 'audit_keys', 'audit_checkpoints'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
