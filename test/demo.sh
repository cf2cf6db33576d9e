#!/usr/bin/env bash
# The demo, on a fresh Debian 12 machine, as root: installs what is needed,
# builds and installs csv_export_fdw, starts the mock export API and a
# throwaway PostgreSQL 15 cluster, and reads the user export through a
# foreign table, then syncs it into a table with csv_export.sync and
# schedules that with pg_cron.  Everything is stopped and removed at the end.
set -euo pipefail
CRON_DATABASE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap cleanup EXIT

install_dependencies
build_and_install
start_mock_api
start_cluster

log "reading the export through the foreign table \"user\", then syncing it into a table"
psql -X -v ON_ERROR_STOP=1 -d postgres --echo-queries <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE SERVER export_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:$MOCK_API_PORT');
CREATE FOREIGN TABLE "user" (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz OPTIONS (since_param 'updated_since'),
  "createdAt" timestamptz
) SERVER export_api OPTIONS (path '/export/csv');

SET timezone = 'UTC';
SELECT id, name, email, company, "updatedAt" FROM "user" ORDER BY id LIMIT 10;
SELECT count(*) AS users, min("createdAt") AS first_created, max("updatedAt") AS last_updated
  FROM "user";
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM "user";

-- the job the Fivetran connector did: upsert into "users" keyed by id, with a checkpoint
CREATE TABLE users (id text PRIMARY KEY, name text, email text, address text, company text,
                    job text, "updatedAt" timestamptz, "createdAt" timestamptz,
                    _synced_at timestamptz, _deleted boolean);
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');

-- the export moves on (the mock's version 2); the next run fetches only
-- newer rows: first what it would do, then the run
ALTER FOREIGN TABLE "user" OPTIONS (SET path '/export/csv?version=2');
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt', dry_run => true);
CALL csv_export.sync('"user"', 'users', cursor_column => 'updatedAt');
SELECT id, name, "updatedAt", _synced_at IS NOT NULL AS synced FROM users
  WHERE name LIKE '%(v2)' ORDER BY id LIMIT 5;
SELECT target, source, cursor_column, cursor_value, last_status, last_rows_upserted, runs
  FROM csv_export.sync_state;
SELECT run_id, status, cursor_before, cursor_after, rows_fetched, rows_upserted
  FROM csv_export.sync_log ORDER BY run_id;

-- scheduled every 15 minutes with pg_cron
CREATE EXTENSION pg_cron;
SELECT csv_export.schedule('users-sync', '*/15 * * * *', '"user"', 'users',
                           cursor_column => 'updatedAt') AS job_id;
SELECT jobname, schedule, command FROM cron.job;
SELECT target, job_name, schedule, last_status, consecutive_failures, rows_upserted
  FROM csv_export.status;
SELECT csv_export.unschedule('users-sync');
SQL
