/*
 * store.c - the generic half of the object store: metadata maps, argument
 * checking, and the conveniences (put from a file, get into a file) built
 * on the few operations an implementation provides (struct sb_store_ops).
 *
 * Every wrapper validates what it is given before an implementation sees
 * it, so store_disk.c and store_azure.c may assume: a non-NULL store,
 * a name of 1..SB_NAME_MAX bytes of UTF-8 without control characters, and
 * metadata whose keys are [a-z0-9_]{1,64} and values <= SB_META_VAL_MAX
 * bytes of UTF-8. Each backend still applies its own naming rules on top
 * (a disk store refuses "..", an Azure blob name has its own limits).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "progress.h"
#include "store.h"

/* --- opening ------------------------------------------------------------ */

/*
 * Open the store cfg names. *out is set only on success and is the
 * caller's, released with sb_store_free(). Errors go into err.
 */
enum sb_err
sb_store_open(struct sb_store **out, const struct sb_config *cfg, char *err)
{
	const char	*prefix, *why = NULL;
	char		 norm[SB_PREFIX_MAX + 1], dir[PATH_MAX];
	size_t		 plen;
	int		 n, rc;

	if (out == NULL || cfg == NULL) {
		sb_seterr(err, "store: no configuration");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	prefix = cfg->store_prefix != NULL ? cfg->store_prefix : "";
	if (sb_prefix_normalise(prefix, norm, sizeof(norm), &why) != SB_OK) {
		sb_seterr(err, "[store] prefix: %s", why);
		return SB_ERR_CONFIG;
	}
	plen = strlen(norm);
	switch (cfg->store_kind) {
	case SB_STORE_DISK:
		if (cfg->disk_root == NULL || cfg->disk_root[0] == '\0') {
			sb_seterr(err, "store kind disk: [disk] root is not set");
			return SB_ERR_CONFIG;
		}
		/* The prefix is a subdirectory: "<root>/a/b" for "a/b/". */
		n = snprintf(dir, sizeof(dir), "%s%s%.*s", cfg->disk_root,
		    plen > 0 ? "/" : "", plen > 0 ? (int)plen - 1 : 0, norm);
		if (n < 0 || (size_t)n >= sizeof(dir)) {
			sb_seterr(err, "store %s: root path too long",
			    cfg->disk_root);
			return SB_ERR_CONFIG;
		}
		return sb_store_disk_open(out, dir, err);
	case SB_STORE_AZURE:
		if ((rc = sb_store_azure_open(out, cfg, err)) == SB_OK)
			memcpy((*out)->prefix, norm, plen + 1);
		return rc;
	default:
		break;
	}
	sb_seterr(err, "store: unknown store kind %d", (int)cfg->store_kind);
	return SB_ERR_CONFIG;
}

void
sb_store_free(struct sb_store **s)
{
	if (s == NULL || *s == NULL)
		return;
	(*s)->ops->free(*s);
	*s = NULL;
}

const char *
sb_store_errmsg(const struct sb_store *s)
{
	return s == NULL ? "no store" : s->err;
}

/* --- argument checks ---------------------------------------------------- */

/* No C0 control character and no DEL. */
static int
no_controls(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * The rule every backend shares for a name as it reaches the backend:
 * 1 to max bytes of UTF-8 without control characters (C0 or DEL). The
 * backends add their own (store_disk.c: what a file name may not be).
 */
int
sb_is_store_name(const char *name, size_t max)
{
	size_t	len;

	if (name == NULL)
		return 0;
	len = strnlen(name, max + 1);
	return len > 0 && len <= max && sb_is_utf8(name, len) &&
	    no_controls(name, len);
}

/*
 * The rules every backend shares for a name (or, with empty_ok, a list
 * prefix): sb_is_store_name, with a message per rule. Sets the store's
 * message and returns SB_ERR_INVAL on failure.
 */
static enum sb_err
check_name(struct sb_store *s, const char *op, const char *name, int empty_ok)
{
	size_t	len;

	if (name == NULL) {
		sb_seterr(s->err, "store %s: no object name", op);
		return SB_ERR_INVAL;
	}
	len = strnlen(name, SB_NAME_MAX + 1);
	if (len == 0 && !empty_ok) {
		sb_seterr(s->err, "store %s: empty object name", op);
		return SB_ERR_INVAL;
	}
	if (len > SB_NAME_MAX) {
		sb_seterr(s->err, "store %s: object name longer than %d bytes",
		    op, SB_NAME_MAX);
		return SB_ERR_INVAL;
	}
	if (len > 0 && !sb_is_store_name(name, SB_NAME_MAX)) {
		sb_seterr(s->err, "store %s: object name is not printable "
		    "UTF-8", op);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

static enum sb_err
check_meta(struct sb_store *s, const char *name, const struct sb_meta *m)
{
	if (sb_is_valid_meta(m))
		return s->ops->meta_check == NULL ? SB_OK :
		    s->ops->meta_check(s, m);
	sb_seterr(s->err, "store put %s: invalid metadata (keys [a-z0-9_] up "
	    "to %d bytes, at most %d pairs, values UTF-8 up to %d bytes)",
	    name, SB_META_KEY_MAX, SB_META_MAX, SB_META_VAL_MAX);
	return SB_ERR_INVAL;
}

/*
 * The name an implementation sees: the store's prefix, then name (checked
 * already). buf holds SB_FULLNAME_MAX + 1 bytes; always fits.
 */
#define SB_FULLNAME_MAX	(SB_PREFIX_MAX + SB_NAME_MAX)

static const char *
full_name(const struct sb_store *s, const char *name,
    char buf[SB_FULLNAME_MAX + 1])
{
	if (s->prefix[0] == '\0')
		return name;
	snprintf(buf, SB_FULLNAME_MAX + 1, "%s%s", s->prefix, name);
	return buf;
}

/*
 * Take the prefix off a name an implementation returned (in place).
 * SB_OK, or SB_ERR_INVAL if the name is not under the prefix (a backend bug:
 * the caller drops it rather than show another prefix's object).
 */
static enum sb_err
strip_prefix(const struct sb_store *s, char *name)
{
	size_t	plen = strlen(s->prefix);

	if (plen == 0)
		return SB_OK;
	if (name == NULL || strncmp(name, s->prefix, plen) != 0 ||
	    name[plen] == '\0')
		return SB_ERR_INVAL;
	memmove(name, name + plen, strlen(name + plen) + 1);
	return SB_OK;
}

/*
 * A guarded store (sb_store_guard) not yet checked (or one that is
 * checked every time): check it now. The check itself reads the marker
 * through these wrappers, which checking lets through. SB_OK, or the
 * check's error in s->err.
 */
static enum sb_err
guard(struct sb_store *s)
{
	char	err[SB_ERRMSG_MAX] = "";
	int	rc;

	if (s->guard_cfg == NULL || s->checking ||
	    (s->verified && !s->ops->recheck))
		return SB_OK;
	s->checking = 1;
	rc = sb_store_identify(s, s->guard_cfg, s->guard_id, NULL, err);
	s->checking = 0;
	s->verified = rc == SB_OK;
	if (rc != SB_OK)
		sb_strlcpy(s->err, err, sizeof(s->err));
	return rc;
}

enum sb_err
sb_store_guard(struct sb_store *s, const struct sb_config *cfg,
    const char *known_id, struct sb_store_marker *out, char *err)
{
	int	rc;

	if (s == NULL || cfg == NULL) {
		sb_seterr(err, "store: no store");
		return SB_ERR_INVAL;
	}
	s->guard_cfg = cfg;
	sb_strlcpy(s->guard_id, known_id != NULL ? known_id : "",
	    sizeof(s->guard_id));
	s->checking = 1;
	rc = sb_store_identify(s, cfg, s->guard_id, out, err);
	s->checking = 0;
	s->verified = rc == SB_OK;
	return rc;
}

/* --- operations --------------------------------------------------------- */

enum sb_err
sb_store_meta_check(struct sb_store *s, const struct sb_meta *m)
{
	if (s == NULL)
		return SB_ERR_INVAL;
	return check_meta(s, "(check)", m);
}

/* Store everything rd gives under name, atomically (store.h). */
enum sb_err
sb_store_put_stream(struct sb_store *s, const char *name, sb_read_fn rd,
    void *arg, const struct sb_meta *m)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "put", name, 0)) != SB_OK ||
	    (rc = check_meta(s, name, m)) != SB_OK || (rc = guard(s)) != SB_OK)
		return rc;
	if (rd == NULL) {
		sb_seterr(s->err, "store put %s: no reader", name);
		return SB_ERR_INVAL;
	}
	return s->ops->put_stream(s, full_name(s, name, fn), rd, arg, m);
}

