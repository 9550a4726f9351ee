/*
 * snapvfs.c - an SQLite VFS (https://sqlite.org/vfs.html) for the new file
 * a snapshot is copied into. It wraps the default VFS and changes one
 * thing: writes to the main database file that follow each other are
 * gathered in a buffer and written SNAPVFS_IOMAX bytes a call. The backup
 * API writes the copy a page at a time, in page order (cache spills, then
 * the pages left at commit); at 4 KiB a page that is a quarter of a
 * million write calls for a 1 GB database, and the calls, not the bytes,
 * were most of the cost. It can also tell a tracker how far the file has
 * been written in order (SB_SNAPVFS_FCNTL_TRACK), so that snapshot.c can
 * hash the copy while it is made.
 *
 * The buffer is a write-behind cache with one rule: it is written out
 * before anything that could observe the file or depends on its content
 * being there (a read, a size query, truncate, sync, a lock change, a file
 * control, a memory map, shared-memory locks) and before close. A write
 * that fails is remembered ("sticky") and returned by every later call
 * that writes the buffer out. Journals and other files go straight to the
 * default VFS. The file is private to the snapshot until it is done, so
 * nobody else reads it meanwhile.
 *
 * Methods follow the sqlite3_io_methods reference
 * (https://sqlite.org/c3ref/io_methods.html).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "shimvfs.h"
#include "snapvfs.h"

#define SNAPVFS_BUFSZ	(256 * 1024)	/* bytes gathered */
#define SNAPVFS_IOMAX	(64 * 1024)	/* per xWrite: the unix VFS takes
					 * at most 128 KiB - 1 a call */

/*
 * One open main database file: our header, then the default VFS's own
 * file object (real points at it, in the same allocation: szOsFile).
 */
struct snapfile {
	struct sb_shim_file sh;		/* must be first */
	unsigned char	*buf;		/* SNAPVFS_BUFSZ bytes */
	sqlite3_int64	 bufoff;	/* file offset of buf[0] */
	int		 buflen;	/* bytes held in buf */
	int		 sealed;	/* write through, no buffering */
	int		 sticky;	/* first write error, or SQLITE_OK */
	struct sb_snapvfs_track *track;	/* or NULL; see snapvfs.h */
	sqlite3_int64	 accepted;	/* end of the tracked region */
	struct sb_snapvfs_watch *watch;	/* or NULL; see snapvfs.h */
	sqlite3_int64	 extent;	/* largest end written */
};

#define LOCKBYTE	((sqlite3_int64)0x40000000)	/* SQLite's PENDING_BYTE */

/* The real file object starts after ours, aligned for any type. */
#define REALOFF	SB_SHIM_HDR(struct snapfile)

static int	sv_open(sqlite3_vfs *, const char *, sqlite3_file *, int,
	    int *);
static struct sb_shim	 shim = { .name = SB_SNAPVFS_NAME, .hdr = REALOFF,
			    .xopen = sv_open };

/* Stop tracking: the file no longer grows as the tracker expects. */
static void
untrack(struct snapfile *f)
{
	if (f->track != NULL) {
		f->track->broken(f->track->arg);
		f->track = NULL;
	}
}

/*
 * A write of [off, off + amt) is about to be accepted: does it continue
 * the tracked region, stay in front of it (page 1), or break the
 * pattern? One gap is part of the pattern: the lock-byte page, the page
 * that holds offset 2^30, which SQLite never writes
 * (https://sqlite.org/fileformat2.html#the_lock_byte_page); in a new file
 * it reads back as zeros.
 */
static void
track_write(struct snapfile *f, sqlite3_int64 off, int amt)
{
	sqlite3_int64	psz;

	if (f->track == NULL || off + amt <= f->track->from)
		return;
	psz = f->track->from;
	if (off == f->accepted ||
	    (off == f->accepted + psz && f->accepted <= LOCKBYTE &&
	    LOCKBYTE < off))
		f->accepted = off + amt;
	else
		untrack(f);
}

/* Bytes up to end are in the file: tell the tracker. */
static void
track_flushed(struct snapfile *f, sqlite3_int64 end)
{
	if (f->track != NULL && end > f->track->from)
		f->track->flushed(f->track->arg,
		    end < f->accepted ? end : f->accepted);
}

/*
 * Write out the buffer. On failure remember the error; the buffered
 * bytes are dropped either way (they cannot be retried in order).
 */
static int
flush(struct snapfile *f)
{
	int	rc;

	for (int done = 0, n; done < f->buflen; done += n) {
		n = f->buflen - done;
		if (n > SNAPVFS_IOMAX)
			n = SNAPVFS_IOMAX;
		rc = f->sh.real->pMethods->xWrite(f->sh.real, f->buf + done, n,
		    f->bufoff + done);
		if (rc != SQLITE_OK) {
			if (f->sticky == SQLITE_OK)
				f->sticky = rc;
			untrack(f);
			break;
		}
	}
	if (f->sticky == SQLITE_OK)
		track_flushed(f, f->bufoff + f->buflen);
	f->buflen = 0;
	return f->sticky;
}

static int
sf_close(sqlite3_file *p)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	(void)flush(f);
	rc = f->sh.real->pMethods->xClose(f->sh.real);
	free(f->buf);
	f->buf = NULL;
	return rc;
}

static int
sf_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xRead(f->sh.real, out, amt, off);
}

/* A write that skips the buffer (the buffer is empty: in order). */
static int
write_through(struct snapfile *f, const void *in, int amt, sqlite3_int64 off)
{
	int	rc;

	if ((rc = f->sh.real->pMethods->xWrite(f->sh.real, in, amt, off)) !=
	    SQLITE_OK) {
		untrack(f);
		return rc;
	}
	track_flushed(f, off + amt);
	return SQLITE_OK;
}

