#!/usr/bin/env bash
# bench/http.sh - GET /backups with 10,000 catalog rows through nginx over
# TLS (the whole path: TLS, basic auth, FastCGI, backupd, SQLite, json-c),
# side by side with the same nginx serving the same JSON as a static file,
# in one run, with wrk. Prints p99 latency and throughput of both and the
# ratios (API / static).
#
#   BUILD_DIR=build ROWS=10000 LIMIT=100 DURATION=10 CONNS=32 bash bench/http.sh
#
# LIMIT is the page size asked for (the API's default is 100, its cap 1000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
ROWS=${ROWS:-10000}
LIMIT=${LIMIT:-100}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}

for t in wrk nginx sqlite3 curl openssl; do
	command -v "$t" >/dev/null || { echo "bench/http.sh: $t is missing (apt-get install $t)" >&2; exit 1; }
done

W=$(mktemp -d /tmp/sb-bench-http.XXXXXX)
chmod 0755 "$W"
export BUILD_DIR RUNDIR=$W/run WORKERS=${WORKERS:-4} SOURCE_DB=$W/app.db
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null || echo 18643)
export PORT
# shellcheck source=../tests/lib/stack.sh
. "$ROOT/tests/lib/stack.sh"
trap 'stack_stop; rm -rf "$W"' EXIT
mkdir -p "$RUNDIR"
stack_start

AUTH="Authorization: Basic $(printf admin:admin | base64)"

# One real backup, then ROWS-1 copies of its catalog row with new ids
# and earlier times: listing cost depends on the catalog, not the store.
curl -ksf -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"description":"bench","tags":["bench"]}' "$STACK_URL/backups" >/dev/null
sqlite3 "$RUNDIR/catalog.db" <<SQL
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT $((ROWS - 1)))
INSERT INTO backups
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
       substr(lower(hex(randomblob(2))), 2) || '-a' ||
       substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
       type, status, created_at - x * 60000, completed_at - x * 60000,
       location, size, sha256, 'bench row ' || x, tags, error
FROM backups, c;
SQL
n=$(sqlite3 "$RUNDIR/catalog.db" 'SELECT count(*) FROM backups')
echo "catalog rows: $n; page: limit=$LIMIT"

API="$STACK_URL/backups?limit=$LIMIT"
curl -ksf -H "$AUTH" "$API" >"$STACK_SHARE/static/backups.json"
STATIC="$STACK_URL/static/backups.json"
echo "response: $(wc -c <"$STACK_SHARE/static/backups.json") bytes of JSON"
# The same bytes either way.
cmp -s <(curl -ksf -H "$AUTH" "$STATIC") "$STACK_SHARE/static/backups.json" ||
	{ echo "bench/http.sh: static file differs" >&2; exit 1; }

# run URL: wrk prints Requests/sec and the latency distribution.
run() {
	wrk --latency -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "$AUTH" "$1"
}
# p99 in ms from wrk's "99%" line (us, ms or s).
p99() {
	awk '$1 == "99%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000;
		printf "%.2f", v }'
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }'; }
errs() { awk '/Non-2xx|Socket errors/ { print }'; }

echo "warm-up..."
wrk -t1 -c4 -d2s -H "$AUTH" "$API" >/dev/null
wrk -t1 -c4 -d2s -H "$AUTH" "$STATIC" >/dev/null

echo "API:    GET /backups?limit=$LIMIT (${DURATION}s, $CONNS connections)"
a=$(run "$API")
echo "$a" | sed -n '/Latency Distribution/,/Requests\/sec/p' | sed 's/^/  /'
echo "static: GET /static/backups.json (${DURATION}s, $CONNS connections)"
s=$(run "$STATIC")
echo "$s" | sed -n '/Latency Distribution/,/Requests\/sec/p' | sed 's/^/  /'

ap=$(echo "$a" | p99); sp=$(echo "$s" | p99)
ar=$(echo "$a" | rps); sr=$(echo "$s" | rps)
if [ -n "$(echo "$a$s" | errs)" ]; then
	echo "bench/http.sh: errors during the run:" >&2
	echo "$a$s" | errs >&2
fi
echo
printf '%-28s %12s %12s %10s\n' "" "API" "static" "ratio"
printf '%-28s %12s %12s %10s\n' "p99 latency (ms)" "$ap" "$sp" \
	"$(awk -v a="$ap" -v s="$sp" 'BEGIN { printf "%.2f", a / s }')"
printf '%-28s %12s %12s %10s\n' "throughput (requests/s)" "$ar" "$sr" \
	"$(awk -v a="$ar" -v s="$sr" 'BEGIN { printf "%.3f", a / s }')"
echo "(catalog $n rows, page $LIMIT, $WORKERS backupd workers, $(nproc) CPUs)"
