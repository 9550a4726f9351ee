#!/usr/bin/env bash
# Black-box tests of "a store knows it is itself" and [store] prefix, on the
# disk store, with the real backup-cron (and backupd for the HTTP answer):
#  - [disk] root not mounted (renamed away, or an empty mountpoint): every
#    command fails with exit 8 and says what to do, no directory appears,
#    no earlier record changes; backupd answers 503 STORE_IDENTITY;
#  - another service's marker, or another store than the catalog's: refused;
#  - init is idempotent and refuses another service's marker;
#  - two services under two prefixes in one directory each list, reconcile,
#    prune and restore only their own;
#  - reconcile refuses when most completed backups would be marked missing,
#    unless --force.
#
#   BUILD_DIR=build bash tests/integration/cron/store-identity.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"

BACKUPD=$BUILD_DIR/src/daemon/backupd

# Every record as "id status location", straight from the catalog file
# (list itself refuses a store that is not ours).
records() { sqlite3 -separator ' ' "$1/catalog.db" "SELECT id, status, location FROM backups ORDER BY id"; }
# The records of $2 (a records() output) as they are now in $1.
records_of() { records "$1" | grep -F -f <(cut -d' ' -f1 <<<"$2"); }
store_id() { "$CRON" --config "$1" --json init | json 'o.store_id'; }

# --- init --------------------------------------------------------------------
D=$W/init
mkdir -p "$D"
expect_exit "init --help exits 0" 0 "$CRON" init --help
out=$("$CRON" --help)
expect_match "--help documents init and exit 8" "$out" "init .*8 the store is not this service's store"
write_config "$D"	# runs init once
check "init made the marker" test -f "$D/store/safbackup-store.json"
expect_eq "the marker names the service (the source's file name) and no prefix" \
	"$(json 'o.format + " " + o.service + " [" + o.prefix + "]"' <"$D/store/safbackup-store.json")" "1 app.db []"
sid=$(json 'o.store_id' <"$D/store/safbackup-store.json")
out=$(bc init); rc=$?
expect_eq "init again exits 0" "$rc" 0
expect_match "init again says it was already initialised" "$out" "already initialised as store $sid"
expect_eq "init again keeps the store id" "$(store_id "$D/safbackup.conf")" "$sid"
expect_exit "init with an unexpected argument exits 2" 2 bc init extra

# --- [disk] root not mounted -----------------------------------------------------
# backupd on TCP (FastCGI straight, no nginx), one worker: start_backupd
# sets BPID and BPORT; fcgi METHOD URI [BODY] prints "status body". The
# client stands in for nginx: it sends the secret backupd was given.
BSECRET=$(openssl rand -hex 32)
start_backupd() {
	BPORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
	SAFBACKUP_DAEMON_SECRET=$BSECRET \
	SAFBACKUP_DAEMON_LISTEN=127.0.0.1:$BPORT SAFBACKUP_DAEMON_WORKERS=1 \
		"$BACKUPD" --config "$D/safbackup.conf" 2>>"$D/backupd.log" &
	BPID=$!
	for _ in $(seq 100); do [ "$(pgrep -P "$BPID" | wc -l)" -ge 1 ] && break; sleep 0.05; done
}
stop_backupd() { kill -TERM "$BPID"; wait "$BPID" 2>/dev/null; }
fcgi() {
	node --input-type=module -e "
		import { fcgiRequest } from '$ROOT/tests/integration/http/fcgi.mjs';
		const r = await fcgiRequest({ host: '127.0.0.1', port: $BPORT },
		    { REQUEST_METHOD: '$1', REQUEST_URI: '$2', SAF_USER_ID: 'admin',
		      SAF_USER_SCOPES: '*', CONTENT_TYPE: 'application/json',
		      SAF_FASTCGI_SECRET: '$BSECRET' },
		    Buffer.from('${3:-}'));
		console.log(r.status + ' ' + r.body);"
}
HAVE_NODE=0
command -v node >/dev/null && HAVE_NODE=1
[ "$HAVE_NODE" = 1 ] || echo "# skip: backupd's answers (no node)"

