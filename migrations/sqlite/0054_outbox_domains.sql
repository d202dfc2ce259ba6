-- See the PostgreSQL migration of the same number.
CREATE TABLE outbox_domains (
    tenant_id TEXT NOT NULL,
    domain    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
