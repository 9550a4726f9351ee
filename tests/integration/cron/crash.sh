#!/usr/bin/env bash
# Black-box tests of what happens when things go wrong, against the real
# backup-cron, a real SQLite database and a real file system:
#
#  - backup-cron SIGKILLed at three points of a restore of an 80 MB
#    database (verifying the backup in place, the safety snapshot, the copy
#    into the live database): the live database is the old or the new one, never
#    torn; the next writing operation leaves nothing pending and removes
#    (and logs) every temp file of ours;
#  - a full disk (a small tmpfs; skipped where mount is refused): the
#    backup fails cleanly and is recorded and reported, nothing is left,
#    the catalog is intact; a restore whose safety snapshot cannot fit is
#    refused up front, and one needs no room in temp_dir (read in place);
#  - a store that cannot be opened, a catalog that cannot be opened: the
#    backup is reported (JSON event and webhook) and recorded when it can be;
#  - a webhook that never answers: the failure is reported and no other
#    operation is kept BUSY while the report waits.
#
# The Azure metadata limit is tested on Azurite by tests/azure/metadata.sh.
#
#   BUILD_DIR=build bash tests/integration/cron/crash.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"

SKIPPED=0
MOUNTS=()
crash_cleanup() {
	local p m
	for p in "${LISTENERS[@]+"${LISTENERS[@]}"}"; do kill "$p" 2>/dev/null; done
	for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do umount -l "$m" 2>/dev/null; done
	cleanup
}
trap crash_cleanup EXIT

skip() { SKIPPED=$((SKIPPED + 1)); echo "skip: $*"; }
quiet() { "$@" >/dev/null 2>&1; }
# A fresh tmpfs mounted over the store: a new, empty store for this
# catalog, which remembers the one before (hence --force).
store_init() { quiet bc init --force; }

# Files of ours (temp files and their companions) in a directory.
ours() { find "$1" -maxdepth 1 -name 'sb-tmp-*' 2>/dev/null | sort; }
nours() { ours "$1" | grep -c . ; }

# Content digest of the test database: the state row and every blob.
cdigest() {
	sqlite3 "$1" "SELECT v FROM state; SELECT id, length(b), hex(substr(b, 1, 32)), hex(substr(b, 50001, 32)) FROM blobs ORDER BY id" |
		sha256sum | cut -d' ' -f1
}

cat_q() { sqlite3 "$D/catalog.db" "$1"; }

# make_db PATH ROWS: ROWS blobs of 100 kB, state 'A', rollback journal.
make_db() {
	sqlite3 "$1" <<-SQL >/dev/null
	PRAGMA journal_mode = DELETE;
	CREATE TABLE state(v TEXT);
	INSERT INTO state VALUES ('A');
	CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
	INSERT INTO blobs(b) SELECT randomblob(100000) FROM n;
	SQL
}

# --- SIGKILL during a restore -------------------------------------------------
D=$W/kill
mkdir -p "$D"
write_config "$D"
make_db "$D/app.db" 800
out=$(bc --json backup --type manual --description "state A" 2>"$D/backup.err"); rc=$?
expect_eq "kill: the backup to restore completes" "$rc" 0
ID_A=$(json 'o.id' <<<"$out")
OBJ_A=$D/store/$(json 'o.location' <<<"$out")
DIG_A=$(cdigest "file:$OBJ_A?mode=ro")
# The live database moves away from the backup.
sqlite3 "$D/app.db" "UPDATE state SET v = 'B'; UPDATE blobs SET b = randomblob(100000) WHERE id % 3 = 0;"
check "kill: the live database differs from the backup" test "$(cdigest "$D/app.db")" != "$DIG_A"

# (a): the disk store's backup is verified where it lies (no download):
# the restore has the object open and not yet the live database (one look
# at its descriptors, so both hold at the same instant).
cond_verify() {
	local fds
	fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
	grep -qF -- " -> $OBJ_A" <<<"$fds" && ! grep -qx -- ".* -> $D/app.db" <<<"$fds"
}
cond_safety() { compgen -G "$D/store/.staging/sb-tmp-snapshot-*[0-9a-f]" >/dev/null; }
cond_copy() { [ -s "$D/app.db-journal" ]; }

