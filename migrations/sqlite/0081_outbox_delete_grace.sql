-- See the PostgreSQL migration of the same number.
ALTER TABLE outbox_tenants ADD COLUMN delete_grace_hours INTEGER NOT NULL DEFAULT 72;