/* A reader over a file descriptor, for the put_file fallback. */
ssize_t
sb_fd_read(void *arg, void *buf, size_t len)
{
	struct sb_fd_reader	*r = arg;
	ssize_t			 n;

	do
		n = read(r->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		r->err = errno;
	return n;
}

/*
 * Store the local file at path. A backend that can do better (a rename,
 * parallel uploads) provides put_file; otherwise the file is streamed
 * through put_stream. The caller removes path afterwards if it still
 * exists (a backend may have consumed it).
 */
enum sb_err
sb_store_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *m)
{
	struct sb_fd_reader	r = { -1, 0 };
	char			fn[SB_FULLNAME_MAX + 1];
	const char		*full;
	int			rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "put", name, 0)) != SB_OK ||
	    (rc = check_meta(s, name, m)) != SB_OK || (rc = guard(s)) != SB_OK)
		return rc;
	if (path == NULL || path[0] == '\0') {
		sb_seterr(s->err, "store put %s: no file", name);
		return SB_ERR_INVAL;
	}
	full = full_name(s, name, fn);
	if (s->ops->put_file != NULL)
		return s->ops->put_file(s, full, path, m);
	if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sb_seterr(s->err, "store put %s: %s: %s", name, path,
		    strerror(errno));
		return SB_ERR_IO;
	}
	rc = s->ops->put_stream(s, full, sb_fd_read, &r, m);
	if (rc != SB_OK && r.err != 0) {
		sb_seterr(s->err, "store put %s: read %s: %s", name, path,
		    strerror(r.err));
		rc = SB_ERR_IO;
	}
	close(r.fd);
	return rc;
}

