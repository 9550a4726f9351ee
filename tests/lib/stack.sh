# tests/lib/stack.sh - start and stop the real stack (backupd + nginx over
# HTTPS) in one run directory, without root. Sourced by ./dev up, by the
# HTTP integration tests, the e2e tests and the benchmarks.
#
#   stack_start      start backupd and nginx; wait for /backups/health
#   stack_stop       stop both (backupd drains in-flight requests)
#   stack_demo_up DEMO BUILD   ./dev up: the demo on https://localhost:8443
#   stack_demo_down DEMO       ./dev down
#
# stack_start reads (environment):
#   BUILD_DIR    build tree with src/daemon/backupd                (required)
#   RUNDIR       run directory: config, certs, logs, sockets       (required)
#   PORT         HTTPS port on 127.0.0.1                 (default 8443)
#   CONFIG       an existing safbackup config to use, its store set up
#                already (`backup-cron init`); without it one is written
#                to $RUNDIR/safbackup.conf from the next three, and
#                `backup-cron init` sets up its store
#   SOURCE_DB    the live SQLite database   (default $RUNDIR/app.db, made
#                with one table if missing)
#   STORE        disk (default) or azure; azure reads AZURE_ACCOUNT,
#                AZURE_CONTAINER, AZURE_ENDPOINT and SAFBACKUP_AZURE_KEY
#   STORE_KEY_FILE  a keyring file ([store] key_file; encryption stays
#                none): backupd can read encrypted backups made elsewhere
#   WORKERS      backupd workers (default 4)
#   MAX_BODY     backupd body cap (default 64k; nginx allows 64k)
#   WWW_DIR      the built admin page (default <source>/www/dist; a
#                placeholder page when it is not built)
# and sets:
#   STACK_URL     https://localhost:$PORT
#   STACK_USERS   "admin:admin (scopes *), viewer:viewer (scopes backups:read)"
#   STACK_SOCKET  backupd's unix socket
#   STACK_SHARE   the directory nginx's workers read from (see below)
#   STACK_CONFIG  the safbackup config in use
#   STACK_SECRET_FILE  the secret nginx sends backupd (0600; a direct
#                 FastCGI client sends it as SAF_FASTCGI_SECRET)
#   STACK_BACKUPD_PID, STACK_NGINX_PID
#
# Where things live. The run directory holds what only we and nginx's
# master read or write: config, certificates, logs, pid files, data. What
# nginx's workers must reach at request time - backupd's socket, the
# htpasswd file, the admin page, the benchmark's static file and nginx's
# temp directories - lives in a separate share directory made with
# mktemp -d under /tmp (or $TMPDIR when not root), linked from
# $RUNDIR/share and removed by stack_stop. Started as root, nginx runs its
# workers as nobody: the share directory is then group nobody's, mode
# 0750, so they can enter it wherever the checkout lives (a 0700 home
# directory, a private mktemp -d), while nothing of the user's own is
# loosened. Started as another user, nginx keeps that user and needs no
# more. The admin page is copied there at each start.
#
# A busy port stops stack_start with one line naming the port and the
# variable to change it (STACK_PORT_VAR, default PORT; ./dev up: DEV_PORT).
# Demo credentials are fixed (admin/admin, viewer/viewer): the demo
# listens on 127.0.0.1 only. The certificate is self-signed, made at
# first run. The secret nginx sends backupd (docs/OPERATIONS.md, "Who may
# talk to backupd") is made once per run directory: $RUNDIR/backupd.secret
# for backupd, $RUNDIR/safbackup/secret.conf for nginx's master, both 0600
# (nginx's workers never read either).

STACK_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

stack_log() { printf 'stack: %s\n' "$*" >&2; }

