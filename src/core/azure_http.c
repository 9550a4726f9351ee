/*
 * azure_http.c - one request of the Azure store (Azure Storage REST API,
 * x-ms-version AZ_VERSION): the URL and headers of a call, its Shared Key
 * signature, the curl handle's setup and callbacks, the verdict on each
 * attempt, retries with backoff, and the error message of a failure.
 *
 * Retries: timeouts, connection errors and 408, 429, 500, 502, 503, 504
 * are retried up to az_retries times with exponential backoff and equal
 * jitter, or after Retry-After when the server sends one; other 4xx are
 * final. Errors read "azure: <op> <name>: <status> <x-ms-error-code>
 * (request id <x-ms-request-id>)"; 401/403 map to SB_ERR_AUTH, 404 to
 * SB_ERR_NOTFOUND, the rest to SB_ERR_STORAGE. No secret (key, SAS,
 * signature, URL query) ever enters a message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "azure_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init, once per process whatever the threads. */
enum sb_err
az_http_global_init(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_init_rc == CURLE_OK ? SB_OK : SB_ERR_STORAGE;
}

void
az_sleep_ms(int64_t ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * The wait before retry number attempt (0-based): Retry-After when the
 * server gave one (capped), else "equal jitter" over an exponential
 * window ("Exponential Backoff And Jitter", AWS Architecture Blog):
 * uniform in [w/2, w], w = min(cap, base * 2^attempt). Half the window
 * is always waited, so a retry never comes at once; the other half
 * spreads the clients apart.
 */
int64_t
az_backoff_ms(unsigned attempt, long retry_after)
{
	uint32_t	r = 0;
	int64_t		w = AZ_BACKOFF_BASE;

	if (retry_after >= 0)
		return (int64_t)(retry_after > AZ_RETRY_AFTER_CAP ?
		    AZ_RETRY_AFTER_CAP : retry_after) * 1000;
	while (attempt-- > 0 && w < AZ_BACKOFF_CAP)
		w *= 2;
	if (w > AZ_BACKOFF_CAP)
		w = AZ_BACKOFF_CAP;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)sb_mono_ms();
	return w / 2 + (int64_t)(r % (uint32_t)(w / 2 + 1));
}

void
az_call_clear(struct az_call *c)
{
	size_t	i;

	for (i = 0; i < c->nxms; i++)
		free(c->xms[i]);
	memset(c, 0, sizeof(*c));
	c->body.fd = -1;
}

void
az_call_init(struct az_call *c, const char *op, const char *method,
    const char *name)
{
	memset(c, 0, sizeof(*c));
	c->body.fd = -1;
	c->op = op;
	c->method = method;
	c->name = name;
}

enum sb_err
az_call_xms(struct az_call *c, const char *name, const char *val)
{
	size_t	 len;
	char	*s;

	if (c->nxms >= AZ_XMS_MAX)
		return SB_ERR_INVAL;
	len = strlen(name) + strlen(val) + 2;
	if ((s = malloc(len)) == NULL)
		return SB_ERR_NOMEM;
	snprintf(s, len, "%s:%s", name, val);
	c->xms[c->nxms++] = s;
	return SB_OK;
}

void
az_call_qp(struct az_call *c, const char *name, const char *val)
{
	if (c->nqp < AZ_QP_MAX) {
		c->qp[c->nqp].name = name;
		c->qp[c->nqp].val = val;
		c->nqp++;
	}
}

/* Add x-ms-meta-<key> headers for meta, values encoded (see top). */
enum sb_err
az_call_meta(struct az_call *c, const struct sb_meta *m)
{
	char	 hname[sizeof("x-ms-meta-") + SB_META_KEY_MAX];
	char	*enc = NULL;
	size_t	 i;
	int	 rc;

	for (i = 0; m != NULL && i < m->n; i++) {
		if (!sb_is_meta_key(m->kv[i].key))
			return SB_ERR_INVAL;
		snprintf(hname, sizeof(hname), "x-ms-meta-%s", m->kv[i].key);
		if ((rc = az_meta_encode(m->kv[i].val, &enc)) != SB_OK)
			return rc;
		rc = az_call_xms(c, hname, enc);
		free(enc);
		if (rc != SB_OK)
			return rc;
	}
	return SB_OK;
}

