# tests/lib/tap.sh - the smallest test harness that tells the truth.
#
#   check "name" command...    passes when the command exits 0
#   expect_eq "name" got want  passes when the two strings are equal
#   expect_exit "name" N command...  passes when the command exits N
#   finish                      prints "N passed, N failed" and sets $?
#
# Every failure prints what was expected and what was seen.

T_PASS=0
T_FAIL=0

t_ok()   { T_PASS=$((T_PASS + 1)); printf 'ok   %s\n' "$1"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL %s\n' "$1"; shift; [ $# -gt 0 ] && printf '     %s\n' "$@"; return 0; }

check() {
	local name=$1; shift
	if "$@"; then t_ok "$name"; else t_fail "$name" "command failed: $*"; fi
}

expect_eq() {
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "got:  $2" "want: $3"; fi
}

expect_exit() {
	local name=$1 want=$2 got=0; shift 2
	"$@" || got=$?
	if [ "$got" = "$want" ]; then t_ok "$name"; else t_fail "$name" "exit $got, want $want: $*"; fi
}

expect_match() { # name string regex
	if [[ $2 =~ $3 ]]; then t_ok "$1"; else t_fail "$1" "got:  $2" "want match: $3"; fi
}

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
