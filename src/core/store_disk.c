/*
 * store_disk.c - the object store as a local directory: the embedded
 * default, and what the tests run against.
 *
 * Layout under root:
 *	<name>		the object's bytes
 *	<name>.meta	its metadata, JSON: {"meta":{"key":"value",...}}
 *	.staging/	temp files; also handed to the engine
 *			(sb_store_staging_dir) so a snapshot written there is
 *			moved into place by rename(2), not copied
 *
 * root is [disk] root, or <[disk] root>/<[store] prefix> (store.c). It is
 * never created implicitly: only sb_store_create (`backup-cron init`)
 * makes it. Were it made on demand, an unmounted volume would silently
 * turn into an empty directory on the root disk, and everything after
 * (reconcile, prune) would take the history for lost. .staging inside an
 * existing root is made on demand (mkdir, never mkdir -p).
 *
 * Writes follow acme-client's serialise(): write a temp file in the same
 * file system, fsync it, rename(2) it over the final name, fsync the
 * directory. rename(2) is atomic (POSIX: "the link named new shall remain
 * visible to other processes throughout the renaming operation and refer
 * either to the file referred to by new or old"), so a reader sees the old
 * object, no object, or the whole new one; never a prefix. The directory
 * fsync makes the new name itself survive a crash (Linux fsync(2): "calling
 * fsync() on the file does not necessarily ensure that the entry in the
 * directory containing the file has also reached disk").
 *
 * Metadata is renamed into place before the data, so an object never
 * appears without its metadata; a crash in between leaves an orphan .meta
 * that list() skips. Memory is bounded: data moves in 1 MiB blocks.
 * The .meta files' JSON is read and written in store_disk_meta.c.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tempfile.h"

#define DISK_BUFSZ	(1 << 20)	/* bytes per read and write */
#define STAGING		".staging"
#define META_SUFFIX	".meta"
#define STAGING_STALE	(24 * 3600)	/* seconds before a temp is litter */

struct disk_store {
	struct sb_store	 base;		/* first: we are cast to it */
	char		*root;
	char		*staging;	/* <root>/.staging */
};

static const struct sb_store_ops disk_ops;

/*
 * Is name safe as a file name directly under root? Refuses whatever could
 * leave root ('/', "..", '\\' for whoever copies the tree to Windows),
 * hide (leading '.') or collide with our own files (".meta" companions,
 * ".tmp"), and control characters, which a shell or a log would
 * misrender. Everything else is allowed: spaces, UTF-8, '%', '+', '='.
 * Returns 1 if acceptable.
 */
int
sb_is_disk_name(const char *name)
{
	size_t	len;

	if (!sb_is_store_name(name, SB_NAME_MAX) || name[0] == '.' ||
	    strpbrk(name, "/\\") != NULL)
		return 0;
	len = strlen(name);
	/* Case-blind: on a case-insensitive file system "x.META" is "x.meta". */
	return !((len >= 5 && strcasecmp(name + len - 5, META_SUFFIX) == 0) ||
	    (len >= 4 && strcasecmp(name + len - 4, ".tmp") == 0));
}

/* Set the store's message "store <root>: <what>" and return code. */
static enum sb_err
disk_err(struct disk_store *d, enum sb_err code, const char *fmt,
    ...)
    __attribute__((format(printf, 3, 4)));

static enum sb_err
disk_err(struct disk_store *d, enum sb_err code, const char *fmt,
    ...)
{
	char	msg[SB_ERRMSG_MAX];
	va_list	ap;

	va_start(ap, fmt);
	sb_vseterr(msg, fmt, ap);
	va_end(ap);
	sb_seterr(d->base.err, "store %s: %s", d->root, msg);
	return code;
}

/* "<dir>/<name><suffix>" into buf; SB_ERR_INVAL if it does not fit. */
static enum sb_err
mkpath(char *buf, size_t len, const char *dir, const char *name,
    const char *suffix)
{
	int	n;

	n = snprintf(buf, len, "%s/%s%s", dir, name, suffix);
	return (n < 0 || (size_t)n >= len) ? SB_ERR_INVAL : SB_OK;
}

