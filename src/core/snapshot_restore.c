/*
 * snapshot_restore.c - copies of a backup INTO the live database, in
 * place, with SQLite's online backup API (https://sqlite.org/backup.html),
 * in two halves around the restore's safety snapshot: the live database's
 * write lock first (begin), then the copy (finish) or nothing (abort).
 * The copy out of a database (backups) is in snapshot.c; what the two
 * share is in snapshot_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "progress.h"
#include "snapshot_int.h"
#include "srcvfs.h"

/*
 * Pages a step of the copy takes (finish): the destination's write
 * transaction stays open across steps, so the copy is still one
 * transaction; between steps the progress is told how far it got.
 * 16 MiB of 4 KiB pages: a few dozen steps for a gigabyte.
 */
#define COPY_STEP_BYTES		(16 * 1024 * 1024)

/*
 * A restore in two halves (see snapshot.h): the live database's write
 * lock is taken first (begin), the caller makes its safety snapshot while
 * it is held (sb_snapshot_take_locked), then the copy commits (finish) or
 * is given up (abort).
 */
struct sb_restore_txn {
	sqlite3		*ldb;		/* live, read-write: the destination */
	sqlite3		*fdb;		/* the backup, read-only: the source */
	sqlite3_backup	*b;
	char		 lmode[16];	/* live's journal mode */
	int		 fwal;		/* the backup's header says WAL */
	int64_t		 psz;		/* the backup's page size */
	int64_t		 bytes;		/* its pages x psz */
	int		 committed;	/* the copy committed */
	int		 copying;	/* a page may have been written */
	int		 stop;		/* pages: give up (atomic) */
	int		 walfd;		/* pages: live's -wal, or -1 */
	int64_t		 unlocked_ms;	/* sb_mono_ms() at the commit */
	enum sb_err	 failed;	/* pages gave the copy up: why, */
	char		 why[SB_ERRMSG_MAX]; /* for finish to say */
	struct sb_progress *progress;	/* or NULL */
	char		 from[PATH_MAX];
	char		 live[PATH_MAX];
};

