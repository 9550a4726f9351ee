/*
 * shimvfs.c - the forwarding half of the project's VFS shims (see
 * shimvfs.h): what snapvfs.c and srcvfs.c would otherwise each write
 * out, method by method.
 */
#include <stdint.h>
#include <string.h>

#include <pthread.h>

#include "shimvfs.h"

/* The wrapped file of a shim's file object. */
#define REAL(p)	(((struct sb_shim_file *)(p))->real)

int
sb_shim_open_real(sqlite3_vfs *base, struct sb_shim_file *f, size_t hdr,
    const char *name, int flags, int *outflags, int *version)
{
	int	rc;

	f->real = (sqlite3_file *)((char *)f + hdr);
	rc = base->xOpen(base, name, f->real, flags, outflags);
	if (rc == SQLITE_OK && f->real->pMethods->iVersion < 1) {
		f->real->pMethods->xClose(f->real);
		rc = SQLITE_CANTOPEN;
	} else if (rc != SQLITE_OK && f->real->pMethods != NULL)
		f->real->pMethods->xClose(f->real);
	if (rc == SQLITE_OK)
		*version = f->real->pMethods->iVersion;
	return rc;
}

int
sb_shim_write(sqlite3_file *p, const void *in, int amt, sqlite3_int64 off)
{
	return REAL(p)->pMethods->xWrite(REAL(p), in, amt, off);
}

int
sb_shim_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	return REAL(p)->pMethods->xTruncate(REAL(p), size);
}

int
sb_shim_sync(sqlite3_file *p, int flags)
{
	return REAL(p)->pMethods->xSync(REAL(p), flags);
}

int
sb_shim_filesize(sqlite3_file *p, sqlite3_int64 *size)
{
	return REAL(p)->pMethods->xFileSize(REAL(p), size);
}

int
sb_shim_lock(sqlite3_file *p, int lock)
{
	return REAL(p)->pMethods->xLock(REAL(p), lock);
}

int
sb_shim_unlock(sqlite3_file *p, int lock)
{
	return REAL(p)->pMethods->xUnlock(REAL(p), lock);
}

int
sb_shim_checkreserved(sqlite3_file *p, int *out)
{
	return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

int
sb_shim_filecontrol(sqlite3_file *p, int op, void *arg)
{
	return REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

int
sb_shim_sectorsize(sqlite3_file *p)
{
	return REAL(p)->pMethods->xSectorSize(REAL(p));
}

int
sb_shim_devchar(sqlite3_file *p)
{
	return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

int
sb_shim_shmmap(sqlite3_file *p, int pg, int pgsz, int extend,
    void volatile **pp)
{
	return REAL(p)->pMethods->xShmMap(REAL(p), pg, pgsz, extend, pp);
}

int
sb_shim_shmlock(sqlite3_file *p, int off, int n, int flags)
{
	return REAL(p)->pMethods->xShmLock(REAL(p), off, n, flags);
}

void
sb_shim_shmbarrier(sqlite3_file *p)
{
	REAL(p)->pMethods->xShmBarrier(REAL(p));
}

int
sb_shim_shmunmap(sqlite3_file *p, int del)
{
	return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

int
sb_shim_unfetch(sqlite3_file *p, sqlite3_int64 off, void *page)
{
	return REAL(p)->pMethods->xUnfetch(REAL(p), off, page);
}

/* The VFS's own methods: the wrapped VFS's (pAppData). */
#define BASE(v)	((sqlite3_vfs *)(v)->pAppData)

static int
fw_delete(sqlite3_vfs *v, const char *name, int syncdir)
{
	return BASE(v)->xDelete(BASE(v), name, syncdir);
}

static int
fw_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return BASE(v)->xAccess(BASE(v), name, flags, out);
}

static int
fw_fullpathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return BASE(v)->xFullPathname(BASE(v), name, n, out);
}

static void *
fw_dlopen(sqlite3_vfs *v, const char *name)
{
	return BASE(v)->xDlOpen(BASE(v), name);
}

static void
fw_dlerror(sqlite3_vfs *v, int n, char *out)
{
	BASE(v)->xDlError(BASE(v), n, out);
}

static void
(*fw_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return BASE(v)->xDlSym(BASE(v), h, sym);
}

static void
fw_dlclose(sqlite3_vfs *v, void *h)
{
	BASE(v)->xDlClose(BASE(v), h);
}

static int
fw_randomness(sqlite3_vfs *v, int n, char *out)
{
	return BASE(v)->xRandomness(BASE(v), n, out);
}

static int
fw_sleep(sqlite3_vfs *v, int us)
{
	return BASE(v)->xSleep(BASE(v), us);
}

static int
fw_currenttime(sqlite3_vfs *v, double *out)
{
	return BASE(v)->xCurrentTime(BASE(v), out);
}

static int
fw_getlasterror(sqlite3_vfs *v, int n, char *out)
{
	return BASE(v)->xGetLastError(BASE(v), n, out);
}

static int
fw_currenttimeint64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return BASE(v)->xCurrentTimeInt64(BASE(v), out);
}

/* Version 2 of the VFS object: version 3 adds only test hooks. */
static int
vfs_init(sqlite3_vfs *vfs, sqlite3_vfs *base, const char *name,
    size_t hdr, int (*xopen)(sqlite3_vfs *, const char *, sqlite3_file *,
    int, int *))
{
	if (base == NULL || base->iVersion < 2 ||
	    base->xCurrentTimeInt64 == NULL || base->szOsFile < 0 ||
	    (size_t)base->szOsFile > (size_t)INT32_MAX - hdr)
		return SQLITE_ERROR;
	memset(vfs, 0, sizeof(*vfs));
	vfs->iVersion = 2;
	vfs->szOsFile = (int)(hdr + (size_t)base->szOsFile);
	vfs->mxPathname = base->mxPathname;
	vfs->zName = name;
	vfs->pAppData = base;
	vfs->xOpen = xopen;
	vfs->xDelete = fw_delete;
	vfs->xAccess = fw_access;
	vfs->xFullPathname = fw_fullpathname;
	vfs->xDlOpen = fw_dlopen;
	vfs->xDlError = fw_dlerror;
	vfs->xDlSym = fw_dlsym;
	vfs->xDlClose = fw_dlclose;
	vfs->xRandomness = fw_randomness;
	vfs->xSleep = fw_sleep;
	vfs->xCurrentTime = fw_currenttime;
	vfs->xGetLastError = fw_getlasterror;
	vfs->xCurrentTimeInt64 = fw_currenttimeint64;
	return SQLITE_OK;
}

int
sb_shim_register(struct sb_shim *s)
{
	static pthread_mutex_t	mu = PTHREAD_MUTEX_INITIALIZER;
	int			rc;

	pthread_mutex_lock(&mu);
	if (!s->done) {
		s->base = sqlite3_vfs_find(NULL);
		if ((s->rc = vfs_init(&s->vfs, s->base, s->name, s->hdr,
		    s->xopen)) == SQLITE_OK)
			s->rc = sqlite3_vfs_register(&s->vfs, 0);
		s->done = 1;
	}
	rc = s->rc;
	pthread_mutex_unlock(&mu);
	return rc;
}