D=$W/unmounted
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES ('live');"
bc backup --type automatic >/dev/null 2>&1
bc backup --type manual >/dev/null 2>&1
before=$(records "$D")
expect_eq "two completed backups before the volume goes" "$(grep -c ' completed ' <<<"$before")" 2
id=$(head -1 <<<"$before" | cut -d' ' -f1)
if [ "$HAVE_NODE" = 1 ]; then
	start_backupd
	out=$(fcgi GET /backups)
	expect_match "backupd running on the mounted store lists 2" "$out" '^200 \[.*\]$'
	RUNNING_BPID=$BPID RUNNING_BPORT=$BPORT
fi
# The volume goes away: its mountpoint directory is gone.
mv "$D/store" "$D/store.unmounted"
check "the root is really gone (fault happened)" test ! -e "$D/store"
out=$(bc backup --type automatic 2>&1); rc=$?
expect_eq "root missing: backup exits 8" "$rc" 8
expect_match "root missing: the error names the store" "$out" "disk store $D/store"
expect_match "root missing: the error says what is missing" "$out" "not initialised.*\\[disk\\] root $D/store: No such file"
expect_match "root missing: the error says what to do" "$out" "run \`backup-cron init\` if this is a new store; if its volume is not mounted.*mount"
check "root missing: backup created no directory" test ! -e "$D/store"
expect_match "root missing: the failed backup is recorded, with the reason" \
	"$(bc list --type automatic --status failed 2>/dev/null)" "failed .*not initialised"
expect_eq "root missing: every earlier record unchanged after backup" "$(records_of "$D" "$before")" "$before"
out=$(bc reconcile 2>&1); rc=$?
expect_eq "root missing: reconcile exits 8" "$rc" 8
expect_match "root missing: reconcile says why" "$out" "not initialised"
expect_eq "root missing: every earlier record unchanged after reconcile" "$(records_of "$D" "$before")" "$before"
expect_exit "root missing: prune exits 8" 8 bc prune
expect_exit "root missing: restore exits 8" 8 bc restore "$id"
expect_eq "root missing: the live database is untouched" "$(sqlite3 "$D/app.db" 'SELECT x FROM t')" live
expect_exit "root missing: verify exits 8" 8 bc verify "$id"
mid=$(sqlite3 "$D/catalog.db" "SELECT id FROM backups WHERE type = 'manual'")
expect_exit "root missing: delete of a manual backup exits 8" 8 bc delete "$mid"
expect_exit "root missing: list still works (the catalog only)" 0 bc list --limit 1
check "root missing: still no directory after every command" test ! -e "$D/store"
expect_eq "root missing: every earlier record still unchanged" "$(records_of "$D" "$before")" "$before"

if [ "$HAVE_NODE" = 1 ]; then
	# A fresh backupd on the same config: the list (catalog only) shows
	# the failed backup and why; every route that needs the store, and
	# health, is 503 STORE_IDENTITY.
	start_backupd
	out=$(fcgi GET /backups)
	expect_match "backupd: GET /backups lists the failed backup and why" "$out" '^200 .*"status":"failed".*not initialised'
	out=$(fcgi GET /backups/health)
	expect_match "backupd: health is 503 STORE_IDENTITY" "$out" '^503 .*"code":"STORE_IDENTITY"'
	expect_match "backupd: the message says what to do" "$out" 'backup-cron init'
	if [[ $out == *"$D"* ]]; then t_fail "backupd: no path in the answer" "$out"; else t_ok "backupd: no path in the answer"; fi
	out=$(fcgi POST /backups '{}')
	expect_match "backupd: POST /backups is 503 STORE_IDENTITY" "$out" '^503 .*"code":"STORE_IDENTITY"'
	out=$(fcgi POST "/backups/$id/restore" '{"confirm":true}')
	expect_match "backupd: a restore is 503 STORE_IDENTITY" "$out" '^503 .*"code":"STORE_IDENTITY"'
	check "backupd: the log names the store" grep -q "disk store $D/store" "$D/backupd.log"
	stop_backupd
	check "backupd created no directory" test ! -e "$D/store"
