/*
 * backupd.c - the /backups HTTP API daemon: a parent that supervises a
 * pool of pre-forked FastCGI workers (libfcgi) behind nginx.
 *
 * The parent opens the listening socket (a unix socket, mode 0660, or
 * TCP host:port), forks the workers, respawns any that dies (logging its
 * signal or status) and, when one died abnormally, repairs the catalog:
 * an interrupted backup or restore becomes failed instead of staying
 * pending, and the temp files of dead operations are removed
 * (sb_engine_repair_pending, which acts only when it can take the lock).
 * The same repair runs when backupd starts.
 * Who may talk to it is peer.c's: the policy is built before the socket
 * is opened (no secret, or a non-loopback TCP address without
 * allow_addrs, and backupd does not start) and checked on every request
 * before any route (403 PEER_REFUSED).
 * On SIGTERM or SIGINT it stops the workers, each finishing the request
 * it is answering (drain), then exits 0. A second signal kills them.
 *
 * A worker waits for a connection with ppoll(2), the only place its
 * SIGTERM is unblocked, so a stop signal can never interrupt a request
 * half-way nor be lost between a check and a blocking accept: it stays
 * pending until the worker is back in ppoll. The listening socket is
 * non-blocking, so when several workers wake for one connection the
 * losers' accept fails with EAGAIN and they go back to waiting.
 */
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "sb.h"
#include "config.h"
#include "engine.h"
#include "report.h"
#include "http.h"
#include "peer.h"
#include "backupd.h"

#define WORKERS_MAX	256
#define DEFAULT_CONFIG	"/etc/safbackup/safbackup.conf"
#define DEFAULT_LISTEN	"unix:/run/safbackup/backupd.sock"

static volatile sig_atomic_t	 worker_stop;
/* Who may talk to us: built in run() before the workers are forked. */
static struct peer_policy	 peers;

static void
usage(FILE *f)
{
	fprintf(f, "usage: backupd [--config FILE] [--routes] [--help] "
	    "[--version]\n"
	    "  --config FILE  configuration (default %s,\n"
	    "                 or $SAFBACKUP_CONFIG)\n"
	    "  --routes       print the route table and exit\n"
	    "  --help         this text\n"
	    "  --version      print the version and exit\n"
	    "Listens where [daemon] listen says (unix:/path or host:port),\n"
	    "with [daemon] workers pre-forked FastCGI workers. SIGTERM drains\n"
	    "in-flight requests and exits 0.\n"
	    "Every request must carry the FastCGI param SAF_FASTCGI_SECRET\n"
	    "equal to the token in [daemon] secret_file (or $%s);\n"
	    "backupd does not start without one. On a unix socket\n"
	    "[daemon] allow_users / allow_groups limit the peer's uid or gid\n"
	    "(SO_PEERCRED); on TCP the peer must be in [daemon] allow_addrs\n"
	    "(loopback when unset), and a non-loopback address is bound only\n"
	    "with allow_addrs. Others get 403 PEER_REFUSED.\n",
	    DEFAULT_CONFIG, PEER_SECRET_ENV);
}

/* --- the listening socket --------------------------------------------------- */

/*
 * unix:/path. A stale socket file left by a crash is removed first (only
 * if it is a socket). The socket is created under umask 0117, so it is
 * 0660 from birth: nginx's group can connect, nobody else. *fdp gets
 * the bound socket; SB_ERR_IO with err otherwise.
 */
static enum sb_err
listen_unix(const char *path, int *fdp, char *err)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		sb_seterr(err, "%s: socket path too long", path);
		return SB_ERR_IO;
	}
	sb_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sb_seterr(err, "%s: exists and is not a socket", path);
			return SB_ERR_IO;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		sb_seterr(err, "socket: %s", strerror(errno));
		return SB_ERR_IO;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		sb_seterr(err, "bind %s: %s", path, strerror(errno));
		close(fd);
		return SB_ERR_IO;
	}
	umask(old);
	*fdp = fd;
	return SB_OK;
}

/*
 * host:port (a bare :port means loopback, never every interface). *fdp
 * gets the bound socket; SB_ERR_IO with err otherwise.
 */