/* Stream name into wr; SB_ERR_NOTFOUND if there is no such object. */
enum sb_err
sb_store_get(struct sb_store *s, const char *name, sb_write_fn wr, void *arg)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "get", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	if (wr == NULL) {
		sb_seterr(s->err, "store get %s: no writer", name);
		return SB_ERR_INVAL;
	}
	return s->ops->get(s, full_name(s, name, fn), wr, arg);
}

/*
 * The sha256 of a file being downloaded into, computed as it grows: a
 * thread reads back (pread, from the page cache) what the download has
 * marked written, so the object is hashed once, while it arrives, in
 * order even when the store writes its ranges out of order. It waits for
 * HASH_STEP new bytes (or the end) before it reads.
 */
#define HASH_STEP	(1024 * 1024)

struct get_hash {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;
	uint64_t	 avail;		/* [0, avail) written */
	int		 end;		/* the download is over */
	uint64_t	 hashed;
	EVP_MD_CTX	*ctx;		/* NULL: not hashed */
	unsigned char	*buf;
	int		 eno;		/* errno of a failed pread */
	sb_write_fn	 follow;	/* also gets the bytes, or NULL */
	void		*farg;
	int		 stopped;	/* follow returned non-zero */
	pthread_t	 thr;
	int		 running;	/* thr was started */
};

