/*
 * report.c - structured logging (one JSON object per line on stderr) and
 * the error reporter (the same object POSTed to a webhook).
 *
 * A line is built with json-c, so every string is escaped as RFC 8259
 * asks, and written with one write(2): lines from concurrent workers
 * sharing a stderr pipe or an O_APPEND file do not interleave (POSIX makes
 * pipe writes of at most PIPE_BUF bytes atomic; lines are kept short).
 * Strings are made valid UTF-8 first (bad bytes become '?') so that every
 * line is valid JSON whatever a caller passes.
 *
 * Nothing here knows a secret: callers must not pass one. The webhook URL
 * (which often embeds a token) is never logged.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "report.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

#define MSG_MAX		2048	/* bytes of a message, longer ones cut */
#define FIELD_MAX	1024	/* bytes of one extra field's value */
#define LINE_MAX_	16384	/* bytes of a whole line, newline included */

static const char *const levelstr[SB_LOG__MAX] = {
	"debug", "info", "warn", "error"
};

/* Fields every line has; extra fields may not replace them. */
static const char *const reserved[] = {
	"ts", "level", "component", "event", "msg", NULL
};

static char		log_component[64] = "safbackup";
static enum sb_level	log_min = SB_LOG_INFO;
static int		log_ready;

struct sb_reporter {
	char		*webhook;	/* NULL: log only */
	unsigned	 timeout_s;
};

/*
 * Set the component named in every line and the least level printed;
 * SAFBACKUP_LOG_LEVEL (debug, info, warn, error) overrides min. Call it
 * once, early, before any thread starts.
 */
void
sb_log_init(const char *component, enum sb_level min)
{
	const char	*env;

	sb_strlcpy(log_component, component != NULL && *component != '\0' ?
	    component : "safbackup", sizeof(log_component));
	log_min = (unsigned)min < SB_LOG__MAX ? min : SB_LOG_INFO;
	if ((env = getenv("SAFBACKUP_LOG_LEVEL")) != NULL) {
		for (int i = 0; i < SB_LOG__MAX; i++)
			if (strcasecmp(env, levelstr[i]) == 0)
				log_min = (enum sb_level)i;
		if (strcasecmp(env, "warning") == 0)
			log_min = SB_LOG_WARN;
	}
	log_ready = 1;
}

static void
log_lazy_init(void)
{
	if (!log_ready)
		sb_log_init(NULL, SB_LOG_INFO);
}

/*
 * Copy src into dst (len bytes, NUL included) keeping only well-formed
 * UTF-8: each byte that does not start a valid sequence becomes '?'. A
 * sequence cut by the end of dst is dropped.
 */
static void
utf8_clean(char *dst, size_t len, const char *src)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 o = 0, n, avail;

	if (len == 0)
		return;
	while (*s != '\0') {
		avail = strnlen((const char *)s, 4);
		if (*s < 0x80)
			n = 1;
		else if (*s >= 0xc2 && *s <= 0xdf)
			n = 2;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 3;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 4;
		else
			n = 0;
		if (n == 0 || n > avail ||
		    !sb_is_utf8((const char *)s, n)) {
			if (o + 1 >= len)
				break;
			dst[o++] = '?';
			s++;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(dst + o, s, n);
		o += n;
		s += n;
	}
	dst[o] = '\0';
}

/* Add key: value (value cleaned; NULL gives JSON null). SB_ERR_NOMEM. */
static enum sb_err
add_str(struct json_object *o, const char *key, const char *val, size_t max)
{
	struct json_object	*v = NULL;
	char			*buf;

	if (val != NULL) {
		if ((buf = malloc(max)) == NULL)
			return SB_ERR_NOMEM;
		utf8_clean(buf, max, val);
		v = json_object_new_string(buf);
		free(buf);
		if (v == NULL)
			return SB_ERR_NOMEM;
	}
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return SB_ERR_NOMEM;
	}
	return SB_OK;
}

/*
 * Build the object of one line: ts, level, component, event, msg, then
 * the extra fields of kv ({"key","value",...,NULL}; a reserved or
 * malformed key is skipped, a NULL value is null). Returns a new object
 * (json_object_put() it) or NULL when out of memory.
 */