static enum sb_err
listen_tcp(const char *spec, int *fdp, char *err)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256];
	const char	*colon, *port;
	int		 fd = -1, one = 1, rc;

	if ((colon = strrchr(spec, ':')) == NULL || colon[1] == '\0') {
		sb_seterr(err, "listen: expected unix:/path or host:port");
		return SB_ERR_IO;
	}
	if ((size_t)(colon - spec) >= sizeof(host)) {
		sb_seterr(err, "listen: host too long");
		return SB_ERR_IO;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = colon + 1;
	if (host[0] == '[') {		/* [::1]:9000 */
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']') {
			sb_seterr(err, "listen: bad host");
			return SB_ERR_IO;
		}
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints,
	    &res)) != 0) {
		sb_seterr(err, "listen %s: %s", spec, gai_strerror(rc));
		return SB_ERR_IO;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (!peer_is_bind_allowed(&peers, ai->ai_addr, err)) {
			fd = -1;
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		sb_seterr(err, "bind %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return SB_ERR_IO;
	*fdp = fd;
	return SB_OK;
}

/*
 * The listening socket spec names (unix:/path or host:port), listening
 * and non-blocking, into *fdp. SB_ERR_IO with err otherwise.
 */
static enum sb_err
open_listener(const char *spec, int *fdp, char *err)
{
	enum sb_err	rc;
	int		fd = -1, fl;

	if (strncmp(spec, "unix:", 5) == 0)
		rc = listen_unix(spec + 5, &fd, err);
	else
		rc = listen_tcp(spec, &fd, err);
	if (rc != SB_OK)
		return rc;
	if (listen(fd, 128) < 0) {
		sb_seterr(err, "listen: %s", strerror(errno));
		close(fd);
		return SB_ERR_IO;
	}
	/* Non-blocking: see the comment at the top. Accepted sockets
	 * do not inherit it on Linux, so requests still block normally. */
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		sb_seterr(err, "fcntl: %s", strerror(errno));
		close(fd);
		return SB_ERR_IO;
	}
	*fdp = fd;
	return SB_OK;
}

/* --- a worker ---------------------------------------------------------------- */

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static const char *
param(FCGX_Request *q, const char *name)
{
	return FCGX_GetParam(name, q->envp);
}

/*
 * Whether the client of q may talk to backupd (peer.c); a refusal is
 * logged with who it was. The secret is wiped from the params either way:
 * nothing after this point needs it.
 */
static int
is_peer_allowed(FCGX_Request *q)
{
	struct peer_info	 pi;
	char			 why[128], pid[16], uid[16], gid[16];
	const char		*kv[12];
	char			*secret = FCGX_GetParam(PEER_SECRET_PARAM, q->envp);
	int			 ok;
	size_t			 k = 0;

	ok = peer_is_allowed(&peers, q->ipcFd, secret, &pi, why, sizeof(why));
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	if (ok)
		return 1;
	if (pi.is_unix) {
		snprintf(pid, sizeof(pid), "%d", (int)pi.pid);
		snprintf(uid, sizeof(uid), "%u", (unsigned)pi.uid);
		snprintf(gid, sizeof(gid), "%u", (unsigned)pi.gid);
		kv[k++] = "peer_pid";
		kv[k++] = pid;
		kv[k++] = "peer_uid";
		kv[k++] = uid;
		kv[k++] = "peer_gid";
		kv[k++] = gid;
	} else {
		kv[k++] = "peer_addr";
		kv[k++] = pi.addr;
	}
	kv[k++] = "reason";
	kv[k++] = why;
	kv[k] = NULL;
	sb_logkv(SB_LOG_WARN, "peer.refused", kv, "refused a client: %s", why);
	return 0;
}

/*
 * Answer one request and log one line: method, path, status, duration,
 * user id, request id, and for failures the detail the client did not
 * get. A client that may not talk to backupd gets 403 and no route.
 */
static void
serve(FCGX_Request *q, const struct sb_config *cfg, struct sb_engine **eng)
{
	struct req	 r;
	int64_t		 t0 = sb_mono_ms();
	char		 status[8], ms[24], bytes[24];
	const char	*kv[24];
	size_t		 k = 0;

	memset(&r, 0, sizeof(r));
	r.fcgx = q;
	r.cfg = cfg;
	r.eng = eng;
	r.method_str = param(q, "REQUEST_METHOD");
	r.method = http_method_parse(r.method_str);
	r.uri = param(q, "REQUEST_URI");
	r.query = param(q, "QUERY_STRING");
	r.ctype = param(q, "CONTENT_TYPE");
	r.clen = param(q, "CONTENT_LENGTH");
	r.user = param(q, "SAF_USER_ID");
	r.email = param(q, "SAF_USER_EMAIL");
	r.scopes = param(q, "SAF_USER_SCOPES");
	r.reqid = param(q, "REQUEST_ID");

	if (is_peer_allowed(q))
		routes_dispatch(&r);
	else
		routes_refuse(&r, "client refused (see peer.refused)");
	FCGX_FFlush(q->out);

	snprintf(status, sizeof(status), "%d", r.status);
	snprintf(ms, sizeof(ms), "%lld", (long long)(sb_mono_ms() - t0));
	snprintf(bytes, sizeof(bytes), "%lld", (long long)r.bytes);
	kv[k++] = "method";
	kv[k++] = r.method_str ? r.method_str : "";
	kv[k++] = "path";
	kv[k++] = r.uri ? r.uri : "";
	if (r.route != NULL) {
		kv[k++] = "route";
		kv[k++] = r.route;
	}
	kv[k++] = "status";
	kv[k++] = status;
	kv[k++] = "duration_ms";
	kv[k++] = ms;
	kv[k++] = "bytes";
	kv[k++] = bytes;
	kv[k++] = "user_id";
	kv[k++] = r.user ? r.user : "";
	kv[k++] = "request_id";
	kv[k++] = r.reqid ? r.reqid : "";
	if (r.detail[0] != '\0') {
		kv[k++] = "detail";
		kv[k++] = r.detail;
	}
	kv[k] = NULL;
	sb_logkv(r.status >= 500 ? SB_LOG_ERROR : SB_LOG_INFO,
	    "http.request", kv, "%s %s %d", kv[1], kv[3], r.status);
	http_path_clear(&r.path);
}

/*
 * The worker's life: its own engine (SQLite handles must not cross a
 * fork, so it is opened here, lazily, by the first request), then
 * wait-accept-serve until told to stop.
 */
static void
worker(int lfd, const struct sb_config *cfg, const sigset_t *waitmask,
    pid_t parent)
{
	struct sigaction	 sa;
	struct sb_engine	*eng = NULL;
	FCGX_Request		 q;
	struct pollfd		 pfd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* A hangup of the terminal that started us is no reason to die. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
#ifdef __linux__
	/*
	 * If the parent dies (SIGKILL, OOM), stop like on SIGTERM rather than
	 * serve on, unsupervised, from a socket a new parent has replaced.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() != parent)
		worker_stop = 1;
#ifdef M_TRIM_THRESHOLD
	/*
	 * Every request allocates and frees the same few hundred KiB (rows,
	 * json-c objects, the serialized answer). Keep them: glibc's default
	 * would hand the heap top back to the kernel after each request and
	 * page-fault it in again on the next.
	 */
	mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
#endif

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&q, lfd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		sb_log(SB_LOG_ERROR, "worker.init", "libfcgi init failed");
		_exit(2);
	}
	while (!worker_stop) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (ppoll(&pfd, 1, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			sb_log(SB_LOG_ERROR, "worker.poll", "%s",
			    strerror(errno));
			_exit(2);
		}
		if (worker_stop)
			break;
		if (FCGX_Accept_r(&q) < 0)
			continue;	/* another worker took it (EAGAIN) */
		serve(&q, cfg, &eng);
		FCGX_Finish_r(&q);
	}
	FCGX_Free(&q, 1);
	sb_engine_close(&eng);
	peer_policy_clear(&peers);
	/* exit, not _exit: LeakSanitizer checks a stopping worker too. */
	exit(0);
}

