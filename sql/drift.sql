--
-- Schema drift and history: an export that gains, loses and retypes
-- columns between runs (the foreign table's path moves from one fixture to
-- the next), followed inside the sync's transaction, by a role that owns
-- the tables and is no superuser.
--
SET timezone = 'UTC';
CREATE SERVER drift_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE ROLE drift_owner;
CREATE ROLE drift_runner;
GRANT USAGE ON FOREIGN SERVER drift_api TO drift_owner;
GRANT CREATE ON SCHEMA public TO drift_owner;
SELECT csv_export.grant_sync('drift_owner'), csv_export.grant_sync('drift_runner');
CREATE USER MAPPING FOR drift_owner SERVER drift_api;
CREATE USER MAPPING FOR drift_runner SERVER drift_api;
-- a listener hears of each change
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT dblink_connect('listener', :'conninfo');
SELECT dblink_exec('listener', 'LISTEN csv_export');
SET ROLE drift_owner;

CREATE FOREIGN TABLE accounts_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_1.csv');
CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
CALL csv_export.sync('accounts_export', 'accounts');

-- The export gains three columns.  The default, 'ignore', reads on as before.
ALTER FOREIGN TABLE accounts_export OPTIONS (SET path '/fixtures/drift_2.csv');
CALL csv_export.sync('accounts_export', 'accounts');
SELECT * FROM accounts ORDER BY id;

-- 'fail' names them; the run is recorded failed and nothing changed
\set VERBOSITY default
CALL csv_export.sync('accounts_export', 'accounts', on_new_columns => 'fail');
\set VERBOSITY terse
SELECT status, error_sqlstate FROM csv_export.runs
 WHERE target = 'accounts'::regclass ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'accounts_export'::regclass AND attnum > 0;

-- 'add': to the foreign table and the target, typed as IMPORT types them
-- (the header's name kept, as the table's names were), filled by this run
CALL csv_export.sync('accounts_export', 'accounts', on_new_columns => 'add');
SELECT * FROM accounts ORDER BY id;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'accounts_export'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'accounts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT target, foreign_table, column_name, action, column_type,
       run_id = (SELECT max(run_id) FROM csv_export.runs) AS this_run
  FROM csv_export.schema_changes ORDER BY change_id;
RESET ROLE;
SELECT pg_sleep(0.5);
SELECT extra::jsonb - 'run_id' AS payload FROM dblink_get_notify('listener');
SELECT dblink_disconnect('listener');
DROP EXTENSION dblink;
SET ROLE drift_owner;
-- and the next run has nothing to add
CALL csv_export.sync('accounts_export', 'accounts', on_new_columns => 'add');
SELECT count(*) AS changes FROM csv_export.schema_changes;

-- A column vanishes (name).  The default fails as the scan always did.
ALTER FOREIGN TABLE accounts_export OPTIONS (SET path '/fixtures/drift_3.csv');
CALL csv_export.sync('accounts_export', 'accounts');
-- 'null': read as NULL, the target's names left alone, a new row's NULL;
-- recorded when it goes missing, said (not recorded) on the next run
CALL csv_export.sync('accounts_export', 'accounts', on_missing_columns => 'null');
SELECT id, name, "Plan Tier", seats FROM accounts ORDER BY id;
CALL csv_export.sync('accounts_export', 'accounts', on_missing_columns => 'null');
-- back again
ALTER FOREIGN TABLE accounts_export OPTIONS (SET path '/fixtures/drift_2.csv');
CALL csv_export.sync('accounts_export', 'accounts', on_missing_columns => 'null');
SELECT column_name, action FROM csv_export.schema_changes
 WHERE action IN ('missing', 'returned') ORDER BY change_id;
SELECT id, name FROM accounts ORDER BY id;

-- The drift is undone with the data when the run fails later: a target
-- constraint rejects a row the new column brings.
CREATE FOREIGN TABLE strict_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_2.csv');
CREATE TABLE strict_target (id bigint PRIMARY KEY, name text, seats bigint CHECK (seats < 10));
CALL csv_export.sync('strict_export', 'strict_target', on_new_columns => 'add');
SELECT attname FROM pg_attribute
 WHERE attrelid = 'strict_export'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS rows FROM strict_target;
SELECT count(*) AS changes FROM csv_export.schema_changes
 WHERE foreign_table = 'strict_export'::regclass;
SELECT status, error_sqlstate FROM csv_export.runs
 WHERE target = 'strict_target'::regclass ORDER BY run_id DESC LIMIT 1;

-- A table imported with normalize_names gets its new columns named so.
IMPORT FOREIGN SCHEMA ignored FROM SERVER drift_api INTO public
  OPTIONS (path '/fixtures/drift_1.csv', table_name 'normalized_export',
           normalize_names 'true');
