/*
 * test_report.c - log lines are single valid JSON objects with the
 * documented fields; levels filter; sb_report() logs and POSTs the same
 * object to a webhook; a failing, refusing or hanging webhook is logged
 * and bounded in time, never fatal. The webhook is a tiny HTTP server
 * forked on 127.0.0.1.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "report.h"

#define MAXLINES	8

struct capture {
	int	saved;		/* the real stderr */
	int	fd;		/* temp file standing in for it */
	char	buf[65536];
	char	*line[MAXLINES];
	size_t	nline;
};

/* Point fd 2 at a fresh temporary file. */
static void
capture_begin(struct capture *c)
{
	char	path[] = "/tmp/sb-test-report-XXXXXX";

	memset(c, 0, sizeof(*c));
	c->fd = mkstemp(path);
	assert_true(c->fd >= 0);
	unlink(path);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restore stderr; split what was written into lines (each ends in \n). */
static void
capture_end(struct capture *c)
{
	ssize_t	n;
	char	*p, *nl;

	assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	n = pread(c->fd, c->buf, sizeof(c->buf) - 1, 0);
	assert_true(n >= 0);
	c->buf[n] = '\0';
	close(c->fd);
	for (p = c->buf; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);	/* every line is terminated */
		*nl = '\0';
		assert_true(c->nline < MAXLINES);
		c->line[c->nline++] = p;
	}
}

/* Parse a line strictly: one object, nothing after it. */
static struct json_object *
parse(const char *line)
{
	struct json_tokener	*tok;
	struct json_object	*o;

	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)strlen(line));
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), strlen(line));
	json_tokener_free(tok);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *
field(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field %s", key);
	if (v == NULL)
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int
has_field(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static void
test_log_line(void **state)
{
	struct capture		 c;
	struct json_object	*o;
	const char		*ts;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backup-cron", SB_LOG_INFO);
	capture_begin(&c);
	sb_log(SB_LOG_INFO, "backup.done", "took %d ms for \"%s\"\n\tend\x01",
	    42, "app.db");
	capture_end(&c);
	assert_int_equal(c.nline, 1);
	o = parse(c.line[0]);
	ts = field(o, "ts");
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[10] == 'T' && ts[23] == 'Z');
	assert_string_equal(field(o, "level"), "info");
	assert_string_equal(field(o, "component"), "backup-cron");
	assert_string_equal(field(o, "event"), "backup.done");
	assert_string_equal(field(o, "msg"),
	    "took 42 ms for \"app.db\"\n\tend\x01");
	/* Fields come in a fixed order: ts first. */
	assert_true(strncmp(c.line[0], "{\"ts\":\"", 7) == 0);
	json_object_put(o);
}

static void
test_levels(void **state)
{
	struct capture		 c;
	struct json_object	*o;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("t", SB_LOG_WARN);
	capture_begin(&c);
	sb_log(SB_LOG_DEBUG, "a", "no");
	sb_log(SB_LOG_INFO, "b", "no");
	sb_log(SB_LOG_WARN, "c", "yes");
	sb_log(SB_LOG_ERROR, "d", "yes");
	capture_end(&c);
	assert_int_equal(c.nline, 2);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "level"), "warn");
	assert_string_equal(field(o, "event"), "c");
	json_object_put(o);
	o = parse(c.line[1]);
	assert_string_equal(field(o, "level"), "error");
	json_object_put(o);

	/* The environment overrides what the program asked for. */
	setenv("SAFBACKUP_LOG_LEVEL", "debug", 1);
	sb_log_init("t", SB_LOG_ERROR);
	capture_begin(&c);
	sb_log(SB_LOG_DEBUG, "a", "shown");
	capture_end(&c);
	assert_int_equal(c.nline, 1);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "level"), "debug");
	json_object_put(o);
	setenv("SAFBACKUP_LOG_LEVEL", "ERROR", 1);
	sb_log_init(NULL, SB_LOG_DEBUG);
	capture_begin(&c);
	sb_log(SB_LOG_WARN, "a", "hidden");
	sb_log(SB_LOG_ERROR, "b", "shown");
	capture_end(&c);
	assert_int_equal(c.nline, 1);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "component"), "safbackup");
	json_object_put(o);
	/* Nonsense in the environment is ignored. */
	setenv("SAFBACKUP_LOG_LEVEL", "loud", 1);
	sb_log_init("t", SB_LOG_INFO);
	capture_begin(&c);
	sb_log(SB_LOG_DEBUG, "a", "hidden");
	sb_log(SB_LOG_INFO, "b", "shown");
	capture_end(&c);
	assert_int_equal(c.nline, 1);
	unsetenv("SAFBACKUP_LOG_LEVEL");
}

