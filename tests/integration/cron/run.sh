#!/usr/bin/env bash
# Black-box tests of backup-cron against a real SQLite database that a
# second process (sb-writer) keeps writing to, on the disk store.
#
#   BUILD_DIR=build bash tests/integration/cron/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"

# --- usage and errors ------------------------------------------------------
D=$W/usage
mkdir -p "$D"
expect_exit "--help exits 0" 0 "$CRON" --help
expect_exit "backup --help works without a config" 0 "$CRON" --config /nonexistent backup --help
expect_exit "unknown command exits 2" 2 "$CRON" frobnicate
out=$("$CRON" --config /nonexistent/safbackup.conf list 2>&1); rc=$?
expect_eq "missing config exits 2" "$rc" 2
expect_match "missing config names the file" "$out" "/nonexistent/safbackup.conf"
printf '[source]\npath = x.db\nbogus = 1\n' >"$D/bad.conf"
out=$("$CRON" --config "$D/bad.conf" list 2>&1); rc=$?
expect_eq "unknown key exits 2" "$rc" 2
expect_match "unknown key names file, line and key" "$out" "bad.conf:3.*bogus"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
out=$(bc show not-a-uuid 2>&1); rc=$?
expect_eq "malformed id exits 2" "$rc" 2
expect_match "malformed id is explained" "$out" "not a backup ID"
out=$(bc list --limit 0 2>&1); rc=$?
expect_eq "bad --limit exits 2" "$rc" 2
out=$(bc list --from yesterday 2>&1); rc=$?
expect_eq "bad --from exits 2" "$rc" 2
expect_match "bad --from is explained" "$out" "expected a date"
# The filter rules are the core's: the limits and reasons GET /backups has.
out=$(bc list --from 2026-03-01 --to 2026-02-01 2>&1); rc=$?
expect_eq "--from after --to exits 2" "$rc" 2
expect_match "--from after --to is explained" "$out" "^backup-cron list: from is after to$"
out=$(bc list --offset 2147483648 2>&1); rc=$?
expect_eq "--offset past 2147483647 exits 2" "$rc" 2
expect_match "--offset gives HTTP's limit" "$out" "--offset: expected an integer from 0 to 2147483647, got '2147483648'"
expect_exit "--offset 2147483647 is accepted" 0 bc list --offset 2147483647
out=$(bc list --query '' 2>&1); rc=$?
expect_eq "an empty --query exits 2, as q= is 400" "$rc" 2
out=$(bc --json list --from 2026-02-01 --to 2026-02-01); rc=$?
expect_eq "one day (a bare --to is its end) is a valid range" "$rc" 0
expect_exit "backup --type bogus exits 2" 2 bc backup --type bogus
expect_exit "show of a missing id exits 4" 4 bc show 00000000-0000-4000-8000-000000000000

# --- backup and restore under a busy writer, both journal modes ------------
for mode in wal delete; do
	D=$W/$mode
	mkdir -p "$D"
	write_config "$D"
	start_writer "$mode"
	check "[$mode] writer is running" kill -0 "$WRITER_PID"
	wait_rows 300

	json_out=$(bc --json backup --type manual --description "während des Schreibens" --tag it --tag "$mode" 2>"$D/backup.err")
	rc=$?
	expect_eq "[$mode] backup exits 0 while the writer writes" "$rc" 0
	id=$(json 'o.id' <<<"$json_out")
	expect_eq "[$mode] backup is completed" "$(json 'o.status' <<<"$json_out")" completed
	loc=$(json 'o.location' <<<"$json_out")
	obj=$D/store/$loc
	check "[$mode] object exists in the store" test -f "$obj"
	expect_eq "[$mode] catalog sha256 matches the object" \
		"$(json 'o.sha256' <<<"$json_out")" "$(sha256sum "$obj" | cut -d' ' -f1)"
	expect_eq "[$mode] catalog size matches the object" \
		"$(json 'o.size' <<<"$json_out")" "$(stat -c %s "$obj")"
	expect_eq "[$mode] backup passes integrity_check" "$(sqlite3 "file:$obj?mode=ro" 'PRAGMA integrity_check')" ok
	expect_eq "[$mode] description survives (UTF-8)" "$(json 'o.description' <<<"$json_out")" "während des Schreibens"
	expect_eq "[$mode] tags survive" "$(json 'o.tags.join(",")' <<<"$json_out")" "it,$mode"
	bmax=$(sqlite3 "file:$obj?mode=ro" 'SELECT max(id) FROM events')
	brows=$(sqlite3 "file:$obj?mode=ro" 'SELECT count(*) FROM events')
	bdigest=$(digest "file:$obj?mode=ro" "$bmax")
	expect_eq "[$mode] backup rows are contiguous (one instant)" "$brows" "$bmax"

	expect_exit "[$mode] verify exits 0" 0 bc verify "$id"

	# Let the writer get well past the backup, then restore under it.
	wait_rows $((bmax + 300))
	before=$(writer_rows)
	out=$(bc --json restore "$id" 2>"$D/restore.err"); rc=$?
	expect_eq "[$mode] restore exits 0 while the writer writes" "$rc" 0
	[ "$rc" = 0 ] || cat "$D/restore.err"
	safety=$(json 'o.safety_backup_id' <<<"$out")
	expect_match "[$mode] restore names its safety backup" "$safety" '^[0-9a-f-]{36}$'
	expect_eq "[$mode] safety backup is completed" \
		"$(bc --json show "$safety" | json 'o.status')" completed
	sleep 0.3
	check "[$mode] the writer's connection survived the restore" kill -0 "$WRITER_PID"
	after=$(writer_rows)
	if [ "$after" -lt "$before" ] && [ "$after" -gt "$brows" ]; then
		t_ok "[$mode] the writer sees the restored data ($before rows before, $after after, backup had $brows)"
	else
		t_fail "[$mode] the writer sees the restored data" "rows before $before, after $after, backup $brows"
	fi
	kill "$WRITER_PID"; wait "$WRITER_PID" 2>/dev/null; wrc=$?
	WRITER_PID=
	expect_eq "[$mode] writer exited cleanly (no SQLite error)" "$wrc" 0
	expect_eq "[$mode] restored live DB passes integrity_check" "$(sqlite3 "$D/app.db" 'PRAGMA integrity_check')" ok
	expect_eq "[$mode] restored DB holds exactly the backed-up rows" "$(digest "$D/app.db" "$bmax")" "$bdigest"
