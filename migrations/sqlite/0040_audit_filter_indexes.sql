-- Indexes behind auditEvents' filters, so a filtered page over a long history reads only the
-- matching events (in position order) instead of scanning the tenant's whole history.
CREATE INDEX events_tenant_aggregate ON events (tenant_id, aggregate_id, position);
CREATE INDEX events_tenant_event_type ON events (tenant_id, event_type, position);
CREATE INDEX events_tenant_correlation ON events (tenant_id, (metadata ->> 'correlation_id'), position);
CREATE INDEX events_tenant_actor ON events (tenant_id, (metadata ->> 'actor'), position);
