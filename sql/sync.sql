--
-- csv_export.sync: upsert a foreign table into a real table by primary key,
-- with a checkpoint that commits together with the data.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER sync_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE "user" (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz OPTIONS (since_param 'updated_since'),
  "createdAt" timestamptz
) SERVER sync_api OPTIONS (path '/export/csv?ids=sequential&rows=300');

-- (ids=sequential: this test names rows by their ids, usr_00001, ...)
CREATE TABLE users (id text PRIMARY KEY, name text, email text, address text, company text,
                    job text, "updatedAt" timestamptz, "createdAt" timestamptz,
                    note text, _synced_at timestamptz, _deleted boolean);

-- what a run did, without its timestamps
CREATE VIEW runs AS
  SELECT target, source, status, error, error_sqlstate, cursor_column,
         cursor_before, cursor_after, rows_fetched, rows_upserted, rows_deleted
    FROM csv_export.sync_log ORDER BY run_id;
CREATE VIEW state AS
  SELECT target, source, cursor_column, cursor_value, last_status, last_error,
         last_rows_upserted, last_rows_deleted, runs,
         last_finished_at >= last_started_at AS times_ok
    FROM csv_export.sync_state ORDER BY target::text;
CREATE FUNCTION users_digest() RETURNS text LANGUAGE sql AS
  $$ SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u $$;

-- a full sync copies every row; columns only the target has are left alone
-- and _synced_at is the run's start time
CALL csv_export.sync('"user"', 'users');
SELECT count(*) FROM users;
SELECT count(*) AS differing FROM (
  SELECT id, name, email, address, company, job, "updatedAt", "createdAt" FROM users
  EXCEPT SELECT * FROM "user") d;
SELECT count(*) FILTER (WHERE _synced_at = s.last_started_at) AS stamped,
       count(*) FILTER (WHERE _deleted) AS deleted
  FROM users, csv_export.sync_state s;
SELECT * FROM state;
SELECT * FROM runs;

-- repeated on an unchanged export it writes nothing: no row is updated,
-- not even locked (xmin and ctid stay, xmax stays zero)
UPDATE users SET note = 'kept' WHERE id = 'usr_00001';
CREATE TEMP TABLE versions_before AS SELECT id, xmin::text AS row_xmin, ctid AS row_ctid FROM users;
CALL csv_export.sync('"user"', 'users');
SELECT count(*) AS rewritten FROM users u JOIN versions_before v USING (id)
  WHERE u.xmin::text <> v.row_xmin OR u.ctid <> v.row_ctid;
SELECT count(*) AS locked FROM users WHERE xmax::text <> '0';
SELECT note FROM users WHERE id = 'usr_00001';

-- incremental: the cursor is the largest updatedAt seen, and the next run
-- asks the API (since_param) for newer rows only
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');
SELECT cursor_column, cursor_value FROM csv_export.sync_state;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM "user" WHERE "updatedAt" > '2024-12-08 10:15:30+00';
EXPLAIN (COSTS OFF)
SELECT * FROM "user" WHERE '2024-12-08 10:15:30+00' <= "updatedAt" AND "updatedAt" > '2025-01-01';
SELECT count(*) FROM "user" WHERE "updatedAt" > '2024-12-08 10:15:30+00';

-- the export changes: version 2 changes 30 rows, drops 6, adds 5
ALTER FOREIGN TABLE "user" OPTIONS (SET path '/export/csv?ids=sequential&rows=300&version=2');
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');
SELECT rows_fetched, rows_upserted, cursor_before, cursor_after FROM csv_export.sync_log ORDER BY run_id DESC LIMIT 1;
SELECT id, name FROM users WHERE name LIKE '%(v2)' ORDER BY id LIMIT 3;
SELECT count(*) FROM users;
-- nothing new since: the API sends no row, the cursor stays
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');
SELECT rows_fetched, rows_upserted, cursor_before = cursor_after AS cursor_kept
  FROM csv_export.sync_log ORDER BY run_id DESC LIMIT 1;

