#!/usr/bin/env bash
# The Debian package, from a clean clone of this checkout's HEAD (commit
# before running it):
#  - dpkg-buildpackage -us -uc -b builds it (DEB_BUILD_OPTIONS=nocheck:
#    the unit tests run in their own suites; noautodbgsym, parallel);
#  - lintian reports no error (E:), and does report one on a copy of the
#    .deb broken on purpose (no copyright file), so its verdict means
#    something;
#  - installed (root, and no safbackup package or user here before:
#    apt-get install ./safbackup_*.deb) or else extracted (dpkg -x):
#    backup-cron and backupd answer --help, the man pages render with
#    man -l (skipped, saying so, while the tree has no man/), every unit
#    passes systemd-analyze verify with no output at all (verify exits 0
#    on an unknown directive: a unit with a typo'd one must fail here,
#    which a control checks), backupd.service's exposure is <= 2.0;
#  - installed: what postinst made (user, group, modes, the FastCGI
#    secret and its nginx snippet, www-data in the group), the cron file
#    steps aside under systemd, the timers enabled and backupd not;
#  - where systemd is PID 1, backupd starts under it and answers the
#    health check on its socket; elsewhere it says it skipped.
# At the end the package is purged and the user and group it made are
# removed, so the machine is as before.
#
#   bash tests/package/run.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/tap.sh
. "$ROOT/tests/lib/tap.sh"

WORK=$(mktemp -d /tmp/sb-package.XXXXXX)
INSTALLED=0
MADE_USER=0
MADE_STATEDIR=0
cleanup() {
	if [ "$INSTALLED" = 1 ]; then
		[ -d /run/systemd/system ] && systemctl stop backupd.service >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq safbackup \
			>"$WORK/purge.log" 2>&1 || cat "$WORK/purge.log" >&2
		rm -f /etc/safbackup/safbackup.conf
		rmdir /etc/safbackup 2>/dev/null
	fi
	if [ "$MADE_USER" = 1 ]; then
		userdel safbackup 2>/dev/null
		gpasswd -d www-data safbackup >/dev/null 2>&1
		groupdel safbackup 2>/dev/null
	fi
	[ "$MADE_STATEDIR" = 1 ] && rm -rf /var/lib/safbackup
	rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "package tests: $*" >&2; exit 1; }
for c in git dpkg-buildpackage dh lintian systemd-analyze man; do
	command -v "$c" >/dev/null || die "$c not found: run ./dev deps"
done
[ -n "$(git -c safe.directory='*' -C "$ROOT" status --porcelain --untracked-files=no)" ] &&
	echo "note: uncommitted changes are not tested (the clone is of HEAD)"

# --- build from a clean clone ----------------------------------------------
# Through a bundle: an ordinary user may read this checkout but not be
# its owner, and git clone refuses such a repository (safe.directory).
git -c safe.directory='*' -C "$ROOT" bundle create -q "$WORK/head.bundle" HEAD ||
	die "git bundle create failed"
