#!/usr/bin/env bash
# The README's `./dev up` from checkouts a new user would have: a fresh
# clone under a private `mktemp -d` directory (mode 0700), as root and as
# an ordinary user made for the test (who has no sudo: every package is
# already installed by the time this runs). Each time: health and the
# admin page answer 200 through nginx, the user's directories keep their
# mode, and `./dev down` stops everything and removes the share directory.
# Then a busy port: `./dev up` names the port and DEV_PORT and starts
# nothing.
#
#   bash tests/integration/checkout/run.sh
#
# The clone is of this checkout's HEAD (a git bundle, so that the ordinary
# user needs no access to this checkout): commit before running it.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/tap.sh
. "$ROOT/tests/lib/tap.sh"
# shellcheck source=../../lib/stack.sh
. "$ROOT/tests/lib/stack.sh"

USER_NAME=${SB_CHECKOUT_USER:-sbcheckout}
WORK=$(mktemp -d /tmp/sb-checkout.XXXXXX)
chmod 0755 "$WORK"	# holds only the bundle; each clone's parent is 0700
LISTENER=
CLONES=()
cleanup() {
	local c
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
	for c in "${CLONES[@]+"${CLONES[@]}"}"; do
		[ -x "$c/dev" ] && (cd "$c" && ./dev down >/dev/null 2>&1)
		rm -rf "$(dirname "$c")"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "checkout tests: $*" >&2; exit 1; }
git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	die "$ROOT is not a git checkout"
git -C "$ROOT" bundle create -q "$WORK/main.bundle" HEAD 2>/dev/null ||
	die "cannot bundle HEAD of $ROOT"
chmod 0644 "$WORK/main.bundle"
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] &&
	echo "note: uncommitted changes in $ROOT are not in the clone"

freeport() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# as WHO CMD...: run a command as root (WHO=root) or as the test user,
# the latter with the environment a login would give (no /usr/sbin).
as() {
	local who=$1; shift
	if [ "$who" = root ]; then
		"$@"
	else
		runuser -u "$who" -- env -i HOME="/home/$who" USER="$who" \
			LOGNAME="$who" LANG=C.UTF-8 \
			PATH=/usr/local/bin:/usr/bin:/bin "$@"
	fi
}

# One clone of HEAD under a fresh private directory of WHO's; prints its path.
clone_for() { # who
	local parent
	parent=$(as "$1" mktemp -d /tmp/sb-clone.XXXXXX) || return 1
	as "$1" git -c advice.detachedHead=false clone -q "$WORK/main.bundle" "$parent/safbackup" || return 1
	echo "$parent/safbackup"
}

no_backupd() { # clone
	! pgrep -f "$1/build/src/daemon/backupd" >/dev/null
}

# The whole round: clone, ./dev up, requests, ./dev down.
round() { # who
	local who=$1 c parent port log body share
	c=$(clone_for "$who") || { t_fail "[$who] clone HEAD"; return; }
	CLONES+=("$c")
	parent=$(dirname "$c")
	expect_eq "[$who] the clone's parent is private (0700)" \
		"$(stat -c %a "$parent")" 700
	port=$(freeport)
	log=$WORK/up-$who.log
	if as "$who" bash -c "cd '$c' && DEV_PORT=$port ./dev up" >"$log" 2>&1; then
		t_ok "[$who] ./dev up exits 0"
	else
		t_fail "[$who] ./dev up exits 0" "$(tail -15 "$log")"
		return
	fi
	expect_match "[$who] ./dev up prints the URL" "$(cat "$log")" \
		"https://localhost:$port"
	expect_eq "[$who] ./dev up printed no shell error" \
		"$(grep -E 'No such file|command not found|Permission denied' "$log")" ""
	expect_eq "[$who] GET /backups/health answers 200" \
		"$(curl -ks -o /dev/null -w '%{http_code}' \
		"https://localhost:$port/backups/health")" 200
	body=$(curl -ks -u admin:admin -w '\n%{http_code}' \
		"https://localhost:$port/")
	expect_eq "[$who] the admin page answers 200" "${body##*$'\n'}" 200
	expect_match "[$who] it is the built page, not the placeholder" \
		"$body" '<div id="app"></div>.*|/assets/.*\.js'
	expect_eq "[$who] GET /backups as admin answers 200" \
		"$(curl -ks -o /dev/null -w '%{http_code}' -u admin:admin \
		"https://localhost:$port/backups")" 200
	expect_eq "[$who] the first backup is listed" \
		"$(curl -ks -u admin:admin "https://localhost:$port/backups" |
		node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log((o.backups||o).length)')" 1
	expect_eq "[$who] the clone's parent is still 0700" \
		"$(stat -c %a "$parent")" 700
	share=$(readlink "$c/var/demo/stack/share")
	expect_match "[$who] nginx's share directory is a separate one" \
		"$share" '/safbackup-stack\.'
	if as "$who" bash -c "cd '$c' && ./dev down" >>"$log" 2>&1; then
		t_ok "[$who] ./dev down exits 0"
	else
		t_fail "[$who] ./dev down exits 0" "$(tail -5 "$log")"
	fi
	if stack_port_busy "$port"; then
		t_fail "[$who] after ./dev down nothing listens on $port"
	else
		t_ok "[$who] after ./dev down nothing listens on $port"
	fi
	check "[$who] ./dev down removed the share directory" test ! -e "$share"
	check "[$who] no backupd of this clone is left" no_backupd "$c"
}

round root

# A busy port: one clear line, nothing started.
c=${CLONES[0]:-}
if [ -n "$c" ]; then
	port=$(freeport)
	node -e 'require("net").createServer().listen(+process.argv[1], "127.0.0.1")' \
		"$port" &
	LISTENER=$!
	for _ in $(seq 50); do stack_port_busy "$port" && break; sleep 0.1; done
	out=$(cd "$c" && DEV_PORT=$port ./dev up 2>&1); rc=$?
	expect_eq "busy port: ./dev up exits 1" "$rc" 1
	expect_match "busy port: the message names the port and DEV_PORT" \
		"$out" "port $port .*in use.*DEV_PORT="
	expect_eq "busy port: it is one line" "$(printf '%s\n' "$out" | wc -l)" 1
	check "busy port: no backupd was started" no_backupd "$c"
	kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null
	LISTENER=
fi

# The same as an ordinary user, made for the test if missing.
if [ "$(id -u)" != 0 ]; then
	echo "skip: not root, cannot create the test user (ran as $(id -un) above)"
elif ! id "$USER_NAME" >/dev/null 2>&1 &&
     ! useradd -m -s /bin/bash "$USER_NAME"; then
	t_fail "create the test user $USER_NAME"
else
	round "$USER_NAME"
fi

finish
