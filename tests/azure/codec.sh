# tests/azure/codec.sh - sourced by run.sh (Azurite on $AZ_PORT, the proxy
# on $PX_PORT, px_* from faults.sh). Compressed and encrypted backups on
# Azure (issue 13): a zstd + xchacha20poly1305 round trip of a blob over
# 16 MiB (so the restore downloads it in parallel ranged GETs, decoded as
# they arrive), its metadata holding no description or tag in clear, and
# a byte flipped in the blob refused before the live database is touched,
# the restore's safety backup encoded too, and reconcile rebuilding the
# record (sealed description and tags included) from the container. The
# ranged GETs are proven by the proxy's counter.

CRON=$BUILD_DIR/src/cron/backup-cron
K=$TMP/codec
az_config "$K" codec "$PX_PORT"
(umask 077; printf 'az1 %s\n' "$(head -c 32 /dev/urandom | base64)" >"$K/keys")
cat >>"$K/safbackup.conf" <<KEYS
[store]
compression = zstd
encryption = xchacha20poly1305
key_file = $K/keys
KEYS
kbc() { SAFBACKUP_AZURE_KEY=$DEVKEY "$CRON" --config "$K/safbackup.conf" "$@"; }
kj() { node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"; }
kdump() { sqlite3 "$1" 'SELECT id, hex(b), s FROM t ORDER BY id' | sha256sum | cut -d' ' -f1; }
kcont() { node "$HERE/container.js" "http://127.0.0.1:$AZ_PORT/devstoreaccount1" "$DEVKEY" "$@"; }
kbc init >/dev/null 2>&1
check "codec: init the container" test $? -eq 0

# 24 MiB of random bytes (they do not compress) and some text.
sqlite3 "$K/app.db" "PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6144)
INSERT INTO t(b, s) SELECT randomblob(4000), 'row ' || i || ' of the codec test' FROM n;" >/dev/null
want=$(kdump "$K/app.db")
out=$(kbc --json backup --type manual --description "quarterly payroll" \
    --tag confidential-tag 2>"$K/backup.err"); rc=$?
check "codec: a zstd+encrypted backup on azure exits 0 (got $rc)" test "$rc" -eq 0
bid=$(kj 'o.id' <<<"$out")
loc=$(kj 'o.location' <<<"$out")
check "codec: the object name says what it is ($loc)" \
    test "${loc%.db.zst.enc}" != "$loc"
stored=$(kj 'o.stored_size' <<<"$out")
check "codec: the stored object is over 16 MiB ($stored bytes)" \
    test "${stored:-0}" -gt $((16 * 1048576))
meta=$(kcont meta codec "$loc")
check "codec: the blob's metadata has a sealed value" \
    grep -q '"sealed":"sb1.az1.' <<<"$meta"
check "codec: no description or tag in clear in the blob's metadata" \
    test -z "$(grep -Eo 'payroll|confidential' <<<"$meta")"
check "codec: the metadata says the plain size and the codec" \
    grep -q '"compression":"zstd","encryption":"xchacha20poly1305"' <<<"$meta"

sqlite3 "$K/app.db" "DELETE FROM t WHERE id > 100;"
px_reset
out=$(kbc --json restore "$bid" 2>"$K/restore.err"); rc=$?
check "codec: restore of the encrypted blob exits 0 (got $rc)" test "$rc" -eq 0
check "codec: it came down in parallel ranged GETs (got $(px_stat ranged))" \
    test "$(px_stat ranged)" -ge 3
check "codec: the live database is the backup's plaintext" \
    test "$(kdump "$K/app.db")" = "$want"
check "codec: no temp file left in temp_dir" \
    test -z "$(find "$K/tmp" -name 'sb-tmp-*')"
sid=$(kj 'o.safety_backup_id' <<<"$out")
check "codec: the safety backup went up encoded too" \
    test -n "$(kcont blobs codec | grep -- "-manual-$sid\.db\.zst\.enc\$")"
kbc verify "$sid" >/dev/null 2>&1
check "codec: the safety backup verifies" test $? -eq 0

# A byte flipped in the middle of the blob: refused, nothing touched.
kcont flip codec "$loc" $((stored / 2)) 2>"$K/flip.err"
check "codec: flip a byte of the blob behind safbackup's back" test $? -eq 0
sqlite3 "$K/app.db" "DELETE FROM t WHERE id > 200;"
pre=$(sha256sum "$K/app.db" | cut -d' ' -f1)
kbc restore "$bid" >/dev/null 2>"$K/restore.err"; rc=$?
check "codec: restore of the tampered blob exits 6 (got $rc)" test "$rc" -eq 6
check "codec: the message says it fails authentication" \
    grep -q 'fails authentication' "$K/restore.err"
check "codec: the live database is byte for byte unchanged" \
    test "$(sha256sum "$K/app.db" | cut -d' ' -f1)" = "$pre"
kbc verify "$bid" >/dev/null 2>&1; rc=$?
check "codec: verify refuses the tampered blob too (exit $rc)" test "$rc" -eq 6
check "codec: no temp file left after the refusals" \
    test -z "$(find "$K/tmp" -name 'sb-tmp-*')"

# The catalog lost: reconcile rebuilds the encrypted backup's record from
# the blob's metadata, its sealed description and tags included.
rm -f "$K/catalog.db" "$K/catalog.db-wal" "$K/catalog.db-shm"
kbc reconcile >/dev/null 2>&1
check "codec: reconcile from the container exits 0" test $? -eq 0
out=$(kbc --json show "$bid" 2>/dev/null)
check "codec: reconcile brought the sealed description back" \
    test "$(kj 'o.description' <<<"$out")" = "quarterly payroll"
check "codec: and the tag" test "$(kj 'o.tags.join()' <<<"$out")" = confidential-tag
check "codec: and the plain size and the stored size" \
    test "$(kj 'o.stored_size' <<<"$out")" = "$stored" -a "$(kj 'o.size' <<<"$out")" -gt 0
