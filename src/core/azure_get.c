/*
 * azure_get.c - downloads from the Azure store (store_azure.c):
 *   get	Get Blob, streamed into a writer. A dropped or truncated
 *		transfer resumes with x-ms-range from the bytes already
 *		delivered, pinned to the first ETag with If-Match, so a
 *		blob that changed is never spliced (412).
 *   get_fd	Get Blob into a file. A HEAD gives the size and ETag; a
 *		blob over AZ_PART_MIN comes as ranges of AZ_PART bytes,
 *		az_concurrency at a time on the multi handle, each pinned
 *		with If-Match and written with pwrite where it belongs; a
 *		smaller one with get.
 * Either way, an attempt that delivered bytes does not use up a retry;
 * AZ_GET_MAX attempts bound a transfer (or one range).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "azure_int.h"

#define AZ_GET_MAX	1000
#define AZ_PART		(8 * 1024 * 1024)
#define AZ_PART_MIN	(2 * AZ_PART)

/* --- get: one stream ----------------------------------------------------- */

/* A streamed Get Blob across its attempts. */
struct az_get {
	sb_write_fn	 wr;
	void		*arg;
	struct az_resp	*resp;
	uint64_t	 delivered;
	uint64_t	 from;		/* where this attempt asked to start */
	uint64_t	 skip;
	int		 checked;	/* this attempt's first bytes seen */
	char		 etag[128];	/* of the first answer */
	int64_t		 total;		/* the blob's size, -1 unknown */
	unsigned	 fails;		/* attempts that brought nothing */
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

/* One attempt: from what was delivered, pinned to the first ETag. */
static enum sb_err
get_attempt(struct az_store *st, const char *name, struct az_get *g,
    struct az_call *c)
{
	struct az_wire	w;
	char		range[64];
	enum sb_err	rc;

	az_call_init(c, "GET blob", "GET", name);
	c->sink = get_sink;
	c->sinkarg = g;
	if (g->delivered > 0) {
		snprintf(range, sizeof(range), "bytes=%llu-",
		    (unsigned long long)g->delivered);
		if ((rc = az_call_xms(c, "x-ms-range", range)) != SB_OK)
			return rc;
		sb_strlcpy(c->if_match, g->etag, sizeof(c->if_match));
	}
	if ((rc = az_setup(st, st->easy, c, g->resp, &w)) != SB_OK)
		return rc;
	g->from = g->delivered;
	g->skip = 0;
	g->checked = 0;
	g->resp->cc = curl_easy_perform(st->easy);
	az_wire_clear(&w);
	return SB_OK;
}

/*
 * Judge a finished attempt that started at before: SB_OK with *done set
 * when the whole blob is delivered, SB_OK to try again, or the error
 * (message set).
 */
static enum sb_err
get_judge(struct az_store *st, const char *name, struct az_get *g,
    struct az_call *c, uint64_t before, unsigned tries, int *done)
{
	struct az_resp	*r = g->resp;
	enum az_verdict	 v = az_verdict(r);
	int		 body = r->status == 200 || r->status == 206;