# kill_restore COND: start a restore of ID_A, SIGKILL it as soon as COND
# holds. Tries again (up to 5 times) when the restore ended before the
# point was seen; returns 1 if it never was. PRE gets the live digest from
# before the killed restore.
kill_restore() {
	local cond=$1 pid hit
	for _ in 1 2 3 4 5; do
		sqlite3 "$D/app.db" "UPDATE state SET v = 'B'"
		PRE=$(cdigest "$D/app.db")
		# Not through bc(): $! must be backup-cron itself.
		"$CRON" --config "$D/safbackup.conf" restore "$ID_A" \
			>"$D/restore.out" 2>"$D/restore.err" &
		pid=$!
		hit=0
		while kill -0 "$pid" 2>/dev/null; do
			if $cond; then
				kill -9 "$pid"
				hit=1
				break
			fi
		done
		wait "$pid" 2>/dev/null
		[ "$hit" = 1 ] && return 0
		# Missed (the restore ended first): repair before retrying.
		bc backup --type manual >/dev/null 2>&1
	done
	return 1
}

# after_kill LABEL: the live database is whole, then a writing operation
# repairs everything; LEFT holds the files of ours seen after the kill.
after_kill() {
	local label=$1 rid f live
	rid=$(cat_q "SELECT id FROM restores ORDER BY started_at DESC LIMIT 1")
	expect_eq "$label: the killed restore is pending" \
		"$(cat_q "SELECT status FROM restores WHERE id = '$rid'")" pending
	# The application opens its database: SQLite rolls a hot journal back.
	expect_eq "$label: the live database passes integrity_check" \
		"$(sqlite3 "$D/app.db" 'PRAGMA integrity_check')" ok
	live=$(cdigest "$D/app.db")
	if [ "$live" = "$PRE" ]; then echo "# $label: the live database is the old one"
	elif [ "$live" = "$DIG_A" ]; then echo "# $label: the live database is the backup's"
	fi
	if [ "$live" = "$PRE" ] || [ "$live" = "$DIG_A" ]; then
		t_ok "$label: the live database is the old one or the backup, not torn"
	else
		t_fail "$label: the live database is the old one or the backup, not torn" \
			"digest $live, old $PRE, backup $DIG_A"
	fi
	bc backup --type manual >"$D/after.out" 2>"$D/after.err"
	expect_eq "$label: the next backup succeeds" "$?" 0
	expect_eq "$label: no backup left pending" \
		"$(cat_q "SELECT count(*) FROM backups WHERE status = 'pending'")" 0
	expect_eq "$label: no restore left pending" \
		"$(cat_q "SELECT count(*) FROM restores WHERE status = 'pending'")" 0
	expect_match "$label: the killed restore is failed, interrupted" \
		"$(cat_q "SELECT status || ' ' || error FROM restores WHERE id = '$rid'")" \
		"^failed interrupted"
	expect_eq "$label: no file of ours left in temp_dir" "$(nours "$D/tmp")" 0
	expect_eq "$label: no file of ours left in .staging" "$(nours "$D/store/.staging")" 0
	for f in $LEFT; do
		case $f in *.lock) continue ;; esac
		if grep '"event":"temp.removed"' "$D/after.err" | grep -qF "\"path\":\"$f\""; then
			t_ok "$label: the removal of $(basename "$f") was logged"
		else
			t_fail "$label: the removal of $(basename "$f") was logged" \
				"$(grep temp.removed "$D/after.err")"
		fi
	done
}

# (a) while the backup is verified. On a loaded machine the kill can land
# just after the verification (the safety backup then has started): that
# is another case, (b)'s; repair and try again.
safety_since() {
	cat_q "SELECT count(*) FROM backups WHERE description LIKE 'safety backup before restoring%' AND created_at >= (SELECT max(started_at) FROM restores)"
}
a_hit=1
for _ in 1 2 3; do
	kill_restore cond_verify || { a_hit=1; break; }
	a_hit=0
	[ "$(safety_since)" = 0 ] && break
	echo "# (a) the kill landed after the verification; again"
	bc backup --type manual >/dev/null 2>&1
	a_hit=1
done
if [ "$a_hit" = 0 ]; then
	LEFT=$(ours "$D/tmp")
	expect_eq "(a) killed while verifying the backup in place: no download" \
		"$(nours "$D/tmp")" 0
	expect_eq "(a) no safety backup had started" "$(safety_since)" 0
	after_kill "(a) verify"
else
	t_fail "(a) the restore was never seen verifying the backup"
fi