static void
test_logkv(void **state)
{
	struct capture		 c;
	struct json_object	*o, *v;
	const char *const	 kv[] = {
		"backup_id", "0b7c1a52-3c2e-4b8e-9a51-1f0b2d3c4e5f",
		"size", "1024",
		"level", "forged",	/* may not replace a core field */
		"nothing", NULL,
		"bad\xff", "v\xc3(x",	/* invalid UTF-8 becomes '?' */
		NULL
	};
	char			 big[5000];

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("t", SB_LOG_INFO);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_begin(&c);
	sb_logkv(SB_LOG_INFO, "backup.stored", kv, "stored %s", "ok");
	sb_log(SB_LOG_INFO, "big", "%s", big);
	capture_end(&c);
	assert_int_equal(c.nline, 2);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "level"), "info");
	assert_string_equal(field(o, "msg"), "stored ok");
	assert_string_equal(field(o, "backup_id"),
	    "0b7c1a52-3c2e-4b8e-9a51-1f0b2d3c4e5f");
	assert_string_equal(field(o, "size"), "1024");
	assert_true(json_object_object_get_ex(o, "nothing", &v));
	assert_null(v);
	assert_string_equal(field(o, "bad?"), "v?(x");
	json_object_put(o);
	/* A long message is cut, and says so. */
	o = parse(c.line[1]);
	assert_true(strlen(field(o, "msg")) < 4096);
	assert_non_null(strstr(field(o, "msg"), "xxx..."));
	json_object_put(o);
}

static void
test_report_no_webhook(void **state)
{
	struct capture		 c;
	struct json_object	*o, *v;
	struct sb_reporter	*r = NULL;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backupd", SB_LOG_INFO);
	assert_int_equal(sb_reporter_new(&r, NULL, 0), SB_OK);
	capture_begin(&c);
	sb_report(r, "backup.failed", SB_ERR_BUSY,
	    "0b7c1a52-3c2e-4b8e-9a51-1f0b2d3c4e5f", "lock held");
	sb_report(NULL, "prune.skipped", SB_ERR_STORAGE, NULL, "no recent");
	capture_end(&c);
	assert_int_equal(c.nline, 2);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "level"), "error");
	assert_string_equal(field(o, "component"), "backupd");
	assert_string_equal(field(o, "event"), "backup.failed");
	assert_string_equal(field(o, "code"), "BUSY");
	assert_string_equal(field(o, "backup_id"),
	    "0b7c1a52-3c2e-4b8e-9a51-1f0b2d3c4e5f");
	assert_string_equal(field(o, "msg"), "lock held");
	json_object_put(o);
	o = parse(c.line[1]);
	assert_string_equal(field(o, "code"), "STORAGE_ERROR");
	assert_true(json_object_object_get_ex(o, "backup_id", &v));
	assert_null(v);
	json_object_put(o);
	sb_reporter_free(&r);
	assert_null(r);
	sb_reporter_free(&r);
	/* Only http(s) webhooks. */
	assert_int_equal(sb_reporter_new(&r, "file:///etc/passwd", 5),
	    SB_ERR_INVAL);
	assert_null(r);
	assert_int_equal(sb_reporter_new(&r, "", 5), SB_OK);
	sb_reporter_free(&r);
}

/*
 * Processes logging at once into one stderr: every line stays whole,
 * because each is written with a single write(2).
 */
