# tests/azure/faults.sh - sourced by run.sh with Azurite on $AZ_PORT and
# faultproxy.js on $PX_PORT. Drives the store through the proxy with the
# conformance program's single operations, and checks what a user sees:
# success through transient faults, a clear error (and a bounded number
# of requests) when they persist. Every fault case first proves that the
# proxy injected its fault (its "faults" counter: the number of requests
# that took the fault, exactly that number where the case says how many),
# so that a case whose fault never happened fails instead of passing.

PX="http://127.0.0.1:$PX_PORT/__proxy"

px_set() { curl -s -o /dev/null "$PX/set?$1"; }
px_reset() { curl -s -o /dev/null "$PX/reset"; }
# px_stat FIELD: a number from the proxy's counters (a.b for a nested
# one, e.g. byStatus.403); 0 when absent, "?" if the proxy did not answer.
px_stat() {
	curl -s "$PX/stats" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{let v;try{v=process.argv[1].split(".").reduce((o,k)=>o[k],JSON.parse(d))}catch(e){v="?"}console.log(v===undefined?0:v)})' "$1"
}
# injected DESC N: the proxy injected exactly N faults since the last
# px_reset; "-gt 0" for N when the case cannot say how many.
injected() {
	local n
	n=$(px_stat faults)
	if [ "$2" = "-gt 0" ]; then
		check "$1: the proxy injected its fault ($n times)" test "$n" -gt 0 2>/dev/null
	else
		check "$1: the proxy injected its fault $2 times (saw $n)" test "$n" -eq "$2" 2>/dev/null
	fi
}

# Files: 300 KiB (5 blocks of 64 KiB), 2 MiB (32 blocks), and 10 KiB.
head -c 307200 /dev/urandom >"$TMP/f300k"
head -c 2097152 /dev/urandom >"$TMP/f2m"
head -c 10240 /dev/urandom >"$TMP/f10k"

az_env "$PX_PORT" faults 2 4
# The container, as `backup-cron init` makes it: no put creates one.
"$CONF" create 2>>"$TMP/faults.err"
check "create the faults container" test $? -eq 0
px_reset

# roundtrip NAME FILE: put through the proxy, get back, compare.
roundtrip() {
	rm -f "$TMP/rt.out"
	"$CONF" put "$1" "$2" 2>>"$TMP/faults.err" &&
	    "$CONF" get "$1" "$TMP/rt.out" 2>>"$TMP/faults.err" &&
	    cmp -s "$2" "$TMP/rt.out"
}

# put_ok DESC FAULTS NAME FILE: the put succeeds and the object reads
# back whole, and the proxy injected FAULTS faults (see injected) in it.
put_ok() {
	local d=$1 nf=$2
	shift 2
	"$CONF" put "$@" 2>>"$TMP/faults.err"
	local rc=$?
	injected "$d" "$nf"
	px_reset
	rm -f "$TMP/rt.out"
	if [ $rc -eq 0 ] && "$CONF" get "$1" "$TMP/rt.out" 2>>"$TMP/faults.err" &&
	    cmp -s "$2" "$TMP/rt.out"; then
		ok "$d"
	else
		notok "$d (put rc $rc)"
	fi
}

check "no faults: put and get through the proxy" roundtrip plain "$TMP/f300k"
check "no faults: the proxy counted requests and no fault ($(px_stat requests), $(px_stat faults))" \
    test "$(px_stat requests)" -gt 0 -a "$(px_stat faults)" -eq 0

# 503 with Retry-After on two blocks: the upload waits and succeeds.
px_reset
px_set "mode=503&count=2&method=PUT&match=comp%3Dblock&retryAfter=1"
t0=$(date +%s%N)
put_ok "503 + Retry-After on Put Block: upload succeeds" 2 b503 "$TMP/f2m"
t1=$(date +%s%N)
check "Retry-After honoured (waited at least 1 s)" test $(((t1 - t0) / 1000000)) -ge 1000

# 503 on Put Blob (a small object).
px_reset
px_set "mode=503&count=3&method=PUT&match=s503&retryAfter=0"
put_ok "503 on Put Blob: upload succeeds" 3 s503 "$TMP/f10k"

# 500 and 429 are retried too.
px_reset
px_set "mode=status&status=500&count=2&method=PUT&match=comp%3Dblocklist"
put_ok "500 on Put Block List: upload succeeds" 2 b500 "$TMP/f300k"
px_set "mode=status&status=429&count=2&method=GET"
rm -f "$TMP/rt.out"
"$CONF" get b500 "$TMP/rt.out" 2>>"$TMP/faults.err" && cmp -s "$TMP/f300k" "$TMP/rt.out"
check "429 on Get Blob: download succeeds" test $? -eq 0
injected "429 on Get Blob" 2

# Connections reset in the middle of uploads.
px_reset
px_set "mode=reset&count=3&method=PUT&match=comp%3Dblock&after=20000"
put_ok "connection reset during Put Block: upload succeeds" 3 breset "$TMP/f2m"
px_set "mode=reset&count=2&method=PUT&match=sreset&after=5000"
put_ok "connection reset during Put Blob: upload succeeds" 2 sreset "$TMP/f10k"

# The same from a stream (blocks held in memory, resent from there).
px_reset
px_set "mode=reset&count=3&method=PUT&match=comp%3Dblock&after=20000"
rm -f "$TMP/rt.out"
"$CONF" put-stream sstream "$TMP/f2m" 2>>"$TMP/faults.err"
rc=$?
injected "connection reset during a streamed upload" 3
px_reset
[ $rc -eq 0 ] && "$CONF" get sstream "$TMP/rt.out" 2>>"$TMP/faults.err" &&
    cmp -s "$TMP/f2m" "$TMP/rt.out"