void
sb_snapshot_restore_abort(struct sb_restore_txn **tp)
{
	struct sb_restore_txn	*t;

	if (tp == NULL || (t = *tp) == NULL)
		return;
	/* Finishing an unfinished backup rolls back its write transaction
	 * on live and releases the lock: live is as it was. */
	if (t->b != NULL)
		(void)sqlite3_backup_finish(t->b);
	/*
	 * Rollback-journal mode, a copy that failed part way (a full disk):
	 * the pages it wrote are in live's file, the originals in its
	 * journal. SQLite does not play the journal back when the write that
	 * failed left the pager in its error state: it leaves a hot journal
	 * for the next connection to roll back
	 * (https://sqlite.org/lockingv3.html#hot_journals, and
	 * https://sqlite.org/atomiccommit.html#section_4_2). Until then the
	 * file itself is torn, and a copy of it made without its journal is
	 * damaged. A read transaction on this connection rolls it back now
	 * (the rollback writes only pages the file already has, then
	 * truncates it, so it needs no free space).
	 */
	if (!t->committed && t->copying && !sb_is_restore_wal(t) &&
	    t->ldb != NULL)
		(void)sqlite3_exec(t->ldb, "SELECT count(*) FROM sqlite_schema",
		    NULL, NULL, NULL);
	/*
	 * Given up: leave live's file byte for byte as it was. Closing the
	 * last connection of a WAL database checkpoints it into the file
	 * (https://sqlite.org/wal.html#automatic_checkpoint); not this one.
	 */
	if (!t->committed && t->ldb != NULL)
		(void)sqlite3_db_config(t->ldb,
		    SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_close(t->fdb);
	sqlite3_close(t->ldb);
	free(t);
	*tp = NULL;
}

/* The error of a copy step that failed with rc, into err. */
static enum sb_err
copy_failed(struct sb_restore_txn *t, int rc, char *err)
{
	enum sb_err	ret = sb_snapshot_map_rc(rc);

	if (ret == SB_ERR_BUSY)
		sb_seterr(err, "restoring into %s: could not get the write "
		    "lock within %d s", t->live, RESTORE_DEADLINE_MS / 1000);
	else if ((rc & 0xff) == SQLITE_READONLY)
		sb_seterr(err, "restoring into %s: %s (page size of a WAL "
		    "database cannot change)", t->live,
		    sqlite3_errmsg(t->ldb));
	else
		sb_seterr(err, "restoring %s into %s: %s", t->from, t->live,
		    sqlite3_errmsg(t->ldb));
	return ret;
}

/*
 * Check, open and lock (see snapshot.h). Before live is touched: from's
 * header must be sound (SB_ERR_CORRUPT), live must open read-write, and if
 * live is in WAL mode the page sizes must match (SQLite cannot change the
 * page size of a WAL database: the backup would fail with SQLITE_READONLY).
 *
 * The lock: sqlite3_backup_step() opens the destination's write
 * transaction on its first call, before copying any page
 * (sqlite3BtreeBeginTrans(pDest, 2) in SQLite's backup.c), and keeps it
 * until sqlite3_backup_finish() (https://sqlite.org/c3ref/backup_finish.html:
 * "the destination ... locked ... for the duration of the backup"). A step
 * of zero pages therefore takes the lock and copies nothing. Its level
 * (sqlite3PagerBegin with exFlag set): in WAL mode the WAL write lock,
 * readers go on (https://sqlite.org/wal.html#concurrency); in
 * rollback-journal mode an EXCLUSIVE lock at once
 * (https://sqlite.org/lockingv3.html), so readers wait too. Busy is
 * retried for about a minute (SB_ERR_BUSY after that).
 */
enum sb_err
sb_snapshot_restore_begin(const char *from, const char *live,
    struct sb_restore_txn **out, char *err)
{
	struct sb_restore_txn	*t = NULL;
	char			 lps[16], fps[16];
	int			 rc, ret;

	*out = NULL;
	if (from == NULL || live == NULL || from[0] == '\0' ||
	    live[0] == '\0') {
		sb_seterr(err, "restore: no source or live database");
		return SB_ERR_INVAL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	t->walfd = -1;
	if (sb_strlcpy(t->from, from, sizeof(t->from)) >= sizeof(t->from) ||
	    sb_strlcpy(t->live, live, sizeof(t->live)) >= sizeof(t->live)) {
		sb_seterr(err, "restore: path too long");
		ret = SB_ERR_INVAL;
		goto out;
	}
	if ((ret = sb_snapshot_header(from, &t->fwal, err)) != SB_OK)
		goto out;
	if ((ret = sb_snapshot_open_db(live, SQLITE_OPEN_READWRITE, NULL, &t->ldb, err,
	    "opening live database")) != SB_OK)
		goto out;
	if ((ret = sb_snapshot_open_db(from, SQLITE_OPEN_READONLY, NULL, &t->fdb, err,
	    "opening backup")) != SB_OK)
		goto out;
	/* Reading journal_mode reads live's header: a non-database fails. */
	if ((ret = sb_snapshot_pragma(t->ldb, "PRAGMA journal_mode", t->lmode,
	    sizeof(t->lmode), err, live)) != SB_OK ||
	    (ret = sb_snapshot_pragma(t->ldb, "PRAGMA page_size", lps, sizeof(lps),
	    err, live)) != SB_OK)
		goto out;
	if ((ret = sb_snapshot_pragma(t->fdb, "PRAGMA page_size", fps, sizeof(fps),
	    err, from)) != SB_OK) {
		if (ret == SB_ERR_DB)
			ret = SB_ERR_CORRUPT;
		goto out;
	}
	if (sb_parse_i64(fps, 512, 65536, &t->psz) != SB_OK)
		t->psz = 4096;
	if (strcmp(t->lmode, "wal") == 0 && strcmp(lps, fps) != 0) {
		sb_seterr(err, "cannot restore %s into %s: the backup's page "
		    "size is %s bytes, the live database's %s, and a WAL-mode "
		    "database cannot change its page size", from, live, fps,
		    lps);
		ret = SB_ERR_DB;
		goto out;
	}
	if ((t->b = sqlite3_backup_init(t->ldb, "main", t->fdb, "main")) ==
	    NULL) {
		ret = sb_snapshot_dberr(err, t->ldb, sqlite3_errcode(t->ldb),
		    "starting the restore into", live);
		goto out;
	}
	rc = sb_snapshot_step(t->b, 0, sb_mono_ms() + RESTORE_DEADLINE_MS);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		ret = copy_failed(t, rc, err);
		goto out;
	}
	/* The zero-page step counted the pages. */
	t->bytes = (int64_t)sqlite3_backup_pagecount(t->b) * t->psz;
	*out = t;
	t = NULL;
	ret = SB_OK;
out:
	sb_snapshot_restore_abort(&t);
	return ret;
}

int
sb_is_restore_wal(const struct sb_restore_txn *t)
{
	return strcmp(t->lmode, "wal") == 0;
}

void
sb_snapshot_restore_watch(struct sb_restore_txn *t, struct sb_progress *p)
{
	t->progress = p;
}

/* One byte copy of live's database file (copy_locked_file). */
struct fcopy {
	sqlite3_file	*sf;		/* live's file, a connection's own */
	sqlite3_int64	 fsz;		/* its size */
	int		 unwal;		/* header bytes 18-19 set to 1 */
	int		 fd;		/* the copy, dst */
	const char	*dst;
	unsigned char	*buf;		/* HASH_BUFSZ */
	EVP_MD_CTX	*ctx;
	sb_snapshot_sink sink;		/* or NULL */
	void		*arg;
	int		 sunk;		/* sink took every byte so far */
};

/*
 * The fsz bytes of the live database, read through its own file object
 * sf, into ctx, sink (while it takes them) and the file descriptor fd of
 * dst, HASH_BUFSZ at a time through buf, their write-back started as they
 * go. unwal: the header's file format versions (bytes 18-19) are set to
 * 1, rollback journal: the copy of a WAL database's file is a database of
 * its own, which no -wal file completes.
 */
static enum sb_err
copy_hashed(struct sb_restore_txn *t, struct fcopy *c, char *err)
{
	sqlite3_int64	off;
	int		rc;

	for (off = 0; off < c->fsz; ) {
		size_t	 n = c->fsz - off > HASH_BUFSZ ? HASH_BUFSZ :
		    (size_t)(c->fsz - off);
		size_t	 done = 0;

		if ((rc = c->sf->pMethods->xRead(c->sf, c->buf, (int)n,
		    off)) != SQLITE_OK) {
			sb_seterr(err, "reading %s: %s", t->live,
			    sqlite3_errstr(rc));
			return sb_snapshot_map_rc(rc);
		}
		if (off == 0 && c->unwal && n >= 20)
			c->buf[18] = c->buf[19] = 1;
		if (EVP_DigestUpdate(c->ctx, c->buf, n) != 1) {
			sb_seterr(err, "sha256 failed");
			return SB_ERR_NOMEM;
		}
		if (c->sunk && c->sink(c->arg, c->buf, n) != 0)
			c->sunk = 0;	/* the caller reads the file */
		while (done < n) {
			ssize_t w = write(c->fd, c->buf + done, n - done);

			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0) {
				sb_seterr(err, "writing %s: %s", c->dst,
				    w == 0 ? "short write" : strerror(errno));
				return SB_ERR_IO;
			}
			done += (size_t)w;
		}
#ifdef SYNC_FILE_RANGE_WRITE
		/* A head start for the fsync at the end (as the hasher's). */
		if (c->sink == NULL)
			(void)sync_file_range(c->fd, off, (off_t)n,
			    SYNC_FILE_RANGE_WRITE);
#endif
		off += (sqlite3_int64)n;
		sb_progress_set(t->progress, (int64_t)off);
	}
	return SB_OK;
}

