#!/usr/bin/env bash
# ALTER EXTENSION csv_export_fdw UPDATE from 1.0: objects and state made
# under 1.0 are kept, syncs go on from their checkpoint, 1.1's guarantees
# hold (internal functions revoked, state read per target), and a role
# granted syncs under 1.1 may still run them under 1.3.
#
# Run by test/run_tests.sh with PGHOST, PGPORT, PGUSER and PG_BIN set and
# the mock API on port 5001; exits non-zero on failure.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
trap 'psql -d postgres -c "DROP DATABASE IF EXISTS upgrade_test" -c "DROP ROLE IF EXISTS upgrade_runner" >/dev/null 2>&1' EXIT

psql -d postgres -c "DROP DATABASE IF EXISTS upgrade_test" -c "CREATE DATABASE upgrade_test"
psql -d upgrade_test <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION csv_export_fdw VERSION '1.0';
CREATE SERVER api FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE users_export (id text, name text,
  "updatedAt" timestamptz OPTIONS (since_param 'updated_since'))
  SERVER api OPTIONS (path '/export/csv?rows=30');
CREATE TABLE users (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
CALL csv_export.sync('users_export', 'users', cursor_column => 'updatedAt');
SQL

result=$(psql -d upgrade_test -At <<'SQL'
SET client_min_messages = warning;
SELECT 'before: ' || extversion FROM pg_extension WHERE extname = 'csv_export_fdw';
ALTER EXTENSION csv_export_fdw UPDATE TO '1.1';
-- the new library under 1.1's statements (two-argument _sync_match): a
-- full sync of an export that repeats a new key is staged, the last row wins
CREATE FOREIGN TABLE users_dup (id text, name text) SERVER api
  OPTIONS (path '/export/csv?rows=30&dup=1');
CREATE TABLE users_full (id text PRIMARY KEY, name text);
CALL csv_export.sync('users_dup', 'users_full');
SELECT 'under 1.1: ' || count(*) || ' rows, last won: ' || count(*) FILTER (WHERE name LIKE '%(again)')
  FROM users_full;
DROP ROLE IF EXISTS upgrade_runner;
CREATE ROLE upgrade_runner;
SELECT csv_export.grant_sync('upgrade_runner') IS NULL AS granted \gset
ALTER EXTENSION csv_export_fdw UPDATE;
SELECT 'after: ' || extversion FROM pg_extension WHERE extname = 'csv_export_fdw';
SELECT 'state kept: ' || count(*) || ' ' || min(last_status) || ' ' || (min(cursor_value) IS NOT NULL)
  FROM csv_export.sync_state WHERE target = 'users'::regclass;
ALTER FOREIGN TABLE users_export OPTIONS (SET path '/export/csv?rows=30&version=2');
CALL csv_export.sync('users_export', 'users', cursor_column => 'updatedAt');
SELECT 'runs: ' || string_agg(status, ',' ORDER BY run_id) FROM csv_export.sync_log
 WHERE target = 'users'::regclass;
SELECT 'users: ' || count(*) FROM users;
SELECT 'public may call: ' || count(*) FROM pg_proc
 WHERE pronamespace = 'csv_export'::regnamespace AND proname LIKE '\_%'
   AND has_function_privilege('public', oid, 'EXECUTE')
   AND proname NOT IN ('_backend_alive', '_scheduled_target', '_cron_jobs');
SELECT 'row security: ' || string_agg(relname || '=' || relrowsecurity, ',' ORDER BY relname)
  FROM pg_class WHERE relnamespace = 'csv_export'::regnamespace AND relkind = 'r';
SELECT 'runner may call: ' || bool_and(has_function_privilege('upgrade_runner', r, 'EXECUTE'))
  FROM unnest(csv_export._sync_routines()) r;
SQL
)
expected=$'before: 1.0\nunder 1.1: 30 rows, last won: 1\nafter: 1.7\nstate kept: 1 succeeded true\nruns: succeeded,succeeded\nusers: 35\npublic may call: 0\nrow security: rejects=true,schema_changes=true,sync_log=true,sync_state=true\nrunner may call: true'
if [ "$result" != "$expected" ]; then
	printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$result"
	exit 1
fi
