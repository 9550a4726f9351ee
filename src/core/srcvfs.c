/*
 * srcvfs.c - an SQLite VFS (https://sqlite.org/vfs.html) for the live
 * database a snapshot is copied from. It wraps the default VFS and
 * changes nothing SQLite sees; it remembers, per file object, the last
 * whole page 1 the connection read:
 *
 * - from the main database file: a read of one page (a power of two,
 *   512..65536 bytes) at offset 0;
 * - from its -wal file: a read of one page just after a frame header
 *   (https://sqlite.org/fileformat2.html#walformat: a 32-byte file
 *   header, then frames of a 24-byte header and a page) whose page
 *   number, its first 4 bytes big-endian, is 1. SQLite reads the page
 *   without its header, so the header is read here, only for a page that
 *   starts like a page 1 does ("SQLite format 3\0").
 *
 * A process-wide sequence number orders the two files' captures: the
 * later one is the page 1 in the connection's cache, the one the online
 * backup copies when it runs in the same read transaction (snapshot.c).
 * Files have no memory map (methods version 2 at most), so every page
 * SQLite reads goes through xRead. Other files (journals) are the default
 * VFS's own objects.
 *
 * Methods follow the sqlite3_io_methods reference
 * (https://sqlite.org/c3ref/io_methods.html).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sqlite3.h>

#include "srcvfs.h"

#define PAGE_MIN	512
#define PAGE_MAX	65536
#define WAL_HDR		32	/* WAL file header */
#define FRAME_HDR	24	/* WAL frame header */
#define MAGIC		"SQLite format 3"	/* with its NUL: 16 bytes */

/*
 * One open main database or -wal file: our header, then the default
 * VFS's own file object (real points at it, in the same allocation).
 * Used by the one thread of its connection.
 */
struct srcfile {
	sqlite3_file	 base;		/* must be first */
	sqlite3_file	*real;		/* the default VFS's file */
	int		 wal;		/* the -wal file, else the database */
	unsigned char	*page1;		/* PAGE_MAX bytes or NULL; xClose frees */
	int		 len;		/* bytes of page1 held; 0: none */
	unsigned long	 seq;		/* srcseq when it was read */
};

/* The real file object starts after ours, aligned for any type. */
#define REALOFF	((sizeof(struct srcfile) + 15) & ~(size_t)15)

static sqlite3_vfs	*deflt;		/* the VFS we wrap */
static sqlite3_vfs	 srcvfs;
static int		 regrc = SQLITE_ERROR;
static pthread_once_t	 regonce = PTHREAD_ONCE_INIT;
static unsigned long	 srcseq;	/* __atomic builtins only */

/*
 * A read of buf ([off, off + amt)) succeeded: keep it if it is a whole
 * page 1 (see above). Best effort: memory or a header that cannot be
 * read only leave the last capture in place.
 */
static void
remember(struct srcfile *f, const void *buf, int amt, sqlite3_int64 off)
{
	unsigned char	h[4];

	if (amt < PAGE_MIN || amt > PAGE_MAX || (amt & (amt - 1)) != 0 ||
	    memcmp(buf, MAGIC, 16) != 0)
		return;
	if (!f->wal && off != 0)
		return;
	if (f->wal && (off < WAL_HDR + FRAME_HDR ||
	    (off - WAL_HDR - FRAME_HDR) % (amt + FRAME_HDR) != 0 ||
	    f->real->pMethods->xRead(f->real, h, sizeof(h),
	    off - FRAME_HDR) != SQLITE_OK ||
	    ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3]) != 1))
		return;
	if (f->page1 == NULL && (f->page1 = malloc(PAGE_MAX)) == NULL)
		return;
	memcpy(f->page1, buf, (size_t)amt);
	f->len = amt;
	f->seq = __atomic_add_fetch(&srcseq, 1, __ATOMIC_RELAXED);
}

static int
rf_close(sqlite3_file *p)
{
	struct srcfile	*f = (struct srcfile *)p;
	int		 rc;

	rc = f->real->pMethods->xClose(f->real);
	free(f->page1);
	f->page1 = NULL;
	f->len = 0;
	return rc;
}