/*
 * A byte copy of live's database file, read through the file object of
 * db, a connection to live: a consistent snapshot when the file alone is
 * the last committed state and cannot change while it is read
 * (https://sqlite.org/backup.html, "copying the file while holding a
 * lock"). Rollback-journal mode: t->ldb holds the EXCLUSIVE lock and has
 * written nothing (a hot journal was rolled back when the lock was first
 * taken). WAL mode: see wal_file_whole. Read through a connection's own
 * file object (SQLITE_FCNTL_FILE_POINTER): another connection would wait
 * for the lock we hold, and closing a descriptor of our own on the live
 * file would drop the POSIX locks this process holds on it
 * (https://sqlite.org/howtocorrupt.html, section 2.2). The copy is hashed
 * as it is written, then fsynced with its directory.
 */
static enum sb_err
copy_locked_file(struct sb_restore_txn *t, sqlite3 *db, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, sb_snapshot_sink sink,
    void *arg, int *streamed, char *err)
{
	struct fcopy	 c;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 rc, ret = SB_ERR_IO;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.dst = dst;
	c.unwal = sb_is_restore_wal(t);
	c.sink = sink;
	c.arg = arg;
	c.sunk = sink != NULL;
	*streamed = 0;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER,
	    &c.sf) != SQLITE_OK || c.sf == NULL || c.sf->pMethods == NULL) {
		sb_seterr(err, "snapshot of %s: no file handle", t->live);
		return SB_ERR_DB;
	}
	if ((rc = c.sf->pMethods->xFileSize(c.sf, &c.fsz)) != SQLITE_OK) {
		sb_seterr(err, "snapshot of %s: %s", t->live,
		    sqlite3_errstr(rc));
		return sb_snapshot_map_rc(rc);
	}
	if ((c.fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		sb_seterr(err, "snapshot %s: %s", dst, strerror(errno));
		return SB_ERR_IO;
	}
	if ((c.buf = malloc(HASH_BUFSZ)) == NULL ||
	    (c.ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c.ctx, EVP_sha256(), NULL) != 1) {
		sb_seterr(err, "out of memory");
		ret = SB_ERR_NOMEM;
		goto out;
	}
	sb_progress_total(t->progress, (int64_t)c.fsz);
	if ((ret = copy_hashed(t, &c, err)) != SB_OK)
		goto out;
	ret = SB_ERR_IO;
	if (close(c.fd) == -1) {
		c.fd = -1;
		sb_seterr(err, "writing %s: %s", dst, strerror(errno));
		goto out;
	}
	c.fd = -1;
	/* Streamed, the copy is only what the sink made its object from. */
	if (!c.sunk && (ret = sb_snapshot_fsync_file(dst, err)) != SB_OK)
		goto out;
	if (EVP_DigestFinal_ex(c.ctx, md, &mdlen) != 1 || mdlen != 32) {
		sb_seterr(err, "sha256 failed");
		ret = SB_ERR_NOMEM;
		goto out;
	}
	if (sha != NULL)
		sb_hex(md, 32, sha);
	if (size != NULL)
		*size = (int64_t)c.fsz;
	*streamed = c.sunk;
	ret = SB_OK;
out:
	if (c.fd != -1)
		close(c.fd);
	free(c.buf);
	EVP_MD_CTX_free(c.ctx);
	if (ret != SB_OK)
		sb_snapshot_remove_copy(dst);
	return ret;
}

