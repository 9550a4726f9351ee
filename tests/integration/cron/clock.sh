#!/usr/bin/env bash
# Retention and the clock: backup-cron under libfaketime, against a real
# SQLite database on the disk store. 120 simulated days of daily backups
# and prunes leave what the policy says; a one-year jump forward and a
# 10-day jump back halt prune (exit 7, reported, nothing deleted) until
# `prune --confirm-clock`, which then keeps at least min_keep.
#
#   BUILD_DIR=build bash tests/integration/cron/clock.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"

find_libfaketime || exit 1

DAY=86400
T0=$(date -u -d '2026-01-05 03:00:00' +%s)	# a Monday

iso() { date -u -d "@$1" '+%Y-%m-%d %H:%M:%S'; }
quiet() { "$@" >/dev/null 2>&1; }

# at EPOCH CMD...: run CMD with the clock starting at EPOCH (it then runs on).
at() { local t=$1; shift; TZ=UTC FAKETIME="@$(iso "$t")" LD_PRELOAD=$LIBFT "$@"; }

# The catalog, read with the real sqlite3: counts and the days kept.
q() { sqlite3 "$D/catalog.db" "$1"; }
nobjects() { find "$D/store" -maxdepth 1 -name 'backup-*.db' | wc -l; }
nauto() { q "SELECT count(*) FROM backups WHERE type = 'automatic' AND status = 'completed'"; }
nrecords() { q "SELECT count(*) FROM backups"; }
# Days since T0 (03:00 UTC) of the completed automatic backups, ascending.
days_kept() {
	q "SELECT (created_at / 1000 - $T0) / $DAY FROM backups
	   WHERE type = 'automatic' AND status = 'completed' ORDER BY created_at" | tr '\n' ' '
}

# --- 120 days of daily backups and prunes --------------------------------
D=$W/forward
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE events(id INTEGER PRIMARY KEY, day INTEGER, payload BLOB);" >/dev/null

# The fault must really happen: the backup is stamped with the faked date.
out=$(at "$T0" "$CRON" --config "$D/safbackup.conf" --json backup --type automatic 2>/dev/null)
expect_match "libfaketime applies: the first backup is dated 2026-01-05 03:00 (faked)" \
	"$(json 'o.created_at' <<<"$out")" '^2026-01-05T03:00:0[0-9]\.[0-9]{3}Z$'