git -c advice.detachedHead=false clone -q "$WORK/head.bundle" "$WORK/src" || die "git clone failed"
echo "building the package from $(git -C "$WORK/src" log --oneline -1)"
# nocheck: the unit tests run in their own suites; no debug symbols
# package; every core.
if (cd "$WORK/src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) \
	>"$WORK/build.log" 2>&1; then
	t_ok "dpkg-buildpackage -us -uc -b from a clean clone"
else
	tail -30 "$WORK/build.log"
	t_fail "dpkg-buildpackage -us -uc -b from a clean clone" "log above"
	finish; exit 1
fi
DEB=$(ls "$WORK"/safbackup_*_*.deb)
CHANGES=$(ls "$WORK"/safbackup_*.changes)

# --- lintian -------------------------------------------------------------------
# lint FILE: lintian's tags, one a line (E: W: I:), nothing else.
lint() { lintian --no-cfg --display-info "$1" 2>/dev/null | grep -E '^[EWIPX]: '; }
LINT=$(lint "$CHANGES")
echo "lintian says:"; sed "s/^/  /" <<<"${LINT:-(nothing)}"
expect_eq "lintian: no error" "$(grep -c '^E: ' <<<"$LINT")" 0
# The control: the same .deb without its copyright file is an error.
mkdir -p "$WORK/broken"
dpkg-deb -R "$DEB" "$WORK/broken/tree"
rm "$WORK/broken/tree/usr/share/doc/safbackup/copyright"
sed -i '/usr\/share\/doc\/safbackup\/copyright$/d' "$WORK/broken/tree/DEBIAN/md5sums"
dpkg-deb --root-owner-group -b "$WORK/broken/tree" "$WORK/broken/safbackup_broken.deb" >/dev/null
expect_match "lintian: a .deb without copyright gets E: (the control)" \
	"$(lint "$WORK/broken/safbackup_broken.deb")" "E: safbackup: no-copyright-file"

# --- install (root) or extract ---------------------------------------------
if [ "$(id -u)" = 0 ] && ! dpkg-query -W safbackup >/dev/null 2>&1 &&
   ! getent passwd safbackup >/dev/null && ! getent group safbackup >/dev/null; then
	[ -d /var/lib/safbackup ] || MADE_STATEDIR=1
	MADE_USER=1
	INSTALLED=1
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" \
		>"$WORK/install.log" 2>&1; then
		t_ok "apt-get install ./$(basename "$DEB")"
	else
		cat "$WORK/install.log"
		t_fail "apt-get install ./$(basename "$DEB")" "log above"
		finish; exit 1
	fi
	R=
else
	echo "not installing (not root, or a safbackup package, user or group is already here): dpkg -x"
	dpkg -x "$DEB" "$WORK/root"
	R=$WORK/root
fi

# --- the binaries, the man pages -------------------------------------------
expect_match "backup-cron --help" "$("$R/usr/bin/backup-cron" --help 2>&1)" "^usage: backup-cron"
expect_match "backupd --help" "$("$R/usr/sbin/backupd" --help 2>&1)" "^usage: backupd"
MANS=$(cd "$R/" && ls usr/share/man/man8/backup-cron.8* usr/share/man/man8/backupd.8* \
	usr/share/man/man5/safbackup.conf.5* 2>/dev/null)
if [ -d "$WORK/src/man" ]; then
	expect_eq "the three man pages are installed" "$(wc -w <<<"$MANS")" 3
	for m in $MANS; do
		out=$(MANWIDTH=80 man -l "$R/$m" 2>"$WORK/man.err")
		expect_match "man -l $m renders" "$out" "NAME"
		expect_eq "man -l $m: no warnings" "$(cat "$WORK/man.err")" ""
	done
else
	echo "skip: man -l (this tree has no man/ yet)"
fi

# --- the units -----------------------------------------------------------------
UNITDIR=$R/lib/systemd/system
UNITS=$(cd "$UNITDIR" && ls backupd.service safbackup-*.service safbackup-*.timer)
expect_eq "11 units installed" "$(wc -w <<<"$UNITS")" 11
# verify FILE...: pass only with exit 0 and no output (an unknown or
# unparsable directive is a warning on stderr, exit 0). Extracted units
# are checked as copies whose Exec paths point into the extracted tree.
# man(1) finds Documentation= pages only when installed.
MANOPT=--man=no
[ -n "$MANS" ] && [ -z "$R" ] && MANOPT=--man=yes
verify() {
	local out rc=0
	out=$(systemd-analyze verify "$MANOPT" "$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] && return 0
	printf '     %s\n' "$out"
	return 1
}
# Each unit in a directory of its own (verify reads its neighbours too),
# a timer with the service it starts.
unit_copy() { # unit dir
	mkdir -p "$2"
	if [ -n "$R" ]; then
		sed "s|=/usr/|=$R/usr/|" "$UNITDIR/$1" >"$2/$1"
	else
		cp "$UNITDIR/$1" "$2/$1"
	fi
}
for u in $UNITS; do
	unit_copy "$u" "$WORK/units/$u"
	case $u in *.timer) unit_copy "${u%.timer}.service" "$WORK/units/$u" ;; esac
	check "systemd-analyze verify $u ($MANOPT)" verify "$WORK/units/$u/$u"
done
mkdir -p "$WORK/units/typo"
sed 's/^PrivateTmp=/PrivateTpm=/' "$WORK/units/backupd.service/backupd.service" \
	>"$WORK/units/typo/backupd.service"
expect_exit "a unit with a typo'd directive fails verify (the control)" 1 \
	verify "$WORK/units/typo/backupd.service"
EXPOSURE=$(systemd-analyze security --offline=true "$UNITDIR/backupd.service" 2>&1 |
	sed -n 's/.*Overall exposure level for backupd.service: \([0-9.]*\).*/\1/p')
echo "backupd.service: exposure $EXPOSURE"
check "backupd.service exposure <= 2.0 (OK)" \
	awk -v e="${EXPOSURE:-99}" 'BEGIN { exit !(e <= 2.0) }'

# --- the cron file --------------------------------------------------------------
CRON=$R/etc/cron.d/safbackup
JOBS=$(grep -cE '^[0-9*@]' "$CRON")
GUARDED=$(grep -cE '^([^#[:space:]]+[[:space:]]+){5}safbackup[[:space:]]+\[ -d /run/systemd/system \] \|\| backup-cron ' "$CRON")
check "the cron file has jobs" test "$JOBS" -gt 0
expect_eq "every cron job runs as safbackup and steps aside under systemd" "$GUARDED" "$JOBS"

# --- what postinst made ---------------------------------------------------------
if [ "$INSTALLED" = 1 ]; then
	CONFFILES=$(dpkg-query -W -f='${Conffiles}' safbackup | awk '{print $1}' | sort | tr '\n' ' ')
	expect_eq "conffiles: the cron file, the nginx snippets" "$CONFFILES" \
		"/etc/cron.d/safbackup /etc/nginx/safbackup/backups-fastcgi.conf /etc/nginx/safbackup/json-errors.conf /etc/nginx/safbackup/security-headers.conf "
	check "system user safbackup" bash -c "getent passwd safbackup >/dev/null"
	expect_eq "/etc/safbackup" "$(stat -c '%a %U:%G' /etc/safbackup)" "750 root:safbackup"
	expect_eq "/var/lib/safbackup" "$(stat -c '%a %U:%G' /var/lib/safbackup)" "700 safbackup:safbackup"
	expect_eq "the FastCGI secret" "$(stat -c '%a %U:%G' /etc/safbackup/backupd.secret)" \
		"600 safbackup:safbackup"
	expect_match "the secret: 64 hex digits" "$(cat /etc/safbackup/backupd.secret)" '^[0-9a-f]{64}$'
	SNIP=/etc/nginx/safbackup/secret.conf
	expect_eq "the nginx secret snippet" "$(stat -c '%a %U:%G' "$SNIP")" "600 root:root"
	check "the snippet sends the secret" grep -qF \
		"fastcgi_param SAF_FASTCGI_SECRET \"$(cat /etc/safbackup/backupd.secret)\";" "$SNIP"
	if getent passwd www-data >/dev/null; then
		expect_match "www-data is in the group safbackup" "$(id -nG www-data)" '(^| )safbackup( |$)'
	fi
	expect_eq "the five timers are enabled" \
		"$(find /etc/systemd/system/timers.target.wants -name 'safbackup-*.timer' | wc -l)" 5
	check "backupd.service is not enabled" \
		test ! -e /etc/systemd/system/multi-user.target.wants/backupd.service
fi

# --- backupd under systemd ------------------------------------------------------
if [ "$INSTALLED" = 1 ] && [ "$(ps -p 1 -o comm=)" = systemd ] && [ -d /run/systemd/system ]; then
	S=/var/lib/safbackup/test
	install -d -o safbackup -g safbackup -m 0700 "$S"
	cat >/etc/safbackup/safbackup.conf <<-EOF
	[source]
	path = $S/app.db
	[catalog]
	path = $S/catalog.db
	[core]
	temp_dir = $S
	[disk]
	root = $S/store
	[daemon]
	secret_file = /etc/safbackup/backupd.secret
	EOF
	chmod 0640 /etc/safbackup/safbackup.conf; chgrp safbackup /etc/safbackup/safbackup.conf
	runuser -u safbackup -- sqlite3 "$S/app.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
	check "backup-cron init as safbackup" runuser -u safbackup -- \
		env SAFBACKUP_CONFIG=/etc/safbackup/safbackup.conf backup-cron init
	systemctl daemon-reload
	check "systemctl start backupd" systemctl start backupd.service
	for _ in $(seq 50); do [ -S /run/safbackup/backupd.sock ] && break; sleep 0.2; done
	check "backupd is active" systemctl is-active --quiet backupd.service
	expect_eq "the socket" "$(stat -c '%a %U:%G' /run/safbackup/backupd.sock)" "660 safbackup:safbackup"
	# The health check, as nginx's workers would ask it: as www-data,
	# with the secret, over the socket (the FastCGI client of the HTTP
	# tests, copied where www-data can read it: the checkout may be
	# private).
	FC=$(mktemp -d /tmp/sb-pkg-fcgi.XXXXXX)
	cp "$ROOT/tests/integration/http/fcgi.mjs" "$FC/"
	chmod 755 "$FC"; chmod 644 "$FC/fcgi.mjs"
	HEALTH=$(cd "$FC" && runuser -u www-data -- node --input-type=module -e "
		import { fcgiRequest } from '$FC/fcgi.mjs';
		const r = await fcgiRequest('/run/safbackup/backupd.sock', {
			REQUEST_METHOD: 'GET', REQUEST_URI: '/backups/health',
			SCRIPT_NAME: '/backups/health', QUERY_STRING: '',
			SAF_FASTCGI_SECRET: '$(cat /etc/safbackup/backupd.secret)',
			SAF_USER_ID: '', SAF_USER_EMAIL: '', SAF_USER_SCOPES: '' });
		console.log(r.ended, r.status, r.body);" 2>&1)
	rm -rf "$FC"
	expect_match "GET /backups/health through backupd's socket under systemd" \
		"$HEALTH" '^true 200 \{"status":"ok"'
	systemctl stop backupd.service
	expect_eq "backupd stopped cleanly (SIGTERM drains, exit 0)" \
		"$(systemctl show -p Result --value backupd.service)" success
	rm -rf "$S"
else
	echo "skip: backupd under systemd (PID 1 is $(ps -p 1 -o comm=), not systemd, or the package is not installed here)"
fi

# --- purge: the machine as before ----------------------------------------------
if [ "$INSTALLED" = 1 ]; then
	rm -f /etc/safbackup/safbackup.conf
	check "apt-get purge safbackup" env DEBIAN_FRONTEND=noninteractive \
		apt-get purge -y -qq safbackup >"$WORK/purge.log" 2>&1
	INSTALLED=0
	LEFT=$(ls -d /etc/safbackup /etc/nginx/safbackup /etc/cron.d/safbackup \
		/lib/systemd/system/backupd.service \
		/etc/systemd/system/timers.target.wants/safbackup-* 2>/dev/null)
	expect_eq "purge leaves no file of the package behind" "$LEFT" ""
fi

finish
