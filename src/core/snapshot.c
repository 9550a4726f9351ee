/*
 * snapshot.c - consistent copies of a live SQLite database, out of it
 * (backups) and into it (restores), with SQLite's online backup API:
 * https://sqlite.org/backup.html and https://sqlite.org/c3ref/backup_finish.html
 *
 * sqlite3_backup_step(b, -1) copies every page in one call, that is inside
 * one read transaction on the source: the copy is the database as of one
 * instant. In WAL mode (https://sqlite.org/wal.html) writers go on while
 * it runs; in rollback-journal mode they wait for it (busy timeout). The
 * pages go through SQLite's page cache, so memory stays bounded whatever
 * the size of the database.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>

#include "progress.h"
#include "readvfs.h"
#include "snapshot_int.h"
#include "snapvfs.h"
#include "srcvfs.h"
#include "sql.h"

#define BUSY_TIMEOUT_MS		10000	/* per lock attempt, both ends */
#define TAKE_DEADLINE_MS	30000	/* retrying a busy source */
#define RETRY_SLEEP_MS		100

/*
 * Our code for an SQLite result code. A file SQLite cannot read as a
 * database is SB_ERR_CORRUPT; a lock still held after the busy timeout is
 * SB_ERR_BUSY; the file system failing is SB_ERR_IO.
 */
enum sb_err
sb_snapshot_map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return SB_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SB_ERR_BUSY;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return SB_ERR_CORRUPT;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_FULL:
		return SB_ERR_IO;
	default:
		return SB_ERR_DB;
	}
}

/* Report "what path: sqlite message" and return the mapped code. */
enum sb_err
sb_snapshot_dberr(char *err, sqlite3 *db, int rc, const char *what,
    const char *path)
{
	sb_seterr(err, "%s %s: %s", what, path,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return sb_snapshot_map_rc(rc);
}

/*
 * Open a database with our settings, through the VFS named vfs (NULL: the
 * default one); *db is NULL on failure.
 */
enum sb_err
sb_snapshot_open_db(const char *path, int flags, const char *vfs, sqlite3 **db,
    char *err, const char *what)
{
	int	rc, ret;

	*db = NULL;
	rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, vfs);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(*db, 1);
		rc = sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
	}
	if (rc != SQLITE_OK) {
		ret = sb_snapshot_dberr(err, *db, rc, what, path);
		sqlite3_close(*db);
		*db = NULL;
		return ret;
	}
	return SB_OK;
}

