#!/usr/bin/env bash
# End-to-end tests of the admin page: Debian's Chromium, driven by
# playwright-core, against the real nginx + backupd stack.
#
#   BUILD_DIR=build bash tests/e2e/run.sh      (www/dist must be built)
#
# Starts the stack with tests/lib/stack.sh, seeds it with an automatic
# backup taken 25 hours ago (backup-cron under libfaketime) and a failed
# one, runs tests/e2e/*.spec.mjs with Node's test runner, stops the stack
# on any exit, and ends with "e2e: N passed, N failed".
# Screenshots go to test-output/screenshots/, the runner's output to
# test-output/e2e.log.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
OUT=$ROOT/test-output
SHOTS=$OUT/screenshots
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
STACK_LIB=${STACK_LIB:-$ROOT/tests/lib/stack.sh}	# another stack, for debugging
E2E_SEED=${E2E_SEED:-1}			# 0: the stack is already seeded

die() {
	printf 'e2e: %s\n' "$*" >&2
	echo "e2e: 0 passed, 1 failed"
	exit 1
}

[ -f "$ROOT/www/dist/index.html" ] ||
	die "www/dist is not built (cd www && npm ci && npm run build)"
[ -x "$CHROMIUM" ] || die "no Chromium at $CHROMIUM (apt-get install chromium)"
[ -f "$STACK_LIB" ] || die "$STACK_LIB is missing: no stack to test against"
command -v node >/dev/null || die "node is missing"
command -v sqlite3 >/dev/null || die "sqlite3 is missing (apt-get install sqlite3)"
LIBFT=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
	/usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -f "$f" ] && { LIBFT=$f; break; }
done
[ -n "$LIBFT" ] || die "libfaketime is missing (apt-get install faketime)"

# playwright-core from the committed lockfile; it never downloads a browser.
if [ ! -d "$HERE/node_modules/playwright-core" ] ||
   [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
	(cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
		npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/e2e failed"
fi

# A free port on loopback unless told: a demo or another suite may hold 8443.
free_port() {
	node -e 'const s = require("net").createServer();
	    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# stack.sh reads BUILD_DIR, RUNDIR, PORT, WWW_DIR; sets STACK_URL, STACK_CONFIG.
RUNDIR=$(mktemp -d /tmp/sb-e2e.XXXXXX) || die "mktemp failed"
PORT=${E2E_PORT:-$(free_port)}
WWW_DIR=$ROOT/www/dist
export BUILD_DIR RUNDIR PORT WWW_DIR
cleanup() {
	stack_stop >/dev/null 2>&1
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "e2e: kept $RUNDIR" >&2
	else
		rm -rf "$RUNDIR"
	fi
}
# shellcheck source=../lib/stack.sh
. "$STACK_LIB"
trap cleanup EXIT
stack_start || die "the stack did not start (logs in $RUNDIR/logs; E2E_KEEP=1 keeps them)"

: "${STACK_URL:?stack.sh did not set STACK_URL}"
STACK_CONF=${STACK_CONFIG:-${STACK_CONF:-}}
CRON=$BUILD_DIR/src/cron/backup-cron

# Seed what the tests expect to find: a completed automatic backup, as
# cron took it 25 hours ago (backup-cron under libfaketime: late but not
# stale with the default [monitor] warn_age_hours 24, max_age_hours 26),
# and a failed one.  The failed one comes from a copy of the stack's
# config whose source is not a SQLite database: the backup is recorded
# pending, the snapshot fails, the record turns failed with the reason,
# in the same catalog the stack serves.  The copy stays in $RUNDIR as
# E2E_BAD_CONFIG: overview.spec.mjs takes another failed backup with it.
BAD_CONF=$RUNDIR/bad.conf
seed() {
	[ -n "$STACK_CONF" ] || die "stack.sh did not set STACK_CONFIG"
	FAKETIME=-90000 LD_PRELOAD=$LIBFT \
		"$CRON" --config "$STACK_CONF" backup --type automatic >/dev/null ||
		die "seeding an automatic backup failed"
	printf 'this is not a SQLite database\n' >"$RUNDIR/not-a-database.db"
	# Another source file, the same store: [store] service is set to the
	# stack's (its default is the source's file name), so the store's
	# marker still matches and the failure is recorded.
	awk -v src="$RUNDIR/not-a-database.db" '
		/^\[/ { sect = $0 }
		sect == "[source]" && /^[ \t]*path[ \t]*=/ {
			n = split($0, p, "/"); svc = p[n]; print "path = " src; next }
		sect == "[store]" && /^[ \t]*kind[ \t]*=/ { print; print "service = " svc; next }
		{ print }' "$STACK_CONF" >"$BAD_CONF"
	if "$CRON" --config "$BAD_CONF" backup --type automatic >/dev/null 2>&1; then
		die "the seeded bad backup unexpectedly succeeded"
	fi
}
[ "$E2E_SEED" = 1 ] && seed
# The live database the stack backs up ([source] path).
SOURCE_DB=$(awk '/^\[/ { sect = $0 }
	sect == "[source]" && /^[ \t]*path[ \t]*=/ { sub(/^[^=]*=[ \t]*/, ""); print; exit }' \
	"$STACK_CONF")

# E2E_SPECS="overview progress": only these spec files (default: all, in
# file order: admin, overview, progress; each later one expects the
# earlier ones' state only where its header says so).
SPECS=()
for s in ${E2E_SPECS:-}; do
	[ -f "$HERE/$s.spec.mjs" ] || die "no spec $HERE/$s.spec.mjs"
	SPECS+=("$HERE/$s.spec.mjs")
done
[ ${#SPECS[@]} -gt 0 ] || SPECS=("$HERE"/*.spec.mjs)

mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
LOG=$OUT/e2e.log
(
	cd "$ROOT" &&
	E2E_BASE_URL=$STACK_URL \
	E2E_ADMIN_USER=${STACK_ADMIN_USER:-admin} E2E_ADMIN_PASS=${STACK_ADMIN_PASS:-admin} \
	E2E_VIEWER_USER=${STACK_VIEWER_USER:-viewer} E2E_VIEWER_PASS=${STACK_VIEWER_PASS:-viewer} \
	E2E_SCREENSHOTS=$SHOTS E2E_FAILED_REASON=$([ "$E2E_SEED" = 1 ] && echo not-a-database) \
	E2E_CRON=$CRON E2E_CONFIG=$STACK_CONF E2E_SOURCE_DB=$SOURCE_DB \
	E2E_BAD_CONFIG=$([ -f "$BAD_CONF" ] && echo "$BAD_CONF") \
	CHROMIUM=$CHROMIUM \
	node --test --test-concurrency=1 --test-reporter=spec \
		--test-reporter-destination=stdout "${SPECS[@]}"
) 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}

# The spec reporter closes with "ℹ pass N" and "ℹ fail N".
pass=$(sed -n 's/^ℹ pass \([0-9][0-9]*\)$/\1/p' "$LOG" | tail -1)
fail=$(sed -n 's/^ℹ fail \([0-9][0-9]*\)$/\1/p' "$LOG" | tail -1)
pass=${pass:-0}
fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
	fail=1	# the runner itself failed (crash, no tests found)
fi
[ "$pass" -eq 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "screenshots: $(find "$SHOTS" -name '*.png' | wc -l) in $SHOTS"
echo "e2e: $pass passed, $fail failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
