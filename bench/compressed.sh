#!/usr/bin/env bash
# Exports served as compressed files: the same 1M-row export (seed shape,
# random UUID keys) as plain CSV, .csv.gz, .csv.zst, .csv.bz2 and .csv.xz,
# served by nginx as files (application/octet-stream, no Content-Encoding)
# and read with compression 'auto'.  For each: seconds of a scan with every
# column typed (minimum of BENCH_RUNS), against file_fdw + curl piped
# through the format's own decompressor, and the backend's peak memory
# (VmHWM, a fresh backend per file) against the plain export's.  Writes
# BENCH_OUT.
set -euo pipefail
CRON_DATABASE=postgres
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$PROJECT_DIR/bench/lib.sh"

ROWS=${BENCH_ROWS:-1000000}
RUNS=${BENCH_RUNS:-3}
BENCH_OUT=${BENCH_OUT:-$PROJECT_DIR/bench/compressed-latest.md}
BASE=http://127.0.0.1:$NGINX_PORT
DATA=$WORK_DIR/www

trap stop_nginx_and_cleanup EXIT

DEBIAN_PACKAGES+=(nginx-light gzip bzip2 xz-utils)
install_dependencies
build_and_install

log "generating the export ($ROWS rows) and its compressed files"
mkdir -p "$DATA"
python3 "$PROJECT_DIR/bench/gen_users.py" "$ROWS" "$DATA/users.csv" --shape seed
gzip -6 -c "$DATA/users.csv" >"$DATA/users.csv.gz"
zstd -q -3 -T0 -c "$DATA/users.csv" >"$DATA/users.csv.zst"
bzip2 -9 -c "$DATA/users.csv" >"$DATA/users.csv.bz2"
xz -3 -T0 -c "$DATA/users.csv" >"$DATA/users.csv.xz"
chmod -R a+rX "$DATA"

start_nginx "$DATA"
start_cluster

sql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
COLUMNS_DEF='id text, name text, email text, address text, company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz'
TYPED='SELECT count(*), max(length(id)), max(length(name)), max(length(email)), max(length(address)), max(length(company)), max(length(job)), max("updatedAt"), max("createdAt") FROM'
sql <<SQL
CREATE EXTENSION csv_export_fdw;
CREATE EXTENSION file_fdw;
CREATE SERVER web FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url '$BASE');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
SQL
declare -A decompressor=([csv]=cat [gz]="gzip -dc" [zst]="zstd -dc" [bz2]="bzip2 -dc" [xz]="xz -dc")
for ext in csv gz zst bz2 xz; do
	file=users.csv
	[ "$ext" != csv ] && file=users.csv.$ext
	sql <<SQL
CREATE FOREIGN TABLE ours_$ext ($COLUMNS_DEF) SERVER web OPTIONS (path '/$file');
CREATE FOREIGN TABLE peer_$ext ($COLUMNS_DEF) SERVER files
  OPTIONS (program 'curl -sS $BASE/$file | ${decompressor[$ext]}', format 'csv', header 'true');
SQL
done

peak_kb() {	# VmHWM of a fresh backend after the statement
	sql -At -c "$1" -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+) kB')" | tail -n 1
}

rows=()
plain_peak=""
for ext in csv gz zst bz2 xz; do
	log "$ext"
	ours=$(best_of "$TYPED ours_$ext")
	peer=$(best_of "$TYPED peer_$ext")
	peak=$(peak_kb "$TYPED ours_$ext")
	[ "$ext" = csv ] && plain_peak=$peak
	size=users.csv
	[ "$ext" != csv ] && size=users.csv.$ext
	rows+=("| $ext | $(( $(stat -c %s "$DATA/$size") / 1000000 )) MB | $ours | $peer | $(python3 -c "print(f'{$ours / $peer:.2f}')") | $peak kB | $(( (peak - plain_peak) / 1024 )) MB |")
done

{
	echo "$ROWS rows of the seed shape ($(( $(stat -c %s "$DATA/users.csv") / 1000000 )) MB as CSV), every column typed; minimum of $RUNS runs, seconds; peak memory of a fresh backend."
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; PostgreSQL $(sql -At -c 'SHOW server_version'); $(date -u +%Y-%m-%d)."
	echo
	echo "| file | size | csv_export_fdw | file_fdw + curl + decompressor | ours / peer | peak memory | more than plain |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} | tee "$BENCH_OUT"