done

# --- a corrupted or truncated backup is refused, live DB untouched ----------
D=$W/wal
id=$(bc --json list --type manual --query während | json 'o[0].id')
loc=$(bc --json show "$id" | json 'o.location')
live_sum=$(sha256sum "$D/app.db" | cut -d' ' -f1)
cp "$D/store/$loc" "$D/pristine.db"
printf 'garbage!' | dd of="$D/store/$loc" bs=1 seek=8192 conv=notrunc status=none
out=$(bc restore "$id" 2>&1); rc=$?
expect_eq "corrupted backup: restore exits 6" "$rc" 6
expect_match "corrupted backup: message says why" "$out" "sha256"
expect_eq "corrupted backup: live DB byte-for-byte unchanged" "$(sha256sum "$D/app.db" | cut -d' ' -f1)" "$live_sum"
truncate -s 4096 "$D/store/$loc"
out=$(bc restore "$id" 2>&1); rc=$?
expect_eq "truncated backup: restore exits 6" "$rc" 6
expect_match "truncated backup: message gives the sizes" "$out" "bytes"
expect_eq "truncated backup: live DB byte-for-byte unchanged" "$(sha256sum "$D/app.db" | cut -d' ' -f1)" "$live_sum"
expect_exit "verify of the truncated backup exits 6" 6 bc verify "$id"
cp "$D/pristine.db" "$D/store/$loc"
expect_exit "verify passes again once the object is repaired" 0 bc verify "$id"

# --- delete: manual only ----------------------------------------------------
D=$W/delete
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
man=$(bc --json backup --type manual | json 'o.id')
auto=$(bc --json backup --type automatic | json 'o.id')
out=$(bc delete "$auto" 2>&1); rc=$?
expect_eq "deleting an automatic backup exits 5" "$rc" 5
expect_match "deleting an automatic backup says why" "$out" "automatic"
expect_exit "the automatic backup is still listed" 0 bc show "$auto"
manloc=$(bc --json show "$man" | json 'o.location')
expect_exit "deleting a manual backup exits 0" 0 bc delete "$man"
check "the manual backup's object is gone" test ! -e "$D/store/$manloc"
expect_exit "the deleted backup is not found" 4 bc show "$man"
expect_exit "deleting it again exits 4" 4 bc delete "$man"

# --- the lock: one writing operation at a time ------------------------------
lockf=$D/app.db.safbackup.lock
flock -x "$lockf" -c "sleep 3" &
lpid=$!
sleep 0.3
out=$(bc backup --type manual 2>&1); rc=$?
expect_eq "a backup while the lock is held exits 3" "$rc" 3
expect_match "busy is explained" "$out" "another backup operation"
wait "$lpid"
expect_exit "after the lock is released a backup works" 0 bc backup --type manual

