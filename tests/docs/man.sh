#!/bin/sh
# tests/docs/man.sh - keeps the man pages (man/*.[58], mdoc) true to the
# programs and to docs/CONFIG.md. `make check` runs it from the build
# directory (srcdir set by automake; the binaries under ./src); by hand:
#   BUILD_DIR=build sh tests/docs/man.sh
#
# What it checks, each failure saying what is missing where:
#  - backup-cron.8: one COMMANDS entry (.It Cm NAME) per command of
#    `backup-cron --help` and no other; each command's options (every
#    --option its `backup-cron COMMAND --help` names) in its entry; the
#    global options (--help's "Options:") in OPTIONS and nothing else
#    there; no --option anywhere in the page that no --help knows; the
#    EXIT STATUS codes (.It N) equal to --help's "Exit status:".
#  - backupd.8: OPTIONS equal to `backupd --help`'s options, no unknown
#    option in the page; EXIT STATUS holds the codes --help names and the
#    ones backupd gives for a bad option and a missing config file.
#  - safbackup.conf.5: every `[section] key` row of docs/CONFIG.md's key
#    table is an entry (.It Cm key) under .Ss [section], and every entry
#    is a row; where CONFIG.md gives a one-word literal default, the entry
#    states it (Pq default Li VALUE) and they agree.
#  - every page has the sections a reader looks for, `mandoc -T lint -W
#    warning` prints nothing (skipped, saying so, without mandoc: ./dev
#    installs it), and man-db's `man -l` renders it without a warning.
# Exit 0 when every check passes, 1 otherwise.
set -u

SRC=${srcdir:-$(dirname "$0")/../..}
BUILD=${BUILD_DIR:-.}
CRON=${SB_BACKUP_CRON:-$BUILD/src/cron/backup-cron}
DAEMON=${SB_BACKUPD:-$BUILD/src/daemon/backupd}
MAN=$SRC/man
CONFIG_MD=$SRC/docs/CONFIG.md

for b in "$CRON" "$DAEMON"; do
	if [ ! -x "$b" ]; then
		echo "man.sh: $b: not built (run from the build directory, or set BUILD_DIR)" >&2
		exit 1
	fi
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-man.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

checks=0
failed=0
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}
# check WHAT: count one check; it failed if fail() was called since.
check() {
	checks=$((checks + 1))
	if [ "$failed" -eq "$1" ]; then echo "ok: $2"; fi
}
# only_in A B: the lines of file A that file B lacks (both sorted -u).
only_in() {
	comm -23 "$1" "$2"
}

# mdoc_index PAGE: one record per line, from the page's mdoc source:
#   cmd NAME             a top-level .It Cm NAME under .Sh COMMANDS
#   opt SH CMD -OPT      an option (Fl x, Fl -x, or --x in text) in
#                        section SH (blanks as _), in command CMD's entry
#                        (- outside COMMANDS entries)
#   exit N               a top-level .It N under .Sh EXIT STATUS
#   key SEC KEY DEFAULT  a top-level .It Cm KEY under .Ss [SEC]; DEFAULT
#                        from "Pq default [Li|Ql|Pa|Cm] VALUE" or -
#   sh NAME              a section header
mdoc_index() {
	awk '
	function ismacro(w) { return w ~ /^[A-Z][a-z][a-z]?$/ }
	function isdelim(w) { return w ~ /^[|,.;:()\[\]]$/ }
	function emit_opt(o) { if (!(o in seen)) { seen[o]; print "opt", sh, cmd, o } }
	/^\.\\"/ { next }
	{
		line = $0
		gsub(/\\-/, "-", line)
		gsub(/\\&/, "", line)
		n = split(line, w, /[ \t]+/)
		split("", seen)
	}
	w[1] == ".Sh" {
		sh = w[2]; for (i = 3; i <= n; i++) sh = sh "_" w[i]
		print "sh", sh
		cmd = "-"; sec = ""; depth = 0
		next
	}
	w[1] == ".Ss" {
		sec = ""
		if (match(line, /^\.Ss \[[a-z_]+\]/))
			sec = substr(line, 6, RLENGTH - 6)
		next
	}
	w[1] == ".Bl" { depth++ }
	w[1] == ".El" { depth-- }
	w[1] == ".It" && depth == 1 {
		if (sh == "COMMANDS")
			cmd = (w[2] == "Cm") ? w[3] : "-"
		if (sh == "COMMANDS" && w[2] == "Cm")
			print "cmd", w[3]
		if (sh == "EXIT_STATUS" && w[2] ~ /^[0-9]+$/)
			print "exit", w[2]
		if (sec != "" && w[2] == "Cm") {
			def = "-"
			for (i = 3; i < n; i++)
				if (w[i] == "Pq" && w[i + 1] == "default") {
					def = w[i + 2]
					if (w[i + 2] ~ /^(Li|Ql|Pa|Cm)$/)
						def = w[i + 3]
				}
			print "key", sec, w[3], def
		}
	}
	{
		# Fl ARG...: each ARG is -ARG, up to the next macro.
		if (substr(line, 1, 1) == ".")
			for (i = 1; i <= n; i++) {
				if (w[i] != "Fl" && !(i == 1 && w[i] == ".Fl"))
					continue
				for (j = i + 1; j <= n && !ismacro(w[j]); j++)
					if (!isdelim(w[j]) && w[j] != "")
						emit_opt("-" w[j])
			}
		# --long in text, literal displays and quoted examples.
		rest = line
		while (match(rest, /--[a-z][a-z0-9-]*/)) {
			emit_opt(substr(rest, RSTART, RLENGTH))
			rest = substr(rest, RSTART + RLENGTH)
		}
	}
	' "$1"
}

