-- The mirror's PostgreSQL roles, least privilege (README "Database roles").
--
--   owner   the processor's: owns schema stripe and everything in it, runs
--           the migrations; no superuser, CREATEDB, CREATEROLE, replication
--           or BYPASSRLS; on its database CONNECT, and CREATE because
--           migration 0001 says CREATE SCHEMA IF NOT EXISTS, which
--           PostgreSQL checks against that right even when the schema
--           exists (revoke it after the first start if you like: later
--           migrations make no schema); nothing in any other schema.
--           stripesync replay and rebuild write, and use it too.
--   reader  stripesync status, verify, dashboards, analysts: SELECT on
--           every table of schema stripe, those of later migrations too
--           (default privileges of the owner); nothing else.
--
-- Run it as a superuser, connected to the mirror's database (it grants on
-- the database it is connected to); it is idempotent, and on a database the
-- processor already migrated as another role it hands schema stripe and its
-- objects to the owner:
--
--   psql -v ON_ERROR_STOP=1 -d stripesync -f db/roles.sql
--   psql -v ON_ERROR_STOP=1 -d mirror -v owner=mirror_owner -v reader=mirror_reader -f db/roles.sql
--
-- The roles are made without passwords: set them with psql's \password
-- (it sends only a hash, so the password is in no log or history):
--
--   psql -d stripesync -c '\password stripesync_owner'
--
-- The script's own statements read the role names from two settings of the
-- session, set here from the psql variables, so that they need no psql
-- interpolation inside the DO blocks (psql does not interpolate there).
-- db/dbtest runs this very file, setting the same variables.

\if :{?owner}
\else
\set owner stripesync_owner
\endif
\if :{?reader}
\else
\set reader stripesync_reader
\endif

SET stripesync.owner = :'owner';
SET stripesync.reader = :'reader';

DO $roles$
DECLARE
    owner  text := current_setting('stripesync.owner');
    reader text := current_setting('stripesync.reader');
    r      record;
BEGIN
    IF owner = '' OR reader = '' OR owner = reader THEN
        RAISE EXCEPTION 'roles.sql: owner (%) and reader (%) must be two different role names', owner, reader;
    END IF;

    -- The roles, with only LOGIN, whatever they had before.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = owner) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', owner);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = reader) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', reader);
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', owner);
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', reader);

    -- The database: no right for PUBLIC (every role), CONNECT for the two.
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', current_database(), owner);
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM %I', current_database(), reader);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), reader);
    -- Before PostgreSQL 15 every role may create in schema public.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;

    -- Schema stripe, the owner's.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'stripe') THEN
        EXECUTE format('CREATE SCHEMA stripe AUTHORIZATION %I', owner);
    END IF;
    EXECUTE format('ALTER SCHEMA stripe OWNER TO %I', owner);
    -- goose kept its versions in public before they moved into stripe.
    IF to_regclass('public.goose_db_version') IS NOT NULL AND to_regclass('stripe.goose_db_version') IS NULL THEN
        ALTER TABLE public.goose_db_version SET SCHEMA stripe;
    END IF;
    -- What a processor running as another role made: tables (their
    -- indexes and identity sequences follow), other sequences, functions.
    FOR r IN
        SELECT c.relname FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'stripe'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LOOP
        EXECUTE format('ALTER TABLE stripe.%I OWNER TO %I', r.relname, owner);
    END LOOP;
    FOR r IN
        SELECT c.relname FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'stripe'::regnamespace AND c.relkind = 'S'
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                            WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER SEQUENCE stripe.%I OWNER TO %I', r.relname, owner);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS sig FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'stripe'::regnamespace
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.sig, owner);
    END LOOP;

    -- The reader: what is there, and what the owner's later migrations make.
    EXECUTE format('REVOKE CREATE ON SCHEMA stripe FROM %I', reader);
    EXECUTE format('GRANT USAGE ON SCHEMA stripe TO %I', reader);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA stripe TO %I', reader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA stripe GRANT SELECT ON TABLES TO %I', owner, reader);
END
$roles$;
