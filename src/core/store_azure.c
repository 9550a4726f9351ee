/*
 * store_azure.c - the object store on Azure Blob Storage, over its REST
 * API with libcurl (https, or http for Azurite on loopback).
 *
 * Requests (Azure Storage REST API, x-ms-version AZ_VERSION):
 *   put		Put Blob when the object is smaller than a block;
 *			else Put Block for each block, up to az_concurrency
 *			in parallel (libcurl multi), then Put Block List,
 *			which commits the blob atomically: a failed upload
 *			leaves only uncommitted blocks, which List Blobs
 *			does not return and Azure discards after a week.
 *			Every block and every Put Blob carries Content-MD5,
 *			which Azure checks on arrival.
 *   get		Get Blob, streamed into the writer; a dropped
 *			connection resumes with x-ms-range from the bytes
 *			already delivered, pinned to the first ETag with
 *			If-Match so a blob that changed is never spliced.
 *   get_fd	into a file: a HEAD for the size and ETag, then, for a
 *			blob over 16 MiB, ranges of 8 MiB, az_concurrency
 *			at a time (libcurl multi), each pinned with If-Match
 *			and written with pwrite where it belongs; a smaller
 *			blob with get.
 *   head		Get Blob Properties.
 *   list		List Blobs with prefix and include=metadata, page
 *			after page (NextMarker), parsed by azure_xml.c.
 *   del		Delete Blob; 404 counts as done.
 *   create	Create Container (`backup-cron init` only); "already
 *		exists" is fine. Before its first upload a store checks
 *		the container with Get Container Properties. No other request creates the container:
 *		a container that is gone is an error (a 404
 *		ContainerNotFound), never an empty store.
 *   put_new	Put Blob with If-None-Match: * (exclusive create: a 409
 *		BlobAlreadyExists means another writer was first).
 *
 * Metadata travel as x-ms-meta-<key> headers, the values percent-encoded
 * by az_meta_encode() (any byte outside printable ASCII, blanks, '%'), so
 * any UTF-8 value comes back byte for byte; keys are ours, [a-z0-9_].
 *
 * Retries: timeouts, connection errors and 408, 429, 500, 502, 503, 504
 * are retried up to az_retries times with exponential backoff and full
 * jitter, or after Retry-After when the server sends one; other 4xx are
 * final. Errors read "azure: <op> <name>: <status> <x-ms-error-code>
 * (request id <x-ms-request-id>)"; 401/403 map to SB_ERR_AUTH, 404 to
 * SB_ERR_NOTFOUND, the rest to SB_ERR_STORAGE. No secret (key, SAS,
 * signature, URL query) ever enters a message.
 *
 * Memory: put_stream holds at most az_concurrency blocks; put_file reads
 * each block from the file with pread as curl sends it and holds none.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "azure.h"
#include "config.h"
#include "store.h"

#define AZ_BLOCKS_MAX	50000		/* blocks in one blob (Put Block List) */
#define AZ_BLOCK_MIN	(64 * 1024)
#define AZ_BLOCK_MAX	(4000ULL * 1024 * 1024)
#define AZ_CONC_MAX	64
#define AZ_BACKOFF_BASE	250		/* ms */
#define AZ_BACKOFF_CAP	30000		/* ms */
#define AZ_RETRY_AFTER_CAP 60		/* s */
#define AZ_ERRBODY_MAX	4096
#define AZ_XMS_MAX	(SB_META_MAX + 8)
#define AZ_CHUNK	(256 * 1024)	/* read size for hashing files */
#define AZ_GROW_POLL	20		/* ms between looks at a growing file */
#define AZ_EARLY_MEM	(12 * 1024 * 1024) /* buffers for early blocks */

struct az_store {
	struct sb_store	 base;		/* first: the common head */
	struct az_cred	 cred;
	char		*container;
	uint64_t	 block_size;
	unsigned	 concurrency;
	unsigned	 timeout;
	unsigned	 retries;
	CURL		*easy;		/* single requests, keeps its connection */
	CURLM		*multi;		/* parallel blocks */
	int		 container_ok;	/* container_check passed */
};

/* Where an upload's body comes from: memory, or a range of a file. */
struct az_body {
	const unsigned char	*buf;
	int			 fd;		/* -1: use buf */
	off_t			 off;
	uint64_t		 len;
	uint64_t		 pos;
	int			 ioerr;		/* errno of a failed pread */
};

/* What one request is; the store builds its URL, headers and signature. */
struct az_call {
	const char	*op;		/* "PUT blob", for messages */
	const char	*method;	/* GET HEAD PUT DELETE */
	const char	*name;		/* blob name; NULL: the container */
	struct az_qp	 qp[AZ_QP_MAX];
	size_t		 nqp;
	char		*xms[AZ_XMS_MAX]; /* heap "x-ms-name:value" lines */
	size_t		 nxms;
	char		 md5[32];	/* base64 Content-MD5, "" none */
	char		 if_match[128];	/* "" none */
	int		 if_none_match;	/* send If-None-Match: * */
	struct az_body	 body;		/* PUT only */
	int		 want_meta;	/* collect x-ms-meta-* of the response */
	int		(*sink)(void *, const char *, size_t);
	void		*sinkarg;
};

/* What came back from one attempt. */
struct az_resp {
	long		 status;
	char		 code[128];	/* x-ms-error-code */
	char		 reqid[128];	/* x-ms-request-id */
	char		 etag[128];
	long		 retry_after;	/* s, -1 none */
	int64_t		 clen;		/* Content-Length, -1 */
	int64_t		 range_total;	/* Content-Range ".../total", -1 */
	int64_t		 mtime;		/* Last-Modified, ms, -1 */
	struct sb_meta	 meta;
	char		 body[AZ_ERRBODY_MAX];
	size_t		 bodylen;
	CURLcode	 cc;
	char		 curlerr[CURL_ERROR_SIZE];
	int		 sinkerr;	/* enum sb_err from the sink */
	int		 metaerr;
	struct az_call	*call;
	/* Stall detection (on_progress): the last time bytes moved. */
	unsigned	 timeout;	/* s */
	int64_t		 moved_ms;
	curl_off_t	 moved_dl;
	curl_off_t	 moved_ul;
	int		 stalled;
};

enum az_verdict {
	AZ_DONE = 0,
	AZ_RETRY,
	AZ_FAIL
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
sleep_ms(int64_t ms)
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
 * server gave one (capped), else full jitter over an exponential window
 * ("Exponential Backoff And Jitter", the Azure SDKs' policy too):
 * uniform in [w/2, w], w = min(cap, base * 2^attempt).
 */
static int64_t
backoff_ms(unsigned attempt, long retry_after)
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

static void
call_clear(struct az_call *c)
{
	size_t	i;

	for (i = 0; i < c->nxms; i++)
		free(c->xms[i]);
	memset(c, 0, sizeof(*c));
	c->body.fd = -1;
}

static void
call_init(struct az_call *c, const char *op, const char *method,
    const char *name)
{
	memset(c, 0, sizeof(*c));
	c->body.fd = -1;
	c->op = op;
	c->method = method;
	c->name = name;
}

static int
call_xms(struct az_call *c, const char *name, const char *val)
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

static void
call_qp(struct az_call *c, const char *name, const char *val)
{
	if (c->nqp < AZ_QP_MAX) {
		c->qp[c->nqp].name = name;
		c->qp[c->nqp].val = val;
		c->nqp++;
	}
}

/* Add x-ms-meta-<key> headers for meta, values encoded (see top). */
static int
call_meta(struct az_call *c, const struct sb_meta *m)
{
	char	 hname[sizeof("x-ms-meta-") + SB_META_KEY_MAX];
	char	*enc = NULL;
	size_t	 i;
	int	 rc;

	for (i = 0; m != NULL && i < m->n; i++) {
		if (!sb_meta_valid_key(m->kv[i].key))
			return SB_ERR_INVAL;
		snprintf(hname, sizeof(hname), "x-ms-meta-%s", m->kv[i].key);
		if ((rc = az_meta_encode(m->kv[i].val, &enc)) != SB_OK)
			return rc;
		rc = call_xms(c, hname, enc);
		free(enc);
		if (rc != SB_OK)
			return rc;
	}
	return SB_OK;
}

static void
resp_reset(struct az_resp *r, struct az_call *c)
{
	unsigned	timeout = r->timeout;
	int64_t		moved_ms = r->moved_ms;
	curl_off_t	dl = r->moved_dl, ul = r->moved_ul;

	sb_meta_clear(&r->meta);
	memset(r, 0, sizeof(*r));
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
 * A status line starts a new response (curl may show interim ones).
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
		struct az_call	*c = r->call;
		const char	*sp = memchr(buf, ' ', len);

		resp_reset(r, c);
		if (sp != NULL && (size_t)(sp - buf) + 4 <= len &&
		    sp[1] >= '1' && sp[1] <= '5' &&
		    sp[2] >= '0' && sp[2] <= '9' &&
		    sp[3] >= '0' && sp[3] <= '9')
			r->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 +
			    (sp[3] - '0');
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

/* Per-attempt storage that must outlive curl_easy_perform. */
struct az_wire {
	struct curl_slist	*hdrs;
	char			*url;
};

static void
wire_clear(struct az_wire *w)
{
	curl_slist_free_all(w->hdrs);
	free(w->url);
	w->hdrs = NULL;
	w->url = NULL;
}

static int
slist_add(struct curl_slist **l, const char *s)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(*l, s)) == NULL)
		return SB_ERR_NOMEM;
	*l = n;
	return SB_OK;
}

/*
 * Make easy ready for one attempt of call: URL (blob name and query
 * percent-encoded, SAS appended), headers (x-ms-date, x-ms-version, the
 * call's x-ms-* lines, Content-MD5, If-Match, Authorization when signing
 * with the key), body and callbacks. w keeps what curl points to; the
 * caller frees it with wire_clear() after the transfer.
 */