-- delete_missing: keys absent from a full export are soft-deleted (the
-- target has _deleted), and live again when they come back
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt', delete_missing => true);
CALL csv_export.sync('"user"', 'users', delete_missing => true);
SELECT id FROM users WHERE _deleted ORDER BY id;
ALTER FOREIGN TABLE "user" OPTIONS (SET path '/export/csv?ids=sequential&rows=300');
CALL csv_export.sync('"user"', 'users', delete_missing => true);
SELECT count(*) FILTER (WHERE _deleted) AS soft_deleted,
       count(*) FILTER (WHERE NOT _deleted) AS live,
       count(*) FILTER (WHERE name LIKE '%(v2)') AS still_v2
  FROM users;
SELECT rows_upserted, rows_deleted FROM csv_export.sync_log ORDER BY run_id DESC LIMIT 1;

-- without _deleted, missing keys are deleted for good
CREATE TABLE users_hard (id text PRIMARY KEY, name text);
CALL csv_export.sync('"user"', 'users_hard');
ALTER FOREIGN TABLE "user" OPTIONS (SET path '/export/csv?ids=sequential&rows=300&version=2');
CALL csv_export.sync('"user"', 'users_hard', delete_missing => true);
SELECT count(*), count(*) FILTER (WHERE id IN ('usr_00007', 'usr_00057')) AS gone_ones
  FROM users_hard;

-- an empty export deletes nothing, with a warning
CREATE FOREIGN TABLE user_empty (id text, name text) SERVER sync_api
  OPTIONS (path '/export/csv?ids=sequential&rows=0');
CALL csv_export.sync('user_empty', 'users_hard', delete_missing => true);
SELECT count(*) FROM users_hard;

-- the same key twice in one export: the last one wins, no error
CREATE FOREIGN TABLE user_dup (id text, name text) SERVER sync_api
  OPTIONS (path '/export/csv?ids=sequential&rows=5&dup=1');
SELECT id, name FROM user_dup WHERE id = 'usr_00001';
CALL csv_export.sync('user_dup', 'users_hard');
SELECT id, name FROM users_hard WHERE id = 'usr_00001';
-- again: the first usr_00001 differs from the target, the last does not,
-- and the last still wins (nothing to write)
CALL csv_export.sync('user_dup', 'users_hard');
SELECT id, name FROM users_hard WHERE id = 'usr_00001';
-- keys out of order but not repeated: one pass, no staging
CREATE FOREIGN TABLE user_unordered (id text, name text) SERVER sync_api
  OPTIONS (path '/fixtures/unordered_keys.csv');
CREATE TABLE unordered_target (id text PRIMARY KEY, name text);
INSERT INTO unordered_target VALUES ('k2', 'old'), ('k4', 'four'), ('k9', 'not in the export');
CALL csv_export.sync('user_unordered', 'unordered_target');
TABLE unordered_target ORDER BY id;
-- 70,000 keys in order, then a repeat of the first: taken for an export in
-- key order, so the repeat is caught by order alone, and staged
CREATE FOREIGN TABLE user_long_dup (id text, name text) SERVER sync_api
  OPTIONS (path '/export/csv?ids=sequential&rows=70000&dup=1');
CREATE TABLE long_dup_target (id text PRIMARY KEY, name text);
CALL csv_export.sync('user_long_dup', 'long_dup_target');
SELECT count(*), max(name) FILTER (WHERE id = 'usr_00001') FROM long_dup_target;
-- a soft-deleted row that is in the export again is live again, also
-- without delete_missing
CREATE TABLE soft_target (id text PRIMARY KEY, name text, _deleted boolean);
INSERT INTO soft_target VALUES ('k2', 'two', true), ('k4', 'four', false);
CALL csv_export.sync('user_unordered', 'soft_target');
TABLE soft_target ORDER BY id;
-- _sync_match reads the target directly: only for those who may read it,
-- also among the roles that may run syncs
CREATE ROLE sync_outsider;
SELECT csv_export.grant_sync('sync_outsider');
SET ROLE sync_outsider;
SELECT csv_export._sync_match('unordered_target'::regclass, r, false)
  FROM (SELECT 'k2'::text AS id, 'x'::text AS name) r;
RESET ROLE;
SELECT csv_export.revoke_sync('sync_outsider');
REVOKE USAGE ON SCHEMA csv_export FROM sync_outsider;
DROP ROLE sync_outsider;

