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
 *		the container with Get Container Properties. No
 *		other request creates the container:
 *		a container that is gone is an error (a 404
 *		ContainerNotFound), never an empty store.
 *   put_new	Put Blob with If-None-Match: * (exclusive create: a 409
 *		BlobAlreadyExists means another writer was first).
 *
 * Metadata travel as x-ms-meta-<key> headers, the values percent-encoded
 * by az_meta_encode() (any byte outside printable ASCII, blanks, '%'), so
 * any UTF-8 value comes back byte for byte; keys are ours, [a-z0-9_].
 *
 * The requests themselves, with their retries and messages, are in
 * azure_http.c; the block pipeline (parallel Put Block, the hasher,
 * uploads that overlap the writing of the file) in azure_upload.c;
 * azure_int.h declares what the three share.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "azure_int.h"
#include "config.h"

/*
 * Run c (then clear it); a response with status ok1 or ok2 (0: none) is
 * an answer, not a failure: SB_OK with *accepted set (may be NULL).
 */
static enum sb_err
run_accept(struct az_store *st, struct az_call *c, long ok1, long ok2,
    int *accepted)
{
	struct az_resp	r;
	int		rc;

	memset(&r, 0, sizeof(r));
	rc = run(st, c, &r);
	if (rc != SB_OK && r.cc == CURLE_OK && r.status != 0 &&
	    (r.status == ok1 || r.status == ok2)) {
		st->base.err[0] = '\0';
		rc = SB_OK;
		if (accepted != NULL)
			*accepted = 1;
	}
	call_clear(c);
	sb_meta_clear(&r.meta);
	return rc;
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
	struct az_call	c;

	call_init(&c, "PUT container", "PUT", NULL);
	call_qp(&c, "restype", "container");
	return run_accept((struct az_store *)s, &c, 409, 0, NULL);
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
enum sb_err
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

/* Put Blob: the whole object in one request (BlockBlob). */
enum sb_err
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
		rc = az_md5_buf(body->buf, (size_t)body->len, c.md5);
	else if ((chunk = malloc(AZ_CHUNK)) == NULL)
		rc = SB_ERR_NOMEM;
	else
		rc = az_md5_file(body->fd, body->off, body->len, chunk, c.md5,
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

/* The base64 id of block idx: "blk000042" encoded, the same length for all. */
void
az_block_id(uint32_t idx, char out[16])
{
	char	raw[16];

	snprintf(raw, sizeof(raw), "blk%06u", (unsigned)idx);
	az_b64_encode((const unsigned char *)raw, 9, out, 16);
}

/* Put Block List: commit the blocks 0..n-1 in order, with the metadata. */
enum sb_err
put_block_list(struct az_store *st, const char *name,
    const struct sb_meta *meta, uint32_t n)
{
	struct az_call	 c;
	struct az_resp	 r;
	char		*xml = NULL, id[16];
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
		az_block_id(i, id);
		off += (size_t)snprintf(xml + off, len - off,
		    "<Latest>%s</Latest>", id);
	}
	off += (size_t)snprintf(xml + off, len - off, "</BlockList>");
	c.body.buf = (const unsigned char *)xml;
	c.body.len = off;
	if ((rc = call_meta(&c, meta)) != SB_OK ||
	    (rc = az_md5_buf(c.body.buf, off, c.md5)) != SB_OK) {
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

/*
 * put_file: one Put Blob when small, else blocks read with pread (and
 * hashed ahead: see put_blocks).
 */
static int
az_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_src	 src;
	struct az_body	 body;
	struct stat	 sb;
	int		 fd = -1, rc;

	memset(&src, 0, sizeof(src));
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
	rc = put_blocks(st, name, meta, &src, NULL, 0);
out:
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

/* The List Blobs sink: int, the type of az_call.sink (as get_sink). */
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

/* One List Blobs page: the call, the parser, and what the page added. */
struct az_page {
	struct az_call		 c;
	struct az_resp		 r;
	struct az_listsink	 ls;
	char			 perr[SB_ERRMSG_MAX];
};

/* Make p's call the request for the page after marker (NULL: the first). */
static void
list_call(struct az_page *p, const char *prefix, const char *marker)
{
	call_clear(&p->c);
	call_init(&p->c, "LIST blobs", "GET", NULL);
	call_qp(&p->c, "restype", "container");
	call_qp(&p->c, "comp", "list");
	call_qp(&p->c, "include", "metadata");
	if (prefix != NULL && prefix[0] != '\0')
		call_qp(&p->c, "prefix", prefix);
	if (marker != NULL)
		call_qp(&p->c, "marker", marker);
	p->c.sink = list_sink;
	p->c.sinkarg = &p->ls;
}

/*
 * Why a failed page attempt is final: a missing container, the parser's
 * error, or the verdict (message set, error returned); SB_OK to retry.
 */
static enum sb_err
list_failed(struct az_store *st, struct az_page *p, enum az_verdict v,
    unsigned attempt)
{
	int	rc;

	if (p->r.status == 404 && strcmp(p->r.code, "ContainerNotFound") == 0) {
		rc = fail_msg(st, &p->c, &p->r, attempt + 1);
		return rc == SB_ERR_NOTFOUND ? SB_ERR_STORAGE : rc;
	}
	if (p->r.sinkerr != SB_OK || (p->r.cc == CURLE_OK &&
	    p->perr[0] != '\0')) {
		sb_seterr(st->base.err, "azure: LIST blobs %s: %s (request id "
		    "%s)", st->container, p->perr, p->r.reqid[0] ? p->r.reqid :
		    "none");
		return p->r.sinkerr != SB_OK ? p->r.sinkerr : SB_ERR_STORAGE;
	}
	if (v == AZ_FAIL || attempt >= st->retries)
		return fail_msg(st, &p->c, &p->r, attempt + 1);
	return SB_OK;
}

/*
 * One page after marker into l, parsed as it streams in; an attempt that
 * fails is dropped from l and retried per the policy.
 */
static enum sb_err
list_page(struct az_store *st, const char *prefix, const char *marker,
    struct sb_object_list *l, struct az_page *p)
{
	struct az_wire	 w;
	size_t		 n0;
	unsigned	 attempt;
	enum az_verdict	 v;
	int		 rc;

	for (attempt = 0;; attempt++) {
		list_call(p, prefix, marker);
		n0 = l->n;
		az_listparse_free(&p->ls.lp);
		p->perr[0] = '\0';
		if ((rc = az_listparse_new(&p->ls.lp, l)) != SB_OK ||
		    (rc = setup(st, st->easy, &p->c, &p->r, &w)) != SB_OK) {
			sb_seterr(st->base.err, "azure: LIST blobs: %s",
			    sb_strerror(rc));
			return rc;
		}
		p->r.cc = curl_easy_perform(st->easy);
		wire_clear(&w);
		v = verdict(&p->r);
		if (v == AZ_DONE && az_listparse_feed(p->ls.lp, "", 0, 1,
		    p->perr) != SB_OK)
			v = AZ_FAIL;
		if (v == AZ_DONE)
			return SB_OK;
		list_truncate(l, n0);
		if ((rc = list_failed(st, p, v, attempt)) != SB_OK)
			return rc;
		sleep_ms(backoff_ms(attempt, p->r.retry_after));
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
	struct az_page		 p;
	char			*marker = NULL;
	int			 rc = SB_OK, pages = 0;

	out->v = NULL;
	out->n = 0;
	memset(&p, 0, sizeof(p));
	p.ls.err = p.perr;
	call_init(&p.c, "LIST blobs", "GET", NULL);
	do {
		if ((rc = list_page(st, prefix, marker, &l, &p)) != SB_OK)
			goto out;
		free(marker);
		marker = az_listparse_marker(p.ls.lp);
		pages++;
	} while (marker != NULL && pages < 1000000);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(l.v[0]), objcmp);
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	az_listparse_free(&p.ls.lp);
	sb_object_list_clear(&l);
	free(marker);
	call_clear(&p.c);
	sb_meta_clear(&p.r.meta);
	return rc;
}

/* del: Delete Blob (with its snapshots); 404 means already gone. */
static int
az_del(struct sb_store *s, const char *name)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	call_init(&c, "DELETE blob", "DELETE", name);
	if ((rc = call_xms(&c, "x-ms-delete-snapshots", "include")) != SB_OK) {
		call_clear(&c);
		return rc;
	}
	return run_accept(st, &c, 404, 0, NULL);
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
	int		 rc;

	if (!name_ok(st, name))
		return SB_ERR_INVAL;
	call_init(&c, "PUT blob", "PUT", name);
	c.if_none_match = 1;
	c.body.fd = -1;
	c.body.buf = buf;
	c.body.len = (uint64_t)len;
	if ((rc = call_xms(&c, "x-ms-blob-type", "BlockBlob")) != SB_OK ||
	    (rc = az_md5_buf(buf, len, c.md5)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT blob %s: %s", name,
		    sb_strerror(rc));
		call_clear(&c);
		return rc;
	}
	return run_accept(st, &c, 409, 412, existed);
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
	if (!sb_is_azure_container(cfg->az_container)) {
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
	if (az_http_global_init() != SB_OK) {
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
