#!/usr/bin/env bash
# Fetching pages ahead: a 50-page export from the mock API with 100 ms of
# latency per page, read with prefetch_pages 0 (one page after another),
# 2 (the default) and 4.  Minimum of BENCH_RUNS runs; writes BENCH_OUT.
set -euo pipefail
CRON_DATABASE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$PROJECT_DIR/bench/lib.sh"
trap cleanup EXIT

RUNS=${BENCH_RUNS:-3}
PAGES=${BENCH_PAGES:-50}
LATENCY=${BENCH_LATENCY:-0.1}
BENCH_OUT=${BENCH_OUT:-$PROJECT_DIR/bench/prefetch-latest.md}

install_dependencies
build_and_install
start_mock_api
start_cluster

sql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
sql <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE SERVER mock FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:$MOCK_API_PORT');
CREATE FOREIGN TABLE paged (id text, name text) SERVER mock
  OPTIONS (path '/paged?mode=page&rows=$((PAGES * 100))&latency=$LATENCY', pagination 'page',
           page_param 'page', page_size_param 'per_page', page_size '100');
SQL

declare -A seconds
for ahead in 0 2 4; do
	sql -c "ALTER FOREIGN TABLE paged OPTIONS (ADD prefetch_pages '$ahead')"
	seconds[$ahead]=$(best_of "SELECT count(*) FROM paged")
	sql -c "ALTER FOREIGN TABLE paged OPTIONS (DROP prefetch_pages)"
done

{
	echo "$PAGES pages of 100 rows (+ 1 empty last page), ${LATENCY}s latency per page; minimum of $RUNS runs."
	echo
	echo "| prefetch_pages | seconds | vs one after another |"
	echo "| --- | --- | --- |"
	for ahead in 0 2 4; do
		echo "| $ahead | ${seconds[$ahead]} | $(python3 -c "print(f'{${seconds[$ahead]} / ${seconds[0]}:.2f}')") |"
	done
} | tee "$BENCH_OUT"
