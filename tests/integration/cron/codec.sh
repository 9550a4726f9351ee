#!/usr/bin/env bash
# Black-box tests of compressed and encrypted backups (issue 13) with the
# real backup-cron, a real SQLite database and the disk store:
#
#  - a round trip for every combination (none, zstd, encryption, both):
#    the object's name says what it is, the catalog keeps the plain
#    size and sha256 and the stored size, and after a restore the live
#    database holds exactly the backup's rows; a plain backup is still
#    the .db file itself; an encrypted object holds no text of the rows;
#  - a flipped byte and a truncated object are refused (exit 6), a wrong
#    or missing key too (exit 9): the live database byte for byte
#    unchanged, no temp file left;
#  - a key rotation: old backups restore with the old key in the ring;
#  - a store mixing plain objects and encoded ones: list, verify, drill
#    and restore each;
#  - reconcile rebuilds every field (description and tags included) from
#    encrypted objects with the key after the catalog is deleted; without
#    the key it says which objects it could not read and keeps nothing
#    it cannot prove;
#  - a backup while a writer runs verifies, and is encoded as it is
#    written: the hasher's guess of page 1 is the page the copy read in
#    its own read transaction, however often the writer commits, so no
#    backup is encoded again from the finished snapshot (backup.reencoded);
#  - a configuration asking for encryption without a key refuses to
#    start: backup-cron (exit 2) and backupd, nothing written.
#
#   BUILD_DIR=build bash tests/integration/cron/codec.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"
# shellcheck source=../../lib/flip.sh
. "$ROOT/tests/lib/flip.sh"
BACKUPD=$BUILD_DIR/src/daemon/backupd

sum() { sha256sum "$1" | cut -d' ' -f1; }
nscratch() { find "$D/tmp" "$D/store/.staging" -name 'sb-tmp-*' 2>/dev/null | wc -l; }
# rows DB: a digest of every row: what "the backup's rows" means here.
rows() { sqlite3 "$1" 'SELECT id, body, tag FROM notes ORDER BY id' | sha256sum | cut -d' ' -f1; }
newkey() { printf '%s %s\n' "$1" "$(head -c 32 /dev/urandom | base64)"; }
# codec_case DIR COMPRESSION ENCRYPTION [KEY_ID]: a disk-store case with
# the [store] codec keys (a key file DIR/keys, mode 0600, with one key).
codec_case() {
	D=$1
	mkdir -p "$D"
	write_config "$D"
	cp "$D/safbackup.conf" "$D/plain.conf"
	(umask 077; newkey "${4:-k1}" >"$D/keys")
	{
		echo "[store]"
		echo "compression = $2"
		echo "encryption = $3"
		[ "$3" != none ] && echo "key_file = $D/keys"
		[ -n "${4:-}" ] && echo "key_id = $4"
	} >>"$D/safbackup.conf"
}
# A text-heavy database with indexes (what a service keeps).
make_db() {
	sqlite3 "$1" <<'SQL' >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, tag TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO notes(body, tag) SELECT 'customer note number ' || i ||
  ': the parcel left the warehouse on time, signed by the front desk', 'tag' || (i % 50) FROM n;
CREATE INDEX notes_tag ON notes(tag);
SQL
}

