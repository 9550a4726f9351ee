/*
 * snapshot.h - consistent copies of a live SQLite database, in and out,
 * with SQLite's online backup API (https://sqlite.org/backup.html).
 */
#ifndef SB_SNAPSHOT_H
#define SB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"

/*
 * Copy the live database at src into a new file dst (which must not
 * exist), as of one instant: the copy runs in one read transaction, so in
 * WAL mode writers go on while it runs; in rollback-journal mode they wait
 * (busy timeout) until it ends. The copy is fsynced. Memory is bounded by
 * SQLite's page cache, whatever the size of the database.
 */
enum sb_err	sb_snapshot_take(const char *src, const char *dst, char *err);

/*
 * The same, and the sha256 (lowercase hex) and size of the copy, hashed
 * while the copy is flushed to disk.
 */
enum sb_err	sb_snapshot_take_hashed(const char *src, const char *dst,
	    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err);

/*
 * The same, and the bytes of the copy written reported to p (may be
 * NULL) as its current phase (progress.h): the total is the source's
 * page count times its page size as the copy starts.
 */
struct sb_progress;
enum sb_err	sb_snapshot_take_watched(const char *src, const char *dst,
	    char sha[SB_SHA256_HEX + 1], int64_t *size,
	    struct sb_progress *p, char *err);

/*
 * sb_snapshot_take_watched, and the copy's bytes handed to sink (in the
 * order of the file, from another thread) while they are hashed, so a
 * caller can encode the snapshot as it is written. The hasher starts
 * from a guess of the final page 1 (snapshot.c): *streamed is 1 when the
 * guess held and sink got exactly the final file, once, in order; 0 when
 * it did not (the guess was stale, sink returned non-zero, or the hasher
 * could not run): sink may then have got part of a stream, and the
 * caller must read the file instead. sink returns 0, or non-zero to stop
 * being called. sink may be NULL. With a sink the copy is not fsynced
 * (nor its write-back started early): it is only the source of what the
 * sink makes, which the caller makes durable.
 */
typedef int	(*sb_snapshot_sink)(void *arg, const void *buf, size_t len);
enum sb_err	sb_snapshot_take_streamed(const char *src, const char *dst,
	    char sha[SB_SHA256_HEX + 1], int64_t *size, struct sb_progress *p,
	    sb_snapshot_sink sink, void *arg, int *streamed, char *err);

/*
 * The 100-byte header of the database file at path: magic, page size, a
 * length of whole pages not shorter than the page count it records.
 * SB_ERR_CORRUPT or SB_ERR_IO (err says why). *wal (may be NULL): the
 * header marks the file as WAL mode, so even a read-only open makes -wal
 * and -shm files beside it.
 */
enum sb_err	sb_snapshot_header(const char *path, int *wal, char *err);

/* PRAGMA integrity_check on the file at path, opened read-only. */
enum sb_err	sb_snapshot_check(const char *path, char *err);

/*
 * Copy the database file from INTO the live database at live, in place,
 * with the backup API: other processes keep their connections and see the
 * new content on their next transaction. Waits (bounded) for writers.
 * After the copy, live must be the backup in what a writer does not
 * change: its page size, and the backup's schema is in it (not a second
 * integrity_check: the caller checks the backup's integrity before). *replaced (may be NULL): 1 once the copy into live
 * has committed, even if a later step (that check) fails; 0 if live is
 * untouched.
 */
enum sb_err	sb_snapshot_restore(const char *from, const char *live, int *replaced,
	    char *err);

/*
 * The same restore in halves, so the caller can act while the live
 * database's write lock is held and before any page of it changes (the
 * safety backup of a restore: exactly the state the restore replaces).
 *
 * begin	checks from and live as sb_snapshot_restore does, then takes
 *		live's write lock and keeps it (a zero-page backup step): in
 *		WAL mode the WAL write lock (readers go on), in
 *		rollback-journal mode an EXCLUSIVE lock (readers wait too).
 *		Writers wait on their busy timeout until finish or abort.
 *		*out owned by the caller: finish or abort frees it.
 * take_locked	the snapshot of live as of now into the new file dst,
 *		fsynced, with its sha256 and size: a byte copy of live's
 *		database file, through the lock holder's own file in
 *		rollback-journal mode (no other connection can read), in
 *		WAL mode once a checkpoint has copied every committed frame
 *		into it (else through another connection, as a backup).
 * pages	WAL mode only (else SB_ERR_INVAL): copies every page but
 *		the last into live's WAL, uncommitted: no reader and no
 *		crash recovery sees them, so live is unchanged and abort
 *		still leaves it so, while the safety snapshot (its own
 *		read transaction, from before them) is taken at the same
 *		time in another thread. A failure gives the copy up
 *		(rolled back, the lock released) and is returned, and
 *		returned again by finish, which then copies nothing.
 * stop	(any thread) makes pages return within a step (16 MiB), its
 *		work left for abort to roll back: the safety backup failed,
 *		the rest of the copy would be for nothing.
 * finish	copies the pages not yet copied, commits, checks live
 *		(journal mode; page size and schema are the backup's);
 *		*replaced as for sb_snapshot_restore; *unlocked_ms (may
 *		be NULL) the sb_mono_ms() at which the commit released the
 *		write lock (0 if it did not commit). What follows the
 *		commit (the checks, and in WAL mode the checkpoint SQLite
 *		runs at the connection's next statement, then close) holds
 *		no writer up. Frees *tp.
 * take_locked_streamed  the same, the snapshot's bytes handed to a sink
 *		as sb_snapshot_take_streamed does: *streamed 1 when the
 *		sink got exactly the file, in order; 0 when it refused a
 *		piece or the copy through another connection's guess of
 *		page 1 failed, and the caller reads the file (fsynced
 *		then; not when streamed).
 * abort	gives up: live is untouched, the lock released. Frees *tp;
 *		NULL or *tp NULL is a no-op.
 */
struct sb_restore_txn;
enum sb_err	sb_snapshot_restore_begin(const char *from, const char *live,
	    struct sb_restore_txn **out, char *err);
int	sb_is_restore_wal(const struct sb_restore_txn *);
/*
 * Report to p (may be NULL) the bytes take_locked writes, as p's current
 * phase, and the pages pages and finish copy (x the page size), as phase
 * copy whatever the current one is.
 */
void	sb_snapshot_restore_watch(struct sb_restore_txn *,
	    struct sb_progress *p);
/* The bytes the copy writes: the backup's pages x its page size. */
int64_t	sb_snapshot_restore_bytes(const struct sb_restore_txn *);
enum sb_err	sb_snapshot_restore_pages(struct sb_restore_txn *, char *err);
void	sb_snapshot_restore_stop(struct sb_restore_txn *);
enum sb_err	sb_snapshot_take_locked(struct sb_restore_txn *, const char *dst,
	    char sha[SB_SHA256_HEX + 1], int64_t *size, char *err);
enum sb_err	sb_snapshot_take_locked_streamed(struct sb_restore_txn *,
	    const char *dst, char sha[SB_SHA256_HEX + 1], int64_t *size,
	    sb_snapshot_sink sink, void *arg, int *streamed, char *err);
enum sb_err	sb_snapshot_restore_finish(struct sb_restore_txn **, int *replaced,
	    int64_t *unlocked_ms, char *err);
void	sb_snapshot_restore_abort(struct sb_restore_txn **);

#endif /* SB_SNAPSHOT_H */
