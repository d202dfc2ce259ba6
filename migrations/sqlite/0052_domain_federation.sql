-- See the PostgreSQL migration of the same number.
ALTER TABLE domains ADD COLUMN issuer_uri TEXT;
ALTER TABLE domains ADD COLUMN federation_error TEXT;