void
az_resp_reset(struct az_resp *r, struct az_call *c)
{
	unsigned	timeout = r->timeout;
	int64_t		moved_ms = r->moved_ms;
	curl_off_t	dl = r->moved_dl, ul = r->moved_ul;
	CURL		*easy = r->easy;

	sb_meta_clear(&r->meta);
	memset(r, 0, sizeof(*r));
	r->easy = easy;
	r->timeout = timeout;
	r->moved_ms = moved_ms;
	r->moved_dl = dl;
	r->moved_ul = ul;
	r->retry_after = -1;
	r->clen = -1;
	r->range_total = -1;
	r->mtime = -1;
	r->call = c;
}

/* Copy a header value, trimmed, into a bounded field. */
static void
hval(char *dst, size_t len, const char *v, size_t vlen)
{
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
	    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= len)
		vlen = len - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

/*
 * CURLOPT_HEADERFUNCTION: one header line at a time (RFC 9112 section 5).
 * A status line starts a new response (curl may show interim ones); its
 * code is curl's CURLINFO_RESPONSE_CODE.
 */
static size_t
on_header(char *buf, size_t sz, size_t n, void *arg)
{
	struct az_resp	*r = arg;
	size_t		 len = sz * n, nlen;
	const char	*colon;
	char		 v[SB_META_VAL_MAX * 3 + 8], *dec = NULL, key[80];
	int64_t		 x;
	int		 rc;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/*
		 * A new response (an interim 1xx, or the next attempt's):
		 * forget the last one's headers. curl has parsed the status
		 * line before it shows it to us.
		 */
		az_resp_reset(r, r->call);
		if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
		    &r->status) != CURLE_OK)
			r->status = 0;
		return len;
	}
	if ((colon = memchr(buf, ':', len)) == NULL)
		return len;
	nlen = (size_t)(colon - buf);
	hval(v, sizeof(v), colon + 1, len - nlen - 1);
#define IS(h) (nlen == strlen(h) && strncasecmp(buf, h, nlen) == 0)
	if (IS("x-ms-error-code"))
		sb_strlcpy(r->code, v, sizeof(r->code));
	else if (IS("x-ms-request-id"))
		sb_strlcpy(r->reqid, v, sizeof(r->reqid));
	else if (IS("ETag"))
		sb_strlcpy(r->etag, v, sizeof(r->etag));
	else if (IS("Retry-After")) {
		/* Seconds, or an HTTP date (RFC 9110 section 10.2.3). */
		if (sb_parse_i64(v, 0, 86400, &x) == SB_OK)
			r->retry_after = (long)x;
		else if ((x = az_http_date(v)) >= 0)
			r->retry_after = x / 1000 > (int64_t)time(NULL) ?
			    (long)(x / 1000 - (int64_t)time(NULL)) : 0;
	} else if (IS("Content-Length")) {
		if (sb_parse_i64(v, 0, INT64_MAX, &x) == SB_OK)
			r->clen = x;
	} else if (IS("Content-Range")) {
		const char *slash = strrchr(v, '/');

		if (slash != NULL &&
		    sb_parse_i64(slash + 1, 0, INT64_MAX, &x) == SB_OK)
			r->range_total = x;
	} else if (IS("Last-Modified"))
		r->mtime = az_http_date(v);
	else if (r->call != NULL && r->call->want_meta && nlen > 10 &&
	    strncasecmp(buf, "x-ms-meta-", 10) == 0 &&
	    nlen - 10 < sizeof(key)) {
		size_t	i;

		for (i = 0; i < nlen - 10; i++)
			key[i] = (buf[10 + i] >= 'A' && buf[10 + i] <= 'Z') ?
			    (char)(buf[10 + i] - 'A' + 'a') : buf[10 + i];
		key[i] = '\0';
		if ((rc = az_meta_decode(v, &dec)) == SB_OK)
			rc = sb_meta_set(&r->meta, key, dec);
		if (rc == SB_ERR_NOMEM)
			r->metaerr = rc;
		free(dec);
	}
#undef IS
	return len;
}