# Write the safbackup config for the run directory and set up its store
# (`backup-cron init`: the marker every operation checks), as an admin does.
stack_write_config() {
	local db=${SOURCE_DB:-$RUNDIR/app.db} kind=${STORE:-disk}
	mkdir -p "$RUNDIR/store" "$RUNDIR/tmp/sb" "$RUNDIR/logs"
	{
		echo "# Written by tests/lib/stack.sh"
		echo "[source]"
		echo "path = $db"
		echo "[catalog]"
		echo "path = $RUNDIR/catalog.db"
		echo "[core]"
		echo "temp_dir = $RUNDIR/tmp/sb"
		echo "[store]"
		echo "kind = $kind"
		[ -n "${STORE_KEY_FILE:-}" ] && echo "key_file = $STORE_KEY_FILE"
		if [ "$kind" = azure ]; then
			echo "[azure]"
			echo "account = ${AZURE_ACCOUNT:?AZURE_ACCOUNT}"
			echo "container = ${AZURE_CONTAINER:?AZURE_CONTAINER}"
			[ -n "${AZURE_ENDPOINT:-}" ] && echo "endpoint = $AZURE_ENDPOINT"
		else
			echo "[disk]"
			echo "root = $RUNDIR/store"
		fi
		echo "[daemon]"
		echo "listen = unix:$STACK_SOCKET"
		echo "workers = ${WORKERS:-4}"
		echo "max_body = ${MAX_BODY:-64k}"
		echo "secret_file = $RUNDIR/backupd.secret"
	} >"$RUNDIR/safbackup.conf"
	if [ ! -f "$db" ]; then
		if command -v sqlite3 >/dev/null; then
			sqlite3 "$db" 'PRAGMA journal_mode=WAL;
			    CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
			    INSERT INTO t(v) VALUES (randomblob(64));' >/dev/null
		else
			stack_log "no sqlite3 to make $db"
			return 1
		fi
	fi
	"$BUILD_DIR/src/cron/backup-cron" --config "$RUNDIR/safbackup.conf" \
		init >>"$RUNDIR/logs/init.log" 2>&1 || {
		stack_log "backup-cron init failed; see $RUNDIR/logs/init.log"
		tail -5 "$RUNDIR/logs/init.log" >&2
		return 1
	}
}

# A self-signed certificate for localhost, made once per run directory.
stack_cert() {
	mkdir -p "$RUNDIR/tls"
	[ -s "$RUNDIR/tls/cert.pem" ] && [ -s "$RUNDIR/tls/key.pem" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
		-keyout "$RUNDIR/tls/key.pem" -out "$RUNDIR/tls/cert.pem" \
		-subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		>/dev/null 2>&1 || { stack_log "openssl req failed"; return 1; }
	chmod 600 "$RUNDIR/tls/key.pem"
}

# The secret backupd wants and nginx sends: 32 random bytes as hex, in a
# file backupd reads and in the snippet nginx's master includes, made
# once per run directory, both private to us (umask 077: 0600 from birth).
stack_secret() {
	STACK_SECRET_FILE=$RUNDIR/backupd.secret
	if [ ! -s "$STACK_SECRET_FILE" ]; then
		(umask 077 && openssl rand -hex 32 >"$STACK_SECRET_FILE") || {
			stack_log "openssl rand failed"
			return 1
		}
	fi
	mkdir -p "$RUNDIR/safbackup"
	(umask 077 && printf 'fastcgi_param SAF_FASTCGI_SECRET "%s";\n' \
		"$(cat "$STACK_SECRET_FILE")" >"$RUNDIR/safbackup/secret.conf" &&
		chmod 600 "$STACK_SECRET_FILE" "$RUNDIR/safbackup/secret.conf")
}

# htpasswd with the two demo users (APR1-MD5, which nginx reads).
stack_htpasswd() {
	local a v
	a=$(openssl passwd -apr1 admin) || return 1
	v=$(openssl passwd -apr1 viewer) || return 1
	printf 'admin:%s\nviewer:%s\n' "$a" "$v" >"$STACK_SHARE/htpasswd"
	chmod 640 "$STACK_SHARE/htpasswd"
	stack_share "$STACK_SHARE/htpasswd"
}

# The group nginx's workers run as when nginx is started as root.
stack_worker_group() { id -gn nobody 2>/dev/null || echo nogroup; }

# Started as root, nginx runs its workers as nobody: give them (their
# group) what they read at request time - the share directory, the
# htpasswd file and backupd's socket (mode 0660) - and nothing else.
stack_share() { # path
	[ "$(id -u)" = 0 ] || return 0
	chgrp "$(stack_worker_group)" "$1"
}

# The share directory of this run directory: the one $RUNDIR/share links
# to when it is still ours, else a new one. Sets STACK_SHARE.
stack_share_dir() {
	local d
	d=$(readlink "$RUNDIR/share" 2>/dev/null) || d=
	case $d in
	*/safbackup-stack.*)
		if [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ]; then
			STACK_SHARE=$d
			return 0
		fi ;;
	esac
	local base=/tmp
	[ "$(id -u)" = 0 ] || base=${TMPDIR:-/tmp}
	d=$(mktemp -d "$base/safbackup-stack.XXXXXX") || {
		stack_log "cannot make a share directory under $base"
		return 1
	}
	if [ "$(id -u)" = 0 ]; then
		stack_share "$d" && chmod 0750 "$d" || return 1
	fi
	ln -sfn "$d" "$RUNDIR/share"
	STACK_SHARE=$d
}