fi

# An empty mountpoint (the directory is there, the volume is not on it).
mkdir "$D/store"
out=$(bc backup --type automatic 2>&1); rc=$?
expect_eq "empty mountpoint: backup exits 8" "$rc" 8
expect_match "empty mountpoint: not initialised" "$out" "not initialised"
expect_eq "empty mountpoint: nothing written into it" "$(ls -A "$D/store" | wc -l)" 0
if [ "$HAVE_NODE" = 1 ]; then
	# The backupd that started on the mounted store: its worker checked the
	# store then; a backup now must not land on the empty mountpoint.
	BPID=$RUNNING_BPID BPORT=$RUNNING_BPORT
	out=$(fcgi POST /backups '{}')
	expect_match "running backupd: a backup after the unmount is 503 STORE_IDENTITY" "$out" '^503 .*"code":"STORE_IDENTITY"'
	expect_eq "running backupd: nothing written into the empty mountpoint" "$(ls -A "$D/store" | wc -l)" 0
	out=$(fcgi GET /backups)
	expect_match "running backupd: the list (catalog only) still answers" "$out" '^200 '
	stop_backupd
fi
out=$(bc init 2>&1); rc=$?
expect_eq "empty mountpoint: init refuses (the catalog belongs to the real store)" "$rc" 8
expect_match "empty mountpoint: init says mount it, or --force" "$out" "mount.*init --force"
expect_eq "empty mountpoint: init wrote nothing" "$(ls -A "$D/store" | wc -l)" 0
rmdir "$D/store"
# The volume is back: everything works again.
mv "$D/store.unmounted" "$D/store"
expect_exit "volume back: backup exits 0" 0 bc backup --type automatic
expect_eq "volume back: the earlier records are intact" "$(records_of "$D" "$before")" "$before"

# --- another service's marker, another store than the catalog's --------------------
D=$W/foreign
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
bc backup >/dev/null 2>&1
before=$(records "$D")
cp "$D/safbackup.conf" "$D/mine.conf"
printf '[store]\nservice = blog.db\n' >>"$D/safbackup.conf"
out=$(bc backup 2>&1); rc=$?
expect_eq "another service's marker: backup exits 8" "$rc" 8
expect_match "another service's marker: names the owner and ours" "$out" 'belongs to service "app.db", not "blog.db"'
out=$(bc init 2>&1); rc=$?
expect_eq "init refuses another service's marker (exit 8)" "$rc" 8
expect_match "init's refusal names the owner" "$out" 'belongs to service "app.db"'
expect_eq "the marker is unchanged" "$(json 'o.service + " " + o.store_id' <"$D/store/safbackup-store.json")" "app.db $(store_id "$D/mine.conf")"
cp "$D/mine.conf" "$D/safbackup.conf"
# Another prefix in the marker than in the config.
sed -i 's/"prefix":""/"prefix":"x\/"/' "$D/store/safbackup-store.json"
out=$(bc backup 2>&1); rc=$?
expect_eq "a marker for another prefix: backup exits 8" "$rc" 8
expect_match "a marker for another prefix: says so" "$out" 'marker is for prefix "x/", not ""'
sed -i 's/"prefix":"x\/"/"prefix":""/' "$D/store/safbackup-store.json"
# Another volume mounted: a store of its own, set up by another catalog.
real=$(store_id "$D/mine.conf")
mv "$D/store" "$D/store.real"
sed "s|$D/catalog.db|$D/other-catalog.db|" "$D/safbackup.conf" >"$D/other.conf"
"$CRON" --config "$D/other.conf" init >/dev/null
other=$(store_id "$D/other.conf")
out=$(bc backup 2>&1); rc=$?
expect_eq "another store than the catalog's: backup exits 8" "$rc" 8
expect_match "another store than the catalog's: names both ids" "$out" "is store $other, but the catalog belongs to store $real"
expect_exit "another store than the catalog's: init without --force exits 8" 8 bc init
rm -rf "$D/store"
mv "$D/store.real" "$D/store"
expect_exit "the right volume back: backup exits 0" 0 bc backup
expect_eq "the earlier records are intact" "$(records_of "$D" "$before")" "$before"
# A deliberately new, empty store for this catalog: init --force.
mv "$D/store" "$D/store.old"
expect_exit "a new volume: init --force exits 0" 0 bc init --force
expect_exit "a new volume: backup exits 0 after init --force" 0 bc backup