/*
 * CURLOPT_WRITEFUNCTION: a 2xx body goes to the call's sink; an error
 * body is kept (bounded) for the message; other bodies are dropped.
 */
static size_t
on_body(char *buf, size_t sz, size_t n, void *arg)
{
	struct az_resp	*r = arg;
	size_t		 len = sz * n, room;
	int		 rc;

	if (r->status >= 200 && r->status < 300) {
		if (r->call->sink == NULL)
			return len;
		if ((rc = r->call->sink(r->call->sinkarg, buf, len)) !=
		    SB_OK) {
			r->sinkerr = rc;
			return 0;	/* CURLE_WRITE_ERROR */
		}
		return len;
	}
	room = sizeof(r->body) - 1 - r->bodylen;
	if (len < room)
		room = len;
	memcpy(r->body + r->bodylen, buf, room);
	r->bodylen += room;
	r->body[r->bodylen] = '\0';
	return len;
}

/*
 * CURLOPT_XFERINFOFUNCTION: curl calls it at least once a second. A
 * request during which no byte moved either way for timeout seconds is
 * abandoned as timed out (and retried). curl's own low-speed limit does
 * not cover the wait for a response once the body is sent.
 */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct az_resp	*r = arg;
	int64_t		 now = sb_mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow != r->moved_dl || ulnow != r->moved_ul) {
		r->moved_dl = dlnow;
		r->moved_ul = ulnow;
		r->moved_ms = now;
		return 0;
	}
	if (now - r->moved_ms > (int64_t)r->timeout * 1000) {
		r->stalled = 1;
		return 1;	/* CURLE_ABORTED_BY_CALLBACK */
	}
	return 0;
}

/* CURLOPT_READFUNCTION: the upload body, from memory or by pread. */
static size_t
on_read(char *buf, size_t sz, size_t n, void *arg)
{
	struct az_body	*b = arg;
	size_t		 len = sz * n;
	ssize_t		 got;

	if (len > b->len - b->pos)
		len = (size_t)(b->len - b->pos);
	if (len == 0)
		return 0;
	if (b->fd < 0) {
		memcpy(buf, b->buf + b->pos, len);
	} else {
		do
			got = pread(b->fd, buf, len, b->off + (off_t)b->pos);
		while (got == -1 && errno == EINTR);
		if (got <= 0) {
			b->ioerr = got == 0 ? EIO : errno;
			return CURL_READFUNC_ABORT;
		}
		len = (size_t)got;
	}
	b->pos += len;
	return len;
}

/* CURLOPT_SEEKFUNCTION: curl rewinds to resend on a fresh connection. */
static int
on_seek(void *arg, curl_off_t off, int whence)
{
	struct az_body	*b = arg;

	if (whence != SEEK_SET || off < 0 || (uint64_t)off > b->len)
		return CURL_SEEKFUNC_FAIL;
	b->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* "Thu, 26 Nov 2026 04:34:32 GMT", locale-independent (RFC 7231 7.1.1.1). */
static void
http_now(char *buf, size_t len)
{
	static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const mons[12] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	tm;
	time_t		t = time(NULL);

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
az_wire_clear(struct az_wire *w)
{
	curl_slist_free_all(w->hdrs);
	free(w->url);
	w->hdrs = NULL;
	w->url = NULL;
}

/*
 * One transfer of a parallel pipeline (Put Block slots, ranged GETs):
 * set it up and put it on the store's multi handle. On failure nothing
 * is left on the handle.
 */
enum sb_err
az_multi_add(struct az_store *st, CURL *easy, struct az_call *c,
    struct az_resp *r, struct az_wire *w)
{
	enum sb_err	rc;

	if ((rc = az_setup(st, easy, c, r, w)) != SB_OK)
		return rc;
	if (curl_multi_add_handle(st->multi, easy) != CURLM_OK) {
		az_wire_clear(w);
		return SB_ERR_STORAGE;
	}
	return SB_OK;
}

/* Release such a transfer: off the multi handle if in flight, then all. */
void
az_multi_release(struct az_store *st, CURL *easy, int in_flight,
    struct az_call *c, struct az_resp *r, struct az_wire *w)
{
	if (easy != NULL) {
		if (in_flight)
			curl_multi_remove_handle(st->multi, easy);
		curl_easy_cleanup(easy);
	}
	az_wire_clear(w);
	az_call_clear(c);
	sb_meta_clear(&r->meta);
}

static enum sb_err
slist_add(struct curl_slist **l, const char *s)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(*l, s)) == NULL)
		return SB_ERR_NOMEM;
	*l = n;
	return SB_OK;
}

