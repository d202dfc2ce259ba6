-- See the PostgreSQL migration of the same number.
ALTER TABLE outbox_users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_users ADD COLUMN missed INTEGER NOT NULL DEFAULT 0;
