--
-- Runs that guard themselves: csv_export.sync's dry_run, max_delete_ratio,
-- timeout and if_running; csv_export.status; and what a listener on
-- channel csv_export hears.
--
SET timezone = 'UTC';
CREATE SERVER guard_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE guard_export (id text, name text) SERVER guard_api
  OPTIONS (path '/export/csv?rows=50&ids=sequential');
CREATE TABLE guard_target (id text PRIMARY KEY, name text);
CREATE FUNCTION last_run(target regclass) RETURNS TABLE (status text, error text,
  fetched bigint, upserted bigint, deleted bigint) LANGUAGE sql AS $$
  SELECT status, error, rows_fetched, rows_upserted, rows_deleted FROM csv_export.runs
   WHERE runs.target = last_run.target ORDER BY run_id DESC LIMIT 1
$$;

-- the options are checked before anything is recorded
CALL csv_export.sync('guard_export', 'guard_target', if_running => 'queue');
CALL csv_export.sync('guard_export', 'guard_target', timeout => '-1 second');
CALL csv_export.sync('guard_export', 'guard_target', max_delete_ratio => 0.2);
CALL csv_export.sync('guard_export', 'guard_target', delete_missing => true,
                     max_delete_ratio => 1.5);
SELECT count(*) AS runs_recorded FROM csv_export.sync_log;

-- dry_run: what the run would do, and nothing written, not even a log row;
-- the real run then does just that
CALL csv_export.sync('guard_export', 'guard_target', dry_run => true);
SELECT (SELECT count(*) FROM guard_target) AS rows,
       (SELECT count(*) FROM csv_export.sync_log) AS runs,
       (SELECT count(*) FROM csv_export.sync_state) AS states;
CALL csv_export.sync('guard_export', 'guard_target');
SELECT * FROM last_run('guard_target');
-- the next version: some rows changed, one gone, five new
ALTER FOREIGN TABLE guard_export OPTIONS (SET path '/export/csv?rows=50&ids=sequential&version=2');
CALL csv_export.sync('guard_export', 'guard_target', delete_missing => true, dry_run => true);
CALL csv_export.sync('guard_export', 'guard_target', delete_missing => true);
SELECT * FROM last_run('guard_target');

-- max_delete_ratio: an export of 5 rows would delete most of the target;
-- the run fails before writing, and the target is as it was
ALTER FOREIGN TABLE guard_export OPTIONS (SET path '/export/csv?rows=5&ids=sequential&version=2');
CALL csv_export.sync('guard_export', 'guard_target', delete_missing => true,
                     max_delete_ratio => 0.2);
SELECT count(*) AS rows FROM guard_target;
SELECT * FROM last_run('guard_target');
-- within the ratio it deletes
ALTER FOREIGN TABLE guard_export OPTIONS (SET path '/export/csv?rows=50&ids=sequential&version=3');
CALL csv_export.sync('guard_export', 'guard_target', delete_missing => true,
                     max_delete_ratio => 0.2);
SELECT * FROM last_run('guard_target');

-- timeout: an export that sends a row a second is stopped after 1 s; the
-- run is recorded as interrupted, and the session goes on unharmed (the
-- limit does not outlive the run)
CREATE FOREIGN TABLE slow_guard_export (id text, name text) SERVER guard_api
  OPTIONS (path '/slow?rows=20&delay=1');
CREATE TABLE slow_guard_target (id text PRIMARY KEY, name text);
SELECT clock_timestamp() AS started \gset
CALL csv_export.sync('slow_guard_export', 'slow_guard_target', timeout => '1 second');
SELECT clock_timestamp() - :'started' < interval '5 seconds' AS stopped_in_time;
SELECT * FROM last_run('slow_guard_target');
SELECT count(*) AS rows FROM slow_guard_target;
CALL csv_export.sync('guard_export', 'guard_target', timeout => '1 second');
SELECT pg_sleep(1.5);
SELECT 'still here' AS after_the_limit;

-- if_running 'skip': while another session syncs the target, a run that
-- would wait is logged as skipped and touches nothing
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT dblink_connect('other', :'conninfo');
ALTER FOREIGN TABLE slow_guard_export OPTIONS (SET path '/slow?rows=4&delay=1');
SELECT dblink_send_query('other',
  $$CALL csv_export.sync('slow_guard_export', 'slow_guard_target')$$) AS sent;
