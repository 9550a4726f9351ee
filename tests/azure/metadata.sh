# tests/azure/metadata.sh - sourced by run.sh (Azurite on $AZ_PORT, the
# proxy on $PX_PORT, px_* from faults.sh). A backup whose description and
# tags are over Azure's 8 KiB metadata limit once encoded is refused with
# exit 2 and a clear message before any byte is uploaded: the proxy sees
# no PUT at all. The counter is proven by a backup that fits.

CRON=$BUILD_DIR/src/cron/backup-cron
M=$TMP/metadata
az_config "$M" metadata "$PX_PORT"
sqlite3 "$M/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
export SAFBACKUP_AZURE_KEY=$DEVKEY
mbc() { "$CRON" --config "$M/safbackup.conf" "$@"; }
mbc init >/dev/null 2>&1
px_puts() {
	curl -s "$PX/stats" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).byMethod.PUT || 0))'
}

# 1023 bytes of description and 32 tags of 63 bytes: each within its own
# limit, about 9.3 KiB once every byte of "€" is sent as %XX.
euro=€
desc=$(printf "${euro}%.0s" $(seq 341))
args=()
for i in $(seq -w 1 32); do
	args+=(--tag "t$i$(printf "${euro}%.0s" $(seq 20))")
done
px_reset
mbc backup --type manual --description "$desc" "${args[@]}" >"$M/out" 2>"$M/err"
rc=$?
check "metadata over 8 KiB: backup exits 2 (got $rc)" test "$rc" -eq 2
check "metadata over 8 KiB: the message gives the size and the limit" \
    grep -Eq 'description and tags too large for Azure metadata: [0-9]+ bytes, the limit is 8192' "$M/err"
check "metadata over 8 KiB: no PUT reached Azurite (got $(px_puts))" test "$(px_puts)" -eq 0
check "metadata over 8 KiB: nothing recorded" \
    test "$(sqlite3 "$M/catalog.db" 'SELECT count(*) FROM backups' 2>/dev/null || echo 0)" -eq 0

# The same counter sees an upload that fits.
px_reset
mbc backup --type manual --description "short" --tag small >"$M/out" 2>"$M/err"
rc=$?
check "metadata that fits: backup exits 0 (got $rc)" test "$rc" -eq 0
check "metadata that fits: the proxy counted its PUTs (got $(px_puts))" test "$(px_puts)" -ge 1
px_reset
unset SAFBACKUP_AZURE_KEY