# (b) while the safety snapshot is written into .staging.
if kill_restore cond_safety; then
	LEFT=$(ours "$D/store/.staging")
	check "(b) killed while the safety snapshot existed in .staging" \
		compgen -G "$D/store/.staging/sb-tmp-snapshot-*[0-9a-f]"
	expect_eq "(b) the safety backup was pending" \
		"$(cat_q "SELECT status FROM backups WHERE description LIKE 'safety backup before restoring%' ORDER BY created_at DESC LIMIT 1")" pending
	LEFT="$LEFT $(ours "$D/tmp")"
	after_kill "(b) safety snapshot"
	expect_match "(b) the safety backup is failed, interrupted" \
		"$(cat_q "SELECT status || ' ' || error FROM backups WHERE description LIKE 'safety backup before restoring%' ORDER BY created_at DESC LIMIT 1")" \
		"^failed interrupted"
else
	t_fail "(b) the restore was never seen taking its safety snapshot"
fi

# (c) during the copy into the live database: its rollback journal exists
# only while that one write transaction runs.
if kill_restore cond_copy; then
	LEFT=$(ours "$D/tmp")
	check "(c) killed during the copy: its journal is left" test -s "$D/app.db-journal"
	check "(c) the safety backup had completed" \
		grep -q '"event":"backup.completed"' "$D/restore.err"
	after_kill "(c) copy"
	expect_match "(c) the record names the safety backup" \
		"$(cat_q "SELECT error FROM restores ORDER BY started_at DESC LIMIT 1")" \
		"safety backup [0-9a-f-]{36} holds the live database as it was before"
else
	t_fail "(c) the restore was never seen copying into the live database"
fi

# A restore that runs to the end still works after all this.
out=$(bc --json restore "$ID_A" 2>"$D/restore.err"); rc=$?
expect_eq "kill: a full restore afterwards exits 0" "$rc" 0
expect_eq "kill: the live database is the backup's" "$(cdigest "$D/app.db")" "$DIG_A"
expect_eq "kill: nothing of ours left after a full restore" \
	"$(($(nours "$D/tmp") + $(nours "$D/store/.staging")))" 0

# Two verifies of one backup at once do not share a temp file.
"$CRON" --config "$D/safbackup.conf" verify "$ID_A" >/dev/null 2>"$D/v1.err" & v1=$!
"$CRON" --config "$D/safbackup.conf" verify "$ID_A" >/dev/null 2>"$D/v2.err" & v2=$!
r1=0; r2=0
wait "$v1" || r1=$?
wait "$v2" || r2=$?
expect_eq "two concurrent verifies of one backup both pass" "$r1 $r2" "0 0"

# --- a store that cannot be opened ---------------------------------------------
D=$W/nostore
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
start_listener answer "$D/hook.log"
printf '[report]\nwebhook = http://127.0.0.1:%s/hook\n' "$LPORT" >>"$D/safbackup.conf"
expect_exit "nostore: a backup while the store works" 0 quiet bc backup --type automatic
rm -rf "$D/store"
echo "not a directory" >"$D/store"
bc backup --type automatic >"$D/out" 2>"$D/err"; rc=$?
expect_eq "nostore: backup exits 1" "$rc" 1
ev=$(grep '"event":"backup.failed"' "$D/err")
expect_match "nostore: a backup.failed JSON event on stderr" "$ev" '"level":"error"'
expect_match "nostore: the event names the store" "$ev" "store"
hook=$(grep '"event":"backup.failed"' "$D/hook.log" 2>/dev/null)
expect_match "nostore: the webhook received backup.failed" "$hook" "\"event\":\"backup.failed\".*store $D/store"
fid=$(json 'o.backup_id' <<<"$hook" 2>/dev/null)
expect_match "nostore: the catalog records the backup failed" \
	"$(cat_q "SELECT type || ' ' || status || ' ' || error FROM backups WHERE id = '$fid'")" \
	"^automatic failed .*store $D/store"
expect_eq "nostore: the earlier backup is still completed" \
	"$(cat_q "SELECT count(*) FROM backups WHERE status = 'completed'")" 1

# The catalog itself cannot be opened: still reported.
rm -f "$D/catalog.db"
mkdir "$D/catalog.db"
: >"$D/hook.log"
bc backup --type automatic >"$D/out" 2>"$D/err"; rc=$?
expect_eq "nocatalog: backup exits 1" "$rc" 1
check "nocatalog: a backup.failed JSON event on stderr" grep -q '"event":"backup.failed"' "$D/err"
check "nocatalog: the webhook received backup.failed" grep -q '"event":"backup.failed"' "$D/hook.log"