/* --- the parent ----------------------------------------------------------------- */

struct pool {
	pid_t		pid[WORKERS_MAX];
	int64_t		born[WORKERS_MAX];	/* mono ms */
	unsigned	n;
	unsigned	alive;
};

/* Fork the worker of a slot: SB_OK, or SB_ERR_IO (logged) if fork failed. */
static enum sb_err
spawn(struct pool *p, unsigned slot, int lfd, const struct sb_config *cfg,
    const sigset_t *waitmask)
{
	pid_t	pid, parent = getpid();

	if ((pid = fork()) < 0) {
		sb_log(SB_LOG_ERROR, "worker.fork", "%s", strerror(errno));
		p->pid[slot] = 0;
		return SB_ERR_IO;
	}
	if (pid == 0)
		worker(lfd, cfg, waitmask, parent);
	p->pid[slot] = pid;
	p->born[slot] = sb_mono_ms();
	p->alive++;
	return SB_OK;
}

/*
 * Repair after a crash: a worker killed mid-backup left a pending record
 * and (the kernel having dropped its flock) no lock. The engine marks
 * pending records failed only if it can take the lock; if a writer holds
 * it, we try again later. SB_OK when done, else the error (logged):
 * retry later.
 */
static enum sb_err
repair(const struct sb_config *cfg)
{
	struct sb_engine	*eng = NULL;
	char			 err[SB_ERRMSG_MAX] = "";
	enum sb_err		 rc;
	int			 count = 0;

	if ((rc = sb_engine_open(&eng, cfg, err)) != SB_OK) {
		sb_log(SB_LOG_ERROR, "repair.open", "%s", err);
		return rc;
	}
	rc = sb_engine_repair_pending(eng, &count);
	if (rc == SB_ERR_BUSY)
		sb_log(SB_LOG_INFO, "repair.busy",
		    "a writer holds the lock; repair retried later");
	else if (rc != SB_OK)
		sb_log(SB_LOG_ERROR, "repair.failed", "%s",
		    sb_engine_errmsg(eng));
	else if (count > 0)
		sb_log(SB_LOG_WARN, "repair.done",
		    "%d interrupted backup(s) or restore(s) marked failed",
		    count);
	sb_engine_close(&eng);
	return rc;
}

