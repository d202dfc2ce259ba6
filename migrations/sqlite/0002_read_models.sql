CREATE TABLE tenants (
    tenant_id              TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    default_usage_location TEXT,
    default_licenses       TEXT NOT NULL DEFAULT '',
    deprovision_action     TEXT NOT NULL,
    mfa_policy             TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE domains (
    tenant_id          TEXT NOT NULL,
    name               TEXT NOT NULL,
    verification_token TEXT NOT NULL,
    verified           INTEGER NOT NULL,
    federation         TEXT NOT NULL,
    added_at           TEXT NOT NULL,
    verified_at        TEXT,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE users (
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    upn            TEXT NOT NULL,
    domain         TEXT NOT NULL,
    immutable_id   TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    given_name     TEXT,
    surname        TEXT,
    mail           TEXT,
    status         TEXT NOT NULL,
    assigned       INTEGER NOT NULL,
    usage_location TEXT,
    password_set   INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX users_upn ON users (tenant_id, upn);

CREATE TABLE user_licenses (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    sku_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, sku_id)
);

CREATE TABLE groups (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id)
);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);

-- Operator keys belong to no tenant: their tenant_id is ''.
CREATE TABLE api_keys (
    tenant_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    revoked     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);
CREATE UNIQUE INDEX api_keys_secret ON api_keys (secret_hash);