/* Run one statement of constant SQL, ignoring rows (PRAGMAs). */
enum sb_err
sb_snapshot_exec1(sqlite3 *db, const char *sql, char *err, const char *path)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK) {
		sb_seterr(err, "%s on %s: %s", sql, path, sqlite3_errmsg(db));
		rc = sb_snapshot_map_rc(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* A PRAGMA returning one value, as text into buf (sb_sql_text). */
enum sb_err
sb_snapshot_pragma(sqlite3 *db, const char *sql, char *buf, size_t len,
    char *err, const char *path)
{
	int	rc;

	if ((rc = sb_sql_text(db, sql, buf, len)) == SQLITE_OK)
		return SB_OK;
	sb_seterr(err, "%s on %s: %s", sql, path, sqlite3_errmsg(db));
	return sb_snapshot_map_rc(rc);
}

/*
 * Check the 100-byte header of a database file
 * (https://sqlite.org/fileformat2.html#the_database_header) before SQLite
 * sees it: the magic string, a valid page size, a length that is a whole
 * number of pages and not shorter than the page count the header records
 * (when that count is valid: "version-valid-for" equals the change
 * counter). This is how a truncated copy is told from a good one without
 * trusting SQLite to notice pages missing at the end. *wal gets whether
 * the header marks the file as WAL mode (bytes 18-19 == 2).
 * Returns SB_ERR_CORRUPT, SB_ERR_IO or SB_OK.
 */
enum sb_err
sb_snapshot_header(const char *path, int *wal, char *err)
{
	unsigned char	 h[100];
	struct stat	 sb;
	uint32_t	 psize, npages;
	ssize_t		 n;
	int		 fd = -1, ret = SB_ERR_CORRUPT;

	if (wal != NULL)
		*wal = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sb_seterr(err, "%s: %s", path, strerror(errno));
		return SB_ERR_IO;
	}
	if (fstat(fd, &sb) == -1) {
		sb_seterr(err, "%s: %s", path, strerror(errno));
		ret = SB_ERR_IO;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		sb_seterr(err, "%s: not a regular file", path);
		ret = SB_ERR_IO;
		goto out;
	}
	if (sb.st_size < (off_t)sizeof(h)) {
		sb_seterr(err, "%s: file is not a database (%lld bytes)",
		    path, (long long)sb.st_size);
		goto out;
	}
	do
		n = pread(fd, h, sizeof(h), 0);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		sb_seterr(err, "%s: %s", path, strerror(errno));
		ret = SB_ERR_IO;
		goto out;
	}
	if (n != (ssize_t)sizeof(h) ||
	    memcmp(h, "SQLite format 3", 16) != 0) {
		sb_seterr(err, "%s: file is not a database", path);
		goto out;
	}
	psize = (uint32_t)sb_header_page_size(h);
	if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0) {
		sb_seterr(err, "%s: file is not a database (page size %u)",
		    path, psize);
		goto out;
	}
	if (sb.st_size % psize != 0) {
		sb_seterr(err, "%s: truncated: %lld bytes is not a whole "
		    "number of %u-byte pages", path, (long long)sb.st_size,
		    psize);
		goto out;
	}
	npages = sb_header_pages(h);
	if (npages > 0 && (uint64_t)sb.st_size < (uint64_t)npages * psize) {
		sb_seterr(err, "%s: truncated: %lld bytes, the header "
		    "counts %u pages of %u bytes", path,
		    (long long)sb.st_size, npages, psize);
		goto out;
	}
	if (wal != NULL)
		*wal = h[18] == 2 && h[19] == 2;
	ret = SB_OK;
out:
	close(fd);
	return ret;
}

/*
 * PRAGMA integrity_check (https://sqlite.org/pragma.html#pragma_integrity_check)
 * on an open connection: SB_OK only if it returns the single row "ok".
 * Otherwise SB_ERR_CORRUPT with its first complaint in err.
 */
static enum sb_err
integrity(sqlite3 *db, const char *path, char *err)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*s;
	char			 first[256];
	int64_t			 rows = 0;
	int			 rc, ok = 0, ret;

	first[0] = '\0';
	rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = sb_snapshot_dberr(err, db, rc, "integrity_check on", path);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		if (rows++ == 0) {
			sb_strlcpy(first, s == NULL ? "" : (const char *)s,
			    sizeof(first));
			ok = s != NULL && strcmp((const char *)s, "ok") == 0;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = sb_snapshot_dberr(err, db, rc, "integrity_check on", path);
		goto out;
	}
	if (rows != 1 || !ok) {
		sb_seterr(err, "integrity_check on %s failed: %s%s", path,
		    rows == 0 ? "no result" : first,
		    rows > 1 ? " (and more)" : "");
		ret = SB_ERR_CORRUPT;
		goto out;
	}
	ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * sqlite3_backup_step(b, npages), retrying SQLITE_BUSY and SQLITE_LOCKED
 * (each after the busy handler gave up) until the monotonic clock passes
 * end_ms. Returns the last step's SQLite result code.
 */
int
sb_snapshot_step(sqlite3_backup *b, int npages, int64_t end_ms)
{
	int	rc;

	for (;;) {
		rc = sqlite3_backup_step(b, npages);
		if (((rc & 0xff) == SQLITE_BUSY ||
		    (rc & 0xff) == SQLITE_LOCKED) && sb_mono_ms() < end_ms) {
			sqlite3_sleep(RETRY_SLEEP_MS);
			continue;
		}
		return rc;
	}
}

/*
 * Run an initialised backup to the end with sqlite3_backup_step(b, -1)
 * (sb_snapshot_step) for up to deadline_ms; then sqlite3_backup_finish(),
 * which releases the locks and returns the backup's error if any
 * (https://sqlite.org/c3ref/backup_finish.html). Returns the SQLite
 * result code, SQLITE_OK when the whole database was copied.
 */
