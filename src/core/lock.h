/*
 * lock.h - one writing operation at a time per source database, across
 * processes: an exclusive flock(2) on a lock file. The kernel drops it when
 * the holder dies, so a crashed worker never leaves the system locked.
 */
#ifndef SB_LOCK_H
#define SB_LOCK_H

#include "sb.h"

struct sb_lock {
	int	fd;	/* -1 when not held */
};

/* A lock not held: struct sb_lock l = SB_LOCK_INIT; (not {0}: fd 0 is stdin) */
#define SB_LOCK_INIT	{ -1 }

/*
 * Try to take the lock without waiting. SB_ERR_BUSY if another process (or
 * another open file description in this one) holds it; SB_ERR_IO with err
 * set if the file cannot be opened.
 */
enum sb_err	sb_lock_acquire(struct sb_lock *, const char *path, char *err);
void	sb_lock_release(struct sb_lock *);

#endif /* SB_LOCK_H */