static int
rf_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
	struct srcfile	*f = (struct srcfile *)p;
	int		 rc;

	rc = f->real->pMethods->xRead(f->real, out, amt, off);
	if (rc == SQLITE_OK)
		remember(f, out, amt, off);
	return rc;
}

/* The rest is the default VFS's file's. */
static int
rf_write(sqlite3_file *p, const void *in, int amt, sqlite3_int64 off)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xWrite(f->real, in, amt, off);
}

static int
rf_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xTruncate(f->real, size);
}

static int
rf_sync(sqlite3_file *p, int flags)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xSync(f->real, flags);
}

static int
rf_filesize(sqlite3_file *p, sqlite3_int64 *size)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xFileSize(f->real, size);
}

static int
rf_lock(sqlite3_file *p, int lock)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xLock(f->real, lock);
}

static int
rf_unlock(sqlite3_file *p, int lock)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int
rf_checkreserved(sqlite3_file *p, int *out)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

/* SQLite asks a file for its memory-map limit here; we map nothing. */
static int
rf_filecontrol(sqlite3_file *p, int op, void *arg)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
rf_sectorsize(sqlite3_file *p)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
rf_devchar(sqlite3_file *p)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
rf_shmmap(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **pp)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int
rf_shmlock(sqlite3_file *p, int off, int n, int flags)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void
rf_shmbarrier(sqlite3_file *p)
{
	struct srcfile	*f = (struct srcfile *)p;

	f->real->pMethods->xShmBarrier(f->real);
}

static int
rf_shmunmap(sqlite3_file *p, int del)
{
	struct srcfile	*f = (struct srcfile *)p;

	return f->real->pMethods->xShmUnmap(f->real, del);
}

/*
 * Our methods, at each version up to 2 a wrapped file may have: SQLite
 * calls shared-memory methods (WAL) only from version 2; without the
 * memory-map methods of version 3 it reads every page with xRead.
 */
#define SRCIO(v) {							\
	(v),								\
	rf_close, rf_read, rf_write, rf_truncate, rf_sync, rf_filesize,	\
	rf_lock, rf_unlock, rf_checkreserved, rf_filecontrol,		\
	rf_sectorsize, rf_devchar, rf_shmmap, rf_shmlock,		\
	rf_shmbarrier, rf_shmunmap, NULL, NULL				\
}
static const sqlite3_io_methods srcio[2] = { SRCIO(1), SRCIO(2) };

/* Is p one of our files? */
static struct srcfile *
ours(sqlite3_file *p)
{
	if (p == NULL || (p->pMethods != &srcio[0] &&
	    p->pMethods != &srcio[1]))
		return NULL;
	return (struct srcfile *)p;
}

/*
 * Open a file. A main database or a -wal file gets our wrapper, at the
 * version of the file it wraps (at most 2); anything else is the default
 * VFS's own object (our szOsFile is larger than its, so it fits in place).
 */
static int
rv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags,
    int *outflags)
{
	struct srcfile	*f = (struct srcfile *)p;
	int		 rc, v;

	(void)vfs;
	if ((flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) == 0)
		return deflt->xOpen(deflt, name, p, flags, outflags);
	memset(p, 0, (size_t)srcvfs.szOsFile);
	f->real = (sqlite3_file *)((char *)p + REALOFF);
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = deflt->xOpen(deflt, name, f->real, flags, outflags);
	if (rc == SQLITE_OK && f->real->pMethods->iVersion < 1) {
		f->real->pMethods->xClose(f->real);
		rc = SQLITE_CANTOPEN;
	} else if (rc != SQLITE_OK && f->real->pMethods != NULL)
		f->real->pMethods->xClose(f->real);
	if (rc != SQLITE_OK)
		return rc;		/* base.pMethods NULL: no xClose */
	v = f->real->pMethods->iVersion;
	f->base.pMethods = &srcio[(v > 2 ? 2 : v) - 1];
	return SQLITE_OK;
}

