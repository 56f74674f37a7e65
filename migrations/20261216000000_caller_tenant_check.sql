-- The API's check that a caller's tenant is still registered and active, made in the statement
-- that begins each of the caller's transactions (`db::begin_for_caller`). The API remembers
-- which tenant an Entra tenant is, so a request needs one transaction instead of a lookup
-- transaction and then its own (issue 15). Runs as the caller, under row-level security: a
-- tenant sees its own row.
CREATE FUNCTION azcops_require_active_tenant(tenant uuid) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    active boolean;
BEGIN
    SELECT t.is_active INTO active FROM tenants t WHERE t.id = tenant;
    IF active IS NULL THEN
        RAISE EXCEPTION 'tenant % is not registered', tenant USING ERRCODE = 'AZ404';
    ELSIF NOT active THEN
        RAISE EXCEPTION 'tenant % is deactivated', tenant USING ERRCODE = 'AZ403';
    END IF;
END
$$;
