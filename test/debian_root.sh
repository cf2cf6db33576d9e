# PostgreSQL majors other than Debian 12's own (15) are tested in a Debian
# root of their own, entered with chroot: 17 in trixie (Debian 13), 18 in
# forky.  A root is made once with debootstrap, from the mirror the host's
# apt uses, kept in ROOTS_DIR and reused; the suite then runs inside it as
# it runs on the host, installing its packages with apt-get there.
# Sourced by test/run_tests.sh; do not run it.

ROOTS_DIR=${CSV_EXPORT_FDW_ROOTS:-/var/cache/csv_export_fdw/roots}

suite_of_major() {
	case $1 in
		17) echo trixie ;;
		18) echo forky ;;
		*) return 1 ;;
	esac
}

debian_mirror() {
	local uri
	uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	echo "${uri:-http://deb.debian.org/debian}"
}

# The root for a major, made if it is not there yet.
ensure_root() {
	local major=$1 suite root script=()
	suite=$(suite_of_major "$major") || { log "no Debian root for PostgreSQL $major"; return 1; }
	root=$ROOTS_DIR/$suite
	[ -f "$root/.csv_export_fdw_root" ] && return 0
	command -v debootstrap >/dev/null || {
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	}
	# forky is named by no script of bookworm's debootstrap: sid's fits it
	[ "$suite" = forky ] && script=(/usr/share/debootstrap/scripts/sid)
	log "making a Debian $suite root in $root (once)"
	mkdir -p "$ROOTS_DIR"
	rm -rf "$root.tmp"
	debootstrap --variant=minbase "$suite" "$root.tmp" "$(debian_mirror)" "${script[@]}" \
		>"$ROOTS_DIR/$suite.debootstrap.log" 2>&1
	# forky's Release file in the registry is past its valid-until date
	[ "$suite" = forky ] &&
		echo 'Acquire::Check-Valid-Until "false";' >"$root.tmp/etc/apt/apt.conf.d/99csv-export-fdw"
	touch "$root.tmp/.csv_export_fdw_root"
	mv "$root.tmp" "$root"
}

# Run the suite for a major inside its root; returns the suite's status.
run_in_root() {
	local major=$1 root status=0
	root=$ROOTS_DIR/$(suite_of_major "$major")
	ensure_root "$major"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	mkdir -p "$root/dev/shm"
	mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
	rm -rf "$root/build"
	copy_project "$root/build"
	log "PostgreSQL $major: the suite in the $(suite_of_major "$major") root"
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 PG_VERSION="$major" CSV_EXPORT_FDW_IN_ROOT=1 \
		FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash /build/test/run_tests.sh || status=$?
	umount "$root/dev/shm" "$root/proc" 2>/dev/null || true
	return $status
}
