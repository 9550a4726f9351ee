/*
 * snapshot_int.h - what snapshot.c (copies out of a database) and
 * snapshot_restore.c (copies into one) share; nothing else includes it.
 * err arguments hold SB_ERRMSG_MAX bytes and may be NULL.
 */
#ifndef SB_SNAPSHOT_INT_H
#define SB_SNAPSHOT_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "snapshot.h"

#define RESTORE_DEADLINE_MS	60000	/* retrying a busy live database */
#define HASH_BUFSZ		(1024 * 1024)	/* read by the hasher at once;
						 * >= the largest page */

/* Our code for an SQLite result code. */
enum sb_err	sb_snapshot_map_rc(int rc);
/* "what path: sqlite message" into err; returns the mapped code. */
enum sb_err	sb_snapshot_dberr(char *err, sqlite3 *db, int rc,
		    const char *what, const char *path);
enum sb_err	sb_snapshot_open_db(const char *path, int flags,
		    const char *vfs, sqlite3 **db, char *err, const char *what);
enum sb_err	sb_snapshot_exec1(sqlite3 *db, const char *sql, char *err,
		    const char *path);
enum sb_err	sb_snapshot_pragma(sqlite3 *db, const char *sql, char *buf,
		    size_t len, char *err, const char *path);
int		sb_snapshot_step(sqlite3_backup *, int npages, int64_t end_ms);
int		sb_snapshot_run_backup(sqlite3_backup *, int64_t deadline_ms);
enum sb_err	sb_snapshot_fsync_file(const char *path, char *err);
void		sb_snapshot_remove_copy(const char *path);
/* How many hashed copies were hashed again by reading the finished file
 * (the hasher's guess of page 1 was wrong, or it could not start). */
unsigned long	sb_snapshot_rehashed(void);
/* How many WAL-mode safety snapshots (take_locked) were byte copies of
 * the database file, not copies through SQLite (snapshot_restore.c). */
unsigned long	sb_snapshot_locked_file_copies(void);
/*
 * Tests only: the next n guesses of page 1 are spoilt (its last byte
 * inverted), as a guess the copy does not confirm would be, so the
 * fallbacks (the file hashed again; an encoded backup encoded again)
 * can be proved. Nothing in the programs calls it.
 */
void		sb_snapshot_spoil_guesses(unsigned long n);

#endif /* SB_SNAPSHOT_INT_H */
