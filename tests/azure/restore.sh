# tests/azure/restore.sh - sourced by run.sh (Azurite on $AZ_PORT, the
# proxy on $PX_PORT, px_* from faults.sh). A restore on Azure: the safety
# backup is taken locally while the live database is locked, recorded,
# and uploaded after the copy. When that upload fails, the restore still
# succeeds, the local copy (the only one of the pre-restore state) is
# kept beside the catalog (<catalog>-safety/) under its object name, never
# in temp_dir (a tmpfs, or private to one service under systemd's
# PrivateTmp), and the failure is said: a warning on stderr, in the
# restore's record, a safety.upload_failed log line. Every later
# operation tries the upload again until it is stored, also one whose
# temp_dir is another. The fault is proven by the proxy's counter.

CRON=$BUILD_DIR/src/cron/backup-cron
R=$TMP/restore
az_config "$R" restore "$PX_PORT"
rbc() { SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$R/safbackup.conf" "$@"; }
rj() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }
rdump() { sqlite3 "$1" 'SELECT * FROM t ORDER BY x' | sha256sum | cut -d' ' -f1; }
px_reset
rbc init >/dev/null 2>&1
check "restore: init the container" test $? -eq 0

sqlite3 "$R/app.db" "PRAGMA journal_mode=wal; CREATE TABLE t(x); INSERT INTO t VALUES ('A');" >/dev/null
bid=$(rbc --json backup --type manual 2>/dev/null | rj 'o.id')
check "restore: the backup to restore completes" test -n "$bid"
sqlite3 "$R/app.db" "INSERT INTO t VALUES ('B');"
pre=$(rdump "$R/app.db")

# --- the safety backup goes up after the copy ---------------------------------
out=$(rbc --json restore "$bid" 2>"$R/restore.err"); rc=$?
check "restore on azure exits 0 (got $rc)" test "$rc" -eq 0
check "restore on azure: the live database is the backup's" \
    test "$(sqlite3 "$R/app.db" 'SELECT group_concat(x) FROM t')" = A
sid=$(rj 'o.safety_backup_id' <<<"$out")
check "restore on azure: no warning in the record" test "$(rj 'o.error' <<<"$out")" = undefined -o "$(rj 'o.error' <<<"$out")" = null
check "restore on azure: the safety backup was uploaded (log)" \
    grep -q '"event":"safety.uploaded"' "$R/restore.err"
check "restore on azure: no local copy left (temp_dir, <catalog>-safety)" \
    test -z "$(find "$R/tmp" "$R/catalog.db-safety" -name 'backup-*')"
rbc verify "$sid" >/dev/null 2>&1
check "restore on azure: the safety backup verifies" test $? -eq 0
# Going back: restoring the safety backup gives the pre-restore state.
rbc restore "$sid" >/dev/null 2>&1
check "restore on azure: restoring the safety backup exits 0" test $? -eq 0
check "restore on azure: the safety backup holds the pre-restore state" \
    test "$(rdump "$R/app.db")" = "$pre"
rbc restore "$bid" >/dev/null 2>&1

# --- the upload after the copy fails: nothing is lost -------------------------
sqlite3 "$R/app.db" "INSERT INTO t VALUES ('C');"
pre=$(rdump "$R/app.db")
px_reset
px_set "mode=status&status=500&method=PUT&count=-1"
out=$(rbc --json restore "$bid" 2>"$R/restore.err"); rc=$?
faults=$(px_stat faults)
px_reset
check "upload fault: the proxy failed the safety upload's PUTs ($faults)" test "${faults:-0}" -gt 0
check "upload fault: the restore still exits 0 (got $rc)" test "$rc" -eq 0
check "upload fault: the live database is the backup's" \
    test "$(sqlite3 "$R/app.db" 'SELECT group_concat(x) FROM t')" = A
sid=$(rj 'o.safety_backup_id' <<<"$out")
warn=$(rj 'o.error' <<<"$out")
local_copy=$(find "$R/catalog.db-safety" -name "backup-*-manual-$sid.db")
check "upload fault: the local copy is kept beside the catalog under its object name" \
    test -n "$local_copy"
check "upload fault: ... and nothing of it in temp_dir" \
    test -z "$(find "$R/tmp" -name 'backup-*')"
check "upload fault: the restore's record says so and names the file" \
    grep -qF "could not be uploaded" <<<"$warn"