/* How many WAL-mode safety snapshots were byte copies (tests). */
static unsigned long	file_copies;

unsigned long
sb_snapshot_locked_file_copies(void)
{
	return __atomic_load_n(&file_copies, __ATOMIC_RELAXED);
}

/*
 * WAL mode, begin's WAL write lock held: can live's database file alone
 * be copied as the snapshot? Every committed frame of the WAL is first
 * copied into the file by a PASSIVE checkpoint through *cdb, a connection
 * of its own (t->ldb has a transaction open, and a connection with one
 * cannot checkpoint; PASSIVE waits for no one). If the checkpoint copied
 * them all (a reader of an older snapshot can hold some back), the file is
 * the last committed state, and it cannot change while it is read: no
 * writer can commit (we hold the write lock), so no checkpoint has
 * anything more to copy into it, and the copy's own pages go into the WAL
 * (sb_snapshot_restore_pages), never into the file. The header must also
 * agree with the file: its page count valid (change counter = version-
 * valid-for) and the file exactly that many pages. Then 1, *cdb open for
 * copy_locked_file; else 0 and the caller takes the snapshot through
 * SQLite (*cdb closed). A byte copy writes each page once, in big writes,
 * and hashes it as it goes: far less work than the backup API's copy.
 */
static int
wal_file_whole(struct sb_restore_txn *t, sqlite3 **cdb)
{
	sqlite3_file	*sf = NULL;
	sqlite3_int64	 fsz = 0;
	unsigned char	 h[100];
	char		 mode[16];
	int		 nlog = -1, nckpt = -1;

	if (sb_snapshot_open_db(t->live, SQLITE_OPEN_READWRITE, NULL, cdb,
	    NULL, "checkpointing") != SB_OK)
		return 0;
	/* Closing it must leave the WAL as it is (sb_snapshot_restore_abort). */
	(void)sqlite3_db_config(*cdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
	    NULL);
	/* A new connection is in WAL mode once it has read the header. */
	if (sb_snapshot_pragma(*cdb, "PRAGMA journal_mode", mode,
	    sizeof(mode), NULL, t->live) != SB_OK || strcmp(mode, "wal") != 0 ||
	    sqlite3_wal_checkpoint_v2(*cdb, "main", SQLITE_CHECKPOINT_PASSIVE,
	    &nlog, &nckpt) != SQLITE_OK || nlog < 0 || nckpt != nlog ||
	    sqlite3_file_control(*cdb, "main", SQLITE_FCNTL_FILE_POINTER,
	    &sf) != SQLITE_OK || sf == NULL || sf->pMethods == NULL ||
	    sf->pMethods->xFileSize(sf, &fsz) != SQLITE_OK ||
	    sf->pMethods->xRead(sf, h, sizeof(h), 0) != SQLITE_OK ||
	    (sqlite3_int64)sb_header_pages(h) *
	    (sqlite3_int64)sb_header_page_size(h) != fsz || fsz == 0) {
		sqlite3_close(*cdb);
		*cdb = NULL;
		return 0;
	}
	return 1;
}

