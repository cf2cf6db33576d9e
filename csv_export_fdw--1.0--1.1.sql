/* csv_export_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.1'" to load this file. \quit

/*
 * Version 1.1 is 1.0 with this script applied, for a new installation too
 * (CREATE EXTENSION runs both): one definition of every object, and the
 * update path is what every test installs.
 */

--
-- Internal functions are not for PUBLIC.  Roles that run syncs get what
-- they need from csv_export.grant_sync (see README, "Security model").
--
ALTER FUNCTION csv_export._sync_match(regclass, record) STRICT;

-- NULL sqlstate or message is refused in C; the rest may be NULL
REVOKE ALL ON FUNCTION csv_export._transaction_control_allowed(),
                       csv_export._report(text),
                       csv_export._raise(text, text, text, text, text, text),
                       csv_export._sync_match(regclass, record),
                       csv_export._sync_match_rows(),
                       csv_export._qualified_name(regclass),
                       csv_export._columns(regclass),
                       csv_export._direct_merge_possible(regclass),
                       csv_export._check_sync_arguments(text, boolean),
                       csv_export._sync_statements(regclass, regclass, text, text),
                       csv_export._require_pg_cron()
  FROM PUBLIC;
REVOKE ALL ON PROCEDURE csv_export.sync(regclass, regclass, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean),
                       csv_export.unschedule(text)
  FROM PUBLIC;

-- A role that may read csv_export.rejects sees the rejects of the foreign
-- tables it may read, and no others.  Scans write rejects as the owner of
-- this table, whom the policy does not restrict.
ALTER TABLE csv_export.rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY rejects_of_readable_tables ON csv_export.rejects FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));

-- what a role needs to run, schedule and unschedule syncs of the tables it
-- may read and write
CREATE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ARRAY['csv_export.sync(regclass,regclass,text,boolean)',
               'csv_export.schedule(text,text,regclass,regclass,text,boolean)',
               'csv_export.unschedule(text)',
               'csv_export._transaction_control_allowed()',
               'csv_export._report(text)',
               'csv_export._raise(text,text,text,text,text,text)',
               'csv_export._sync_match(regclass,record)',
               'csv_export._sync_match_rows()',
               'csv_export._qualified_name(regclass)',
               'csv_export._columns(regclass)',
               'csv_export._direct_merge_possible(regclass)',
               'csv_export._check_sync_arguments(text,boolean)',
               'csv_export._sync_statements(regclass,regclass,text,text)',
               'csv_export._require_pg_cron()']::regprocedure[]
$$;
REVOKE ALL ON FUNCTION csv_export._sync_routines() FROM PUBLIC;

CREATE FUNCTION csv_export.grant_sync(runner regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  routine regprocedure;
BEGIN
  IF runner IS NULL THEN
    RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA csv_export TO %s', runner);
  FOREACH routine IN ARRAY csv_export._sync_routines() LOOP
    EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', routine, runner);
  END LOOP;
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON csv_export.sync_state, csv_export.sync_log TO %s',
                 runner);
  -- a sync counts the rows its scan rejected
  EXECUTE format('GRANT SELECT ON csv_export.rejects TO %s', runner);
END $$;

CREATE FUNCTION csv_export.revoke_sync(runner regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  routine regprocedure;
BEGIN
  IF runner IS NULL THEN
    RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  FOREACH routine IN ARRAY csv_export._sync_routines() LOOP
    EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM %s', routine, runner);
  END LOOP;
  EXECUTE format('REVOKE SELECT, INSERT, UPDATE ON csv_export.sync_state, csv_export.sync_log FROM %s',
                 runner);
  EXECUTE format('REVOKE SELECT ON csv_export.rejects FROM %s', runner);
END $$;
REVOKE ALL ON FUNCTION csv_export.grant_sync(regrole), csv_export.revoke_sync(regrole) FROM PUBLIC;