check "upload fault: ... and the path" grep -qF "$local_copy" <<<"${warn:-x}"
check "upload fault: a warning on stderr" grep -q '^backup-cron: warning: .*could not be uploaded' "$R/restore.err"
check "upload fault: safety.upload_failed logged" grep -q '"event":"safety.upload_failed"' "$R/restore.err"
check "upload fault: the local copy is the pre-restore state" \
    test -n "$local_copy" -a "$(rdump "$local_copy")" = "$pre"
check "upload fault: its sha256 is the catalog's" \
    test -n "$local_copy" -a "$(sha256sum "$local_copy" | cut -d' ' -f1)" = \
    "$(rbc --json show "$sid" | rj 'o.sha256')"
# The next operations try the upload again: kept while the store still
# fails, uploaded (and only then removed) once it works.
px_set "mode=status&status=500&method=PUT&count=-1"
rbc backup --type manual >/dev/null 2>"$R/later.err"
faults=$(px_stat faults)
px_reset
check "upload fault: a later operation while PUTs still fail ($faults) keeps the local copy" \
    test "${faults:-0}" -gt 0 -a -n "$local_copy" -a -f "$local_copy"
check "upload fault: ... and says so (safety.upload_failed)" \
    grep -q '"event":"safety.upload_failed"' "$R/later.err"
# The next operation has a temp_dir of its own (as a systemd timer's
# backup-cron has a PrivateTmp other than backupd's): it still finds it.
mkdir -p "$R/tmp2"
SAFBACKUP_CORE_TEMP_DIR=$R/tmp2 rbc backup --type manual >/dev/null 2>"$R/later.err"
check "upload fault: the next operation, another temp_dir, uploads it (safety.uploaded)" \
    grep -q '"event":"safety.uploaded"' "$R/later.err"
check "upload fault: ... then removes the local copy" test ! -e "$local_copy"
rbc verify "$sid" >/dev/null 2>&1
check "upload fault: the safety backup now verifies from the store" test $? -eq 0
rbc restore "$sid" >/dev/null 2>&1
check "upload fault: restoring it gives the pre-restore state" \
    test "$(rdump "$R/app.db")" = "$pre"

# --- killed during the copy: the next operation uploads the safety backup ----
K=$R/kill
az_config "$K" restorekill "$PX_PORT"
kbc() { SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$K/safbackup.conf" "$@"; }
sqlite3 "$K/app.db" "CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM c WHERE i < 6000) INSERT INTO t SELECT randomblob(5000) FROM c;"
kbc init >/dev/null 2>&1
kid=$(kbc --json backup --type manual 2>/dev/null | rj 'o.id')
check "kill: the backup to restore completes" test -n "$kid"
hit=0
for _ in 1 2 3 4 5; do
	sqlite3 "$K/app.db" "UPDATE t SET x = randomblob(5000) WHERE rowid % 7 = 0"
	kpre=$(sqlite3 "$K/app.db" 'SELECT hex(x) FROM t ORDER BY rowid' | sha256sum | cut -d' ' -f1)
	SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$K/safbackup.conf" restore "$kid" \
	    >/dev/null 2>"$K/restore.err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ -s "$K/app.db-journal" ]; then
			kill -9 "$pid"
			hit=1
			break
		fi
	done
	wait "$pid" 2>/dev/null
	[ "$hit" = 1 ] && break
done
check "kill: the restore was killed during its copy into the live database" test "$hit" = 1
ksid=$(grep '"event":"backup.completed"' "$K/restore.err" | grep -o '"backup_id":"[^"]*"' | cut -d'"' -f4 | tail -1)
klocal=$(find "$K/catalog.db-safety" -name "backup-*-manual-$ksid.db")
check "kill: its safety backup had completed, kept beside the catalog" test -n "$ksid" -a -n "$klocal"
kbc backup --type manual >/dev/null 2>"$K/after.err"
check "kill: the next backup exits 0" test $? -eq 0
check "kill: ... and uploads the safety backup (safety.uploaded)" \
    grep -q "\"event\":\"safety.uploaded\".*$ksid" "$K/after.err"
check "kill: ... then removes its local copy" test -n "$klocal" -a ! -e "$klocal"
kbc restore "$ksid" >/dev/null 2>&1
check "kill: restoring the safety backup from the store exits 0" test $? -eq 0
check "kill: ... and gives the state from before the killed restore" \
    test "$(sqlite3 "$K/app.db" 'SELECT hex(x) FROM t ORDER BY rowid' | sha256sum | cut -d' ' -f1)" = "$kpre"