# --- two services, two prefixes, one directory --------------------------------------
S=$W/shared-store
mkdir -p "$S"
svc_config() { # name service prefix
	local d=$W/$1
	mkdir -p "$d/tmp"
	cat >"$d/safbackup.conf" <<-EOF
	[source]
	path = $d/app.db
	[catalog]
	path = $d/catalog.db
	[core]
	temp_dir = $d/tmp
	[store]
	kind = disk
	service = $2
	prefix = $3
	[disk]
	root = $S
	[retention]
	# planted old backups, pruned by age: no floor, no gap halt
	min_keep = 0
	max_gap_hours = 8760
	EOF
	sqlite3 "$d/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES ('$1');"
	"$CRON" --config "$d/safbackup.conf" init >/dev/null
}
svc_config a a.db svc-a
svc_config b b.db team/svc-b/
svc_config z z.db ""
A=$W/a/safbackup.conf B=$W/b/safbackup.conf Z=$W/z/safbackup.conf
"$CRON" --config "$A" backup --type automatic >/dev/null 2>&1
"$CRON" --config "$A" backup --type automatic >/dev/null 2>&1
"$CRON" --config "$B" backup --type automatic >/dev/null 2>&1
expect_eq "a's objects are in <root>/svc-a" "$(find "$S/svc-a" -maxdepth 1 -name 'backup-*.db' | wc -l)" 2
expect_eq "b's objects are in <root>/team/svc-b" "$(find "$S/team/svc-b" -maxdepth 1 -name 'backup-*.db' | wc -l)" 1
expect_eq "no object at the root" "$(find "$S" -maxdepth 1 -name 'backup-*.db' | wc -l)" 0
expect_eq "a lists its 2" "$("$CRON" --config "$A" --json list | json 'o.length')" 2
expect_eq "b lists its 1" "$("$CRON" --config "$B" --json list | json 'o.length')" 1
expect_eq "the unprefixed service lists none of theirs" "$("$CRON" --config "$Z" --json list | json 'o.length')" 0
out=$("$CRON" --config "$Z" reconcile 2>&1)
expect_match "the unprefixed service's reconcile imports none of theirs" "$out" "0 added"
# Old automatic backups planted under a's prefix (as reconcile finds them).
src=$(find "$S/svc-a" -maxdepth 1 -name 'backup-*.db' | head -1)
plant() { # days-ago
	local pid created name
	pid=$(cat /proc/sys/kernel/random/uuid)
	created=$(( ($(date +%s) - $1 * 86400) * 1000 ))
	name="backup-$(date -u -d "@$((created / 1000))" +%Y%m%dT%H%M%S)000Z-automatic-$pid.db"
	cp "$src" "$S/svc-a/$name"
	sqlite3 :memory: "SELECT writefile('$S/svc-a/$name.meta', json_set(readfile('$src.meta'),
		'\$.meta.id', '$pid', '\$.meta.created_at', '$created', '\$.meta.completed_at', '$created'))" >/dev/null
}
plant 200; plant 150; plant 45
out=$("$CRON" --config "$A" reconcile 2>&1)
expect_match "a's reconcile imports its 3 planted backups" "$out" "3 added"
out=$("$CRON" --config "$B" reconcile 2>&1)
expect_match "b's reconcile imports none of a's" "$out" "0 added, 0 updated, 0 missing"
bobjs=$(find "$S/team/svc-b" -type f | sort)
out=$("$CRON" --config "$A" --json prune); rc=$?
expect_eq "a's prune exits 0" "$rc" 0
expect_eq "a's prune deleted its 2 backups older than 90 days" "$(json 'o.deleted' <<<"$out")" 2
expect_eq "a's objects: 5 - 2 = 3 left" "$(find "$S/svc-a" -maxdepth 1 -name 'backup-*.db' | wc -l)" 3
expect_eq "b's files untouched by a's prune" "$(find "$S/team/svc-b" -type f | sort)" "$bobjs"
bids=$("$CRON" --config "$B" --json list | json 'o.map(b => b.id).join(" ")')
expect_eq "b's prune decides about its own backups only" \
	"$("$CRON" --config "$B" --json prune --dry-run | json 'o.decisions.map(d => d.id).join(" ")')" "$bids"
