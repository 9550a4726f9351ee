#!/usr/bin/env bash
# A restore loses no committed write (issue 9). In WAL and in
# rollback-journal mode, sb-writer commits a numbered row every ~1 ms
# throughout a restore of a database of tens of MB, and logs each row id
# the moment its COMMIT has returned. Afterwards:
#   1. every id committed before the restore committed is in the safety
#      backup, and the safety backup holds nothing newer: it is exactly the
#      state the restore replaced;
#   2. the live database is the chosen backup (rows with id <= its max id,
#      byte for byte) plus exactly the rows the writer logged after the
#      restore;
#   3. the writer never saw an error (exit 0, empty stderr).
# The restore's log line names how long writers waited (writers_blocked_ms).
# Then a backup whose sha256 is right but whose integrity_check fails
# is refused before anything is locked or written: live untouched, no
# safety backup. Last, a copy that fails part way (live's disk full) is
# rolled back, live untouched, its safety backup kept.
#
# The writer's log shows where the restore happened: ids grow by one per
# commit until the restore, after which they start again above the
# backup's largest id (INTEGER PRIMARY KEY takes max(id) + 1).
#
#   BUILD_DIR=build bash tests/integration/cron/restore-lossless.sh
#   SB_CRON=/other/backup-cron ...   runs another build's backup-cron (to
#                                    show the test fails on a lossy one)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"
CRON=${SB_CRON:-$CRON}
MOUNTS=()
lossless_cleanup() {
	local m
	for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do umount -l "$m" 2>/dev/null; done
	cleanup
}
trap lossless_cleanup EXIT

ROWS=10000	# of 4000-byte payloads: a ~40 MB database
LEAD=300	# commits logged before the restore starts
TAIL=300	# commits logged after it ends

log_lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

