#!/bin/bash
# tests/azure/run.sh - the object store tests: the conformance suite on the
# disk store and on Azure through Azurite, then the fault tests through
# tests/azure/faultproxy.js, then (when backup-cron is built) metadata over
# Azure's 8 KiB limit refused before any upload (metadata.sh), the store
# identity cases (identity.sh), a restore whose safety upload fails
# (restore.sh), compressed and encrypted backups (codec.sh), the progress
# of a backup and a restore (progress.sh) and Azurite killed during a
# 200 MB backup.
#
#   BUILD_DIR=./build tests/azure/run.sh
#
# BUILD_DIR is a configured and built tree (default ./build). Azurite (npm,
# tests/azure/package-lock.json) runs on 127.0.0.1 on a free port with a
# temporary --location, and is stopped on exit, as is the proxy. The last
# line is "N passed, N failed"; the exit status is 1 on any failure.
# SB_TEST_PAGINATION (default 5050) sets the objects of the paging case.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/flip.sh
. "$ROOT/tests/lib/flip.sh"
BUILD_DIR=${BUILD_DIR:-./build}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || {
	echo "run.sh: BUILD_DIR $BUILD_DIR: no such directory" >&2
	echo "0 passed, 1 failed"
	exit 1
}
# SB_CONFORMANCE: a conformance binary built elsewhere (skips the make).
CONF=${SB_CONFORMANCE:-$BUILD_DIR/tests/store/conformance}

# The Azurite development account key: public, documented, tests only.
DEVKEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/sb-azure-test.XXXXXX)
AZ_PID=
PX_PID=

cleanup() {
	[ -n "$PX_PID" ] && kill "$PX_PID" 2>/dev/null
	[ -n "$AZ_PID" ] && kill "$AZ_PID" 2>/dev/null
	[ -n "$PX_PID" ] && wait "$PX_PID" 2>/dev/null
	[ -n "$AZ_PID" ] && wait "$AZ_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
notok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESC CMD...: one check that passes when CMD succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }

# Count the "ok"/"not ok" lines a suite printed.
tally() {
	local out=$1 p f
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	if ! grep -q '^[0-9]* passed, [0-9]* failed$' "$out"; then
		echo "not ok - $2: the suite did not finish"
		FAIL=$((FAIL + 1))
	fi
}

freeport() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http URL: up to 30 s for anything to answer.
wait_http() {
	local i
	for i in $(seq 1 150); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.2
	done
	return 1
}

start_azurite() {
	AZ_PORT=$(freeport)
	mkdir -p "$TMP/azurite"
	"$HERE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
	    --blobPort "$AZ_PORT" --location "$TMP/azurite" \
	    --skipApiVersionCheck --loose --silent --disableTelemetry \
	    >"$TMP/azurite.log" 2>&1 &
	AZ_PID=$!
	wait_http "http://127.0.0.1:$AZ_PORT/"
}

stop_azurite() {
	[ -n "$AZ_PID" ] && kill "$AZ_PID" 2>/dev/null && wait "$AZ_PID" 2>/dev/null
	AZ_PID=
}

start_proxy() {
	rm -f "$TMP/proxy.port"
	node "$HERE/faultproxy.js" --listen 0 --target "$AZ_PORT" \
	    --portfile "$TMP/proxy.port" >"$TMP/proxy.log" 2>&1 &
	PX_PID=$!
	local i
	for i in $(seq 1 100); do
		[ -s "$TMP/proxy.port" ] && break
		sleep 0.1
	done
	PX_PORT=$(cat "$TMP/proxy.port" 2>/dev/null)
	[ -n "$PX_PORT" ] && wait_http "http://127.0.0.1:$PX_PORT/__proxy/stats"
}

# Environment of a store on Azurite (directly, or through the proxy).
az_env() {
	local port=$1 container=$2
	export SB_TEST_STORE=azure
	export SB_TEST_AZ_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
	export SB_TEST_AZ_ACCOUNT=devstoreaccount1
	export SB_TEST_AZ_KEY=$DEVKEY
	export SB_TEST_AZ_CONTAINER=$container
	export SB_TEST_AZ_BLOCK_SIZE=64k
	export SB_TEST_AZ_CONCURRENCY=4
	export SB_TEST_AZ_TIMEOUT=${3:-10}
	export SB_TEST_AZ_RETRIES=${4:-4}
	unset SB_TEST_AZ_SAS SB_TEST_AZ_CONNSTR
}

