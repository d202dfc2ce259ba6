-- A second wall behind the tenant filter every read function applies: rows of a tenant are
-- visible only inside a transaction that set `tessera.tenant_id` to that tenant, or on a
-- connection of the system pool (event store, projectors, operator reads), which sets
-- `tessera.system = on` when it connects. FORCE makes the policies bind the table owner too;
-- the application role must not be a superuser or have BYPASSRLS.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'tenants', 'domains', 'users', 'user_licenses', 'groups', 'group_members', 'api_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))
            WITH CHECK (current_setting('tessera.system', true) = 'on'
                   OR tenant_id = current_setting('tessera.tenant_id', true))$p$, t);
    END LOOP;
END $$;