\i sql/include/wait_for.sql
CALL wait_for($$EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                        AND objid = 'slow_guard_target'::regclass::oid AND granted)$$);
CALL csv_export.sync('slow_guard_export', 'slow_guard_target', if_running => 'skip');
SELECT * FROM last_run('slow_guard_target');
SELECT runs, last_status FROM csv_export.sync_state
 WHERE target = 'slow_guard_target'::regclass;
SELECT * FROM dblink_get_result('other') AS t(result text);
SELECT * FROM dblink_get_result('other') AS t(result text);  -- the end of its results
SELECT status, count(*) FROM csv_export.runs WHERE target = 'slow_guard_target'::regclass
 GROUP BY status ORDER BY status;

-- a listener hears of a failure and of the first success after failures,
-- not of other successes
SELECT dblink_exec('other', 'LISTEN csv_export');
CREATE FOREIGN TABLE broken_guard_export (id text, name text) SERVER guard_api
  OPTIONS (path '/status/503', retries '0');
CALL csv_export.sync('broken_guard_export', 'guard_target');
SELECT target, last_status, last_error, consecutive_failures, rows_upserted
  FROM csv_export.status WHERE target = 'guard_target'::regclass;
CALL csv_export.sync('guard_export', 'guard_target');
CALL csv_export.sync('guard_export', 'guard_target');
-- (a notification goes out when its transaction commits)
SELECT pg_sleep(0.5);
SELECT notify_name, extra::jsonb - 'run_id' AS payload
  FROM dblink_get_notify('other');
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- csv_export.status: one row per target
SELECT target, source, job_name, last_status, last_success IS NOT NULL AS succeeded_once,
       consecutive_failures, rows_fetched, rows_upserted, rows_deleted,
       staleness < interval '1 minute' AS fresh
  FROM csv_export.status ORDER BY target::text;

-- lookback: an incremental sync re-reads the rows within that interval
-- below its checkpoint, so a row that arrived late (k3, updated at 11:00,
-- exported after the 12:00 checkpoint) is applied and counted in
-- rows_late; unchanged rows (k1) are not written; a row older than the
-- lookback (k0) stays out, and the checkpoint never moves back
CREATE FOREIGN TABLE late_export (id text, name text, "updatedAt" timestamptz)
  SERVER guard_api OPTIONS (path '/fixtures/late_1.csv');