/* The rest of the VFS is the default one's. */
static int
rv_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	(void)vfs;
	return deflt->xDelete(deflt, name, syncdir);
}

static int
rv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return deflt->xAccess(deflt, name, flags, out);
}

static int
rv_fullpathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return deflt->xFullPathname(deflt, name, n, out);
}

static void *
rv_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return deflt->xDlOpen(deflt, name);
}

static void
rv_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	deflt->xDlError(deflt, n, out);
}

static void
(*rv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return deflt->xDlSym(deflt, h, sym);
}

static void
rv_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	deflt->xDlClose(deflt, h);
}

static int
rv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return deflt->xRandomness(deflt, n, out);
}

static int
rv_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return deflt->xSleep(deflt, us);
}

static int
rv_currenttime(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return deflt->xCurrentTime(deflt, out);
}

static int
rv_getlasterror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return deflt->xGetLastError(deflt, n, out);
}

static int
rv_currenttimeint64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return deflt->xCurrentTimeInt64(deflt, out);
}

/* Version 2 of the VFS object: version 3 adds only test hooks. */
static void
do_register(void)
{
	if ((deflt = sqlite3_vfs_find(NULL)) == NULL ||
	    deflt->iVersion < 2 || deflt->xCurrentTimeInt64 == NULL ||
	    deflt->szOsFile < 0 ||
	    (size_t)deflt->szOsFile > (size_t)INT32_MAX - REALOFF) {
		regrc = SQLITE_ERROR;
		return;
	}
	memset(&srcvfs, 0, sizeof(srcvfs));
	srcvfs.iVersion = 2;
	srcvfs.szOsFile = (int)(REALOFF + (size_t)deflt->szOsFile);
	srcvfs.mxPathname = deflt->mxPathname;
	srcvfs.zName = SB_SRCVFS_NAME;
	srcvfs.xOpen = rv_open;
	srcvfs.xDelete = rv_delete;
	srcvfs.xAccess = rv_access;
	srcvfs.xFullPathname = rv_fullpathname;
	srcvfs.xDlOpen = rv_dlopen;
	srcvfs.xDlError = rv_dlerror;
	srcvfs.xDlSym = rv_dlsym;
	srcvfs.xDlClose = rv_dlclose;
	srcvfs.xRandomness = rv_randomness;
	srcvfs.xSleep = rv_sleep;
	srcvfs.xCurrentTime = rv_currenttime;
	srcvfs.xGetLastError = rv_getlasterror;
	srcvfs.xCurrentTimeInt64 = rv_currenttimeint64;
	regrc = sqlite3_vfs_register(&srcvfs, 0);
}

int
sb_srcvfs_register(void)
{
	if (pthread_once(&regonce, do_register) != 0)
		return SQLITE_ERROR;
	return regrc;
}

/*
 * See srcvfs.h. The database file is SQLITE_FCNTL_FILE_POINTER; in WAL
 * mode SQLITE_FCNTL_JOURNAL_POINTER is the -wal file
 * (https://sqlite.org/c3ref/c_fcntl_begin_atomic_write.html), else a
 * journal, which is not ours and is skipped.
 */
size_t
sb_srcvfs_page1(sqlite3 *db, unsigned char *out, size_t cap)
{
	sqlite3_file	*mp = NULL, *wp = NULL;
	struct srcfile	*m, *w, *f;
	size_t		 psz;

	(void)sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER,
	    &mp);
	(void)sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wp);
	m = ours(mp);
	w = ours(wp);
	if (m != NULL && m->len == 0)
		m = NULL;
	if (w != NULL && w->len == 0)
		w = NULL;
	f = m == NULL || (w != NULL && w->seq > m->seq) ? w : m;
	if (f == NULL)
		return 0;
	psz = (size_t)f->page1[16] << 8 | f->page1[17];
	if (psz == 1)
		psz = PAGE_MAX;
	if (psz != (size_t)f->len || psz > cap)
		return 0;
	memcpy(out, f->page1, psz);
	return psz;
}