static void
hash_mark(void *arg, uint64_t done)
{
	struct get_hash	*h = arg;

	pthread_mutex_lock(&h->mu);
	if (done > h->avail) {
		h->avail = done;
		if (h->avail - h->hashed >= HASH_STEP)
			pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

static void
hash_end(struct get_hash *h)
{
	pthread_mutex_lock(&h->mu);
	h->end = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void *
hash_main(void *arg)
{
	struct get_hash	*h = arg;
	uint64_t	 avail;
	size_t		 want;
	ssize_t		 n;
	int		 end;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		while (!h->end && h->avail - h->hashed < HASH_STEP)
			pthread_cond_wait(&h->cv, &h->mu);
		avail = h->avail;
		end = h->end;
		pthread_mutex_unlock(&h->mu);
		while (h->hashed < avail) {
			want = avail - h->hashed < HASH_STEP ?
			    (size_t)(avail - h->hashed) : HASH_STEP;
			n = pread(h->fd, h->buf, want, (off_t)h->hashed);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				h->eno = n == 0 ? EIO : errno;
				return NULL;
			}
			if (h->ctx != NULL)
				EVP_DigestUpdate(h->ctx, h->buf, (size_t)n);
			if (h->follow != NULL &&
			    h->follow(h->farg, h->buf, (size_t)n) != 0) {
				h->stopped = 1;
				return NULL;
			}
			h->hashed += (uint64_t)n;
		}
		if (end)
			return NULL;
	}
}

/* A writer into a file descriptor, for stores without get_fd. */
struct fd_writer {
	int		 fd;
	int		 err;	/* errno of a failed write */
	uint64_t	 off;
	sb_mark_fn	 mark;
	void		*markarg;
};

static int
fd_write(void *arg, const void *buf, size_t len)
{
	struct fd_writer	*w = arg;

	if (sb_write_all(w->fd, buf, len) != SB_OK) {
		w->err = errno;
		return -1;
	}
	w->off += len;
	if (w->mark != NULL)
		w->mark(w->markarg, w->off);
	return 0;
}

enum sb_err
sb_store_local_path(struct sb_store *s, const char *name, char *path,
    size_t len)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL || s->ops->local_path == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "get", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	return s->ops->local_path(s, full_name(s, name, fn), path, len);
}

/*
 * Download name into a new file at path (which must not exist: O_EXCL, so
 * we never overwrite, nor follow a planted symlink), mode 0600 since a
 * backup holds the whole database. The file is fsync'd before we say it
 * is there; on any failure it is removed. SB_ERR_IO for local failures,
 * the backend's code otherwise.
 */
enum sb_err
sb_store_get_file(struct sb_store *s, const char *name, const char *path)
{
	return sb_store_get_file_sha(s, name, path, NULL, NULL);
}

void
sb_store_watch(struct sb_store *s, struct sb_progress *p)
{
	if (s != NULL)
		s->progress = p;
}

/* Who hears of a download's mark: the hasher, the progress, or both. */
struct get_marks {
	struct get_hash		*h;
	struct sb_progress	*p;
};

static void
marks_mark(void *arg, uint64_t done)
{
	struct get_marks	*m = arg;

	if (m->h != NULL)
		hash_mark(m->h, done);
	sb_progress_set(m->p, (int64_t)done);
}

/* Run the download of name into fd, marking progress into h (or none). */
static int
get_into(struct sb_store *s, const char *name, const char *path, int fd,
    struct get_hash *h)
{
	struct get_marks	m = { h, s->progress };
	struct fd_writer	w = { fd, 0, 0, NULL, NULL };
	char			fn[SB_FULLNAME_MAX + 1];
	int			rc;

	if (h != NULL || s->progress != NULL) {
		w.mark = marks_mark;
		w.markarg = &m;
	}
	if (s->ops->get_fd != NULL)
		return s->ops->get_fd(s, full_name(s, name, fn), fd, w.mark,
		    w.markarg);
	rc = s->ops->get(s, full_name(s, name, fn), fd_write, &w);
	if (rc != SB_OK && w.err != 0) {
		sb_seterr(s->err, "store get %s: write %s: %s", name, path,
		    strerror(w.err));
		rc = SB_ERR_IO;
	}
	return rc;
}

/*
 * Start hashing what is written to fd: SB_OK with the thread running
 * (h->running), or with none when it could not start (hash_finish then
 * reads the file once more); SB_ERR_NOMEM.
 */
