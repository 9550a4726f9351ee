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
 * sqlite3_file_control() opcode: watch the writes, arg a struct
 * sb_snapvfs_track (which must outlive the file). Set it before the first
 * write. The VFS follows the region that starts at from and grows by
 * writes that continue it exactly (the backup API writes pages 2..N in
 * order; from is the page size); writes that end at or before from
 * (page 1) are left alone, and the lock-byte page may be skipped.
 * flushed(arg, end) says that [from, end) is all written to the file;
 * broken(arg) says, once, that a write or truncate left that pattern (a
 * gap, a rewrite, a failed write): what was reported may be stale.
 * Both are called on the thread writing the database.
 */
#define SB_SNAPVFS_FCNTL_TRACK	0x5b5f0002

struct sb_snapvfs_track {
	long long	  from;
	void		(*flushed)(void *arg, long long end);
	void		(*broken)(void *arg);
	void		 *arg;
};

/*
 * sqlite3_file_control() opcode: report how far the file has been
 * written, arg a struct sb_snapvfs_watch (which must outlive the file):
 * wrote(arg, end) after each write SQLite makes, with end the largest
 * offset written so far (buffered or not). Progress only: called on the
 * thread writing the database, it must be cheap.
 */
#define SB_SNAPVFS_FCNTL_WATCH	0x5b5f0003

struct sb_snapvfs_watch {
	void		(*wrote)(void *arg, long long end);
	void		 *arg;
};

/*
 * Register the VFS with SQLite (once; not as the default). Returns an
 * SQLite result code.
 */
int	sb_snapvfs_register(void);

#endif /* SB_SNAPVFS_H */
