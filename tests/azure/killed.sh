# tests/azure/killed.sh - sourced by run.sh (Azurite on $AZ_PORT with its
# data in $TMP/azurite, the proxy on $PX_PORT). Azurite is killed while
# backup-cron uploads a 200 MB database through the proxy: the backup must
# end `failed`, be reported, leave no completed entry and no object, and
# the catalog must stay consistent; once Azurite is back, the next backup
# completes, verifies, and reconcile agrees with the catalog.

CRON=$BUILD_DIR/src/cron/backup-cron
K=$TMP/killed
mkdir -p "$K/tmp"

# json EXPR < file: a JS expression over the parsed JSON `o`.
json() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }

echo "# generating a 200 MB database"
sqlite3 "$K/app.db" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 51200)
INSERT INTO t(b) SELECT randomblob(4000) FROM n;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

az_config "$K" killed "$PX_PORT" block_size=4M concurrency=4 retries=2
export SAFBACKUP_AZURE_KEY=$DEVKEY
bc() { "$CRON" --config "$K/safbackup.conf" "$@"; }
# The container and its marker, as an admin sets up a store.
bc init >/dev/null 2>"$K/init.err"
check "backup-cron init sets up the container" test $? -eq 0
# Azurite keeps its metadata in memory and saves it now and then: the
# SIGKILL below would lose a container made just before (and the store
# would rightly be refused as not initialised). A clean stop saves it.
kill -TERM "$AZ_PID"
wait "$AZ_PID" 2>/dev/null
"$HERE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
    --blobPort "$AZ_PORT" --location "$TMP/azurite" \
    --skipApiVersionCheck --loose --silent --disableTelemetry \
    >>"$TMP/azurite.log" 2>&1 &
AZ_PID=$!
wait_http "http://127.0.0.1:$AZ_PORT/"
check "the store survives a clean Azurite restart" bc list

px_reset
# Slow every block a little so the upload lasts long enough to be cut.
px_set "mode=slow&count=-1&method=PUT&match=comp%3Dblock&delayMs=150"
bc backup >"$K/backup.out" 2>"$K/backup.err" &
BC_PID=$!
# Kill Azurite once a few blocks went up (not before the upload started).
for _ in $(seq 1 600); do
	n=$(px_stat requests)
	[ "${n:-0}" -ge 8 ] && break
	sleep 0.05
done
echo "# killing Azurite after $n requests"
kill -9 "$AZ_PID"
wait "$AZ_PID" 2>/dev/null
AZ_PID=
wait "$BC_PID"
rc=$?
px_reset
cat "$K/backup.err" | grep -v '"level":"info"' | head -5
check "backup with Azurite killed: backup-cron exits 1 (got $rc)" test "$rc" -eq 1
check "backup with Azurite killed: the failure is reported (backup.failed)" \
    grep -q '"event":"backup.failed"' "$K/backup.err"
bc --json list >"$K/list1.json" 2>>"$K/backup.err"
check "list after the kill: one backup, failed" \
    test "$(json 'o.length + " " + o[0].status' <"$K/list1.json")" = "1 failed"
check "list after the kill: the error names the Azure store" \
    json 'o[0].error' <"$K/list1.json" | grep -q 'azure'
check "list after the kill: no completed entry" \
    test "$(json 'o.filter(b => b.status === "completed").length' <"$K/list1.json")" -eq 0
check "catalog integrity after the kill" \
    test "$(sqlite3 "$K/catalog.db" 'PRAGMA integrity_check')" = ok
check "no snapshot left in the temp dir" test -z "$(ls -A "$K/tmp")"

# Azurite back on the same port and data: nothing was committed.
AZ_PORT_SAVED=$AZ_PORT
"$HERE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
    --blobPort "$AZ_PORT" --location "$TMP/azurite" \
    --skipApiVersionCheck --loose --silent --disableTelemetry \
    >>"$TMP/azurite.log" 2>&1 &
AZ_PID=$!
wait_http "http://127.0.0.1:$AZ_PORT/"
(
	az_env "$AZ_PORT_SAVED" killed
	"$CONF" list backup- >"$K/objs.txt" 2>&1
)
check "no object in the store after the failed backup" \
    grep -q '^# 0 objects$' "$K/objs.txt"

# The next backup works (through a few cut connections while its blocks
# go up during the snapshot), and verifies.
px_reset
px_set "mode=reset&count=3&method=PUT&match=comp%3Dblock&after=100000"
bc backup >"$K/backup2.out" 2>"$K/backup2.err"
check "next backup completes once Azurite is back, through 3 resets" test $? -eq 0
check "the 3 resets happened" test "$(px_stat faults)" -eq 3
px_reset
bc --json list >"$K/list2.json" 2>/dev/null
check "list: one completed, one failed" \
    test "$(json 'o.map(b => b.status).sort().join(",")' <"$K/list2.json")" = "completed,failed"
id=$(json 'o.find(b => b.status === "completed").id' <"$K/list2.json")
bc verify "$id" >"$K/verify.out" 2>&1
check "the completed backup verifies (download, sha256, integrity)" test $? -eq 0
unset SAFBACKUP_AZURE_KEY