CREATE TABLE late_target (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
CALL csv_export.sync('late_export', 'late_target', lookback => '3 hours');
CALL csv_export.sync('late_export', 'late_target', cursor_column => 'name',
                     lookback => '3 hours');
CALL csv_export.sync('late_export', 'late_target', cursor_column => 'updatedAt');
SELECT xmin AS k1_version FROM late_target WHERE id = 'k1' \gset
ALTER FOREIGN TABLE late_export OPTIONS (SET path '/fixtures/late_2.csv');
CALL csv_export.sync('late_export', 'late_target', cursor_column => 'updatedAt',
                     lookback => '3 hours', dry_run => true);
CALL csv_export.sync('late_export', 'late_target', cursor_column => 'updatedAt',
                     lookback => '3 hours');
SELECT id, name, xmin = :'k1_version' AS first_version FROM late_target ORDER BY id;
SELECT status, cursor_before, cursor_after, rows_fetched, rows_upserted, rows_late
  FROM csv_export.runs WHERE target = 'late_target'::regclass ORDER BY run_id;

-- skip_unchanged: a run sends the last export's ETag and Last-Modified;
-- a 304 Not Modified, or a body the same as the last one (an API without
-- validators), ends the run as unchanged, with nothing applied or written
CREATE FOREIGN TABLE etag_export (id text, name text) SERVER guard_api
  OPTIONS (path '/export/csv?rows=20&ids=sequential&etag=1');
CREATE FOREIGN TABLE plain_export (id text, name text) SERVER guard_api
  OPTIONS (path '/export/csv?rows=20&ids=sequential');
CREATE TABLE etag_target (id text PRIMARY KEY, name text);
CREATE TABLE plain_target (id text PRIMARY KEY, name text);
CREATE VIEW writes AS
  SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
   WHERE relname IN ('etag_target', 'plain_target');
CALL csv_export.sync('etag_export', 'etag_target', skip_unchanged => true);
CALL csv_export.sync('plain_export', 'plain_target', skip_unchanged => true);
CALL csv_export.sync('etag_export', 'etag_target', skip_unchanged => true);
CALL csv_export.sync('plain_export', 'plain_target', skip_unchanged => true);
SELECT pg_stat_force_next_flush();
SELECT * FROM writes ORDER BY relname;
SELECT target, status, rows_fetched, rows_upserted FROM csv_export.runs
 WHERE target IN ('etag_target'::regclass, 'plain_target'::regclass) ORDER BY run_id;
SELECT target, last_status, export_etag IS NOT NULL AS etag_kept,
       length(export_sha256) AS hash_bytes
  FROM csv_export.sync_state
 WHERE target IN ('etag_target'::regclass, 'plain_target'::regclass) ORDER BY target::text;
-- the next version is applied; and without skip_unchanged nothing is sent
-- and nothing is compared: the export is read (and, unchanged, not written)
ALTER FOREIGN TABLE etag_export OPTIONS (SET path '/export/csv?rows=20&ids=sequential&etag=1&version=2');
CALL csv_export.sync('etag_export', 'etag_target', skip_unchanged => true);
CALL csv_export.sync('etag_export', 'etag_target');
SELECT status, rows_fetched, rows_upserted FROM csv_export.runs
 WHERE target = 'etag_target'::regclass ORDER BY run_id DESC LIMIT 2;

-- a failing export under skip_unchanged: the error, and the session goes on
-- (the body's hash is freed once, by the aborting transaction)
CALL csv_export.sync('broken_guard_export', 'guard_target', skip_unchanged => true);
SELECT 'still here' AS after_the_failure;

-- an API that echoes the credentials in its ETag: the validator is not
-- kept, and the secret is nowhere in the state
CREATE SERVER echo_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE USER MAPPING FOR CURRENT_USER SERVER echo_api OPTIONS (bearer_token 's3cret-token');
CREATE FOREIGN TABLE echo_export (id text, name text) SERVER echo_api
  OPTIONS (path '/auth/bearer?rows=5&ids=sequential&etag=echo');
CREATE TABLE echo_target (id text PRIMARY KEY, name text);
SET client_min_messages = warning;
CALL csv_export.sync('echo_export', 'echo_target', skip_unchanged => true);
RESET client_min_messages;
SELECT export_etag, export_last_modified IS NOT NULL AS last_modified_kept,
       (SELECT count(*) FROM csv_export.sync_state s
         WHERE s::text LIKE '%s3cret%') AS states_with_secret
  FROM csv_export.sync_state WHERE target = 'echo_target'::regclass;

-- retention: a finished run trims its target's log to the newest
-- csv_export_fdw.log_retention_runs runs of the last log_retention_days
-- days, and its source's rejects to those days; only a superuser sets them
SET csv_export_fdw.log_retention_runs = 3;
CALL csv_export.sync('guard_export', 'guard_target');
SELECT count(*) AS runs_kept FROM csv_export.sync_log WHERE target = 'guard_target'::regclass;
RESET csv_export_fdw.log_retention_runs;
UPDATE csv_export.sync_log SET finished_at = finished_at - interval '40 days'
 WHERE target = 'guard_target'::regclass;
CALL csv_export.sync('guard_export', 'guard_target');
SELECT count(*) AS runs_kept FROM csv_export.sync_log WHERE target = 'guard_target'::regclass;
CREATE FOREIGN TABLE reject_guard_export (id text, name text, "updatedAt" timestamptz)
  SERVER guard_api OPTIONS (path '/export/csv?rows=5&ids=sequential&bad_value_at=2',
                            on_error 'skip');
CREATE TABLE reject_guard_target (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
SET client_min_messages = warning;
CALL csv_export.sync('reject_guard_export', 'reject_guard_target');
UPDATE csv_export.rejects SET rejected_at = rejected_at - interval '40 days'
 WHERE foreign_table = 'reject_guard_export'::regclass;
CALL csv_export.sync('reject_guard_export', 'reject_guard_target');
RESET client_min_messages;
SELECT count(*) AS rejects_kept, min(rejected_at) > now() - interval '1 day' AS all_recent
  FROM csv_export.rejects WHERE foreign_table = 'reject_guard_export'::regclass;
CREATE ROLE guard_runner;
SET ROLE guard_runner;
SET csv_export_fdw.log_retention_days = 0;
RESET ROLE;
DROP ROLE guard_runner;

DROP VIEW writes;
DROP TABLE guard_target, slow_guard_target, reject_guard_target, late_target, etag_target,
  plain_target, echo_target;
DROP SERVER echo_api CASCADE;
DROP FUNCTION last_run(regclass);
DROP PROCEDURE wait_for(text);
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DELETE FROM csv_export.rejects;
DROP SERVER guard_api CASCADE;
