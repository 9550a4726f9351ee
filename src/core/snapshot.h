/*
 * snapshot.h - consistent copies of a live SQLite database, in and out,
 * with SQLite's online backup API (https://sqlite.org/backup.html).
 */
#ifndef SB_SNAPSHOT_H
#define SB_SNAPSHOT_H

#include <stdint.h>

#include "sb.h"

/*
 * Copy the live database at src into a new file dst (which must not
 * exist), as of one instant: the copy runs in one read transaction, so in
 * WAL mode writers go on while it runs; in rollback-journal mode they wait
 * (busy timeout) until it ends. The copy is fsynced. Memory is bounded by
 * SQLite's page cache, whatever the size of the database.
 */
int	sb_snapshot_take(const char *src, const char *dst, char *err);

/*
 * The same, and the sha256 (lowercase hex) and size of the copy, hashed
 * while the copy is flushed to disk.
 */
int	sb_snapshot_take_hashed(const char *src, const char *dst,
	    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err);

/* PRAGMA integrity_check on the file at path, opened read-only. */
int	sb_snapshot_check(const char *path, char *err);

/*
 * Copy the database file from INTO the live database at live, in place,
 * with the backup API: other processes keep their connections and see the
 * new content on their next transaction. Waits (bounded) for writers.
 * *replaced (may be NULL): 1 once the copy into live has committed, even
 * if a later step (the integrity check of live) fails; 0 if live is
 * untouched.
 */
int	sb_snapshot_restore(const char *from, const char *live, int *replaced,
	    char *err);

#endif /* SB_SNAPSHOT_H */
