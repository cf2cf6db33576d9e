#!/usr/bin/env bash
# Runs every test of csv_export_fdw on a fresh Debian 12 machine, as root:
# installs the dependencies, builds and installs the extension, starts the
# mock export API and a throwaway PostgreSQL cluster (with pg_cron), runs
# the CSV reader's unit tests and the pg_regress suite, and stops everything.
# PostgreSQL 15 by default; PG_VERSION=17 or 18 runs the same suite in a
# Debian 13 or forky root (made the first time, with debootstrap).
#
# Ends with a line "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# PG_VERSION=17 or 18: the same suite, run inside a Debian root that has it
if [ "$PG_VERSION" != 15 ] && [ -z "${CSV_EXPORT_FDW_IN_ROOT:-}" ]; then
	rm -rf "$WORK_DIR"
	source "$PROJECT_DIR/test/debian_root.sh"
	run_in_root "$PG_VERSION"
	exit $?
fi
trap cleanup EXIT

install_dependencies
build_and_install

passed=0
failed=0

# on the host, the tests run against the installed Debian package
if [ -z "${CSV_EXPORT_FDW_IN_ROOT:-}" ]; then
	if package_and_install; then
		echo "package postgresql-$PG_VERSION-csv-export-fdw             ok"
		passed=$((passed + 1))
	else
		echo "package postgresql-$PG_VERSION-csv-export-fdw             FAILED"
		failed=$((failed + 1))
	fi
fi

add_counts() {	# add the counts of a "N passed, N failed" line
	local line=$1
	passed=$((passed + $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")))
	failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
}

# twice: as built (SSE2 on x86-64 finds quotes and line feeds) and with the
# portable code other machines build
for variant in "" -DCSV_READER_NO_SIMD; do
	log "CSV reader unit tests${variant:+ ($variant)} (outside the server, with ASan and UBSan)"
	gcc -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=all $variant \
		-o "$WORK_DIR/csv_reader_test" "$PROJECT_DIR/test/csv_reader_test.c" \
		"$PROJECT_DIR/src/csv_reader.c" -lcsv
	"$WORK_DIR/csv_reader_test" | tee "$WORK_DIR/csv_reader_test.out" || true
	add_counts "$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK_DIR/csv_reader_test.out" || echo '0 passed, 1 failed')"
done

log "decompression unit tests (outside the server, with ASan and UBSan)"
gcc -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-o "$WORK_DIR/decoder_test" "$PROJECT_DIR/test/decoder_test.c" \
	"$PROJECT_DIR/src/decoder.c" -lz -lzstd -lbz2 -llzma
"$WORK_DIR/decoder_test" | tee "$WORK_DIR/decoder_test.out" || true
add_counts "$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK_DIR/decoder_test.out" || echo '0 passed, 1 failed')"

log "archive unit tests (outside the server, with ASan and UBSan)"
gcc -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-o "$WORK_DIR/archive_test" "$PROJECT_DIR/test/archive_test.c" \
	"$PROJECT_DIR/src/archive.c" -lz
mkdir -p "$WORK_DIR/archives"
# shellcheck disable=SC2046  # the archives and what they hold, as arguments
"$WORK_DIR/archive_test" $(python3 "$PROJECT_DIR/test/make_archives.py" "$WORK_DIR/archives") \
	| tee "$WORK_DIR/archive_test.out" || true
add_counts "$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK_DIR/archive_test.out" || echo '0 passed, 1 failed')"

log "the parsing thread and the CSV reader (outside the server, with ThreadSanitizer)"
gcc -Wall -Wextra -Werror -g -O1 -fsanitize=thread -pthread \
	-o "$WORK_DIR/csv_reader_thread_test" "$PROJECT_DIR/test/csv_reader_thread_test.c" \
	"$PROJECT_DIR/src/csv_reader.c" "$PROJECT_DIR/src/parse_thread.c" -lcsv