/* SB_OK if path is a directory (followed if a link), else SB_ERR_IO with
 * errno set. */
static enum sb_err
check_dir(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return SB_ERR_IO;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return SB_ERR_IO;
	}
	return SB_OK;
}

/*
 * Make path a directory (mode 0700) if it is not one, creating missing
 * parents like mkdir -p. SB_OK, or SB_ERR_IO with errno set.
 */
static enum sb_err
mkdir_p(const char *path)
{
	char	buf[PATH_MAX];
	size_t	i, len;

	len = strlen(path);
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return SB_ERR_IO;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return SB_ERR_IO;
		buf[i] = path[i];
	}
	return check_dir(path);
}

/*
 * Remove the temp files a killed operation left in .staging: those named
 * by tempfile.c whose owner is gone (exact, see tempfile.h), and the
 * data-XXXXXX, meta-XXXXXX of older versions once nobody has written to
 * them for a day. Best effort: a failure here costs disk space, not
 * correctness.
 */
static void
staging_sweep(const char *staging)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	time_t		 now = time(NULL);

	sb_temp_sweep(staging, NULL, NULL);
	if ((dir = opendir(staging)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if ((strncmp(de->d_name, "data-", 5) != 0 &&
		    strncmp(de->d_name, "meta-", 5) != 0) ||
		    strlen(de->d_name) != 11)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < STAGING_STALE)
			continue;
		(void)unlinkat(dirfd(dir), de->d_name, 0);
	}
	closedir(dir);
}

/*
 * Make <root>/.staging if it is missing, never root itself (mkdir(2),
 * not mkdir -p): a root that is gone stays gone. SB_OK, or SB_ERR_IO
 * with errno set (ENOENT when root does not exist).
 */
static enum sb_err
staging_ensure(struct disk_store *d)
{
	if (mkdir(d->staging, 0700) == -1 && errno != EEXIST)
		return SB_ERR_IO;
	return check_dir(d->staging);
}

/*
 * Make a new temp file of ours for op in .staging (tempfile.h: named, and
 * owned through its companion's lock until sb_temp_release), open for
 * writing. Returns the fd, or -1 with the store's message set (naming the
 * object the write is for).
 */