static void
test_concurrent_lines(void **state)
{
	enum { NPROC = 4, NLINES = 200 };
	char		 path[] = "/tmp/sb-test-report-XXXXXX", pad[400];
	char		*buf, *p, *nl;
	int		 fd, saved, status, seen[NPROC] = { 0 };
	size_t		 total = 0;
	ssize_t		 n;
	pid_t		 pid[NPROC];

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("t", SB_LOG_INFO);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	for (int i = 0; i < NPROC; i++) {
		if ((pid[i] = fork()) == 0) {
			char who[8];

			snprintf(who, sizeof(who), "%d", i);
			for (int j = 0; j < NLINES; j++) {
				const char *kv[] = { "who", who, NULL };
				sb_logkv(SB_LOG_INFO, "load", kv, "%d %s", j, pad);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < NPROC; i++)
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	while ((n = pread(fd, buf + total, (1 << 20) - 1 - total,
	    (off_t)total)) > 0)
		total += (size_t)n;
	buf[total] = '\0';
	close(fd);
	for (p = buf; *p != '\0'; p = nl + 1) {
		struct json_object *o;

		assert_non_null(nl = strchr(p, '\n'));
		*nl = '\0';
		o = parse(p);
		long who = strtol(field(o, "who"), NULL, 10);
		assert_in_range(who, 0, NPROC - 1);
		seen[who]++;
		json_object_put(o);
	}
	for (int i = 0; i < NPROC; i++)
		assert_int_equal(seen[i], NLINES);
	free(buf);
}

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int
listen_local(int *port)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

enum mode { ANSWER_200, ANSWER_500, HANG };

/*
 * Fork a one-request HTTP server: it reads the request (headers and a
 * Content-Length body), writes it to out, and answers as mode says.
 */
static pid_t
serve_once(int lfd, enum mode mode, int out)
{
	pid_t	pid;

	if ((pid = fork()) != 0) {
		assert_true(pid > 0);
		return pid;
	}
	{
		char		 req[65536];
		size_t		 len = 0, need = 0;
		ssize_t		 n;
		const char	*answer;
		int		 fd;

		alarm(20);	/* never outlive a broken test */
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		while (len < sizeof(req) - 1) {
			char *end, *cl;

			if ((n = read(fd, req + len, sizeof(req) - 1 - len)) <= 0)
				break;
			len += (size_t)n;
			req[len] = '\0';
			if ((end = strstr(req, "\r\n\r\n")) == NULL)
				continue;
			if (need == 0) {
				cl = strcasestr(req, "\r\nContent-Length: ");
				need = (size_t)(end + 4 - req) +
				    (cl != NULL ? strtoul(cl + 18, NULL, 10) : 0);
			}
			if (len >= need)
				break;
		}
		if (write(out, req, len) != (ssize_t)len)
			_exit(2);
		if (mode == HANG) {
			sleep(10);
			_exit(0);
		}
		answer = mode == ANSWER_200 ?
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "Connection: close\r\n\r\nok" :
		    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
		    "Connection: close\r\n\r\nboom";
		if (write(fd, answer, strlen(answer)) < 0)
			_exit(3);
		close(fd);
		_exit(0);
	}
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The request the server saw, NUL-terminated, from the pipe. */
static void
read_request(int fd, char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len - 1 && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
}

static void
test_webhook_ok(void **state)
{
	struct capture		 c;
	struct sb_reporter	*r = NULL;
	struct json_object	*o;
	char			 url[128], req[65536];
	const char		*body;
	int			 lfd, port, p[2], status;
	pid_t			 pid;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backup-cron", SB_LOG_INFO);
	lfd = listen_local(&port);
	assert_int_equal(pipe(p), 0);
	pid = serve_once(lfd, ANSWER_200, p[1]);
	close(p[1]);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook/T0K3N", port);
	assert_int_equal(sb_reporter_new(&r, url, 5), SB_OK);
	capture_begin(&c);
	sb_report(r, "backup.failed", SB_ERR_STORAGE, NULL,
	    "upload failed: \"503\"");
	capture_end(&c);
	read_request(p[0], req, sizeof(req));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lfd);
	sb_reporter_free(&r);

	/* One line (success is debug), and the POST carried it exactly. */
	assert_int_equal(c.nline, 1);
	assert_true(strncmp(req, "POST /hook/T0K3N HTTP/1.1\r\n", 27) == 0);
	assert_non_null(strcasestr(req, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strcasestr(req, "\r\nUser-Agent: safbackup/"));
	body = strstr(req, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_string_equal(body, c.line[0]);
	o = parse(body);
	assert_string_equal(field(o, "event"), "backup.failed");
	assert_string_equal(field(o, "code"), "STORAGE_ERROR");
	assert_string_equal(field(o, "msg"), "upload failed: \"503\"");
	assert_true(has_field(o, "backup_id"));
	json_object_put(o);
}

static void
test_webhook_http_error(void **state)
{
	struct capture		 c;
	struct sb_reporter	*r = NULL;
	struct json_object	*o;
	char			 url[128], req[65536];
	int			 lfd, port, p[2], status;
	pid_t			 pid;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backup-cron", SB_LOG_INFO);
	lfd = listen_local(&port);
	assert_int_equal(pipe(p), 0);
	pid = serve_once(lfd, ANSWER_500, p[1]);
	close(p[1]);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook/T0K3N", port);
	assert_int_equal(sb_reporter_new(&r, url, 5), SB_OK);
	capture_begin(&c);
	sb_report(r, "restore.failed", SB_ERR_CORRUPT, NULL, "bad sha256");
	capture_end(&c);
	read_request(p[0], req, sizeof(req));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(lfd);
	sb_reporter_free(&r);

	assert_int_equal(c.nline, 2);
	o = parse(c.line[1]);
	assert_string_equal(field(o, "level"), "warn");
	assert_string_equal(field(o, "event"), "report.webhook_failed");
	assert_string_equal(field(o, "http_status"), "500");
	assert_string_equal(field(o, "reported_event"), "restore.failed");
	assert_non_null(field(o, "error"));
	json_object_put(o);
	/* The URL (and its token) is never logged. */
	assert_null(strstr(c.line[1], "T0K3N"));
}

static void
test_webhook_unreachable(void **state)
{
	struct capture		 c;
	struct sb_reporter	*r = NULL;
	struct json_object	*o;
	char			 url[128];
	double			 t0;
	int			 lfd, port;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backup-cron", SB_LOG_INFO);
	/* A port that was just free and is closed now: refused at once. */
	lfd = listen_local(&port);
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook/T0K3N", port);
	/* Refused at once, not after the (long) timeout; the margin is for
	 * slow machines and valgrind. */
	assert_int_equal(sb_reporter_new(&r, url, 60), SB_OK);
	t0 = now_s();
	capture_begin(&c);
	sb_report(r, "backup.failed", SB_ERR_IO, NULL, "disk full");
	capture_end(&c);
	assert_true(now_s() - t0 < 20.0);
	sb_reporter_free(&r);
	assert_int_equal(c.nline, 2);
	o = parse(c.line[0]);
	assert_string_equal(field(o, "event"), "backup.failed");
	json_object_put(o);
	o = parse(c.line[1]);
	assert_string_equal(field(o, "level"), "warn");
	assert_string_equal(field(o, "event"), "report.webhook_failed");
	assert_false(has_field(o, "http_status"));
	assert_non_null(strstr(field(o, "error"), "onnect"));
	json_object_put(o);
	assert_null(strstr(c.line[1], "T0K3N"));
}

static void
test_webhook_timeout(void **state)
{
	struct capture		 c;
	struct sb_reporter	*r = NULL;
	struct json_object	*o;
	char			 url[128], req[65536];
	double			 t0, dt;
	int			 lfd, port, p[2];
	pid_t			 pid;

	unsetenv("SAFBACKUP_LOG_LEVEL");
	sb_log_init("backup-cron", SB_LOG_INFO);
	lfd = listen_local(&port);
	assert_int_equal(pipe(p), 0);
	pid = serve_once(lfd, HANG, p[1]);
	close(p[1]);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	assert_int_equal(sb_reporter_new(&r, url, 1), SB_OK);
	t0 = now_s();
	capture_begin(&c);
	sb_report(r, "backup.failed", SB_ERR_IO, NULL, "x");
	capture_end(&c);
	dt = now_s() - t0;
	/* The server never answers: only the 1 s timeout ends the wait
	 * (generous upper bound for loaded machines). */
	assert_true(dt >= 0.9 && dt < 20.0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	read_request(p[0], req, sizeof(req));
	close(p[0]);
	close(lfd);
	sb_reporter_free(&r);
	assert_int_equal(c.nline, 2);
	o = parse(c.line[1]);
	assert_string_equal(field(o, "event"), "report.webhook_failed");
	assert_non_null(strstr(field(o, "error"), "imed out"));
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_line),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_logkv),
		cmocka_unit_test(test_report_no_webhook),
		cmocka_unit_test(test_concurrent_lines),
		cmocka_unit_test(test_webhook_ok),
		cmocka_unit_test(test_webhook_http_error),
		cmocka_unit_test(test_webhook_unreachable),
		cmocka_unit_test(test_webhook_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
