#!/usr/bin/env bash
# The demo, on a fresh Debian 12 machine, as root: installs what is needed,
# builds and installs csv_export_fdw, starts the mock export API and a
# throwaway PostgreSQL 15 cluster, and reads the user export through a
# foreign table.  Everything is stopped and removed at the end.
set -euo pipefail
CRON_DATABASE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap cleanup EXIT

install_dependencies
build_and_install
start_mock_api
start_cluster

log "reading the export through the foreign table \"user\""
psql -X -v ON_ERROR_STOP=1 -d postgres --echo-queries <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE SERVER export_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:$MOCK_API_PORT');
CREATE FOREIGN TABLE "user" (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER export_api OPTIONS (path '/export/csv');

SET timezone = 'UTC';
SELECT id, name, email, company, "updatedAt" FROM "user" ORDER BY id LIMIT 10;
SELECT count(*) AS users, min("createdAt") AS first_created, max("updatedAt") AS last_updated
  FROM "user";
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM "user";
SQL