/* Reap dead workers; *abnormal set if one died by a signal or status. */
static void
reap(struct pool *p, int *abnormal)
{
	pid_t	pid;
	int	st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		char		 spid[16], what[32];
		const char	*kv[7];
		unsigned	 i;

		for (i = 0; i < p->n; i++)
			if (p->pid[i] == pid)
				break;
		if (i == p->n)
			continue;
		p->pid[i] = 0;
		p->alive--;
		snprintf(spid, sizeof(spid), "%d", (int)pid);
		if (WIFSIGNALED(st))
			snprintf(what, sizeof(what), "signal %d",
			    WTERMSIG(st));
		else
			snprintf(what, sizeof(what), "status %d",
			    WEXITSTATUS(st));
		kv[0] = "pid";
		kv[1] = spid;
		kv[2] = "exit";
		kv[3] = what;
		kv[4] = NULL;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			sb_logkv(SB_LOG_INFO, "worker.exit", kv,
			    "worker %s exited", spid);
		else {
			sb_logkv(SB_LOG_ERROR, "worker.died", kv,
			    "worker %s died (%s)", spid, what);
			*abnormal = 1;
		}
	}
}

/*
 * The parent takes its signals synchronously (sigtimedwait), so they stay
 * blocked (block gets them); workers inherit the mask and unblock SIGTERM
 * and SIGINT only inside ppoll (waitmask).
 */
static void
block_signals(sigset_t *block, sigset_t *waitmask)
{
	sigemptyset(block);
	sigaddset(block, SIGTERM);
	sigaddset(block, SIGINT);
	sigaddset(block, SIGCHLD);
	sigaddset(block, SIGHUP);
	sigprocmask(SIG_BLOCK, block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	signal(SIGPIPE, SIG_IGN);
}

/* A stop signal: drain the workers the first time, kill them the next. */
static void
stop_workers(struct pool *p, int *stopping)
{
	if (!*stopping) {
		sb_log(SB_LOG_INFO, "backupd.stop", "draining %u workers",
		    p->alive);
		for (unsigned i = 0; i < p->n; i++)
			if (p->pid[i] > 0)
				kill(p->pid[i], SIGTERM);
		*stopping = 1;
		return;
	}
	sb_log(SB_LOG_WARN, "backupd.kill", "second signal: killing workers");
	for (unsigned i = 0; i < p->n; i++)
		if (p->pid[i] > 0)
			kill(p->pid[i], SIGKILL);
}

/*
 * Fork a worker for every empty slot. A worker that dies at once (bad
 * config, broken catalog) is not respawned in a tight loop: one second
 * between births of a slot.
 */
static void
respawn(struct pool *p, int lfd, const struct sb_config *cfg,
    const sigset_t *waitmask)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (p->pid[i] != 0 || sb_mono_ms() - p->born[i] < 1000)
			continue;
		(void)spawn(p, i, lfd, cfg, waitmask);
	}
}