# longopts: the --options of standard input, sorted, without --help.
longopts() {
	grep -o -- '--[a-z][a-z0-9-]*' | sort -u | grep -vx -- '--help'
}

# need_sections PAGE SECTION...: the page has each .Sh SECTION.
need_sections() {
	page=$1; shift
	f0=$failed
	for s in "$@"; do
		grep -qx "sh $s" "$TMP/idx" ||
			fail "$page: no .Sh $(echo "$s" | tr _ ' ') section"
	done
	check "$f0" "$page has the sections $*"
}

# --- backup-cron.8 ---------------------------------------------------------
page=man/backup-cron.8
mdoc_index "$MAN/backup-cron.8" >"$TMP/idx"
"$CRON" --help >"$TMP/help" || fail "backup-cron --help failed"
need_sections $page NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS ENVIRONMENT \
    FILES EXIT_STATUS EXAMPLES SEE_ALSO

f0=$failed
awk '/^Commands:/ { f = 1; next } f && /^$/ { exit }
    f && /^  [a-z]/ { print $1 }' "$TMP/help" | sort -u >"$TMP/help.cmds"
awk '$1 == "cmd" { print $2 }' "$TMP/idx" | sort -u >"$TMP/page.cmds"
[ -s "$TMP/help.cmds" ] ||
	fail "backup-cron --help: no commands found under \"Commands:\" (has its layout changed? update tests/docs/man.sh)"
for c in $(only_in "$TMP/help.cmds" "$TMP/page.cmds"); do
	fail "$page: command '$c' (in backup-cron --help) has no entry in COMMANDS: add '.It Cm $c ...'"
done
for c in $(only_in "$TMP/page.cmds" "$TMP/help.cmds"); do
	fail "$page: COMMANDS has an entry for '$c', which backup-cron --help does not list"
done
check "$f0" "$page: COMMANDS entries = backup-cron --help's commands ($(wc -l <"$TMP/help.cmds") commands)"

f0=$failed
: >"$TMP/help.allopts"
while read -r c; do
	"$CRON" "$c" --help </dev/null >"$TMP/help.$c" ||
		fail "backup-cron $c --help failed (exit $?)"
	longopts <"$TMP/help.$c" >"$TMP/help.$c.opts"
	cat "$TMP/help.$c.opts" >>"$TMP/help.allopts"
	awk -v c="$c" '$1 == "opt" && $2 == "COMMANDS" && $3 == c { print $4 }' \
	    "$TMP/idx" | sort -u >"$TMP/page.$c.opts"
	for o in $(only_in "$TMP/help.$c.opts" "$TMP/page.$c.opts"); do
		fail "$page: option $o of 'backup-cron $c --help' is missing from the '.It Cm $c' entry in COMMANDS"
	done
done <"$TMP/help.cmds"
check "$f0" "$page: every option of each 'backup-cron COMMAND --help' is in that command's entry"

f0=$failed
awk '/^Options:/ { f = 1; next } f && /^$/ { exit } f' "$TMP/help" \
    >"$TMP/help.options"
{
	grep -o -- '--[a-z][a-z0-9-]*' "$TMP/help.options"
	sed -n 's/^ *\(-[A-Za-z]\),.*/\1/p' "$TMP/help.options"
} | sort -u >"$TMP/help.global"
awk '$1 == "opt" && $2 == "OPTIONS" { print $4 }' "$TMP/idx" | sort -u \
    >"$TMP/page.global"
[ -s "$TMP/help.global" ] ||
	fail "backup-cron --help: no options found under \"Options:\" (update tests/docs/man.sh)"
for o in $(only_in "$TMP/help.global" "$TMP/page.global"); do
	fail "$page: global option $o (backup-cron --help, \"Options:\") is missing from OPTIONS"
