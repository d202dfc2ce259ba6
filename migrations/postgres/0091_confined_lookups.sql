-- Lookups a command makes on its hot path, each in one round trip, confined to the tenant by
-- row-level security as `user_by_upn` (0090) is: the function sets the tenant for its own
-- statement. SECURITY INVOKER: no rights of their own.

-- A user by id: what every user mutation reads back.
CREATE FUNCTION user_by_id(p_tenant text, p_user text) RETURNS SETOF users
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('tessera.tenant_id', p_tenant, true);
    RETURN QUERY SELECT * FROM users WHERE tenant_id = p_tenant AND user_id = p_user;
END
$$;

-- A subscribed SKU's units: what grantLicense checks first.
CREATE FUNCTION microsoft365_sku(p_tenant text, p_sku text) RETURNS SETOF microsoft365_skus
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('tessera.tenant_id', p_tenant, true);
    RETURN QUERY SELECT * FROM microsoft365_skus WHERE tenant_id = p_tenant AND sku_id = p_sku;
END
$$;
