-- Crypto-shredding of personal data (see migrations/postgres/0060_personal_data.sql).
CREATE TABLE personal_data_keys (
    tenant_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);
CREATE INDEX personal_data_keys_subject ON personal_data_keys (tenant_id, subject);

CREATE TABLE pseudonym_secrets (
    tenant_id      TEXT PRIMARY KEY,
    wrapped_secret TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sign_ins ADD COLUMN account TEXT;
ALTER TABLE sign_ins ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sign_ins_account ON sign_ins (tenant_id, account);
