-- Crypto-shredding of personal data (docs/personal-data.md).
--
-- personal_data_keys: one AES-256-GCM data key per subject (a user, or the pseudonym of a UPN
-- that named no user), wrapped by the master key. Personal values in event payloads are sealed
-- under them; forgetting a person deletes their rows, and the values become unreadable.
CREATE TABLE personal_data_keys (
    tenant_id   text        NOT NULL,
    key_id      text        NOT NULL,
    subject     text        NOT NULL,           -- 'user:<user id>' or 'account:<UPN pseudonym>'
    wrapped_key text        NOT NULL,           -- envelope ciphertext (master key)
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);
CREATE INDEX personal_data_keys_subject ON personal_data_keys (tenant_id, subject);

-- Each tenant's secret for pseudonyms (HMAC-SHA256 of UPNs and IP addresses), wrapped by the
-- master key.
CREATE TABLE pseudonym_secrets (
    tenant_id      text PRIMARY KEY,
    wrapped_secret text        NOT NULL,
    created_at     timestamptz NOT NULL
);

-- Read models say which rows lost personal data to forgetting.
ALTER TABLE users ADD COLUMN forgotten boolean NOT NULL DEFAULT false;
ALTER TABLE sign_ins ADD COLUMN account text;   -- pseudonym of the UPN as typed
ALTER TABLE sign_ins ADD COLUMN forgotten boolean NOT NULL DEFAULT false;
CREATE INDEX sign_ins_account ON sign_ins (tenant_id, account);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['personal_data_keys', 'pseudonym_secrets'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