CREATE TABLE normalized (id bigint PRIMARY KEY, name text);
ALTER FOREIGN TABLE normalized_export OPTIONS (SET path '/fixtures/drift_2.csv');
CALL csv_export.sync('normalized_export', 'normalized', on_new_columns => 'add');
SELECT attname, format_type(atttypid, atttypmod), attfdwoptions FROM pg_attribute
 WHERE attrelid = 'normalized_export'::regclass AND attnum > 0 ORDER BY attnum;
SELECT id, plan_tier, seats FROM normalized ORDER BY id;

-- A value that does not fit the type IMPORT's sample gave (row 1150 of
-- 1200 in a column of integers): the column is added as text instead, and
-- every row arrives.
CREATE FOREIGN TABLE scores_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_widen.csv');
CREATE TABLE scores (id bigint PRIMARY KEY, name text);
CALL csv_export.sync('scores_export', 'scores', on_new_columns => 'add');
SELECT count(*), count(score), max(id) FROM scores;
SELECT score FROM scores WHERE id IN (1, 1150) ORDER BY id;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'scores'::regclass AND attname = 'score';
-- ... and one added as bigint in an earlier run is widened when a later
-- export's value does not fit, on the foreign table and in the target
CREATE FOREIGN TABLE later_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_score_1.csv');
CREATE TABLE later (id bigint PRIMARY KEY, name text);
CALL csv_export.sync('later_export', 'later', on_new_columns => 'add');
ALTER FOREIGN TABLE later_export OPTIONS (SET path '/fixtures/drift_score_2.csv');
CALL csv_export.sync('later_export', 'later', on_new_columns => 'add');
SELECT * FROM later ORDER BY id;
SELECT attrelid::regclass, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid IN ('later_export'::regclass, 'later'::regclass) AND attname = 'score'
 ORDER BY 1;
SELECT column_name, action, column_type FROM csv_export.schema_changes
 WHERE foreign_table = 'later_export'::regclass ORDER BY change_id;
-- ... also where on_error 'skip' would have rejected the row
CREATE FOREIGN TABLE skip_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_score_1.csv', on_error 'skip');
CREATE TABLE skip_target (id bigint PRIMARY KEY, name text);
CALL csv_export.sync('skip_export', 'skip_target', on_new_columns => 'add');
ALTER FOREIGN TABLE skip_export OPTIONS (SET path '/fixtures/drift_score_2.csv');
CALL csv_export.sync('skip_export', 'skip_target', on_new_columns => 'add');
SELECT * FROM skip_target ORDER BY id;
-- without 'add' such a value is the scan's error, as always
CREATE FOREIGN TABLE typed_export (id bigint, name text, score bigint)
  SERVER drift_api OPTIONS (path '/fixtures/drift_score_2.csv');
CREATE TABLE typed (id bigint PRIMARY KEY, name text, score bigint);
CALL csv_export.sync('typed_export', 'typed');
SELECT count(*) FROM typed;

-- refresh_columns: the same, on demand, without a sync
CREATE FOREIGN TABLE refresh_export (id bigint)
  SERVER drift_api OPTIONS (path '/fixtures/drift_3.csv');
CREATE TABLE refresh_target (id bigint PRIMARY KEY);
SELECT column_name, action, column_type, target
  FROM csv_export.refresh_columns('refresh_export', 'refresh_target');
SELECT attname FROM pg_attribute WHERE attrelid = 'refresh_target'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT count(*) FROM csv_export.refresh_columns('refresh_export');

-- dry_run says what it would add, and adds nothing
ALTER FOREIGN TABLE strict_export OPTIONS (SET path '/fixtures/drift_2.csv');
CALL csv_export.sync('strict_export', 'strict_target', on_new_columns => 'add', dry_run => true);
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'strict_export'::regclass AND attnum > 0;

RESET ROLE;

-- A runner who may sync but does not own the tables cannot add columns:
-- the run fails on the DDL, and nothing changed.
GRANT SELECT ON strict_export TO drift_runner;
GRANT SELECT, INSERT, UPDATE ON strict_target TO drift_runner;
SET ROLE drift_runner;
CALL csv_export.sync('strict_export', 'strict_target', on_new_columns => 'add');
-- nor read another table's export through the internal function
SELECT * FROM csv_export._export_columns('accounts_export');
SELECT csv_export._record_schema_change(NULL, 'accounts', 'accounts_export', 'x', 'added', 'text');
RESET ROLE;
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'strict_export'::regclass AND attnum > 0;
-- arguments are checked
CALL csv_export.sync('strict_export', 'strict_target', on_new_columns => 'sometimes');
CALL csv_export.sync('strict_export', 'strict_target', on_missing_columns => NULL);
SELECT * FROM csv_export._export_columns(NULL);
SELECT * FROM csv_export._export_columns('strict_target');

