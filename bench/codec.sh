#!/usr/bin/env bash
# bench/codec.sh - what compression and encryption cost and save: one
# realistic text-heavy database (bench_make_textdb: users, orders,
# messages, five indexes), backed up as a plain .db, .db.zst, .db.enc and
# .db.zst.enc, to the disk store and to Azurite, then verified (download,
# decode, sha256, integrity_check). For each: the median wall time of the
# backup and of the verify, their ratio to the plain backup's, the peak
# RSS, and the stored size. Then the codec's own speed on the same file
# (sb-codec speed: MB/s of plaintext per CPU second, no I/O).
#
#   BUILD_DIR=build SIZE_MB=300 RUNS=3 bash bench/codec.sh
#   TARGETS=disk bash bench/codec.sh      # disk only (no Azurite)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
AZ=$ROOT/tests/azure
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SIZE_MB=${SIZE_MB:-300}
RUNS=${RUNS:-3}
TARGETS=${TARGETS:-disk azure}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/sb-bench-codec.XXXXXX)}
CRON=$BUILD_DIR/src/cron/backup-cron
CODEC=$BUILD_DIR/src/tools/sb-codec
cleanup() {
	bench_azurite_stop
	rm -rf "$W"
}
trap cleanup EXIT

for b in "$CRON" "$CODEC"; do
	[ -x "$b" ] || { echo "bench/codec.sh: build first ($b)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench/codec.sh: apt-get install time" >&2; exit 1; }
if [[ " $TARGETS " == *" azure "* ]]; then
	[ -d "$AZ/node_modules" ] || (cd "$AZ" && npm ci --silent --no-audit --no-fund)
fi

mkdir -p "$W/tmp"
(umask 077 && "$CRON" keygen bench >"$W/store.keys")
export SAFBACKUP_AZURE_KEY=$BENCH_AZ_KEY
port=$(bench_port)
EP="http://127.0.0.1:$port/devstoreaccount1"

bench_make_textdb "$W/src.db" "$SIZE_MB"
size=$(stat -c %s "$W/src.db")
echo "database: $((size / 1048576)) MiB; $(sqlite3 "$W/src.db" \
    'SELECT (SELECT count(*) FROM users) || " users, " ||
	(SELECT count(*) FROM orders) || " orders, " ||
	(SELECT count(*) FROM messages) || " messages"')"
sync

# conf TARGET COMP ENC: a config for one measurement, in a fresh catalog
# and (disk) a fresh store root.
conf() {
	rm -rf "$W/store" "$W/catalog.db"*
	mkdir -p "$W/store"
	{
		printf '[source]\npath = %s\n[catalog]\npath = %s\n' \
		    "$W/src.db" "$W/catalog.db"
		printf '[core]\ntemp_dir = %s\n[store]\nkind = %s\n' "$W/tmp" "$1"
		printf 'compression = %s\nencryption = %s\nkey_file = %s\n' \
		    "$2" "$3" "$W/store.keys"
		if [ "$1" = disk ]; then
			printf '[disk]\nroot = %s\n' "$W/store"
		else
			printf '[azure]\naccount = devstoreaccount1\n'
			printf 'container = bench\nendpoint = %s\n' "$EP"
		fi
	} >"$W/safbackup.conf"
}

# measure OUT CMD...: append "seconds maxrss_kib" from /usr/bin/time -v.
measure() {
	local out=$1
	shift
	/usr/bin/time -v -o "$W/time" "$@" >"$W/out" 2>"$W/err" ||
		{ cat "$W/err" >&2; exit 1; }
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/Maximum resident set size/ { m = $2 }
		END { print s, m }' "$W/time" >>"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

combos="none:none zstd:none none:xchacha20poly1305 zstd:xchacha20poly1305"
for t in $TARGETS; do
	for c in $combos; do
		: >"$W/b-$t-$c"; : >"$W/v-$t-$c"; : >"$W/s-$t-$c"
	done
done
for r in $(seq "$RUNS"); do
	for t in $TARGETS; do
		for c in $combos; do
			conf "$t" "${c%%:*}" "${c##*:}"
			[ "$t" = azure ] && bench_azurite_start "$W/azurite" "$port"
			"$CRON" --config "$W/safbackup.conf" init >/dev/null 2>&1
			measure "$W/b-$t-$c" "$CRON" --config "$W/safbackup.conf" \
			    backup --type automatic
			"$CRON" --config "$W/safbackup.conf" --json list --limit 1 \
			    >"$W/list.json"
			id=$(node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1]));const x=b.backups?b.backups[0]:b[0];console.log(x.id+" "+x.stored_size+" "+x.location)' "$W/list.json")
			echo "${id#* }" >>"$W/s-$t-$c"
			measure "$W/v-$t-$c" "$CRON" --config "$W/safbackup.conf" \
			    verify "${id%% *}"
			[ "$t" = azure ] && { bench_azurite_stop; rm -rf "$W/azurite"; }
			echo "run $r, $t, $c: backup $(tail -1 "$W/b-$t-$c" | cut -d' ' -f1)s," \
			    "verify $(tail -1 "$W/v-$t-$c" | cut -d' ' -f1)s, $(tail -1 "$W/s-$t-$c")"
		done
	done
done

echo
echo "backups of a $((size / 1048576)) MiB text database (median of $RUNS runs; peak RSS: the largest)"
printf '%-6s %-24s %9s %6s %9s %6s %9s %13s %6s\n' store codec "backup s" ratio \
    "verify s" ratio "RSS MiB" "stored MiB" "of db"
for t in $TARGETS; do
	pb=$(cut -d' ' -f1 "$W/b-$t-none:none" | median)
	pv=$(cut -d' ' -f1 "$W/v-$t-none:none" | median)
	for c in $combos; do
		bt=$(cut -d' ' -f1 "$W/b-$t-$c" | median)
		vt=$(cut -d' ' -f1 "$W/v-$t-$c" | median)
		rss=$(cat "$W/b-$t-$c" "$W/v-$t-$c" | cut -d' ' -f2 | sort -n | tail -1)
		st=$(tail -1 "$W/s-$t-$c" | cut -d' ' -f1)
		name=$(tail -1 "$W/s-$t-$c" | cut -d' ' -f2)
		printf '%-6s %-24s %9s %6s %9s %6s %9s %13s %6s  %s\n' "$t" \
		    "${c%%:*}+${c##*:}" "$bt" "$(div "$bt" "$pb")" "$vt" \
		    "$(div "$vt" "$pv")" "$(div "$rss" 1024)" \
		    "$(div "$st" 1048576)" "$(div "$st" "$size")" ".${name#*.}"
	done
done
echo
echo "the codec alone on the same file (no I/O):"
"$CODEC" speed "$W/src.db" -k "$W/store.keys"
