/*
 * azure_upload.c - the upload pipeline of the Azure store (Azure Storage
 * REST API: "Put Blob", "Put Block", "Put Block List").
 *
 * An object smaller than a block goes up in one Put Blob (store_azure.c
 * decides). A larger one goes up here, as Put Block requests, up to
 * az_concurrency in parallel (libcurl multi), then Put Block List
 * (store_azure.c) commits the blob atomically: a failed
 * upload leaves only uncommitted blocks, which List Blobs does not return
 * and Azure discards after a week. Every block and every Put Blob carries
 * Content-MD5, which Azure checks on arrival. Blocks come from a reader
 * (put_stream), from a file (put_file), or from a file still being
 * written (upload_begin .. upload_finish). The blocks of a file are
 * hashed by one thread, the hasher, ahead of the transfers.
 *
 * Memory: put_stream holds at most az_concurrency blocks; put_file reads
 * each block from the file with pread as curl sends it and holds none.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include "azure_int.h"
#include "progress.h"

/*
 * The hasher: one thread that computes the Content-MD5 of a file's
 * blocks ahead of their upload, so hashing runs beside the transfers
 * instead of stalling the curl loop. It hashes the blocks in the order
 * first..n-1, then 0..first-1 (a growing file: the blocks still to stage,
 * then those staged early, to check them). With ahead > 0 it stays at
 * most ahead blocks in front of the last one asked for (put_file: the
 * reads warm the page cache for curl's pread); with 0 it runs freely.
 * Its memory is one AZ_CHUNK buffer and 33 bytes per block.
 */
struct az_hasher {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;
	uint64_t	 size;
	uint64_t	 bsize;
	uint32_t	 nblocks;
	uint32_t	 first;		/* hashed first: position 0 */
	char		(*md5)[32];	/* by block index */
	unsigned char	*ready;		/* by block index */
	uint32_t	 limit;		/* may hash positions below */
	uint32_t	 ahead;		/* 0: no limit */
	int		 err;		/* errno of a failed read, or -1 */
	int		 stop;
	int		 started;
};

/* The block at position i of the hashing order. */
static uint32_t
hasher_block(const struct az_hasher *h, uint32_t i)
{
	uint32_t	tail = h->nblocks - h->first;

	return i < tail ? h->first + i : i - tail;
}

/* Hash block k into h->md5[k]; SB_OK, or the error with h->err set. */
static enum sb_err
hasher_one(struct az_hasher *h, uint32_t k, unsigned char *chunk)
{
	uint64_t	off = (uint64_t)k * h->bsize, len;
	char		md5[32];
	int		rc, eno = 0;

	len = h->size - off < h->bsize ? h->size - off : h->bsize;
	rc = az_md5_file(h->fd, (off_t)off, len, chunk, md5, &eno);
	pthread_mutex_lock(&h->mu);
	if (rc != SB_OK)
		h->err = rc == SB_ERR_IO ? eno : -1;
	else {
		memcpy(h->md5[k], md5, sizeof(md5));
		h->ready[k] = 1;
	}
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static void *
hasher_main(void *arg)
{
	struct az_hasher	*h = arg;
	unsigned char		*chunk;
	uint32_t		 i;

	if ((chunk = malloc(AZ_CHUNK)) == NULL) {
		pthread_mutex_lock(&h->mu);
		h->err = ENOMEM;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		return NULL;
	}
	for (i = 0; i < h->nblocks; i++) {
		pthread_mutex_lock(&h->mu);
		while (i >= h->limit && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		pthread_mutex_unlock(&h->mu);
		if (hasher_one(h, hasher_block(h, i), chunk) != SB_OK)
			break;
	}
	free(chunk);
	return NULL;
}

/*
 * Start hashing the blocks of fd (size bytes, blocks of bsize) from
 * block first on, ahead blocks at most in front (0: no limit). Returns
 * SB_OK or SB_ERR_NOMEM; hasher_stop() releases it either way.
 */
static enum sb_err
hasher_start(struct az_hasher *h, int fd, uint64_t size, uint64_t bsize,
    uint32_t first, uint32_t ahead)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->size = size;
	h->bsize = bsize;
	h->nblocks = (uint32_t)((size + bsize - 1) / bsize);
	h->first = first < h->nblocks ? first : h->nblocks;
	h->ahead = ahead;
	h->limit = ahead > 0 ? ahead : h->nblocks;
	if ((h->md5 = calloc(h->nblocks + 1, sizeof(*h->md5))) == NULL ||
	    (h->ready = calloc(h->nblocks + 1, 1)) == NULL)
		goto fail;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->th, NULL, hasher_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		goto fail;
	}
	h->started = 1;
	return SB_OK;
fail:
	free(h->md5);
	free(h->ready);
	memset(h, 0, sizeof(*h));
	return SB_ERR_NOMEM;
}