start=$(date +%s)
bad=
for d in $(seq 0 119); do
	t=$((T0 + d * DAY))
	sqlite3 "$D/app.db" "INSERT INTO events(day, payload) VALUES ($d, randomblob(512));"
	if [ "$d" -gt 0 ]; then
		at "$t" "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1 ||
			bad="$bad backup@$d"
	fi
	at $((t + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/prune.out" 2>&1 ||
		bad="$bad prune@$d($(tail -1 "$D/prune.out"))"
done
elapsed=$(( $(date +%s) - start ))
echo "# 120 simulated days of backup + prune took ${elapsed}s"
expect_eq "120 days of daily backups and prunes: every one exits 0" "${bad:- none}" " none"

# What the policy says on day 119 (03:30): days 90..119 are within 30 days;
# from days 30..89 the newest of each ISO week (the Sundays: T0 is a
# Monday, so the days 6 mod 7); older ones are gone.
want=
for d in $(seq 30 89); do [ $((d % 7)) = 6 ] && want="$want$d "; done
for d in $(seq 90 119); do want="$want$d "; done
expect_eq "retention kept the 30 dailies and the Sundays of days 30..89" "$(days_kept)" "$want"
expect_eq "that is 30 + 8 backups" "$(nauto)" 38
expect_eq "one object per record: the store and the catalog agree" "$(nobjects)" "$(nrecords)"
expect_eq "no clock mark was ever confirmed" "$(q "SELECT count(*) FROM settings WHERE key = 'clock_confirmed'")" 0

# --- the clock jumps one year forward ----------------------------------
J=$((T0 + 120 * DAY + 365 * DAY))
out=$(at "$J" "$CRON" --config "$D/safbackup.conf" --json backup --type automatic 2>/dev/null); rc=$?
expect_eq "backup after the jump exits 0" "$rc" 0
jumped_id=$(json 'o.id' <<<"$out")
expect_match "the fault happened: the new backup is dated a year ahead" \
	"$(json 'o.created_at' <<<"$out")" '^2027-05-0[0-9]T03:00:'
nobj=$(nobjects)
nrec=$(nrecords)
expect_eq "39 completed automatic backups before the prune" "$(nauto)" 39

at $((J + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/out" 2>"$D/err"; rc=$?
expect_eq "prune after the jump exits 7 (halted)" "$rc" 7
expect_match "prune says why: the backups jumped" "$(cat "$D/out")" \
	"prune halted, nothing deleted: automatic backups jumped from 2026-05-04T03:00:.* to 2027-05-0.T03:00:.* with nothing in between"
expect_match "prune tells the admin what to do" "$(cat "$D/out")" "prune --confirm-clock"
expect_match "the halt is reported: JSON event prune.halted on stderr" \
	"$(grep '"event":"prune.halted"' "$D/err")" '"level":"error".*"msg":"automatic backups jumped from'
expect_eq "prune deleted no object" "$(nobjects)" "$nobj"
expect_eq "prune deleted no record" "$(nrecords)" "$nrec"

out=$(at $((J + 1900)) "$CRON" --config "$D/safbackup.conf" --json prune --dry-run 2>"$D/err"); rc=$?
expect_eq "prune --dry-run shows the halt too (exit 7)" "$rc" 7
expect_eq "--json: halted" "$(json 'o.halted' <<<"$out")" true
expect_eq "--json: clock_halt" "$(json 'o.clock_halt' <<<"$out")" true
expect_match "--json: halt_reason says why" "$(json 'o.halt_reason' <<<"$out")" "^automatic backups jumped from"
expect_eq "--json: nothing would be deleted" \
	"$(json 'o.decisions.filter(d => d.verdict === "delete").length' <<<"$out")" 0

# A dry run of the confirmation shows the plan and records nothing.
out=$(at $((J + 2000)) "$CRON" --config "$D/safbackup.conf" --json prune --dry-run --confirm-clock 2>/dev/null); rc=$?
expect_eq "prune --dry-run --confirm-clock exits 0" "$rc" 0
expect_eq "... would delete all but min_keep (7)" \
	"$(json 'o.decisions.filter(d => d.verdict === "delete").length' <<<"$out")" 32
expect_eq "... and recorded no confirmation" "$(q "SELECT count(*) FROM settings WHERE key = 'clock_confirmed'")" 0
expect_exit "so prune still halts" 7 quiet at $((J + 2100)) "$CRON" --config "$D/safbackup.conf" prune --dry-run
expect_eq "and nothing was deleted" "$(nobjects)" "$nobj"

# The admin checked the clock: confirm.
at $((J + 3600)) "$CRON" --config "$D/safbackup.conf" prune --confirm-clock >"$D/out" 2>"$D/err"; rc=$?
expect_eq "prune --confirm-clock exits 0" "$rc" 0
expect_match "it says what it accepted" "$(cat "$D/out")" "clock confirmed: backups and gaps up to 2027-05-0.T04:00:"
expect_match "the confirmation is logged (prune.clock_confirmed)" \
	"$(grep '"event":"prune.clock_confirmed"' "$D/err")" '"through":"2027-05-0.T04:00:'
expect_match "the confirmation is in the catalog" \
	"$(q "SELECT value FROM settings WHERE key = 'clock_confirmed'")" '^[0-9]{13}$'
expect_eq "exactly min_keep (7) completed automatic backups remain" "$(nauto)" 7
expect_eq "the newest six from before the jump, and the new one" \
	"$(days_kept)" "114 115 116 117 118 119 485 "
expect_eq "their objects are there, the others gone" "$(nobjects)" 7
expect_eq "the jumped backup is kept" "$(q "SELECT status FROM backups WHERE id = '$jumped_id'")" completed

# One simulated day later the cron job runs as usual: no halt.
at $((J + DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1
at $((J + DAY + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/out" 2>&1; rc=$?
expect_eq "the next day prune does not halt (exit 0)" "$rc" 0
expect_match "... and keeps the floor" "$(cat "$D/out")" "deleted 1 of 8 automatic backups"
expect_eq "... 7 remain" "$(nauto)" 7
# A second jump after the confirmation halts again.
at $((J + 300 * DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1
at $((J + 300 * DAY + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/out" 2>&1; rc=$?
expect_eq "a new jump after the confirmation halts again (exit 7)" "$rc" 7
expect_match "... naming the new jump" "$(cat "$D/out")" "jumped from 2027-05-0.T03:00:.* to 2028-0"

# --- the clock goes back 10 days ------------------------------------------
D=$W/backward
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
# 45 days of daily backups, no prune yet: some are over 30 days old.
bad=
for d in $(seq 0 44); do
	at $((T0 + d * DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1 ||
		bad="$bad $d"
done
expect_eq "45 daily backups" "${bad:- none}/$(nauto)" " none/45"
B=$((T0 + 35 * DAY))		# 10 days back from the day after the last
out=$(at "$B" "$CRON" --config "$D/safbackup.conf" --json backup --type automatic 2>/dev/null)
expect_match "the fault happened: the new backup is dated 10 days back" \
	"$(json 'o.created_at' <<<"$out")" '^2026-02-09T03:00:'
out=$(at $((B + 1800)) "$CRON" --config "$D/safbackup.conf" --json prune --dry-run --confirm-clock 2>/dev/null)
ndel=$(json 'o.decisions.filter(d => d.verdict === "delete").length' <<<"$out")
check "on this clock, prune would delete some ($ndel)" test "$ndel" -gt 0
nobj=$(nobjects)
at $((B + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/out" 2>"$D/err"; rc=$?
expect_eq "prune after the clock went back exits 7" "$rc" 7
expect_match "prune says why: 9 backups dated in the future" "$(cat "$D/out")" \
	"9 backup\(s\) dated in the future \(newest 2026-02-18T03:00:.*\): the clock went back"
expect_match "the halt is reported: JSON event prune.halted" \
	"$(grep '"event":"prune.halted"' "$D/err")" 'dated in the future'
expect_eq "prune deleted nothing" "$(nobjects)" "$nobj"
at $((B + 3600)) "$CRON" --config "$D/safbackup.conf" prune --confirm-clock >"$D/out" 2>"$D/err"; rc=$?
expect_eq "prune --confirm-clock exits 0" "$rc" 0
expect_match "the confirmation covers the newest record" "$(grep prune.clock_confirmed "$D/err")" '"through":"2026-02-18T03:00:'
expect_eq "it deleted what the policy says" "$(nobjects)" "$((nobj - ndel))"
check "at least min_keep (7) completed automatic backups remain" test "$(nauto)" -ge 7
at $((B + DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1
expect_exit "the next day prune does not halt" 0 quiet at $((B + DAY + 1800)) "$CRON" --config "$D/safbackup.conf" prune

# --- a year ahead for one backup, then corrected ---------------------------
# A VM restored with a wrong clock takes one backup a year ahead; the clock
# is corrected. Confirmed, that backup halts prune no more, but it must not
# stand in for "the latest backup" for a year: a failure after it halts.
D=$W/corrected
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
for d in $(seq 0 9); do
	quiet at $((T0 + d * DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic
done
quiet at $((T0 + 9 * DAY + 1800)) "$CRON" --config "$D/safbackup.conf" prune
out=$(at $((T0 + 375 * DAY)) "$CRON" --config "$D/safbackup.conf" --json backup --type automatic 2>/dev/null)
expect_match "the fault happened: one backup is dated a year ahead" \
	"$(json 'o.created_at' <<<"$out")" '^2027-01-'
C=$((T0 + 10 * DAY))
expect_exit "with the clock corrected, prune halts (exit 7)" 7 \
	quiet at "$C" "$CRON" --config "$D/safbackup.conf" prune
expect_exit "prune --confirm-clock accepts it" 0 \
	quiet at $((C + 600)) "$CRON" --config "$D/safbackup.conf" prune --confirm-clock
mv "$D/app.db" "$D/app.db.away"
expect_exit "the next backup fails (source gone)" 1 \
	quiet at $((C + DAY)) "$CRON" --config "$D/safbackup.conf" backup --type automatic
mv "$D/app.db.away" "$D/app.db"
at $((C + DAY + 1800)) "$CRON" --config "$D/safbackup.conf" prune >"$D/out" 2>/dev/null; rc=$?
expect_eq "prune after that failure halts (exit 7), the year-ahead backup notwithstanding" "$rc" 7
expect_match "it names the failed backup" "$(cat "$D/out")" "latest automatic backup .* failed"

finish
