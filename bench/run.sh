#!/usr/bin/env bash
# csv_export_fdw against its peers, side by side in one run, on generated
# user exports served by nginx on loopback.  Prints tables of seconds and
# ratios (ours / peer) and writes them to BENCH_OUT.
#
#   bash bench/run.sh                  # N = 250,000 and 4N = 1,000,000 rows
#   BENCH_ROWS=100000 BENCH_RUNS=1 bash bench/run.sh   # a quick look
#   BENCH_SYNCS_ONLY=1 bash bench/run.sh              # the sync cases alone
#   BENCH_MEASURE=instructions BENCH_ROWS=50000 bash bench/run.sh
#                                      # the syncs' instructions, not seconds
#
# Data (bench/gen_users.py): random-order UUID keys unless "ascending";
# two row shapes: "light" (about 186 bytes, one quoted field with commas)
# and "seed" (about 205 bytes, shaped like the seed's export: several
# quoted fields with commas, addresses on three lines).
#
# Cases:
#   scans, both shapes, 4N rows: count(*) and every column typed against
#     file_fdw + curl, and the libcsv floor; on_error 'skip' against 'stop'
#   syncs, seed shape, random and ascending keys, at N and 4N rows: into an
#     empty table (against COPY FROM PROGRAM curl into the same table, and
#     INSERT ... ON CONFLICT over file_fdw), every row changed, nothing
#     changed (onto the previous version, loaded in key order as a first
#     sync leaves it, or BENCH_TARGET_ORDER=export); and time(4N) / time(N)
#     for each
#   gzip, peak memory at 4N and 16N rows
#
# Each figure is the minimum of BENCH_RUNS runs, ours and its peer taking
# turns, and a sync case at N rows taking turns with the same case at 4N;
# time(4N) / time(N) is given of the fastest runs and as the median of the
# turns' own ratios.  The cluster has shared_buffers = 1GB, so that a target's index
# of 4N random keys stays in memory for every side alike, and every timed
# statement starts right after a CHECKPOINT.
#
# BENCH_MEASURE=instructions counts, instead of seconds, the instructions
# each statement executes (millions), by callgrind in a single-user backend
# (the cluster stops for it).  The count is the same for the same binary
# and input whatever else the machine does, so time(4N) / time(N) above 4
# in it is the code's own; in seconds it is also the machine's: shared CPU
# caches that hold what a sync touches at N and not at 4N, and fresh
# memory beyond the freed memory this VM keeps (RESULTS.md).  It is
# about 50 times slower: N = 50,000 makes a sync-only run of about 25 minutes.
set -euo pipefail
CRON_DATABASE=postgres
# checkpoints only where the bench asks for one (before each timed
# statement): one landing inside a run of 1M updates made that side's time,
# not the code's
EXTRA_POSTGRESQL_CONF="shared_buffers = 1GB
max_wal_size = 16GB
checkpoint_timeout = 1h"
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$PROJECT_DIR/bench/lib.sh"

N=${BENCH_ROWS:-250000}
ROWS=$((4 * N))
BIG_ROWS=$((16 * N))
MEASURE=${BENCH_MEASURE:-seconds}
RUNS=${BENCH_RUNS:-3}
SYNCS_ONLY=${BENCH_SYNCS_ONLY:-}
UNIT=seconds
RESULTS_NAME=results-latest.md
if [ "$MEASURE" = instructions ]; then
	RESULTS_NAME=instructions-latest.md
	RUNS=${BENCH_RUNS:-1}
	SYNCS_ONLY=1	# the scans' peers (libcsv alone) are timed
	UNIT="millions of instructions"
fi
BENCH_OUT=${BENCH_OUT:-$PROJECT_DIR/bench/$RESULTS_NAME}
BASE=http://127.0.0.1:$NGINX_PORT
DATA=$WORK_DIR/www

trap stop_nginx_and_cleanup EXIT

DEBIAN_PACKAGES+=(nginx-light gzip)
[ "$MEASURE" = instructions ] && DEBIAN_PACKAGES+=(valgrind)
install_dependencies
build_and_install
gcc -O2 -Wall -Wextra -o "$WORK_DIR/libcsv_floor" "$PROJECT_DIR/bench/libcsv_floor.c" -lcsv
gcc -O2 -Wall -Wextra -o "$WORK_DIR/fresh_memory" "$PROJECT_DIR/bench/fresh_memory.c"

