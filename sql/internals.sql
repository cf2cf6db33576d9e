--
-- The extension's internal functions: NULL-safe, their state as long-lived
-- as what owns it, and not callable by roles that have no business calling
-- them.
--

-- NULL arguments are an error or NULL, never a crash
SELECT csv_export._raise(NULL, 'x');
SELECT csv_export._raise('22023', NULL);
SELECT csv_export._raise(NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE lookup (id text PRIMARY KEY, name text);
INSERT INTO lookup VALUES ('a', 'one'), ('b', 'two');
SELECT csv_export._sync_match('lookup', NULL::record, false) IS NULL AS null_row;
SELECT csv_export._sync_match('lookup', ROW('a', 'one'), NULL) IS NULL AS null_flag;
SELECT csv_export._sync_match(NULL, ROW('a', 'one'), false) IS NULL AS null_target;
SELECT csv_export._sync_match('lookup', r, false) FROM (SELECT 'a'::text AS id, 'one'::text AS name) r;

-- _sync_match keeps its state per call site.  A PL/pgSQL expression is one
-- call site for the whole transaction: its first call here is in a
-- subtransaction that commits, the next in one that fails, then for
-- another target, then for a table dropped and created again, and each
-- call sees the rows as its own statement does.  No leak is reported and
-- every answer is right.
CREATE TABLE other_lookup (id text PRIMARY KEY, name text);
INSERT INTO other_lookup VALUES ('a', 'other');
CREATE FUNCTION match_row(target regclass, id text, name text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  found tid;
BEGIN
  SELECT id AS id, name AS name INTO r;
  found := csv_export._sync_match(target, r, false);
  RETURN coalesce(found::text, 'new');
END $$;
DO $$
DECLARE
  answer text;
BEGIN
  BEGIN
    answer := match_row('lookup', 'a', 'one');
    RAISE NOTICE 'in a subtransaction that commits: %', answer;
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  BEGIN
    answer := match_row('lookup', 'b', 'changed');
    RAISE NOTICE 'in a subtransaction that fails: %', answer;
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  RAISE NOTICE 'after both: a %, b %, c %', match_row('lookup', 'a', 'one'),
    match_row('lookup', 'b', 'two'), match_row('lookup', 'c', 'three');
  RAISE NOTICE 'another target: %', match_row('other_lookup', 'a', 'other');
  INSERT INTO lookup VALUES ('c', 'three');
  RAISE NOTICE 'a row inserted since: %', match_row('lookup', 'c', 'three');
  DROP TABLE other_lookup;
  CREATE TABLE other_lookup (id text PRIMARY KEY, name text);
  RAISE NOTICE 'the target dropped and created again: %', match_row('other_lookup', 'a', 'other');
  INSERT INTO other_lookup VALUES ('a', 'x');
  RAISE NOTICE 'and filled: %', match_row('other_lookup', 'a', 'other');
END $$;
-- the same inside one transaction block that then commits
BEGIN;
SELECT match_row('lookup', 'a', 'one'), match_row('lookup', 'b', 'zwei');
SAVEPOINT s;
SELECT match_row('lookup', 'a', 'eins');
ROLLBACK TO s;
SELECT match_row('lookup', 'a', 'one');
COMMIT;
-- a row type that is not the target's
SELECT csv_export._sync_match('lookup', r, false) FROM (SELECT 1 AS id, 'one'::text AS name) r;

-- a role with no business calling them cannot, nor run syncs
CREATE ROLE mallory;
GRANT USAGE ON SCHEMA csv_export TO mallory;
GRANT SELECT ON lookup TO mallory;
SELECT p.oid::regprocedure AS callable_by_mallory
  FROM pg_proc p
 WHERE p.pronamespace = 'csv_export'::regnamespace
   AND has_function_privilege('mallory', p.oid, 'EXECUTE')
 ORDER BY 1;
SET ROLE mallory;
SELECT csv_export._raise('XX000', 'crafted');
SELECT csv_export._sync_match('lookup', r, false) FROM (SELECT 'a'::text AS id, 'one'::text AS name) r;
CALL csv_export.sync('lookup', 'lookup');
SELECT csv_export.grant_sync('mallory');
RESET ROLE;

-- csv_export.grant_sync lets a role run syncs of the tables it may read
-- and write, and revoke_sync takes that back
CREATE ROLE sync_runner;
CREATE TABLE runner_source (id text PRIMARY KEY, name text);
INSERT INTO runner_source VALUES ('k1', 'one'), ('k2', 'two');
CREATE TABLE runner_target (id text PRIMARY KEY, name text);
GRANT SELECT ON runner_source TO sync_runner;
GRANT SELECT, INSERT, UPDATE ON runner_target TO sync_runner;
SELECT csv_export.grant_sync('sync_runner');
SET ROLE sync_runner;
CALL csv_export.sync('runner_source', 'runner_target');
RESET ROLE;
TABLE runner_target ORDER BY id;
SELECT csv_export.revoke_sync('sync_runner');
SET ROLE sync_runner;
CALL csv_export.sync('runner_source', 'runner_target');
RESET ROLE;
SELECT csv_export.grant_sync(NULL);

DROP TABLE runner_source, runner_target;
DELETE FROM csv_export.sync_log;
DELETE FROM csv_export.sync_state;
REVOKE ALL ON SCHEMA csv_export FROM mallory, sync_runner;
REVOKE ALL ON lookup FROM mallory;
DROP ROLE mallory, sync_runner;
