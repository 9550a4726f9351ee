#!/usr/bin/env bash
# Black-box tests of the /backups API: real nginx + real backupd over
# HTTPS on free ports in a temporary directory, driven by Node's built-in
# test runner. Stops everything on exit; exits non-zero on any failure.
#
#   BUILD_DIR=build bash tests/integration/http/run.sh [test files...]
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
# shellcheck source=../../lib/stack.sh
. "$ROOT/tests/lib/stack.sh"

for tool in node nginx openssl sqlite3 curl; do
	command -v "$tool" >/dev/null || { echo "http tests: $tool is missing" >&2; exit 1; }
done
[ -x "$BUILD_DIR/src/daemon/backupd" ] || { echo "http tests: no $BUILD_DIR/src/daemon/backupd" >&2; exit 1; }

W=$(mktemp -d /tmp/sb-http-test.XXXXXX)
export RUNDIR=$W/run BUILD_DIR
cleanup() {
	stack_stop 2>/dev/null
	if [ "${KEEP:-0}" = 1 ] || [ "${FAILED:-0}" = 1 ]; then
		echo "http tests: run directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The production server block must at least be valid nginx: wrap it in
# an http{} with its includes, certificate paths pointing at a throwaway
# pair, and ask nginx -t.
check_production_conf() {
	local p=$W/prod
	mkdir -p "$p/safbackup" "$p/logs"
	cp "$ROOT"/nginx/{security-headers,json-errors,backups-fastcgi}.conf "$p/safbackup/"
	cp "$ROOT/nginx/secret.conf.example" "$p/safbackup/secret.conf"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=t \
		-keyout "$p/key.pem" -out "$p/cert.pem" >/dev/null 2>&1
	sed -e "s|/etc/ssl/safbackup/fullchain.pem|$p/cert.pem|" \
		-e "s|/etc/ssl/safbackup/privkey.pem|$p/key.pem|" \
		"$ROOT/nginx/safbackup.conf" >"$p/server.conf"
	printf 'pid %s/nginx.pid;\nerror_log %s/logs/error.log;\nevents {}\nhttp {\ninclude /etc/nginx/mime.types;\naccess_log off;\ninclude server.conf;\n}\n' \
		"$p" "$p" >"$p/nginx.conf"
	nginx -t -q -p "$p" -c "$p/nginx.conf" -e "$p/logs/error.log"
}
if check_production_conf; then
	echo "ok   nginx/safbackup.conf passes nginx -t"
else
	echo "FAIL nginx/safbackup.conf does not pass nginx -t" >&2
	FAILED=1
fi
prod_rc=${FAILED:-0}

# A free port: bind port 0 and read back what the kernel chose.
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export PORT WORKERS=4 MAX_BODY=16k SOURCE_DB=$W/app.db
# backupd holds key http1 (codec.test.mjs: encrypted backups made by
# backup-cron with it, and with a key backupd does not hold).
export STORE_KEY_FILE=$W/keys
(umask 077; printf 'http1 %s\n' "$(head -c 32 /dev/urandom | base64)" >"$STORE_KEY_FILE")
mkdir -p "$RUNDIR"
if ! stack_start; then
	echo "http tests: the stack did not start" >&2
	FAILED=1
	tail -20 "$RUNDIR/logs/backupd.log" "$RUNDIR/logs/nginx-error.log" >&2
	exit 1
fi

export SB_URL=$STACK_URL SB_RUNDIR=$RUNDIR SB_SOURCE_DB=$SOURCE_DB \
	SB_LOCK_FILE=$SOURCE_DB.safbackup.lock SB_BACKUPD_PID=$STACK_BACKUPD_PID \
	SB_BACKUPD=$BUILD_DIR/src/daemon/backupd SB_SOCKET=$STACK_SOCKET \
	SB_RECORD=$W/responses.jsonl SB_ROOT=$ROOT \
	SB_CRON=$BUILD_DIR/src/cron/backup-cron SB_CONFIG=$STACK_CONFIG \
	SB_SECRET_FILE=$STACK_SECRET_FILE SB_SHARE=$STACK_SHARE \
	SB_KEY_FILE=$STORE_KEY_FILE
: >"$SB_RECORD"

# The Prometheus text-format parser (status.test.mjs), from the lockfile.
if [ ! -d "$HERE/node_modules/parse-prometheus-text-format" ] ||
   [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) ||
		{ echo "npm ci in tests/integration/http failed" >&2; exit 1; }
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	# One at a time, in this order: the crash and busy tests grow the
	# live database; the OpenAPI check reads what the others recorded.
	export SB_ALL=1
	files=(api auth peer badinput concurrency crash drill codec status progress zz-openapi)
	files=("${files[@]/#/$HERE/}")
	files=("${files[@]/%/.test.mjs}")
fi
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
rc=$?

# backupd on TCP (a second instance on the same config, no nginx): it
# answers FastCGI on host:port; SIGKILLed, its workers stop too.
tcp_check() {
	local port pid kids i alive
	port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
	SAFBACKUP_DAEMON_LISTEN=127.0.0.1:$port SAFBACKUP_DAEMON_WORKERS=2 \
		"$BUILD_DIR/src/daemon/backupd" --config "$STACK_CONFIG" \
		2>"$W/tcp.log" &
	pid=$!
	for i in $(seq 100); do
		[ "$(pgrep -P "$pid" | wc -l)" = 2 ] && break
		sleep 0.05
	done
	if ! node --input-type=module -e "
		import { fcgiRequest } from '$HERE/fcgi.mjs';
		const r = await fcgiRequest({ host: '127.0.0.1', port: $port },
		    { REQUEST_METHOD: 'GET', REQUEST_URI: '/backups/health',
		      SAF_FASTCGI_SECRET: '$(cat "$STACK_SECRET_FILE")' });
		if (r.status !== 200 || JSON.parse(r.body).status !== 'ok') process.exit(1);"; then
		echo "FAIL backupd on TCP: no healthy answer" >&2
		kill -TERM "$pid"; wait "$pid"
		return 1
	fi
	echo "ok   backupd answers FastCGI on TCP 127.0.0.1:$port"
	kids=$(pgrep -P "$pid")
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	for i in $(seq 50); do
		alive=0
		for k in $kids; do
			# A zombie (state Z) has exited: only its reaping is left.
			[ -e "/proc/$k/stat" ] && [ "$(cut -d' ' -f3 "/proc/$k/stat")" != Z ] && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	if [ "$alive" = 0 ]; then
		echo "ok   workers stop when their parent is SIGKILLed"
	else
		echo "FAIL workers outlived their SIGKILLed parent" >&2
		return 1
	fi
}
tcp_check || rc=1

# The stack must still be healthy after all that.
if ! curl -ksf -o /dev/null "$STACK_URL/backups/health"; then
	echo "http tests: stack unhealthy after the tests" >&2
	rc=1
fi
# Drain: SIGTERM while a slow backup is in flight. The backup must still
# answer 201, then backupd exits 0 and logs a clean exit.
pid=$STACK_BACKUPD_PID
sqlite3 "$SOURCE_DB" "CREATE TABLE IF NOT EXISTS bulk(id INTEGER PRIMARY KEY, b BLOB);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 40000)
    INSERT INTO bulk(b) SELECT randomblob(4000) FROM c;"
curl -ks -u admin:admin -o "$W/drain.json" -w '%{http_code}' \
	-H 'Content-Type: application/json' -d '{"description":"in flight at SIGTERM"}' \
	"$STACK_URL/backups" >"$W/drain.code" &
curl_pid=$!
# Wait until a worker holds the writer lock: the backup is in flight.
held=0
for _ in $(seq 400); do
	for c in $(pgrep -P "$pid"); do
		if ls -l "/proc/$c/fd" 2>/dev/null | grep -q -- "-> $SB_LOCK_FILE\$"; then
			held=1
			break
		fi
	done
	[ "$held" = 1 ] && break
	sleep 0.01
done
[ "$held" = 1 ] || { echo "http tests: drain: the backup never took the lock" >&2; rc=1; }
kill -TERM "$pid" 2>/dev/null
wait "$curl_pid"
code=$(cat "$W/drain.code")
if [ "$code" = 201 ] && grep -q '"status":"completed"' "$W/drain.json"; then
	echo "ok   drain: the in-flight backup completed after SIGTERM (201)"
else
	echo "FAIL drain: in-flight request answered $code: $(cat "$W/drain.json")" >&2
	rc=1
fi
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	echo "FAIL drain: backupd did not exit on SIGTERM" >&2
	rc=1
else
	wait "$pid" 2>/dev/null
	st=$?
	# stack_start ran backupd in the background of this shell, so its
	# status is ours to read (127: already reaped, not ours).
	if [ "$st" != 0 ] && [ "$st" != 127 ]; then
		echo "FAIL drain: backupd exited $st on SIGTERM" >&2
		rc=1
	elif grep -q '"event":"backupd.exit"' "$RUNDIR/logs/backupd.log"; then
		echo "ok   drain: backupd exited 0 after the drain"
	else
		echo "FAIL drain: backupd did not log a clean exit" >&2
		rc=1
	fi
fi
stack_kill_pidfile "$RUNDIR/nginx.pid" QUIT 100
rm -f "$RUNDIR/backupd.pid"
[ "$prod_rc" = 0 ] || rc=1
[ "$rc" = 0 ] || FAILED=1
exit "$rc"
