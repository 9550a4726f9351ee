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
 *   get, get_fd	Get Blob: azure_get.c.
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
 * uploads that overlap the writing of the file) in azure_upload.c; the
 * downloads in azure_get.c; azure_int.h declares what the four share.
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
	rc = az_run(st, c, &r);
	if (rc != SB_OK && r.cc == CURLE_OK && r.status != 0 &&
	    (r.status == ok1 || r.status == ok2)) {
		st->base.err[0] = '\0';
		rc = SB_OK;
		if (accepted != NULL)
			*accepted = 1;
	}
	az_call_clear(c);
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
static enum sb_err
az_create(struct sb_store *s)
{
	struct az_call	c;

	az_call_init(&c, "PUT container", "PUT", NULL);
	az_call_qp(&c, "restype", "container");
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
az_container_check(struct az_store *st)
{
	struct az_call	c;
	struct az_resp	r;
	int		rc;

	if (st->container_ok)
		return SB_OK;
	az_call_init(&c, "HEAD container", "HEAD", NULL);
	az_call_qp(&c, "restype", "container");
	memset(&r, 0, sizeof(r));
	rc = az_run(st, &c, &r);
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
	az_call_clear(&c);
	sb_meta_clear(&r.meta);
	return rc;
}

/* Put Blob: the whole object in one request (BlockBlob). */
enum sb_err
az_put_blob(struct az_store *st, const char *name, const struct sb_meta *meta,
    const struct az_body *body)
{
	struct az_call	c;
	struct az_resp	r;
	unsigned char	*chunk = NULL;
	int		rc, eno = 0;

	memset(&r, 0, sizeof(r));
	az_call_init(&c, "PUT blob", "PUT", name);
	c.body = *body;
	if ((rc = az_call_xms(&c, "x-ms-blob-type", "BlockBlob")) != SB_OK ||
	    (rc = az_call_meta(&c, meta)) != SB_OK)
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
	rc = az_run(st, &c, &r);
	az_call_clear(&c);
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
	az_call_clear(&c);
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
az_put_block_list(struct az_store *st, const char *name,
    const struct sb_meta *meta, uint32_t n)
{
	struct az_call	 c;
	struct az_resp	 r;
	char		*xml = NULL, id[16];
	size_t		 len, off;
	uint32_t	 i;
	int		 rc;

	memset(&r, 0, sizeof(r));
	az_call_init(&c, "PUT block list", "PUT", name);
	az_call_qp(&c, "comp", "blocklist");
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
	if ((rc = az_call_meta(&c, meta)) != SB_OK ||
	    (rc = az_md5_buf(c.body.buf, off, c.md5)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT block list %s: %s", name,
		    rc == SB_ERR_INVAL ? "bad metadata" : sb_strerror(rc));
		goto out;
	}
	rc = az_run(st, &c, &r);
out:
	az_call_clear(&c);
	sb_meta_clear(&r.meta);
	free(xml);
	return rc;
}

/*
 * put_stream: read the first block; if the stream ends inside it, one
 * Put Blob, else blocks in parallel (at most concurrency buffers).
 */
static enum sb_err
az_put_stream(struct sb_store *s, const char *name, sb_read_fn rd, void *arg,
    const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_src	 src;
	struct az_body	 body;
	unsigned char	*buf = NULL;
	ssize_t		 n;
	int		 rc;

	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	if ((rc = az_container_check(st)) != SB_OK)
		return rc;
	memset(&src, 0, sizeof(src));
	src.rd = rd;
	src.rdarg = arg;
	src.fd = -1;
	if ((buf = malloc((size_t)st->block_size)) == NULL) {
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	if ((n = az_read_full(&src, buf, (size_t)st->block_size)) < 0) {
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
		rc = az_put_blob(st, name, meta, &body);
		free(buf);
		return rc;
	}
	/* put_blocks owns buf from here. */
	return az_put_blocks(st, name, meta, &src, buf, (size_t)n);
}

/*
 * put_file: one Put Blob when small, else blocks read with pread (and
 * hashed ahead: see put_blocks).
 */
static enum sb_err
az_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_src	 src;
	struct az_body	 body;
	struct stat	 sb;
	int		 fd = -1, rc;

	memset(&src, 0, sizeof(src));
	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		sb_seterr(st->base.err, "azure: PUT %s: %s: %s", name, path,
		    strerror(errno));
		rc = SB_ERR_IO;
		goto out;
	}
	if ((rc = az_container_check(st)) != SB_OK)
		goto out;
	if ((uint64_t)sb.st_size < st->block_size) {
		memset(&body, 0, sizeof(body));
		body.fd = fd;
		body.len = (uint64_t)sb.st_size;
		rc = az_put_blob(st, name, meta, &body);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	src.fd = fd;
	src.size = (uint64_t)sb.st_size;
	rc = az_put_blocks(st, name, meta, &src, NULL, 0);
out:
	if (fd != -1)
		close(fd);
	return rc;
}

/* head: Get Blob Properties (HEAD): size, Last-Modified, x-ms-meta-*. */
static enum sb_err
az_head(struct sb_store *s, const char *name, struct sb_object *o)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	struct az_resp	 r;
	int		 rc;

	memset(o, 0, sizeof(*o));
	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	az_call_init(&c, "HEAD blob", "HEAD", name);
	c.want_meta = 1;
	if ((rc = az_run(st, &c, &r)) == SB_OK) {
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
	az_call_clear(&c);
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
	az_call_clear(&p->c);
	az_call_init(&p->c, "LIST blobs", "GET", NULL);
	az_call_qp(&p->c, "restype", "container");
	az_call_qp(&p->c, "comp", "list");
	az_call_qp(&p->c, "include", "metadata");
	if (prefix != NULL && prefix[0] != '\0')
		az_call_qp(&p->c, "prefix", prefix);
	if (marker != NULL)
		az_call_qp(&p->c, "marker", marker);
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
		rc = az_fail_msg(st, &p->c, &p->r, attempt + 1);
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
		return az_fail_msg(st, &p->c, &p->r, attempt + 1);
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
		    (rc = az_setup(st, st->easy, &p->c, &p->r, &w)) != SB_OK) {
			sb_seterr(st->base.err, "azure: LIST blobs: %s",
			    sb_strerror(rc));
			return rc;
		}
		p->r.cc = curl_easy_perform(st->easy);
		az_wire_clear(&w);
		v = az_verdict(&p->r);
		if (v == AZ_DONE && az_listparse_feed(p->ls.lp, "", 0, 1,
		    p->perr) != SB_OK)
			v = AZ_FAIL;
		if (v == AZ_DONE)
			return SB_OK;
		list_truncate(l, n0);
		if ((rc = list_failed(st, p, v, attempt)) != SB_OK)
			return rc;
		az_sleep_ms(az_backoff_ms(attempt, p->r.retry_after));
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
static enum sb_err
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
	az_call_init(&p.c, "LIST blobs", "GET", NULL);
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
	az_call_clear(&p.c);
	sb_meta_clear(&p.r.meta);
	return rc;
}

/* del: Delete Blob (with its snapshots); 404 means already gone. */
static enum sb_err
az_del(struct sb_store *s, const char *name)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	int		 rc;

	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	az_call_init(&c, "DELETE blob", "DELETE", name);
	if ((rc = az_call_xms(&c, "x-ms-delete-snapshots", "include")) !=
	    SB_OK) {
		az_call_clear(&c);
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
static enum sb_err
az_put_new(struct sb_store *s, const char *name, const void *buf,
    size_t len, int *existed)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_call	 c;
	int		 rc;

	if (!az_name_ok(st, name))
		return SB_ERR_INVAL;
	az_call_init(&c, "PUT blob", "PUT", name);
	c.if_none_match = 1;
	c.body.fd = -1;
	c.body.buf = buf;
	c.body.len = (uint64_t)len;
	if ((rc = az_call_xms(&c, "x-ms-blob-type", "BlockBlob")) != SB_OK ||
	    (rc = az_md5_buf(buf, len, c.md5)) != SB_OK) {
		sb_seterr(st->base.err, "azure: PUT blob %s: %s", name,
		    sb_strerror(rc));
		az_call_clear(&c);
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
static enum sb_err
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
enum sb_err
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
