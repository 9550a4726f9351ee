/*
 * snapvfs.h - internal to snapshot.c: an SQLite VFS for the file a
 * snapshot is written to, which turns the pager's page-sized writes into
 * a few large ones (https://sqlite.org/vfs.html).
 */
#ifndef SB_SNAPVFS_H
#define SB_SNAPVFS_H

/* The name to give sqlite3_open_v2() as zVfs. */
#define SB_SNAPVFS_NAME		"sb-snapshot"

/*
 * sqlite3_file_control() opcode on a database opened with the VFS: write
 * out what is buffered, and write through from then on. Returns the first
 * write error the file had, if any, or SQLITE_OK. Call it after the last
 * statement: a write failing inside xClose could not be reported.
 * (A private number, far from SQLite's own opcodes.)
 */
#define SB_SNAPVFS_FCNTL_SEAL	0x5b5f0001

/*
 * Register the VFS with SQLite (once; not as the default). Returns an
 * SQLite result code.
 */
int	sb_snapvfs_register(void);

#endif /* SB_SNAPVFS_H */
