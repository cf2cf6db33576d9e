#!/usr/bin/env bash
# csv_export_fdw against file_fdw + `program 'curl'`, COPY FROM PROGRAM 'curl'
# and the two floors (curl to /dev/null; libcsv alone), on the same
# generated user export served by nginx on loopback.  Each figure is the
# minimum of BENCH_RUNS runs.  Prints a table of seconds and ratios (ours /
# peer) and writes it to BENCH_OUT.
#
#   bash bench/run.sh            # 1M rows (4M for the memory case), 5 runs
#   BENCH_ROWS=200000 BENCH_BIG_ROWS=800000 BENCH_RUNS=1 bash bench/run.sh
#   BENCH_WIDE=1 bash bench/run.sh  # rows of 197 bytes, not 163 (gen_users.py --wide)
set -euo pipefail
CRON_DATABASE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

ROWS=${BENCH_ROWS:-1000000}
BIG_ROWS=${BENCH_BIG_ROWS:-4000000}
RUNS=${BENCH_RUNS:-5}
SHAPE=${BENCH_WIDE:+--wide}
NGINX_PORT=${NGINX_PORT:-8089}
BENCH_OUT=${BENCH_OUT:-$PROJECT_DIR/bench/results-latest.md}
BASE=http://127.0.0.1:$NGINX_PORT
DATA=$WORK_DIR/www

stop_everything() {
	[ -f "$WORK_DIR/nginx.pid" ] && kill "$(cat "$WORK_DIR/nginx.pid")" 2>/dev/null || true
	cleanup
}
trap stop_everything EXIT

DEBIAN_PACKAGES+=(nginx-light gzip)
install_dependencies
build_and_install
gcc -O2 -Wall -Wextra -o "$WORK_DIR/libcsv_floor" "$PROJECT_DIR/bench/libcsv_floor.c" -lcsv

log "generating $ROWS rows (and every row changed), and $BIG_ROWS rows"
mkdir -p "$DATA/gz"
python3 "$PROJECT_DIR/bench/gen_users.py" "$ROWS" "$DATA/users.csv" $SHAPE
python3 "$PROJECT_DIR/bench/gen_users.py" "$ROWS" "$DATA/users_changed.csv" --changed $SHAPE
python3 "$PROJECT_DIR/bench/gen_users.py" "$BIG_ROWS" "$DATA/users_big.csv" $SHAPE
cp "$DATA/users.csv" "$DATA/gz/users.csv"
gzip -3 -c "$DATA/users.csv" >"$DATA/gz/users.csv.gz"
chmod -R a+rX "$DATA"
SIZE_MB=$(( $(stat -c %s "$DATA/users.csv") / 1000000 ))

log "starting nginx on 127.0.0.1:$NGINX_PORT"
cat >"$WORK_DIR/nginx.conf" <<EOF
pid $WORK_DIR/nginx.pid;
error_log $WORK_DIR/nginx_error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $WORK_DIR/nginx_tmp;
  proxy_temp_path $WORK_DIR/nginx_tmp;
  fastcgi_temp_path $WORK_DIR/nginx_tmp;
  uwsgi_temp_path $WORK_DIR/nginx_tmp;
  scgi_temp_path $WORK_DIR/nginx_tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $DATA;
    location /gz/ { gzip_static on; }
  }
}
EOF
mkdir -p "$WORK_DIR/nginx_tmp"
nginx -c "$WORK_DIR/nginx.conf"
start_cluster

sql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

COLUMNS_DEF='id text, name text, email text, address text, company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz'
sql <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE EXTENSION file_fdw;
CREATE SERVER web FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url '$BASE');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE ours ($COLUMNS_DEF) SERVER web OPTIONS (path '/users.csv');
CREATE FOREIGN TABLE ours_changed ($COLUMNS_DEF) SERVER web OPTIONS (path '/users_changed.csv');
CREATE FOREIGN TABLE ours_big ($COLUMNS_DEF) SERVER web OPTIONS (path '/users_big.csv');
CREATE FOREIGN TABLE ours_gz ($COLUMNS_DEF) SERVER web OPTIONS (path '/gz/users.csv');
CREATE FOREIGN TABLE peer ($COLUMNS_DEF) SERVER files
  OPTIONS (program 'curl -sS $BASE/users.csv', format 'csv', header 'true');