generate() {	# generate NAME ROWS [gen_users.py options]
	local name=$1 rows=$2
	shift 2
	python3 "$PROJECT_DIR/bench/gen_users.py" "$rows" "$DATA/$name.csv" "$@"
}
log "generating the exports (N = $N)"
mkdir -p "$DATA/gz"
if [ -z "$SYNCS_ONLY" ]; then
	generate light "$ROWS"
	generate seed "$ROWS" --shape seed
	generate big "$BIG_ROWS"
fi
for order in random ascending; do
	keys=()
	[ "$order" = ascending ] && keys=(--ascending-keys)
	generate "sync_${order}_4n" "$ROWS" --shape seed "${keys[@]}"
	generate "sync_${order}_4n_changed" "$ROWS" --shape seed --changed "${keys[@]}"
	generate "sync_${order}_n" "$N" --shape seed "${keys[@]}"
	generate "sync_${order}_n_changed" "$N" --shape seed --changed "${keys[@]}"
done
if [ -z "$SYNCS_ONLY" ]; then
	cp "$DATA/light.csv" "$DATA/gz/light.csv"
	gzip -3 -c "$DATA/light.csv" >"$DATA/gz/light.csv.gz"
fi
chmod -R a+rX "$DATA"

start_nginx "$DATA" "location /gz/ { gzip_static on; }"
start_cluster

sql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

COLUMNS_DEF='id text, name text, email text, address text, company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz'
# ours_NAME and peer_NAME (file_fdw + curl) for each export
define_tables() {
	local name=$1 path=$2 curl_options=${3:-}
	sql <<SQL
CREATE FOREIGN TABLE ours_$name ($COLUMNS_DEF) SERVER web OPTIONS (path '$path');
CREATE FOREIGN TABLE peer_$name ($COLUMNS_DEF) SERVER files
  OPTIONS (program 'curl -sS $curl_options $BASE$path', format 'csv', header 'true');
SQL
}
sql <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE EXTENSION file_fdw;
CREATE SERVER web FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url '$BASE');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE TABLE users ($COLUMNS_DEF, PRIMARY KEY (id));
CREATE TABLE copy_target ($COLUMNS_DEF, PRIMARY KEY (id));
SQL
for name in light seed big; do
	define_tables "$name" "/$name.csv"
done
define_tables gz /gz/light.csv --compressed
for order in random ascending; do
	for size in n 4n; do
		define_tables "sync_${order}_$size" "/sync_${order}_$size.csv"
		define_tables "sync_${order}_${size}_changed" "/sync_${order}_${size}_changed.csv"
	done
done
sql -c "CREATE FOREIGN TABLE ours_seed_skip ($COLUMNS_DEF) SERVER web OPTIONS (path '/seed.csv', on_error 'skip')"

