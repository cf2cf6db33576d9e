#!/usr/bin/env bash
# pg_dump -Fc and pg_restore into a new database keep the extension's state
# tables, and the sequences behind them: the restored database syncs and
# records rejects without a duplicate key.
#
# Run by test/run_tests.sh with PGHOST, PGPORT, PGUSER and PG_BIN set and
# the mock API on port 5001; exits non-zero on failure.
set -euo pipefail
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
dump=$(mktemp)
trap 'rm -f "$dump"; psql -d postgres -c "DROP DATABASE IF EXISTS backup_src" -c "DROP DATABASE IF EXISTS backup_dst" >/dev/null 2>&1' EXIT

psql -d postgres -c "DROP DATABASE IF EXISTS backup_src" -c "DROP DATABASE IF EXISTS backup_dst" \
	-c "CREATE DATABASE backup_src" -c "CREATE DATABASE backup_dst"
psql -d backup_src <<'SQL'
CREATE EXTENSION csv_export_fdw;
CREATE SERVER api FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE users_export (id text, name text) SERVER api OPTIONS (path '/export/csv?rows=20');
CREATE FOREIGN TABLE bad_export (id int, ts timestamptz) SERVER api
  OPTIONS (path '/fixtures/bad_timestamp.csv', on_error 'skip');
CREATE TABLE users (id text PRIMARY KEY, name text);
SET client_min_messages = warning;
CALL csv_export.sync('users_export', 'users');
CALL csv_export.sync('users_export', 'users');
SELECT count(*) AS good_rows FROM bad_export \gset
SQL
"$PG_BIN/pg_dump" -Fc -d backup_src -f "$dump"
"$PG_BIN/pg_restore" -d backup_dst "$dump"

result=$(psql -d backup_dst -At <<'SQL'
SET client_min_messages = warning;
CALL csv_export.sync('users_export', 'users');
SELECT count(*) AS good_rows FROM bad_export \gset
SELECT (SELECT count(*) FROM users) || ' users, runs ' ||
       (SELECT string_agg(run_id || ':' || status, ',' ORDER BY run_id) FROM csv_export.sync_log) ||
       ', rejects ' || (SELECT string_agg(reject_id::text, ',' ORDER BY reject_id) FROM csv_export.rejects);
SQL
)
expected=$'20 users, runs 1:succeeded,2:succeeded,3:succeeded, rejects 1,2'
if [ "$result" != "$expected" ]; then
	printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$result"
	exit 1
fi