/*
 * The path of call, "<endpoint path>/<container>[/<name>]", percent-
 * encoded, into *path (heap, the caller frees); and its URL, "endpoint
 * up to its path, the path, ?query[&sas]", into w->url.
 */
static enum sb_err
build_url(struct az_store *st, const struct az_call *c, char **path,
    struct az_wire *w)
{
	char	*encname = NULL, *enccont = NULL, *v = NULL;
	size_t	 i, len, off;
	int	 rc = SB_ERR_NOMEM;

	*path = NULL;
	if (az_url_encode(st->container, 0, &enccont) != SB_OK ||
	    (c->name != NULL && az_url_encode(c->name, 1, &encname) != SB_OK))
		goto out;
	len = strlen(st->cred.path) + strlen(enccont) +
	    (encname ? strlen(encname) : 0) + 3;
	if ((*path = malloc(len)) == NULL)
		goto out;
	snprintf(*path, len, "%s/%s%s%s", st->cred.path, enccont,
	    encname ? "/" : "", encname ? encname : "");

	len = strlen(st->cred.endpoint) + strlen(*path) + 2 +
	    (st->cred.sas ? strlen(st->cred.sas) + 1 : 0);
	for (i = 0; i < c->nqp; i++)
		len += strlen(c->qp[i].name) + 3 * strlen(c->qp[i].val) + 2;
	if ((w->url = malloc(len)) == NULL)
		goto out;
	off = (size_t)(st->cred.path - st->cred.endpoint);
	memcpy(w->url, st->cred.endpoint, off);
	off += (size_t)snprintf(w->url + off, len - off, "%s", *path);
	for (i = 0; i < c->nqp; i++) {
		if (az_url_encode(c->qp[i].val, 0, &v) != SB_OK)
			goto out;
		off += (size_t)snprintf(w->url + off, len - off, "%c%s=%s",
		    i == 0 ? '?' : '&', c->qp[i].name, v);
		free(v);
		v = NULL;
	}
	if (st->cred.sas != NULL)
		snprintf(w->url + off, len - off, "%c%s",
		    c->nqp == 0 ? '?' : '&', st->cred.sas);
	rc = SB_OK;
out:
	free(v);
	free(encname);
	free(enccont);
	return rc;
}

/* Add "name: value" to the list, when value is set. */
static enum sb_err
slist_addf(struct curl_slist **l, const char *name, const char *value)
{
	char	line[192];

	if (value == NULL || value[0] == '\0')
		return SB_OK;
	snprintf(line, sizeof(line), "%s: %s", name, value);
	return slist_add(l, line);
}