/*
 * The safety snapshot of live while begin's lock is held (see
 * snapshot.h), its bytes also to sink when there is one. Rollback-journal
 * mode: the EXCLUSIVE lock keeps every other connection out, so the file
 * is copied through the lock holder (copy_locked_file). WAL mode: readers
 * are not blocked by the WAL write lock; the database file, once the WAL
 * is checkpointed into it, is copied the same way (wal_file_whole); if it
 * could not be, the ordinary snapshot reads live through a connection of
 * its own and sees the last committed state, which no writer can change
 * now.
 */
static enum sb_err
take_locked(struct sb_restore_txn *t, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, sb_snapshot_sink sink,
    void *arg, int *streamed, char *err)
{
	sqlite3		*cdb = NULL;
	enum sb_err	 ret;

	if (!sb_is_restore_wal(t))
		return copy_locked_file(t, t->ldb, dst, sha, size, sink, arg,
		    streamed, err);
	if (!wal_file_whole(t, &cdb))
		return sb_snapshot_take_streamed(t->live, dst, sha, size,
		    t->progress, sink, arg, streamed, err);
	ret = copy_locked_file(t, cdb, dst, sha, size, sink, arg, streamed,
	    err);
	sqlite3_close(cdb);
	if (ret == SB_OK)
		__atomic_add_fetch(&file_copies, 1, __ATOMIC_RELAXED);
	return ret;
}