static enum sb_err
hash_start(struct get_hash *h, int fd, sb_write_fn follow, void *farg)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->follow = follow;
	h->farg = farg;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if ((h->buf = malloc(HASH_STEP)) == NULL)
		return SB_ERR_NOMEM;
	if (follow == NULL && ((h->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1))
		return SB_ERR_NOMEM;
	h->running = pthread_create(&h->thr, NULL, hash_main, h) == 0;
	return SB_OK;
}

/* Stop the thread; if ok, the sha256 and size of path into sha, size. */
static enum sb_err
hash_finish(struct get_hash *h, int ok, const char *path,
    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (h->running) {
		hash_end(h);
		pthread_join(h->thr, NULL);
		h->running = 0;
	} else if (ok)
		return sb_sha256_file(path, sha, size, err);
	if (!ok)
		return SB_OK;
	if (h->eno != 0) {
		sb_seterr(err, "read %s: %s", path, strerror(h->eno));
		return SB_ERR_IO;
	}
	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	sb_hex(md, mdlen < 32 ? mdlen : 32, sha);
	if (size != NULL)
		*size = (int64_t)h->hashed;
	return SB_OK;
}

static void
hash_free(struct get_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	free(h->buf);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
}

/*
 * The start of every download into a file: name checked, the store's
 * identity guarded, and path made as a new file (O_EXCL, mode 0600) in
 * *fd, read-write. Errors leave a message in s and nothing open.
 */
static enum sb_err
get_open(struct sb_store *s, const char *name, const char *path, int *fd)
{
	int	rc;

	if ((rc = check_name(s, "get", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	if (path == NULL || path[0] == '\0') {
		sb_seterr(s->err, "store get %s: no file", name);
		return SB_ERR_INVAL;
	}
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd == -1) {
		sb_seterr(s->err, "store get %s: %s: %s", name, path,
		    strerror(errno));
		return SB_ERR_IO;
	}
	return SB_OK;
}

/*
 * sb_store_get_file, and (sha not NULL) the sha256 and size of what was
 * downloaded, hashed while it arrived: no second pass over the file.
 */
enum sb_err
sb_store_get_file_sha(struct sb_store *s, const char *name, const char *path,
    char sha[SB_SHA256_HEX + 1], int64_t *size)
{
	struct get_hash	 h;
	char		 err[SB_ERRMSG_MAX];
	int		 fd, rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = get_open(s, name, path, &fd)) != SB_OK)
		return rc;
	if (sha != NULL) {
		sha[0] = '\0';
		if ((rc = hash_start(&h, fd, NULL, NULL)) != SB_OK)
			sb_seterr(s->err, "store get %s: out of memory", name);
	}
	if (rc == SB_OK)
		rc = get_into(s, name, path, fd, sha != NULL && h.running ?
		    &h : NULL);
	if (rc == SB_OK && fsync(fd) == -1) {
		sb_seterr(s->err, "store get %s: fsync %s: %s", name, path,
		    strerror(errno));
		rc = SB_ERR_IO;
	}
	if (sha != NULL && hash_finish(&h, rc == SB_OK, path, sha, size,
	    err) != SB_OK && rc == SB_OK) {
		sb_seterr(s->err, "store get %s: hashing: %s", name, err);
		rc = SB_ERR_IO;
	}
	/* close(2) can report a deferred write error (NFS): check it. */
	if (close(fd) == -1 && rc == SB_OK) {
		sb_seterr(s->err, "store get %s: close %s: %s", name, path,
		    strerror(errno));
		rc = SB_ERR_IO;
	}
	if (rc != SB_OK)
		(void)unlink(path);
	if (sha != NULL)
		hash_free(&h);
	return rc;
}

/*
 * Download name into a new file at path (O_EXCL, mode 0600, as
 * sb_store_get_file) and hand every byte of it to follow, in order, while
 * it arrives: a thread reads back (pread, from the page cache) what the
 * download has marked written, so the object is read once even when its
 * ranges come out of order. A follow that returns non-zero is not called
 * again and the call fails with SB_ERR_IO once the download is over
 * (follow's owner knows why). path is left for the caller (a temp file
 * it reserved) whatever happens.
 */