# a data race stops the test before it prints its counts
TSAN_OPTIONS=halt_on_error=1 "$WORK_DIR/csv_reader_thread_test" \
	| tee "$WORK_DIR/csv_reader_thread_test.out" || true
add_counts "$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK_DIR/csv_reader_thread_test.out" || echo '0 passed, 1 failed')"

log "what the parsing thread runs calls nothing of PostgreSQL's"
# csv_reader.c and parse_thread.c run on the parsing thread, where a
# PostgreSQL function (palloc, ereport, ...) would be a crash waiting to
# happen: every symbol they leave undefined must be libc's, pthreads' or
# libcsv's
thread_symbols_ok=true
for part in csv_reader parse_thread; do
	gcc -O2 -c -o "$WORK_DIR/$part.o" "$PROJECT_DIR/src/$part.c"
	foreign=$(nm -u "$WORK_DIR/$part.o" | awk '{print $2}' | grep -Ev \
		'^(_GLOBAL_OFFSET_TABLE_|csv_[a-z_]+|pthread_[a-z_]+|sig[a-z]+|clock_gettime|(m|c|re|aligned_)alloc|free|mem(chr|cpy|move|set|cmp)|strlen|abort|__stack_chk_fail)$' || true)
	if [ -n "$foreign" ]; then
		echo "src/$part.c calls what the parsing thread may not: $foreign"
		thread_symbols_ok=false
	fi
done
if $thread_symbols_ok; then
	echo "parsing thread symbols                                 ok"
	add_counts "1 passed, 0 failed"
else
	echo "parsing thread symbols                                 FAILED"
	add_counts "0 passed, 1 failed"
fi

log "fuzzing the CSV reader for ${FUZZ_SECONDS:-20} s (libFuzzer), then replaying kept crash inputs"
if make -C "$PROJECT_DIR" -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}" >"$WORK_DIR/fuzz.log" 2>&1; then
	echo "fuzz csv_reader                                        ok"
	passed=$((passed + 1))
else
	tail -n 30 "$WORK_DIR/fuzz.log"
	echo "fuzz csv_reader                                        FAILED"
	failed=$((failed + 1))
fi

start_mock_api
start_cluster

log "pg_regress suite"
cd "$PROJECT_DIR"
rm -rf results regression.diffs regression.out
make -s PG_CONFIG=$PG_BIN/pg_config installcheck 2>&1 | tee "$WORK_DIR/installcheck.out" || true
# "test x ... ok" (15, 16) or "ok 1 - x" (17 and later)
regress_ok=$(grep -cE '^(test| )? *[a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ ' "$WORK_DIR/installcheck.out" || true)
regress_failed=$(grep -cE '\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$WORK_DIR/installcheck.out" || true)
# every test in sql/ counts: one that gave no verdict (no expected file,
# pg_regress stopped early) is a failure
regress_total=$(ls sql/*.sql | wc -l)
if [ $((regress_ok + regress_failed)) -lt "$regress_total" ]; then
	regress_failed=$((regress_total - regress_ok))
fi
if [ -f regression.diffs ]; then
	cat regression.diffs
fi
passed=$((passed + regress_ok))
failed=$((failed + regress_failed))

log "shell tests (several sessions, dumps and restores)"
export PG_BIN
for test in "$PROJECT_DIR"/test/shell/*.sh; do
	name=$(basename "$test" .sh)
	if bash "$test" >"$WORK_DIR/shell_$name.log" 2>&1; then
		printf 'shell %-48s ok\n' "$name"
		passed=$((passed + 1))
	else
		tail -n 30 "$WORK_DIR/shell_$name.log"
		printf 'shell %-48s FAILED\n' "$name"
		failed=$((failed + 1))
	fi
done

# Every test above ran against this server: none of them may have crashed
# a backend or leaked a resource, whatever its own output said.
log "the server log: no backend crashed, no resource leaked"
if grep -E "terminated by signal|leak" "$WORK_DIR/postgres.log"; then
	echo "server log                                             FAILED"
	failed=$((failed + 1))
else
	echo "server log                                             ok"
	passed=$((passed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