/*
 * The Content-MD5 of block k into out; lets the thread run ahead blocks
 * past k. With wait, waits for it; without, out is "" when it is not
 * hashed yet. Returns SB_OK, or SB_ERR_IO (*eno set) or SB_ERR_NOMEM
 * when the thread failed.
 */
static enum sb_err
hasher_get(struct az_hasher *h, uint32_t k, int wait, char out[32],
    int *eno)
{
	uint32_t	pos = k >= h->first ? k - h->first :
			    h->nblocks - h->first + k;
	int		rc = SB_OK;

	out[0] = '\0';
	pthread_mutex_lock(&h->mu);
	if (h->ahead > 0 && pos + h->ahead > h->limit) {
		h->limit = pos + h->ahead;
		pthread_cond_broadcast(&h->cv);
	}
	while (wait && !h->ready[k] && h->err == 0)
		pthread_cond_wait(&h->cv, &h->mu);
	if (h->ready[k])
		memcpy(out, h->md5[k], 32);
	else if (h->err != 0) {
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
	free(h->ready);
	memset(h, 0, sizeof(*h));
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

static int		is_grow_left(const struct az_grow *);
static enum sb_err	grow_fill(struct az_store *, struct az_slot *,
			    struct az_src *, const char *, size_t *);
static void		grow_done(struct az_grow *, struct az_slot *);

/*
 * Fill buf with up to want bytes from the reader (it may return short
 * counts). Returns the count, or -1 on a reader error.
 */
ssize_t
az_read_full(struct az_src *s, unsigned char *buf, size_t want)
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
is_src_left(const struct az_src *src, uint32_t nblocks)
{
	if (src->grow != NULL)
		return is_grow_left(src->grow);
	if (nblocks >= AZ_BLOCKS_MAX)
		return 0;
	return src->rd != NULL ? !src->eof : src->next < src->size;
}

/* Start (or restart) the Put Block of a slot on the multi handle. */
static enum sb_err
slot_start(struct az_store *st, struct az_slot *sl)
{
	int	rc;

	if ((rc = az_multi_add(st, sl->easy, &sl->call, &sl->resp,
	    &sl->wire)) != SB_OK)
		return rc;
	sl->state = SLOT_RUNNING;
	return SB_OK;
}

/* Make the slot's call the Put Block of block idx (body still to set). */
static void
block_call(struct az_slot *sl, const char *name, uint32_t idx)
{
	az_call_clear(&sl->call);
	az_call_init(&sl->call, "PUT block", "PUT", name);
	az_block_id(idx, sl->id);
	az_call_qp(&sl->call, "comp", "block");
	az_call_qp(&sl->call, "blockid", sl->id);
}

/*
 * Prepare the next block in a free slot: read it (stream) or locate and
 * hash it (file), build its Put Block call. Returns SB_OK with *got 0 when
 * there is nothing left.
 */
static enum sb_err
slot_fill(struct az_store *st, struct az_slot *sl, struct az_src *src,
    uint32_t idx, const char *name, size_t *got)
{
	ssize_t	n;
	int	rc, eno = 0;

	*got = 0;
	if (src->grow != NULL)
		return grow_fill(st, sl, src, name, got);
	block_call(sl, name, idx);
	if (src->rd != NULL) {
		if (src->eof)
			return SB_OK;
		if (sl->buf == NULL &&
		    (sl->buf = malloc((size_t)st->block_size)) == NULL)
			return SB_ERR_NOMEM;
		if ((n = az_read_full(src, sl->buf,
		    (size_t)st->block_size)) < 0) {
			sb_seterr(st->base.err, "azure: PUT block %s: the "
			    "reader failed", name);
			return SB_ERR_IO;
		}
		if (n == 0)
			return SB_OK;
		sl->call.body.buf = sl->buf;
		sl->call.body.len = (uint64_t)n;
		rc = az_md5_buf(sl->buf, (size_t)n, sl->call.md5);
		*got = (size_t)n;
	} else {
		if (src->next >= src->size)
			return SB_OK;
		sl->call.body.fd = src->fd;
		sl->call.body.off = (off_t)src->next;
		sl->call.body.len = src->size - src->next < st->block_size ?
		    src->size - src->next : st->block_size;
		src->next += sl->call.body.len;
		rc = hasher_get(src->hasher, idx, 1, sl->call.md5, &eno);
		if (rc == SB_ERR_IO)
			sb_seterr(st->base.err, "azure: PUT block %s: reading "
			    "the file: %s", name, strerror(eno));
		*got = (size_t)sl->call.body.len;
	}
	return rc;
}

/* The state of one put_blocks: its slots and how far it got. */
struct az_up {
	struct az_store	*st;
	const char	*name;
	struct az_src	*src;
	struct az_slot	*slots;
	size_t		 nslots;
	uint32_t	 nblocks;	/* blocks started: 0..nblocks-1 */
	int		 running;	/* transfers curl still runs */
};

/*
 * The slots, each with its easy handle, and the store's multi handle.
 * first (firstlen bytes) becomes slot 0's block 0 and is owned by the
 * slots from here, whatever happens. Release with up_free().
 */
static enum sb_err
up_init(struct az_up *u, unsigned char *first, size_t firstlen)
{
	struct az_store	*st = u->st;
	size_t		 i;
	int		 rc;

	u->nslots = st->concurrency;
	if ((st->multi == NULL && (st->multi = curl_multi_init()) == NULL) ||
	    (u->slots = calloc(u->nslots, sizeof(*u->slots))) == NULL) {
		free(first);
		return SB_ERR_NOMEM;
	}
	curl_multi_setopt(st->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)st->concurrency);
	u->slots[0].buf = first;
	for (i = 0; i < u->nslots; i++) {
		u->slots[i].call.body.fd = -1;
		u->slots[i].ebi = -1;
		if ((u->slots[i].easy = curl_easy_init()) == NULL)
			return SB_ERR_NOMEM;
	}
	if (first == NULL)
		return SB_OK;
	block_call(&u->slots[0], u->name, 0);
	u->slots[0].call.body.buf = first;
	u->slots[0].call.body.len = firstlen;
	if ((rc = az_md5_buf(first, firstlen, u->slots[0].call.md5)) != SB_OK ||
	    (rc = slot_start(st, &u->slots[0])) != SB_OK)
		return rc;
	u->nblocks = 1;
	return SB_OK;
}

static void
up_free(struct az_up *u)
{
	struct az_slot	*sl;
	size_t		 i;

	for (i = 0; u->slots != NULL && i < u->nslots; i++) {
		sl = &u->slots[i];
		az_multi_release(u->st, sl->easy, sl->state == SLOT_RUNNING,
		    &sl->call, &sl->resp, &sl->wire);
		free(sl->buf);
	}
	free(u->slots);
	u->slots = NULL;
}

/*
 * Give every free slot its next block and restart the waiting ones that
 * are due. *active: slots busy after that.
 */
static enum sb_err
up_feed(struct az_up *u, int *active)
{
	struct az_slot	*sl;
	int64_t		 now = sb_mono_ms();
	size_t		 i, got;
	int		 rc = SB_OK;

	*active = 0;
	for (i = 0; i < u->nslots && rc == SB_OK; i++) {
		sl = &u->slots[i];
		if (sl->state == SLOT_FREE) {
			if (u->src->grow == NULL &&
			    u->nblocks >= AZ_BLOCKS_MAX) {
				if (is_src_left(u->src, 0)) {
					sb_seterr(u->st->base.err, "azure: PUT "
					    "block %s: more than %u blocks: "
					    "raise block_size", u->name,
					    AZ_BLOCKS_MAX);
					rc = SB_ERR_INVAL;
				}
				continue;
			}
			if ((rc = slot_fill(u->st, sl, u->src, u->nblocks,
			    u->name, &got)) != SB_OK || got == 0)
				continue;
			u->nblocks++;
			sl->attempt = 0;
			rc = slot_start(u->st, sl);
		} else if (sl->state == SLOT_WAITING && sl->not_before <= now)
			rc = slot_start(u->st, sl);
		if (sl->state != SLOT_FREE)
			(*active)++;
	}
	return rc;
}

/*
 * Judge the transfers curl finished: a block done frees its slot, one to
 * retry waits its backoff in its slot, one failed for good fails the
 * upload (the first such failure's message is kept).
 */
static enum sb_err
up_reap(struct az_up *u)
{
	struct az_store	*st = u->st;
	struct az_resp	*r;
	struct az_slot	*sl;
	CURLMsg		*msg;
	enum az_verdict	 v;
	int		 left, rc = SB_OK;

	while ((msg = curl_multi_info_read(st->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r);
		r->cc = msg->data.result;
		curl_multi_remove_handle(st->multi, msg->easy_handle);
		sl = (struct az_slot *)((char *)r -
		    offsetof(struct az_slot, resp));
		az_wire_clear(&sl->wire);
		v = az_verdict(r);
		if (v == AZ_DONE) {
			sl->state = SLOT_FREE;
			sb_progress_add(st->base.progress, SB_PHASE_UPLOAD,
			    (int64_t)sl->call.body.len);
			if (u->src->grow != NULL)
				grow_done(u->src->grow, sl);
		} else if (v == AZ_RETRY && sl->attempt < st->retries) {
			sl->not_before = sb_mono_ms() +
			    az_backoff_ms(sl->attempt, r->retry_after);
			sl->attempt++;
			sl->state = SLOT_WAITING;
		} else {
			if (rc == SB_OK)
				rc = az_fail_msg(st, &sl->call, r,
				    sl->attempt + 1);
			sl->state = SLOT_FREE;
		}
	}
	return rc;
}

/*
 * Sleep until traffic or until a waiting block is due; not at all when a
 * free slot can take the next block.
 */
static void
up_wait(struct az_up *u)
{
	int64_t	wait = 1000, now = sb_mono_ms();
	size_t	i;
	int	waiting = 0;

	for (i = 0; i < u->nslots; i++) {
		if (u->slots[i].state == SLOT_FREE &&
		    is_src_left(u->src, u->nblocks))
			wait = u->src->grow == NULL ? 0 :
			    wait < AZ_GROW_POLL ? wait : AZ_GROW_POLL;
		if (u->slots[i].state != SLOT_WAITING)
			continue;
		waiting = 1;
		if (u->slots[i].not_before - now < wait)
			wait = u->slots[i].not_before - now;
	}
	if (wait > 0 && u->running > 0)
		curl_multi_poll(u->st->multi, NULL, 0, (int)wait, NULL);
	else if (wait > 0 && waiting)
		az_sleep_ms(wait);
}

/*
 * Upload name in blocks, concurrency at a time, then commit them with
 * Put Block List. first (len bytes) is the first block when the caller
 * already read it from a stream; it is ours from here. A block that
 * fails retryably waits its backoff in its slot while the others go on.
 * Returns SB_OK or the error of the first block that failed for good
 * (message set).
 */
enum sb_err
az_put_blocks(struct az_store *st, const char *name, const struct sb_meta *meta,
    struct az_src *src, unsigned char *first, size_t firstlen)
{
	struct az_hasher h;
	struct az_up	 u;
	int		 rc, active;

	memset(&u, 0, sizeof(u));
	memset(&h, 0, sizeof(h));
	u.st = st;
	u.name = name;
	u.src = src;
	if (src->rd == NULL && src->grow == NULL) {
		/* A file: its blocks are hashed ahead of their transfers. */
		src->hasher = &h;
		if ((rc = hasher_start(&h, src->fd, src->size, st->block_size,
		    0, 2 * st->concurrency)) != SB_OK) {
			free(first);
			goto out;
		}
	}
	if ((rc = up_init(&u, first, firstlen)) != SB_OK)
		goto out;
	for (;;) {
		if ((rc = up_feed(&u, &active)) != SB_OK)
			break;
		if (active == 0 && src->grow != NULL &&
		    is_src_left(src, u.nblocks)) {
			az_sleep_ms(AZ_GROW_POLL);	/* the file must grow */
			continue;
		}
		if (active == 0)
			break;
		if (curl_multi_perform(st->multi, &u.running) != CURLM_OK) {
			rc = SB_ERR_STORAGE;
			sb_seterr(st->base.err, "azure: PUT block %s: curl "
			    "multi failed", name);
			break;
		}
		if ((rc = up_reap(&u)) != SB_OK)
			break;
		up_wait(&u);
	}
	if (rc == SB_OK && !src->nocommit)
		rc = az_put_block_list(st, name, meta, u.nblocks);
out:
	up_free(&u);
	hasher_stop(&h);
	if (rc == SB_ERR_NOMEM)
		sb_seterr(st->base.err, "azure: PUT %s: out of memory", name);
	return rc;
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
	struct az_hasher hash;		/* the final file's blocks */
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
is_grow_left(const struct az_grow *g)
{
	return !(g->final && g->verified && g->nredo == 0 &&
	    g->nblocks >= grow_final_blocks(g));
}

/* Look at the file: its size, and whether the writer is done. */
static enum sb_err
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
		if (hasher_start(&g->hash, g->fd, g->size,
		    st->block_size, g->first_final, 0) != SB_OK) {
			sb_seterr(st->base.err, "azure: PUT %s: out of memory",
			    name);
			return SB_ERR_NOMEM;
		}
	}
	return SB_OK;
}

static enum sb_err
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
 * The Content-MD5 of block k of the final file, without waiting: out is
 * "" while the hasher has not got there. SB_ERR_IO when it failed.
 */
static enum sb_err
grow_hash(struct az_store *st, struct az_grow *g, uint32_t k,
    const char *name, char out[32])
{
	int	eno = 0;

	if (hasher_get(&g->hash, k, 0, out, &eno) == SB_OK)
		return SB_OK;
	sb_seterr(st->base.err, "azure: PUT %s: reading %s: %s", name, g->path,
	    strerror(eno));
	return SB_ERR_IO;
}

/*
 * Compare the early blocks with the final file, as their hashes become
 * ready; queue for staging again those that differ. Runs once no early
 * block is in flight, so a re-staged block is always the last one Azure
 * receives for its id. Sets verified when all are checked.
 */
static enum sb_err
grow_verify(struct az_store *st, struct az_grow *g, const char *name)
{
	uint64_t	bs = st->block_size, off, len;
	uint32_t	n = grow_final_blocks(g);
	char		md5[32];
	int		rc;

	if (g->redo == NULL &&
	    (g->redo = calloc(n ? n : 1, sizeof(*g->redo))) == NULL)
		return SB_ERR_NOMEM;
	for (; g->vnext < g->first_final && g->vnext < n; g->vnext++) {
		if ((rc = grow_hash(st, g, g->vnext, name, md5)) != SB_OK)
			return rc;
		if (md5[0] == '\0')
			return SB_OK;		/* not hashed yet */
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

/*
 * Stage block idx early, before eof: read it into the free buffer e, so
 * that what is sent is what its Content-MD5 covers whatever the writer
 * does meanwhile.
 */
static enum sb_err
grow_early(struct az_store *st, struct az_grow *g, struct az_slot *sl,
    uint32_t idx, unsigned e, const char *name)
{
	uint64_t	bs = st->block_size, off = (uint64_t)idx * bs, have;
	ssize_t		n;
	int		rc;

	if (g->ebuf[e] == NULL && (g->ebuf[e] = malloc((size_t)bs)) == NULL)
		return SB_ERR_NOMEM;
	for (have = 0; have < bs; have += (uint64_t)n) {
		n = pread(g->fd, g->ebuf[e] + have, (size_t)(bs - have),
		    (off_t)(off + have));
		if (n <= 0) {
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			sb_seterr(st->base.err, "azure: PUT %s: reading %s: %s",
			    name, g->path, n == 0 ? "file shrank" :
			    strerror(errno));
			return SB_ERR_IO;
		}
	}
	sl->call.body.buf = g->ebuf[e];
	sl->call.body.len = bs;
	if ((rc = az_md5_buf(g->ebuf[e], (size_t)bs, sl->call.md5)) != SB_OK)
		return rc;
	g->ebusy[e] = 1;
	sl->ebi = (int)e;
	g->early_inflight++;
	return SB_OK;
}

/*
 * Stage block idx of the final file, by pread as curl sends it, once the
 * hasher has its Content-MD5 (until then the slot stays free: md5 "").
 */
static enum sb_err
grow_late(struct az_store *st, struct az_grow *g, struct az_slot *sl,
    uint32_t idx, const char *name)
{
	uint64_t	bs = st->block_size, off = (uint64_t)idx * bs;
	int		rc;

	if ((rc = grow_hash(st, g, idx, name, sl->call.md5)) != SB_OK ||
	    sl->call.md5[0] == '\0')
		return rc;
	if (g->nredo > 0 && g->redo[g->nredo - 1] == idx)
		g->nredo--;
	else
		g->nblocks++;
	sl->call.body.fd = g->fd;
	sl->call.body.off = (off_t)off;
	sl->call.body.len = g->size - off < bs ? g->size - off : bs;
	return SB_OK;
}

/* The next block of a growing file for a free slot (see above). */
static enum sb_err
grow_fill(struct az_store *st, struct az_slot *sl, struct az_src *src,
    const char *name, size_t *got)
{
	struct az_grow	*g = src->grow;
	uint64_t	 bs = st->block_size;
	uint32_t	 idx;
	unsigned	 e = 0;
	int		 rc, early = 0;

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
		if (g->size < (uint64_t)g->nblocks * bs + 2 * bs)
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
	block_call(sl, name, idx);
	rc = early ? grow_early(st, g, sl, idx, e, name) :
	    grow_late(st, g, sl, idx, name);
	if (rc != SB_OK || sl->call.md5[0] == '\0')
		return rc;
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
	if ((rc = az_container_check(g->st)) == SB_OK)
		rc = az_put_blocks(g->st, g->name, NULL, &src, NULL, 0);
	g->rc = rc;
	return NULL;
}

static void
grow_free(struct az_grow *g)
{
	unsigned	i;

	hasher_stop(&g->hash);
	if (g->fd >= 0)
		close(g->fd);
	for (i = 0; i < g->nebuf; i++)
		free(g->ebuf[i]);
	pthread_mutex_destroy(&g->mu);
	free(g->blk);
	free(g->redo);
	free(g->name);
	free(g->path);
	free(g);
}

/*
 * upload_begin: start the staging thread. Returns the upload, or NULL
 * (out of memory: the generic layer then uploads at finish).
 */
void *
az_upload_begin(struct sb_store *s, const char *name, const char *path)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_grow	*g;

	if (!az_name_ok(st, name) || (g = calloc(1, sizeof(*g))) == NULL)
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
	    pthread_create(&g->th, NULL, grow_main, g) != 0) {
		grow_free(g);
		return NULL;
	}
	return g;
}

void
az_upload_eof(void *arg)
{
	struct az_grow	*g = arg;

	pthread_mutex_lock(&g->mu);
	g->eof = 1;
	pthread_mutex_unlock(&g->mu);
}

/* upload_finish: wait for the blocks, commit them with meta. */
enum sb_err
az_upload_finish(struct sb_store *s, void *arg, const struct sb_meta *meta)
{
	struct az_store	*st = (struct az_store *)s;
	struct az_grow	*g = arg;
	int		 rc;

	az_upload_eof(g);
	pthread_join(g->th, NULL);
	if ((rc = g->rc) == SB_OK)
		rc = az_put_block_list(st, g->name, meta, grow_final_blocks(g));
	grow_free(g);
	return rc;
}

/* upload_abort: stop the thread; the staged blocks are never committed. */
void
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

