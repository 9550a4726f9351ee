#!/usr/bin/env bash
# bench/azure.sh - a backup to Azure (Azurite on loopback) end to end, side
# by side with the pipeline a Node user would write instead:
#   sqlite3 SRC ".backup TMP"  then  @azure/storage-blob uploadFile(TMP)
#   with 8 MiB blocks and concurrency 4, into the same Azurite;
# on the same >= 1 GB database, in one run. Wall time and peak RSS of both
# come from /usr/bin/time -v (Debian package `time`); the peer's peak RSS
# is that of its largest process (node). Targets (issue 3): time ratio
# <= 0.8, our peak RSS <= 32 MiB.
#
#   BUILD_DIR=build SIZE_MB=1100 RUNS=3 bash bench/azure.sh
#
# Ours runs with the defaults: block_size 8M, concurrency 4.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
AZ=$ROOT/tests/azure
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SIZE_MB=${SIZE_MB:-1100}
RUNS=${RUNS:-3}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/sb-bench-azure.XXXXXX)}
CRON=$BUILD_DIR/src/cron/backup-cron
KEY=$BENCH_AZ_KEY
cleanup() {
	bench_azurite_stop
	rm -rf "$W"
}
trap cleanup EXIT

[ -x "$CRON" ] || { echo "bench/azure.sh: build first ($CRON)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/azure.sh: apt-get install time" >&2; exit 1; }
[ -d "$AZ/node_modules" ] || (cd "$AZ" && npm ci --silent --no-audit --no-fund)

port=$(bench_port)
mkdir -p "$W/tmp"
EP="http://127.0.0.1:$port/devstoreaccount1"

# A fresh Azurite (empty --location) for every measurement, so that no
# run pays for the clean-up of the one before.
azurite_start() { bench_azurite_start "$W/azurite" "$port"; }
azurite_stop() {
	bench_azurite_stop
	rm -rf "$W/azurite"
}

cat >"$W/safbackup.conf" <<CONF
[source]
path = $W/src.db
[catalog]
path = $W/catalog.db
[core]
temp_dir = $W/tmp
[store]
kind = azure
[azure]
account = devstoreaccount1
container = ours
endpoint = $EP
CONF
export SAFBACKUP_AZURE_KEY=$KEY SB_PEER_KEY=$KEY

bench_make_db "$W/src.db" "$SIZE_MB"
size=$(stat -c %s "$W/src.db")
echo "database: $((size / 1048576)) MiB; Azurite on 127.0.0.1:$port"
sync

# measure CMD...: append "seconds maxrss_kib" from /usr/bin/time -v.
measure() {
	local out=$1
	shift
	/usr/bin/time -v -o "$W/time" "$@" >/dev/null 2>"$W/err" ||
		{ cat "$W/err" >&2; exit 1; }
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/Maximum resident set size/ { m = $2 }
		END { print s, m }' "$W/time" >>"$out"
}

peer() {
	sqlite3 "$W/src.db" ".backup $W/tmp/peer.db" &&
	    node "$AZ/peer-upload.js" "$EP" peer "peer-$1.db" "$W/tmp/peer.db" &&
	    rm -f "$W/tmp/peer.db"
}
export -f peer
export W AZ EP

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$W/ours"; : >"$W/peer"
for r in $(seq "$RUNS"); do
	# Alternate who goes first; each starts with an empty Azurite.
	for who in $( [ $((r % 2)) -eq 1 ] && echo "peer ours" || echo "ours peer"); do
		azurite_start
		if [ "$who" = peer ]; then
			measure "$W/peer" bash -c "peer $r"
		else
			# A new, empty store each run: set it up (not measured);
			# --force, as the catalog remembers the last run's store.
			"$CRON" --config "$W/safbackup.conf" init --force >/dev/null ||
				exit 1
			measure "$W/ours" "$CRON" --config "$W/safbackup.conf" backup --type automatic
		fi
		azurite_stop
	done
	echo "run $r: peer $(tail -1 "$W/peer" | cut -d' ' -f1)s $(tail -1 "$W/peer" | cut -d' ' -f2) KiB," \
	    "backup-cron $(tail -1 "$W/ours" | cut -d' ' -f1)s $(tail -1 "$W/ours" | cut -d' ' -f2) KiB"
done
pt=$(cut -d' ' -f1 "$W/peer" | median); pm=$(cut -d' ' -f2 "$W/peer" | sort -n | tail -1)
ot=$(cut -d' ' -f1 "$W/ours" | median); om=$(cut -d' ' -f2 "$W/ours" | sort -n | tail -1)
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
printf '%-58s %10s %14s\n' "backup of a $((size / 1048576)) MiB database to Azurite" "time (s)" "peak RSS (MiB)"
printf '%-58s %10s %14s\n' 'sqlite3 .backup + @azure/storage-blob uploadFile (8M x4)' "$pt" "$(div "$pm" 1024)"
printf '%-58s %10s %14s\n' "backup-cron backup (azure store, 8M x4, sha256, MD5)" "$ot" "$(div "$om" 1024)"
echo "median of $RUNS runs; peak RSS: the largest of the runs"
echo "time ratio backup-cron / peer: $(div "$ot" "$pt") (target <= 0.8)"
echo "peak RSS: backup-cron $(div "$om" 1024) MiB (target <= 32), peer $(div "$pm" 1024) MiB"
