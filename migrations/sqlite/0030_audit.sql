-- The audit trail (see migrations/postgres/0030_audit.sql for the meaning of each table).
CREATE TABLE request_origins (
    tenant_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    client_ip   TEXT,
    user_agent  TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
);

CREATE TABLE audit_chain (
    tenant_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    hash      TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX audit_chain_position ON audit_chain (tenant_id, position);

CREATE TABLE audit_keys (
    tenant_id          TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    public_key_pem     TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE audit_checkpoints (
    tenant_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    head_hash TEXT    NOT NULL,
    key_id    TEXT    NOT NULL,
    signed_at TEXT    NOT NULL,
    signature TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
