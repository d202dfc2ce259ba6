CREATE TABLE tenants (
    tenant_id              text PRIMARY KEY,
    name                   text NOT NULL,
    status                 text NOT NULL,
    default_usage_location text,
    default_licenses       text NOT NULL DEFAULT '',
    deprovision_action     text NOT NULL,
    mfa_policy             text NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

CREATE TABLE domains (
    tenant_id          text NOT NULL,
    name               text NOT NULL,
    verification_token text NOT NULL,
    verified           boolean NOT NULL,
    federation         text NOT NULL,
    added_at           timestamptz NOT NULL,
    verified_at        timestamptz,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE users (
    tenant_id      text NOT NULL,
    user_id        text NOT NULL,
    upn            text NOT NULL,
    domain         text NOT NULL,
    immutable_id   text NOT NULL,
    display_name   text NOT NULL,
    given_name     text,
    surname        text,
    mail           text,
    status         text NOT NULL,
    assigned       boolean NOT NULL,
    usage_location text,
    password_set   boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX users_upn ON users (tenant_id, upn);

CREATE TABLE user_licenses (
    tenant_id text NOT NULL,
    user_id   text NOT NULL,
    sku_id    text NOT NULL,
    PRIMARY KEY (tenant_id, user_id, sku_id)
);

CREATE TABLE groups (
    tenant_id   text NOT NULL,
    group_id    text NOT NULL,
    name        text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_id)
);

CREATE TABLE group_members (
    tenant_id text NOT NULL,
    group_id  text NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);

-- Operator keys belong to no tenant: their tenant_id is ''.
CREATE TABLE api_keys (
    tenant_id   text NOT NULL,
    key_id      text NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL,
    secret_hash text NOT NULL,
    revoked     boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);
CREATE UNIQUE INDEX api_keys_secret ON api_keys (secret_hash);
