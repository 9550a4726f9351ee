/*
 * readvfs.h - internal to snapshot.c: an SQLite VFS that reads a
 * read-only database file ahead, in windows of 256 KiB, for a pass over
 * all of it (PRAGMA integrity_check of a backup) at a fraction of the
 * read(2) calls (https://sqlite.org/vfs.html).
 */
#ifndef SB_READVFS_H
#define SB_READVFS_H

/* The name to give sqlite3_open_v2() as zVfs. */
#define SB_READVFS_NAME		"sb-readahead"

/*
 * Register the VFS with SQLite (once; not as the default). Returns an
 * SQLite result code.
 */
int	sb_readvfs_register(void);

/* How many windows were filled, process-wide (tests). */
unsigned long	sb_readvfs_fills(void);

#endif /* SB_READVFS_H */
