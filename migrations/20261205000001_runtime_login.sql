-- The runtime login owns nothing and can only become azcops_app.
--
-- Migrations run as an owner role (the PostgreSQL administrator, in the `azcops migrate` deploy
-- step), which owns every table, function and sequence. The application connects as a separate
-- login that deployments make a member of `azcops_runtime`:
--
--     CREATE ROLE azcops_api LOGIN PASSWORD '…';   -- or, in Azure, pgaadauth_create_principal
--     GRANT azcops_runtime TO azcops_api;
--
-- azcops_runtime is NOINHERIT: its members do not hold azcops_app's table privileges until they
-- switch to it (db::begin does, first thing in every transaction), so whatever the login runs
-- runs under row-level security. Neither role owns anything, so neither can disable a trigger,
-- drop or alter a table, or turn row-level security off; neither has BYPASSRLS; azcops_app
-- may only SELECT and INSERT audit rows (migration 5).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'azcops_runtime') THEN
        CREATE ROLE azcops_runtime NOLOGIN NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another database's migration in the same cluster
END
$$;

-- Roles are cluster-wide and may predate this migration: make sure neither can log in directly
-- or escape row-level security. Altered only when needed, since the migrations of several
-- databases of one cluster may run at once (a concurrent ALTER ROLE fails with "tuple
-- concurrently updated"). A migration role without CREATEROLE cannot alter them: the notice
-- then leaves it to the administrator.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'azcops_app'
               AND (rolcanlogin OR rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls
                    OR rolreplication)) THEN
        ALTER ROLE azcops_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
            NOREPLICATION;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'azcops_runtime'
               AND (rolcanlogin OR rolinherit OR rolsuper OR rolcreatedb OR rolcreaterole
                    OR rolbypassrls OR rolreplication)) THEN
        ALTER ROLE azcops_runtime NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE
            NOBYPASSRLS NOREPLICATION;
    END IF;
EXCEPTION WHEN insufficient_privilege OR internal_error THEN
    RAISE NOTICE 'could not check the attributes of azcops_app and azcops_runtime: %', SQLERRM;
END
$$;

-- Members of azcops_runtime may SET ROLE azcops_app. On PostgreSQL 16 and later the grant's
-- INHERIT option follows azcops_runtime's NOINHERIT, so it is FALSE as on earlier versions.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members
                   WHERE roleid = 'azcops_app'::regrole AND member = 'azcops_runtime'::regrole) THEN
        GRANT azcops_app TO azcops_runtime;
    END IF;
EXCEPTION WHEN unique_violation OR internal_error THEN
    NULL; -- granted concurrently by another database's migration in the same cluster
END
$$;

-- The Cost Management query budget (migration 6) is shared operational state without tenant
-- rows: its transactions take an advisory lock and run as the login itself (PgQpuBudget), so
-- the login's group needs exactly these rights on it (UPDATE for the hold's upsert).
GRANT SELECT, INSERT, UPDATE, DELETE ON cost_query_spend, cost_query_holds TO azcops_runtime;

-- Nobody but the owner creates objects in this database: no tables in `public` (PostgreSQL 15
-- already refuses PUBLIC there; earlier versions did not), no temporary tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'could not revoke TEMPORARY on the database from PUBLIC: %', SQLERRM;
END
$$;
