#!/usr/bin/env bash
# bench/restore.sh - a restore with backup-cron, side by side with what an
# admin would do instead: `sqlite3 LIVE ".restore FILE"`, on the same
# >= 1 GB generated database, in one run, for the disk store and for Azure
# (Azurite on loopback). Prints wall time and peak RSS of both, the time
# ratio, and how long the service's writers were blocked (the restore's
# own measure, writers_blocked_ms of restore.completed). backup-cron does
# more than sqlite3: it checks the backup (size, sha256, integrity_check)
# and takes a safety backup first. Targets (issue 9), disk store: time
# ratio <= 1.5, our peak RSS <= 32 MiB.
#
#   BUILD_DIR=build SIZE_MB=1100 RUNS=1 bash bench/restore.sh
#   AZURE=0 ...   the disk store only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SIZE_MB=${SIZE_MB:-1100}
RUNS=${RUNS:-1}
AZURE=${AZURE:-1}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/sb-bench-restore.XXXXXX)}
CRON=$BUILD_DIR/src/cron/backup-cron
cleanup() {
	bench_azurite_stop
	rm -rf "$W"
}
trap cleanup EXIT

[ -x "$CRON" ] || { echo "bench/restore.sh: build first ($CRON)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/restore.sh: apt-get install time" >&2; exit 1; }

measure() { # log command... -> "seconds maxrss_kib"; stderr kept in log
	local log=$1; shift
	/usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$log.err" ||
		{ cat "$log.err" >&2; exit 1; }
	cat "$W/time"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
blocked() { grep -o '"writers_blocked_ms":"[0-9]*"' "$1" | grep -o '[0-9]\+' | tail -1; }

mkdir -p "$W/tmp" "$W/store"
bench_make_db "$W/live.db" "$SIZE_MB"
size=$(stat -c %s "$W/live.db")
echo "database: $((size / 1048576)) MiB"

# bench_store KIND LABEL: a backup of live.db to the store, then RUNS
# times: the peer's restore of that backup file, ours of that backup.
bench_store() {
	local kind=$1 label=$2 id obj r
	"$CRON" --config "$W/$kind.conf" init >/dev/null 2>&1
	id=$("$CRON" --config "$W/$kind.conf" --json backup --type manual 2>/dev/null |
		node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).id))')
	# The peer restores the same bytes, from a plain file.
	obj=$W/peer-src.db
	sqlite3 "$W/live.db" ".backup $obj"
	: >"$W/$kind.ours"; : >"$W/$kind.peer"; : >"$W/$kind.blocked"
	for r in $(seq "$RUNS"); do
		measure "$W/peer" sqlite3 "$W/live.db" ".restore $obj" >>"$W/$kind.peer"
		measure "$W/ours" "$CRON" --config "$W/$kind.conf" restore "$id" >>"$W/$kind.ours"
		blocked "$W/ours.err" >>"$W/$kind.blocked"
		echo "$label run $r: sqlite3 $(tail -1 "$W/$kind.peer" | cut -d' ' -f1)s," \
			"backup-cron $(tail -1 "$W/$kind.ours" | cut -d' ' -f1)s," \
			"writers blocked $(tail -1 "$W/$kind.blocked") ms"
	done
	rm -f "$obj"
	pt=$(cut -d' ' -f1 "$W/$kind.peer" | median); pm=$(cut -d' ' -f2 "$W/$kind.peer" | sort -n | tail -1)
	ot=$(cut -d' ' -f1 "$W/$kind.ours" | median); om=$(cut -d' ' -f2 "$W/$kind.ours" | sort -n | tail -1)
	bt=$(median <"$W/$kind.blocked")
	printf '%-52s %10s %14s\n' "restore of a $((size / 1048576)) MiB database, $label" "time (s)" "peak RSS (MiB)"
	printf '%-52s %10s %14s\n' 'sqlite3 LIVE ".restore FILE"' "$pt" "$(div "$pm" 1024)"
	printf '%-52s %10s %14s\n' "backup-cron restore ($label)" "$ot" "$(div "$om" 1024)"
	echo "$label: time ratio backup-cron / sqlite3: $(div "$ot" "$pt")${3:+ (target <= $3)}"
	echo "$label: backup-cron peak RSS $(div "$om" 1024) MiB${4:+ (target <= $4)}"
	echo "$label: writers blocked ${bt} ms ($(div "$bt" "$(awk -v t="$ot" 'BEGIN{print t*1000}')") of the restore)"
	echo
}

cat >"$W/disk.conf" <<CONF
[source]
path = $W/live.db
[catalog]
path = $W/disk-catalog.db
[core]
temp_dir = $W/tmp
[store]
kind = disk
[disk]
root = $W/store
CONF
bench_store disk "disk store" 1.5 32

if [ "$AZURE" = 1 ]; then
	port=$(bench_port)
	bench_azurite_start "$W/azurite" "$port"
	cat >"$W/azure.conf" <<-CONF
	[source]
	path = $W/live.db
	[catalog]
	path = $W/azure-catalog.db
	[core]
	temp_dir = $W/tmp
	[store]
	kind = azure
	[azure]
	account = devstoreaccount1
	container = restore
	endpoint = http://127.0.0.1:$port/devstoreaccount1
	CONF
	export SAFBACKUP_AZURE_KEY=$BENCH_AZ_KEY
	bench_store azure "Azurite"
fi
