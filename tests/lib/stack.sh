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
#   WORKERS      backupd workers (default 4)
#   MAX_BODY     backupd body cap (default 64k; nginx allows 64k)
#   WWW_DIR      the built admin page (default <source>/www/dist; a
#                placeholder page when it is not built)
# and sets:
#   STACK_URL     https://localhost:$PORT
#   STACK_USERS   "admin:admin (scopes *), viewer:viewer (scopes backups:read)"
#   STACK_SOCKET  backupd's unix socket
#   STACK_CONFIG  the safbackup config in use
#   STACK_BACKUPD_PID, STACK_NGINX_PID
#
# Started as root, nginx runs its workers as nobody: the run directory's
# parents must be searchable by others (mode 755) for them to reach the
# socket. Demo credentials are fixed (admin/admin, viewer/viewer): the
# demo listens on 127.0.0.1 only. The certificate is self-signed, made at
# first run.

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
		echo "listen = unix:$RUNDIR/backupd.sock"
		echo "workers = ${WORKERS:-4}"
		echo "max_body = ${MAX_BODY:-64k}"
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

# htpasswd with the two demo users (APR1-MD5, which nginx reads).
stack_htpasswd() {
	local a v
	a=$(openssl passwd -apr1 admin) || return 1
	v=$(openssl passwd -apr1 viewer) || return 1
	printf 'admin:%s\nviewer:%s\n' "$a" "$v" >"$RUNDIR/htpasswd"
	chmod 640 "$RUNDIR/htpasswd"
	stack_share "$RUNDIR/htpasswd"
}

# Started as root, nginx runs its workers as nobody: give them (their
# group) what they read at request time - the htpasswd file and backupd's
# socket (mode 0660) - and nothing else.
stack_share() { # path
	[ "$(id -u)" = 0 ] || return 0
	chgrp "$(id -gn nobody 2>/dev/null || echo nogroup)" "$1"
}

stack_nginx_conf() {
	local www=${WWW_DIR:-$STACK_SRC/www/dist}
	if [ ! -f "$www/index.html" ]; then
		www=$RUNDIR/www
		mkdir -p "$www"
		printf '<!doctype html><title>safbackup</title><p>The admin page is not built (npm run build in www/).\n' \
			>"$www/index.html"
	fi
	mkdir -p "$RUNDIR/logs" "$RUNDIR/static" "$RUNDIR/safbackup" \
		"$RUNDIR"/tmp/{body,fastcgi,proxy,uwsgi,scgi}
	cp "$STACK_SRC"/nginx/security-headers.conf \
		"$STACK_SRC"/nginx/json-errors.conf \
		"$STACK_SRC"/nginx/backups-fastcgi.conf "$RUNDIR/safbackup/"
	local user="# user: the one running nginx"
	[ "$(id -u)" = 0 ] &&
		user="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
	sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@PORT@|$PORT|g" \
		-e "s|@USER@|$user|g" \
		-e "s|@SOCKET@|$STACK_SOCKET|g" -e "s|@WWW@|$www|g" \
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
	STACK_SOCKET=$RUNDIR/backupd.sock
	if [ -n "${CONFIG:-}" ]; then
		STACK_CONFIG=$CONFIG
	else
		stack_write_config || return 1
		STACK_CONFIG=$RUNDIR/safbackup.conf
	fi
	stack_cert && stack_htpasswd && stack_nginx_conf || return 1

	# The [daemon] keys are forced through the environment overrides, so
	# an existing config (./dev up) needs no [daemon] section.
	SAFBACKUP_DAEMON_LISTEN=unix:$STACK_SOCKET \
	SAFBACKUP_DAEMON_WORKERS=${WORKERS:-4} \
	SAFBACKUP_DAEMON_MAX_BODY=${MAX_BODY:-64k} \
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

	nginx -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -e "$RUNDIR/logs/nginx-error.log" \
		-g 'daemon on;' 2>>"$RUNDIR/logs/nginx-error.log" || {
		stack_log "nginx did not start; see $RUNDIR/logs/nginx-error.log"
		tail -5 "$RUNDIR/logs/nginx-error.log" >&2
		stack_stop
		return 1
	}
	for i in $(seq 50); do [ -s "$RUNDIR/nginx.pid" ] && break; sleep 0.05; done
	STACK_NGINX_PID=$(cat "$RUNDIR/nginx.pid" 2>/dev/null)
	stack_wait_health || { stack_stop; return 1; }
	export STACK_URL STACK_USERS STACK_SOCKET STACK_CONFIG \
		STACK_BACKUPD_PID STACK_NGINX_PID
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
}

stack_demo_up() { # DEMO BUILD
	local demo=$1
	# A second ./dev up replaces the running stack.
	RUNDIR=$demo/stack stack_stop
	BUILD_DIR=$2 RUNDIR=$demo/stack PORT=${DEMO_PORT:-8443} \
		CONFIG=$demo/safbackup.conf stack_start
}

stack_demo_down() { # DEMO
	RUNDIR=$1/stack stack_stop
}