/* The Authorization line of call (Shared Key), added to w->hdrs. */
static enum sb_err
add_auth(struct az_store *st, const struct az_call *c, const char *path,
    const char *const *xms, struct az_wire *w)
{
	struct az_sigreq	 sig;
	char			 auth[256];
	int			 rc;

	memset(&sig, 0, sizeof(sig));
	sig.method = c->method;
	sig.path = path;
	sig.qp = c->qp;
	sig.nqp = c->nqp;
	sig.xms = xms;
	sig.nxms = c->nxms + 2;
	sig.content_length = strcmp(c->method, "PUT") == 0 ? c->body.len : 0;
	sig.content_md5 = c->md5[0] ? c->md5 : NULL;
	sig.if_match = c->if_match[0] ? c->if_match : NULL;
	sig.if_none_match = c->if_none_match ? "*" : NULL;
	if ((rc = az_sign(&st->cred, &sig, auth, sizeof(auth))) != SB_OK)
		return rc;
	rc = slist_add(&w->hdrs, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	return rc;
}

/*
 * The request headers into w->hdrs: x-ms-date, x-ms-version, the call's
 * x-ms-* lines, Content-MD5, If-Match, If-None-Match, and Authorization
 * when signing with the key.
 */
static enum sb_err
build_headers(struct az_store *st, const struct az_call *c,
    const char *path, struct az_wire *w)
{
	const char	*xms[AZ_XMS_MAX + 2];
	char		 date[64], dline[80], line[192];
	size_t		 i, len;
	int		 rc;

	http_now(date, sizeof(date));
	snprintf(dline, sizeof(dline), "x-ms-date:%s", date);
	xms[0] = dline;
	xms[1] = "x-ms-version:" AZ_VERSION;
	for (i = 0; i < c->nxms; i++)
		xms[i + 2] = c->xms[i];
	for (i = 0; i < c->nxms + 2; i++) {
		/* curl drops "name:"; "name;" sends a header with no value. */
		len = strlen(xms[i]);
		if (len > 0 && xms[i][len - 1] == ':') {
			snprintf(line, sizeof(line), "%.*s;", (int)len - 1,
			    xms[i]);
			rc = slist_add(&w->hdrs, line);
		} else
			rc = slist_add(&w->hdrs, xms[i]);
		if (rc != SB_OK)
			return rc;
	}
	if ((rc = slist_add(&w->hdrs, "Expect:")) != SB_OK ||
	    (rc = slist_addf(&w->hdrs, "Content-MD5", c->md5)) != SB_OK ||
	    (rc = slist_addf(&w->hdrs, "If-Match", c->if_match)) != SB_OK ||
	    (rc = slist_addf(&w->hdrs, "If-None-Match",
	    c->if_none_match ? "*" : NULL)) != SB_OK)
		return rc;
	if (st->cred.key != NULL)
		return add_auth(st, c, path, xms, w);
	return SB_OK;
}

/* The curl options of one attempt: where, what, and the callbacks. */
static void
set_opts(struct az_store *st, CURL *easy, struct az_call *c,
    struct az_resp *r, struct az_wire *w)
{
	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_URL, w->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, (long)st->timeout);
	/* A stall of timeout seconds, in either direction, is a timeout. */
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
	if (strcmp(c->method, "PUT") == 0) {
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)c->body.len);
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(easy, CURLOPT_READDATA, &c->body);
		curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(easy, CURLOPT_SEEKDATA, &c->body);
		curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
	} else if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "DELETE") == 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
}

/*
 * Make easy ready for one attempt of call: URL (blob name and query
 * percent-encoded, SAS appended), headers (build_headers), body and
 * callbacks. w keeps what curl points to; the caller frees it with
 * az_wire_clear() after the transfer.
 */
enum sb_err
az_setup(struct az_store *st, CURL *easy, struct az_call *c, struct az_resp *r,
    struct az_wire *w)
{
	char	*path = NULL;
	int	 rc;

	memset(w, 0, sizeof(*w));
	r->easy = easy;
	r->timeout = st->timeout;
	r->moved_ms = sb_mono_ms();
	r->moved_dl = r->moved_ul = 0;
	az_resp_reset(r, c);
	c->body.pos = 0;
	c->body.ioerr = 0;
	if ((rc = build_url(st, c, &path, w)) == SB_OK &&
	    (rc = build_headers(st, c, path, w)) == SB_OK)
		set_opts(st, easy, c, r, w);
	free(path);
	if (rc != SB_OK)
		az_wire_clear(w);
	return rc;
}

/* Whether a curl failure is worth another attempt. */
static int
is_curl_retryable(const struct az_resp *r)
{
	if (r->sinkerr != SB_OK || r->call->body.ioerr != 0)
		return 0;
	if (r->stalled)
		return 1;
	switch (r->cc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_FUNCTION_NOT_FOUND:
		return 0;
	default:
		return 1;
	}
}

/* Judge one finished attempt. */
enum az_verdict
az_verdict(const struct az_resp *r)
{
	if (r->cc != CURLE_OK)
		return is_curl_retryable(r) ? AZ_RETRY : AZ_FAIL;
	if (r->status >= 200 && r->status < 300)
		return AZ_DONE;
	switch (r->status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		return AZ_RETRY;
	default:
		return AZ_FAIL;
	}
}