# --- a webhook that never answers ----------------------------------------------
D=$W/hang
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
start_listener hang "$D/hook.log"
# bad.conf: the same database, catalog and lock, a store root that is a
# file, and the hanging webhook.
echo "not a directory" >"$D/storefile"
sed "s#^root = .*#root = $D/storefile#" "$D/safbackup.conf" >"$D/bad.conf"
printf '[report]\nwebhook = http://127.0.0.1:%s/hook\nwebhook_timeout = 20\n' "$LPORT" >>"$D/bad.conf"
"$CRON" --config "$D/bad.conf" backup --type automatic >"$D/bad.out" 2>"$D/bad.err" &
BAD=$!
for _ in $(seq 400); do [ -s "$D/hook.log" ] && break; sleep 0.05; done
check "hang: the webhook received the report" grep -q '"event":"backup.failed"' "$D/hook.log"
check "hang: the failing backup is still waiting on the webhook" kill -0 "$BAD"
expect_eq "hang: the failure is recorded while the webhook waits" \
	"$(sqlite3 "$D/catalog.db" "SELECT status FROM backups")" failed
check "hang: the JSON event was written at once" grep -q '"event":"backup.failed"' "$D/bad.err"
out=$(bc backup --type manual 2>&1); rc=$?
expect_eq "hang: another backup meanwhile is not BUSY, it succeeds" "$rc" 0
[ "$rc" = 0 ] || echo "$out"
check "hang: the failing backup was still waiting during it" kill -0 "$BAD"
kill "$BAD" 2>/dev/null
wait "$BAD" 2>/dev/null
printf '[report]\nwebhook_timeout = 61\n' >>"$D/safbackup.conf"
out=$(bc list 2>&1); rc=$?
expect_eq "hang: webhook_timeout = 61 exits 2" "$rc" 2
expect_match "hang: and names file, line and limit" "$out" \
	"safbackup.conf:[0-9]+: \[report\] webhook_timeout: out of range: must be from 1 to 60"

# --- a full disk --------------------------------------------------------------
D=$W/full
mkdir -p "$D"
write_config "$D"
make_db "$D/app.db" 300		# 30 MB
if ! mount -t tmpfs -o size=20m sbtest "$D/store" 2>"$D/mount.err"; then
	skip "full disk: mount -t tmpfs refused ($(cat "$D/mount.err"))"
