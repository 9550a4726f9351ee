/*
 * shimvfs.h - what the project's SQLite VFS shims share: snapvfs.c
 * (the file a snapshot is written to), srcvfs.c (the live database it is
 * read from) and readvfs.c (a backup read ahead for its integrity check). Each is the default VFS in everything but xOpen, and
 * wraps some of the files it opens: our header first, then the default
 * VFS's own file object in the same allocation
 * (https://sqlite.org/vfs.html, https://sqlite.org/c3ref/io_methods.html).
 */
#ifndef SB_SHIMVFS_H
#define SB_SHIMVFS_H

#include <stddef.h>

#include <sqlite3.h>

/* The head of a wrapped file object; each shim's struct embeds it first. */
struct sb_shim_file {
	sqlite3_file	 base;		/* must be first */
	sqlite3_file	*real;		/* the wrapped VFS's file, hdr bytes on */
};

/* hdr rounded up so the real file object after it is aligned for any type. */
#define SB_SHIM_HDR(type)	((sizeof(type) + 15) & ~(size_t)15)

/*
 * One shim. Its file sets name, hdr (SB_SHIM_HDR of its file struct)
 * and xopen; sb_shim_register does the rest, once per process: vfs as a
 * version 2 VFS over the default one (base, also in vfs.pAppData), in
 * which xOpen is xopen, every other method forwards to base, and a file
 * object is hdr bytes of ours plus base's; then registers it with SQLite
 * (not as the default). Returns an SQLite result code, the same on every
 * call: SQLITE_ERROR when the default VFS cannot be wrapped (older than
 * version 2, or too large).
 */
struct sb_shim {
	const char	*name;
	size_t		 hdr;
	int		(*xopen)(sqlite3_vfs *, const char *, sqlite3_file *,
			    int, int *);
	sqlite3_vfs	*base;		/* set by sb_shim_register */
	sqlite3_vfs	 vfs;
	int		 done;
	int		 rc;
};

int	sb_shim_register(struct sb_shim *);

/*
 * Open name with base into f's real object, hdr bytes after f (zeroed
 * before by the caller). On success *version is the real file's methods
 * version (>= 1) and the caller sets f->base.pMethods; on failure nothing
 * is left open and f->base.pMethods stays NULL (SQLite calls no xClose).
 */
int	sb_shim_open_real(sqlite3_vfs *base, struct sb_shim_file *f,
	    size_t hdr, const char *name, int flags, int *outflags,
	    int *version);

/* File methods that only forward to f->real, for the shims' tables. */
int	sb_shim_write(sqlite3_file *, const void *, int, sqlite3_int64);
int	sb_shim_truncate(sqlite3_file *, sqlite3_int64);
int	sb_shim_sync(sqlite3_file *, int);
int	sb_shim_filesize(sqlite3_file *, sqlite3_int64 *);
int	sb_shim_lock(sqlite3_file *, int);
int	sb_shim_unlock(sqlite3_file *, int);
int	sb_shim_checkreserved(sqlite3_file *, int *);
int	sb_shim_filecontrol(sqlite3_file *, int, void *);
int	sb_shim_sectorsize(sqlite3_file *);
int	sb_shim_devchar(sqlite3_file *);
int	sb_shim_shmmap(sqlite3_file *, int, int, int, void volatile **);
int	sb_shim_shmlock(sqlite3_file *, int, int, int);
void	sb_shim_shmbarrier(sqlite3_file *);
int	sb_shim_shmunmap(sqlite3_file *, int);
int	sb_shim_unfetch(sqlite3_file *, sqlite3_int64, void *);

#endif /* SB_SHIMVFS_H */
