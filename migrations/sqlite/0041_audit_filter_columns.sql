-- auditEvents' correlation id and actor filters as plain columns, as on PostgreSQL (where
-- row-level security needs them); the same queries serve both stores.
ALTER TABLE events ADD COLUMN correlation_id TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.correlation_id')) VIRTUAL;
ALTER TABLE events ADD COLUMN actor TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.actor')) VIRTUAL;
DROP INDEX events_tenant_correlation;
DROP INDEX events_tenant_actor;
CREATE INDEX events_tenant_correlation ON events (tenant_id, correlation_id, position);
CREATE INDEX events_tenant_actor ON events (tenant_id, actor, position);