/*
 * Put the failure of call into the store's message and return its error:
 * "azure: PUT block list NAME: 403 AuthenticationFailed (request id X)",
 * with "after N attempts" when it was retried.
 */
enum sb_err
az_fail_msg(struct az_store *st, const struct az_call *c,
    const struct az_resp *r, unsigned attempts)
{
	char	 tries[48] = "";
	char	 what[SB_NAME_MAX + 64];
	int	 rc;

	if (attempts > 1)
		snprintf(tries, sizeof(tries), " after %u attempts", attempts);
	snprintf(what, sizeof(what), "azure: %s %s", c->op,
	    c->name != NULL ? c->name : st->container);
	if (r->sinkerr != SB_OK) {
		sb_seterr(st->base.err, "%s: %s", what,
		    r->sinkerr == SB_ERR_IO ? "the writer failed" :
		    sb_strerror(r->sinkerr));
		return r->sinkerr;
	}
	if (r->call->body.ioerr != 0) {
		sb_seterr(st->base.err, "%s: reading the local file: %s", what,
		    strerror(r->call->body.ioerr));
		return SB_ERR_IO;
	}
	if (r->cc != CURLE_OK && r->stalled) {
		sb_seterr(st->base.err, "%s: timed out (nothing moved for "
		    "%u s)", what, st->timeout);
		rc = SB_ERR_STORAGE;
		goto tail;
	}
	if (r->cc != CURLE_OK) {
		sb_seterr(st->base.err, "%s: %s%s%s%s", what,
		    curl_easy_strerror(r->cc), r->curlerr[0] ? " (" : "",
		    r->curlerr[0] ? r->curlerr : "",
		    r->curlerr[0] ? ")" : "");
		rc = SB_ERR_STORAGE;
		goto tail;
	}
	sb_seterr(st->base.err, "%s: %ld %s (request id %s)", what, r->status,
	    r->code[0] ? r->code : "(no error code)",
	    r->reqid[0] ? r->reqid : "none");
	if (r->status == 401 || r->status == 403)
		rc = SB_ERR_AUTH;
	else if (r->status == 404)
		rc = SB_ERR_NOTFOUND;
	else
		rc = SB_ERR_STORAGE;
tail:
	if (tries[0] != '\0') {
		size_t	len = strlen(st->base.err);

		snprintf(st->base.err + len, sizeof(st->base.err) - len, "%s",
		    tries);
	}
	return rc;
}

/*
 * Run call on the store's easy handle, retrying per the policy at the
 * top. On return r holds the last response. Returns SB_OK on a 2xx, else
 * the error (message set).
 */
enum sb_err
az_run(struct az_store *st, struct az_call *c, struct az_resp *r)
{
	struct az_wire		w;
	enum az_verdict		v;
	unsigned		attempt;
	int			rc;

	for (attempt = 0;; attempt++) {
		if ((rc = az_setup(st, st->easy, c, r, &w)) != SB_OK) {
			sb_seterr(st->base.err, "azure: %s: %s", c->op,
			    sb_strerror(rc));
			return rc;
		}
		r->cc = curl_easy_perform(st->easy);
		az_wire_clear(&w);
		if (r->metaerr != SB_OK) {
			sb_seterr(st->base.err, "azure: out of memory");
			return SB_ERR_NOMEM;
		}
		v = az_verdict(r);
		if (v == AZ_DONE)
			return SB_OK;
		if (v == AZ_FAIL || attempt >= st->retries)
			return az_fail_msg(st, c, r, attempt + 1);
		az_sleep_ms(az_backoff_ms(attempt, r->retry_after));
	}
}

/*
 * Whether name can be a blob name: Azure allows 1..1024 characters; ours
 * are at most SB_NAME_MAX bytes after a [store] prefix of at most
 * SB_PREFIX_MAX, and valid UTF-8. Sets the store's message when not.
 */
int
az_name_ok(struct az_store *st, const char *name)
{
	if (!sb_is_store_name(name, SB_PREFIX_MAX + SB_NAME_MAX)) {
		sb_seterr(st->base.err, "azure: bad object name");
		return 0;
	}
	return 1;
}
