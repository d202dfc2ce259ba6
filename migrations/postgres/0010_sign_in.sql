-- WS-Federation sign-in: the tenant's reply allow-list, MFA enrollment in the user list,
-- signing keys and sign-in attempts (read models), and the server-side sessions and failure
-- counters of the sign-in pages (operational state, not events).
ALTER TABLE tenants ADD COLUMN reply_urls text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN token_lifetime_minutes bigint;
ALTER TABLE users ADD COLUMN mfa_enrolled boolean NOT NULL DEFAULT false;

CREATE TABLE signing_keys (
    tenant_id       text NOT NULL,
    key_id          text NOT NULL,
    status          text NOT NULL,          -- ACTIVE | NEXT | RETIRED
    key_bits        bigint NOT NULL,
    certificate_pem text NOT NULL,
    sha1_thumbprint text NOT NULL,
    private_key     text NOT NULL,          -- sealed (envelope ciphertext)
    not_before      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    activated_at    timestamptz,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE sign_ins (
    tenant_id    text NOT NULL,
    sign_in_id   text NOT NULL,              -- time-ordered UUID: the page order
    user_id      text,
    upn          text NOT NULL,
    succeeded    boolean NOT NULL,
    reason       text,
    realm        text NOT NULL,
    ip           text NOT NULL,
    user_agent   text NOT NULL,
    mfa_done     boolean NOT NULL,
    claims       text,                       -- JSON of the claims issued
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sign_in_id)
);
CREATE INDEX sign_ins_user ON sign_ins (tenant_id, user_id, sign_in_id);

CREATE TABLE wsfed_sessions (
    tenant_id         text NOT NULL,
    session_hash      text NOT NULL,         -- SHA-256 of the cookie value
    csrf_token        text NOT NULL,
    user_id           text,                  -- set once fully signed in
    auth_instant      timestamptz,
    mfa_done          boolean NOT NULL DEFAULT false,
    pending_user_id   text,                  -- password verified, second factor outstanding
    pending_upn       text,
    pending_totp_seed text,                  -- sealed seed of an enrollment in progress
    created_at        timestamptz NOT NULL,
    last_seen_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
);

CREATE TABLE sign_in_throttle (
    tenant_id    text NOT NULL,
    subject      text NOT NULL,              -- 'account:<upn>' or 'ip:<address>'
    failures     bigint NOT NULL,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);

-- TOTP time steps already accepted per user (RFC 6238 5.2: a code is accepted once).
CREATE TABLE totp_used_steps (
    tenant_id text NOT NULL,
    user_id   text NOT NULL,
    step      bigint NOT NULL,
    PRIMARY KEY (tenant_id, user_id, step)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['signing_keys', 'sign_ins', 'wsfed_sessions', 'sign_in_throttle', 'totp_used_steps'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
