#!/usr/bin/env bash
# Black-box tests of restore drills and of `backup-cron check`, with the
# real backup-cron on a real SQLite database and the disk store:
#
#  - a drill of a good backup records it verified (show, list, --json);
#  - a corrupted or truncated object fails the drill: exit 6, reported
#    (log line and webhook), recorded failed, the live database
#    byte-for-byte unchanged;
#  - a schema changed since the backup is named, and the drill passes;
#  - smoke queries: one passing, one missing its expectation, invalid
#    SQL, a write, one stopped by [drill] timeout, a malformed one;
#  - the nightly rotation drills every backup within the bound;
#  - check: OK, WARNING, CRITICAL (stale under libfaketime, latest backup
#    failed, prune halted, drill failed, store unreachable), UNKNOWN, one
#    line each; the webhook hears each change of state once.
#
#   BUILD_DIR=build bash tests/integration/cron/drill.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"
find_libfaketime || exit 1

HOUR=3600
sum() { sha256sum "$1" | cut -d' ' -f1; }
nscratch() { find "$D/tmp" -name 'sb-tmp-*' | wc -l; }
# shift SECONDS CMD...: run CMD with the clock moved forward.
later() { local s=$1; shift; FAKETIME="+$s" LD_PRELOAD=$LIBFT "$@"; }
# qbc QUERY [KEY = VALUE]... -- ARGS: backup-cron with [drill] query = QUERY.
qconf() {
	cp "$D/base.conf" "$D/q.conf"
	printf '[drill]\nquery = %s\n' "$1" >>"$D/q.conf"
	shift
	for kv in "$@"; do printf '%s\n' "$kv" >>"$D/q.conf"; done
}
qbc() { "$CRON" --config "$D/q.conf" "$@"; }
nhook() { cat "$D/hook.log" 2>/dev/null | grep -c "\"event\":\"$1\""; }

# make_app: the live database, with a foreign key and an index.
make_app() {
	sqlite3 "$D/app.db" "PRAGMA journal_mode=WAL;
		CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
		CREATE TABLE orders(id INTEGER PRIMARY KEY,
			user_id INTEGER NOT NULL REFERENCES users(id));
		CREATE INDEX orders_user ON orders(user_id);
		INSERT INTO users(name) VALUES ('ada'), ('bob'), ('cy');
		INSERT INTO orders(user_id) VALUES (1), (2);" >/dev/null
}

# fresh DIR: a config, a live database, one automatic backup (ID), its
# drill passed: check says OK.
fresh() {
	D=$1
	mkdir -p "$D"
	write_config "$D" 2>/dev/null
	make_app
	ID=$(bc --json backup --type automatic 2>/dev/null | json 'o.id')
	bc drill "$ID" >/dev/null 2>&1
}

# --- a good backup ----------------------------------------------------------
D=$W/good
mkdir -p "$D"
write_config "$D" 2>/dev/null
make_app
start_listener answer "$D/hook.log"
printf '[report]\nwebhook = http://127.0.0.1:%s/hook\n' "$LPORT" >>"$D/safbackup.conf"
cp "$D/safbackup.conf" "$D/base.conf"
printf '[drill]\nquery = SELECT count(*) FROM users > 0\nquery2 = SELECT count(*) FROM orders >= 2\n' \
	>>"$D/safbackup.conf"
id=$(bc --json backup --type automatic 2>/dev/null | json 'o.id')
expect_match "good: a backup to drill" "$id" '^[0-9a-f-]{36}$'
expect_eq "good: never drilled before" "$(bc --json show "$id" | json 'o.verify_status')" null
expect_match "good: show says never" "$(bc show "$id")" "drill: +never"
live=$(sum "$D/app.db")
out=$(bc drill "$id" 2>"$D/drill.err"); rc=$?
expect_eq "good: drill exits 0" "$rc" 0
expect_match "good: drill says passed" "$out" "^backup $id: drill passed: size, sha256, integrity_check and foreign_key_check passed"
js=$(bc --json show "$id")
expect_eq "good: recorded ok (show --json)" "$(json 'o.verify_status' <<<"$js")" ok
expect_match "good: verified_at is a time" "$(json 'o.verified_at' <<<"$js")" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T.*Z$'
expect_match "good: detail has both smoke queries" "$(json 'o.verify_detail' <<<"$js")" \
	"query 1 = 3 \(> 0\); query 2 = 2 \(>= 2\)"