enum sb_err
sb_store_get_file_follow(struct sb_store *s, const char *name,
    const char *path, sb_write_fn follow, void *arg)
{
	struct get_hash	 h;
	struct stat	 st;
	int		 fd, rc;

	if (s == NULL || follow == NULL)
		return SB_ERR_INVAL;
	if ((rc = get_open(s, name, path, &fd)) != SB_OK)
		return rc;
	if ((rc = hash_start(&h, fd, follow, arg)) != SB_OK)
		sb_seterr(s->err, "store get %s: out of memory", name);
	else
		rc = get_into(s, name, path, fd, h.running ? &h : NULL);
	if (h.running) {
		hash_end(&h);
		pthread_join(h.thr, NULL);
		h.running = 0;
	}
	/* No thread, or a last mark short of the end: follow the rest now. */
	if (rc == SB_OK && !h.stopped && h.eno == 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size > h.hashed) {
		h.avail = (uint64_t)st.st_size;
		h.end = 1;
		(void)hash_main(&h);
	}
	if (rc == SB_OK && h.stopped) {
		sb_seterr(s->err, "store get %s: stopped by its reader", name);
		rc = SB_ERR_IO;
	} else if (rc == SB_OK && h.eno != 0) {
		sb_seterr(s->err, "store get %s: read %s: %s", name, path,
		    strerror(h.eno));
		rc = SB_ERR_IO;
	}
	if (close(fd) == -1 && rc == SB_OK) {
		sb_seterr(s->err, "store get %s: close %s: %s", name, path,
		    strerror(errno));
		rc = SB_ERR_IO;
	}
	hash_free(&h);
	return rc;
}

/*
 * Size, mtime and metadata of one object into o, which is overwritten
 * (not freed) first; the caller releases it with sb_object_clear().
 */
enum sb_err
sb_store_head(struct sb_store *s, const char *name, struct sb_object *o)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "head", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	if (o == NULL) {
		sb_seterr(s->err, "store head %s: no result", name);
		return SB_ERR_INVAL;
	}
	memset(o, 0, sizeof(*o));
	if ((rc = s->ops->head(s, full_name(s, name, fn), o)) == SB_OK &&
	    strip_prefix(s, o->name) != SB_OK) {
		sb_object_clear(o);
		sb_seterr(s->err, "store head %s: the store answered for "
		    "another name", name);
		rc = SB_ERR_STORAGE;
	}
	return rc;
}

/*
 * Objects whose name starts with prefix (NULL or "" for all), in strcmp
 * order, into l, which is overwritten (not freed) first; the caller
 * releases it with sb_object_list_clear(), also after a failure.
 */
