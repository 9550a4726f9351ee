# tests/lib/flip.sh - damage a file on purpose, for sure.
#
#   flip_byte FILE OFFSET   inverts the byte at OFFSET (writing a constant
#                           would change nothing when the byte already is
#                           that constant: a test that passes 1 time in 256)
flip_byte() {
	local byte
	byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$byte" ] || return 1
	printf "\\$(printf '%03o' $((byte ^ 0xff)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