static int
setup(struct az_store *st, CURL *easy, struct az_call *c, struct az_resp *r,
    struct az_wire *w)
{
	struct az_sigreq	 sig;
	const char		*xms[AZ_XMS_MAX + 2];
	char			 date[64], dline[80], auth[256], line[192];
	char			*encname = NULL, *enccont = NULL, *v = NULL;
	char			*path = NULL;
	size_t			 i, len, off;
	int			 rc = SB_ERR_NOMEM;

	memset(w, 0, sizeof(*w));
	r->timeout = st->timeout;
	r->moved_ms = sb_mono_ms();
	r->moved_dl = r->moved_ul = 0;
	resp_reset(r, c);
	c->body.pos = 0;
	c->body.ioerr = 0;
	if (az_url_encode(st->container, 0, &enccont) != SB_OK ||
	    (c->name != NULL && az_url_encode(c->name, 1, &encname) != SB_OK))
		goto out;

	/* Path: <endpoint path>/<container>[/<name>]. */
	len = strlen(st->cred.path) + strlen(enccont) +
	    (encname ? strlen(encname) : 0) + 3;
	if ((path = malloc(len)) == NULL)
		goto out;
	snprintf(path, len, "%s/%s%s%s", st->cred.path, enccont,
	    encname ? "/" : "", encname ? encname : "");

	/* URL: endpoint up to its path, our path, ?query[&sas]. */
	len = strlen(st->cred.endpoint) + strlen(path) + 2 +
	    (st->cred.sas ? strlen(st->cred.sas) + 1 : 0);
	for (i = 0; i < c->nqp; i++)
		len += strlen(c->qp[i].name) + 3 * strlen(c->qp[i].val) + 2;
	if ((w->url = malloc(len)) == NULL)
		goto out;
	off = (size_t)(st->cred.path - st->cred.endpoint);
	memcpy(w->url, st->cred.endpoint, off);
	off += (size_t)snprintf(w->url + off, len - off, "%s", path);
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
			goto out;
	}
	rc = SB_ERR_NOMEM;
	if (slist_add(&w->hdrs, "Expect:") != SB_OK)
		goto out;
	if (c->md5[0] != '\0') {
		snprintf(line, sizeof(line), "Content-MD5: %s", c->md5);
		if (slist_add(&w->hdrs, line) != SB_OK)
			goto out;
	}
	if (c->if_match[0] != '\0') {
		snprintf(line, sizeof(line), "If-Match: %s", c->if_match);
		if (slist_add(&w->hdrs, line) != SB_OK)
			goto out;
	}
	if (c->if_none_match && slist_add(&w->hdrs, "If-None-Match: *") !=
	    SB_OK)
		goto out;
	if (st->cred.key != NULL) {
		memset(&sig, 0, sizeof(sig));
		sig.method = c->method;
		sig.path = path;
		sig.qp = c->qp;
		sig.nqp = c->nqp;
		sig.xms = xms;
		sig.nxms = c->nxms + 2;
		sig.content_length = strcmp(c->method, "PUT") == 0 ?
		    c->body.len : 0;
		sig.content_md5 = c->md5[0] ? c->md5 : NULL;
		sig.if_match = c->if_match[0] ? c->if_match : NULL;
		sig.if_none_match = c->if_none_match ? "*" : NULL;
		if ((rc = az_sign(&st->cred, &sig, auth, sizeof(auth))) !=
		    SB_OK)
			goto out;
		rc = slist_add(&w->hdrs, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
		if (rc != SB_OK)
			goto out;
	}

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
	rc = SB_OK;
out:
	free(v);
	free(encname);
	free(enccont);
	free(path);
	if (rc != SB_OK)
		wire_clear(w);
	return rc;
}