expect_match "good: detail says the schema matches" "$(json 'o.verify_detail' <<<"$js")" "schema matches the live database"
expect_eq "good: list --json carries it" "$(bc --json list | json 'o[0].verify_status')" ok
expect_match "good: list marks it verified" "$(bc list)" "\[verified\]"
expect_match "good: show prints the drill" "$(bc show "$id")" "drill: +ok at 20"
expect_eq "good: no scratch file left" "$(nscratch)" 0
expect_eq "good: live database byte-for-byte unchanged" "$(sum "$D/app.db")" "$live"
expect_eq "good: nothing reported" "$(nhook drill.failed)" 0
check "good: drill.passed logged" grep -q '"event":"drill.passed"' "$D/drill.err"

# --- a corrupted, then a truncated object -----------------------------------
loc=$(bc --json show "$id" | json 'o.location')
cp "$D/store/$loc" "$D/pristine.db"
printf 'garbage!' | dd of="$D/store/$loc" bs=1 seek=2000 conv=notrunc status=none
check "corrupt: the object really differs" bash -c "! cmp -s '$D/store/$loc' '$D/pristine.db'"
out=$(bc drill "$id" 2>"$D/drill.err"); rc=$?
expect_eq "corrupt: drill exits 6" "$rc" 6
expect_match "corrupt: drill says FAILED" "$out" "drill FAILED: .*sha256"
check "corrupt: drill.failed logged" grep -q '"event":"drill.failed".*sha256' "$D/drill.err"
expect_eq "corrupt: the webhook received drill.failed" "$(nhook drill.failed)" 1
expect_eq "corrupt: the report names the backup" \
	"$(grep '"event":"drill.failed"' "$D/hook.log" | json 'o.backup_id')" "$id"
js=$(bc --json show "$id")
expect_eq "corrupt: recorded failed" "$(json 'o.verify_status' <<<"$js")" failed
expect_match "corrupt: detail says why" "$(json 'o.verify_detail' <<<"$js")" "sha256 .* in the store"
expect_match "corrupt: list marks it" "$(bc list)" "\[DRILL FAILED\]"
expect_eq "corrupt: live database byte-for-byte unchanged" "$(sum "$D/app.db")" "$live"
truncate -s 4096 "$D/store/$loc"
out=$(bc drill "$id" 2>/dev/null); rc=$?
expect_eq "truncated: drill exits 6" "$rc" 6
expect_match "truncated: detail names the size" "$(bc --json show "$id" | json 'o.verify_detail')" "4096 bytes in the store"
expect_eq "truncated: the webhook received a second drill.failed" "$(nhook drill.failed)" 2
expect_eq "truncated: live database byte-for-byte unchanged" "$(sum "$D/app.db")" "$live"
cp "$D/pristine.db" "$D/store/$loc"
expect_exit "repaired: drill passes again" 0 bc drill "$id"
expect_eq "repaired: recorded ok again" "$(bc --json show "$id" | json 'o.verify_status')" ok

# --- the schema changed since the backup -------------------------------------
sqlite3 "$D/app.db" "CREATE TABLE audit(at INTEGER);
	ALTER TABLE users ADD COLUMN email TEXT; DROP INDEX orders_user;"
live=$(sum "$D/app.db")
out=$(bc drill "$id" 2>/dev/null); rc=$?
expect_eq "schema: a changed schema is no failure (exit 0)" "$rc" 0
detail=$(bc --json show "$id" | json 'o.verify_detail')
expect_match "schema: the added table is named" "$detail" "table audit added since the backup"
expect_match "schema: the changed table is named" "$detail" "table users changed since the backup"
expect_match "schema: the removed index is named" "$detail" "index orders_user removed since the backup"
expect_eq "schema: recorded ok" "$(bc --json show "$id" | json 'o.verify_status')" ok
expect_eq "schema: live database byte-for-byte unchanged" "$(sum "$D/app.db")" "$live"

# --- smoke queries -----------------------------------------------------------
qconf 'SELECT count(*) FROM users = 3'
expect_exit "query: one meeting its expectation passes" 0 qbc drill "$id"
qconf 'SELECT count(*) FROM users > 100'
out=$(qbc drill "$id" 2>/dev/null); rc=$?
expect_eq "query: one missing its expectation fails (exit 6)" "$rc" 6
expect_match "query: it says what it got" "$(bc --json show "$id" | json 'o.verify_detail')" \
	"query 1 \`SELECT count\(\*\) FROM users\` returned 3, expected > 100"