wait_lines() { # file n: until file has n lines (bounded: 60 s)
	for _ in $(seq 1200); do
		[ "$(log_lines "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

for mode in wal delete; do
	D=$W/$mode
	mkdir -p "$D"
	write_config "$D"
	sqlite3 "$D/app.db" >/dev/null <<-EOF
	PRAGMA journal_mode=$mode;
	CREATE TABLE events(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,
	    pid INTEGER NOT NULL, payload BLOB);
	WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
	    WHERE i < $ROWS)
	INSERT INTO events(at, pid, payload)
	    SELECT strftime('%s', 'now'), 0, randomblob(4000) FROM c;
	EOF
	expect_eq "[$mode] live database in $mode mode" \
		"$(sqlite3 "$D/app.db" 'PRAGMA journal_mode')" "$mode"

	out=$(bc --json backup --type manual 2>"$D/backup.err"); rc=$?
	expect_eq "[$mode] backup exits 0" "$rc" 0
	bid=$(json 'o.id' <<<"$out")
	bobj=$D/store/$(json 'o.location' <<<"$out")
	bmax=$(sqlite3 "file:$bobj?mode=ro" 'SELECT max(id) FROM events')
	bdigest=$(digest "file:$bobj?mode=ro" "$bmax")

	: >"$D/writer.log"
	"$WRITER" --journal "$mode" --interval-ms 1 --payload 200 \
		--busy-ms 300000 --log "$D/writer.log" "$D/app.db" \
		2>"$D/writer.err" &
	WRITER_PID=$!
	wait_lines "$D/writer.log" "$LEAD" ||
		t_fail "[$mode] the writer logged $LEAD commits before the restore"

	out=$(bc --json restore "$bid" 2>"$D/restore.err"); rc=$?
	expect_eq "[$mode] restore exits 0 while the writer commits" "$rc" 0
	[ "$rc" = 0 ] || cat "$D/restore.err"
	n=$(log_lines "$D/writer.log")
	wait_lines "$D/writer.log" $((n + TAIL)) ||
		t_fail "[$mode] the writer logged $TAIL commits after the restore"
	kill -TERM "$WRITER_PID"; wait "$WRITER_PID"; wrc=$?
	WRITER_PID=

	# 3. The writer's connection never saw an error.
	expect_eq "[$mode] the writer exits 0 (no SQLite error)" "$wrc" 0
	expect_eq "[$mode] the writer's stderr is empty" "$(cat "$D/writer.err")" ""

	expect_match "[$mode] restore.completed names the writers' wait" \
		"$(cat "$D/restore.err")" 'restore.completed.*writers_blocked_ms[=":]+[0-9]+'
	blocked=$(grep -o 'writers_blocked_ms[=":]*[0-9]*' "$D/restore.err" | grep -o '[0-9]*$')
	printf '#    [%s] writers were blocked %s ms\n' "$mode" "${blocked:-?}"

	# Split the writer's log where the ids fall back: before / after.
	awk -v pre="$D/pre.ids" -v post="$D/post.ids" '
		NR > 1 && $1 <= last { after = 1 }
		{ print $1 > (after ? post : pre); last = $1 }' "$D/writer.log"
	touch "$D/pre.ids" "$D/post.ids"
	npre=$(log_lines "$D/pre.ids")
	npost=$(log_lines "$D/post.ids")
	lastpre=$(tail -n 1 "$D/pre.ids")
	if [ "$npost" -gt 0 ] && [ "${lastpre:-0}" -gt "$bmax" ]; then
		t_ok "[$mode] the log shows the restore ($npre commits before, $npost after)"
	else
		t_fail "[$mode] the log shows the restore" \
			"$npre before (last id ${lastpre:-none}), $npost after, backup max id $bmax"
	fi

	# 1. The safety backup holds every commit made before the restore.
	sid=$(json 'o.safety_backup_id' <<<"$out")
	sobj=$D/store/$(bc --json show "$sid" | json 'o.location')
	sqlite3 "file:$sobj?mode=ro" 'SELECT id FROM events ORDER BY id' \
		>"$D/safety.ids"
	missing=$(sort "$D/pre.ids" | comm -23 - <(sort "$D/safety.ids") | wc -l)
	expect_eq "[$mode] every commit before the restore is in the safety backup" \
		"$missing" 0
	[ "$missing" = 0 ] || printf '#    lost: %s\n' \
		"$(sort "$D/pre.ids" | comm -23 - <(sort "$D/safety.ids") | sort -n | head -n 5 | tr '\n' ' ')"
	expect_eq "[$mode] the safety backup holds nothing newer than those commits" \
		"$(sqlite3 "file:$sobj?mode=ro" 'SELECT max(id) FROM events')" "$lastpre"
	expect_eq "[$mode] the safety backup passes integrity_check" \
		"$(sqlite3 "file:$sobj?mode=ro" 'PRAGMA integrity_check')" ok

	# 2. Live = the chosen backup + what the writer committed after.
	expect_eq "[$mode] live rows up to the backup's max id are the backup's" \
		"$(digest "$D/app.db" "$bmax")" "$bdigest"
	expect_eq "[$mode] live rows after the backup's are exactly those logged after the restore" \
		"$(sqlite3 "$D/app.db" "SELECT id FROM events WHERE id > $bmax ORDER BY id" | sha256sum)" \
		"$(sort -n "$D/post.ids" | sha256sum)"
	expect_eq "[$mode] the live database passes integrity_check" \
		"$(sqlite3 "$D/app.db" 'PRAGMA integrity_check')" ok
	expect_eq "[$mode] the live database is still in $mode mode" \
		"$(sqlite3 "$D/app.db" 'PRAGMA journal_mode')" "$mode"
done

# --- a backup whose sha256 is right but fails integrity_check ---------------
# Its integrity_check runs beside the sha256, before the live database is
# locked: the restore is refused, the live database untouched (byte for
# byte), no safety backup taken. The damaged object is planted with the
# catalog's sha256 and size made to match it.
for mode in wal delete; do
	D=$W/integrity-$mode
	mkdir -p "$D"
	write_config "$D"
	sqlite3 "$D/app.db" >/dev/null <<-EOF
	PRAGMA journal_mode=$mode;
	CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
	CREATE INDEX t_v ON t(v);
	WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000)
	INSERT INTO t(v) SELECT hex(randomblob(20)) FROM c;
	EOF
	out=$(bc --json backup --type manual 2>/dev/null)
	bid=$(json 'o.id' <<<"$out")
	bobj=$D/store/$(json 'o.location' <<<"$out")
	chmod u+w "$bobj"
	# Page 3 and on: b-tree pages, not the header.
	head -c 2000 /dev/urandom | dd of="$bobj" bs=1 seek=$((4096 * 3 + 200)) conv=notrunc status=none
	if [ "$(sqlite3 "file:$bobj?mode=ro" 'PRAGMA integrity_check' 2>&1 | head -n 1)" = ok ]; then
		t_fail "[$mode] the planted object fails integrity_check (fault not made)"
		continue
	fi
	sqlite3 "$D/catalog.db" "UPDATE backups SET sha256 = '$(sha256sum "$bobj" | cut -d' ' -f1)',
		size = $(stat -c %s "$bobj") WHERE id = '$bid'"
	sqlite3 "$D/app.db" "INSERT INTO t(v) VALUES ('after the backup')"
	live_sum=$(sha256sum "$D/app.db" | cut -d' ' -f1)
	out=$(bc restore "$bid" 2>&1); rc=$?
	expect_eq "[$mode] integrity: the restore exits 6" "$rc" 6
	expect_match "[$mode] integrity: the message says why" "$out" "fails the integrity check"
	expect_match "[$mode] integrity: ... and that live is untouched" \
		"$out" "restore refused, the live database is untouched: "
	expect_eq "[$mode] integrity: the live database is byte for byte unchanged" \
		"$(sha256sum "$D/app.db" | cut -d' ' -f1)" "$live_sum"
	expect_eq "[$mode] integrity: the restore is recorded failed" \
		"$(sqlite3 "$D/catalog.db" 'SELECT status FROM restores')" failed
	expect_eq "[$mode] integrity: no safety backup was taken" \
		"$(sqlite3 "$D/catalog.db" "SELECT coalesce(safety_backup_id, '') FROM restores"):$(sqlite3 "$D/catalog.db" 'SELECT count(*) FROM backups')" ":1"