CREATE FOREIGN TABLE peer_changed ($COLUMNS_DEF) SERVER files
  OPTIONS (program 'curl -sS $BASE/users_changed.csv', format 'csv', header 'true');
CREATE FOREIGN TABLE peer_gz ($COLUMNS_DEF) SERVER files
  OPTIONS (program 'curl -sS --compressed $BASE/gz/users.csv', format 'csv', header 'true');
CREATE UNLOGGED TABLE copy_target ($COLUMNS_DEF);
CREATE TABLE users ($COLUMNS_DEF, PRIMARY KEY (id));
SQL

# seconds one statement takes; $2 runs before it, untimed
time_statement() {
	local statement=$1 setup=${2:-} ms
	# from standard input, so that each statement runs on its own (VACUUM)
	[ -n "$setup" ] && sql <<<"$setup" >/dev/null
	ms=$(sql -At -c '\timing on' -c "$statement" 2>/dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
	python3 -c "print($ms / 1000)"
}

# the fastest of RUNS runs of each statement, in seconds, one per line.  The
# statements take turns, so that ours and its peer see the same machine
# (this one's speed drifts by 20% over minutes).  $1 runs before each.
best_of_each() {
	local setup=$1 i j
	shift
	local -a best=()
	for i in $(seq 1 "$RUNS"); do
		for j in $(seq 1 $#); do
			best[j]=$(python3 -c "print(min(x for x in [$(time_statement "${!j}" "$setup")${best[j]:+, ${best[j]}}]))")
		done
	done
	for j in $(seq 1 $#); do
		python3 -c "print(f'{${best[j]}:.3f}')"
	done
}

best_of_command() {
	local best="" t i start
	for i in $(seq 1 "$RUNS"); do
		start=$(date +%s.%N)
		"$@" >/dev/null
		t=$(python3 -c "print($(date +%s.%N) - $start)")
		best=$(python3 -c "print(min(x for x in [$t, ${best:-$t}]))")
	done
	python3 -c "print(f'{$best:.3f}')"
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

TYPED='SELECT max("updatedAt"), max("createdAt"), sum(length(id) + length(name) + length(email) + length(address) + length(company) + length(job)) FROM'
SET_ALL='name = EXCLUDED.name, email = EXCLUDED.email, address = EXCLUDED.address, company = EXCLUDED.company, job = EXCLUDED.job, "updatedAt" = EXCLUDED."updatedAt", "createdAt" = EXCLUDED."createdAt"'
CHANGED='(users.name, users.email, users.address, users.company, users.job, users."updatedAt", users."createdAt") IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email, EXCLUDED.address, EXCLUDED.company, EXCLUDED.job, EXCLUDED."updatedAt", EXCLUDED."createdAt")'
RELOAD="TRUNCATE users; INSERT INTO users SELECT * FROM peer; VACUUM ANALYZE users;"

log "floors"
curl_floor=$(best_of_command curl -sS -o /dev/null "$BASE/users.csv")
libcsv_floor=$(best_of_command "$WORK_DIR/libcsv_floor" "$DATA/users.csv")

log "case 1: count(*)"
{ read -r c1_ours; read -r c1_peer; } < <(best_of_each "" "SELECT count(*) FROM ours" "SELECT count(*) FROM peer")
c1_copy=$(best_of_each "TRUNCATE copy_target" "COPY copy_target FROM PROGRAM 'curl -sS $BASE/users.csv' (FORMAT csv, HEADER)")

log "case 2: every column, typed"
{ read -r c2_ours; read -r c2_peer; } < <(best_of_each "" "$TYPED ours" "$TYPED peer")

log "case 3: sync"
{ read -r s_empty_ours; read -r s_empty_peer; } < <(best_of_each "TRUNCATE users; DELETE FROM csv_export.sync_state" \
	"CALL csv_export.sync('ours', 'users')" \
	"INSERT INTO users SELECT * FROM peer ON CONFLICT (id) DO UPDATE SET $SET_ALL")
{ read -r s_changed_ours; read -r s_changed_peer; } < <(best_of_each "$RELOAD" \
	"CALL csv_export.sync('ours_changed', 'users')" \
	"INSERT INTO users SELECT * FROM peer_changed ON CONFLICT (id) DO UPDATE SET $SET_ALL")
{ read -r s_same_ours; read -r s_same_peer; } < <(best_of_each "$RELOAD" \
	"CALL csv_export.sync('ours', 'users')" \
	"INSERT INTO users SELECT * FROM peer ON CONFLICT (id) DO UPDATE SET $SET_ALL WHERE $CHANGED")
# what an unchanged sync wrote: row versions, dead tuples, row locks (xmax);
# each psql session's statistics are flushed when it ends
sql <<<"$RELOAD" >/dev/null
stats() { sleep 1; sql -At -c "SELECT n_tup_upd, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'users'"; }
before=$(stats)
sql -c "CALL csv_export.sync('ours', 'users')" 2>/dev/null
after=$(stats)
locked=$(sql -At -c "SELECT count(*) FROM users WHERE xmax::text <> '0'")
writes="$(( ${after%%|*} - ${before%%|*} )) rows updated, $(( ${after##*|} - ${before##*|} )) new dead tuples, $locked rows locked"

log "case 4: gzip, every column typed"
{ read -r c4_ours; read -r c4_peer; } < <(best_of_each "" "$TYPED ours_gz" "$TYPED peer_gz")

log "case 5: peak backend memory (VmHWM) for case 2"
hwm() {
	sql -At -c "$TYPED $1" -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+) kB')" | tail -n 1
}
hwm_small=$(hwm ours)
hwm_big=$(hwm ours_big)

{
	echo "Rows: $ROWS ($SIZE_MB MB${SHAPE:+, wide rows}); memory case also $BIG_ROWS rows. Minimum of $RUNS runs, seconds."
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; PostgreSQL $(sql -At -c 'SHOW server_version'); $(curl --version | head -n 1 | cut -d' ' -f1-2); $(date -u +%Y-%m-%d)."
	echo
	echo "| case | csv_export_fdw | peer | peer's time | ours / peer |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| 1. count(*) | $c1_ours | file_fdw + curl | $c1_peer | $(ratio "$c1_ours" "$c1_peer") |"
	echo "| 1. count(*) | $c1_ours | COPY FROM PROGRAM curl (unlogged) | $c1_copy | $(ratio "$c1_ours" "$c1_copy") |"
	echo "| 1. count(*) | $c1_ours | libcsv alone (parse floor) | $libcsv_floor | $(ratio "$c1_ours" "$libcsv_floor") |"
	echo "| 1. count(*) | $c1_ours | curl to /dev/null (transfer floor) | $curl_floor | $(ratio "$c1_ours" "$curl_floor") |"
	echo "| 2. every column, typed | $c2_ours | file_fdw + curl | $c2_peer | $(ratio "$c2_ours" "$c2_peer") |"
	echo "| 3. sync into an empty table | $s_empty_ours | INSERT ... ON CONFLICT over file_fdw | $s_empty_peer | $(ratio "$s_empty_ours" "$s_empty_peer") |"
	echo "| 3. sync, every row changed | $s_changed_ours | INSERT ... ON CONFLICT over file_fdw | $s_changed_peer | $(ratio "$s_changed_ours" "$s_changed_peer") |"
	echo "| 3. sync, nothing changed | $s_same_ours | the same, WHERE ... IS DISTINCT FROM | $s_same_peer | $(ratio "$s_same_ours" "$s_same_peer") |"
	echo "| 4. gzip, every column typed | $c4_ours | file_fdw + curl --compressed | $c4_peer | $(ratio "$c4_ours" "$c4_peer") |"
	echo
	echo "5. Peak backend memory (VmHWM) for case 2: $hwm_small kB at $ROWS rows, $hwm_big kB at $BIG_ROWS rows ($(( (hwm_big - hwm_small) / 1024 )) MB more)."
	echo "An unchanged sync wrote: $writes."
} | tee "$BENCH_OUT"
