# Shared by test/run_tests.sh and test/demo.sh: install what the project needs,
# build it, and start the throwaway servers.  Source it; do not run it.
#
# Everything is started in a temporary directory and stopped by cleanup(),
# which the callers install as an EXIT trap.

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PostgreSQL 15 is Debian 12's; 17 and 18 run in Debian roots of their own
# (test/debian_root.sh), where this file is sourced again
PG_VERSION=${PG_VERSION:-15}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
PGPORT=${PGPORT:-54329}
MOCK_API_PORT=${MOCK_API_PORT:-5001}
WORK_DIR=$(mktemp -d /tmp/csv_export_fdw.XXXXXX)
chmod 755 "$WORK_DIR"

DEBIAN_PACKAGES=(
	build-essential
	ca-certificates
	clang
	curl
	libbz2-dev
	libcsv-dev
	"$( . /etc/os-release; [ "$VERSION_CODENAME" = bookworm ] && echo libclang-rt-14-dev || echo libclang-rt-dev)"
	libcurl4-openssl-dev
	liblzma-dev
	libzstd-dev
	locales
	openssl
	postgresql-$PG_VERSION
	postgresql-$PG_VERSION-cron
	postgresql-server-dev-$PG_VERSION
	python3
	zlib1g-dev
	zstd
)
# on the host (15), the suite also builds the Debian package
if [ -z "${CSV_EXPORT_FDW_IN_ROOT:-}" ]; then
	DEBIAN_PACKAGES+=(debhelper dpkg-dev postgresql-server-dev-all)
fi

log() { printf '==> %s\n' "$*" >&2; }

install_dependencies() {
	local missing=()
	local pkg
	for pkg in "${DEBIAN_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
			|| missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	ensure_test_locale
}

# A second language for messages: tests check that nothing depends on
# English message text (lc_messages).
ensure_test_locale() {
	locale -a | grep -qx 'de_DE.utf8' || localedef -i de_DE -c -f UTF-8 de_DE.UTF-8
}

build_and_install() {
	log "building csv_export_fdw"
	make -C "$PROJECT_DIR" -s PG_CONFIG=$PG_BIN/pg_config clean
	make -C "$PROJECT_DIR" -s PG_CONFIG=$PG_BIN/pg_config WERROR=1
	make -C "$PROJECT_DIR" -s PG_CONFIG=$PG_BIN/pg_config install >/dev/null
}

# The project's files (tracked and untracked, not ignored ones) into dest:
# for the Debian package build and for the Debian roots of other majors.
copy_project() {
	local dest=$1
	mkdir -p "$dest"
	if git -C "$PROJECT_DIR" rev-parse 2>/dev/null; then
		(cd "$PROJECT_DIR" && git ls-files -co --exclude-standard | tar -cf - -T -) | tar -xf - -C "$dest"
	else
		cp -a "$PROJECT_DIR/." "$dest/"
	fi
}

# Build the Debian package (debian/, pg_buildext: one binary package per
# installed major) from a copy of the tree, and install it over what
# build_and_install installed, so that the tests run against the package.
package_and_install() {
	local src=$WORK_DIR/package/csv-export-fdw
	log "packaging csv_export_fdw (dpkg-buildpackage, pg_buildext) and installing the .deb"
	copy_project "$src"
	(cd "$src" && pg_buildext updatecontrol && dpkg-buildpackage -us -uc -b) \
		>"$WORK_DIR/package.log" 2>&1 || { tail -n 30 "$WORK_DIR/package.log"; return 1; }
	dpkg -i "$WORK_DIR/package/postgresql-$PG_VERSION-csv-export-fdw_"*.deb >>"$WORK_DIR/package.log" 2>&1 ||
		{ tail -n 30 "$WORK_DIR/package.log"; return 1; }
	dpkg -L "postgresql-$PG_VERSION-csv-export-fdw" | grep -q "lib/csv_export_fdw.so$"
}

start_mock_api() {
	log "starting the mock export API on port $MOCK_API_PORT"
	if curl -s -o /dev/null "http://127.0.0.1:$MOCK_API_PORT/"; then
		log "port $MOCK_API_PORT is already in use; set MOCK_API_PORT"
		return 1
	fi
	# a self-signed certificate for 127.0.0.1, which the tests trust through
	# the ca_file option (TLS_CA_FILE)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$WORK_DIR/tls.key" -out "$WORK_DIR/tls.crt" >/dev/null 2>&1
	chmod 644 "$WORK_DIR/tls.crt"
	export TLS_CA_FILE="$WORK_DIR/tls.crt"
	# 127.0.0.2 plays another host: a second origin on this machine
	python3 "$PROJECT_DIR/test/mock_api.py" --port "$MOCK_API_PORT" --also-host 127.0.0.2 \
		--tls-cert "$WORK_DIR/tls.crt" --tls-key "$WORK_DIR/tls.key" \
		>"$WORK_DIR/mock_api.log" 2>&1 &
	MOCK_API_PID=$!
	local i
	for i in $(seq 1 50); do
		kill -0 "$MOCK_API_PID" 2>/dev/null || break
		curl -fsS -o /dev/null "http://127.0.0.1:$MOCK_API_PORT/export/csv?rows=1" 2>/dev/null \
			&& return 0
		sleep 0.1
	done
	log "the mock export API did not start:"
	cat "$WORK_DIR/mock_api.log" >&2
	return 1
}

# A throwaway cluster owned by the postgres user (PostgreSQL will not run
# as root), listening only on a socket in $WORK_DIR, with pg_cron loaded.
start_cluster() {
	local data="$WORK_DIR/data"
	log "starting a throwaway PostgreSQL $PG_VERSION cluster on port $PGPORT"
	chown postgres: "$WORK_DIR"
	# (from a directory the postgres user may enter: su keeps the current one)
	cd "$WORK_DIR"
	su postgres -c "$PG_BIN/initdb -D '$data' -U postgres --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8" >"$WORK_DIR/initdb.log" 2>&1
	cat >>"$data/postgresql.conf" <<-EOF
		listen_addresses = ''
		port = $PGPORT
		unix_socket_directories = '$WORK_DIR'
		shared_preload_libraries = 'pg_cron'
		cron.database_name = '${CRON_DATABASE:-contrib_regression}'
		cron.use_background_workers = on
		max_worker_processes = 16
		fsync = off
		log_min_messages = log
		${EXTRA_POSTGRESQL_CONF:-}
	EOF
	su postgres -c "$PG_BIN/pg_ctl -D '$data' -l '$WORK_DIR/postgres.log' -w start" >/dev/null
	cd - >/dev/null
	export PGHOST=$WORK_DIR PGPORT PGUSER=postgres
}

cleanup() {
	if [ -d "$WORK_DIR/data" ]; then
		cd /
		su postgres -c "$PG_BIN/pg_ctl -D '$WORK_DIR/data' -m immediate stop" >/dev/null 2>&1 || true
	fi
	if [ -n "${MOCK_API_PID:-}" ]; then
		kill "$MOCK_API_PID" 2>/dev/null || true
	fi
	if [ -z "${KEEP_WORK_DIR:-}" ]; then
		rm -rf "$WORK_DIR"
	fi
}