-- a failure in the middle of the export: the target and the cursor stay
-- exactly as they were, the error is recorded, and the CALL fails
CREATE FOREIGN TABLE user_broken (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER sync_api OPTIONS (path '/export/csv?ids=sequential&rows=20000&version=3&fail_after=15000');
SELECT users_digest() AS digest_before \gset
SELECT cursor_value AS cursor_before, runs AS runs_before FROM csv_export.sync_state
  WHERE target = 'users'::regclass \gset
CALL csv_export.sync('user_broken', 'users', cursor_column => 'updatedAt');
SELECT users_digest() = :'digest_before' AS target_unchanged;
SELECT cursor_value = :'cursor_before' AS cursor_unchanged, runs - :runs_before AS new_runs,
       last_status, last_error
  FROM csv_export.sync_state WHERE target = 'users'::regclass;
SELECT status, error, error_sqlstate, rows_upserted FROM csv_export.sync_log ORDER BY run_id DESC LIMIT 1;

-- a bad value: the same, with the line and column in the error
CREATE FOREIGN TABLE bad_rows (id int, ts timestamptz) SERVER sync_api
  OPTIONS (path '/fixtures/bad_timestamp.csv');
CREATE TABLE bad_target (id int PRIMARY KEY, ts timestamptz);
CALL csv_export.sync('bad_rows', 'bad_target');
SELECT count(*) FROM bad_target;
SELECT last_status, last_error FROM csv_export.sync_state WHERE target = 'bad_target'::regclass;

-- the next successful run clears the error
ALTER FOREIGN TABLE "user" OPTIONS (SET path '/export/csv?ids=sequential&rows=300');
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');
SELECT * FROM state;

-- inside a transaction block the sync commits with the transaction; a
-- failure cannot be recorded on its own there, and rolls back with it
BEGIN;
CALL csv_export.sync('"user"', 'users_hard');
SELECT runs FROM csv_export.sync_state WHERE target = 'users_hard'::regclass;
COMMIT;
BEGIN;
CALL csv_export.sync('bad_rows', 'bad_target');
ROLLBACK;
SELECT runs FROM csv_export.sync_state WHERE target = 'bad_target'::regclass;

-- wrong use
CREATE TABLE no_key (id text);
CREATE TABLE other_key (uid text PRIMARY KEY, name text);
CALL csv_export.sync('"user"', 'no_key');
CALL csv_export.sync('"user"', 'other_key');
CALL csv_export.sync('"user"', 'users', cursor_column => 'modified');
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt', delete_missing => true);
CALL csv_export.sync('"user"', 'no_such_table');
-- scheduling needs pg_cron in this database (the cron test creates it)
SELECT csv_export.schedule('users-sync', '*/15 * * * *', '"user"', 'users');

-- two syncs into the same target never interleave: the second waits for
-- the first (the slow export takes about three seconds)
CREATE FOREIGN TABLE user_slow (id text, name text) SERVER sync_api
  OPTIONS (path '/slow?rows=3&delay=1');
CREATE TABLE users_slow (id text PRIMARY KEY, name text);
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT dblink_connect('first', :'conninfo'), dblink_connect('second', :'conninfo');
SELECT dblink_send_query('first', $$CALL csv_export.sync('user_slow', 'users_slow')$$);
SELECT pg_sleep(0.5);
SELECT dblink_send_query('second', $$CALL csv_export.sync('user_slow', 'users_slow')$$);
SELECT pg_sleep(0.5);
SELECT l.granted, a.query FROM pg_locks l JOIN pg_stat_activity a USING (pid)
  WHERE l.locktype = 'advisory' AND l.classid = 1668511862
    AND l.objid = 'users_slow'::regclass::oid ORDER BY l.granted DESC;
SELECT * FROM dblink_get_result('first') AS r(result text);
SELECT * FROM dblink_get_result('second') AS r(result text);
SELECT dblink_disconnect('first'), dblink_disconnect('second');
SELECT count(*) AS runs,
       bool_and(started_at >= coalesce(previous_finished, started_at)) AS serialized
  FROM (SELECT started_at, lag(finished_at) OVER (ORDER BY run_id) AS previous_finished
          FROM csv_export.sync_log WHERE target = 'users_slow'::regclass) r;
DROP EXTENSION dblink;

DROP VIEW runs, state;
DROP FUNCTION users_digest();
DROP TABLE users, users_hard, bad_target, no_key, other_key, users_slow, unordered_target,
  long_dup_target, soft_target;
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DROP SERVER sync_api CASCADE;