enum sb_err
sb_snapshot_take_locked(struct sb_restore_txn *t, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err)
{
	int	streamed;

	return take_locked(t, dst, sha, size, NULL, NULL, &streamed, err);
}

enum sb_err
sb_snapshot_take_locked_streamed(struct sb_restore_txn *t, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, sb_snapshot_sink sink,
    void *arg, int *streamed, char *err)
{
	return take_locked(t, dst, sha, size, sink, arg, streamed, err);
}

/*
 * After the copy has committed: is live now the backup? The pages were
 * proved by the backup's own integrity_check before the copy, and the
 * copy is one SQLite transaction (all of it or none), so a second full
 * integrity_check of live would prove nothing new; in rollback-journal
 * mode it would also hold up the writers for a whole pass. The copy
 * releases the write lock as it commits (sqlite3_backup_step() commits
 * and ends the destination's transaction in the same call), so a writer
 * may already have committed after it: only what a writer does not
 * change is compared. Through a new read transaction on live, reading a
 * handful of pages: the page size is the backup's, and every row of the
 * backup's schema (sqlite_schema) is in live's, which also proves live's
 * first B-tree readable. SB_ERR_CORRUPT if not.
 */
static enum sb_err
same_as_backup(struct sb_restore_txn *t, char *err)
{
	sqlite3_stmt	*a = NULL, *q = NULL;
	char		 lps[16], fps[16];
	int		 ra, rq, ret;

	if ((ret = sb_snapshot_pragma(t->ldb, "PRAGMA page_size", lps, sizeof(lps),
	    err, t->live)) != SB_OK ||
	    (ret = sb_snapshot_pragma(t->fdb, "PRAGMA page_size", fps, sizeof(fps),
	    err, t->from)) != SB_OK)
		return ret;
	if (strcmp(lps, fps) != 0) {
		sb_seterr(err, "%s after the copy: page size %s, the backup's "
		    "%s", t->live, lps, fps);
		return SB_ERR_CORRUPT;
	}
	if ((ra = sqlite3_prepare_v2(t->fdb, "SELECT type, name, tbl_name, "
	    "coalesce(sql, '') FROM sqlite_schema", -1, &a, NULL)) !=
	    SQLITE_OK) {
		ret = sb_snapshot_dberr(err, t->fdb, ra, "checking", t->from);
		goto out;
	}
	if ((rq = sqlite3_prepare_v2(t->ldb, "SELECT 1 FROM sqlite_schema "
	    "WHERE type = ?1 AND name = ?2 AND tbl_name = ?3 AND "
	    "coalesce(sql, '') = ?4", -1, &q, NULL)) != SQLITE_OK) {
		ret = sb_snapshot_dberr(err, t->ldb, rq, "checking", t->live);
		goto out;
	}
	while ((ra = sqlite3_step(a)) == SQLITE_ROW) {
		for (int c = 0; c < 4; c++)
			(void)sqlite3_bind_value(q, c + 1,
			    sqlite3_column_value(a, c));
		rq = sqlite3_step(q);
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (rq == SQLITE_ROW)
			continue;
		if (rq == SQLITE_DONE) {
			sb_seterr(err, "%s after the copy: the backup's %s %s "
			    "is not in it", t->live,
			    (const char *)sqlite3_column_text(a, 0),
			    (const char *)sqlite3_column_text(a, 1));
			ret = SB_ERR_CORRUPT;
		} else
			ret = sb_snapshot_dberr(err, t->ldb, rq, "checking", t->live);
		goto out;
	}
	if (ra != SQLITE_DONE) {
		ret = sb_snapshot_dberr(err, t->fdb, ra, "checking", t->from);
		goto out;
	}
	ret = SB_OK;
out:
	sqlite3_finalize(a);
	sqlite3_finalize(q);
	return ret;
}