# az_config DIR CONTAINER PORT [KEY=VALUE...]: DIR/safbackup.conf, the
# backup-cron config the sourced cases share: live database DIR/app.db,
# catalog DIR/catalog.db, temp_dir DIR/tmp (made), the development
# account's container CONTAINER at 127.0.0.1:PORT (Azurite, or the proxy
# in front of it), timeout 5, retries 1. Each KEY=VALUE is one more line
# of [azure] (timeout and retries replace those), or of [store] for
# service and prefix. The key comes from SAFBACKUP_AZURE_KEY. No init:
# each case decides.
az_config() {
	local d=$1 container=$2 port=$3 kv timeout=5 retries=1 store= azure=
	shift 3
	for kv in "$@"; do
		case ${kv%%=*} in
		timeout) timeout=${kv#*=} ;;
		retries) retries=${kv#*=} ;;
		service|prefix) store+="${kv%%=*} = ${kv#*=}"$'\n' ;;
		*) azure+="${kv%%=*} = ${kv#*=}"$'\n' ;;
		esac
	done
	mkdir -p "$d/tmp"
	cat >"$d/safbackup.conf" <<-EOF
	[source]
	path = $d/app.db
	[catalog]
	path = $d/catalog.db
	[core]
	temp_dir = $d/tmp
	[store]
	kind = azure
	$store[azure]
	account = devstoreaccount1
	container = $container
	endpoint = http://127.0.0.1:$port/devstoreaccount1
	timeout = $timeout
	retries = $retries
	$azure
	EOF
}

echo "# npm ci in tests/azure"
if ! (cd "$HERE" && npm ci --silent --no-audit --no-fund >"$TMP/npm.log" 2>&1); then
	cat "$TMP/npm.log" >&2
	notok "npm ci in tests/azure"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
if [ -z "${SB_CONFORMANCE:-}" ] &&
    ! make -s -C "$BUILD_DIR" tests/store/conformance >"$TMP/make.log" 2>&1; then
	cat "$TMP/make.log" >&2
	notok "build tests/store/conformance"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi

# --- conformance: disk ------------------------------------------------------
echo "# conformance: disk store"
mkdir -p "$TMP/disk"
SB_TEST_STORE=disk SB_TEST_DISK_ROOT="$TMP/disk" "$CONF" suite \
    >"$TMP/disk.out" 2>&1
sed 's/^/  disk: /' "$TMP/disk.out" | grep -v '^  disk: ok '
tally "$TMP/disk.out" "conformance disk"
# The whole suite again with the store under a [store] prefix (a
# subdirectory of the root); names the suite sees must not change.
echo "# conformance: disk store under [store] prefix svc/one/"
SB_TEST_STORE=disk SB_TEST_DISK_ROOT="$TMP/disk" SB_TEST_PREFIX=svc/one/ \
    SB_TEST_PAGINATION=200 "$CONF" suite >"$TMP/diskp.out" 2>&1
sed 's/^/  disk+prefix: /' "$TMP/diskp.out" | grep -v '^  disk+prefix: ok '
tally "$TMP/diskp.out" "conformance disk under a prefix"

# --- conformance: azure -----------------------------------------------------
echo "# conformance: azure (Azurite)"
if ! start_azurite; then
	cat "$TMP/azurite.log" >&2
	notok "start Azurite"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
az_env "$AZ_PORT" conformance
"$CONF" suite >"$TMP/azure.out" 2>&1
sed 's/^/  azure: /' "$TMP/azure.out" | grep -v '^  azure: ok '
tally "$TMP/azure.out" "conformance azure"

# The same store reached by a connection string, and by a SAS token.
(
	unset SB_TEST_AZ_ENDPOINT SB_TEST_AZ_ACCOUNT SB_TEST_AZ_KEY
	export SB_TEST_AZ_CONNSTR="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$DEVKEY;BlobEndpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1;"
	echo connstr >"$TMP/cs.txt"
	"$CONF" put via-connstr "$TMP/cs.txt" && "$CONF" get via-connstr "$TMP/cs.out" &&
	    cmp -s "$TMP/cs.txt" "$TMP/cs.out"
) 2>"$TMP/cs.err"
check "connection string: put and get" test $? -eq 0
SAS=$(cd "$HERE" && node sas.js "$DEVKEY" conformance 2>"$TMP/sas.err")
(
	unset SB_TEST_AZ_KEY
	export SB_TEST_AZ_SAS="$SAS"
	echo sas >"$TMP/sas.txt"
	"$CONF" put via-sas "$TMP/sas.txt" && "$CONF" get via-sas "$TMP/sas.out" &&
	    cmp -s "$TMP/sas.txt" "$TMP/sas.out" && "$CONF" list via- >"$TMP/sas.list" &&
	    grep -q '^via-connstr 8$' "$TMP/sas.list"
) 2>"$TMP/sas.err"
check "SAS token: put, get and list" test $? -eq 0
(
	unset SB_TEST_AZ_KEY
	export SB_TEST_AZ_SAS="${SAS%sig=*}sig=AAAA${SAS#*sig=}"
	"$CONF" list "" >/dev/null 2>"$TMP/sasbad.err"
	rc=$?
	[ "$rc" -eq 11 ] && grep -q '403' "$TMP/sasbad.err"
)
check "a bad SAS signature is an auth error" test $? -eq 0