done
for o in $(only_in "$TMP/page.global" "$TMP/help.global"); do
	fail "$page: OPTIONS has $o, which is not among backup-cron --help's \"Options:\""
done
check "$f0" "$page: OPTIONS = backup-cron --help's global options ($(tr '\n' ' ' <"$TMP/help.global"))"

f0=$failed
{ cat "$TMP/help.global" "$TMP/help.allopts"; echo --help; } | sort -u \
    >"$TMP/help.known"
awk '$1 == "opt" { print $4 }' "$TMP/idx" | sort -u >"$TMP/page.allopts"
for o in $(only_in "$TMP/page.allopts" "$TMP/help.known"); do
	where=$(awk -v o="$o" '$1 == "opt" && $4 == o {
	    print ($3 == "-" ? $2 : $2 " entry " $3) }' "$TMP/idx" |
	    sort -u | tr '\n' ' ')
	fail "$page: option $o (in ${where% }) is known to no backup-cron --help"
done
check "$f0" "$page: no option that backup-cron --help does not know"

f0=$failed
# A code starts the list or follows a "," (or ";", "."): "0 success,
# 1 the operation failed, ..."; a number inside a meaning is not one.
awk '/^Exit status:/ { f = 1; next } f && /^$/ { exit }
    f { for (i = 1; i <= NF; i++) {
	if ($i ~ /^[0-9]+$/ && (prev == "" || prev ~ /[,;.]$/)) print $i
	prev = $i } }' "$TMP/help" | sort -u >"$TMP/help.exit"
awk '$1 == "exit" { print $2 }' "$TMP/idx" | sort -u >"$TMP/page.exit"
[ -s "$TMP/help.exit" ] ||
	fail "backup-cron --help: no codes found under \"Exit status:\" (update tests/docs/man.sh)"
for x in $(only_in "$TMP/help.exit" "$TMP/page.exit"); do
	fail "$page: exit status $x (backup-cron --help) has no '.It $x' in EXIT STATUS"
done
for x in $(only_in "$TMP/page.exit" "$TMP/help.exit"); do
	fail "$page: EXIT STATUS has $x, which backup-cron --help does not list"
done
check "$f0" "$page: EXIT STATUS codes = backup-cron --help's ($(tr '\n' ' ' <"$TMP/help.exit"))"

# --- backupd.8 -------------------------------------------------------------
page=man/backupd.8
mdoc_index "$MAN/backupd.8" >"$TMP/idx"
"$DAEMON" --help >"$TMP/dhelp" || fail "backupd --help failed"
need_sections $page NAME SYNOPSIS DESCRIPTION OPTIONS SIGNALS ENVIRONMENT \
    FILES EXIT_STATUS EXAMPLES SEE_ALSO

f0=$failed
{ longopts <"$TMP/dhelp"; echo --help; } | sort -u >"$TMP/dhelp.opts"
awk '$1 == "opt" && $2 == "OPTIONS" { print $4 }' "$TMP/idx" | sort -u \
    >"$TMP/dpage.opts"
awk '$1 == "opt" { print $4 }' "$TMP/idx" | sort -u >"$TMP/dpage.allopts"
for o in $(only_in "$TMP/dhelp.opts" "$TMP/dpage.opts"); do
	fail "$page: option $o (backupd --help) is missing from OPTIONS"
done
for o in $(only_in "$TMP/dpage.allopts" "$TMP/dhelp.opts"); do
	fail "$page: option $o is in the page but not in backupd --help"
done
check "$f0" "$page: OPTIONS = backupd --help's options ($(tr '\n' ' ' <"$TMP/dhelp.opts"))"

f0=$failed
awk '$1 == "exit" { print $2 }' "$TMP/idx" | sort -u >"$TMP/dpage.exit"
{
	grep -o 'exits* [0-9][0-9]*' "$TMP/dhelp" | awk '{ print $2 }'
	"$DAEMON" --no-such-option >/dev/null 2>&1; echo $?
	"$DAEMON" --config "$TMP/no-such.conf" >/dev/null 2>&1; echo $?
} | sort -u >"$TMP/dhelp.exit"
for x in $(only_in "$TMP/dhelp.exit" "$TMP/dpage.exit"); do
	fail "$page: exit status $x (backupd --help, or backupd given a bad option or a missing config) has no '.It $x' in EXIT STATUS"
done
check "$f0" "$page: EXIT STATUS has $(tr '\n' ' ' <"$TMP/dhelp.exit")(--help, a bad option, a missing config)"

# --- safbackup.conf.5 --------------------------------------------------------
page=man/safbackup.conf.5
mdoc_index "$MAN/safbackup.conf.5" >"$TMP/idx"
need_sections $page NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES EXAMPLES \
    SEE_ALSO