# --- a round trip for every combination ----------------------------------------
for combo in "none none .db" "zstd none .db.zst" "none xchacha20poly1305 .db.enc" \
    "zstd xchacha20poly1305 .db.zst.enc"; do
	set -- $combo
	c=$1; e=$2; ext=$3; n="$c+$e"
	rx=$(sed 's/\./\\./g' <<<"$ext")
	codec_case "$W/rt-$c-$e" "$c" "$e"
	make_db "$D/app.db"
	want=$(rows "$D/app.db")
	out=$(bc --json backup --type manual --description "payroll $n" --tag secret-tag 2>"$D/err")
	expect_eq "$n: backup exits 0" "$?" 0
	id=$(json 'o.id' <<<"$out")
	loc=$(json 'o.location' <<<"$out")
	expect_match "$n: the object name ends with $ext" "$loc" "^backup-.*-manual-$id$rx\$"
	obj=$D/store/$loc
	expect_eq "$n: the catalog's stored_size is the object's" \
	    "$(json 'o.stored_size' <<<"$out")" "$(stat -c %s "$obj")"
	if [ "$c+$e" = none+none ]; then
		expect_eq "plain: the object is the .db itself (its sha256 is the record's)" \
		    "$(sum "$obj")" "$(json 'o.sha256' <<<"$out")"
		expect_eq "plain: the object metadata is as before (no codec keys)" \
		    "$(grep -c '"compression"\|"sealed"' "$obj.meta")" 0
	else
		check "$n: the object is not the .db (sha256 differs)" \
		    test "$(sum "$obj")" != "$(json 'o.sha256' <<<"$out")"
	fi
	if [ "$e" != none ]; then
		expect_eq "$n: no row text in the object" "$(grep -c 'parcel left' "$obj")" 0
		expect_eq "$n: no description or tag in clear in the metadata" \
		    "$(grep -c 'payroll\|secret-tag' "$obj.meta")" 0
	fi
	[ "$c" = zstd ] && check "$n: the object is smaller than the .db" \
	    test "$(json 'o.stored_size' <<<"$out")" -lt "$(json 'o.size' <<<"$out")"
	expect_exit "$n: verify passes" 0 bc verify "$id"
	sqlite3 "$D/app.db" "DELETE FROM notes WHERE id % 3 = 0; UPDATE notes SET tag = 'x';"
	expect_exit "$n: restore exits 0" 0 bc restore "$id"
	expect_eq "$n: the live database holds exactly the backup's rows" "$(rows "$D/app.db")" "$want"
	sid=$(bc --json list --query pre-restore 2>/dev/null | json 'o[0].id')
	sloc=$(bc --json show "$sid" 2>/dev/null | json 'o.location')
	expect_match "$n: the restore's safety backup is encoded alike" "$sloc" "$rx\$"
	expect_exit "$n: the safety backup verifies" 0 bc verify "$sid"
	expect_eq "$n: no temp file left" "$(nscratch)" 0
done

# --- tampering, truncation, a wrong or missing key: refused, nothing touched --
codec_case "$W/bad" zstd xchacha20poly1305
make_db "$D/app.db"
id=$(bc --json backup --type manual 2>/dev/null | json 'o.id')
obj=$D/store/$(bc --json show "$id" 2>/dev/null | json 'o.location')
cp "$obj" "$D/good.obj"
sqlite3 "$D/app.db" "DELETE FROM notes WHERE id > 10000;"
cp "$D/app.db" "$D/live.before"
refused() { # name code: restore and verify refused with code, live unchanged
	expect_exit "$1: restore refused (exit $2)" "$2" bc restore "$id"
	check "$1: the live database is byte for byte unchanged" cmp -s "$D/app.db" "$D/live.before"
	expect_exit "$1: verify refused (exit $2)" "$2" bc verify "$id"
	expect_eq "$1: no temp file left" "$(nscratch)" 0
}
size=$(stat -c %s "$obj")
# The byte in the middle, inverted.
flip_byte "$obj" $((size / 2))
check "flipped byte: the object changed" test "$(sum "$obj")" != "$(sum "$D/good.obj")"
refused "flipped byte" 6
bc restore "$id" 2>"$D/err" >/dev/null
check "flipped byte: the message says it fails authentication" grep -q 'fails authentication' "$D/err"
cp "$D/good.obj" "$obj"
head -c $((size - 100)) "$D/good.obj" >"$obj"
refused "truncated object" 6
cp "$D/good.obj" "$obj"
cp "$D/keys" "$D/keys.good"
(umask 077; newkey k1 >"$D/keys")
refused "wrong key (same id, other bytes)" 9
bc restore "$id" 2>"$D/err" >/dev/null
check "wrong key: the message names the key" grep -q "key 'k1'" "$D/err"
(umask 077; newkey other >"$D/keys")
printf 'key_id = other\n' >>"$D/safbackup.conf"
refused "missing key (not in the ring)" 9
expect_exit "missing key: the drill fails (exit 9)" 9 bc drill "$id"
expect_eq "missing key: the drill is recorded failed (not restorable with these keys)" \
    "$(bc --json show "$id" 2>/dev/null | json 'o.verify_status')" failed