# a's catalog lost: reconcile rebuilds it from a's prefix alone.
rm -f "$W/a/catalog.db"*
out=$("$CRON" --config "$A" reconcile 2>&1)
expect_match "a's rebuilt catalog has exactly its 3 objects" "$out" "3 added"
expect_eq "a's rebuilt catalog remembers a's store" \
	"$(sqlite3 "$W/a/catalog.db" "SELECT value FROM settings WHERE key = 'store_id'")" \
	"$(json 'o.store_id' <"$S/svc-a/safbackup-store.json")"
# A restore of the other's backup is impossible.
expect_exit "a cannot restore b's backup (no such backup: exit 4)" 4 "$CRON" --config "$A" restore "$bids"
expect_eq "a's live database is still a's" "$(sqlite3 "$W/a/app.db" 'SELECT x FROM t')" a
# A third service pointed at a's prefix.
svc_config c c.db svc-a 2>"$W/c.err"
expect_match "init refuses a's prefix to another service" "$(cat "$W/c.err")" 'belongs to service "a.db"'
expect_exit "backup into a's prefix by another service exits 8" 8 "$CRON" --config "$W/c/safbackup.conf" backup
expect_eq "no object was added to a's prefix" "$(find "$S/svc-a" -maxdepth 1 -name 'backup-*.db' | wc -l)" 3
out=$("$CRON" --config "$A" backup --type automatic 2>&1 >/dev/null); rc=$?
expect_eq "a still backs up" "$rc" 0

# --- reconcile refuses when most backups would be marked missing ------------------
D=$W/missing
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
for _ in 1 2 3 4 5; do bc backup --type automatic >/dev/null 2>&1; done
before=$(records "$D")
expect_eq "5 completed backups" "$(grep -c ' completed ' <<<"$before")" 5
# 4 of the 5 objects disappear (a half-synced or wrong copy of the store).
find "$D/store" -maxdepth 1 -name 'backup-*.db' | sort | head -4 | xargs rm -f
expect_eq "4 objects are really gone (fault happened)" "$(find "$D/store" -maxdepth 1 -name 'backup-*.db' | wc -l)" 1
out=$(bc reconcile 2>&1); rc=$?
expect_eq "reconcile with 4 of 5 missing exits 8" "$rc" 8
expect_match "reconcile says how many and what to do" "$out" "4 of the 5 completed backups have no object.*nothing was changed.*reconcile --force"
expect_eq "reconcile changed nothing" "$(records "$D")" "$before"
out=$(bc --json reconcile --force 2>&1); rc=$?
expect_eq "reconcile --force exits 0" "$rc" 0
expect_eq "reconcile --force marks the 4 missing" "$(records "$D" | grep -c ' failed ')" 4
expect_exit "reconcile --help exits 0" 0 bc reconcile --help
expect_match "reconcile --help documents --force" "$(bc reconcile --help)" "--force"
# A few missing (3 or fewer) is no cause for refusal.
D=$W/fewmissing
mkdir -p "$D"
write_config "$D"
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
for _ in 1 2 3 4; do bc backup --type automatic >/dev/null 2>&1; done
find "$D/store" -maxdepth 1 -name 'backup-*.db' | sort | head -3 | xargs rm -f
out=$(bc reconcile 2>&1); rc=$?
expect_eq "reconcile with 3 of 4 missing goes ahead (threshold: more than 3)" "$rc" 0
expect_match "and marks them" "$out" "3 missing"

finish