/*
 * The copy's pages, COPY_STEP_BYTES at a time (sb_snapshot_step), each
 * step's end told to the progress (phase copy, whatever the current one
 * is), for up to RESTORE_DEADLINE_MS of busy retries in all. leave > 0:
 * stop with leave pages not yet copied, the destination's transaction
 * still open and nothing committed (the step that copies the last page
 * is the one that commits: sqlite3_backup_step() returns SQLITE_DONE
 * from it). leave 0: until SQLITE_DONE, then sqlite3_backup_finish() as
 * sb_snapshot_run_backup does. Returns the SQLite result code, SQLITE_OK
 * when all that was asked was copied.
 */
static int
copy_pages(struct sb_restore_txn *t, int leave)
{
	int64_t	end = sb_mono_ms() + RESTORE_DEADLINE_MS;
	int	rc, frc, n, left, step = (int)(COPY_STEP_BYTES / t->psz);

	t->copying = 1;
	for (;;) {
		/* Given up (sb_snapshot_restore_stop): abort rolls back. */
		if (leave > 0 && __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE))
			return SQLITE_INTERRUPT;
		n = step;
		left = sqlite3_backup_remaining(t->b);
		if (leave > 0) {
			if (left <= leave)
				return SQLITE_OK;
			if (left - leave < n)
				n = left - leave;
		}
		rc = sb_snapshot_step(t->b, n, end);
		/* The step that commits ends the write transaction. */
		if (rc == SQLITE_DONE)
			t->unlocked_ms = sb_mono_ms();
		if (rc != SQLITE_OK && rc != SQLITE_DONE)
			break;
		sb_progress_set_in(t->progress, SB_PHASE_COPY, t->bytes -
		    (int64_t)sqlite3_backup_remaining(t->b) * t->psz);
#ifdef SYNC_FILE_RANGE_WRITE
		/* The step's frames on their way to disk now, not all at
		 * the commit's fsync (see sb_snapshot_restore_pages). */
		if (t->walfd != -1)
			(void)sync_file_range(t->walfd, 0, 0,
			    SYNC_FILE_RANGE_WRITE);
#endif
		if (rc == SQLITE_DONE)
			break;
	}
	frc = sqlite3_backup_finish(t->b);
	t->b = NULL;
	if (rc == SQLITE_DONE)
		return frc;
	return frc != SQLITE_OK ? frc : rc;
}

int64_t
sb_snapshot_restore_bytes(const struct sb_restore_txn *t)
{
	return t->bytes;
}

/*
 * WAL mode: every page but the last into live's WAL, uncommitted (see
 * snapshot.h). Frames a transaction has not committed are beyond the
 * last commit frame every reader stops at, and WAL recovery after a
 * crash drops them (https://sqlite.org/wal.html, https://sqlite.org/
 * fileformat2.html#walformat), so live's content, as any connection or
 * a crash sees it, is unchanged until finish; abort rolls them back.
 * In rollback-journal mode the pages would go into the database file
 * itself: SB_ERR_INVAL, nothing done.
 */