else
	MOUNTS+=("$D/store")
	store_init
	start_listener answer "$D/hook.log"
	printf '[report]\nwebhook = http://127.0.0.1:%s/hook\n' "$LPORT" >>"$D/safbackup.conf"
	# A record that must not change.
	sqlite3 "$D/small.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
	# Another database into the same store and catalog: the same service.
	sed -e "s#^path = $D/app.db#path = $D/small.db#" \
		-e "s#^kind = disk#kind = disk\nservice = app.db#" \
		"$D/safbackup.conf" >"$D/small.conf"
	expect_exit "full: a small backup fits" 0 quiet "$CRON" --config "$D/small.conf" backup --type manual
	before=$(cat_q "SELECT * FROM backups")
	bc backup --type automatic >"$D/out" 2>"$D/err"; rc=$?
	expect_eq "full: a 30 MB backup on a 20 MB store exits 1" "$rc" 1
	expect_match "full: the error names the directory, need and free" \
		"$(grep backup.failed "$D/err")" "not enough free space in $D/store/.staging: [0-9]+ bytes needed, [0-9]+ free"
	check "full: the webhook received backup.failed" grep -q '"event":"backup.failed"' "$D/hook.log"
	expect_eq "full: the backup is recorded failed" \
		"$(cat_q "SELECT status FROM backups WHERE type = 'automatic'")" failed
	expect_eq "full: nothing of ours left in the store" \
		"$(find "$D/store" -name 'sb-tmp-*' -o -name 'backup-*automatic*' | grep -c .)" 0
	expect_eq "full: the catalog passes integrity_check" "$(cat_q 'PRAGMA integrity_check')" ok
	expect_eq "full: the other records are unchanged" \
		"$(cat_q "SELECT * FROM backups WHERE type = 'manual'")" "$before"
	umount "$D/store" && MOUNTS=()

	# A real ENOSPC past the space check: room for the bytes, not for
	# the files. A tmpfs with few inodes, filled up but for two: the
	# snapshot and its lock fit, the metadata's temp file does not.
	if mount -t tmpfs -o size=64m,nr_inodes=64 sbtest "$D/store" 2>"$D/mount.err"; then
		MOUNTS+=("$D/store")
		store_init
		quiet bc list
		mkdir "$D/store/.fill"
		i=0
		while : 2>/dev/null >"$D/store/.fill/$i"; do i=$((i + 1)); done
		rm -f "$D/store/.fill/0" "$D/store/.fill/1"
		bc backup --type automatic >"$D/out" 2>"$D/err"; rc=$?
		expect_eq "enospc: the backup exits 1" "$rc" 1
		grep backup.failed "$D/err" | sed "s/^/# /"
		expect_match "enospc: the error is the file system's" \
			"$(grep backup.failed "$D/err")" "No space left on device"
		expect_eq "enospc: the backup is recorded failed" \
			"$(cat_q "SELECT count(*) FROM backups WHERE type = 'automatic' AND status = 'failed'")" 2
		expect_eq "enospc: nothing of ours left in the store" \
			"$(find "$D/store" -name 'sb-tmp-*' -o -name 'backup-*automatic*' | grep -c .)" 0
		expect_eq "enospc: the catalog passes integrity_check" "$(cat_q 'PRAGMA integrity_check')" ok
		umount "$D/store" && MOUNTS=()
	else
		skip "enospc: mount -t tmpfs with nr_inodes refused"
	fi

	# A restore whose safety snapshot cannot fit in the store's .staging
	# is refused first. The disk store's backup is read where it lies, so
	# temp_dir needs no room at all: a 20 MB temp_dir under a 30 MB
	# restore proves it.
	if mount -t tmpfs -o size=72m sbtest "$D/store" 2>"$D/mount.err" &&
	   MOUNTS+=("$D/store") &&
	   mount -t tmpfs -o size=20m sbtest "$D/tmp" 2>>"$D/mount.err"; then
		MOUNTS+=("$D/tmp")
		store_init
		expect_exit "full: a 30 MB backup on a 72 MB store" 0 quiet bc backup --type manual --description big
		big=$(cat_q "SELECT id FROM backups WHERE description = 'big'")
		sqlite3 "$D/app.db" "UPDATE state SET v = 'B'"
		live=$(cdigest "$D/app.db")
		head -c $((30 * 1048576)) /dev/zero >"$D/store/.fill"
		bc restore "$big" >"$D/out" 2>"$D/err"; rc=$?
		expect_eq "full: the restore exits 1" "$rc" 1
		expect_match "full: the restore error names .staging, need and free" \
			"$(grep restore.failed "$D/err")" "not enough free space in $D/store/.staging: [0-9]+ bytes needed, [0-9]+ free"
		expect_eq "full: nothing was written to temp_dir" "$(find "$D/tmp" -mindepth 1 | grep -c .)" 0
		expect_eq "full: nothing of ours in .staging" "$(nours "$D/store/.staging")" 0
		expect_eq "full: no safety backup was taken" \
			"$(cat_q "SELECT count(*) FROM backups WHERE description LIKE 'safety backup%'")" 0
		expect_eq "full: the live database is unchanged" "$(cdigest "$D/app.db")" "$live"
		expect_eq "full: the restore is recorded failed" "$(cat_q "SELECT status FROM restores")" failed
		rm -f "$D/store/.fill"
		bc restore "$big" >"$D/out" 2>"$D/err"; rc=$?
		expect_eq "full: with room in the store, the restore exits 0 (20 MB temp_dir, 30 MB backup)" "$rc" 0
		expect_eq "full: it wrote nothing to temp_dir (the backup was read in place)" \
			"$(find "$D/tmp" -mindepth 1 | grep -c .)" 0
		expect_eq "full: the live database is the backup's" \
			"$(cdigest "$D/app.db")" "$(cdigest "file:$D/store/$(bc --json show "$big" | json 'o.location')?mode=ro")"
		umount "$D/tmp"
		umount "$D/store" && MOUNTS=()
	else
		skip "full restore: mount -t tmpfs refused"
	fi
fi

echo "$SKIPPED skipped"
finish
