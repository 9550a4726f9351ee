#!/usr/bin/env bash
# bench/backup.sh - a backup to the local store, side by side with what an
# admin would do instead: `sqlite3 SRC ".backup DST"`, on the same >= 1 GB
# database, in one run. Prints wall time and peak RSS of both and the
# ratios. Targets (issue 2): time ratio <= 1.3, our peak RSS <= 32 MiB.
#
#   BUILD_DIR=build SIZE_MB=1100 RUNS=3 bash bench/backup.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SIZE_MB=${SIZE_MB:-1100}
RUNS=${RUNS:-3}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/sb-bench.XXXXXX)}
trap 'rm -rf "$W"' EXIT
CRON=$BUILD_DIR/src/cron/backup-cron

mkdir -p "$W/store" "$W/tmp"
cat >"$W/safbackup.conf" <<CONF
[source]
path = $W/src.db
[catalog]
path = $W/catalog.db
[core]
temp_dir = $W/tmp
[store]
kind = disk
[disk]
root = $W/store
CONF
# The store's marker, as an admin sets up a store (every command checks it).
"$CRON" --config "$W/safbackup.conf" init >/dev/null || exit 1

bench_make_db "$W/src.db" "$SIZE_MB"
size=$(stat -c %s "$W/src.db")
echo "database: $((size / 1048576)) MiB"

measure() { # label command... -> "seconds maxrss_kib"
	/usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$W/err" ||
		{ cat "$W/err" >&2; exit 1; }
	cat "$W/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$W/ours"; : >"$W/peer"
for r in $(seq "$RUNS"); do
	rm -f "$W/peer.db"
	measure sqlite3 "$W/src.db" ".backup $W/peer.db" >>"$W/peer"
	measure "$CRON" --config "$W/safbackup.conf" backup --type automatic >>"$W/ours"
	rm -f "$W"/store/backup-*
	echo "run $r: sqlite3 $(tail -1 "$W/peer" | cut -d' ' -f1)s, backup-cron $(tail -1 "$W/ours" | cut -d' ' -f1)s"
done
pt=$(cut -d' ' -f1 "$W/peer" | median); pm=$(cut -d' ' -f2 "$W/peer" | sort -n | tail -1)
ot=$(cut -d' ' -f1 "$W/ours" | median); om=$(cut -d' ' -f2 "$W/ours" | sort -n | tail -1)
echo
printf '%-48s %10s %14s\n' "backup of a $((size / 1048576)) MiB database" "time (s)" "peak RSS (MiB)"
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-48s %10s %14s\n' 'sqlite3 SRC ".backup DST"' "$pt" "$(div "$pm" 1024)"
printf '%-48s %10s %14s\n' "backup-cron backup (disk store, sha256, fsync)" "$ot" "$(div "$om" 1024)"
echo "time ratio backup-cron / sqlite3: $(div "$ot" "$pt") (target <= 1.3)"
echo "peak RSS ratio backup-cron / sqlite3: $(div "$om" "$pm"); backup-cron $(div "$om" 1024) MiB (target <= 32)"
