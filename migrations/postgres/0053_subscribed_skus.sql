-- The licenses each tenant's Microsoft 365 subscribes to, as the last refreshLicenses saw them
-- (units left = enabled - consumed).
CREATE TABLE microsoft365_skus (
    tenant_id       text NOT NULL,
    sku_id          text NOT NULL,
    sku_part_number text NOT NULL,
    enabled         bigint NOT NULL,
    consumed        bigint NOT NULL,
    refreshed_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sku_id)
);
ALTER TABLE microsoft365_skus ENABLE ROW LEVEL SECURITY;
ALTER TABLE microsoft365_skus FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON microsoft365_skus
    USING (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (current_setting('tessera.system', true) = 'on' OR tenant_id = current_setting('tessera.tenant_id', true));