done

# --- the copy fails part way: the live database's disk is full --------------
rows_db() { # path mode n tag: n rows of 4000 random bytes tagged tag
	sqlite3 "$1" >/dev/null <<-EOF
	PRAGMA journal_mode=$2;
	CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);
	WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $3)
	INSERT INTO t(v, b) SELECT '$4', randomblob(4000) FROM c;
	EOF
}

# live on a small tmpfs with too little room for the backup's pages. In
# WAL mode they go into live's WAL, uncommitted, while the safety snapshot
# is taken; in rollback-journal mode into the database file, after it. The
# copy fails for want of room (the message says so: the fault happened),
# it is rolled back: the live database byte for byte and row for row as it
# was, the restore recorded failed, the safety backup taken meanwhile
# kept, completed and holding the live state; writers go on.
for mode in wal delete; do
	D=$W/full-$mode
	mkdir -p "$D/live"
	if ! mount -t tmpfs -o size=24m sbtest "$D/live" 2>"$D/mount.err"; then
		echo "skip: [$mode] live disk full: mount -t tmpfs refused ($(cat "$D/mount.err"))"
		continue
	fi
	MOUNTS+=("$D/live")
	# The backup: 16 MiB, taken of a database on the ordinary disk.
	write_config "$D"
	rows_db "$D/app.db" "$mode" 4000 backup
	bid=$(bc --json backup --type manual 2>/dev/null | json 'o.id')
	# The live database, 1 MiB, on the tmpfs.
	sed -i "s#^path = $D/app.db#path = $D/live/app.db#" "$D/safbackup.conf"
	rows_db "$D/live/app.db" "$mode" 200 live
	# Leave about 8 MiB: the backup's 16 MiB of pages cannot fit.
	free_k=$(df -k --output=avail "$D/live" | tail -n 1)
	dd if=/dev/zero of="$D/live/fill" bs=1k count=$((free_k - 8192)) status=none 2>/dev/null
	live_sum=$(sha256sum "$D/live/app.db" | cut -d' ' -f1)
	live_rows=$(sqlite3 "$D/live/app.db" "SELECT count(*), sum(length(b)), group_concat(DISTINCT v) FROM t")
	out=$(bc restore "$bid" 2>&1); rc=$?
	expect_eq "[$mode] full: the restore fails (exit 1)" "$rc" 1
	expect_match "[$mode] full: for want of room (the fault happened)" "$out" "full"
	expect_match "[$mode] full: the message says live is unchanged and names the safety backup" \
		"$out" "copy into $D/live/app.db failed, the live database is unchanged \(safety backup [0-9a-f-]{36} holds it too\)"
	expect_eq "[$mode] full: the live database file is byte for byte unchanged" \
		"$(sha256sum "$D/live/app.db" | cut -d' ' -f1)" "$live_sum"
	rm -f "$D/live/fill"
	expect_eq "[$mode] full: ... and holds the same rows" \
		"$(sqlite3 "$D/live/app.db" "SELECT count(*), sum(length(b)), group_concat(DISTINCT v) FROM t")" "$live_rows"
	expect_eq "[$mode] full: ... and passes integrity_check" \
		"$(sqlite3 "$D/live/app.db" 'PRAGMA integrity_check')" ok
	expect_eq "[$mode] full: the restore is recorded failed" \
		"$(sqlite3 "$D/catalog.db" 'SELECT status FROM restores')" failed
	sid=$(sqlite3 "$D/catalog.db" 'SELECT safety_backup_id FROM restores')
	expect_eq "[$mode] full: the safety backup is kept, completed" \
		"$(bc --json show "$sid" 2>/dev/null | json 'o.status')" completed
	expect_eq "[$mode] full: ... and holds the live state" \
		"$(sqlite3 "file:$D/store/$(bc --json show "$sid" | json 'o.location')?mode=ro" "SELECT count(*), sum(length(b)), group_concat(DISTINCT v) FROM t")" "$live_rows"
	expect_exit "[$mode] full: a writer goes on" 0 sqlite3 "$D/live/app.db" "INSERT INTO t(v) VALUES ('after')"
	umount "$D/live" && unset 'MOUNTS[-1]'
done

finish