f0=$failed
# Rows "| `[section] key` | default | ...": section, key, and the default
# if it is one backquoted word (else -), tab-separated.
awk -F'|' '$2 ~ /^ *`\[[a-z_]+\] [a-z_]+` *$/ {
	k = $2; gsub(/[ `\[]/, "", k); sub(/\]/, " ", k)
	d = $3; gsub(/^ +| +$/, "", d)
	lit = (d ~ /^`[^` ]+`$/) ? substr(d, 2, length(d) - 2) : "-"
	gsub(/`/, "", d)
	split(k, sk, " ")
	print sk[1] "\t" sk[2] "\t" lit "\t" d
}' "$CONFIG_MD" | sort -u >"$TMP/md.keys"
awk '$1 == "key" { print $2 "\t" $3 "\t" $4 }' "$TMP/idx" | sort -u \
    >"$TMP/page.keys"
[ -s "$TMP/md.keys" ] ||
	fail "docs/CONFIG.md: no \`[section] key\` rows found in its key table (has its layout changed? update tests/docs/man.sh)"
cut -f1,2 "$TMP/md.keys" | sort -u >"$TMP/md.names"
cut -f1,2 "$TMP/page.keys" | sort -u >"$TMP/page.names"
only_in "$TMP/md.names" "$TMP/page.names" | while IFS='	' read -r s k; do
	if grep -q "^$s	" "$TMP/page.names"; then
		echo "FAIL: $page: key [$s] $k (docs/CONFIG.md) is missing: add '.It Cm $k ...' under '.Ss [$s]'"
	else
		echo "FAIL: $page: key [$s] $k (docs/CONFIG.md) is missing, and so is its section: add '.Ss [$s]' with '.It Cm $k ...'"
	fi
done >"$TMP/out"
only_in "$TMP/page.names" "$TMP/md.names" | while IFS='	' read -r s k; do
	echo "FAIL: $page: '.It Cm $k' under '.Ss [$s]' is not a key of docs/CONFIG.md's table (\`[$s] $k\`)"
done >>"$TMP/out"
cat "$TMP/out"
failed=$((failed + $(grep -c '^FAIL' "$TMP/out")))
check "$f0" "$page: its keys = docs/CONFIG.md's ($(wc -l <"$TMP/md.names") keys in $(cut -f1 "$TMP/md.names" | sort -u | wc -l) sections)"

f0=$failed
while IFS='	' read -r s k lit cell; do
	pdef=$(awk -F'\t' -v s="$s" -v k="$k" '$1 == s && $2 == k { print $3 }' \
	    "$TMP/page.keys")
	[ -n "$pdef" ] || continue	# missing key: reported above
	if [ "$lit" != - ] && [ "$pdef" = - ]; then
		echo "FAIL: $page: [$s] $k: docs/CONFIG.md's default is '$lit'; the page states none: add 'Pq default Li $lit' to its .It line"
	elif [ "$pdef" != - ] && [ "$pdef" != "$cell" ]; then
		echo "FAIL: $page: [$s] $k: the page's default is '$pdef', docs/CONFIG.md's is '$cell'"
	fi
done <"$TMP/md.keys" >"$TMP/out"
cat "$TMP/out"
failed=$((failed + $(grep -c '^FAIL' "$TMP/out")))
check "$f0" "$page: defaults agree with docs/CONFIG.md ($(awk -F'\t' '$3 != "-"' "$TMP/md.keys" | wc -l) literal ones)"

# --- every page: mandoc lint, man-db ------------------------------------------
for p in backup-cron.8 backupd.8 safbackup.conf.5; do
	f0=$failed
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -T lint -W warning "$MAN/$p" >"$TMP/lint" 2>&1
		if [ -s "$TMP/lint" ]; then
			fail "man/$p: mandoc -T lint -W warning:"
			sed 's/^/    /' "$TMP/lint"
		fi
		check "$f0" "man/$p: mandoc -T lint -W warning prints nothing"
	else
		echo "SKIP: man/$p: mandoc is not installed (./dev deps installs it): lint not run"
	fi
	f0=$failed
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings -l "$MAN/$p" \
		    >"$TMP/render" 2>"$TMP/render.err"
		rc=$?
		if [ $rc -ne 0 ] || [ -s "$TMP/render.err" ] ||
		    ! grep -q '^NAME' "$TMP/render"; then
			fail "man/$p: man --warnings -l exits $rc, says:"
			sed 's/^/    /' "$TMP/render.err"
		fi
		check "$f0" "man/$p: man -l renders it without a warning"
	else
		echo "SKIP: man/$p: man (man-db) is not installed: rendering not checked"
	fi
done

echo "man.sh: $checks checks, $failed failures"
[ "$failed" -eq 0 ]