enum sb_err
sb_store_list(struct sb_store *s, const char *prefix,
    struct sb_object_list *l)
{
	char	fn[SB_FULLNAME_MAX + 1];
	size_t	i, j;
	int	rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if (prefix == NULL)
		prefix = "";
	if ((rc = check_name(s, "list", prefix, 1)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	if (l == NULL) {
		sb_seterr(s->err, "store list: no result");
		return SB_ERR_INVAL;
	}
	l->v = NULL;
	l->n = 0;
	if ((rc = s->ops->list(s, full_name(s, prefix, fn), l)) != SB_OK)
		return rc;
	/* Names relative to our prefix; order is kept (same prefix). */
	for (i = j = 0; i < l->n; i++) {
		if (strip_prefix(s, l->v[i].name) != SB_OK) {
			sb_object_clear(&l->v[i]);
			continue;
		}
		if (i != j)
			l->v[j] = l->v[i];
		j++;
	}
	l->n = j;
	return SB_OK;
}

/* Delete name; an object already gone is success. */
enum sb_err
sb_store_del(struct sb_store *s, const char *name)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "delete", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	return s->ops->del(s, full_name(s, name, fn));
}

/* Make the store's place exist (`backup-cron init` only; store.h). */
enum sb_err
sb_store_create(struct sb_store *s)
{
	if (s == NULL)
		return SB_ERR_INVAL;
	if (s->ops->create == NULL) {
		sb_seterr(s->err, "store %s: cannot be created from here",
		    s->ops->kind);
		return SB_ERR_STORAGE;
	}
	return s->ops->create(s);
}

/*
 * Store buf under name only if there is no such object yet (store.h):
 * *existed says which happened.
 */
enum sb_err
sb_store_put_new(struct sb_store *s, const char *name, const void *buf,
    size_t len, int *existed)
{
	char	fn[SB_FULLNAME_MAX + 1];
	int	rc;

	if (s == NULL || existed == NULL || (buf == NULL && len > 0))
		return SB_ERR_INVAL;
	*existed = 0;
	if ((rc = check_name(s, "put", name, 0)) != SB_OK)
		return rc;
	if (s->ops->put_new == NULL) {
		sb_seterr(s->err, "store %s: no exclusive create",
		    s->ops->kind);
		return SB_ERR_STORAGE;
	}
	return s->ops->put_new(s, full_name(s, name, fn), buf, len, existed);
}

/*
 * The backend's staging directory, or NULL (use another). A guarded store
 * that fails its check has none: a disk store would make .staging in an
 * empty mountpoint otherwise; the put that follows reports the check.
 */
const char *
sb_store_staging_dir(struct sb_store *s)
{
	if (s == NULL || s->ops->staging_dir == NULL || guard(s) != SB_OK)
		return NULL;
	return s->ops->staging_dir(s);
}

/* --- uploads that overlap the writing of the file ------------------------ */

struct sb_upload {
	struct sb_store	*s;
	char		*name;
	char		*path;
	void		*impl;	/* the backend's, NULL: put_file at finish */
};

/*
 * Start uploading path (still being written) as name; see store.h. *out
 * is the caller's until sb_store_upload_finish or _abort releases it.
 */
enum sb_err
sb_store_upload_begin(struct sb_store *s, const char *name, const char *path,
    struct sb_upload **out)
{
	struct sb_upload	*u;
	char			 fn[SB_FULLNAME_MAX + 1];
	int			 rc;

	*out = NULL;
	if (s == NULL || path == NULL || path[0] == '\0')
		return SB_ERR_INVAL;
	if ((rc = check_name(s, "put", name, 0)) != SB_OK ||
	    (rc = guard(s)) != SB_OK)
		return rc;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->name = strdup(name)) == NULL ||
	    (u->path = strdup(path)) == NULL) {
		if (u != NULL) {
			free(u->name);
			free(u);
		}
		sb_seterr(s->err, "store put %s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	u->s = s;
	if (s->ops->upload_begin != NULL)
		u->impl = s->ops->upload_begin(s, full_name(s, name, fn),
		    path);
	*out = u;
	return SB_OK;
}

/* The file is complete: the backend may send its last blocks now. */
void
sb_store_upload_eof(struct sb_upload *u)
{
	if (u != NULL && u->impl != NULL && u->s->ops->upload_eof != NULL)
		u->s->ops->upload_eof(u->impl);
}

static void
upload_free(struct sb_upload **pu)
{
	free((*pu)->name);
	free((*pu)->path);
	free(*pu);
	*pu = NULL;
}

/*
 * Wait for the upload, commit it with m, release it. Returns SB_OK or the
 * error (message in the store).
 */
enum sb_err
sb_store_upload_finish(struct sb_upload **pu, const struct sb_meta *m)
{
	struct sb_upload	*u;
	int			 rc;

	if (pu == NULL || (u = *pu) == NULL)
		return SB_ERR_INVAL;
	if ((rc = check_meta(u->s, u->name, m)) != SB_OK)
		sb_store_upload_abort(pu);
	else if (u->impl != NULL) {
		rc = u->s->ops->upload_finish(u->s, u->impl, m);
		upload_free(pu);
	} else {
		rc = sb_store_put_file(u->s, u->name, u->path, m);
		upload_free(pu);
	}
	return rc;
}

/* Give up: nothing is committed. NULL-safe. */
void
sb_store_upload_abort(struct sb_upload **pu)
{
	if (pu == NULL || *pu == NULL)
		return;
	if ((*pu)->impl != NULL)
		(*pu)->s->ops->upload_abort((*pu)->s, (*pu)->impl);
	upload_free(pu);
}