expect_eq "query: reported" "$(nhook drill.failed)" 3
qconf 'SELECT count(*) FROM nosuchtable > 0'
out=$(qbc drill "$id" 2>&1); rc=$?
expect_eq "query: invalid SQL fails (exit 6)" "$rc" 6
expect_match "query: invalid SQL is explained" "$out" "no such table: nosuchtable"
qconf 'DELETE FROM users > 0'
out=$(qbc drill "$id" 2>&1); rc=$?
expect_eq "query: a write is refused (exit 6)" "$rc" 6
expect_match "query: a write is explained" "$out" "must only read"
expect_eq "query: the refused write wrote nothing" "$(sqlite3 "$D/app.db" 'SELECT count(*) FROM users')" 3
qconf 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c > 0' 'timeout = 1'
out=$(qbc drill "$id" 2>&1); rc=$?
expect_eq "query: an endless query fails (exit 6)" "$rc" 6
expect_match "query: stopped by [drill] timeout" "$out" "stopped after 1 s \(\[drill\] timeout\)"
qconf 'SELECT count(*) FROM users'
out=$(qbc drill "$id" 2>&1); rc=$?
expect_eq "query: no expectation is a config error (exit 2)" "$rc" 2
expect_match "query: the config error says what is missing" "$out" "\[drill\] query: must end with an expectation"
expect_exit "repaired: drill passes with the good config" 0 bc drill "$id"

# --- the nightly rotation ----------------------------------------------------
D=$W/rot
mkdir -p "$D"
write_config "$D" 2>/dev/null
make_app
ids=()
for _ in 1 2 3 4; do ids+=("$(bc --json backup --type automatic 2>/dev/null | json 'o.id')"); done
out=$(bc drill 2>/dev/null); rc=$?
expect_eq "rotation: night 1 exits 0" "$rc" 0
expect_eq "rotation: night 1 drills two backups" "$(grep -c 'drill passed' <<<"$out")" 2
check "rotation: night 1 drills the newest" grep -q "${ids[3]}" <<<"$out"
check "rotation: night 1 drills the oldest never drilled" grep -q "${ids[0]}" <<<"$out"
bc drill >/dev/null 2>&1
bc drill >/dev/null 2>&1
n=$(sqlite3 "$D/catalog.db" "SELECT count(*) FROM backups WHERE verify_status = 'ok'")
expect_eq "rotation: after 3 nights all 4 backups are drilled (bound: 4)" "$n" 4
out=$(bc drill --all 2>/dev/null); rc=$?
expect_eq "rotation: --all drills every completed backup" "$(grep -c 'drill passed' <<<"$out")" 4
expect_exit "rotation: --all with an ID is a usage error" 2 bc drill --all "${ids[0]}"
expect_exit "drill of a missing backup exits 4" 4 bc drill 00000000-0000-4000-8000-000000000000

# --- check -------------------------------------------------------------------
# check_is NAME EXIT REGEX CMD...: one line of output, matching, and the exit.
check_is() {
	local name=$1 want=$2 re=$3 out rc; shift 3
	out=$("$@" 2>/dev/null); rc=$?
	expect_eq "$name: exit $want" "$rc" "$want"
	expect_eq "$name: one line" "$(printf '%s\n' "$out" | wc -l)" 1
	expect_match "$name: says why" "$out" "$re"
}

fresh "$W/ok"
check_is "check OK" 0 "^SAFBACKUP OK - newest automatic backup is 0h old.* \| age_hours=0;24;26$" bc check
check_is "check OK at 23h" 0 "^SAFBACKUP OK - newest automatic backup is 23h old" \
	later $((23 * HOUR)) "$CRON" --config "$D/safbackup.conf" check
check_is "check WARNING (25h: late, past warn_age_hours 24)" 1 "^SAFBACKUP WARNING - newest automatic backup is 25h old \(warning past 24h, max 26h\)" \
	later $((25 * HOUR)) "$CRON" --config "$D/safbackup.conf" check
check_is "check CRITICAL (30h: stale)" 2 "^SAFBACKUP CRITICAL - newest automatic backup is 30h old \(max 26h\) \| age_hours=30;" \
	later $((30 * HOUR)) "$CRON" --config "$D/safbackup.conf" check
printf '[monitor]\nmax_age_hours = 200\nwarn_age_hours = 150\n' >>"$D/safbackup.conf"
check_is "check WARNING (no drill for 4 days)" 1 "no restore drill for 4 days \(max 3\)" \
	later $((96 * HOUR)) "$CRON" --config "$D/safbackup.conf" check

D=$W/nodrill
mkdir -p "$D"
write_config "$D" 2>/dev/null
make_app
bc backup --type automatic >/dev/null 2>&1
check_is "check WARNING (never drilled)" 1 "^SAFBACKUP WARNING - no restore drill yet" bc check

D=$W/empty
mkdir -p "$D"
write_config "$D" 2>/dev/null
check_is "check CRITICAL (no backup at all)" 2 "^SAFBACKUP CRITICAL - no completed automatic backup .*age_hours=U;" bc check

