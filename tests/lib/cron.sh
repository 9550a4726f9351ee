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
#   start_listener MODE LOG  a webhook receiver on a free port (LPORT)
#   find_libfaketime  LIBFT, the library the faketime package installs

# shellcheck source=tap.sh
. "$ROOT/tests/lib/tap.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd) || exit 1

CRON=$BUILD_DIR/src/cron/backup-cron
WRITER=$BUILD_DIR/src/tools/sb-writer
W=$(mktemp -d /tmp/sb-cron-test.XXXXXX)
chmod 0755 "$W"
WRITER_PID=
LISTENERS=()
cleanup() {
	local p
	[ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null
	for p in "${LISTENERS[@]+"${LISTENERS[@]}"}"; do kill "$p" 2>/dev/null; done
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

# start_listener MODE LOG: a webhook on a free port (LPORT). MODE answer:
# 204 to every POST; hang: accept, read, never answer. Each body is one
# line of LOG, written before any answer.
start_listener() {
	local pf=$W/lport.$RANDOM
	node -e '
const [mode, log, pf] = process.argv.slice(1);
const fs = require("fs");
const srv = require("http").createServer((req, res) => {
	let b = "";
	req.on("data", (c) => { b += c; }).on("end", () => {
		fs.appendFileSync(log, b.replace(/\n/g, " ") + "\n");
		if (mode === "answer") { res.writeHead(204); res.end(); }
	});
});
srv.listen(0, "127.0.0.1", () => fs.writeFileSync(pf, String(srv.address().port)));
' "$1" "$2" "$pf" &
	LISTENERS+=($!)
	for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
	LPORT=$(cat "$pf")
}

# find_libfaketime: LIBFT set to libfaketime.so.1, or a FAIL line and 1.
find_libfaketime() {
	local f
	LIBFT=
	for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
		/usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
		[ -f "$f" ] && { LIBFT=$f; break; }
	done
	if [ -z "$LIBFT" ]; then
		echo "FAIL libfaketime not found: install the Debian package faketime (./dev deps)"
		return 1
	fi
	# ASan's runtime is linked into the binary by clang; libfaketime
	# preloaded next to it is fine.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0
}
