# tests/azure/progress.sh - sourced by run.sh (Azurite on $AZ_PORT, the
# proxy on $PX_PORT, px_* from faults.sh). The progress of a backup and a
# restore on Azure, read with `backup-cron --json show` from another
# process while they run: the blocks staged count for the upload, the
# ranged download's mark for the download. The proxy holds every Put
# Block, then every GET of the object, so each phase lasts; that the
# holds happened is read from its counter.

CRON=$BUILD_DIR/src/cron/backup-cron
P=$TMP/progress
az_config "$P" progress "$PX_PORT" block_size=1048576 concurrency=2
pbc() { SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$P/safbackup.conf" "$@"; }
pj() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }
px_reset
pbc init >/dev/null 2>&1
check "progress: init the container" test $? -eq 0
sqlite3 "$P/app.db" "PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 6000) INSERT INTO t(b) SELECT randomblob(4000) FROM c;" >/dev/null

# watch PID ID FILE: while PID runs, the progress `show` prints for ID
# (found among the pending backups when ID is ""), one JSON a line.
watch_progress() {
	local pid=$1 id=$2 out=$3 p
	: >"$out"
	while kill -0 "$pid" 2>/dev/null; do
		[ -n "$id" ] || id=$(pbc --json list --status pending 2>/dev/null | pj 'o.length ? o[0].id : ""')
		if [ -n "$id" ] && [ "$id" != undefined ]; then
			p=$(pbc --json show "$id" 2>/dev/null | pj 'o.progress')
			[ -n "$p" ] && [ "$p" != null ] && [ "$p" != undefined ] && echo "$p" >>"$out"
		fi
		sleep 0.1
	done
}

# forward FILE OP RANKS: the readings in FILE are of OP, phases in the
# order RANKS gives ({"phase": rank}), bytes never back within a phase nor
# above the total. Prints the phases seen.
forward() {
	node -e '
	const fs = require("fs");
	const seen = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
	const op = process.argv[2], rank = JSON.parse(process.argv[3]);
	for (let i = 0; i < seen.length; i++) {
		const b = seen[i], a = seen[i - 1];
		if (b.operation !== op || !(b.phase in rank)) throw new Error("not a " + op + ": " + JSON.stringify(b));
		if (b.bytes_total !== null && b.bytes_done > b.bytes_total) throw new Error("over the total: " + JSON.stringify(b));
		if (a && rank[b.phase] < rank[a.phase]) throw new Error(a.phase + " then " + b.phase);
		if (a && a.phase === b.phase && b.bytes_done < a.bytes_done) throw new Error("back: " + JSON.stringify([a, b]));
	}
	console.log([...new Set(seen.map((p) => p.phase + (p.bytes_done > 0 ? "+" : "")))].join(" "));
	' "$1" "$2" "$3"
}

# --- a backup whose blocks go up slowly ------------------------------------------
px_reset
px_set "mode=slow&count=-1&method=PUT&match=comp%3Dblock&delayMs=400"
pbc --json backup --type manual >"$P/backup.json" 2>"$P/backup.err" &
bpid=$!
watch_progress "$bpid" "" "$P/backup.seen"
wait "$bpid"
rc=$?
held=$(px_stat faults)
px_reset
check "progress: the backup exits 0 (got $rc)" test "$rc" -eq 0
check "progress: the proxy held Put Blocks ($held)" test "${held:-0}" -gt 0
phases=$(forward "$P/backup.seen" backup '{"snapshot":0,"upload":1}' 2>"$P/backup.fwd")
check "progress: the backup's readings go forward ($(cat "$P/backup.fwd"))" test $? -eq 0 -a -s "$P/backup.seen"
check "progress: the upload was seen with bytes staged (seen: $phases)" grep -q 'upload+' <<<"$phases"
bid=$(pj 'o.id' <"$P/backup.json")
check "progress: none after the backup" test "$(pbc --json show "$bid" 2>/dev/null | pj 'o.progress')" = null

# --- a restore whose object comes down slowly ---------------------------------------
px_set "mode=slow&count=-1&method=GET&match=-manual-&delayMs=1500"
pbc restore "$bid" >/dev/null 2>"$P/restore.err" &
rpid=$!
watch_progress "$rpid" "$bid" "$P/restore.seen"
wait "$rpid"
rc=$?
held=$(px_stat faults)
px_reset
check "progress: the restore exits 0 (got $rc)" test "$rc" -eq 0
check "progress: the proxy held the object's GETs ($held)" test "${held:-0}" -gt 0
phases=$(forward "$P/restore.seen" restore '{"download":0,"verify":0,"safety_backup":1,"copy":2}' 2>"$P/restore.fwd")
check "progress: the restore's readings go forward ($(cat "$P/restore.fwd"))" test $? -eq 0 -a -s "$P/restore.seen"
check "progress: the download was seen (seen: $phases)" grep -q 'download' <<<"$phases"
check "progress: none after the restore" test "$(pbc --json show "$bid" 2>/dev/null | pj 'o.progress')" = null
