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

#include <sqlite3.h>

#include "shimvfs.h"
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
	struct sb_shim_file sh;		/* must be first */
	int		 wal;		/* the -wal file, else the database */
	unsigned char	*page1;		/* PAGE_MAX bytes or NULL; xClose frees */
	int		 len;		/* bytes of page1 held; 0: none */
	unsigned long	 seq;		/* srcseq when it was read */
};

/* The real file object starts after ours, aligned for any type. */
#define REALOFF	SB_SHIM_HDR(struct srcfile)

static int	rv_open(sqlite3_vfs *, const char *, sqlite3_file *, int,
	    int *);
static struct sb_shim	 shim = { .name = SB_SRCVFS_NAME, .hdr = REALOFF,
			    .xopen = rv_open };
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
	    f->sh.real->pMethods->xRead(f->sh.real, h, sizeof(h),
	    off - FRAME_HDR) != SQLITE_OK ||
	    sb_header_be32(h) != 1))
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

	rc = f->sh.real->pMethods->xClose(f->sh.real);
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

	rc = f->sh.real->pMethods->xRead(f->sh.real, out, amt, off);
	if (rc == SQLITE_OK)
		remember(f, out, amt, off);
	return rc;
}

/*
 * Our methods, at each version up to 2 a wrapped file may have: SQLite
 * calls shared-memory methods (WAL) only from version 2; without the
 * memory-map methods of version 3 it reads every page with xRead.
 */
#define SRCIO(v) {							\
	(v),								\
	rf_close, rf_read, sb_shim_write, sb_shim_truncate,		\
	sb_shim_sync, sb_shim_filesize, sb_shim_lock, sb_shim_unlock,	\
	sb_shim_checkreserved, sb_shim_filecontrol, sb_shim_sectorsize,	\
	sb_shim_devchar, sb_shim_shmmap, sb_shim_shmlock,		\
	sb_shim_shmbarrier, sb_shim_shmunmap, NULL, NULL		\
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
		return shim.base->xOpen(shim.base, name, p, flags, outflags);
	memset(p, 0, (size_t)shim.vfs.szOsFile);
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	if ((rc = sb_shim_open_real(shim.base, &f->sh, REALOFF, name, flags,
	    outflags, &v)) != SQLITE_OK)
		return rc;		/* base.pMethods NULL: no xClose */
	f->sh.base.pMethods = &srcio[(v > 2 ? 2 : v) - 1];
	return SQLITE_OK;
}

int
sb_srcvfs_register(void)
{
	return sb_shim_register(&shim);
}

size_t
sb_header_page_size(const unsigned char *hdr)
{
	size_t	psz = (size_t)hdr[16] << 8 | hdr[17];

	return psz == 1 ? PAGE_MAX : psz;
}

uint32_t
sb_header_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint32_t
sb_header_pages(const unsigned char *hdr)
{
	if (memcmp(hdr + 24, hdr + 92, 4) != 0)
		return 0;
	return sb_header_be32(hdr + 28);
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
	psz = sb_header_page_size(f->page1);
	if (psz != (size_t)f->len || psz > cap)
		return 0;
	memcpy(out, f->page1, psz);
	return psz;
}