fresh "$W/failed"
mv "$D/app.db" "$D/app.away"
expect_exit "latest failed: a backup of a missing source fails" 1 bc backup --type automatic
mv "$D/app.away" "$D/app.db"
check_is "check CRITICAL (latest backup failed)" 2 "^SAFBACKUP CRITICAL - the latest backup [0-9a-f-]{36} failed" bc check
bc backup --type automatic >/dev/null 2>&1
check_is "check OK again after a good backup" 0 "^SAFBACKUP OK" bc check

fresh "$W/halted"
later $((5 * 24 * HOUR)) "$CRON" --config "$D/safbackup.conf" backup --type automatic >/dev/null 2>&1
expect_exit "prune halted: a backup dated in the future halts prune (exit 7)" 7 bc prune
check_is "check CRITICAL (prune halted)" 2 "^SAFBACKUP CRITICAL - prune is halted: " bc check
expect_exit "prune halted: --confirm-clock lets it run" 0 bc prune --confirm-clock
check_is "check OK once prune runs" 0 "^SAFBACKUP OK" bc check

fresh "$W/drillfail"
loc=$(bc --json show "$ID" | json 'o.location')
printf 'garbage!' | dd of="$D/store/$loc" bs=1 seek=2000 conv=notrunc status=none
expect_exit "drill failed: the drill of a damaged object fails" 6 bc drill "$ID"
check_is "check CRITICAL (drill failed)" 2 "^SAFBACKUP CRITICAL - the restore drill of backup $ID failed" bc check

fresh "$W/nostore"
mv "$D/store" "$D/store.away"
check_is "check CRITICAL (store unreachable)" 2 "^SAFBACKUP CRITICAL - the store is unreachable: " bc check
mv "$D/store.away" "$D/store"
check_is "check OK with the store back" 0 "^SAFBACKUP OK" bc check

printf '[monitor]\nbogus = 1\n' >>"$D/safbackup.conf"
check_is "check UNKNOWN (bad config)" 3 "^SAFBACKUP UNKNOWN - .*safbackup.conf:[0-9]+: \[monitor\] bogus: unknown key" bc check
D=$W/badcat
mkdir -p "$D"
write_config "$D" 2>/dev/null
printf 'this is not a database, just text long enough to fill a header' >"$D/catalog.db"
check_is "check UNKNOWN (catalog unreadable)" 3 "^SAFBACKUP UNKNOWN - " bc check

# --- the cron file and --help -----------------------------------------------
# Every backup-cron line of cron/safbackup names a real command; drill
# runs nightly after backup and prune, check hourly.
crontab=$ROOT/cron/safbackup
while read -r line; do
	cmd=$(sed -E 's/.*backup-cron ([a-z]+).*/\1/' <<<"$line")
	expect_exit "cron file: \`$cmd\` is a command" 0 "$CRON" "$cmd" --help
done < <(grep -E '^[0-9*]' "$crontab")
check "cron file: drill nightly at 03:17, after backup (02:17) and prune (02:47)" \
	grep -qE '^17 3 \* \* \*[[:space:]]+saf[[:space:]]+backup-cron drill$' "$crontab"
check "cron file: check hourly" grep -qE '^37 \* \* \* \*[[:space:]]+saf[[:space:]]+backup-cron check' "$crontab"
expect_match "drill --help says what it checks" "$("$CRON" drill --help)" "foreign_key_check"
expect_match "check --help gives its exit codes" "$("$CRON" check --help)" "1 WARNING, 2 CRITICAL, 3 UNKNOWN"
expect_match "--help lists drill and check" "$("$CRON" --help)" "drill .*check"

# --- check reports a change of state once -------------------------------------
fresh "$W/hook"
start_listener answer "$D/hook.log"
printf '[report]\nwebhook = http://127.0.0.1:%s/hook\n' "$LPORT" >>"$D/safbackup.conf"
: >"$D/hook.log"
expect_exit "hook: check OK" 0 bc check
expect_eq "hook: OK reports nothing" "$(wc -l <"$D/hook.log")" 0
expect_exit "hook: first stale check is CRITICAL" 2 later $((30 * HOUR)) "$CRON" --config "$D/safbackup.conf" check
expect_exit "hook: second stale check is CRITICAL" 2 later $((31 * HOUR)) "$CRON" --config "$D/safbackup.conf" check
expect_eq "hook: two critical checks sent one backups.stale" "$(nhook backups.stale)" 1
expect_match "hook: backups.stale says why" "$(grep backups.stale "$D/hook.log")" "30h old \(max 26h\)"
expect_exit "hook: back to OK" 0 bc check
expect_exit "hook: still OK" 0 bc check
expect_eq "hook: one backups.recovered" "$(nhook backups.recovered)" 1
expect_eq "hook: still one backups.stale" "$(nhook backups.stale)" 1

finish
