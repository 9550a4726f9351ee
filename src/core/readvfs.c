/*
 * readvfs.c - an SQLite VFS (https://sqlite.org/vfs.html) for a database
 * file that a read-only connection reads through once, mostly front to
 * back: PRAGMA integrity_check of a backup (sb_snapshot_check). SQLite
 * reads one page per xRead, so a 1 GB file of 4 KiB pages costs some
 * 280,000 read(2) calls, and on a virtual machine the kernel's share of
 * those is most of the check's time. Here the main database file's
 * sequential reads are served from a few read-ahead windows of RA_BYTES,
 * each filled with one read of the wrapped file: the check walks a
 * table's pages while it seeks into an index, so a window per stream,
 * the least recently used one refilled; a read that follows no other
 * (a seek) is the wrapped file's own.
 *
 * The windows hold what the file held when they were read; a read-only
 * connection to a backup, which nothing writes, is all this is for.
 * xWrite and xTruncate (which such a connection never calls) empty them
 * all the same. A read the windows cannot serve, or a fill that fails
 * (the file shorter than it was at open), is the wrapped file's own
 * read, with its own result (a short read zero-fills, as SQLite expects).
 * No memory map (methods version 2 at most): every page goes through
 * xRead. Other files are the default VFS's own objects.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "readvfs.h"
#include "shimvfs.h"

#define RA_BYTES	(256 * 1024)	/* one window; a power of two */
#define RA_WINDOWS	4

struct rawin {
	unsigned char	*buf;		/* RA_BYTES, or NULL until first used */
	sqlite3_int64	 start;		/* file offset of buf[0] */
	int		 len;		/* bytes held; 0: empty */
	unsigned long	 used;		/* clock at the last hit */
};

/*
 * One open main database file: our header, then the default VFS's own
 * file object (real points at it, in the same allocation). Used by the
 * one thread of its connection.
 */
struct rafile {
	struct sb_shim_file sh;		/* must be first */
	sqlite3_int64	 size;		/* the file's size at open */
	struct rawin	 win[RA_WINDOWS];
	unsigned long	 clock;
	sqlite3_int64	 last;		/* where the last read ended */
};

#define REALOFF	SB_SHIM_HDR(struct rafile)

static int	rv_open(sqlite3_vfs *, const char *, sqlite3_file *, int,
	    int *);
static struct sb_shim	 shim = { .name = SB_READVFS_NAME, .hdr = REALOFF,
			    .xopen = rv_open };
static unsigned long	 fills;		/* __atomic builtins only */

static void
ra_empty(struct rafile *f)
{
	for (int i = 0; i < RA_WINDOWS; i++)
		f->win[i].len = 0;
	f->last = -1;
}

static int
ra_close(sqlite3_file *p)
{
	struct rafile	*f = (struct rafile *)p;

	for (int i = 0; i < RA_WINDOWS; i++)
		free(f->win[i].buf);
	return f->sh.real->pMethods->xClose(f->sh.real);
}

/*
 * The window to fill for [off, off + amt), or NULL: read it directly.
 * Only a read that goes on where another ended is read ahead: one that
 * continues a window (that stream's next pages), or the previous read
 * (a new stream). A seek elsewhere (an index lookup) reads its page
 * alone: a window for it would read 64 pages to use one.
 */
