-- The sign-in endpoint's user lookup in one round trip. A read confined to a tenant otherwise
-- takes three (BEGIN with the tenant setting, the SELECT, COMMIT); this function sets the tenant
-- for its own statement (set_config local to the implicit transaction of one statement), so
-- row-level security still confines what it sees. SECURITY INVOKER: no rights of its own.
CREATE FUNCTION user_by_upn(p_tenant text, p_upn text) RETURNS SETOF users
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('tessera.tenant_id', p_tenant, true);
    RETURN QUERY SELECT * FROM users WHERE tenant_id = p_tenant AND upn = p_upn;
END
$$;