# --- a failed upload leaves a failed record, no completed entry -------------
D=$W/readonly
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
bc backup --type automatic >/dev/null
ncompleted=$(bc --json list --status completed | json 'o.length')
# The store's root read-only, its staging area still writable: the snapshot
# is taken, the upload (moving it into place) fails.
mkdir -p "$D/store/.staging"
if [ "$(id -u)" = 0 ]; then
	chown -R nobody "$D"
	# nobody runs a copy in $W (0755): the checkout may sit under a
	# directory only we can enter.
	install -m 0755 "$CRON" "$W/backup-cron"
	ro_run() { shift; setpriv --reuid=nobody --regid=nogroup --clear-groups "$W/backup-cron" "$@"; }
else
	ro_run() { "$@"; }
fi
chmod 0555 "$D/store"
out=$(ro_run "$CRON" --config "$D/safbackup.conf" --json backup --type automatic 2>"$D/err"); rc=$?
chmod 0755 "$D/store"
expect_eq "upload to a read-only store exits 1" "$rc" 1
expect_match "the error says what failed" "$(cat "$D/err")" "upload|store"
expect_match "the failure is reported as a structured log line" "$(cat "$D/err")" '"event":"backup.failed"'
fid=$(json 'o.id' <<<"$out")
expect_eq "the backup is recorded failed" "$(bc --json show "$fid" | json 'o.status')" failed
expect_eq "no new completed entry" "$(bc --json list --status completed | json 'o.length')" "$ncompleted"
expect_eq "no object left behind" "$(find "$D/store" -name "*$fid*" | wc -l)" 0

# --- prune after a failed latest backup deletes nothing ---------------------
# Old automatic backups, planted in the store and picked up by reconcile.
D=$W/prune
mkdir -p "$D"
write_config "$D"
# Planted weeks apart on purpose, and only five: no min_keep floor and no
# gap check here (tests/integration/cron/clock.sh tests those).
printf '[retention]\nmin_keep = 0\nmax_gap_hours = 8760\n' >>"$D/safbackup.conf"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
src=$(bc --json backup --type automatic | json 'o.location')
plant() { # days-ago
	local id created name
	id=$(cat /proc/sys/kernel/random/uuid)
	created=$(( ($(date +%s) - $1 * 86400) * 1000 ))
	name="backup-$(date -u -d "@$((created / 1000))" +%Y%m%dT%H%M%S)000Z-automatic-$id.db"
	cp "$D/store/$src" "$D/store/$name"
	sqlite3 :memory: "SELECT writefile('$D/store/$name.meta', json_set(readfile('$D/store/$src.meta'),
		'\$.meta.id', '$id', '\$.meta.created_at', '$created', '\$.meta.completed_at', '$created'))" >/dev/null
}
plant 200; plant 150; plant 60; plant 45
out=$(bc reconcile 2>&1)
expect_match "reconcile picks up planted objects" "$out" "4 added"
expect_eq "dry run would delete the backups older than 90 days" \
	"$(bc --json prune --dry-run | json 'o.decisions.filter(d => d.verdict === "delete").length')" 2
# Now the latest automatic backup fails.
mkdir -p "$D/store/.staging"
[ "$(id -u)" = 0 ] && chown -R nobody "$D"
chmod 0555 "$D/store"
ro_run "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1
chmod 0755 "$D/store"
nobj=$(find "$D/store" -maxdepth 1 -name 'backup-*.db' | wc -l)
out=$(bc prune 2>&1); rc=$?
expect_eq "prune after a failed latest backup exits 7" "$rc" 7
expect_match "prune says why it halted" "$out" "failed"
expect_eq "prune deleted no object" "$(find "$D/store" -maxdepth 1 -name 'backup-*.db' | wc -l)" "$nobj"
# A good backup again: prune goes ahead.
bc backup --type automatic >/dev/null
out=$(bc --json prune); rc=$?
expect_eq "prune after a good backup exits 0" "$rc" 0
expect_eq "prune deleted the 2 backups older than 90 days" "$(json 'o.deleted' <<<"$out")" 2
expect_eq "their objects are gone" "$(find "$D/store" -maxdepth 1 -name 'backup-*.db' | wc -l)" "$((nobj + 1 - 2))"

# --- reconcile rebuilds a deleted catalog with every field -------------------
D=$W/wal
before=$(bc --json list --status completed --limit 1000)
nbefore=$(json 'o.length' <<<"$before")
rm -f "$D/catalog.db" "$D/catalog.db-wal" "$D/catalog.db-shm"
out=$(bc reconcile 2>&1); rc=$?
expect_eq "reconcile exits 0" "$rc" 0
expect_match "reconcile reports what it added" "$out" "$nbefore added"
after=$(bc --json list --status completed --limit 1000)
expect_eq "reconcile rebuilt every field of every completed backup" "$after" "$before"
expect_match "rebuilt catalog keeps descriptions and tags" "$after" "während des Schreibens"

finish