static struct rawin *
ra_fill(struct rafile *f, int amt, sqlite3_int64 off)
{
	struct rawin	*w = NULL;
	int		 n;

	if (off < 0 || amt > RA_BYTES || off + amt > f->size)
		return NULL;
	for (int i = 0; i < RA_WINDOWS && w == NULL; i++)
		if (f->win[i].len > 0 &&
		    f->win[i].start + f->win[i].len == off)
			w = &f->win[i];
	if (w == NULL && off != f->last)
		return NULL;
	for (int i = 0; i < RA_WINDOWS && w == NULL; i++)
		if (f->win[i].len == 0)
			w = &f->win[i];
	for (int i = 0; w == NULL && i < RA_WINDOWS; i++)
		if (i == 0 || f->win[i].used < w->used)
			w = &f->win[i];
	if (w->buf == NULL && (w->buf = malloc(RA_BYTES)) == NULL)
		return NULL;
	n = f->size - off < RA_BYTES ? (int)(f->size - off) : RA_BYTES;
	w->len = 0;
	if (f->sh.real->pMethods->xRead(f->sh.real, w->buf, n, off) !=
	    SQLITE_OK)
		return NULL;
	w->start = off;
	w->len = n;
	__atomic_add_fetch(&fills, 1, __ATOMIC_RELAXED);
	return w;
}

static int
ra_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
	struct rafile	*f = (struct rafile *)p;
	struct rawin	*w = NULL;

	for (int i = 0; i < RA_WINDOWS && w == NULL; i++)
		if (f->win[i].len > 0 && off >= f->win[i].start &&
		    off + amt <= f->win[i].start + f->win[i].len)
			w = &f->win[i];
	if (w == NULL && (w = ra_fill(f, amt, off)) == NULL) {
		f->last = off + amt;
		return f->sh.real->pMethods->xRead(f->sh.real, out, amt, off);
	}
	f->last = off + amt;
	memcpy(out, w->buf + (off - w->start), (size_t)amt);
	w->used = ++f->clock;
	return SQLITE_OK;
}

static int
ra_write(sqlite3_file *p, const void *buf, int amt, sqlite3_int64 off)
{
	ra_empty((struct rafile *)p);
	return sb_shim_write(p, buf, amt, off);
}

static int
ra_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	ra_empty((struct rafile *)p);
	return sb_shim_truncate(p, size);
}

/*
 * Our methods, at each version up to 2 a wrapped file may have: SQLite
 * calls shared-memory methods (WAL) only from version 2; without the
 * memory-map methods of version 3 it reads every page with xRead.
 */
#define RAIO(v) {							\
	(v),								\
	ra_close, ra_read, ra_write, ra_truncate,			\
	sb_shim_sync, sb_shim_filesize, sb_shim_lock, sb_shim_unlock,	\
	sb_shim_checkreserved, sb_shim_filecontrol, sb_shim_sectorsize,	\
	sb_shim_devchar, sb_shim_shmmap, sb_shim_shmlock,		\
	sb_shim_shmbarrier, sb_shim_shmunmap, NULL, NULL		\
}
static const sqlite3_io_methods raio[2] = { RAIO(1), RAIO(2) };

/*
 * Open a file. A main database opened read-only gets our wrapper, at the
 * version of the file it wraps (at most 2); anything else is the default
 * VFS's own object (our szOsFile is larger than its, so it fits in place).
 */
static int
rv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags,
    int *outflags)
{
	struct rafile	*f = (struct rafile *)p;
	int		 rc, v;

	(void)vfs;
	if ((flags & SQLITE_OPEN_MAIN_DB) == 0 ||
	    (flags & SQLITE_OPEN_READONLY) == 0)
		return shim.base->xOpen(shim.base, name, p, flags, outflags);
	memset(p, 0, (size_t)shim.vfs.szOsFile);
	if ((rc = sb_shim_open_real(shim.base, &f->sh, REALOFF, name, flags,
	    outflags, &v)) != SQLITE_OK)
		return rc;		/* base.pMethods NULL: no xClose */
	if (f->sh.real->pMethods->xFileSize(f->sh.real, &f->size) !=
	    SQLITE_OK)
		f->size = 0;		/* every read goes to the file */
	f->last = -1;
	f->sh.base.pMethods = &raio[(v > 2 ? 2 : v) - 1];
	return SQLITE_OK;
}

int
sb_readvfs_register(void)
{
	return sb_shim_register(&shim);
}

unsigned long
sb_readvfs_fills(void)
{
	return __atomic_load_n(&fills, __ATOMIC_RELAXED);
}