static struct json_object *
build(enum sb_level level, const char *event, const char *const *kv,
    const char *msg)
{
	struct json_object	*o;
	char			 ts[32], key[64];
	size_t			 i;
	int			 skip;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (sb_time_format(sb_now_ms(), ts, sizeof(ts)) != SB_OK)
		sb_strlcpy(ts, "1970-01-01T00:00:00.000Z", sizeof(ts));
	if (add_str(o, "ts", ts, sizeof(ts)) ||
	    add_str(o, "level", levelstr[level], 8) ||
	    add_str(o, "component", log_component, sizeof(log_component)) ||
	    add_str(o, "event", event != NULL ? event : "log", 128) ||
	    add_str(o, "msg", msg != NULL ? msg : "", MSG_MAX))
		goto fail;
	for (i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		utf8_clean(key, sizeof(key), kv[i]);
		skip = key[0] == '\0';
		for (size_t r = 0; reserved[r] != NULL; r++)
			if (strcmp(key, reserved[r]) == 0)
				skip = 1;
		if (!skip && add_str(o, key, kv[i + 1], FIELD_MAX))
			goto fail;
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/*
 * Write the object as one line with one write(2) (a second one only for
 * what a short write left over). Errors are ignored: there is nowhere
 * left to report them.
 */
static void
emit(struct json_object *o)
{
	static const char	 oom[] =
	    "{\"level\":\"error\",\"event\":\"log.nomem\"}\n";
	const char		*s;
	char			*line = NULL;
	size_t			 len = 0, off = 0;
	ssize_t			 n;

	s = o == NULL ? NULL : json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL || len + 1 > LINE_MAX_ || (line = malloc(len + 1)) == NULL) {
		s = oom;
		len = sizeof(oom) - 1;
	} else {
		memcpy(line, s, len);
		line[len++] = '\n';
		s = line;
	}
	while (off < len) {
		if ((n = write(STDERR_FILENO, s + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	free(line);
}

/* Format fmt into a MSG_MAX buffer; a cut message ends in "...". */
static void
format_msg(char *buf, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
format_msg(char *buf, const char *fmt, va_list ap)
{
	int	n;

	if (fmt == NULL) {
		buf[0] = '\0';
		return;
	}
	n = vsnprintf(buf, MSG_MAX, fmt, ap);
	if (n < 0)
		sb_strlcpy(buf, "(message could not be formatted)", MSG_MAX);
	else if (n >= MSG_MAX)
		memcpy(buf + MSG_MAX - 4, "...", 4);
}

static void
vlogkv(enum sb_level level, const char *event, const char *const *kv,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
vlogkv(enum sb_level level, const char *event, const char *const *kv,
    const char *fmt, va_list ap)
{
	struct json_object	*o;
	char			*msg;

	log_lazy_init();
	if ((unsigned)level >= SB_LOG__MAX)
		level = SB_LOG_ERROR;
	if (level < log_min)
		return;
	if ((msg = malloc(MSG_MAX)) == NULL) {
		emit(NULL);
		return;
	}
	format_msg(msg, fmt, ap);
	o = build(level, event, kv, msg);
	emit(o);
	json_object_put(o);
	free(msg);
}

void
sb_log(enum sb_level level, const char *event, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlogkv(level, event, NULL, fmt, ap);
	va_end(ap);
}

void
sb_logkv(enum sb_level level, const char *event, const char *const *kv,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlogkv(level, event, kv, fmt, ap);
	va_end(ap);
}

/*
 * A reporter: log only (webhook NULL or "") or log and POST to an http or
 * https webhook, each POST bounded by timeout_s seconds (0: 5). Returns
 * SB_ERR_INVAL for a webhook that is not an http(s) URL. *out is freed
 * with sb_reporter_free().
 */
enum sb_err
sb_reporter_new(struct sb_reporter **out, const char *webhook,
    unsigned timeout_s)
{
	struct sb_reporter	*r;

	*out = NULL;
	if (webhook != NULL && *webhook == '\0')
		webhook = NULL;
	if (webhook != NULL && strncmp(webhook, "http://", 7) != 0 &&
	    strncmp(webhook, "https://", 8) != 0)
		return SB_ERR_INVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SB_ERR_NOMEM;
	r->timeout_s = timeout_s == 0 ? 5 : timeout_s;
	if (webhook != NULL) {
		if ((r->webhook = strdup(webhook)) == NULL) {
			free(r);
			return SB_ERR_NOMEM;
		}
		/* Paired with curl_global_cleanup() in sb_reporter_free(). */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			free(r->webhook);
			free(r);
			return SB_ERR_NOMEM;
		}
	}
	*out = r;
	return SB_OK;
}

void
sb_reporter_free(struct sb_reporter **pr)
{
	struct sb_reporter	*r;

	if (pr == NULL || (r = *pr) == NULL)
		return;
	if (r->webhook != NULL) {
		explicit_bzero(r->webhook, strlen(r->webhook));
		free(r->webhook);
		curl_global_cleanup();
	}
	free(r);
	*pr = NULL;
}

/* The webhook's answer body is of no interest. */
static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/*
 * POST body (JSON) to the reporter's webhook. Any failure -- transport,
 * timeout, or an HTTP status >= 400 (CURLOPT_FAILONERROR) -- is logged at
 * warn as report.webhook_failed with curl's message and the status, never
 * with the URL, and otherwise ignored.
 */
static void
webhook_post(const struct sb_reporter *r, const char *event,
    const char *body, size_t len)
{
	CURL			*h = NULL;
	struct curl_slist	*hdrs = NULL, *t;
	char			 errbuf[CURL_ERROR_SIZE], status[24];
	const char		*kv[7];
	long			 code = 0;
	CURLcode		 res;

	errbuf[0] = '\0';
	if ((h = curl_easy_init()) == NULL) {
		res = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	if ((t = curl_slist_append(hdrs,
	    "Content-Type: application/json")) == NULL) {
		res = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	hdrs = t;
	if ((res = curl_easy_setopt(h, CURLOPT_URL, r->webhook)) != CURLE_OK)
		goto out;
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "safbackup/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)r->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)r->timeout_s);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
out:
	if (res != CURLE_OK) {
		snprintf(status, sizeof(status), "%ld", code);
		kv[0] = "error";
		kv[1] = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(res);
		kv[2] = "reported_event";
		kv[3] = event;
		kv[4] = code > 0 ? "http_status" : NULL;
		kv[5] = code > 0 ? status : NULL;
		kv[6] = NULL;
		sb_logkv(SB_LOG_WARN, "report.webhook_failed", kv,
		    "the error webhook failed: %s", kv[1]);
	} else
		sb_log(SB_LOG_DEBUG, "report.webhook_sent",
		    "error reported to the webhook (HTTP %ld)", code);
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
}

/*
 * The object of a report, logged (log) and POSTed to r's webhook (post),
 * as the public functions below ask.
 */
static void
report(struct sb_reporter *r, const char *event, enum sb_err e,
    const char *backup_id, const char *msg, int log, int post)
{
	struct json_object	*o;
	const char		*kv[5], *body;
	size_t			 len = 0;

	log_lazy_init();
	kv[0] = "code";
	kv[1] = sb_errcode(e);
	kv[2] = "backup_id";
	kv[3] = backup_id;
	kv[4] = NULL;
	o = build(SB_LOG_ERROR, event, kv, msg != NULL ? msg : sb_strerror(e));
	if (log && SB_LOG_ERROR >= log_min)
		emit(o);
	if (post && o != NULL && r != NULL && r->webhook != NULL &&
	    (body = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &len)) != NULL)
		webhook_post(r, event, body, len);
	json_object_put(o);
}

/*
 * Report a failure: one error line with event, code (the stable
 * sb_errcode()), backup_id (null when NULL) and msg; then, if r has a
 * webhook, the same JSON object POSTed to it. r may be NULL (log only).
 * Never fails: a webhook failure is itself only logged.
 */
void
sb_report(struct sb_reporter *r, const char *event, enum sb_err e,
    const char *backup_id, const char *msg)
{
	report(r, event, e, backup_id, msg, 1, 1);
}

/* The log line of sb_report() alone. */
void
sb_report_log(struct sb_reporter *r, const char *event, enum sb_err e,
    const char *backup_id, const char *msg)
{
	report(r, event, e, backup_id, msg, 1, 0);
}

/* The webhook POST of sb_report() alone (nothing if r has no webhook). */
void
sb_report_post(struct sb_reporter *r, const char *event, enum sb_err e,
    const char *backup_id, const char *msg)
{
	if (r != NULL && r->webhook != NULL)
		report(r, event, e, backup_id, msg, 0, 1);
}

/* Whether r has a webhook to POST to. */
int
sb_is_webhook_set(const struct sb_reporter *r)
{
	return r != NULL && r->webhook != NULL;
}
