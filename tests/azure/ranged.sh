# tests/azure/ranged.sh - sourced by run.sh (Azurite on $AZ_PORT, the
# proxy on $PX_PORT, px_* from faults.sh). A blob of more than 16 MiB is
# downloaded in parallel ranged GETs (8 MiB each, pinned to the blob's
# ETag), written where each belongs and hashed as it arrives. Checked:
# the bytes come back whole; the proxy saw ranged requests; a range cut
# in the middle or answered 503 is resumed; cuts that never stop give a
# clear failure and no file; a blob replaced during the download is
# never spliced (412); and a backup whose bytes changed in the store is
# refused by verify and restore, from the hash made during the download.
# Every fault is proven by the proxy's counter.

G=$TMP/ranged
mkdir -p "$G/tmp"
head -c $((40 * 1048576)) /dev/urandom >"$G/f40m"
az_env "$PX_PORT" ranged 3 3
"$CONF" create 2>>"$G/err"
check "ranged: create the container" test $? -eq 0
"$CONF" put big "$G/f40m" 2>>"$G/err"
check "ranged: put a 40 MiB blob" test $? -eq 0

# get_ok DESC: get big through the proxy, compare with what was put.
get_ok() {
	rm -f "$G/out"
	"$CONF" get big "$G/out" 2>>"$G/err" && cmp -s "$G/f40m" "$G/out"
	check "$1" test $? -eq 0
}

px_reset
get_ok "ranged: a 40 MiB blob comes back whole"
check "ranged: it came in ranged GETs (5 ranges of 8 MiB, got $(px_stat ranged))" \
    test "$(px_stat ranged)" -ge 5

px_reset
px_set "mode=reset&count=3&method=GET&after=1000000"
get_ok "ranged: three ranges cut after 1 MB: the download resumes and completes"
check "ranged: the proxy cut 3 ranges (got $(px_stat faults))" test "$(px_stat faults)" -eq 3
check "ranged: the cut ranges were resumed (more than 5 ranged GETs, got $(px_stat ranged))" \
    test "$(px_stat ranged)" -gt 5

px_reset
px_set "mode=503&count=2&method=GET&retryAfter=0"
get_ok "ranged: 503 on two ranges: retried, the download completes"
check "ranged: the proxy answered 503 twice (got $(px_stat faults))" test "$(px_stat faults)" -eq 2

px_reset
px_set "mode=reset&count=-1&method=GET&after=0"
rm -f "$G/out"
"$CONF" get big "$G/out" 2>"$G/persist.err"
rc=$?
check "ranged: ranges cut before their first byte, again and again, fail with a storage error (exit 7, got $rc)" test $rc -eq 7
check "ranged: ... and leave no file behind" test ! -e "$G/out"
check "ranged: ... after the proxy cut more than the retries allow (got $(px_stat faults))" \
    test "$(px_stat faults)" -gt 3

# The blob is replaced while the first four ranges are held back: the
# fifth, pinned to the first ETag, gets 412 and the download fails.
px_reset
px_set "mode=slow&count=4&method=GET&delayMs=6000"
rm -f "$G/out"
"$CONF" get big "$G/out" 2>"$G/changed.err" &
gpid=$!
for _ in $(seq 50); do
	[ "$(px_stat faults)" -ge 4 ] && break
	sleep 0.1
done
head -c 10240 /dev/urandom >"$G/f10k"
"$CONF" put big "$G/f10k" 2>>"$G/err"
check "ranged: the blob replaced during the download" test $? -eq 0
wait $gpid
rc=$?
check "ranged: a blob replaced during the download is refused (exit 7, got $rc)" test $rc -eq 7
check "ranged: ... as changed (412), never spliced" grep -q 'changed during the download' "$G/changed.err"
check "ranged: ... and leaves no file behind" test ! -e "$G/out"
check "ranged: the proxy held back 4 ranges (got $(px_stat faults))" test "$(px_stat faults)" -eq 4

# --- verify and restore: the hash made while downloading is checked --------
az_config "$G" rangedbk "$PX_PORT" retries=2
gbc() { SAFBACKUP_AZURE_KEY=$DEVKEY "$BUILD_DIR/src/cron/backup-cron" --config "$G/safbackup.conf" "$@"; }
px_reset
sqlite3 "$G/app.db" "CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM c WHERE i < 5000) INSERT INTO t SELECT randomblob(5000) FROM c;"
gbc init >/dev/null 2>>"$G/err"
gid=$(gbc --json backup --type manual 2>>"$G/err" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).id))')
gloc=$(gbc --json show "$gid" 2>>"$G/err" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).location))')
check "ranged: a backup of a $(($(stat -c %s "$G/app.db") / 1048576)) MiB database" test -n "$gloc"
px_reset
gbc verify "$gid" >/dev/null 2>"$G/verify.err"
check "ranged: it verifies (downloaded in ranges)" test $? -eq 0
check "ranged: ... in ranged GETs (got $(px_stat ranged))" test "$(px_stat ranged)" -ge 3

# The same bytes but one, put back under the backup's name: same size,
# another sha256. Refused by verify (exit 6) and by restore, live intact.
SB_TEST_AZ_CONTAINER=rangedbk "$CONF" get "$gloc" "$G/obj" 2>>"$G/err"
flip_byte "$G/obj" $((12 * 1048576 + 7))
SB_TEST_AZ_CONTAINER=rangedbk "$CONF" put "$gloc" "$G/obj" 2>>"$G/err"
check "ranged: one byte of the object changed in the store" test $? -eq 0
gbc verify "$gid" >/dev/null 2>"$G/verify.err"
rc=$?
check "ranged: verify refuses it (exit 6, got $rc)" test $rc -eq 6
check "ranged: ... for its sha256" grep -q 'sha256' "$G/verify.err"
before=$(sha256sum <"$G/app.db")
gbc restore "$gid" >/dev/null 2>"$G/restore.err"
rc=$?
check "ranged: restore refuses it (exit 6, got $rc)" test $rc -eq 6
check "ranged: ... the live database is byte-identical" test "$(sha256sum <"$G/app.db")" = "$before"
check "ranged: ... and no download is left in temp_dir" test -z "$(find "$G/tmp" -name 'sb-tmp-*' ! -name '*.lock')"
px_reset