# Remove the share directory $RUNDIR/share links to, if it is ours.
stack_share_remove() {
	local d
	d=$(readlink "$RUNDIR/share" 2>/dev/null) || return 0
	case $d in
	*/safbackup-stack.*) [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] &&
		rm -rf -- "$d" ;;
	esac
	rm -f "$RUNDIR/share"
}

# The admin page, copied where the workers can read it; a placeholder
# when it is not built.
stack_www() {
	local www=${WWW_DIR:-$STACK_SRC/www/dist}
	rm -rf "$STACK_SHARE/www"
	mkdir -p "$STACK_SHARE/www"
	if [ -f "$www/index.html" ]; then
		cp -R "$www/." "$STACK_SHARE/www/" || return 1
	else
		printf '<!doctype html><title>safbackup</title><p>The admin page is not built (npm run build in www/).\n' \
			>"$STACK_SHARE/www/index.html"
	fi
	chmod -R u=rwX,go=rX "$STACK_SHARE/www"
}

# 0 when something already listens on 127.0.0.1:port.
stack_port_busy() { # port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stack_port_message() {
	stack_log "port $PORT on 127.0.0.1 is in use; choose another with ${STACK_PORT_VAR:-PORT}=<port>"
}

# nginx is in /usr/sbin, which an ordinary user's PATH may lack.
stack_nginx_bin() {
	command -v nginx 2>/dev/null ||
		{ [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } ||
		{ stack_log "nginx is not installed"; return 1; }
}

stack_nginx_conf() {
	stack_www || { stack_log "cannot copy the admin page"; return 1; }
	mkdir -p "$RUNDIR/logs" "$STACK_SHARE/static" "$RUNDIR/safbackup" \
		"$STACK_SHARE/tmp"
	cp "$STACK_SRC"/nginx/security-headers.conf \
		"$STACK_SRC"/nginx/json-errors.conf \
		"$STACK_SRC"/nginx/backups-fastcgi.conf "$RUNDIR/safbackup/"
	local user="# user: the one running nginx"
	[ "$(id -u)" = 0 ] &&
		user="user nobody $(stack_worker_group);"
	sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@PORT@|$PORT|g" \
		-e "s|@USER@|$user|g" -e "s|@SHARE@|$STACK_SHARE|g" \
		-e "s|@SOCKET@|$STACK_SOCKET|g" -e "s|@WWW@|$STACK_SHARE/www|g" \
		"$STACK_SRC/nginx/demo.conf.in" >"$RUNDIR/nginx.conf"
}

# Wait until GET /backups/health answers 200 over HTTPS (10 s).
stack_wait_health() {
	local i
	for i in $(seq 100); do
		if curl -ksf -o /dev/null --max-time 2 \
			"$STACK_URL/backups/health"; then
			return 0
		fi
		sleep 0.1
	done
	stack_log "no healthy answer from $STACK_URL/backups/health"
	return 1
}

stack_start() {
	: "${BUILD_DIR:?BUILD_DIR}" "${RUNDIR:?RUNDIR}"
	PORT=${PORT:-8443}
	mkdir -p "$RUNDIR/logs"
	RUNDIR=$(cd "$RUNDIR" && pwd)
	STACK_URL=https://localhost:$PORT
	STACK_USERS="admin:admin (scopes *), viewer:viewer (scopes backups:read)"
	if stack_port_busy "$PORT"; then
		stack_port_message
		return 1
	fi
	STACK_NGINX=$(stack_nginx_bin) || return 1
	stack_share_dir || return 1
	STACK_SOCKET=$STACK_SHARE/backupd.sock
	if [ -n "${CONFIG:-}" ]; then
		STACK_CONFIG=$CONFIG
	else
		stack_write_config || return 1
		STACK_CONFIG=$RUNDIR/safbackup.conf
	fi
	stack_cert && stack_secret && stack_htpasswd && stack_nginx_conf ||
		return 1

	# The [daemon] keys are forced through the environment overrides, so
	# an existing config (./dev up) needs no [daemon] section.
	SAFBACKUP_DAEMON_LISTEN=unix:$STACK_SOCKET \
	SAFBACKUP_DAEMON_WORKERS=${WORKERS:-4} \
	SAFBACKUP_DAEMON_MAX_BODY=${MAX_BODY:-64k} \
	SAFBACKUP_DAEMON_SECRET_FILE=$STACK_SECRET_FILE \
		"$BUILD_DIR/src/daemon/backupd" --config "$STACK_CONFIG" \
		>>"$RUNDIR/logs/backupd.log" 2>&1 &
	STACK_BACKUPD_PID=$!
	echo "$STACK_BACKUPD_PID" >"$RUNDIR/backupd.pid"
	local i
	for i in $(seq 100); do
		[ -S "$STACK_SOCKET" ] && break
		kill -0 "$STACK_BACKUPD_PID" 2>/dev/null || {
			stack_log "backupd exited; see $RUNDIR/logs/backupd.log"
			tail -5 "$RUNDIR/logs/backupd.log" >&2
			return 1
		}
		sleep 0.05
	done
	stack_share "$STACK_SOCKET" || return 1

	local errlog=$RUNDIR/logs/nginx-error.log mark
	mark=$({ wc -l <"$errlog"; } 2>/dev/null || echo 0)
	"$STACK_NGINX" -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -e "$errlog" \
		-g 'daemon on;' 2>>"$errlog" || {
		# The port may have been taken since the check above.
		if tail -n +"$((mark + 1))" "$errlog" |
			grep -q 'Address already in use'; then
			stack_port_message
		else
			stack_log "nginx did not start; see $errlog"
			tail -5 "$errlog" >&2
		fi
		stack_stop
		return 1
	}
	for i in $(seq 50); do [ -s "$RUNDIR/nginx.pid" ] && break; sleep 0.05; done
	STACK_NGINX_PID=$(cat "$RUNDIR/nginx.pid" 2>/dev/null)
	stack_wait_health || { stack_stop; return 1; }
	export STACK_URL STACK_USERS STACK_SOCKET STACK_SHARE STACK_CONFIG \
		STACK_BACKUPD_PID STACK_NGINX_PID STACK_SECRET_FILE
}

# Stop a process by pid file: signal, then wait up to $3 tenths of a second.
stack_kill_pidfile() { # file signal tenths
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if [ -n "$pid" ] && kill -"$2" "$pid" 2>/dev/null; then
		for i in $(seq "$3"); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			stack_log "pid $pid still alive after SIG$2: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	rm -f "$f"
}

stack_stop() {
	: "${RUNDIR:?RUNDIR}"
	# nginx first: no new requests reach backupd, which then drains.
	stack_kill_pidfile "$RUNDIR/nginx.pid" QUIT 100
	stack_kill_pidfile "$RUNDIR/backupd.pid" TERM 300
	stack_share_remove
}

stack_demo_up() { # DEMO BUILD
	local demo=$1
	# A second ./dev up replaces the running stack.
	RUNDIR=$demo/stack stack_stop
	BUILD_DIR=$2 RUNDIR=$demo/stack PORT=${DEV_PORT:-8443} \
		STACK_PORT_VAR=DEV_PORT CONFIG=$demo/safbackup.conf stack_start
}

stack_demo_down() { # DEMO
	RUNDIR=$1/stack stack_stop
}
