-- auditEvents' correlation id and actor filters as plain columns. Under row-level security
-- PostgreSQL applies the tenant policy before any condition that is not leakproof, and `->>` is
-- not: the expression indexes of 0040 went unused (a sequential scan per page). A comparison of
-- plain text columns is leakproof, so these indexes serve the filtered pages.
ALTER TABLE events ADD COLUMN correlation_id text GENERATED ALWAYS AS (metadata ->> 'correlation_id') STORED;
ALTER TABLE events ADD COLUMN actor text GENERATED ALWAYS AS (metadata ->> 'actor') STORED;
DROP INDEX events_tenant_correlation;
DROP INDEX events_tenant_actor;
CREATE INDEX events_tenant_correlation ON events (tenant_id, correlation_id, position);
CREATE INDEX events_tenant_actor ON events (tenant_id, actor, position);