--
-- History: every version of a row, closed and opened by the sync
--
SET ROLE drift_owner;
CREATE FOREIGN TABLE people_export (id bigint, name text)
  SERVER drift_api OPTIONS (path '/fixtures/drift_1.csv');
CREATE TABLE people (id bigint, name text,
                     _valid_from timestamptz, _valid_to timestamptz, _current boolean,
                     PRIMARY KEY (id, _valid_from));
CREATE UNIQUE INDEX people_current ON people (id) WHERE _current;
-- run 1 inserts, run 2 changes Bob, run 3 (delete_missing) closes Cy
CALL csv_export.sync('people_export', 'people', history => true);
ALTER FOREIGN TABLE people_export OPTIONS (SET path '/fixtures/drift_2.csv');
CALL csv_export.sync('people_export', 'people', history => true, dry_run => true);
CALL csv_export.sync('people_export', 'people', history => true);
ALTER FOREIGN TABLE people_export OPTIONS (SET path '/fixtures/drift_4.csv');
CALL csv_export.sync('people_export', 'people', history => true, delete_missing => true);
CREATE TEMPORARY TABLE run_times AS
  SELECT row_number() OVER (ORDER BY run_id) AS run, started_at FROM csv_export.runs
   WHERE target = 'people'::regclass AND status = 'succeeded';
SELECT p.id, p.name, p._current, f.run AS valid_from_run, t.run AS valid_to_run
  FROM people p
  JOIN run_times f ON f.started_at = p._valid_from
  LEFT JOIN run_times t ON t.started_at = p._valid_to
 ORDER BY p.id, p._valid_from;
-- an unchanged run writes nothing
CREATE TEMPORARY TABLE before_run AS SELECT ctid AS at, xmin::text AS x FROM people;
CALL csv_export.sync('people_export', 'people', history => true, delete_missing => true);
SELECT count(*) AS rewritten FROM people p
 WHERE NOT EXISTS (SELECT 1 FROM before_run b WHERE b.at = p.ctid AND b.x = p.xmin::text);
-- as of the time between run 1 and run 2: the first versions
SELECT id, name FROM people
 WHERE _valid_from <= (SELECT started_at FROM run_times WHERE run = 1)
   AND (_valid_to IS NULL OR _valid_to > (SELECT started_at FROM run_times WHERE run = 1))
 ORDER BY id;
-- Bob's old name and Cy come back: new current versions
ALTER FOREIGN TABLE people_export OPTIONS (SET path '/fixtures/drift_1.csv');
CALL csv_export.sync('people_export', 'people', history => true);
SELECT id, name, _current FROM people WHERE id = 3 ORDER BY _valid_from;
-- incremental: only rows from the checkpoint on are compared; k2, the
-- checkpoint's own row, is unchanged and gets no new version
CREATE FOREIGN TABLE timeline_export (id text, name text, "updatedAt" timestamptz)
  SERVER drift_api OPTIONS (path '/fixtures/cursor_boundary_1.csv');
CREATE TABLE timeline (id text, name text, "updatedAt" timestamptz,
                       _valid_from timestamptz, _valid_to timestamptz, _current boolean,
                       PRIMARY KEY (id, _valid_from));
CALL csv_export.sync('timeline_export', 'timeline', cursor_column => 'updatedAt', history => true);
ALTER FOREIGN TABLE timeline_export OPTIONS (SET path '/fixtures/cursor_boundary_2.csv');
CALL csv_export.sync('timeline_export', 'timeline', cursor_column => 'updatedAt', history => true);
SELECT id, name, _current, _valid_to IS NULL AS open FROM timeline ORDER BY id, _valid_from;
SELECT cursor_value FROM csv_export.sync_state WHERE target = 'timeline'::regclass;
-- a target that is not made for history, and the reverse
CALL csv_export.sync('people_export', 'accounts', history => true);
CALL csv_export.sync('people_export', 'people');
RESET ROLE;

-- (the tables go, so that later tests may use their names)
DELETE FROM csv_export.sync_log WHERE target IN (SELECT oid FROM pg_class
  WHERE relowner = 'drift_owner'::regrole);
DELETE FROM csv_export.sync_state WHERE target IN (SELECT oid FROM pg_class
  WHERE relowner = 'drift_owner'::regrole);
DELETE FROM csv_export.schema_changes;
DROP OWNED BY drift_owner, drift_runner;
DROP ROLE drift_owner, drift_runner;
DROP SERVER drift_api;