detail=$(bc --json show "$id" 2>/dev/null | json 'o.verify_detail')
case $detail in *"key 'k1'"*) named=yes ;; *) named="no: $detail" ;; esac
expect_eq "missing key: ... and the detail names the key" "$named" yes
bc check >"$D/check.out" 2>&1
expect_eq "missing key: check is critical (exit 2)" "$?" 2
check "missing key: ... for the failed drill ($(head -c 200 "$D/check.out"))" \
    grep -qi 'drill' "$D/check.out"
cp "$D/keys.good" "$D/keys"
sed -i '/^key_id = other$/d' "$D/safbackup.conf"
expect_exit "the right key back: restore exits 0" 0 bc restore "$id"
expect_exit "the right key back: the drill passes" 0 bc drill "$id"
expect_eq "the right key back: the drill is recorded ok" \
    "$(bc --json show "$id" 2>/dev/null | json 'o.verify_status')" ok
# A description and tags too long to seal: refused before anything is
# recorded, as metadata too large for the store is (exit 2).
q=$(printf '"%.0s' $(seq 62))
args=()
for i in $(seq -w 1 32); do args+=(--tag "$i$q"); done
n0=$(bc --json list 2>/dev/null | json 'o.length')
expect_exit "too long to seal: backup refused (exit 2)" 2 bc backup --type manual \
    --description "$(printf '"%.0s' $(seq 1024))" "${args[@]}"
expect_eq "too long to seal: nothing recorded" "$(bc --json list 2>/dev/null | json 'o.length')" "$n0"

# --- rotation: a new active key, old backups with the old key in the ring ------
codec_case "$W/rot" zstd xchacha20poly1305 k1
make_db "$D/app.db"
old=$(bc --json backup --type manual --description old 2>/dev/null | json 'o.id')
want_old=$(rows "$D/app.db")
(umask 077; newkey k2 >>"$D/keys")
sed -i 's/^key_id = k1$/key_id = k2/' "$D/safbackup.conf"
sqlite3 "$D/app.db" "DELETE FROM notes WHERE id > 5000;"
new=$(bc --json backup --type manual --description new 2>/dev/null | json 'o.id')
want_new=$(rows "$D/app.db")
newobj=$D/store/$(bc --json show "$new" 2>/dev/null | json 'o.location')
check "rotation: the new backup is sealed with k2" grep -q '"key_id":"k2"' "$newobj.meta"
expect_exit "rotation: the old backup restores with k1 still in the ring" 0 bc restore "$old"
expect_eq "rotation: its rows" "$(rows "$D/app.db")" "$want_old"
expect_exit "rotation: the new backup restores" 0 bc restore "$new"
expect_eq "rotation: its rows" "$(rows "$D/app.db")" "$want_new"
sed -i '/^k1 /d' "$D/keys"
cp "$D/app.db" "$D/live.before"
expect_exit "rotation: k1 retired from the ring: the old backup is exit 9" 9 bc restore "$old"
check "rotation: the live database is byte for byte unchanged" cmp -s "$D/app.db" "$D/live.before"

