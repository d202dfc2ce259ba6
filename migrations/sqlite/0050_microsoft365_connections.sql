-- The Microsoft 365 connection of each tenant as the admin API shows it (never a secret), and
-- the last compatibility check of each domain.
CREATE TABLE microsoft365_connections (
    tenant_id              TEXT PRIMARY KEY,
    entra_tenant_id        TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    credential_type        TEXT NOT NULL,
    certificate_pem        TEXT,
    certificate_sha1       TEXT,
    certificate_sha256     TEXT,
    certificate_not_before TEXT,
    certificate_not_after  TEXT,
    login_base_url         TEXT NOT NULL,
    graph_base_url         TEXT NOT NULL,
    connected_at           TEXT NOT NULL,
    last_test_at           TEXT,
    last_test_succeeded    INTEGER,
    last_test_permissions  TEXT,
    last_test_findings     TEXT,
    last_test_error        TEXT
);

CREATE TABLE microsoft365_compatibility (
    tenant_id  TEXT NOT NULL,
    domain     TEXT NOT NULL,
    compatible INTEGER NOT NULL,
    findings   TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
