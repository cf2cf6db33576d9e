--
-- Scheduling syncs with pg_cron (preloaded by the test cluster, with this
-- database as cron.database_name).  pg_cron 1.4 has minute granularity, so
-- this waits for the next minute.
--
SET timezone = 'UTC';
CREATE EXTENSION pg_cron;

CREATE SERVER cron_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE cron_user (
  id text, name text, "updatedAt" timestamptz OPTIONS (since_param 'updated_since')
) SERVER cron_api OPTIONS (path '/export/csv?rows=50');
CREATE FOREIGN TABLE cron_broken (id text, name text) SERVER cron_api
  OPTIONS (path '/status/503', retries '0');
CREATE TABLE cron_users (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
CREATE TABLE cron_failing (id text PRIMARY KEY, name text);

SELECT csv_export.schedule('users-sync', '* * * * *', 'cron_user', 'cron_users',
                           cursor_column => 'updatedAt') > 0 AS scheduled;
SELECT csv_export.schedule('failing-sync', '* * * * *', 'cron_broken', 'cron_failing') > 0
  AS scheduled;
SELECT csv_export.schedule('bad', '* * * * *', 'cron_user', 'cron_users',
                           cursor_column => 'updatedAt', delete_missing => true);
-- two jobs that sync one target in the same minute, from an export that
-- takes seconds: one runs, and the other, instead of queueing behind it,
-- is logged as skipped (what schedule creates runs with if_running 'skip')
CREATE FOREIGN TABLE cron_slow (id text, name text) SERVER cron_api
  OPTIONS (path '/slow?rows=8&delay=1');
CREATE TABLE cron_shared (id text PRIMARY KEY, name text);
SELECT csv_export.schedule('shared-a', '* * * * *', 'cron_slow', 'cron_shared') > 0 AS scheduled,
       csv_export.schedule('shared-b', '* * * * *', 'cron_slow', 'cron_shared',
                           timeout => '1 minute') > 0 AS scheduled;
SELECT jobname, schedule, command, database = current_database() AS this_database
  FROM cron.job ORDER BY jobname;
-- the drift policy and history are passed on, and checked first
SELECT csv_export.schedule('drift-yearly', '0 0 1 1 *', 'cron_user', 'cron_users',
                           on_new_columns => 'add', on_missing_columns => 'null',
                           history => true) > 0 AS scheduled;
SELECT command FROM cron.job WHERE jobname = 'drift-yearly';
SELECT csv_export.unschedule('drift-yearly');
SELECT csv_export.schedule('drift-bad', '0 0 1 1 *', 'cron_user', 'cron_users',
                           on_missing_columns => 'drop');

-- wait (at most 100 s) until the first two jobs have run once
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN (SELECT count(DISTINCT jobid) FROM cron.job_run_details JOIN cron.job USING (jobid)
                WHERE status IN ('succeeded', 'failed')
                  AND jobname IN ('users-sync', 'failing-sync')) >= 2;
    PERFORM pg_sleep(0.5);
  END LOOP;
END $$;

DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN (SELECT count(*) FROM csv_export.sync_log
                WHERE target = 'cron_shared'::regclass AND status <> 'running') >= 2;
    PERFORM pg_sleep(0.5);
  END LOOP;
END $$;
SELECT status, error, count(*) FROM csv_export.sync_log
 WHERE target = 'cron_shared'::regclass GROUP BY status, error ORDER BY status;
SELECT job_name, schedule, last_status, consecutive_failures, rows_upserted
  FROM csv_export.status ORDER BY target::text;

SELECT DISTINCT ON (j.jobname) j.jobname, d.status, d.return_message
  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE j.jobname IN ('users-sync', 'failing-sync')
  ORDER BY j.jobname, d.runid;
SELECT target, source, cursor_column, cursor_value, last_status, last_error,
       last_rows_upserted, runs
  FROM csv_export.sync_state ORDER BY target::text;
SELECT count(*) FROM cron_users;
SELECT count(*) FROM cron_failing;

SELECT csv_export.unschedule('users-sync'), csv_export.unschedule('failing-sync'),
       csv_export.unschedule('shared-a'), csv_export.unschedule('shared-b');
SELECT count(*) FROM cron.job;
SELECT csv_export.unschedule('no-such-job');

DROP EXTENSION pg_cron;
DROP TABLE cron_users, cron_failing, cron_shared;
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DROP SERVER cron_api CASCADE;