# --- memory stays bounded ---------------------------------------------------
# 96 MiB through 4 MiB blocks, 4 at a time: put_file reads blocks with
# pread as they go (no block in memory), put_stream holds at most 4 blocks,
# get streams. Peak RSS from /usr/bin/time.
if grep -q "^SAN_CFLAGS='-fsanitize" "$BUILD_DIR/config.log" 2>/dev/null; then
	echo "# skip: memory checks (a sanitizer build: ASan's shadow memory counts)"
elif [ -x /usr/bin/time ]; then
	head -c $((96 * 1048576)) /dev/urandom >"$TMP/f96m"
	rss() { /usr/bin/time -f %M -o "$TMP/rss" "$@" && cat "$TMP/rss"; }
	(
		export SB_TEST_AZ_BLOCK_SIZE=4M SB_TEST_AZ_CONCURRENCY=4
		pf=$(rss "$CONF" put mem-file "$TMP/f96m") || pf=999999
		ps=$(rss "$CONF" put-stream mem-stream "$TMP/f96m") || ps=999999
		rm -f "$TMP/mem.out"
		g=$(rss "$CONF" get mem-stream "$TMP/mem.out") || g=999999
		cmp -s "$TMP/f96m" "$TMP/mem.out" || g=999999
		echo "$pf $ps $g" >"$TMP/mem.kib"
	)
	read -r pf ps g <"$TMP/mem.kib"
	check "put_file of 96 MiB peaks at $((pf / 1024)) MiB RSS (< 24)" test "$pf" -lt $((24 * 1024))
	check "put_stream of 96 MiB peaks at $((ps / 1024)) MiB RSS (< 4 x 4 MiB + 16)" test "$ps" -lt $((32 * 1024))
	check "get of 96 MiB peaks at $((g / 1024)) MiB RSS (< 24), bytes intact" test "$g" -lt $((24 * 1024))
	rm -f "$TMP/f96m" "$TMP/mem.out"
else
	notok "memory checks need /usr/bin/time (apt-get install time)"
fi

# --- faults, through the proxy ------------------------------------------------
echo "# fault tests (faultproxy between the store and Azurite)"
if start_proxy; then
	. "$HERE/faults.sh"
else
	notok "start the fault proxy"
fi

# --- metadata over Azure's limit, refused before any upload --------------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -n "${PX_PORT:-}" ]; then
	echo "# metadata over 8 KiB refused before any byte is uploaded"
	. "$HERE/metadata.sh"
else
	echo "# skip: metadata limit (no backup-cron built or no proxy)"
fi

# --- a restore on Azure: safety backup uploaded after the copy ----------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -n "${PX_PORT:-}" ]; then
	echo "# restore on Azurite: the safety backup, its upload and its failure"
	. "$HERE/restore.sh"
else
	echo "# skip: restore on Azurite (no backup-cron built or no proxy)"
fi

# --- a large blob in parallel ranged GETs, hashed as it arrives -------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -n "${PX_PORT:-}" ]; then
	echo "# a large blob in parallel ranged GETs, through faults"
	. "$HERE/ranged.sh"
else
	echo "# skip: ranged GETs (no backup-cron built or no proxy)"
fi

# --- compressed and encrypted backups: round trip, metadata, tampering -------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -n "${PX_PORT:-}" ]; then
	echo "# zstd + encryption on Azurite: ranged GETs decoded, sealed metadata"
	. "$HERE/codec.sh"
else
	echo "# skip: codec on Azurite (no backup-cron built or no proxy)"
fi

# --- progress of a backup and a restore, read while they run -----------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -n "${PX_PORT:-}" ]; then
	echo "# progress on Azurite: blocks staged, the ranged download"
	. "$HERE/progress.sh"
else
	echo "# skip: progress on Azurite (no backup-cron built or no proxy)"
fi

# --- a store knows it is itself: missing container, prefixes -----------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -f "$HERE/identity.sh" ]; then
	echo "# store identity on Azurite: a missing container, two prefixes"
	. "$HERE/identity.sh"
else
	echo "# skip: store identity on Azurite (no backup-cron built)"
fi

# --- Azurite killed during a backup -------------------------------------------
if [ -x "$BUILD_DIR/src/cron/backup-cron" ] && [ -f "$HERE/killed.sh" ]; then
	echo "# Azurite killed in the middle of a 200 MB backup"
	. "$HERE/killed.sh"
else
	echo "# skip: Azurite killed during a backup (no backup-cron built)"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