int
sb_snapshot_run_backup(sqlite3_backup *b, int64_t deadline_ms)
{
	int64_t	end = sb_mono_ms() + deadline_ms;
	int	rc, frc;

	while ((rc = sb_snapshot_step(b, -1, end)) == SQLITE_OK)
		;
	frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		return frc;
	/* finish repeats step's error; keep step's in case it does not. */
	return frc != SQLITE_OK ? frc : rc;
}

/* fsync a file, then the directory holding it, so a rename-free create
 * is durable: the data and the directory entry. */
enum sb_err
sb_snapshot_fsync_file(const char *path, char *err)
{
	char		 dir[PATH_MAX];
	const char	*slash;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
		sb_seterr(err, "fsync %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return SB_ERR_IO;
	}
	close(fd);
	if ((slash = strrchr(path, '/')) == NULL)
		sb_strlcpy(dir, ".", sizeof(dir));
	else if (slash == path)
		sb_strlcpy(dir, "/", sizeof(dir));
	else if ((size_t)(slash - path) >= sizeof(dir)) {
		sb_seterr(err, "%s: path too long", path);
		return SB_ERR_IO;
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (sb_fsync_dir(dir) != SB_OK) {
		sb_seterr(err, "fsync %s: %s", dir, strerror(errno));
		return SB_ERR_IO;
	}
	return SB_OK;
}

/* Remove a half-made copy and any side file SQLite may have made. */
void
sb_snapshot_remove_copy(const char *path)
{
	static const char *const sfx[] = { "-journal", "-wal", "-shm" };
	char	buf[PATH_MAX];

	(void)unlink(path);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (snprintf(buf, sizeof(buf), "%s%s", path, sfx[i]) <
		    (int)sizeof(buf))
			(void)unlink(buf);
}

/*
 * Hashing the copy while it is being made. SHA-256 takes the bytes in
 * order and page 1 is written last (at commit, and again when the
 * journal mode is switched), so the hash of pages 2..N can only be
 * computed early from a guess of the final page 1. The guess is the
 * page 1 the copy reads: the source is opened through srcvfs.c, which
 * remembers the last page 1 the connection read (from the database file,
 * or from the -wal file, where page 1 of a busy WAL database usually
 * is); a read transaction is begun and page 1 loaded in it, and the copy
 * runs inside that same transaction (sqlite3_backup_step() begins one
 * only if none is open), so it copies that very page. Without a captured
 * page (a transaction that could not be begun), the guess is page 1 as
 * read from the database file. Then the header fields
 * (https://sqlite.org/fileformat2.html#the_database_header) that
 * writing the copy changes are patched: the schema cookie (40-43)
 * becomes the empty destination's cookie plus one (sqlite3_backup_step()
 * sets it when it finishes); each commit sets the change counter (24-27)
 * to the file's previous one plus one, version-valid-for (92-95) to the
 * same and the SQLite version (96-99) to the library's; a copy of a WAL
 * database commits twice (the copy, then the switch of bytes 18-19, file
 * format versions, from 2 = WAL to 1).
 *
 * The VFS (snapvfs.c) reports how far pages 2..N have been written in
 * order; a thread reads them back from the page cache and hashes them
 * behind the copy, on another CPU, and starts their write-back to disk.
 * The guess is not trusted: at the end the hash is used only if the VFS
 * saw no write out of that order, the file is exactly as long as what was
 * hashed, and its page 1 equals the guess byte for byte. Otherwise the
 * file is hashed again from the start, as it would be without all this
 * (counted: sb_snapshot_rehashed()).
 */
struct hasher {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	pthread_t		 thr;
	int			 running;	/* thr was started */
	long long		 avail;		/* [0, avail) is in the file */
	long long		 hashed;	/* [0, hashed) went into ctx */
	int			 done;		/* no more writes */
	int			 broken;	/* the hash cannot be used */
	int			 fd;		/* the copy, read-only */
	EVP_MD_CTX		*ctx;
	unsigned char		*buf;		/* HASH_BUFSZ */
	size_t			 psz;		/* page size */
	unsigned char		 page1[65536];	/* the guess */
	struct sb_snapvfs_track	 track;
	sb_snapshot_sink	 sink;		/* also gets what is hashed */
	void			*sink_arg;
};

/* A big-endian 32-bit header field. */
static void
put4(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * VFS callback: [from, end) of the copy is in the file. The thread is
 * woken for a whole HASH_BUFSZ, not for every write: fewer wake-ups.
 */
static void
hasher_flushed(void *arg, long long end)
{
	struct hasher	*h = arg;

	pthread_mutex_lock(&h->mu);
	if (end > h->avail) {
		h->avail = end;
		if (h->avail - h->hashed >= HASH_BUFSZ)
			pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

/* VFS callback: the writes left the expected order. */
static void
hasher_broken(void *arg)
{
	struct hasher	*h = arg;

	pthread_mutex_lock(&h->mu);
	h->broken = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* The thread: hash what the copy has written, until done or broken. */
static void *
hasher_thread(void *arg)
{
	struct hasher	*h = arg;
	long long	 from, to;
	ssize_t		 n;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->broken && !h->done &&
		    h->avail - h->hashed < HASH_BUFSZ)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->broken || h->avail <= h->hashed)
			break;
		from = h->hashed;
		to = h->avail - from > HASH_BUFSZ ? from + HASH_BUFSZ :
		    h->avail;
		pthread_mutex_unlock(&h->mu);
		do
			n = pread(h->fd, h->buf, (size_t)(to - from), from);
		while (n == -1 && errno == EINTR);
		if (n > 0 && EVP_DigestUpdate(h->ctx, h->buf, (size_t)n) != 1)
			n = -1;
		if (n > 0 && h->sink != NULL &&
		    h->sink(h->sink_arg, h->buf, (size_t)n) != 0)
			n = -1;
#ifdef SYNC_FILE_RANGE_WRITE
		/*
		 * Start writing these bytes to disk now (Linux
		 * sync_file_range(2), asynchronous), so the fsync at the
		 * end has little left to do. Only a head start: errors are
		 * the fsync's to report.
		 */
		if (n > 0 && h->sink == NULL)
			(void)sync_file_range(h->fd, from, n,
			    SYNC_FILE_RANGE_WRITE);
#endif
		pthread_mutex_lock(&h->mu);
		if (n <= 0)
			h->broken = 1;
		else
			h->hashed = from + n;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Stop the thread (if any) and free everything; *hp is NULL after. */
static void
hasher_free(struct hasher **hp)
{
	struct hasher	*h = *hp;

	if (h == NULL)
		return;
	if (h->running) {
		hasher_broken(h);
		pthread_join(h->thr, NULL);
	}
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	if (h->fd != -1)
		close(h->fd);
	EVP_MD_CTX_free(h->ctx);
	free(h->buf);
	free(h);
	*hp = NULL;
}

/*
 * The source's page 1 as its database file holds it, into h->page1: the
 * guess when srcvfs.c captured none. Read through the connection's own
 * file object (SQLITE_FCNTL_FILE_POINTER), not a descriptor of ours:
 * closing any descriptor of the live file would drop the POSIX locks
 * every other connection of this process holds on it
 * (https://sqlite.org/howtocorrupt.html, section 2.2). Returns the page
 * size, 0 on failure.
 */
static size_t
page1_from_file(sqlite3 *sdb, struct hasher *h)
{
	sqlite3_file	*sf = NULL;
	size_t		 psz;

	if (sqlite3_file_control(sdb, "main", SQLITE_FCNTL_FILE_POINTER,
	    &sf) != SQLITE_OK || sf == NULL || sf->pMethods == NULL ||
	    sf->pMethods->xRead(sf, h->page1, 100, 0) != SQLITE_OK)
		return 0;
	psz = sb_header_page_size(h->page1);
	if (psz < 512 || psz > sizeof(h->page1) ||
	    sf->pMethods->xRead(sf, h->page1, (int)psz, 0) != SQLITE_OK)
		return 0;
	return psz;
}

/* Guesses still to spoil (sb_snapshot_spoil_guesses); __atomic only. */
static unsigned long	spoilt;

void
sb_snapshot_spoil_guesses(unsigned long n)
{
	__atomic_store_n(&spoilt, n, __ATOMIC_RELAXED);
}

/* Whether to spoil this guess: one of those asked for is taken. */
static int
spoil_guess(void)
{
	unsigned long	n = __atomic_load_n(&spoilt, __ATOMIC_RELAXED);

	while (n > 0)
		if (__atomic_compare_exchange_n(&spoilt, &n, n - 1, 0,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

/*
 * Guess the copy's page 1 from the source database (see above), open the
 * copy dst, hash the guess and start the thread. NULL if any of it cannot
 * be done: the copy is then hashed afterwards, so nothing here is an
 * error. The caller frees with hasher_free().
 */
static struct hasher *
hasher_new(sqlite3 *sdb, const char *dst, sb_snapshot_sink sink, void *arg)
{
	struct hasher	*h = NULL;
	int		 wal;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->fd = -1;
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		return NULL;
	}
	if (pthread_cond_init(&h->cv, NULL) != 0) {
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	if ((h->psz = sb_srcvfs_page1(sdb, h->page1, sizeof(h->page1))) == 0)
		h->psz = page1_from_file(sdb, h);
	if (h->psz < 512 || (h->psz & (h->psz - 1)) != 0 ||
	    memcmp(h->page1, "SQLite format 3", 16) != 0)
		goto fail;
	wal = h->page1[18] == 2 && h->page1[19] == 2;
	if (wal)
		h->page1[18] = h->page1[19] = 1;
	put4(h->page1 + 24, wal ? 2 : 1);
	put4(h->page1 + 40, 1);
	put4(h->page1 + 92, wal ? 2 : 1);
	put4(h->page1 + 96, (uint32_t)sqlite3_libversion_number());
	if (spoil_guess())
		h->page1[h->psz - 1] ^= 0xff;

	if ((h->fd = open(dst, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (h->buf = malloc(HASH_BUFSZ)) == NULL ||
	    (h->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, h->page1, h->psz) != 1)
		goto fail;
	h->sink = sink;
	h->sink_arg = arg;
	if (sink != NULL && sink(arg, h->page1, h->psz) != 0)
		goto fail;
	h->avail = h->hashed = (long long)h->psz;
	h->track.from = (long long)h->psz;
	h->track.flushed = hasher_flushed;
	h->track.broken = hasher_broken;
	h->track.arg = h;
	if (pthread_create(&h->thr, NULL, hasher_thread, h) != 0)
		goto fail;
	h->running = 1;
	return h;
fail:
	hasher_free(&h);
	return NULL;
}

/*
 * The copy is closed: let the thread hash the rest, then check the guess
 * (see above). Returns 1 with sha and size set if the hash is the file's,
 * 0 if the file must be hashed again.
 */
static int
hasher_finish(struct hasher *h, char sha[SB_SHA256_HEX + 1], int64_t *size)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	struct stat	 st;
	ssize_t		 n;
	int		 ok;

	pthread_mutex_lock(&h->mu);
	h->done = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thr, NULL);
	h->running = 0;

	ok = !h->broken && fstat(h->fd, &st) == 0 &&
	    (long long)st.st_size == h->hashed;
	if (ok) {
		/* The thread is gone: its buffer (>= 64 KiB) is free. */
		do
			n = pread(h->fd, h->buf, h->psz, 0);
		while (n == -1 && errno == EINTR);
		ok = n == (ssize_t)h->psz &&
		    memcmp(h->buf, h->page1, h->psz) == 0;
	}
	if (!ok || EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1 || mdlen != 32)
		return 0;
	sb_hex(md, 32, sha);
	if (size != NULL)
		*size = (int64_t)st.st_size;
	return 1;
}

/* An fsync in a thread, to overlap it with hashing. */
struct fsync_job {
	const char	*path;
	int		 ret;
	char		 err[SB_ERRMSG_MAX];
};

static void *
fsync_thread(void *arg)
{
	struct fsync_job	*j = arg;

	j->ret = sb_snapshot_fsync_file(j->path, j->err);
	return NULL;
}

/* How many copies were hashed by reading them again; __atomic only. */
static unsigned long	rehashed;

unsigned long
sb_snapshot_rehashed(void)
{
	return __atomic_load_n(&rehashed, __ATOMIC_RELAXED);
}

/* Hash dst by reading it: the hasher could not give the hash. */
static enum sb_err
rehash(const char *dst, char sha[SB_SHA256_HEX + 1], int64_t *size,
    char *err)
{
	__atomic_add_fetch(&rehashed, 1, __ATOMIC_RELAXED);
	return sb_sha256_file(dst, sha, size, err);
}

/*
 * fsync dst and, when sha is not NULL, get its hash at the same time:
 * from the hasher h if it has one we can trust (see above), otherwise by
 * reading the file, while the flush to disk goes on.
 */
static enum sb_err
seal(const char *dst, struct hasher *h, char sha[SB_SHA256_HEX + 1],
    int64_t *size, int *streamed, char *err)
{
	struct fsync_job	j;
	pthread_t		t;
	int			ret;

	*streamed = 0;
	if (sha == NULL)
		return sb_snapshot_fsync_file(dst, err);
	/* A streamed copy is only the source of what the sink makes. */
	if (h != NULL && h->sink != NULL) {
		if ((*streamed = hasher_finish(h, sha, size)))
			return SB_OK;
		return rehash(dst, sha, size, err);
	}
	memset(&j, 0, sizeof(j));
	j.path = dst;
	if (pthread_create(&t, NULL, fsync_thread, &j) != 0) {
		if ((ret = sb_snapshot_fsync_file(dst, err)) != SB_OK)
			return ret;
		if (h != NULL && (*streamed = hasher_finish(h, sha, size)))
			return SB_OK;
		return rehash(dst, sha, size, err);
	}
	if (h != NULL && (*streamed = hasher_finish(h, sha, size)))
		ret = SB_OK;
	else
		ret = rehash(dst, sha, size, err);
	pthread_join(t, NULL);
	if (ret == SB_OK && j.ret != SB_OK) {
		sb_strlcpy(err, j.err, SB_ERRMSG_MAX);
		ret = j.ret;
	}
	return ret;
}

/*
 * Before a snapshot: a source that is not there is said so clearly (a
 * READONLY open would open a missing file lazily), and dst is created,
 * mode 0600 (it holds the service's data), with O_EXCL: an existing file
 * is never overwritten.
 */
static enum sb_err
take_start(const char *src, const char *dst, char *err)
{
	struct stat	sb;
	int		fd;

	if (src == NULL || dst == NULL || src[0] == '\0' || dst[0] == '\0') {
		sb_seterr(err, "snapshot: no source or destination");
		return SB_ERR_INVAL;
	}
	if (stat(src, &sb) == -1) {
		sb_seterr(err, "source database %s: %s", src, strerror(errno));
		return SB_ERR_IO;
	}
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		sb_seterr(err, "snapshot %s: %s", dst, strerror(errno));
		return SB_ERR_IO;
	}
	close(fd);
	return SB_OK;
}

/*
 * After the copy into *ddb: its header says WAL if the source was, so
 * that is undone; the VFS's buffer is written out while its errors can
 * be seen; the copy is closed (*ddb NULL from then on).
 */
static enum sb_err
take_close(sqlite3 **ddb, const char *dst, char *err)
{
	char	mode[16];
	int	rc, ret;

	if ((ret = sb_snapshot_pragma(*ddb, "PRAGMA journal_mode = DELETE",
	    mode, sizeof(mode), err, dst)) != SB_OK)
		return ret;
	if ((rc = sqlite3_file_control(*ddb, "main", SB_SNAPVFS_FCNTL_SEAL,
	    NULL)) != SQLITE_OK) {
		sb_seterr(err, "writing %s: %s", dst, sqlite3_errstr(rc));
		return sb_snapshot_map_rc(rc);
	}
	rc = sqlite3_close(*ddb);
	*ddb = NULL;
	if (rc != SQLITE_OK) {
		sb_seterr(err, "closing %s: %s", dst, sqlite3_errstr(rc));
		return sb_snapshot_map_rc(rc);
	}
	return SB_OK;
}

enum sb_err
sb_snapshot_take(const char *src, const char *dst, char *err)
{
	return sb_snapshot_take_hashed(src, dst, NULL, NULL, err);
}

enum sb_err
sb_snapshot_take_hashed(const char *src, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err)
{
	return sb_snapshot_take_watched(src, dst, sha, size, NULL, err);
}

/* VFS callback: the copy is written up to end (progress only). */
static void
watch_wrote(void *arg, long long end)
{
	sb_progress_set(arg, (int64_t)end);
}

/*
 * Report the copy's writes to p: its total from the source (page count
 * times page size, read in the copy's transaction if it is open, else in
 * one of its own: the copy's may see a few pages more or fewer), then
 * each write (snapvfs's watch). Best effort: a failure here only leaves
 * the progress unknown.
 */
static void
watch_start(sqlite3 *sdb, sqlite3 *ddb, struct sb_progress *p,
    struct sb_snapvfs_watch *w)
{
	char	pc[32], ps[32];
	int64_t	npages, psz;

	if (p == NULL)
		return;
	if (sb_sql_text(sdb, "PRAGMA page_count", pc, sizeof(pc)) ==
	    SQLITE_OK && sb_sql_text(sdb, "PRAGMA page_size", ps,
	    sizeof(ps)) == SQLITE_OK &&
	    sb_parse_i64(pc, 0, INT64_MAX / 65536, &npages) == SB_OK &&
	    sb_parse_i64(ps, 512, 65536, &psz) == SB_OK)
		sb_progress_total(p, npages * psz);
	w->wrote = watch_wrote;
	w->arg = p;
	(void)sqlite3_file_control(ddb, "main", SB_SNAPVFS_FCNTL_WATCH, w);
}

/*
 * Copy the live database src into the new file dst (see snapshot.h).
 * dst is created with O_EXCL (mode 0600: it holds the service's data), so
 * an existing file is never overwritten. On dst, journal_mode=OFF and
 * synchronous=OFF: the file is private until we return, and we fsync it
 * once at the end instead. The copy of a WAL database carries the WAL
 * mark in its header; it is switched back to a rollback journal so the
 * file stands alone (opening it read-only later needs no -wal/-shm).
 * When sha is wanted, the copy is hashed as it is written (struct
 * hasher). On failure dst is removed. err (SB_ERRMSG_MAX, may be NULL)
 * says why.
 */
enum sb_err
sb_snapshot_take_watched(const char *src, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, struct sb_progress *p,
    char *err)
{
	int	streamed;

	return sb_snapshot_take_streamed(src, dst, sha, size, p, NULL, NULL,
	    &streamed, err);
}

/*
 * Before a hashed copy: begin a read transaction on the source and load
 * page 1 in it (a scan of sqlite_master, whose root is page 1), so that
 * srcvfs.c holds the page 1 the copy reads in that same transaction;
 * then the hasher (best effort: without it the copy is hashed
 * afterwards). *txn says whether the transaction is open; the caller
 * ends it after the copy. One that cannot be begun (a rollback-journal
 * database locked past the busy timeout) is given up: the copy then
 * begins its own, retrying, as it would without a hasher.
 */
static struct hasher *
hash_start(sqlite3 *sdb, sqlite3 *ddb, const char *src, const char *dst,
    sb_snapshot_sink sink, void *arg, int *txn)
{
	struct hasher	*h;

	*txn = sb_snapshot_exec1(sdb, "BEGIN", NULL, src) == SB_OK;
	if (*txn && sb_snapshot_exec1(sdb, "SELECT count(*) FROM "
	    "sqlite_master", NULL, src) != SB_OK) {
		(void)sb_snapshot_exec1(sdb, "ROLLBACK", NULL, src);
		*txn = 0;
	}
	if ((h = hasher_new(sdb, dst, sink, arg)) != NULL &&
	    sqlite3_file_control(ddb, "main", SB_SNAPVFS_FCNTL_TRACK,
	    &h->track) != SQLITE_OK)
		hasher_free(&h);
	return h;
}

/*
 * sb_snapshot_take_watched, with the bytes the hasher reads handed to sink
 * too (see snapshot.h): *streamed says whether sink got exactly the final
 * file.
 */
enum sb_err
sb_snapshot_take_streamed(const char *src, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, struct sb_progress *p,
    sb_snapshot_sink sink, void *arg, int *streamed, char *err)
{
	sqlite3			*sdb = NULL, *ddb = NULL;
	sqlite3_backup		*b = NULL;
	struct hasher		*h = NULL;
	struct sb_snapvfs_watch	 w;
	char		 mode[16];
	int		 rc, ret = SB_ERR_DB, created = 0, txn = 0;

	*streamed = 0;
	if ((ret = take_start(src, dst, err)) != SB_OK)
		return ret;
	created = 1;

	/* The source is read through srcvfs.c, the copy written through
	 * snapvfs.c (large writes). */
	if ((rc = sb_srcvfs_register()) != SQLITE_OK ||
	    (rc = sb_snapvfs_register()) != SQLITE_OK) {
		sb_seterr(err, "snapshot %s: cannot register the SQLite VFS: "
		    "%s", dst, sqlite3_errstr(rc));
		ret = sb_snapshot_map_rc(rc);
		goto out;
	}
	if ((ret = sb_snapshot_open_db(src, SQLITE_OPEN_READONLY,
	    SB_SRCVFS_NAME, &sdb, err, "opening source database")) != SB_OK)
		goto out;
	if ((ret = sb_snapshot_open_db(dst, SQLITE_OPEN_READWRITE, SB_SNAPVFS_NAME, &ddb,
	    err, "opening snapshot")) != SB_OK)
		goto out;
	if (sha != NULL)
		h = hash_start(sdb, ddb, src, dst, sink, arg, &txn);
	watch_start(sdb, ddb, p, &w);
	if ((ret = sb_snapshot_pragma(ddb, "PRAGMA journal_mode = OFF", mode,
	    sizeof(mode), err, dst)) != SB_OK ||
	    (ret = sb_snapshot_exec1(ddb, "PRAGMA synchronous = OFF", err, dst)) != SB_OK)
		goto out;

	if ((b = sqlite3_backup_init(ddb, "main", sdb, "main")) == NULL) {
		ret = sb_snapshot_dberr(err, ddb, sqlite3_errcode(ddb),
		    "starting the copy into", dst);
		goto out;
	}
	rc = sb_snapshot_run_backup(b, TAKE_DEADLINE_MS);
	b = NULL;
	if (txn)	/* a read transaction: nothing to fail */
		(void)sb_snapshot_exec1(sdb, "COMMIT", NULL, src);
	if (rc != SQLITE_OK) {
		sb_seterr(err, "copying %s into %s: %s", src, dst,
		    sqlite3_errmsg(ddb));
		/* A damaged live database is a database error, not a
		 * corrupt backup. */
		if ((ret = sb_snapshot_map_rc(rc)) == SB_ERR_CORRUPT)
			ret = SB_ERR_DB;
		if (ret == SB_ERR_BUSY)
			sb_seterr(err, "copying %s: the database stayed "
			    "locked for %d s", src, TAKE_DEADLINE_MS / 1000);
		goto out;
	}
	if ((ret = take_close(&ddb, dst, err)) != SB_OK ||
	    (ret = seal(dst, h, sha, size, streamed, err)) != SB_OK)
		goto out;
	ret = SB_OK;
out:
	sqlite3_close(ddb);
	sqlite3_close(sdb);
	hasher_free(&h);
	if (ret != SB_OK)
		*streamed = 0;
	if (ret != SB_OK && created)
		sb_snapshot_remove_copy(dst);
	return ret;
}

/*
 * Integrity of the database file at path (see snapshot.h): its header
 * first (not a database, truncated: SB_ERR_CORRUPT), then
 * PRAGMA integrity_check on a read-only connection, which must answer the
 * single row "ok". SB_ERR_IO if the file cannot be read at all. The
 * connection reads ahead (readvfs.c) when that VFS could be registered.
 */
enum sb_err
sb_snapshot_check(const char *path, char *err)
{
	sqlite3	*db = NULL;
	int	 ret;

	if (path == NULL || path[0] == '\0') {
		sb_seterr(err, "check: no path");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_snapshot_header(path, NULL, err)) != SB_OK)
		return ret;
	if ((ret = sb_snapshot_open_db(path, SQLITE_OPEN_READONLY,
	    sb_readvfs_register() == SQLITE_OK ? SB_READVFS_NAME : NULL, &db,
	    err, "opening")) != SB_OK)
		goto out;
	ret = integrity(db, path, err);
out:
	sqlite3_close(db);
	return ret;
}

