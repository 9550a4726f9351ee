# tests/azure/identity.sh - sourced by run.sh with Azurite on $AZ_PORT. A
# store knows it is itself, on Azure: backup-cron against a container that
# is missing (never set up, or deleted behind our back) fails with exit 8,
# creates no container and changes no record; reconcile refuses; two
# services share one container under two [store] prefixes and each lists,
# reconciles, prunes and restores only its own.

CRON=$BUILD_DIR/src/cron/backup-cron
I=$TMP/identity
EP=http://127.0.0.1:$AZ_PORT/devstoreaccount1
mkdir -p "$I"

# azc OP CONTAINER: look at (or delete) a container behind our back.
azc() { (cd "$HERE" && node container.js "$EP" "$DEVKEY" "$@"); }
# ij EXPR < json: a JS expression over the parsed JSON `o`.
ij() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }

# iconf NAME CONTAINER SERVICE PREFIX: a case directory $I/NAME with a
# live database and an Azure config (no init: the cases decide).
iconf() {
	local d=$I/$1
	az_config "$d" "$2" "$AZ_PORT" "service=$3" "prefix=$4" timeout=10
	[ -f "$d/app.db" ] || sqlite3 "$d/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES ('$1');"
}
ibc() { local n=$1; shift; SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$I/$n/safbackup.conf" "$@"; }
# Every record as "id status location", straight from the catalog file.
records() { sqlite3 -separator ' ' "$I/$1/catalog.db" "SELECT id, status, location FROM backups ORDER BY id"; }

# --- a container that was never set up ---------------------------------------
iconf new idnew app.db ""
out=$(ibc new backup 2>&1); rc=$?
check "missing container: backup exits 8 (got $rc)" test "$rc" -eq 8
echo "$out" | grep -v '"level":"info"' | head -3
check "missing container: the error names the container and says to run init" \
    grep -q 'azure container idnew.*not initialised.*backup-cron init' <<<"$out"
check "missing container: no container was created" test "$(azc exists idnew)" = no
out=$(ibc new init 2>&1); rc=$?
check "init on a missing container exits 0" test "$rc" -eq 0
check "init created the container" test "$(azc exists idnew)" = yes
check "init wrote the marker" grep -qx 'safbackup-store.json' <<<"$(azc blobs idnew)"
id1=$(ibc new --json init | ij 'o.store_id')
check "init again: idempotent, same store id" \
    test "$(ibc new --json init | ij 'o.store_id + " " + o.created')" = "$id1 false"

# --- the container deleted behind our back ------------------------------------
ibc new backup --type automatic >/dev/null 2>&1 && ibc new backup --type manual >/dev/null 2>&1
check "two backups before the container goes" \
    test "$(records new | grep -c ' completed ')" -eq 2
before=$(records new)
azc delete idnew
check "the container is really gone (fault happened)" test "$(azc exists idnew)" = no
out=$(ibc new backup --type automatic 2>&1); rc=$?
check "deleted container: backup exits 8 (got $rc)" test "$rc" -eq 8
check "deleted container: the error says not initialised, names the container" \
    grep -q 'azure container idnew.*not initialised' <<<"$out"
check "deleted container: no container was recreated" test "$(azc exists idnew)" = no
out=$(ibc new reconcile 2>&1); rc=$?
check "deleted container: reconcile exits 8 (got $rc)" test "$rc" -eq 8
check "deleted container: no container after reconcile" test "$(azc exists idnew)" = no
# The crash helper's failed record of the attempt may be added; what was
# there before must be exactly as it was.
check "deleted container: every earlier record unchanged" \
    test "$(records new | grep -F -f <(cut -d' ' -f1 <<<"$before"))" = "$before"
out=$(ibc new prune 2>&1); rc=$?
check "deleted container: prune exits 8 and deletes nothing (got $rc)" \
    test "$rc" -eq 8 -a "$(records new | grep -c ' completed ')" -eq 2
# init does not paper over it: the catalog remembers another store.
out=$(ibc new init 2>&1); rc=$?
check "deleted container: init refuses to start a new store silently (exit 8)" \
    test "$rc" -eq 8
check "deleted container: init says how to go on" grep -q 'init --force' <<<"$out"
check "deleted container: init created nothing" test "$(azc exists idnew)" = no

# --- two services, one container, two prefixes ---------------------------------
iconf a shared a.db svc-a/
iconf b shared b.db svc-b
ibc a init >/dev/null 2>&1; ibc b init >/dev/null 2>&1
ibc a backup --type automatic >/dev/null 2>&1
ibc a backup --type automatic >/dev/null 2>&1
ibc b backup --type automatic >/dev/null 2>&1
blobs=$(azc blobs shared)
check "each service's objects live under its prefix" \
    test "$(grep -c '^svc-a/backup-' <<<"$blobs") $(grep -c '^svc-b/backup-' <<<"$blobs") $(grep -c '^[^/]*$' <<<"$blobs")" = "2 1 0"
check "each prefix has its marker" \
    test "$(grep -cx 'svc-[ab]/safbackup-store.json' <<<"$blobs")" -eq 2
check "a lists only its own (2)" test "$(ibc a --json list | ij 'o.length')" -eq 2
check "b lists only its own (1)" test "$(ibc b --json list | ij 'o.length')" -eq 1
bid=$(ibc b --json list | ij 'o[0].id')
# a's catalog lost: reconcile rebuilds it from a's prefix only.
rm -f "$I/a/catalog.db"*
out=$(ibc a reconcile 2>&1); rc=$?
check "a reconciles only its own objects (2 added, got: $out)" \
    test "$rc" -eq 0 -a -n "$(grep '2 added' <<<"$out")"
out=$(ibc b reconcile 2>&1)
check "b's reconcile finds its one backup, nothing missing" \
    grep -q '0 added, 0 updated, 0 missing' <<<"$out"
ibc a restore "$bid" >/dev/null 2>&1; rc=$?
check "a cannot restore b's backup (exit 4, got $rc)" test "$rc" -eq 4
check "a's live database is still a's" test "$(sqlite3 "$I/a/app.db" 'SELECT x FROM t')" = a
aids=$(ibc a --json list | ij 'o.map(b => b.id).sort().join(" ")')
out=$(ibc a --json prune --dry-run)
check "a's prune decides about its own backups only" \
    test "$(ij 'o.decisions.map(d => d.id).sort().join(" ")' <<<"$out")" = "$aids"
ibc a prune >/dev/null 2>&1
check "a's prune left b's objects alone" \
    test "$(azc blobs shared | grep -c '^svc-b/')" -eq 2
# A third service pointed at a's prefix is refused.
iconf c shared c.db svc-a/
out=$(ibc c init 2>&1); rc=$?
check "init refuses another service's marker (exit 8, got $rc)" test "$rc" -eq 8
check "the refusal names the owner" grep -q 'belongs to service "a.db"' <<<"$out"
out=$(ibc c backup 2>&1); rc=$?
check "backup into another service's prefix is refused (exit 8)" test "$rc" -eq 8
check "no object was added to a's prefix" \
    test "$(azc blobs shared | grep -c '^svc-a/backup-')" -eq 2