check "connection reset during a streamed upload: upload succeeds" test $? -eq 0

# Connections reset in the middle of a download: resumed with a range.
px_reset
px_set "mode=reset&count=3&method=GET&after=300000"
rm -f "$TMP/rt.out"
"$CONF" get breset "$TMP/rt.out" 2>>"$TMP/faults.err" && cmp -s "$TMP/f2m" "$TMP/rt.out"
rc=$?
ranged=$(px_stat ranged)
injected "connection reset during Get Blob" 3
check "connection reset during Get Blob: download succeeds, whole" test $rc -eq 0
check "the download resumed with range requests (saw $ranged)" test "$ranged" -ge 3

# Slow responses (3 s with a 2 s timeout): timed out, retried.
px_reset
px_set "mode=slow&count=1&method=GET&delayMs=3000"
rm -f "$TMP/rt.out"
"$CONF" get b503 "$TMP/rt.out" 2>>"$TMP/faults.err" && cmp -s "$TMP/f2m" "$TMP/rt.out"
check "slow Get Blob response: timed out and retried, download succeeds" test $? -eq 0
injected "slow Get Blob response" 1
px_reset
px_set "mode=slow&count=2&method=PUT&match=comp%3Dblock&delayMs=3000"
put_ok "slow Put Block responses: upload succeeds" 2 bslow "$TMP/f300k"

# List through 503s.
px_reset
px_set "mode=503&count=2&method=GET&match=comp%3Dlist&retryAfter=0"
"$CONF" list b >"$TMP/list.out" 2>>"$TMP/faults.err" && grep -q '^breset 2097152$' "$TMP/list.out"
check "503 on List Blobs: list succeeds" test $? -eq 0
injected "503 on List Blobs" 2

# --- persistent faults: a clear error, a bounded number of requests ----------
px_reset
px_set "mode=503&count=-1&method=PUT&match=p503&retryAfter=0"
"$CONF" put p503 "$TMP/f10k" 2>"$TMP/p503.err"
rc=$?
n=$(px_stat requests)
cat "$TMP/p503.err"
injected "persistent 503" 5
check "persistent 503: put fails with a storage error" test $rc -eq 7
check "persistent 503: message names status, code and attempts" \
    grep -q 'PUT blob p503: 503 ServerBusy (request id faultproxy-[0-9]*) after 5 attempts' "$TMP/p503.err"
check "persistent 503: 5 attempts, no more (saw $n requests)" test "$n" -le 6
"$CONF" head p503 >/dev/null 2>&1
check "persistent 503: no object left behind" test $? -eq 3

px_reset
px_set "mode=reset&count=-1&method=GET&after=1000"
"$CONF" get breset "$TMP/preset.out" 2>"$TMP/preset.err"
rc=$?
cat "$TMP/preset.err"
# 5 attempts (retries 4); curl itself may send one of them twice: the
# first GET goes out on the connection the HEAD before it kept alive, and
# curl retries a request on a fresh connection, unasked, when a reused one
# dies before any byte of the answer.
n=$(px_stat faults)
check "persistent resets: the proxy cut 5 attempts, or 6 with curl's own retry (saw $n)" \
    test "$n" -ge 5 -a "$n" -le 6
check "persistent resets: get fails with a storage error" test $rc -eq 7
check "persistent resets: no partial file left" test ! -e "$TMP/preset.out"

px_reset
px_set "mode=slow&count=-1&method=PUT&match=pslow&delayMs=5000"
"$CONF" put pslow "$TMP/f10k" 2>"$TMP/pslow.err"
rc=$?
cat "$TMP/pslow.err"
injected "persistent slowness" 5
check "persistent slowness: put fails with a timeout error" test $rc -eq 7
check "persistent slowness: message says timeout" grep -qi 'timeout\|timed out' "$TMP/pslow.err"

# A 4xx that will fail again is not retried.
px_reset
px_set "mode=status&status=400&count=-1&method=PUT&match=p400"
"$CONF" put p400 "$TMP/f10k" 2>"$TMP/p400.err"
rc=$?
n=$(px_stat requests)
injected "400 on Put Blob" 1
check "400 is not retried (rc $rc, $n requests)" test $rc -eq 7 -a "$n" -le 2

# --- a wrong key: auth error with Azure's code, no storm of retries ----------
px_reset
(
	export SB_TEST_AZ_KEY=$(printf 'not the right key at all, but base64' | base64 -w0)
	export SB_TEST_AZ_CONTAINER=wrongkey
	"$CONF" put wk "$TMP/f300k" 2>"$TMP/wk.err"
	echo $? >"$TMP/wk.rc"
	"$CONF" list "" 2>"$TMP/wkl.err"
	echo $? >"$TMP/wkl.rc"
)
n=$(px_stat requests)
refused=$(px_stat byStatus.403)
cat "$TMP/wk.err" "$TMP/wkl.err"
# The fault here is Azurite's own: it refused the signature (403).
check "wrong key: Azurite answered 403 ($refused times)" test "$refused" -ge 2 2>/dev/null
check "wrong key: put fails with an auth error" test "$(cat "$TMP/wk.rc")" -eq 11
check "wrong key: message names Azure's error code and request id" \
    grep -Eq '403 (AuthenticationFailed|AuthorizationFailure) \(request id [^)]+\)$' "$TMP/wk.err"
check "wrong key: list fails with an auth error" test "$(cat "$TMP/wkl.rc")" -eq 11
check "wrong key: no retries (saw $n requests for put + list)" test "$n" -le 3
if grep -q "$DEVKEY\|bm90IHRoZSByaWdodCBrZXk" "$TMP/wk.err" "$TMP/wkl.err" "$TMP/faults.err"; then
	notok "no secret in any error message"
else
	ok "no secret in any error message"
fi
px_reset