/* Whether a curl failure is worth another attempt. */
static int
curl_retryable(const struct az_resp *r)
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
static enum az_verdict
verdict(const struct az_resp *r)
{
	if (r->cc != CURLE_OK)
		return curl_retryable(r) ? AZ_RETRY : AZ_FAIL;
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
static int
fail_msg(struct az_store *st, const struct az_call *c,
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
static int
run(struct az_store *st, struct az_call *c, struct az_resp *r)
{
	struct az_wire		w;
	enum az_verdict		v;
	unsigned		attempt;
	int			rc;

	for (attempt = 0;; attempt++) {
		if ((rc = setup(st, st->easy, c, r, &w)) != SB_OK) {
			sb_seterr(st->base.err, "azure: %s: %s", c->op,
			    sb_strerror(rc));
			return rc;
		}
		r->cc = curl_easy_perform(st->easy);
		wire_clear(&w);
		if (r->metaerr != SB_OK) {
			sb_seterr(st->base.err, "azure: out of memory");
			return SB_ERR_NOMEM;
		}
		v = verdict(r);
		if (v == AZ_DONE)
			return SB_OK;
		if (v == AZ_FAIL || attempt >= st->retries)
			return fail_msg(st, c, r, attempt + 1);
		sleep_ms(backoff_ms(attempt, r->retry_after));
	}
}

/*
 * create: Create Container; 201 Created and 409 ContainerAlreadyExists
 * both mean ready. Only `backup-cron init` calls it (sb_store_create): a
 * container is never created as a side effect of a backup, so one that
 * was deleted (or a typo in [azure] container) cannot pass for a new,
 * empty store.
 */
static int
az_create(struct sb_store *s)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	c;
	struct az_resp	r;
	int		rc;

	call_init(&c, "PUT container", "PUT", NULL);
	call_qp(&c, "restype", "container");
	memset(&r, 0, sizeof(r));
	rc = run(st, &c, &r);
	if (rc != SB_OK && r.status == 409) {
		st->base.err[0] = '\0';
		rc = SB_OK;
	}
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/*
 * Before the first upload of a store's life: Get Container Properties
 * (HEAD ?restype=container), so that a wrong key, or a container that is
 * not there, is one clear error rather than several doomed blocks sent
 * in parallel. A missing container is never created here (az_create is
 * init's): 404 ContainerNotFound is an error. With a SAS a 403 is let
 * through: the token may allow blobs but not container reads, and the
 * upload that follows reports the real error.
 */
static int
container_check(struct az_store *st)
{
	struct az_call	c;
	struct az_resp	r;
	int		rc;

	if (st->container_ok)
		return SB_OK;
	call_init(&c, "HEAD container", "HEAD", NULL);
	call_qp(&c, "restype", "container");
	memset(&r, 0, sizeof(r));
	rc = run(st, &c, &r);
	if (rc == SB_OK || (r.status == 403 && st->cred.key == NULL)) {
		st->container_ok = 1;
		st->base.err[0] = '\0';
		rc = SB_OK;
	} else if (rc == SB_ERR_NOTFOUND) {
		/* HEAD has no body: the 404 is the container's. */
		sb_seterr(st->base.err, "azure: container %s does not exist "
		    "(404%s%s): `backup-cron init` creates it", st->container,
		    r.code[0] ? " " : "", r.code);
		rc = SB_ERR_STORAGE;
	}
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/* Content-MD5 (RFC 1864) of a buffer, base64. */
static int
md5_buf(const unsigned char *buf, size_t len, char out[32])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return SB_ERR_STORAGE;
	return az_b64_encode(md, mdlen, out, 32);
}

/* Content-MD5 of len bytes of fd at off, read in AZ_CHUNK pieces. */
static int
md5_file(int fd, off_t off, uint64_t len, unsigned char *chunk, char out[32],
    int *eno)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	EVP_MD_CTX	*ctx;
	ssize_t		 got;
	size_t		 want;
	int		 rc = SB_ERR_STORAGE;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SB_ERR_NOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto out;
	while (len > 0) {
		want = len > AZ_CHUNK ? AZ_CHUNK : (size_t)len;
		do
			got = pread(fd, chunk, want, off);
		while (got == -1 && errno == EINTR);
		if (got <= 0) {
			*eno = got == 0 ? EIO : errno;
			rc = SB_ERR_IO;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, chunk, (size_t)got) != 1)
			goto out;
		off += got;
		len -= (uint64_t)got;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto out;
	rc = az_b64_encode(md, mdlen, out, 32);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/*
 * A thread that computes the Content-MD5 of each block of a file ahead of
 * its upload, so hashing runs beside the transfers instead of stalling
 * the curl loop. It stays at most `ahead` blocks in front of the blocks
 * the loop asked for (the reads it makes warm the page cache for curl's
 * pread); its memory is one AZ_CHUNK buffer and 32 bytes per block.
 */
struct az_hasher {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;
	uint64_t	 size;
	uint64_t	 bsize;
	uint32_t	 nblocks;
	char		(*md5)[32];
	uint32_t	 done;		/* blocks hashed: 0..done-1 */
	uint32_t	 limit;		/* may hash blocks below limit */
	uint32_t	 ahead;
	int		 err;		/* errno of a failed read, or -1 */
	int		 stop;
	int		 started;
};

static void *
hasher_main(void *arg)
{
	struct az_hasher	*h = arg;
	unsigned char		*chunk;
	char			 md5[32];
	uint32_t		 k;
	uint64_t		 off, len;
	int			 rc, eno = 0;

	if ((chunk = malloc(AZ_CHUNK)) == NULL) {
		pthread_mutex_lock(&h->mu);
		h->err = ENOMEM;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		return NULL;
	}
	for (k = 0; k < h->nblocks; k++) {
		pthread_mutex_lock(&h->mu);
		while (k >= h->limit && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		pthread_mutex_unlock(&h->mu);
		off = (uint64_t)k * h->bsize;
		len = h->size - off < h->bsize ? h->size - off : h->bsize;
		rc = md5_file(h->fd, (off_t)off, len, chunk, md5, &eno);
		pthread_mutex_lock(&h->mu);
		if (rc != SB_OK)
			h->err = rc == SB_ERR_IO ? eno : -1;
		else {
			memcpy(h->md5[k], md5, sizeof(md5));
			h->done = k + 1;
		}
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		if (rc != SB_OK)
			break;
	}
	free(chunk);
	return NULL;
}

/* Start hashing fd's blocks. Returns SB_OK or SB_ERR_NOMEM. */
static int
hasher_start(struct az_hasher *h, int fd, uint64_t size, uint64_t bsize,
    uint32_t ahead)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->size = size;
	h->bsize = bsize;
	h->nblocks = (uint32_t)((size + bsize - 1) / bsize);
	h->ahead = ahead;
	h->limit = ahead;
	if ((h->md5 = calloc(h->nblocks ? h->nblocks : 1,
	    sizeof(*h->md5))) == NULL)
		return SB_ERR_NOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->th, NULL, hasher_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		free(h->md5);
		h->md5 = NULL;
		return SB_ERR_NOMEM;
	}
	h->started = 1;
	return SB_OK;
}

/*
 * The Content-MD5 of block k, waiting for the thread if need be; lets it
 * run `ahead` blocks past k. Returns SB_OK, or SB_ERR_IO (*eno set).
 */
static int
hasher_get(struct az_hasher *h, uint32_t k, char out[32], int *eno)
{
	int	rc = SB_OK;

	pthread_mutex_lock(&h->mu);
	if (k + h->ahead > h->limit) {
		h->limit = k + h->ahead;
		pthread_cond_broadcast(&h->cv);
	}
	while (h->done <= k && h->err == 0)
		pthread_cond_wait(&h->cv, &h->mu);
	if (h->done > k)
		memcpy(out, h->md5[k], 32);
	else {
		*eno = h->err > 0 ? h->err : EIO;
		rc = h->err == ENOMEM ? SB_ERR_NOMEM : SB_ERR_IO;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static void
hasher_stop(struct az_hasher *h)
{
	if (!h->started)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->md5);
	h->md5 = NULL;
	h->started = 0;
}

/* Put Blob: the whole object in one request (BlockBlob). */
static int
put_blob(struct az_store *st, const char *name, const struct sb_meta *meta,
    const struct az_body *body)
{
	struct az_call	c;
	struct az_resp	r;
	unsigned char	*chunk = NULL;
	int		rc, eno = 0;

	memset(&r, 0, sizeof(r));
	call_init(&c, "PUT blob", "PUT", name);
	c.body = *body;
	if ((rc = call_xms(&c, "x-ms-blob-type", "BlockBlob")) != SB_OK ||
	    (rc = call_meta(&c, meta)) != SB_OK)
		goto out;
	if (body->fd < 0)
		rc = md5_buf(body->buf, (size_t)body->len, c.md5);
	else if ((chunk = malloc(AZ_CHUNK)) == NULL)
		rc = SB_ERR_NOMEM;
	else
		rc = md5_file(body->fd, body->off, body->len, chunk, c.md5,
		    &eno);
	if (rc != SB_OK)
		goto out;
	rc = run(st, &c, &r);
	call_clear(&c);
	sb_meta_clear(&r.meta);
	free(chunk);
	return rc;
out:
	if (rc == SB_ERR_IO)
		sb_seterr(st->base.err, "azure: PUT blob %s: reading: %s",
		    name, strerror(eno));
	else
		sb_seterr(st->base.err, "azure: PUT blob %s: %s", name,
		    rc == SB_ERR_INVAL ? "bad metadata" : sb_strerror(rc));
	call_clear(&c);
	free(chunk);
	return rc;
}

/* Put Block List: commit the blocks 0..n-1 in order, with the metadata. */
static int
put_block_list(struct az_store *st, const char *name,
    const struct sb_meta *meta, uint32_t n)
{
	struct az_call	 c;
	struct az_resp	 r;
	char		*xml = NULL, id[16], raw[16];
	size_t		 len, off;
	uint32_t	 i;
	int		 rc;

	memset(&r, 0, sizeof(r));
	call_init(&c, "PUT block list", "PUT", name);
	call_qp(&c, "comp", "blocklist");
	/* <?xml..?><BlockList> + n * <Latest>12 chars</Latest> + end */
	len = 64 + (size_t)n * 32;
	if ((xml = malloc(len)) == NULL) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	off = (size_t)snprintf(xml, len, "<?xml version=\"1.0\" "
	    "encoding=\"utf-8\"?><BlockList>");
	for (i = 0; i < n; i++) {
		snprintf(raw, sizeof(raw), "blk%06u", (unsigned)i);
		az_b64_encode((const unsigned char *)raw, 9, id, sizeof(id));
		off += (size_t)snprintf(xml + off, len - off,
		    "<Latest>%s</Latest>", id);
	}
	off += (size_t)snprintf(xml + off, len - off, "</BlockList>");
	c.body.buf = (const unsigned char *)xml;
	c.body.len = off;
	if ((rc = call_meta(&c, meta)) != SB_OK ||
	    (rc = md5_buf(c.body.buf, off, c.md5)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT block list %s: %s", name,
		    rc == SB_ERR_INVAL ? "bad metadata" : sb_strerror(rc));
		goto out;
	}
	rc = run(st, &c, &r);
out:
	call_clear(&c);
	sb_meta_clear(&r.meta);
	free(xml);
	return rc;
}

/* One parallel Put Block in flight (or waiting to be retried). */
struct az_slot {
	CURL		*easy;
	struct az_call	 call;
	struct az_resp	 resp;
	struct az_wire	 wire;
	unsigned char	*buf;		/* put_stream: one block */
	char		 id[16];	/* base64 block id */
	unsigned	 attempt;
	int64_t		 not_before;	/* mono ms, when waiting */
	enum { SLOT_FREE, SLOT_RUNNING, SLOT_WAITING } state;
	int		 ebi;		/* growing file: early buffer, -1 */
};

/* Where blocks come from: a reader, or a file read with pread. */
struct az_src {
	sb_read_fn	 rd;
	void		*rdarg;
	int		 fd;
	uint64_t	 size;		/* file size */
	uint64_t	 next;		/* file offset of the next block */
	int		 eof;
	struct az_hasher *hasher;	/* file: Content-MD5s, computed ahead */
	struct az_grow	*grow;		/* a file still being written */
	int		 nocommit;	/* stage only: the caller commits */
};

static int	grow_more(const struct az_grow *);
static int	grow_fill(struct az_store *, struct az_slot *, struct az_src *,
		    const char *, size_t *);
static void	grow_done(struct az_grow *, struct az_slot *);

/*
 * Fill buf with up to want bytes from the reader (it may return short
 * counts). Returns the count, or -1 on a reader error.
 */
static ssize_t
read_full(struct az_src *s, unsigned char *buf, size_t want)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < want) {
		n = s->rd(s->rdarg, buf + got, want - got);
		if (n < 0)
			return -1;
		if (n == 0) {
			s->eof = 1;
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Whether src may have another block (and the block limit allows it). */
static int
more(const struct az_src *src, uint32_t nblocks)
{
	if (src->grow != NULL)
		return grow_more(src->grow);
	if (nblocks >= AZ_BLOCKS_MAX)
		return 0;
	return src->rd != NULL ? !src->eof : src->next < src->size;
}

/* Start (or restart) the Put Block of a slot on the multi handle. */
static int
slot_start(struct az_store *st, struct az_slot *sl)
{
	int	rc;

	if ((rc = setup(st, sl->easy, &sl->call, &sl->resp, &sl->wire)) !=
	    SB_OK)
		return rc;
	if (curl_multi_add_handle(st->multi, sl->easy) != CURLM_OK) {
		wire_clear(&sl->wire);
		return SB_ERR_STORAGE;
	}
	sl->state = SLOT_RUNNING;
	return SB_OK;
}

/*
 * Prepare the next block in a free slot: read it (stream) or locate and
 * hash it (file), build its Put Block call. Returns SB_OK with *got 0 when
 * there is nothing left.
 */
static int
slot_fill(struct az_store *st, struct az_slot *sl, struct az_src *src,
    uint32_t idx, const char *name, size_t *got)
{
	char	raw[16];
	ssize_t	n;
	int	rc, eno = 0;

	*got = 0;
	if (src->grow != NULL)
		return grow_fill(st, sl, src, name, got);
	call_clear(&sl->call);
	call_init(&sl->call, "PUT block", "PUT", name);
	snprintf(raw, sizeof(raw), "blk%06u", (unsigned)idx);
	az_b64_encode((const unsigned char *)raw, 9, sl->id, sizeof(sl->id));
	call_qp(&sl->call, "comp", "block");
	call_qp(&sl->call, "blockid", sl->id);
	if (src->rd != NULL) {
		if (src->eof)
			return SB_OK;
		if (sl->buf == NULL &&
		    (sl->buf = malloc((size_t)st->block_size)) == NULL)
			return SB_ERR_NOMEM;
		if ((n = read_full(src, sl->buf, (size_t)st->block_size)) < 0) {
			sb_seterr(st->base.err, "azure: PUT block %s: the "
			    "reader failed", name);
			return SB_ERR_IO;
		}
		if (n == 0)
			return SB_OK;
		sl->call.body.buf = sl->buf;
		sl->call.body.len = (uint64_t)n;
		rc = md5_buf(sl->buf, (size_t)n, sl->call.md5);
		*got = (size_t)n;
	} else {
		if (src->next >= src->size)
			return SB_OK;
		sl->call.body.fd = src->fd;
		sl->call.body.off = (off_t)src->next;
		sl->call.body.len = src->size - src->next < st->block_size ?
		    src->size - src->next : st->block_size;
		src->next += sl->call.body.len;
		rc = hasher_get(src->hasher, idx, sl->call.md5, &eno);
		if (rc == SB_ERR_IO)
			sb_seterr(st->base.err, "azure: PUT block %s: reading "
			    "the file: %s", name, strerror(eno));
		*got = (size_t)sl->call.body.len;
	}
	return rc;
}

/*
 * Upload name in blocks, concurrency at a time, then commit them with
 * Put Block List. first (len bytes) is the first block when the caller
 * already read it from a stream. A block that fails retryably waits its
 * backoff in its slot while the others go on. Returns SB_OK or the
 * error of the first block that failed for good (message set).
 */
static int
put_blocks(struct az_store *st, const char *name, const struct sb_meta *meta,
    struct az_src *src, unsigned char *first, size_t firstlen)
{
	struct az_slot	*slots = NULL, *sl;
	CURLMsg		*msg;
	uint32_t	 nblocks = 0;
	size_t		 nslots = st->concurrency, i, got;
	int64_t		 now, wait;
	int		 rc = SB_OK, running = 0, left, active, waiting;
	enum az_verdict	 v;

	if ((st->multi == NULL && (st->multi = curl_multi_init()) == NULL) ||
	    (slots = calloc(nslots, sizeof(*slots))) == NULL) {
		free(first);
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	curl_multi_setopt(st->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)st->concurrency);
	/* The caller's first block becomes slot 0's buffer. */
	slots[0].buf = first;
	for (i = 0; i < nslots; i++) {
		slots[i].call.body.fd = -1;
		slots[i].ebi = -1;
		if ((slots[i].easy = curl_easy_init()) == NULL) {
			rc = SB_ERR_NOMEM;
			goto out;
		}
	}
	if (first != NULL) {
		call_init(&slots[0].call, "PUT block", "PUT", name);
		az_b64_encode((const unsigned char *)"blk000000", 9,
		    slots[0].id, sizeof(slots[0].id));
		call_qp(&slots[0].call, "comp", "block");
		call_qp(&slots[0].call, "blockid", slots[0].id);
		slots[0].call.body.buf = first;
		slots[0].call.body.len = firstlen;
		if ((rc = md5_buf(first, firstlen, slots[0].call.md5)) !=
		    SB_OK || (rc = slot_start(st, &slots[0])) != SB_OK)
			goto out;
		nblocks = 1;
	}

	for (;;) {
		now = sb_mono_ms();
		active = 0;
		for (i = 0; i < nslots && rc == SB_OK; i++) {
			sl = &slots[i];
			if (sl->state == SLOT_FREE) {
				if (src->grow == NULL && nblocks >= AZ_BLOCKS_MAX) {
					if (more(src, 0)) {
						sb_seterr(st->base.err, "azure:"
						    " PUT block %s: more than "
						    "%u blocks: raise "
						    "block_size", name,
						    AZ_BLOCKS_MAX);
						rc = SB_ERR_INVAL;
					}
					continue;
				}
				if ((rc = slot_fill(st, sl, src, nblocks, name,
				    &got)) != SB_OK || got == 0)
					continue;
				nblocks++;
				sl->attempt = 0;
				rc = slot_start(st, sl);
			} else if (sl->state == SLOT_WAITING &&
			    sl->not_before <= now)
				rc = slot_start(st, sl);
			if (sl->state != SLOT_FREE)
				active++;
		}
		if (rc == SB_OK && active == 0 && src->grow != NULL &&
		    more(src, nblocks)) {
			sleep_ms(AZ_GROW_POLL);	/* the file has to grow */
			continue;
		}
		if (rc != SB_OK || active == 0)
			break;

		if (curl_multi_perform(st->multi, &running) != CURLM_OK) {
			rc = SB_ERR_STORAGE;
			sb_seterr(st->base.err, "azure: PUT block %s: curl "
			    "multi failed", name);
			break;
		}
		while ((msg = curl_multi_info_read(st->multi, &left)) != NULL) {
			struct az_resp	*r = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&r);
			r->cc = msg->data.result;
			curl_multi_remove_handle(st->multi, msg->easy_handle);
			sl = (struct az_slot *)((char *)r -
			    offsetof(struct az_slot, resp));
			wire_clear(&sl->wire);
			v = verdict(r);
			if (v == AZ_DONE) {
				sl->state = SLOT_FREE;
				if (src->grow != NULL)
					grow_done(src->grow, sl);
			} else if (v == AZ_RETRY && sl->attempt < st->retries) {
				sl->not_before = sb_mono_ms() +
				    backoff_ms(sl->attempt, r->retry_after);
				sl->attempt++;
				sl->state = SLOT_WAITING;
			} else if (rc == SB_OK) {
				rc = fail_msg(st, &sl->call, r,
				    sl->attempt + 1);
				sl->state = SLOT_FREE;
			} else
				sl->state = SLOT_FREE;
		}
		if (rc != SB_OK)
			break;

		/*
		 * Sleep until traffic or until a waiting block is due; not
		 * at all when a free slot can take the next block.
		 */
		wait = 1000;
		waiting = 0;
		now = sb_mono_ms();
		for (i = 0; i < nslots; i++) {
			if (slots[i].state == SLOT_FREE && more(src, nblocks))
				wait = src->grow == NULL ? 0 :
				    wait < AZ_GROW_POLL ? wait : AZ_GROW_POLL;
			if (slots[i].state != SLOT_WAITING)
				continue;
			waiting = 1;
			if (slots[i].not_before - now < wait)
				wait = slots[i].not_before - now;
		}
		if (wait > 0 && running > 0)
			curl_multi_poll(st->multi, NULL, 0, (int)wait, NULL);
		else if (wait > 0 && waiting)
			sleep_ms(wait);
	}
	if (rc == SB_OK && !src->nocommit)
		rc = put_block_list(st, name, meta, nblocks);
out:
	for (i = 0; i < nslots; i++) {
		sl = &slots[i];
		if (sl->easy != NULL) {
			if (sl->state == SLOT_RUNNING)
				curl_multi_remove_handle(st->multi, sl->easy);
			curl_easy_cleanup(sl->easy);
		}
		wire_clear(&sl->wire);
		call_clear(&sl->call);
		sb_meta_clear(&sl->resp.meta);
		free(sl->buf);
	}
	free(slots);
	if (rc == SB_ERR_NOMEM)
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
	return rc;
}

static int
name_ok(struct az_store *st, const char *name)
{
	/*
	 * Azure: 1..1024 characters; ours are at most SB_NAME_MAX bytes
	 * after a [store] prefix of at most SB_PREFIX_MAX.
	 */
	if (!sb_is_store_name(name, SB_PREFIX_MAX + SB_NAME_MAX)) {
		sb_seterr(st->base.err, "azure: bad object name");
		return 0;
	}
	return 1;
}

/*
 * Uploads that overlap the writing of the file (sb_store_upload_begin):
 * a snapshot is being written while its first blocks go up.
 *
 * A thread runs put_blocks over a growing file. While the writer is busy,
 * a block is staged once the file extends a block past it, read into one
 * of a few buffers (AZ_EARLY_MEM in all) so that the bytes sent are the
 * bytes their Content-MD5 covers, whatever the writer does meanwhile.
 * Once the writer says eof, the rest is staged from the file (pread, no
 * buffer); then every early block is checked against the final file and
 * staged again when it differs (SQLite rewrites page 1, for one): Azure
 * keeps the last Put Block of a block id. Put Block List, at finish,
 * commits exactly the final file.
 */
/*
 * For a growing file once it is complete: a thread that hashes the blocks
 * of the final file in a given order (the blocks still to stage first,
 * then those staged early, to check them), as fast as it can: its reads
 * come from the page cache and it holds one AZ_CHUNK. The upload thread
 * asks without waiting (seqhash_try), so curl's transfers never stall.
 */
struct az_seqhash {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	int		 fd;
	uint64_t	 size;
	uint64_t	 bsize;
	uint32_t	*seq;		/* block indexes, in hashing order */
	uint32_t	 nseq;
	char		(*md5)[32];	/* by block index */
	unsigned char	*ready;		/* by block index */
	int		 err;		/* errno, when a read failed */
	int		 stop;
	int		 started;
};

static void *
seqhash_main(void *arg)
{
	struct az_seqhash	*h = arg;
	unsigned char		*chunk;
	char			 md5[32];
	uint64_t		 off, len;
	uint32_t		 i, k;
	int			 rc, eno = 0, stop;

	if ((chunk = malloc(AZ_CHUNK)) == NULL) {
		pthread_mutex_lock(&h->mu);
		h->err = ENOMEM;
		pthread_mutex_unlock(&h->mu);
		return NULL;
	}
	for (i = 0; i < h->nseq; i++) {
		pthread_mutex_lock(&h->mu);
		stop = h->stop;
		pthread_mutex_unlock(&h->mu);
		if (stop)
			break;
		k = h->seq[i];
		off = (uint64_t)k * h->bsize;
		len = h->size - off < h->bsize ? h->size - off : h->bsize;
		rc = md5_file(h->fd, (off_t)off, len, chunk, md5, &eno);
		pthread_mutex_lock(&h->mu);
		if (rc != SB_OK)
			h->err = eno ? eno : EIO;
		else {
			memcpy(h->md5[k], md5, sizeof(md5));
			h->ready[k] = 1;
		}
		pthread_mutex_unlock(&h->mu);
		if (rc != SB_OK)
			break;
	}
	free(chunk);
	return NULL;
}

/* Hash the nblocks blocks of the final file: first..n-1, then 0..first-1. */
static int
seqhash_start(struct az_seqhash *h, int fd, uint64_t size, uint64_t bsize,
    uint32_t first)
{
	uint32_t	n = (uint32_t)((size + bsize - 1) / bsize), i, j = 0;

	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->size = size;
	h->bsize = bsize;
	if ((h->seq = calloc(n + 1, sizeof(*h->seq))) == NULL ||
	    (h->md5 = calloc(n + 1, sizeof(*h->md5))) == NULL ||
	    (h->ready = calloc(n + 1, 1)) == NULL)
		goto fail;
	for (i = first < n ? first : n; i < n; i++)
		h->seq[j++] = i;
	for (i = 0; i < first && i < n; i++)
		h->seq[j++] = i;
	h->nseq = j;
	pthread_mutex_init(&h->mu, NULL);
	if (pthread_create(&h->th, NULL, seqhash_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		goto fail;
	}
	h->started = 1;
	return SB_OK;
fail:
	free(h->seq);
	free(h->md5);
	free(h->ready);
	memset(h, 0, sizeof(*h));
	return SB_ERR_NOMEM;
}

/* 1 and the Content-MD5 of block k when ready, 0 not yet, -1 failed. */
static int
seqhash_try(struct az_seqhash *h, uint32_t k, char out[32], int *eno)
{
	int	r;

	pthread_mutex_lock(&h->mu);
	if (h->ready[k]) {
		memcpy(out, h->md5[k], 32);
		r = 1;
	} else if (h->err != 0) {
		*eno = h->err;
		r = -1;
	} else
		r = 0;
	pthread_mutex_unlock(&h->mu);
	return r;
}

static void
seqhash_stop(struct az_seqhash *h)
{
	if (!h->started)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_mutex_destroy(&h->mu);
	free(h->seq);
	free(h->md5);
	free(h->ready);
	memset(h, 0, sizeof(*h));
}

struct az_blkinfo {
	char		 md5[32];	/* base64, what was staged */
	uint64_t	 len;
	int		 early;		/* staged before eof: check it */
};

struct az_grow {
	struct az_store	*st;
	char		*name;
	char		*path;
	pthread_t	 th;
	pthread_mutex_t	 mu;
	int		 eof;		/* set by the writer's thread */
	int		 abort;		/* set by abort */
	int		 rc;		/* the thread's result */
	/* The upload thread's own. */
	int		 fd;
	uint64_t	 size;
	int		 final;		/* size is the final one */
	uint32_t	 nblocks;	/* blocks 0..nblocks-1 started */
	struct az_blkinfo *blk;
	uint32_t	 blkcap;
	uint32_t	*redo;		/* blocks to stage again */
	uint32_t	 nredo;
	int		 verified;
	unsigned	 early_inflight;
	unsigned	 nebuf;
	unsigned char	*ebuf[AZ_CONC_MAX];
	int		 ebusy[AZ_CONC_MAX];
	unsigned char	*chunk;		/* AZ_CHUNK, for hashing */
	struct az_seqhash hash;		/* the final file's blocks */
	uint32_t	 first_final;	/* blocks below were staged early */
	uint32_t	 vnext;		/* next early block to check */
};

/* Blocks the final file has. */
static uint32_t
grow_final_blocks(const struct az_grow *g)
{
	uint64_t	bs = g->st->block_size;

	return (uint32_t)((g->size + bs - 1) / bs);
}

static int
grow_more(const struct az_grow *g)
{
	return !(g->final && g->verified && g->nredo == 0 &&
	    g->nblocks >= grow_final_blocks(g));
}

/* Look at the file: its size, and whether the writer is done. */
static int
grow_poll(struct az_store *st, struct az_grow *g, const char *name)
{
	struct stat	sb;
	int		eof, stop;

	pthread_mutex_lock(&g->mu);
	eof = g->eof;
	stop = g->abort;
	pthread_mutex_unlock(&g->mu);
	if (stop) {
		sb_seterr(st->base.err, "azure: PUT %s: abandoned", name);
		return SB_ERR_STORAGE;
	}
	if (g->final)
		return SB_OK;
	if (g->fd < 0 &&
	    (g->fd = open(g->path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* The writer may not have created it yet. */
		if (errno == ENOENT && !eof)
			return SB_OK;
		sb_seterr(st->base.err, "azure: PUT %s: %s: %s", name,
		    g->path, strerror(errno));
		return SB_ERR_IO;
	}
	if (fstat(g->fd, &sb) == -1) {
		sb_seterr(st->base.err, "azure: PUT %s: %s: %s", name,
		    g->path, strerror(errno));
		return SB_ERR_IO;
	}
	g->size = (uint64_t)sb.st_size;
	if (eof) {
		g->final = 1;	/* fstat after eof: the final size */
		g->first_final = g->nblocks;
		if (seqhash_start(&g->hash, g->fd, g->size,
		    st->block_size, g->first_final) != SB_OK) {
			sb_seterr(st->base.err, "azure: PUT %s: out of memory",
			    name);
			return SB_ERR_NOMEM;
		}
	}
	return SB_OK;
}

static int
grow_note(struct az_grow *g, uint32_t idx, const char *md5, uint64_t len,
    int early)
{
	struct az_blkinfo	*b;
	uint32_t		 cap;

	if (idx >= g->blkcap) {
		cap = g->blkcap ? g->blkcap * 2 : 256;
		while (cap <= idx)
			cap *= 2;
		if ((b = realloc(g->blk, cap * sizeof(*b))) == NULL)
			return SB_ERR_NOMEM;
		g->blk = b;
		g->blkcap = cap;
	}
	memcpy(g->blk[idx].md5, md5, sizeof(g->blk[idx].md5));
	g->blk[idx].len = len;
	g->blk[idx].early = early;
	return SB_OK;
}

/*
 * Compare the early blocks with the final file, as their hashes become
 * ready; queue for staging again those that differ. Runs once no early
 * block is in flight, so a re-staged block is always the last one Azure
 * receives for its id. Sets verified when all are checked.
 */
static int
grow_verify(struct az_store *st, struct az_grow *g, const char *name)
{
	uint64_t	bs = st->block_size, off, len;
	uint32_t	n = grow_final_blocks(g);
	char		md5[32];
	int		r, eno = 0;

	if (g->redo == NULL &&
	    (g->redo = calloc(n ? n : 1, sizeof(*g->redo))) == NULL)
		return SB_ERR_NOMEM;
	for (; g->vnext < g->first_final && g->vnext < n; g->vnext++) {
		if ((r = seqhash_try(&g->hash, g->vnext, md5, &eno)) == 0)
			return SB_OK;		/* not hashed yet */
		if (r < 0) {
			sb_seterr(st->base.err, "azure: PUT %s: reading %s: "
			    "%s", name, g->path, strerror(eno));
			return SB_ERR_IO;
		}
		off = (uint64_t)g->vnext * bs;
		len = g->size - off < bs ? g->size - off : bs;
		if (len != g->blk[g->vnext].len ||
		    strcmp(md5, g->blk[g->vnext].md5) != 0)
			g->redo[g->nredo++] = g->vnext;
		g->blk[g->vnext].early = 0;
	}
	g->verified = 1;
	return SB_OK;
}

/* The next block of a growing file for a free slot (see above). */
static int
grow_fill(struct az_store *st, struct az_slot *sl, struct az_src *src,
    const char *name, size_t *got)
{
	struct az_grow	*g = src->grow;
	uint64_t	 bs = st->block_size, off, len, have;
	uint32_t	 idx;
	char		 raw[16];
	ssize_t		 n;
	unsigned	 e = 0;
	int		 rc, eno = 0, early = 0;

	*got = 0;
	if ((rc = grow_poll(st, g, name)) != SB_OK)
		return rc;
	if (g->nredo > 0)
		idx = g->redo[g->nredo - 1];
	else if (g->final && g->nblocks < grow_final_blocks(g))
		idx = g->nblocks;
	else if (g->final) {
		if (g->verified || g->early_inflight > 0)
			return SB_OK;
		return grow_verify(st, g, name);
	} else {
		/* Early: only a block the file already extends past. */
		off = (uint64_t)g->nblocks * bs;
		if (g->size < off + 2 * bs)
			return SB_OK;
		for (e = 0; e < g->nebuf && g->ebusy[e]; e++)
			;
		if (e == g->nebuf)
			return SB_OK;
		idx = g->nblocks++;
		early = 1;
	}
	if (idx >= AZ_BLOCKS_MAX) {
		sb_seterr(st->base.err, "azure: PUT block %s: more than %u "
		    "blocks: raise block_size", name, AZ_BLOCKS_MAX);
		return SB_ERR_INVAL;
	}
	call_clear(&sl->call);
	call_init(&sl->call, "PUT block", "PUT", name);
	snprintf(raw, sizeof(raw), "blk%06u", (unsigned)idx);
	az_b64_encode((const unsigned char *)raw, 9, sl->id, sizeof(sl->id));
	call_qp(&sl->call, "comp", "block");
	call_qp(&sl->call, "blockid", sl->id);
	off = (uint64_t)idx * bs;
	if (early) {
		if (g->ebuf[e] == NULL &&
		    (g->ebuf[e] = malloc((size_t)bs)) == NULL)
			return SB_ERR_NOMEM;
		for (have = 0; have < bs; have += (uint64_t)n) {
			n = pread(g->fd, g->ebuf[e] + have, (size_t)(bs - have),
			    (off_t)(off + have));
			if (n <= 0) {
				if (n == -1 && errno == EINTR) {
					n = 0;
					continue;
				}
				sb_seterr(st->base.err, "azure: PUT %s: reading "
				    "%s: %s", name, g->path, n == 0 ?
				    "file shrank" : strerror(errno));
				return SB_ERR_IO;
			}
		}
		sl->call.body.buf = g->ebuf[e];
		sl->call.body.len = bs;
		if ((rc = md5_buf(g->ebuf[e], (size_t)bs, sl->call.md5)) !=
		    SB_OK)
			return rc;
		g->ebusy[e] = 1;
		sl->ebi = (int)e;
		g->early_inflight++;
	} else {
		len = g->size - off < bs ? g->size - off : bs;
		if ((rc = seqhash_try(&g->hash, idx, sl->call.md5, &eno)) ==
		    0)
			return SB_OK;	/* hashed soon: try again */
		if (rc < 0) {
			sb_seterr(st->base.err, "azure: PUT %s: reading %s: "
			    "%s", name, g->path, strerror(eno));
			return SB_ERR_IO;
		}
		if (g->nredo > 0 && g->redo[g->nredo - 1] == idx)
			g->nredo--;
		else
			g->nblocks++;
		sl->call.body.fd = g->fd;
		sl->call.body.off = (off_t)off;
		sl->call.body.len = len;
	}
	if ((rc = grow_note(g, idx, sl->call.md5, sl->call.body.len,
	    early)) != SB_OK)
		return rc;
	*got = (size_t)sl->call.body.len;
	return SB_OK;
}

/* A block went up: give its early buffer back. */
static void
grow_done(struct az_grow *g, struct az_slot *sl)
{
	if (sl->ebi < 0)
		return;
	g->ebusy[sl->ebi] = 0;
	sl->ebi = -1;
	g->early_inflight--;
}

static void *
grow_main(void *arg)
{
	struct az_grow	*g = arg;
	struct az_src	 src;
	int		 rc;

	memset(&src, 0, sizeof(src));
	src.fd = -1;
	src.grow = g;
	src.nocommit = 1;
	if ((rc = container_check(g->st)) == SB_OK)
		rc = put_blocks(g->st, g->name, NULL, &src, NULL, 0);
	g->rc = rc;
	return NULL;
}

static void
grow_free(struct az_grow *g)
{
	unsigned	i;

	seqhash_stop(&g->hash);
	if (g->fd >= 0)
		close(g->fd);
	for (i = 0; i < g->nebuf; i++)
		free(g->ebuf[i]);
	pthread_mutex_destroy(&g->mu);
	free(g->blk);
	free(g->redo);
	free(g->chunk);
	free(g->name);
	free(g->path);
	free(g);
}

/*
 * upload_begin: start the staging thread. Returns the upload, or NULL
 * (out of memory: the generic layer then uploads at finish).
 */
static void *
az_upload_begin(struct sb_store *s, const char *name, const char *path)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_grow	*g;

	if (!name_ok(st, name) || (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->st = st;
	g->fd = -1;
	g->nebuf = (unsigned)(AZ_EARLY_MEM / st->block_size);
	if (g->nebuf < 1)
		g->nebuf = 1;
	if (g->nebuf > st->concurrency)
		g->nebuf = st->concurrency;
	pthread_mutex_init(&g->mu, NULL);
	if ((g->name = strdup(name)) == NULL ||
	    (g->path = strdup(path)) == NULL ||
	    (g->chunk = malloc(AZ_CHUNK)) == NULL ||
	    pthread_create(&g->th, NULL, grow_main, g) != 0) {
		grow_free(g);
		return NULL;
	}
	return g;
}

static void
az_upload_eof(void *arg)
{
	struct az_grow	*g = arg;

	pthread_mutex_lock(&g->mu);
	g->eof = 1;
	pthread_mutex_unlock(&g->mu);
}

/* upload_finish: wait for the blocks, commit them with meta. */
static int
az_upload_finish(struct sb_store *s, void *arg, const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_grow	*g = arg;
	int		 rc;

	az_upload_eof(g);
	pthread_join(g->th, NULL);
	if ((rc = g->rc) == SB_OK)
		rc = put_block_list(st, g->name, meta, grow_final_blocks(g));
	grow_free(g);
	return rc;
}

/* upload_abort: stop the thread; the staged blocks are never committed. */
static void
az_upload_abort(struct sb_store *s, void *arg)
{
	struct az_grow	*g = arg;

	(void)s;
	pthread_mutex_lock(&g->mu);
	g->abort = 1;
	g->eof = 1;
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->th, NULL);
	grow_free(g);
}

/*
 * put_stream: read the first block; if the stream ends inside it, one
 * Put Blob, else blocks in parallel (at most concurrency buffers).
 */
static int
az_put_stream(struct sb_store *s, const char *name, sb_read_fn rd, void *arg,
    const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_src	 src;
	struct az_body	 body;
	unsigned char	*buf = NULL;
	ssize_t		 n;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	if ((rc = container_check(st)) != SB_OK)
		return rc;
	memset(&src, 0, sizeof(src));
	src.rd = rd;
	src.rdarg = arg;
	src.fd = -1;
	if ((buf = malloc((size_t)st->block_size)) == NULL) {
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	if ((n = read_full(&src, buf, (size_t)st->block_size)) < 0) {
		sb_seterr(st->base.err, "azure: PUT %s: the reader failed",
		    name);
		free(buf);
		return SB_ERR_IO;
	}
	if (src.eof) {
		memset(&body, 0, sizeof(body));
		body.fd = -1;
		body.buf = buf;
		body.len = (uint64_t)n;
		rc = put_blob(st, name, meta, &body);
		free(buf);
		return rc;
	}
	/* put_blocks owns buf from here. */
	return put_blocks(st, name, meta, &src, buf, (size_t)n);
}

/* put_file: one Put Blob when small, else blocks read with pread. */
static int
az_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_src	 src;
	struct az_body	 body;
	struct az_hasher h;
	struct stat	 sb;
	int		 fd = -1, rc;

	memset(&src, 0, sizeof(src));
	memset(&h, 0, sizeof(h));
	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		sb_seterr(st->base.err, "azure: PUT %s: %s: %s", name, path,
		    strerror(errno));
		rc = SB_ERR_IO;
		goto out;
	}
	if ((rc = container_check(st)) != SB_OK)
		goto out;
	if ((uint64_t)sb.st_size < st->block_size) {
		memset(&body, 0, sizeof(body));
		body.fd = fd;
		body.len = (uint64_t)sb.st_size;
		rc = put_blob(st, name, meta, &body);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	src.fd = fd;
	src.size = (uint64_t)sb.st_size;
	src.hasher = &h;
	if ((rc = hasher_start(&h, fd, src.size, st->block_size,
	    2 * st->concurrency)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
		goto out;
	}
	rc = put_blocks(st, name, meta, &src, NULL, 0);
out:
	hasher_stop(&h);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Get Blob state: what reached the writer, and what to skip on a 200. */
struct az_get {
	sb_write_fn	 wr;
	void		*arg;
	struct az_resp	*resp;
	uint64_t	 delivered;
	uint64_t	 from;		/* what this attempt asked to start at */
	uint64_t	 skip;
	int		 checked;	/* this attempt's first bytes seen */
};

static int
get_sink(void *arg, const char *buf, size_t len)
{
	struct az_get	*g = arg;

	/* A 200 to a ranged request restarts at 0: skip what we have. */
	if (!g->checked) {
		g->checked = 1;
		g->skip = g->resp->status == 200 ? g->from : 0;
	}
	if (g->skip > 0) {
		size_t	n = g->skip < len ? (size_t)g->skip : len;

		g->skip -= n;
		buf += n;
		len -= n;
	}
	if (len == 0)
		return SB_OK;
	if (g->wr(g->arg, buf, len) != 0)
		return SB_ERR_IO;
	g->delivered += len;
	return SB_OK;
}

/*
 * get: Get Blob, streamed. After a dropped or truncated transfer, ask for
 * the rest with x-ms-range: bytes=<delivered>- and If-Match on the first
 * ETag (a 412 means the blob changed under us: fail, never splice). An
 * attempt that delivered bytes does not use up a retry; AZ_GET_MAX bounds
 * the whole.
 */
#define AZ_GET_MAX	1000
static int
az_get(struct sb_store *s, const char *name, sb_write_fn wr, void *arg)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	struct az_wire	 w;
	struct az_get	 g;
	char		 range[64], etag[128] = "";
	int64_t		 total = -1;
	uint64_t	 before;
	unsigned	 fails = 0, tries;
	enum az_verdict	 v;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	memset(&g, 0, sizeof(g));
	g.wr = wr;
	g.arg = arg;
	g.resp = &r;
	for (tries = 1;; tries++) {
		call_init(&c, "GET blob", "GET", name);
		c.sink = get_sink;
		c.sinkarg = &g;
		if (g.delivered > 0) {
			snprintf(range, sizeof(range), "bytes=%llu-",
			    (unsigned long long)g.delivered);
			if ((rc = call_xms(&c, "x-ms-range", range)) != SB_OK)
				goto out;
			sb_strlcpy(c.if_match, etag, sizeof(c.if_match));
		}
		before = g.delivered;
		if ((rc = setup(st, st->easy, &c, &r, &w)) != SB_OK)
			goto out;
		g.from = g.delivered;
		g.skip = 0;
		g.checked = 0;
		r.cc = curl_easy_perform(st->easy);
		wire_clear(&w);
		v = verdict(&r);
		if (v == AZ_DONE) {
			if (etag[0] == '\0')
				sb_strlcpy(etag, r.etag, sizeof(etag));
			if (total < 0)
				total = r.status == 206 ? r.range_total :
				    r.clen;
			if (total >= 0 && g.delivered == (uint64_t)total) {
				rc = SB_OK;
				goto out;
			}
			/* Short body without a curl error: go on. */
			v = AZ_RETRY;
			r.cc = CURLE_PARTIAL_FILE;
			if (total < 0) {
				sb_seterr(st->base.err, "azure: GET blob %s: "
				    "no length in the response", name);
				rc = SB_ERR_STORAGE;
				goto out;
			}
		} else if (r.status == 200 || r.status == 206) {
			/* Dropped mid-body: remember what we learnt. */
			if (etag[0] == '\0')
				sb_strlcpy(etag, r.etag, sizeof(etag));
			if (total < 0)
				total = r.status == 206 ? r.range_total :
				    r.clen;
		}
		if (total >= 0 && g.delivered == (uint64_t)total &&
		    r.sinkerr == SB_OK && (r.status == 200 ||
		    r.status == 206)) {
			rc = SB_OK;	/* dropped after the last byte */
			goto out;
		}
		if (r.status == 412) {
			sb_seterr(st->base.err, "azure: GET blob %s: the blob "
			    "changed during the download (412, request id "
			    "%s)", name, r.reqid[0] ? r.reqid : "none");
			rc = SB_ERR_STORAGE;
			goto out;
		}
		if (g.delivered == before)
			fails++;
		if (v == AZ_FAIL || fails > st->retries || tries >= AZ_GET_MAX) {
			rc = fail_msg(st, &c, &r, tries);
			goto out;
		}
		call_clear(&c);
		sleep_ms(g.delivered > before ? 0 :
		    backoff_ms(fails - 1, r.retry_after));
	}
out:
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/*
 * get_fd: Get Blob into a file. A blob of more than AZ_PART_MIN bytes
 * comes as ranges of AZ_PART bytes, concurrency of them at a time on the
 * multi handle, each written with pwrite where it belongs; a smaller one
 * comes in one az_get. A HEAD first gives the size and the ETag every
 * range is pinned to with If-Match (a 412 means the blob changed under
 * us: fail, never splice). A range whose transfer drops resumes from its
 * last byte and uses up a retry only if that attempt brought nothing.
 * mark() learns how far the file is written without a hole: every range
 * below the lowest one still in flight is complete.
 */
#define AZ_PART		(8 * 1024 * 1024)
#define AZ_PART_MIN	(2 * AZ_PART)

struct az_part {
	CURL		*easy;
	struct az_call	 call;
	struct az_resp	 resp;
	struct az_wire	 wire;
	int		 fd;
	uint64_t	 end;		/* the range is [start, end) */
	uint64_t	 pos;		/* its next byte */
	uint64_t	 before;	/* pos when this attempt started */
	int		 eno;		/* errno of a failed pwrite */
	int		 norange;	/* a 2xx that was not 206 */
	unsigned	 fails;		/* attempts that brought nothing */
	unsigned	 tries;		/* all attempts (AZ_GET_MAX) */
	int64_t		 not_before;	/* mono ms, when waiting */
	enum { PART_FREE, PART_RUNNING, PART_WAITING } state;
};

/* Write buf at offset off of fd, all of it; 0 or an errno. */
static int
pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = pwrite(fd, buf, len, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
part_sink(void *arg, const char *buf, size_t len)
{
	struct az_part	*p = arg;

	if (p->resp.status != 206) {
		p->norange = 1;
		return SB_ERR_STORAGE;
	}
	if (len > p->end - p->pos)
		len = (size_t)(p->end - p->pos);	/* never past the range */
	if ((p->eno = pwrite_all(p->fd, buf, len, p->pos)) != 0)
		return SB_ERR_IO;
	p->pos += len;
	return SB_OK;
}

/* Start (or resume) the GET of a part's range on the multi handle. */
static int
part_start(struct az_store *st, struct az_part *p, const char *name,
    const char *etag)
{
	char	range[64];
	int	rc;

	call_clear(&p->call);
	call_init(&p->call, "GET blob", "GET", name);
	p->call.sink = part_sink;
	p->call.sinkarg = p;
	snprintf(range, sizeof(range), "bytes=%llu-%llu",
	    (unsigned long long)p->pos, (unsigned long long)(p->end - 1));
	if ((rc = call_xms(&p->call, "x-ms-range", range)) != SB_OK)
		return rc;
	sb_strlcpy(p->call.if_match, etag, sizeof(p->call.if_match));
	p->before = p->pos;
	if ((rc = setup(st, p->easy, &p->call, &p->resp, &p->wire)) != SB_OK)
		return rc;
	if (curl_multi_add_handle(st->multi, p->easy) != CURLM_OK) {
		wire_clear(&p->wire);
		return SB_ERR_STORAGE;
	}
	p->state = PART_RUNNING;
	return SB_OK;
}

/*
 * Judge a part's finished attempt: done (PART_FREE), waiting to resume,
 * or the error of the whole download (message set).
 */
static int
part_done(struct az_store *st, struct az_part *p, const char *name)
{
	enum az_verdict	v = verdict(&p->resp);

	wire_clear(&p->wire);
	if (p->pos == p->end && p->resp.sinkerr == SB_OK &&
	    p->resp.status == 206) {
		p->state = PART_FREE;	/* complete, even if the end dropped */
		return SB_OK;
	}
	if (p->norange) {
		sb_seterr(st->base.err, "azure: GET blob %s: the server "
		    "answered a ranged request with %ld, not 206", name,
		    p->resp.status);
		return SB_ERR_STORAGE;
	}
	if (p->eno != 0) {
		sb_seterr(st->base.err, "azure: GET blob %s: writing the "
		    "file: %s", name, strerror(p->eno));
		return SB_ERR_IO;
	}
	if (p->resp.status == 412) {
		sb_seterr(st->base.err, "azure: GET blob %s: the blob changed "
		    "during the download (412, request id %s)", name,
		    p->resp.reqid[0] ? p->resp.reqid : "none");
		return SB_ERR_STORAGE;
	}
	if (v == AZ_DONE)		/* a short 206 without a curl error */
		v = AZ_RETRY;
	if (p->pos == p->before)
		p->fails++;
	if (v == AZ_FAIL || p->fails > st->retries ||
	    ++p->tries >= AZ_GET_MAX)
		return fail_msg(st, &p->call, &p->resp, p->tries);
	p->not_before = sb_mono_ms() + (p->pos > p->before ? 0 :
	    backoff_ms(p->fails - 1, p->resp.retry_after));
	p->state = PART_WAITING;
	return SB_OK;
}

/* The ranges of a blob of size bytes, in parallel (see get_fd above). */
static int
get_parts(struct az_store *st, const char *name, int fd, uint64_t size,
    const char *etag, sb_mark_fn mark, void *markarg)
{
	struct az_part	*parts, *p;
	CURLMsg		*msg;
	size_t		 n = st->concurrency, i;
	uint64_t	 next = 0, low;
	int64_t		 now, wait;
	int		 rc = SB_OK, running = 0, left, active;

	if ((st->multi == NULL && (st->multi = curl_multi_init()) == NULL) ||
	    (parts = calloc(n, sizeof(*parts))) == NULL) {
		sb_seterr(st->base.err, "azure: GET blob %s: out of memory",
		    name);
		return SB_ERR_NOMEM;
	}
	curl_multi_setopt(st->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
	for (i = 0; i < n && rc == SB_OK; i++) {
		parts[i].fd = fd;
		if ((parts[i].easy = curl_easy_init()) == NULL) {
			sb_seterr(st->base.err, "azure: GET blob %s: out of "
			    "memory", name);
			rc = SB_ERR_NOMEM;
		}
	}
	while (rc == SB_OK) {
		now = sb_mono_ms();
		active = 0;
		low = next;
		for (i = 0; i < n && rc == SB_OK; i++) {
			p = &parts[i];
			if (p->state == PART_FREE && next < size) {
				p->pos = next;
				p->end = size - next < AZ_PART ? size :
				    next + AZ_PART;
				next = p->end;
				p->fails = p->tries = 0;
				rc = part_start(st, p, name, etag);
			} else if (p->state == PART_WAITING &&
			    p->not_before <= now)
				rc = part_start(st, p, name, etag);
			if (p->state != PART_FREE) {
				active++;
				if (p->pos < low)
					low = p->pos;
			}
		}
		if (mark != NULL)
			mark(markarg, low);
		if (rc != SB_OK || active == 0)
			break;
		if (curl_multi_perform(st->multi, &running) != CURLM_OK) {
			sb_seterr(st->base.err, "azure: GET blob %s: curl "
			    "multi failed", name);
			rc = SB_ERR_STORAGE;
			break;
		}
		while (rc == SB_OK &&
		    (msg = curl_multi_info_read(st->multi, &left)) != NULL) {
			struct az_resp	*r = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&r);
			r->cc = msg->data.result;
			curl_multi_remove_handle(st->multi, msg->easy_handle);
			p = (struct az_part *)((char *)r -
			    offsetof(struct az_part, resp));
			p->state = PART_FREE;
			rc = part_done(st, p, name);
		}
		/* Sleep until traffic, or until a waiting part is due. */
		wait = 1000;
		now = sb_mono_ms();
		for (i = 0; i < n; i++) {
			if (parts[i].state == PART_FREE && next < size)
				wait = 0;
			else if (parts[i].state == PART_WAITING &&
			    parts[i].not_before - now < wait)
				wait = parts[i].not_before - now;
		}
		if (rc == SB_OK && wait > 0 && running > 0)
			curl_multi_poll(st->multi, NULL, 0, (int)wait, NULL);
		else if (rc == SB_OK && wait > 0)
			sleep_ms(wait);
	}
	for (i = 0; i < n; i++) {
		p = &parts[i];
		if (p->easy != NULL) {
			if (p->state == PART_RUNNING)
				curl_multi_remove_handle(st->multi, p->easy);
			curl_easy_cleanup(p->easy);
		}
		wire_clear(&p->wire);
		call_clear(&p->call);
		sb_meta_clear(&p->resp.meta);
	}
	free(parts);
	return rc;
}

/* A writer at the end of what get_fd has written so far, for az_get. */
struct az_fdw {
	int		 fd;
	uint64_t	 off;
	int		 eno;
	sb_mark_fn	 mark;
	void		*markarg;
};

static int
fdw_write(void *arg, const void *buf, size_t len)
{
	struct az_fdw	*w = arg;

	if ((w->eno = pwrite_all(w->fd, buf, len, w->off)) != 0)
		return -1;
	w->off += len;
	if (w->mark != NULL)
		w->mark(w->markarg, w->off);
	return 0;
}

static int
az_get_fd(struct sb_store *s, const char *name, int fd, sb_mark_fn mark,
    void *markarg)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_fdw	 w = { fd, 0, 0, mark, markarg };
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	call_init(&c, "HEAD blob", "HEAD", name);
	rc = run(st, &c, &r);
	call_clear(&c);
	sb_meta_clear(&r.meta);
	if (rc != SB_OK)
		return rc;
	if (r.clen > AZ_PART_MIN && st->concurrency > 1 && r.etag[0] != '\0')
		return get_parts(st, name, fd, (uint64_t)r.clen, r.etag, mark,
		    markarg);
	rc = az_get(s, name, fdw_write, &w);
	if (rc != SB_OK && w.eno != 0) {
		sb_seterr(st->base.err, "azure: GET blob %s: writing the "
		    "file: %s", name, strerror(w.eno));
		rc = SB_ERR_IO;
	}
	return rc;
}

/* head: Get Blob Properties (HEAD): size, Last-Modified, x-ms-meta-*. */
static int
az_head(struct sb_store *s, const char *name, struct sb_object *o)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	memset(o, 0, sizeof(*o));
	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	call_init(&c, "HEAD blob", "HEAD", name);
	c.want_meta = 1;
	if ((rc = run(st, &c, &r)) == SB_OK) {
		if ((o->name = strdup(name)) == NULL) {
			rc = SB_ERR_NOMEM;
			sb_seterr(st->base.err, "azure: out of memory");
		} else {
			o->size = r.clen;
			o->mtime = r.mtime > 0 ? r.mtime : 0;
			o->meta = r.meta;
			memset(&r.meta, 0, sizeof(r.meta));
		}
	}
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

struct az_listsink {
	struct az_listparse	*lp;
	char			*err;
};

static int
list_sink(void *arg, const char *buf, size_t len)
{
	struct az_listsink	*ls = arg;

	return az_listparse_feed(ls->lp, buf, len, 0, ls->err);
}

static int
objcmp(const void *a, const void *b)
{
	return strcmp(((const struct sb_object *)a)->name,
	    ((const struct sb_object *)b)->name);
}

/* Drop the entries from index n on (those of a page that failed). */
static void
list_truncate(struct sb_object_list *l, size_t n)
{
	while (l->n > n) {
		l->n--;
		free(l->v[l->n].name);
		sb_meta_clear(&l->v[l->n].meta);
	}
}

/*
 * list: List Blobs, page by page (up to 5,000 each) until NextMarker is
 * empty. Each page is parsed as it streams in; a page that fails is
 * dropped and fetched again. A missing container (404
 * ContainerNotFound) is an error, never an empty listing: reconcile would
 * take every backup for lost. The result is sorted by name (byte order),
 * whatever the server did.
 */
static int
az_list(struct sb_store *s, const char *prefix, struct sb_object_list *out)
{
	struct az_store		*st = (struct az_store *)s;
	struct sb_object_list	 l = { NULL, 0 };
	struct az_listsink	 ls;
	struct az_call		 c;
	struct az_resp		 r;
	struct az_wire		 w;
	char			*marker = NULL, perr[SB_ERRMSG_MAX];
	size_t			 n0;
	unsigned		 attempt;
	enum az_verdict		 v;
	int			 rc = SB_OK, pages = 0;

	out->v = NULL;
	out->n = 0;
	memset(&r, 0, sizeof(r));
	memset(&ls, 0, sizeof(ls));
	ls.err = perr;
	call_init(&c, "LIST blobs", "GET", NULL);
	do {
		for (attempt = 0;; attempt++) {
			call_clear(&c);
			call_init(&c, "LIST blobs", "GET", NULL);
			call_qp(&c, "restype", "container");
			call_qp(&c, "comp", "list");
			call_qp(&c, "include", "metadata");
			if (prefix != NULL && prefix[0] != '\0')
				call_qp(&c, "prefix", prefix);
			if (marker != NULL)
				call_qp(&c, "marker", marker);
			c.sink = list_sink;
			c.sinkarg = &ls;
			n0 = l.n;
			az_listparse_free(&ls.lp);
			perr[0] = '\0';
			if ((rc = az_listparse_new(&ls.lp, &l)) != SB_OK ||
			    (rc = setup(st, st->easy, &c, &r, &w)) != SB_OK) {
				sb_seterr(st->base.err, "azure: LIST blobs: "
				    "%s", sb_strerror(rc));
				goto out;
			}
			r.cc = curl_easy_perform(st->easy);
			wire_clear(&w);
			v = verdict(&r);
			if (v == AZ_DONE && (rc = az_listparse_feed(ls.lp, "",
			    0, 1, perr)) != SB_OK)
				v = AZ_FAIL;
			if (v == AZ_DONE)
				break;
			list_truncate(&l, n0);
			if (r.status == 404 &&
			    strcmp(r.code, "ContainerNotFound") == 0) {
				rc = fail_msg(st, &c, &r, attempt + 1);
				rc = rc == SB_ERR_NOTFOUND ? SB_ERR_STORAGE :
				    rc;
				goto out;
			}
			if (r.sinkerr != SB_OK || (r.cc == CURLE_OK &&
			    perr[0] != '\0')) {
				sb_seterr(st->base.err, "azure: LIST blobs "
				    "%s: %s (request id %s)", st->container,
				    perr, r.reqid[0] ? r.reqid : "none");
				rc = r.sinkerr != SB_OK ? r.sinkerr :
				    SB_ERR_STORAGE;
				goto out;
			}
			if (v == AZ_FAIL || attempt >= st->retries) {
				rc = fail_msg(st, &c, &r, attempt + 1);
				goto out;
			}
			sleep_ms(backoff_ms(attempt, r.retry_after));
		}
		free(marker);
		marker = az_listparse_marker(ls.lp);
		pages++;
	} while (marker != NULL && pages < 1000000);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(l.v[0]), objcmp);
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	az_listparse_free(&ls.lp);
	sb_object_list_clear(&l);
	free(marker);
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/* del: Delete Blob (with its snapshots); 404 means already gone. */
static int
az_del(struct sb_store *s, const char *name)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	call_init(&c, "DELETE blob", "DELETE", name);
	if ((rc = call_xms(&c, "x-ms-delete-snapshots", "include")) == SB_OK)
		rc = run(st, &c, &r);
	if (rc == SB_ERR_NOTFOUND) {
		st->base.err[0] = '\0';
		rc = SB_OK;
	}
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/*
 * put_new: Put Blob with If-None-Match: * ("Specifying Conditional
 * Headers for Blob Service Operations"): the blob is written only if it
 * does not exist, so two inits cannot both write a marker; the loser gets
 * 409 BlobAlreadyExists and reads the winner's.
 */
static int
az_put_new(struct sb_store *s, const char *name, const void *buf,
    size_t len, int *existed)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	call_init(&c, "PUT blob", "PUT", name);
	c.if_none_match = 1;
	c.body.fd = -1;
	c.body.buf = buf;
	c.body.len = (uint64_t)len;
	if ((rc = call_xms(&c, "x-ms-blob-type", "BlockBlob")) != SB_OK ||
	    (rc = md5_buf(buf, len, c.md5)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT blob %s: %s", name,
		    sb_strerror(rc));
		goto out;
	}
	rc = run(st, &c, &r);
	if (rc != SB_OK && (r.status == 409 || r.status == 412) &&
	    r.cc == CURLE_OK) {
		*existed = 1;
		st->base.err[0] = '\0';
		rc = SB_OK;
	}
out:
	call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

static const char *
az_staging_dir(struct sb_store *s)
{
	(void)s;
	return NULL;
}

/* Refuse metadata over Azure's total limit before anything is sent. */
static int
az_meta_check(struct sb_store *s, const struct sb_meta *m)
{
	size_t	n;
	int	rc;

	if ((rc = az_meta_size(m, &n)) != SB_OK) {
		sb_seterr(s->err, "out of memory");
		return rc;
	}
	if (n > AZ_META_TOTAL_MAX) {
		sb_seterr(s->err, "description and tags too large for Azure "
		    "metadata: %zu bytes, the limit is %d", n,
		    AZ_META_TOTAL_MAX);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

static void
az_free(struct sb_store *s)
{
	struct az_store	*st = (struct az_store *)s;

	if (st == NULL)
		return;
	if (st->easy != NULL)
		curl_easy_cleanup(st->easy);
	if (st->multi != NULL)
		curl_multi_cleanup(st->multi);
	az_cred_clear(&st->cred);
	free(st->container);
	free(st);
}

static const struct sb_store_ops az_ops = {
	.kind = "azure",
	.put_stream = az_put_stream,
	.put_file = az_put_file,
	.get = az_get,
	.get_fd = az_get_fd,
	.head = az_head,
	.list = az_list,
	.del = az_del,
	.staging_dir = az_staging_dir,
	.meta_check = az_meta_check,
	.free = az_free,
	.upload_begin = az_upload_begin,
	.upload_eof = az_upload_eof,
	.upload_finish = az_upload_finish,
	.upload_abort = az_upload_abort,
	.create = az_create,
	.put_new = az_put_new,
};

/* Container names: 3..63 of [a-z0-9-], no leading, trailing or double '-'. */
static int
container_ok(const char *s)
{
	size_t	len = s != NULL ? strlen(s) : 0, i;

	if (len < 3 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
		if (s[i] == '-' && s[i + 1] == '-')
			return 0;
	}
	return 1;
}

/*
 * Open the Azure store the config describes (see config.h). No request
 * is made here, and the container is never created but by init. *out
 * is owned by the caller (sb_store_free). On failure err says which
 * setting is wrong, never a secret.
 */
int
sb_store_azure_open(struct sb_store **out, const struct sb_config *cfg,
    char *err)
{
	struct az_store	*st = NULL;
	int		 rc;

	*out = NULL;
	if (!container_ok(cfg->az_container)) {
		sb_seterr(err, "azure: container must be 3 to 63 of "
		    "[a-z0-9-] (not starting or ending with '-')");
		return SB_ERR_CONFIG;
	}
	if (cfg->az_block_size != 0 && (cfg->az_block_size < AZ_BLOCK_MIN ||
	    cfg->az_block_size > AZ_BLOCK_MAX)) {
		sb_seterr(err, "azure: block_size must be between 64k and "
		    "4000M");
		return SB_ERR_CONFIG;
	}
	if (cfg->az_concurrency > AZ_CONC_MAX) {
		sb_seterr(err, "azure: concurrency must be at most %d",
		    AZ_CONC_MAX);
		return SB_ERR_CONFIG;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		sb_seterr(err, "azure: curl_global_init failed");
		return SB_ERR_STORAGE;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	st->base.ops = &az_ops;
	if ((rc = az_cred_init(&st->cred, cfg, err)) != SB_OK)
		goto out;
	rc = SB_ERR_NOMEM;
	if ((st->container = strdup(cfg->az_container)) == NULL ||
	    (st->easy = curl_easy_init()) == NULL) {
		sb_seterr(err, "out of memory");
		goto out;
	}
	st->block_size = cfg->az_block_size ? cfg->az_block_size :
	    8 * 1024 * 1024;
	st->concurrency = cfg->az_concurrency ? cfg->az_concurrency : 4;
	st->timeout = cfg->az_timeout ? cfg->az_timeout : 60;
	st->retries = cfg->az_retries;
	*out = &st->base;
	st = NULL;
	rc = SB_OK;
out:
	az_free(st ? &st->base : NULL);
	return rc;
}