	*done = 0;
	if (v == AZ_DONE || body) {	/* remember what we learnt */
		if (g->etag[0] == '\0')
			sb_strlcpy(g->etag, r->etag, sizeof(g->etag));
		if (g->total < 0)
			g->total = r->status == 206 ? r->range_total : r->clen;
	}
	if (v == AZ_DONE && g->total < 0) {
		sb_seterr(st->base.err, "azure: GET blob %s: no length in the "
		    "response", name);
		return SB_ERR_STORAGE;
	}
	if (g->total >= 0 && g->delivered == (uint64_t)g->total &&
	    r->sinkerr == SB_OK && body) {
		*done = 1;	/* all of it, even if dropped after the end */
		return SB_OK;
	}
	if (v == AZ_DONE) {	/* a short body without a curl error */
		v = AZ_RETRY;
		r->cc = CURLE_PARTIAL_FILE;
	}
	if (r->status == 412) {
		sb_seterr(st->base.err, "azure: GET blob %s: the blob changed "
		    "during the download (412, request id %s)", name,
		    r->reqid[0] ? r->reqid : "none");
		return SB_ERR_STORAGE;
	}
	if (g->delivered == before)
		g->fails++;
	if (v == AZ_FAIL || g->fails > st->retries || tries >= AZ_GET_MAX)
		return az_fail_msg(st, c, r, tries);
	return SB_OK;
}

enum sb_err
az_get(struct sb_store *s, const char *name, sb_write_fn wr, void *arg)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	struct az_get	 g;
	uint64_t	 before;
	unsigned	 tries;
	int		 rc, done = 0;

	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	memset(&g, 0, sizeof(g));
	g.wr = wr;
	g.arg = arg;
	g.resp = &r;
	g.total = -1;
	for (tries = 1;; tries++) {
		before = g.delivered;
		if ((rc = get_attempt(st, name, &g, &c)) != SB_OK ||
		    (rc = get_judge(st, name, &g, &c, before, tries,
		    &done)) != SB_OK || done)
			break;
		az_call_clear(&c);
		az_sleep_ms(g.delivered > before ? 0 :
		    az_backoff_ms(g.fails - 1, r.retry_after));
	}
	az_call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/* --- get_fd: ranges in parallel ----------------------------------------- */

/*
 * One range of the blob, on its own easy handle. mark() learns how far
 * the file is written without a hole: every range below the lowest one
 * still in flight is complete, since ranges are handed out in order.
 */
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

/* The parts of one get_fd, and what is not yet handed out. */
struct az_parts {
	struct az_store	*st;
	const char	*name;
	const char	*etag;
	struct az_part	*v;
	size_t		 n;
	uint64_t	 next;		/* first byte not yet handed out */
	uint64_t	 size;
	int		 running;	/* transfers curl has in flight */
};

static int
part_sink(void *arg, const char *buf, size_t len)
{
	struct az_part	*p = arg;

	if (p->resp.status != 206) {
		p->norange = 1;
		return SB_ERR_STORAGE;
	}
	if (len > p->end - p->pos)
		len = (size_t)(p->end - p->pos);	/* not past the range */
	if (sb_pwrite_all(p->fd, buf, len, p->pos) != SB_OK) {
		p->eno = errno;
		return SB_ERR_IO;
	}
	p->pos += len;
	return SB_OK;
}

/* Start (or resume) the GET of a part's range on the multi handle. */
static enum sb_err
part_start(struct az_parts *ps, struct az_part *p)
{
	char		range[64];
	enum sb_err	rc;

	az_call_clear(&p->call);
	az_call_init(&p->call, "GET blob", "GET", ps->name);
	p->call.sink = part_sink;
	p->call.sinkarg = p;
	snprintf(range, sizeof(range), "bytes=%llu-%llu",
	    (unsigned long long)p->pos, (unsigned long long)(p->end - 1));
	if ((rc = az_call_xms(&p->call, "x-ms-range", range)) != SB_OK)
		return rc;
	sb_strlcpy(p->call.if_match, ps->etag, sizeof(p->call.if_match));
	p->before = p->pos;
	if ((rc = az_multi_add(ps->st, p->easy, &p->call, &p->resp,
	    &p->wire)) != SB_OK)
		return rc;
	p->state = PART_RUNNING;
	return SB_OK;
}

/*
 * Judge a part's finished attempt: done (PART_FREE), waiting to resume,
 * or the error of the whole download (message set).
 */
static enum sb_err
part_done(struct az_parts *ps, struct az_part *p)
{
	struct az_store	*st = ps->st;
	enum az_verdict	 v = az_verdict(&p->resp);

	az_wire_clear(&p->wire);
	p->state = PART_FREE;
	if (p->pos == p->end && p->resp.sinkerr == SB_OK &&
	    p->resp.status == 206)
		return SB_OK;	/* complete, even if the end dropped */
	if (p->norange) {
		sb_seterr(st->base.err, "azure: GET blob %s: the server "
		    "answered a ranged request with %ld, not 206", ps->name,
		    p->resp.status);
		return SB_ERR_STORAGE;
	}
	if (p->eno != 0) {
		sb_seterr(st->base.err, "azure: GET blob %s: writing the "
		    "file: %s", ps->name, strerror(p->eno));
		return SB_ERR_IO;
	}
	if (p->resp.status == 412) {
		sb_seterr(st->base.err, "azure: GET blob %s: the blob changed "
		    "during the download (412, request id %s)", ps->name,
		    p->resp.reqid[0] ? p->resp.reqid : "none");
		return SB_ERR_STORAGE;
	}
	if (v == AZ_DONE)		/* a short 206 without a curl error */
		v = AZ_RETRY;
	if (p->pos == p->before)
		p->fails++;
	if (v == AZ_FAIL || p->fails > st->retries ||
	    ++p->tries >= AZ_GET_MAX)
		return az_fail_msg(st, &p->call, &p->resp, p->tries);
	p->not_before = sb_mono_ms() + (p->pos > p->before ? 0 :
	    az_backoff_ms(p->fails - 1, p->resp.retry_after));
	p->state = PART_WAITING;
	return SB_OK;
}

/*
 * Hand the next ranges to free parts and restart the waiting ones that
 * are due. *low gets the first byte not yet written without a hole,
 * *active the parts in flight or waiting.
 */
static enum sb_err
parts_feed(struct az_parts *ps, uint64_t *low, size_t *active)
{
	struct az_part	*p;
	int64_t		 now = sb_mono_ms();
	enum sb_err	 rc = SB_OK;
	size_t		 i;

	*active = 0;
	*low = ps->next;
	for (i = 0; i < ps->n && rc == SB_OK; i++) {
		p = &ps->v[i];
		if (p->state == PART_FREE && ps->next < ps->size) {
			p->pos = ps->next;
			p->end = ps->size - ps->next < AZ_PART ? ps->size :
			    ps->next + AZ_PART;
			ps->next = p->end;
			p->fails = p->tries = 0;
			rc = part_start(ps, p);
		} else if (p->state == PART_WAITING && p->not_before <= now)
			rc = part_start(ps, p);
		if (p->state != PART_FREE) {
			(*active)++;
			if (p->pos < *low)
				*low = p->pos;
		}
	}
	return rc;
}

/* Let curl move the bytes, then judge every transfer that ended. */
static enum sb_err
parts_reap(struct az_parts *ps)
{
	struct az_resp	*r;
	CURLMsg		*msg;
	enum sb_err	 rc = SB_OK;
	int		 left;

	if (curl_multi_perform(ps->st->multi, &ps->running) != CURLM_OK) {
		sb_seterr(ps->st->base.err, "azure: GET blob %s: curl multi "
		    "failed", ps->name);
		return SB_ERR_STORAGE;
	}
	while (rc == SB_OK &&
	    (msg = curl_multi_info_read(ps->st->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r);
		r->cc = msg->data.result;
		curl_multi_remove_handle(ps->st->multi, msg->easy_handle);
		rc = part_done(ps, (struct az_part *)((char *)r -
		    offsetof(struct az_part, resp)));
	}
	return rc;
}

/* Sleep until traffic, or until a waiting part is due; not if one is free. */
static void
parts_wait(struct az_parts *ps)
{
	int64_t	now = sb_mono_ms(), wait = 1000;
	size_t	i;

	for (i = 0; i < ps->n; i++) {
		if (ps->v[i].state == PART_FREE && ps->next < ps->size)
			wait = 0;
		else if (ps->v[i].state == PART_WAITING &&
		    ps->v[i].not_before - now < wait)
			wait = ps->v[i].not_before - now;
	}
	if (wait > 0 && ps->running > 0)
		curl_multi_poll(ps->st->multi, NULL, 0, (int)wait, NULL);
	else if (wait > 0)
		az_sleep_ms(wait);
}

static void
parts_free(struct az_parts *ps)
{
	struct az_part	*p;
	size_t		 i;

	for (i = 0; ps->v != NULL && i < ps->n; i++) {
		p = &ps->v[i];
		az_multi_release(ps->st, p->easy, p->state == PART_RUNNING,
		    &p->call, &p->resp, &p->wire);
	}
	free(ps->v);
}

/* The ranges of a blob of size bytes, in parallel, into fd. */
static enum sb_err
get_parts(struct az_store *st, const char *name, int fd, uint64_t size,
    const char *etag, sb_mark_fn mark, void *markarg)
{
	struct az_parts	ps = { st, name, etag, NULL, st->concurrency, 0,
			    size, 0 };
	uint64_t	low;
	size_t		i, active;
	enum sb_err	rc = SB_OK;

	if ((st->multi == NULL && (st->multi = curl_multi_init()) == NULL) ||
	    (ps.v = calloc(ps.n, sizeof(*ps.v))) == NULL)
		rc = SB_ERR_NOMEM;
	else
		curl_multi_setopt(st->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
		    (long)ps.n);
	for (i = 0; i < ps.n && rc == SB_OK; i++) {
		ps.v[i].fd = fd;
		if ((ps.v[i].easy = curl_easy_init()) == NULL)
			rc = SB_ERR_NOMEM;
	}
	if (rc == SB_ERR_NOMEM)
		sb_seterr(st->base.err, "azure: GET blob %s: out of memory",
		    name);
	while (rc == SB_OK) {
		rc = parts_feed(&ps, &low, &active);
		if (mark != NULL)
			mark(markarg, low);
		if (rc != SB_OK || active == 0 ||
		    (rc = parts_reap(&ps)) != SB_OK)
			break;
		parts_wait(&ps);
	}
	parts_free(&ps);
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

	if (sb_pwrite_all(w->fd, buf, len, w->off) != SB_OK) {
		w->eno = errno;
		return -1;
	}
	w->off += len;
	if (w->mark != NULL)
		w->mark(w->markarg, w->off);
	return 0;
}

enum sb_err
az_get_fd(struct sb_store *s, const char *name, int fd, sb_mark_fn mark,
    void *markarg)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_fdw	 w = { fd, 0, 0, mark, markarg };
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	az_call_init(&c, "HEAD blob", "HEAD", name);
	rc = az_run(st, &c, &r);
	az_call_clear(&c);
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