# --- a mixed store: plain objects from before, encoded ones after --------------
codec_case "$W/mixed" zstd xchacha20poly1305
make_db "$D/app.db"
pbc() { "$CRON" --config "$D/plain.conf" "$@"; }
p1=$(pbc --json backup --type manual --description "plain one" --tag p 2>/dev/null | json 'o.id')
p1rows=$(rows "$D/app.db")
sqlite3 "$D/app.db" "DELETE FROM notes WHERE id > 15000;"
p2=$(pbc --json backup --description "plain two" 2>/dev/null | json 'o.id')
sqlite3 "$D/app.db" "DELETE FROM notes WHERE id > 12000;"
e1=$(bc --json backup --type manual --description "encoded one" --tag e 2>/dev/null | json 'o.id')
e1rows=$(rows "$D/app.db")
sqlite3 "$D/app.db" "DELETE FROM notes WHERE id > 9000;"
e2=$(bc --json backup --description "encoded two" 2>/dev/null | json 'o.id')
expect_eq "mixed: two plain and two encoded objects in the store" \
    "$(ls "$D/store" | grep -c '\.db$') $(ls "$D/store" | grep -c '\.db\.zst\.enc$')" "2 2"
expect_eq "mixed: list shows the four, each with its stored size" \
    "$(bc --json list 2>/dev/null | json 'o.filter(b => b.stored_size > 0).length')" 4
for b in "$p1" "$p2" "$e1" "$e2"; do
	expect_exit "mixed: verify $b" 0 bc verify "$b"
done
expect_exit "mixed: drill --all passes" 0 bc drill --all
expect_eq "mixed: every backup drilled ok" \
    "$(bc --json list 2>/dev/null | json 'o.filter(b => b.verify_status === "ok").length')" 4
expect_exit "mixed: restore the plain backup (encoded config)" 0 bc restore "$p1"
expect_eq "mixed: its rows" "$(rows "$D/app.db")" "$p1rows"
expect_exit "mixed: restore the encoded backup" 0 bc restore "$e1"
expect_eq "mixed: its rows" "$(rows "$D/app.db")" "$e1rows"
expect_exit "mixed: the plain config restores the plain backup too" 0 pbc restore "$p1"

# --- reconcile: every field back from encrypted objects, with the key ----------
fields='o.map(b => [b.id, b.type, b.status, b.created_at, b.completed_at, b.size, b.sha256, b.stored_size, b.location, b.description, JSON.stringify(b.tags)].join("|")).sort().join("\n")'
before=$(bc --json list --limit 1000 2>/dev/null | json "$fields")
rm -f "$D/catalog.db" "$D/catalog.db-wal" "$D/catalog.db-shm"
out=$(bc --json reconcile 2>/dev/null)
expect_eq "reconcile: exits 0, every object added" "$(json 'o.added' <<<"$out")" \
    "$(ls "$D/store" | grep -Ec '^backup-.*\.db(\.zst)?(\.enc)?$')"
after=$(bc --json list --limit 1000 2>/dev/null | json "$fields")
expect_eq "reconcile: every field is back (description and tags included)" "$after" "$before"
check "reconcile: the encrypted backup's description came back" grep -q "encoded one" <<<"$after"
# Without the key: what can be read is rebuilt, the rest is said.
mv "$D/keys" "$D/keys.good"
(umask 077; newkey k1 >"$D/keys")
rm -f "$D/catalog.db" "$D/catalog.db-wal" "$D/catalog.db-shm"
out=$(bc --json reconcile 2>"$D/err")
expect_eq "reconcile without the key: exits 0" "$?" 0
nenc=$(ls "$D/store" | grep -c '\.db\.zst\.enc$')
expect_eq "reconcile without the key: the unreadable objects are counted" \
    "$(json 'o.unreadable' <<<"$out")" "$nenc"
expect_eq "reconcile without the key: each is named in the log" \
    "$(grep '"event":"reconcile.unreadable"' "$D/err" | grep -c '\.db\.zst\.enc')" "$nenc"