static int
staging_temp(struct disk_store *d, struct sb_temp *t, const char *op,
    const char *name)
{
	char	msg[SB_ERRMSG_MAX];
	int	fd;

	if (staging_ensure(d) != SB_OK) {
		disk_err(d, SB_ERR_STORAGE, "write %s: %s: %s", name,
		    d->staging, strerror(errno));
		return -1;
	}
	if (sb_temp_reserve(t, d->staging, op, NULL, msg) != SB_OK) {
		disk_err(d, SB_ERR_STORAGE, "write %s: %s", name, msg);
		return -1;
	}
	if ((fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		disk_err(d, SB_ERR_STORAGE, "write %s: %s: %s", name,
		    d->staging, strerror(errno));
	return fd;
}

/*
 * Open the directory store at root. Nothing is created and nothing is
 * required to exist yet: sb_store_identify() reads the marker next and
 * says clearly what is missing. *out is the caller's (sb_store_free).
 */
enum sb_err
sb_store_disk_open(struct sb_store **out, const char *root, char *err)
{
	struct disk_store	*d = NULL;
	size_t			 len;
	int			 rc = SB_ERR_NOMEM;

	if (out == NULL || root == NULL || root[0] == '\0') {
		sb_seterr(err, "store disk: no root directory");
		return SB_ERR_CONFIG;
	}
	*out = NULL;
	len = strlen(root);
	/* Room for "/.staging/" plus a full object name and a temp suffix. */
	if (len + sizeof(STAGING) + SB_NAME_MAX + 32 >= PATH_MAX) {
		sb_seterr(err, "store %s: root path too long", root);
		return SB_ERR_CONFIG;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->root = strdup(root)) == NULL) {
		sb_seterr(err, "out of memory");
		goto out;
	}
	/* A trailing slash would double in every path we build. */
	while (len > 1 && d->root[len - 1] == '/')
		d->root[--len] = '\0';
	if ((d->staging = malloc(len + sizeof(STAGING) + 1)) == NULL) {
		sb_seterr(err, "out of memory");
		goto out;
	}
	snprintf(d->staging, len + sizeof(STAGING) + 1, "%s/%s",
	    d->root, STAGING);
	d->base.ops = &disk_ops;
	staging_sweep(d->staging);
	*out = &d->base;
	d = NULL;
	rc = SB_OK;
out:
	if (d != NULL) {
		free(d->root);
		free(d->staging);
		free(d);
	}
	return rc;
}

static void
disk_free(struct sb_store *s)
{
	struct disk_store	*d = (struct disk_store *)s;

	free(d->root);
	free(d->staging);
	free(d);
}

/* .staging, made if missing inside an existing root. */
static const char *
disk_staging_dir(struct sb_store *s)
{
	struct disk_store	*d = (struct disk_store *)s;

	(void)staging_ensure(d);
	return d->staging;
}

/* `backup-cron init`: make root (mkdir -p) and its .staging. */
static enum sb_err
disk_create(struct sb_store *s)
{
	struct disk_store	*d = (struct disk_store *)s;

	if (mkdir_p(d->root) != SB_OK)
		return disk_err(d, SB_ERR_STORAGE, "create: %s",
		    strerror(errno));
	if (mkdir_p(d->staging) != SB_OK)
		return disk_err(d, SB_ERR_STORAGE, "create %s: %s", STAGING,
		    strerror(errno));
	return SB_OK;
}

/* Common check: the generic layer has checked UTF-8 and length. */
static enum sb_err
disk_check_name(struct disk_store *d, const char *op, const char *name)
{
	if (sb_is_disk_name(name))
		return SB_OK;
	return disk_err(d, SB_ERR_INVAL, "%s: object name \"%s\" is not "
	    "allowed (no '/', '\\', leading '.', \".meta\" or \".tmp\" "
	    "suffix)", op, name);
}

/* --- metadata files ----------------------------------------------------- */

/* The .meta sidecar must stay readable: at most DISK_META_MAX bytes. */
static enum sb_err
disk_meta_check(struct sb_store *s, const struct sb_meta *m)
{
	char	*txt;
	size_t	 n;

	if ((txt = sb_disk_meta_json(m)) == NULL) {
		sb_seterr(s->err, "out of memory");
		return SB_ERR_NOMEM;
	}
	n = strlen(txt);
	free(txt);
	if (n > DISK_META_MAX) {
		sb_seterr(s->err, "description and tags too large for the "
		    "disk store's metadata: %zu bytes, the limit is %d", n,
		    DISK_META_MAX);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/*
 * Write m atomically as <root>/<name>.meta: temp in .staging, fsync,
 * rename. The directory fsync is left to the caller, which renames the
 * data next and syncs once for both.
 */
static enum sb_err
meta_write(struct disk_store *d, const char *name, const struct sb_meta *m)
{
	struct sb_temp	 t = { "", -1 };
	char		 dst[PATH_MAX];
	char		*txt = NULL, *tmp = t.path;
	int		 fd = -1, rc = SB_ERR_STORAGE;

	if (mkpath(dst, sizeof(dst), d->root, name, META_SUFFIX) != SB_OK) {
		rc = disk_err(d, SB_ERR_INVAL, "put %s: path too long", name);
		goto out;
	}
	if ((txt = sb_disk_meta_json(m)) == NULL) {
		rc = disk_err(d, SB_ERR_NOMEM, "put %s: out of memory", name);
		goto out;
	}
	if ((fd = staging_temp(d, &t, "meta", name)) == -1)
		goto out;
	if (sb_write_all(fd, txt, strlen(txt)) != SB_OK || fsync(fd) == -1) {
		disk_err(d, rc, "write %s%s: %s", name, META_SUFFIX,
		    strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		disk_err(d, rc, "write %s%s: %s", name, META_SUFFIX,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) == -1) {
		disk_err(d, rc, "write %s%s: %s", name, META_SUFFIX,
		    strerror(errno));
		goto out;
	}
	rc = SB_OK;
out:
	if (fd != -1)
		close(fd);
	sb_temp_release(&t);
	free(txt);
	return rc;
}

/*
 * Move the finished, fsync'd file tmp into place as <root>/<name>:
 * metadata first, then the data, then the directory fsync that makes both
 * names durable. On failure a just-written .meta is removed unless an
 * older object still owns it. errno-style code in *eno for the caller
 * (EXDEV tells put_file to copy instead). tmp is not removed here.
 */
static enum sb_err
disk_commit(struct disk_store *d, const char *name, const char *tmp,
    const struct sb_meta *m, int *eno)
{
	char	dst[PATH_MAX], mpath[PATH_MAX];
	int	rc;

	*eno = 0;
	if (mkpath(dst, sizeof(dst), d->root, name, "") != SB_OK ||
	    mkpath(mpath, sizeof(mpath), d->root, name, META_SUFFIX) != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "put %s: path too long",
		    name);
	if ((rc = meta_write(d, name, m)) != SB_OK)
		return rc;
	if (rename(tmp, dst) == -1) {
		*eno = errno;
		if (access(dst, F_OK) == -1)
			(void)unlink(mpath);
		return disk_err(d, SB_ERR_STORAGE, "write %s: %s", name,
		    strerror(*eno));
	}
	if (sb_fsync_dir(d->root) != SB_OK) {
		*eno = errno;
		return disk_err(d, SB_ERR_STORAGE, "write %s: fsync %s: %s",
		    name, d->root, strerror(*eno));
	}
	return SB_OK;
}

/* --- operations --------------------------------------------------------- */

/*
 * Copy everything rd gives into a temp file in .staging, fsync it, and
 * commit it as name. Any failure (the reader's, or the file system's:
 * ENOSPC, EROFS, EACCES) removes the temp files and leaves no object.
 */
static enum sb_err
disk_put_stream(struct sb_store *s, const char *name, sb_read_fn rd,
    void *arg, const struct sb_meta *m)
{
	struct disk_store	*d = (struct disk_store *)s;
	struct sb_temp		 t = { "", -1 };
	char			*buf = NULL, *tmp = t.path;
	ssize_t			 n;
	int			 fd = -1, rc, eno;

	if ((rc = disk_check_name(d, "put", name)) != SB_OK)
		return rc;
	if ((buf = malloc(DISK_BUFSZ)) == NULL) {
		rc = disk_err(d, SB_ERR_NOMEM, "put %s: out of memory", name);
		goto out;
	}
	rc = SB_ERR_STORAGE;
	if ((fd = staging_temp(d, &t, "put", name)) == -1)
		goto out;
	for (;;) {
		n = rd(arg, buf, DISK_BUFSZ);
		if (n == 0)
			break;
		if (n < 0 || n > DISK_BUFSZ) {
			disk_err(d, rc, "write %s: the data source failed",
			    name);
			goto out;
		}
		if (sb_write_all(fd, buf, (size_t)n) != SB_OK) {
			disk_err(d, rc, "write %s: %s", name, strerror(errno));
			goto out;
		}
	}
	if (fsync(fd) == -1) {
		disk_err(d, rc, "write %s: %s", name, strerror(errno));
		goto out;
	}
	/* close(2) may be where a network file system reports ENOSPC. */
	if (close(fd) == -1) {
		fd = -1;
		disk_err(d, rc, "write %s: %s", name, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((rc = disk_commit(d, name, tmp, m, &eno)) != SB_OK)
		goto out;
out:
	if (fd != -1)
		close(fd);
	sb_temp_release(&t);
	free(buf);
	return rc;
}

/*
 * Store the regular file at path as name. On the same file system the
 * file itself is fsync'd and renamed into place, so a snapshot the engine
 * wrote in .staging costs no copy; the file is consumed. Across file
 * systems rename(2) fails with EXDEV and we copy through put_stream,
 * leaving path in place for the caller to remove; so do a symlink and a
 * file with other hard links.
 */
static enum sb_err
disk_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *m)
{
	struct disk_store	*d = (struct disk_store *)s;
	struct sb_fd_reader	 r = { -1, 0 };
	struct stat		 st, lst;
	int			 rc, eno;

	if ((rc = disk_check_name(d, "put", name)) != SB_OK)
		return rc;
	if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return disk_err(d, SB_ERR_IO, "put %s: %s: %s", name, path,
		    strerror(errno));
	if (fstat(r.fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = disk_err(d, SB_ERR_IO, "put %s: %s: not a regular file",
		    name, path);
		goto out;
	}
	/*
	 * Move only a plain file that has one name: renaming a symlink would
	 * store the link, and a hard-linked file would stay writable through
	 * its other name. Those are copied instead.
	 */
	if (lstat(path, &lst) == 0 && S_ISREG(lst.st_mode) &&
	    lst.st_dev == st.st_dev && lst.st_ino == st.st_ino &&
	    st.st_nlink == 1) {
		/* The data must be on disk before its name (acme-client). */
		if (fsync(r.fd) == -1) {
			rc = disk_err(d, SB_ERR_IO, "put %s: fsync %s: %s",
			    name, path, strerror(errno));
			goto out;
		}
		rc = disk_commit(d, name, path, m, &eno);
		if (rc == SB_OK || eno != EXDEV)
			goto out;
	}
	/* Another file system: copy from the start of the file. */
	if (lseek(r.fd, 0, SEEK_SET) == -1) {
		rc = disk_err(d, SB_ERR_IO, "put %s: %s: %s", name, path,
		    strerror(errno));
		goto out;
	}
	rc = disk_put_stream(s, name, sb_fd_read, &r, m);
	if (rc != SB_OK && r.err != 0)
		rc = disk_err(d, SB_ERR_IO, "put %s: read %s: %s", name, path,
		    strerror(r.err));
out:
	close(r.fd);
	return rc;
}

/*
 * Stream <root>/<name> into wr in 1 MiB blocks. SB_ERR_NOTFOUND if there
 * is no such regular file; SB_ERR_IO if the writer gives up.
 */
static enum sb_err
disk_get(struct sb_store *s, const char *name, sb_write_fn wr, void *arg)
{
	struct disk_store	*d = (struct disk_store *)s;
	char			 path[PATH_MAX];
	char			*buf = NULL;
	struct stat		 st;
	ssize_t			 n;
	int			 fd = -1, rc;

	if ((rc = disk_check_name(d, "get", name)) != SB_OK)
		return rc;
	if (mkpath(path, sizeof(path), d->root, name, "") != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "get %s: path too long",
		    name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return disk_err(d, SB_ERR_NOTFOUND, "get %s: no such "
			    "object", name);
		return disk_err(d, SB_ERR_STORAGE, "get %s: %s", name,
		    strerror(errno));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = disk_err(d, SB_ERR_NOTFOUND, "get %s: no such object",
		    name);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((buf = malloc(DISK_BUFSZ)) == NULL) {
		rc = disk_err(d, SB_ERR_NOMEM, "get %s: out of memory", name);
		goto out;
	}
	for (;;) {
		n = read(fd, buf, DISK_BUFSZ);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = disk_err(d, SB_ERR_STORAGE, "read %s: %s", name,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (wr(arg, buf, (size_t)n) != 0) {
			rc = disk_err(d, SB_ERR_IO, "get %s: the receiver "
			    "failed", name);
			goto out;
		}
	}
	rc = SB_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

/*
 * Fill o (zeroed) with name, size, mtime and metadata of the regular file
 * <root>/<name> described by st. o's strings are the caller's.
 */
static enum sb_err
fill_object(struct disk_store *d, const char *name, const struct stat *st,
    struct sb_object *o)
{
	char	mpath[PATH_MAX];
	int	rc;

	if (mkpath(mpath, sizeof(mpath), d->root, name, META_SUFFIX) !=
	    SB_OK)
		return SB_ERR_INVAL;
	if ((o->name = strdup(name)) == NULL)
		return SB_ERR_NOMEM;
	o->size = (int64_t)st->st_size;
	o->mtime = (int64_t)st->st_mtim.tv_sec * 1000 +
	    st->st_mtim.tv_nsec / 1000000;
	if ((rc = sb_disk_meta_read(mpath, &o->meta)) != SB_OK) {
		free(o->name);
		o->name = NULL;
	}
	return rc;
}

static enum sb_err
disk_head(struct sb_store *s, const char *name, struct sb_object *o)
{
	struct disk_store	*d = (struct disk_store *)s;
	char			 path[PATH_MAX];
	struct stat		 st;
	int			 rc;

	if ((rc = disk_check_name(d, "head", name)) != SB_OK)
		return rc;
	if (mkpath(path, sizeof(path), d->root, name, "") != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "head %s: path too long",
		    name);
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return disk_err(d, SB_ERR_NOTFOUND, "head %s: no such "
			    "object", name);
		return disk_err(d, SB_ERR_STORAGE, "head %s: %s", name,
		    strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return disk_err(d, SB_ERR_NOTFOUND, "head %s: no such object",
		    name);
	if ((rc = fill_object(d, name, &st, o)) != SB_OK)
		return disk_err(d, rc, "head %s: %s", name, sb_strerror(rc));
	return SB_OK;
}

static int
object_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sb_object *)a)->name,
	    ((const struct sb_object *)b)->name);
}

/*
 * Every object whose name starts with prefix, sorted by strcmp(3) order
 * (the engine's names sort by time). Skips .staging, dotfiles, .meta
 * companions (including orphans) and anything not a regular file. An
 * object removed while we list is silently left out.
 */
static enum sb_err
disk_list(struct sb_store *s, const char *prefix, struct sb_object_list *l)
{
	struct disk_store	*d = (struct disk_store *)s;
	struct dirent		*de;
	struct stat		 st;
	DIR			*dir = NULL;
	size_t			 plen = strlen(prefix);
	int			 rc = SB_ERR_STORAGE;

	if ((dir = opendir(d->root)) == NULL) {
		disk_err(d, rc, "list: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0) {
				disk_err(d, rc, "list: %s", strerror(errno));
				goto out;
			}
			break;
		}
		if (!sb_is_disk_name(de->d_name) ||
		    strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			disk_err(d, rc, "list: %s: %s", de->d_name,
			    strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((rc = sb_vec_grow(&l->v, l->n, sizeof(*l->v),
		    SB_LIST_ALL_MAX)) != SB_OK) {
			rc = rc == SB_ERR_NOMEM ? disk_err(d, rc, "list: out "
			    "of memory") : disk_err(d, SB_ERR_STORAGE, "list: "
			    "more than %d objects", SB_LIST_ALL_MAX);
			goto out;
		}
		memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
		if ((rc = fill_object(d, de->d_name, &st, &l->v[l->n])) !=
		    SB_OK) {
			disk_err(d, rc, "list: %s: %s", de->d_name,
			    sb_strerror(rc));
			goto out;
		}
		l->n++;
		rc = SB_ERR_STORAGE;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), object_cmp);
	rc = SB_OK;
out:
	if (dir != NULL)
		closedir(dir);
	if (rc != SB_OK)
		sb_object_list_clear(l);
	return rc;
}

/*
 * Remove name and its metadata; an object already gone is success (a
 * retried prune must not fail). Data goes first, so a crash in between
 * leaves only an orphan .meta, which list() ignores.
 */
static enum sb_err
disk_del(struct sb_store *s, const char *name)
{
	struct disk_store	*d = (struct disk_store *)s;
	char			 path[PATH_MAX], mpath[PATH_MAX];
	int			 rc;

	if ((rc = disk_check_name(d, "delete", name)) != SB_OK)
		return rc;
	if (mkpath(path, sizeof(path), d->root, name, "") != SB_OK ||
	    mkpath(mpath, sizeof(mpath), d->root, name, META_SUFFIX) != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "delete %s: path too long",
		    name);
	if (unlink(path) == -1 && errno != ENOENT)
		return disk_err(d, SB_ERR_STORAGE, "delete %s: %s", name,
		    strerror(errno));
	if (unlink(mpath) == -1 && errno != ENOENT)
		return disk_err(d, SB_ERR_STORAGE, "delete %s%s: %s", name,
		    META_SUFFIX, strerror(errno));
	if (sb_fsync_dir(d->root) != SB_OK)
		return disk_err(d, SB_ERR_STORAGE, "delete %s: fsync %s: %s",
		    name, d->root, strerror(errno));
	return SB_OK;
}

/*
 * Exclusive create: write buf to a temp in .staging, fsync, then link(2)
 * it to <root>/<name>. link fails with EEXIST when the name exists, so of
 * two writers exactly one succeeds (rename would let the second replace
 * the first). No .meta is written: the object has no metadata.
 */
static enum sb_err
disk_put_new(struct sb_store *s, const char *name, const void *buf,
    size_t len, int *existed)
{
	struct disk_store	*d = (struct disk_store *)s;
	struct sb_temp		 t = { "", -1 };
	char			 dst[PATH_MAX];
	char			*tmp = t.path;
	int			 fd = -1, rc;

	if ((rc = disk_check_name(d, "put", name)) != SB_OK)
		return rc;
	if (mkpath(dst, sizeof(dst), d->root, name, "") != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "put %s: path too long",
		    name);
	rc = SB_ERR_STORAGE;
	if ((fd = staging_temp(d, &t, "put", name)) == -1)
		goto out;
	if (sb_write_all(fd, buf, len) != SB_OK || fsync(fd) == -1) {
		disk_err(d, rc, "write %s: %s", name, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		disk_err(d, rc, "write %s: %s", name, strerror(errno));
		goto out;
	}
	fd = -1;
	if (link(tmp, dst) == -1) {
		if (errno == EEXIST) {
			*existed = 1;
			rc = SB_OK;
		} else
			disk_err(d, rc, "write %s: %s", name,
			    strerror(errno));
		goto out;
	}
	if (sb_fsync_dir(d->root) != SB_OK) {
		disk_err(d, rc, "write %s: fsync %s: %s", name, d->root,
		    strerror(errno));
		goto out;
	}
	rc = SB_OK;
out:
	if (fd != -1)
		close(fd);
	sb_temp_release(&t);
	return rc;
}

/* <root>/<name>, if it is a regular file (see sb_store_local_path). */
static enum sb_err
disk_local_path(struct sb_store *s, const char *name, char *path,
    size_t len)
{
	struct disk_store	*d = (struct disk_store *)s;
	struct stat		 st;
	int			 rc;

	if ((rc = disk_check_name(d, "get", name)) != SB_OK)
		return rc;
	if (mkpath(path, len, d->root, name, "") != SB_OK)
		return disk_err(d, SB_ERR_INVAL, "get %s: path too long",
		    name);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return disk_err(d, SB_ERR_NOTFOUND, "get %s: no such object",
		    name);
	return SB_OK;
}

static const struct sb_store_ops disk_ops = {
	.kind = "disk",
	.recheck = 1,
	.put_stream = disk_put_stream,
	.put_file = disk_put_file,
	.get = disk_get,
	.head = disk_head,
	.list = disk_list,
	.del = disk_del,
	.staging_dir = disk_staging_dir,
	.meta_check = disk_meta_check,
	.free = disk_free,
	.create = disk_create,
	.put_new = disk_put_new,
	.local_path = disk_local_path,
};
