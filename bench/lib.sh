# bench/lib.sh - what the benchmarks share. Sourced, not run.

# bench_make_db PATH SIZE_MB: a WAL-mode SQLite database of about SIZE_MB
# (4 KiB rows of random bytes, one index), checkpointed so it is one file.
bench_make_db() {
	local rows=$(( $2 * 1024 / 4 ))
	echo "generating a $2 MB database (WAL mode, 4 KiB pages)..."
	sqlite3 "$1" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE events(id INTEGER PRIMARY KEY, at INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO events(at, payload) SELECT i, randomblob(4000) FROM n;
CREATE INDEX events_at ON events(at);
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

# --- Azurite (npm, tests/azure) ------------------------------------------------
# The Azurite development key: public, documented; for the benches only.
BENCH_AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
BENCH_AZ_PID=

# bench_port: a free TCP port on 127.0.0.1.
bench_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# bench_azurite_start DIR PORT: a fresh Azurite (DIR emptied first) on
# PORT, its log in DIR.log; BENCH_AZ_PID is its pid. Exits if it does not
# answer within 30 s.
bench_azurite_start() {
	local az=$ROOT/tests/azure
	[ -d "$az/node_modules" ] || (cd "$az" && npm ci --silent --no-audit --no-fund)
	rm -rf "$1"
	mkdir -p "$1"
	"$az/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
	    --blobPort "$2" --location "$1" --skipApiVersionCheck \
	    --loose --silent --disableTelemetry >>"$1.log" 2>&1 &
	BENCH_AZ_PID=$!
	for _ in $(seq 150); do
		curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
		sleep 0.2
	done
	echo "bench: Azurite did not start on port $2" >&2
	exit 1
}

# bench_azurite_stop: stop the Azurite bench_azurite_start started, if any.
bench_azurite_stop() {
	[ -n "$BENCH_AZ_PID" ] && kill "$BENCH_AZ_PID" 2>/dev/null &&
		wait "$BENCH_AZ_PID" 2>/dev/null
	BENCH_AZ_PID=
}
