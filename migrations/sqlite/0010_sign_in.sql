-- WS-Federation sign-in: the tenant's reply allow-list, MFA enrollment in the user list,
-- signing keys and sign-in attempts (read models), and the server-side sessions and failure
-- counters of the sign-in pages (operational state, not events).
ALTER TABLE tenants ADD COLUMN reply_urls TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN token_lifetime_minutes INTEGER;
ALTER TABLE users ADD COLUMN mfa_enrolled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE signing_keys (
    tenant_id       TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    status          TEXT NOT NULL,          -- ACTIVE | NEXT | RETIRED
    key_bits        INTEGER NOT NULL,
    certificate_pem TEXT NOT NULL,
    sha1_thumbprint TEXT NOT NULL,
    private_key     TEXT NOT NULL,          -- sealed (envelope ciphertext)
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    activated_at    TEXT,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE sign_ins (
    tenant_id    TEXT NOT NULL,
    sign_in_id   TEXT NOT NULL,              -- time-ordered UUID: the page order
    user_id      TEXT,
    upn          TEXT NOT NULL,
    succeeded    INTEGER NOT NULL,
    reason       TEXT,
    realm        TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    mfa_done     INTEGER NOT NULL,
    claims       TEXT,                       -- JSON of the claims issued
    occurred_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sign_in_id)
);
CREATE INDEX sign_ins_user ON sign_ins (tenant_id, user_id, sign_in_id);

CREATE TABLE wsfed_sessions (
    tenant_id         TEXT NOT NULL,
    session_hash      TEXT NOT NULL,         -- SHA-256 of the cookie value
    csrf_token        TEXT NOT NULL,
    user_id           TEXT,                  -- set once fully signed in
    auth_instant      TEXT,
    mfa_done          INTEGER NOT NULL DEFAULT 0,
    pending_user_id   TEXT,                  -- password verified, second factor outstanding
    pending_upn       TEXT,
    pending_totp_seed TEXT,                  -- sealed seed of an enrollment in progress
    created_at        TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
);

CREATE TABLE sign_in_throttle (
    tenant_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,              -- 'account:<upn>' or 'ip:<address>'
    failures     INTEGER NOT NULL,
    locked_until TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);

-- TOTP time steps already accepted per user (RFC 6238 5.2: a code is accepted once).
CREATE TABLE totp_used_steps (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    step      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, step)
);