/*
 * Append to the buffer a write that continues it and fits; otherwise
 * write the buffer out and start again at this write. A write as large
 * as the buffer goes straight through.
 */
static int
sf_write(sqlite3_file *p, const void *in, int amt, sqlite3_int64 off)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if (f->sticky != SQLITE_OK)
		return f->sticky;
	if (amt <= 0)
		return f->sh.real->pMethods->xWrite(f->sh.real, in, amt, off);
	track_write(f, off, amt);
	if (f->watch != NULL && off + amt > f->extent) {
		f->extent = off + amt;
		f->watch->wrote(f->watch->arg, f->extent);
	}
	if (f->sealed)
		return write_through(f, in, amt, off);
	if (f->buflen > 0 && off == f->bufoff + f->buflen &&
	    amt <= SNAPVFS_BUFSZ - f->buflen) {
		memcpy(f->buf + f->buflen, in, (size_t)amt);
		f->buflen += amt;
		return SQLITE_OK;
	}
	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	if (amt > SNAPVFS_IOMAX)
		return write_through(f, in, amt, off);
	memcpy(f->buf, in, (size_t)amt);
	f->bufoff = off;
	f->buflen = amt;
	return SQLITE_OK;
}

static int
sf_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	if (f->track != NULL && size < f->accepted)
		untrack(f);
	return f->sh.real->pMethods->xTruncate(f->sh.real, size);
}

static int
sf_sync(sqlite3_file *p, int flags)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xSync(f->sh.real, flags);
}

static int
sf_filesize(sqlite3_file *p, sqlite3_int64 *size)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xFileSize(f->sh.real, size);
}

static int
sf_lock(sqlite3_file *p, int lock)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xLock(f->sh.real, lock);
}

/* Unlocking must happen even after a failed write: no early return. */
static int
sf_unlock(sqlite3_file *p, int lock)
{
	struct snapfile	*f = (struct snapfile *)p;

	(void)flush(f);
	return f->sh.real->pMethods->xUnlock(f->sh.real, lock);
}

/*
 * Our SEAL opcode; otherwise pass through, after writing out the buffer.
 * SQLITE_FCNTL_SIZE_HINT is only a hint and comes with every cache spill,
 * so it does not write the buffer out.
 */
static int
sf_filecontrol(sqlite3_file *p, int op, void *arg)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	if (op == SB_SNAPVFS_FCNTL_SEAL) {
		rc = flush(f);
		f->sealed = 1;
		return rc;
	}
	if (op == SB_SNAPVFS_FCNTL_TRACK) {
		if (f->track != NULL || f->buflen > 0 || arg == NULL)
			return SQLITE_MISUSE;
		f->track = arg;
		f->accepted = f->track->from;
		return SQLITE_OK;
	}
	if (op == SB_SNAPVFS_FCNTL_WATCH) {
		f->watch = arg;
		return SQLITE_OK;
	}
	if (op != SQLITE_FCNTL_SIZE_HINT && (rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xFileControl(f->sh.real, op, arg);
}

/* Shared memory (WAL mode): only the locks order against file writes. */
static int
sf_shmlock(sqlite3_file *p, int off, int n, int flags)
{
	struct snapfile	*f = (struct snapfile *)p;

	(void)flush(f);
	return f->sh.real->pMethods->xShmLock(f->sh.real, off, n, flags);
}

static int
sf_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc;

	*pp = NULL;
	if ((rc = flush(f)) != SQLITE_OK)
		return rc;
	return f->sh.real->pMethods->xFetch(f->sh.real, off, amt, pp);
}

/*
 * Our methods, at each version a wrapped file may have: SQLite calls
 * shared-memory methods only from version 2 and memory-map methods only
 * from version 3, so we offer no more than the file we forward to.
 */
#define SNAPIO(v) {							\
	(v),								\
	sf_close, sf_read, sf_write, sf_truncate, sf_sync, sf_filesize,	\
	sf_lock, sf_unlock, sb_shim_checkreserved, sf_filecontrol,	\
	sb_shim_sectorsize, sb_shim_devchar, sb_shim_shmmap, sf_shmlock,	\
	sb_shim_shmbarrier, sb_shim_shmunmap, sf_fetch, sb_shim_unfetch	\
}
static const sqlite3_io_methods snapio[3] = {
	SNAPIO(1), SNAPIO(2), SNAPIO(3)
};

/*
 * Open a file. Anything but a main database is the default VFS's own
 * object (our szOsFile is larger than its, so it fits in place). A main
 * database gets our wrapper, at the version of the file it wraps.
 */
static int
sv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags,
    int *outflags)
{
	struct snapfile	*f = (struct snapfile *)p;
	int		 rc, v;

	(void)vfs;
	if ((flags & SQLITE_OPEN_MAIN_DB) == 0)
		return shim.base->xOpen(shim.base, name, p, flags, outflags);
	memset(p, 0, (size_t)shim.vfs.szOsFile);
	if ((f->buf = malloc(SNAPVFS_BUFSZ)) == NULL)
		return SQLITE_NOMEM;
	if ((rc = sb_shim_open_real(shim.base, &f->sh, REALOFF, name, flags,
	    outflags, &v)) != SQLITE_OK) {
		free(f->buf);
		f->buf = NULL;
		return rc;		/* base.pMethods NULL: no xClose */
	}
	f->sh.base.pMethods = &snapio[(v > 3 ? 3 : v) - 1];
	return SQLITE_OK;
}

int
sb_snapvfs_register(void)
{
	return sb_shim_register(&shim);
}
