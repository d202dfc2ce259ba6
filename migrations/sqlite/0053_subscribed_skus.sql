-- See the PostgreSQL migration of the same number.
CREATE TABLE microsoft365_skus (
    tenant_id       TEXT NOT NULL,
    sku_id          TEXT NOT NULL,
    sku_part_number TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    consumed        INTEGER NOT NULL,
    refreshed_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sku_id)
);