enum sb_err
sb_snapshot_restore_pages(struct sb_restore_txn *t, char *err)
{
	char	path[PATH_MAX + 8];
	int	rc;

	if (!sb_is_restore_wal(t) || t->b == NULL) {
		sb_seterr(err, "restoring into %s: pages ahead of the commit "
		    "only into a WAL database", t->live);
		return SB_ERR_INVAL;
	}
	/*
	 * The WAL's dirty pages would otherwise wait for the commit's fsync
	 * (the kernel writes back on its own only after some 30 s, or once
	 * a tenth of memory is dirty), the disk idle meanwhile: their
	 * write-back is started after each step. Only a head start: errors
	 * are the commit's to report. Our own descriptor, and closing it is
	 * safe: SQLite takes no POSIX lock on the -wal file (its WAL locks
	 * are on -shm, https://sqlite.org/walformat.html).
	 */
	snprintf(path, sizeof(path), "%s-wal", t->live);
	t->walfd = open(path, O_RDONLY | O_CLOEXEC);
	rc = copy_pages(t, 1);
	if (t->walfd != -1)
		close(t->walfd);
	t->walfd = -1;
	if (rc == SQLITE_OK)
		return SB_OK;
	if (rc == SQLITE_INTERRUPT) {
		sb_seterr(t->why, "restoring into %s: the copy was stopped",
		    t->live);
		t->failed = SB_ERR_INVAL;
	} else
		t->failed = copy_failed(t, rc, t->why);
	sb_strlcpy(err, t->why, SB_ERRMSG_MAX);
	return t->failed;
}

void
sb_snapshot_restore_stop(struct sb_restore_txn *t)
{
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
}

/*
 * Copy every page and commit (see snapshot.h), then put live's journal
 * mode back if the backup's header changed it, then check that live is the
 * backup (same_as_backup). *replaced is set to 1 once the copy has
 * committed: a failure after that point is reported with live already
 * replaced. *tp is freed and NULL on return, whatever happened.
 */
enum sb_err
sb_snapshot_restore_finish(struct sb_restore_txn **tp, int *replaced,
    int64_t *unlocked_ms, char *err)
{
	struct sb_restore_txn	*t = *tp;
	int			 rc, ret;

	if (replaced != NULL)
		*replaced = 0;
	if (unlocked_ms != NULL)
		*unlocked_ms = 0;
	if (t->failed != SB_OK) {	/* pages gave the copy up */
		sb_strlcpy(err, t->why, SB_ERRMSG_MAX);
		ret = t->failed;
		goto out;
	}
	if ((rc = copy_pages(t, 0)) != SQLITE_OK) {
		ret = copy_failed(t, rc, err);
		goto out;
	}
	/* Committed: whatever fails from here, live holds from's pages. */
	t->committed = 1;
	if (replaced != NULL)
		*replaced = 1;
	if (unlocked_ms != NULL)
		*unlocked_ms = t->unlocked_ms;
	/*
	 * A WAL-marked backup copied into a rollback-journal database leaves
	 * live's header saying WAL; put live's own mode back.
	 */
	if (t->fwal && strcmp(t->lmode, "wal") != 0) {
		char sql[64];

		/* lmode is SQLite's own answer; still, letters only. */
		if (t->lmode[0] == '\0' || strspn(t->lmode,
		    "abcdefghijklmnopqrstuvwxyz") != strlen(t->lmode))
			sb_strlcpy(t->lmode, "delete", sizeof(t->lmode));
		(void)snprintf(sql, sizeof(sql), "PRAGMA journal_mode = %s",
		    t->lmode);
		if ((ret = sb_snapshot_exec1(t->ldb, sql, err, t->live)) != SB_OK)
			goto out;
	}
	ret = same_as_backup(t, err);
out:
	sb_snapshot_restore_abort(tp);
	return ret;
}

/*
 * Copy the database file from INTO the live database live, in place
 * (see snapshot.h): begin, then finish, with nothing in between.
 */
enum sb_err
sb_snapshot_restore(const char *from, const char *live, int *replaced,
    char *err)
{
	struct sb_restore_txn	*t = NULL;
	int			 ret;

	if (replaced != NULL)
		*replaced = 0;
	if ((ret = sb_snapshot_restore_begin(from, live, &t, err)) != SB_OK)
		return ret;
	return sb_snapshot_restore_finish(&t, replaced, NULL, err);
}