expect_eq "reconcile without the key: every backup is still recorded" \
    "$(bc --json list --limit 1000 2>/dev/null | json 'o.length')" \
    "$(ls "$D/store" | grep -Ec '^backup-.*\.db(\.zst)?(\.enc)?$')"
expect_eq "reconcile without the key: the plain backups keep their description" \
    "$(bc --json show "$p1" 2>/dev/null | json 'o.description')" "plain one"
mv "$D/keys.good" "$D/keys"
out=$(bc --json reconcile 2>/dev/null)
expect_eq "reconcile with the key again: the sealed fields come back" \
    "$(bc --json list --limit 1000 2>/dev/null | json "$fields")" "$before"

# --- a backup while a writer runs: encoded as written, it verifies -----------
codec_case "$W/busy" zstd xchacha20poly1305
start_writer wal
wait_rows 200
rows0=$(writer_rows)
ids=()
for i in 1 2 3; do
	ids+=("$(bc --json backup 2>>"$D/err" | json 'o.id')")
done
rows1=$(writer_rows)
kill "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null; WRITER_PID=
echo "# busy writer: $((rows1 - rows0)) rows committed during the 3 backups"
for b in "${ids[@]}"; do
	expect_exit "busy writer: backup $b verifies" 0 bc verify "$b"
done
expect_eq "busy writer: none was encoded again after the snapshot" \
    "$(grep -c '"event":"backup.reencoded"' "$D/err")" 0

# --- killed mid-backup: the encoded temp file is swept, the record failed -------
codec_case "$W/killed" zstd xchacha20poly1305
sqlite3 "$D/app.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, tag TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
INSERT INTO notes(body, tag) SELECT hex(randomblob(300)), 't' FROM n;" >/dev/null
"$CRON" --config "$D/safbackup.conf" backup 2>/dev/null >/dev/null &
pid=$!
for _ in $(seq 400); do
	[ -n "$(find "$D/store/.staging" -name 'sb-tmp-encoded-*' ! -name '*.lock' -size +1k 2>/dev/null)" ] && break
	sleep 0.01
done
seen=$(find "$D/store/.staging" -name 'sb-tmp-encoded-*' ! -name '*.lock' | wc -l)
kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
expect_eq "killed: the encoded temp file was there when the backup was killed" "$seen" 1
bc backup >/dev/null 2>"$D/err"
expect_eq "killed: the next backup exits 0" "$?" 0
check "killed: it swept the dead backup's temp files (temp.removed)" \
    grep -q '"event":"temp.removed".*sb-tmp-encoded-' "$D/err"
expect_eq "killed: no temp file left" "$(nscratch)" 0
expect_eq "killed: the interrupted backup is recorded failed" \
    "$(bc --json list --status failed 2>/dev/null | json 'o.length')" 1

# --- encryption asked for, no key: nothing starts ------------------------------
D=$W/nokey
mkdir -p "$D"
write_config "$D"
printf '[store]\nencryption = xchacha20poly1305\n' >>"$D/safbackup.conf"
make_db "$D/app.db"
expect_exit "no key: backup-cron backup refuses to start (exit 2)" 2 bc backup
expect_exit "no key: backup-cron list refuses too (exit 2)" 2 bc list
expect_eq "no key: nothing in the store" "$(ls "$D/store" | grep -c '^backup-')" 0
bc backup 2>"$D/err"
check "no key: the message says what to do" grep -q 'key_file' "$D/err"
printf 'key_file = %s/none\n' "$D" >>"$D/safbackup.conf"
expect_exit "no key: a key_file that is not there refuses too (exit 2)" 2 bc backup
timeout 10 "$BACKUPD" --config "$D/safbackup.conf" >"$D/backupd.out" 2>&1
rc=$?
expect_eq "no key: backupd refuses to start (exit 1)" "$rc" 1
check "no key: backupd says why" grep -q '"event":"config.failed"' "$D/backupd.out"

finish
