-- A user by id in one round trip (what every user mutation reads back), confined to its tenant
-- by row-level security as `user_by_upn` (0090) is: the function sets the tenant for its own
-- statement. SECURITY INVOKER: no rights of its own.
CREATE FUNCTION user_by_id(p_tenant text, p_user text) RETURNS SETOF users
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('tessera.tenant_id', p_tenant, true);
    RETURN QUERY SELECT * FROM users WHERE tenant_id = p_tenant AND user_id = p_user;
END
$$;