# seconds one statement takes; $2 runs before it, untimed
time_statement() {
	local statement=$1 setup=${2:-} ms
	# from standard input, so that each statement runs on its own (VACUUM)
	[ -n "$setup" ] && sql <<<"$setup" >/dev/null
	sql -c CHECKPOINT >/dev/null
	ms=$(sql -At -c '\timing on' -c "$statement" 2>/dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
	python3 -c "print($ms / 1000)"
}

# millions of instructions one statement executes (its PortalRun: the
# packaged binary has no symbol for exec_simple_query, a static function);
# $2 runs before it, uncounted
count_statement() {
	local statement=$1 setup=${2:-} data="$WORK_DIR/data" count
	[ -n "$setup" ] && sql <<<"$setup" >/dev/null
	su postgres -c "$PG_BIN/pg_ctl -D '$data' -w stop" >/dev/null
	count=$(cd "$WORK_DIR" && su postgres -c "valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			--collect-atstart=no --toggle-collect=PortalRun \
			$PG_BIN/postgres --single -D '$data' -c shared_preload_libraries= postgres" \
		<<<"$statement" 2>&1 | sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p')
	su postgres -c "$PG_BIN/pg_ctl -D '$data' -l '$WORK_DIR/postgres.log' -w start" >/dev/null
	if [ "${count:-0}" = 0 ]; then
		log "callgrind counted nothing for: $statement"
		return 1
	fi
	python3 -c "print($count / 1e6)"
}

# what one run of a statement measures (BENCH_MEASURE)
measure_statement() {
	if [ "$MEASURE" = instructions ]; then
		count_statement "$@"
	else
		time_statement "$@"
	fi
}

# the fastest of RUNS runs of each statement, in seconds, one per line: the
# statements take turns (see best_of_turns); $1 runs before each.
best_of_each() {
	local setup=$1 statement
	local -a pairs=()
	shift
	for statement in "$@"; do
		pairs+=("$setup" "$statement")
	done
	best_of_turns "${pairs[@]}"
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
row() { echo "| $1 | $2 | $3 | $4 | $(ratio "$2" "$4") |"; }

TYPED='SELECT max("updatedAt"), max("createdAt"), sum(length(id) + length(name) + length(email) + length(address) + length(company) + length(job)) FROM'
SET_ALL='name = EXCLUDED.name, email = EXCLUDED.email, address = EXCLUDED.address, company = EXCLUDED.company, job = EXCLUDED.job, "updatedAt" = EXCLUDED."updatedAt", "createdAt" = EXCLUDED."createdAt"'
CHANGED='(users.name, users.email, users.address, users.company, users.job, users."updatedAt", users."createdAt") IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email, EXCLUDED.address, EXCLUDED.company, EXCLUDED.job, EXCLUDED."updatedAt", EXCLUDED."createdAt")'
EMPTY="TRUNCATE users, copy_target; DELETE FROM csv_export.sync_state; DELETE FROM csv_export.sync_log"
# the previous version of an export in the target, for ours and the peer
# alike: laid out as a first sync leaves it (in key order, since 1.5), or
# with BENCH_TARGET_ORDER=export in the export's own order, as a load in
# export order leaves it; an unchanged row is then found where the
# previous one was, a page read at a time (RESULTS.md)
TARGET_ORDER=${BENCH_TARGET_ORDER:-key}
case $TARGET_ORDER in
key) reload_order=" ORDER BY id" ;;
export) reload_order="" ;;
*) echo "BENCH_TARGET_ORDER is key or export, not $TARGET_ORDER" >&2; exit 2 ;;
esac
reload() { echo "TRUNCATE users; INSERT INTO users SELECT * FROM peer_$1$reload_order; VACUUM ANALYZE users;"; }

scan_rows=()
scan_case() {	# scan_case SHAPE
	local shape=$1 floor count_ours count_peer typed_ours typed_peer skip stop
	log "scans, $shape rows"
	floor=$(best_of_command "$WORK_DIR/libcsv_floor" "$DATA/$shape.csv")
	{ read -r count_ours; read -r count_peer; } < <(best_of_each "" "SELECT count(*) FROM ours_$shape" "SELECT count(*) FROM peer_$shape")
	{ read -r typed_ours; read -r typed_peer; } < <(best_of_each "" "$TYPED ours_$shape" "$TYPED peer_$shape")
	scan_rows+=("$(row "count(*), $shape" "$count_ours" "file_fdw + curl" "$count_peer")")
	scan_rows+=("$(row "count(*), $shape" "$count_ours" "libcsv alone (parse floor)" "$floor")")
	scan_rows+=("$(row "every column typed, $shape" "$typed_ours" "file_fdw + curl" "$typed_peer")")
	if [ "$shape" = seed ]; then
		{ read -r skip; read -r stop; } < <(best_of_each "" "$TYPED ours_seed_skip" "$TYPED ours_seed")
		scan_rows+=("$(row "every column typed, seed, on_error 'skip'" "$skip" "the same, 'stop'" "$stop")")
	fi
}