/*
 * Supervise the pool until stopped: repair when needed (at start, after
 * an abnormal death; retried every 2 s while a writer holds the lock),
 * reap and respawn workers, drain on a stop signal.
 */
static void
supervise(struct pool *pool, int lfd, const struct sb_config *cfg,
    sigset_t *block, const sigset_t *waitmask)
{
	struct timespec	 tick = { 1, 0 };
	siginfo_t	 si;
	int		 stopping = 0, need_repair = 1, sig, abnormal;
	int64_t		 next_repair = 0;

	for (;;) {
		if (need_repair && !stopping && sb_mono_ms() >= next_repair) {
			if (repair(cfg) == SB_OK)
				need_repair = 0;
			else
				next_repair = sb_mono_ms() + 2000;
		}
		sig = sigtimedwait(block, &si, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			stop_workers(pool, &stopping);
		abnormal = 0;
		reap(pool, &abnormal);
		if (abnormal) {
			need_repair = 1;
			next_repair = 0;
		}
		if (stopping && pool->alive == 0)
			return;
		if (!stopping)
			respawn(pool, lfd, cfg, waitmask);
	}
}

static int
run(const struct sb_config *cfg)
{
	struct pool	 pool;
	sigset_t	 block, waitmask;
	char		 err[SB_ERRMSG_MAX] = "";
	const char	*listen_spec;
	int		 lfd = -1;

	listen_spec = cfg->listen != NULL && cfg->listen[0] != '\0' ?
	    cfg->listen : DEFAULT_LISTEN;
	memset(&pool, 0, sizeof(pool));
	pool.n = cfg->workers == 0 ? 4 : cfg->workers;
	if (pool.n > WORKERS_MAX)
		pool.n = WORKERS_MAX;
	block_signals(&block, &waitmask);
	if (peer_policy_init(&peers, cfg, strncmp(listen_spec, "unix:", 5) != 0,
	    err) != SB_OK) {
		sb_log(SB_LOG_ERROR, "config.failed", "%s: %s", cfg->path, err);
		peer_policy_clear(&peers);
		return 1;
	}
	/* Not fatal: the secret still keeps out every other uid. */
	if (strncmp(listen_spec, "unix:", 5) == 0 && peer_is_ptrace_open(NULL))
		sb_log(SB_LOG_WARN, "peer.ptrace_open", "this kernel lets a "
		    "process read the memory of any other process of its uid "
		    "(kernel.yama.ptrace_scope is 0, or Yama is absent), and "
		    "nginx's workers hold the FastCGI secret: a process running "
		    "as their user could take it. Set kernel.yama.ptrace_scope "
		    "= 1, or run nothing else as nginx's workers' user "
		    "(docs/OPERATIONS.md, \"Who may talk to backupd\")");
	if (open_listener(listen_spec, &lfd, err) != SB_OK) {
		sb_log(SB_LOG_ERROR, "listen.failed", "%s", err);
		peer_policy_clear(&peers);
		return 1;
	}
	{
		const char *kv[] = { "listen", listen_spec, NULL };
		sb_logkv(SB_LOG_INFO, "backupd.start", kv,
		    "backupd %s listening, %u workers", PACKAGE_VERSION,
		    pool.n);
	}
	for (unsigned i = 0; i < pool.n; i++)
		(void)spawn(&pool, i, lfd, cfg, &waitmask);
	supervise(&pool, lfd, cfg, &block, &waitmask);
	close(lfd);
	if (strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);
	sb_log(SB_LOG_INFO, "backupd.exit", "all workers done");
	peer_policy_clear(&peers);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "routes", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct sb_config	*cfg = NULL;
	const char		*path;
	char			 err[SB_ERRMSG_MAX] = "";
	int			 ch, rc;

	if ((path = getenv("SAFBACKUP_CONFIG")) == NULL || *path == '\0')
		path = DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'r':
			routes_print(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("backupd (safbackup) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	sb_log_init("backupd", SB_LOG_INFO);
	if (sb_config_load(path, &cfg, err) != SB_OK ||
	    sb_engine_keys_check(cfg, err) != SB_OK) {
		sb_log(SB_LOG_ERROR, "config.failed", "%s", err);
		sb_config_free(&cfg);
		return 1;
	}
	rc = run(cfg);
	sb_config_free(&cfg);
	return rc;
}
