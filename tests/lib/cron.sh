# tests/lib/cron.sh - what the backup-cron black-box tests share: a work
# directory, a config per case, the binary, a live writer, JSON queries.
# Sourced with ROOT set (the source tree); it sources tests/lib/tap.sh
# and makes BUILD_DIR (default $ROOT/build) absolute.
#
#   W                 the work directory (removed at exit)
#   write_config DIR  a disk-store config in DIR/safbackup.conf, and its
#                     store set up (`backup-cron init`), as an admin does
#   bc ARGS...        backup-cron with the config of case directory $D
#   start_writer MODE sb-writer on $D/app.db in journal MODE (wal|delete)
#   json EXPR         evaluate a JS expression over the JSON on stdin (`o`)

# shellcheck source=tap.sh
. "$ROOT/tests/lib/tap.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd) || exit 1

CRON=$BUILD_DIR/src/cron/backup-cron
WRITER=$BUILD_DIR/src/tools/sb-writer
W=$(mktemp -d /tmp/sb-cron-test.XXXXXX)
chmod 0755 "$W"
WRITER_PID=
cleanup() {
	[ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null
	chmod -R u+w "$W" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# json EXPR < file: evaluate a JS expression over the parsed JSON `o`.
json() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }

write_config() { # dir
	mkdir -p "$1/store" "$1/tmp"
	cat >"$1/safbackup.conf" <<-EOF
	[source]
	path = $1/app.db
	[catalog]
	path = $1/catalog.db
	[core]
	temp_dir = $1/tmp
	[store]
	kind = disk
	[disk]
	root = $1/store
	EOF
	"$CRON" --config "$1/safbackup.conf" init >/dev/null
}

bc() { "$CRON" --config "$D/safbackup.conf" "$@"; }

start_writer() { # journal
	rm -f "$D/writer.status"
	"$WRITER" --journal "$1" --interval-ms 2 --payload 200 \
		--status "$D/writer.status" "$D/app.db" 2>"$D/writer.err" &
	WRITER_PID=$!
	for _ in $(seq 100); do [ -s "$D/writer.status" ] && break; sleep 0.05; done
}

writer_rows() { cut -d' ' -f1 "$D/writer.status"; }

wait_rows() { # n: wait until the writer has written at least n rows
	for _ in $(seq 400); do
		[ "$(writer_rows)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Content digest of rows with id <= max: what "exactly the backed-up rows" means.
digest() { # db max
	sqlite3 "$1" "SELECT id, at, pid, hex(payload) FROM events WHERE id <= $2 ORDER BY id" |
		sha256sum | cut -d' ' -f1
}