# what RUNS runs of each statement measured (seconds, or millions of
# instructions: BENCH_MEASURE), a line of them for each; the arguments are
# pairs SETUP STATEMENT, SETUP running unmeasured before its statement.
# The statements take turns, so that ours and its peer, and a case at N
# rows and the same case at 4N, see the same machine (this one's speed
# drifts by 20% over minutes).
turn_times() {
	local i j
	local -a times=() pairs=("$@")
	for i in $(seq 1 "$RUNS"); do
		for ((j = 0; j < ${#pairs[@]}; j += 2)); do
			times[j]+="$(measure_statement "${pairs[j + 1]}" "${pairs[j]}") "
		done
	done
	for ((j = 0; j < ${#pairs[@]}; j += 2)); do
		echo "${times[j]}"
	done
}

fastest() { python3 -c "import sys; print(f'{min(map(float, sys.argv[1].split())):.3f}')" "$1"; }

# the fastest of RUNS runs of each statement, one per line (see turn_times)
best_of_turns() {
	local line
	turn_times "$@" | while read -r line; do fastest "$line"; done
}

# time(4N) / time(N) from the times of the runs at N and at 4N: of the
# fastest runs, and the median of each turn's own ratio (a turn's two runs
# were minutes apart at most)
scaling() {
	python3 -c "import sys, statistics
n, big = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f'{min(big) / min(n):.2f} | {statistics.median(b / s for b, s in zip(big, n)):.2f}')" "$1" "$2"
}

sync_rows=()
scaling_rows=()
declare -A sync_times peer_times
# CASE of the sync onto the previous version of the export (reloaded into
# the target) at N and 4N rows, ours and the upsert over file_fdw (its
# statement ending in UPSERT_TAIL)
sync_onto_previous() {	# ORDER CASE EXPORT_SUFFIX UPSERT_TAIL DESCRIPTION PEER
	local order=$1 case=$2 suffix=$3 tail=$4 description=$5 peer=$6 size previous
	local -a t=() pairs=()
	log "sync, $order keys, $description"
	for size in n 4n; do
		previous=$(reload "sync_${order}_$size")
		pairs+=("$previous" "CALL csv_export.sync('ours_sync_${order}_$size$suffix', 'users')"
			"$previous" "INSERT INTO users SELECT * FROM peer_sync_${order}_$size$suffix ON CONFLICT (id) DO UPDATE SET $SET_ALL$tail")
	done
	mapfile -t t < <(turn_times "${pairs[@]}")
	sync_times[$order,n,$case]=${t[0]} peer_times[$order,n,$case]=${t[1]}
	sync_times[$order,4n,$case]=${t[2]} peer_times[$order,4n,$case]=${t[3]}
	sync_rows+=("$(row "$description, $order keys" "$(fastest "${t[2]}")" "$peer" "$(fastest "${t[3]}")")")
}

sync_case() {	# sync_case ORDER: the three sync cases at N and 4N rows
	local order=$1 n="sync_${order}_n" big="sync_${order}_4n" case ours
	local -a t=()
	log "sync, $order keys, into an empty table"
	mapfile -t t < <(turn_times \
		"$EMPTY" "CALL csv_export.sync('ours_$n', 'users')" \
		"$EMPTY" "COPY copy_target FROM PROGRAM 'curl -sS $BASE/$n.csv' (FORMAT csv, HEADER)" \
		"$EMPTY" "CALL csv_export.sync('ours_$big', 'users')" \
		"$EMPTY" "COPY copy_target FROM PROGRAM 'curl -sS $BASE/$big.csv' (FORMAT csv, HEADER)" \
		"$EMPTY" "INSERT INTO users SELECT * FROM peer_$big ON CONFLICT (id) DO UPDATE SET $SET_ALL")
	sync_times[$order,n,empty]=${t[0]} peer_times[$order,n,empty]=${t[1]}
	sync_times[$order,4n,empty]=${t[2]} peer_times[$order,4n,empty]=${t[3]}
	ours=$(fastest "${t[2]}")
	sync_rows+=("$(row "into an empty table, $order keys" "$ours" "COPY FROM PROGRAM curl (same table)" "$(fastest "${t[3]}")")")
	sync_rows+=("$(row "into an empty table, $order keys" "$ours" "INSERT ... ON CONFLICT over file_fdw" "$(fastest "${t[4]}")")")
	sync_onto_previous "$order" changed _changed "" "every row changed" \
		"INSERT ... ON CONFLICT over file_fdw"
	sync_onto_previous "$order" same "" " WHERE $CHANGED" "nothing changed" \
		"the same, WHERE ... IS DISTINCT FROM"
	for case in empty changed same; do
		scaling_rows+=("| $case, $order keys | $(fastest "${sync_times[$order,n,$case]}") | $(fastest "${sync_times[$order,4n,$case]}") | $(scaling "${sync_times[$order,n,$case]}" "${sync_times[$order,4n,$case]}") | $(scaling "${peer_times[$order,n,$case]}" "${peer_times[$order,4n,$case]}") |")
	done
}

if [ -z "$SYNCS_ONLY" ]; then
	scan_case light
	scan_case seed
fi
for order in random ascending; do
	sync_case "$order"
done

# what an unchanged sync wrote: row versions, dead tuples, row locks (xmax);
# each psql session's statistics are flushed when it ends
sql <<<"$(reload sync_random_4n)" >/dev/null
stats() { sleep 1; sql -At -c "SELECT n_tup_upd, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'users'"; }
before=$(stats)
sql -c "CALL csv_export.sync('ours_sync_random_4n', 'users')" 2>/dev/null
after=$(stats)
locked=$(sql -At -c "SELECT count(*) FROM users WHERE xmax::text <> '0'")
writes="$(( ${after%%|*} - ${before%%|*} )) rows updated, $(( ${after##*|} - ${before##*|} )) new dead tuples, $locked rows locked"

# what fresh memory cost this machine at the time of the run, in bursts of
# about what the syncs write at N and at 4N (bench/fresh_memory.c): one of
# the machine's shares of time(4N) / time(N), large only where a statement
# needs more than the freed memory the VM keeps (RESULTS.md)
fresh_memory=$("$WORK_DIR/fresh_memory" 200 800 200 800 200 800 | python3 -c "import sys, collections
costs = collections.defaultdict(list)
for line in sys.stdin:
    size, cost = line.split(' MB: ')
    costs[size].append(int(cost.split()[0]))
print('; '.join(f'{size} MB bursts {min(c)}-{max(c)}' for size, c in costs.items()))")

gz_ours="" gz_peer="" hwm_small="" hwm_big=""
if [ -z "$SYNCS_ONLY" ]; then
log "gzip, every column typed"
{ read -r gz_ours; read -r gz_peer; } < <(best_of_each "" "$TYPED ours_gz" "$TYPED peer_gz")

log "peak backend memory (VmHWM), every column typed"
hwm() {
	sql -At -c "$TYPED $1" -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+) kB')" | tail -n 1
}
hwm_small=$(hwm ours_light)
hwm_big=$(hwm ours_big)
fi

{
	echo "N = $N rows, 4N = $ROWS ($(( $(stat -c %s "$DATA/sync_random_4n.csv") / 1000000 )) MB of the seed shape at 4N). Minimum of $RUNS runs, $UNIT; shared_buffers 1GB; a CHECKPOINT before each timed statement; the previous version of an export loaded in $TARGET_ORDER order."
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; PostgreSQL $(sql -At -c 'SHOW server_version'); $(curl --version | head -n 1 | cut -d' ' -f1-2); $(date -u +%Y-%m-%d)."
	echo
	if [ -z "$SYNCS_ONLY" ]; then
		echo "Scans, 4N rows:"
		echo
		echo "| case | csv_export_fdw | peer | peer's time | ours / peer |"
		echo "| --- | --- | --- | --- | --- |"
		printf '%s\n' "${scan_rows[@]}"
		echo "| every column typed, gzip, light | $gz_ours | file_fdw + curl --compressed | $gz_peer | $(ratio "$gz_ours" "$gz_peer") |"
		echo
	fi
	echo "Syncs, 4N rows of the seed shape:"
	echo
	echo "| case | csv_export_fdw | peer | peer's time | ours / peer |"
	echo "| --- | --- | --- | --- | --- |"
	printf '%s\n' "${sync_rows[@]}"
	echo
	echo "Scaling of the sync, $UNIT at N and 4N rows (fastest run), and 4N / N: of the fastest"
	echo "runs, and the median of the $RUNS turns' own ratios; the same for the peer (COPY for the"
	echo "empty table, the upserts for the others):"
	echo
	echo "| case | N | 4N | 4N / N, fastest | median of turns | peer's, fastest | median of turns |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	printf '%s\n' "${scaling_rows[@]}"
	echo
	[ -z "$SYNCS_ONLY" ] && echo "Peak backend memory (VmHWM), every column typed: $hwm_small kB at $ROWS rows, $hwm_big kB at $BIG_ROWS rows ($(( (hwm_big - hwm_small) / 1024 )) MB more)."
	echo "An unchanged sync of 4N random keys wrote: $writes."
	echo "Fresh memory on this machine, ms per 100 MB first touched, 3 runs: $fresh_memory."
} | tee "$BENCH_OUT"
