/*
 * tempfile.h - our temporary files, named so they can be recognised and
 * owned so that "is its operation still running?" has an exact answer.
 *
 * A temp file is <dir>/sb-tmp-<op>-<id>-<rand>; beside it, for its whole
 * life, a companion <dir>/sb-tmp-<op>-<id>-<rand>.lock that the owner
 * holds flock(LOCK_EX) on. SQLite side files (-journal, -wal, -shm) of a
 * temp file share its name. A sweeper removes a temp file (and its side
 * files and companion) only if it can take the companion's lock itself,
 * or if the companion is gone: then no process owns it. The kernel drops
 * the lock when its owner dies, even by SIGKILL, so this is safe to run
 * at any time, by any process, with or without the engine's lock.
 */
#ifndef SB_TEMPFILE_H
#define SB_TEMPFILE_H

#include <limits.h>
#include <stdint.h>

#include "sb.h"

#define SB_TEMP_PREFIX	"sb-tmp-"
#define SB_TEMP_OP_MAX	16	/* letters of an op name */

/* One reserved temp file name; fd holds the companion's lock. */
struct sb_temp {
	char	path[PATH_MAX];	/* the temp file (not created by reserve) */
	int	fd;		/* the companion .lock, -1 when released */
};

/*
 * Reserve a fresh temp name in dir for operation op ([a-z]{1,16}) on id
 * (a uuid, or NULL for none): create and lock its companion. The temp
 * file itself is not created: the caller creates it with O_EXCL. Returns
 * SB_ERR_IO (err says why) or SB_ERR_INVAL; t->fd is -1 on failure.
 */
enum sb_err	sb_temp_reserve(struct sb_temp *t, const char *dir, const char *op,
	    const char *id, char *err);

/* Remove the temp file, its side files and its companion; unlock. */
void	sb_temp_release(struct sb_temp *t);

/*
 * Parse a directory entry name. SB_OK if it is one of ours, with the
 * length of its base (the temp file's own name, without ".lock" or a side
 * file suffix) in *baselen; SB_ERR_INVAL otherwise. op and id (may be
 * NULL; op SB_TEMP_OP_MAX + 1, id SB_UUID_LEN + 1 bytes) get the parts.
 */
enum sb_err sb_temp_parse(const char *name, size_t *baselen, char *op,
	    char *id);

/*
 * Remove every temp file in dir whose owner is gone (see above) and log
 * each removal (event "temp.removed": path and bytes). *files and *bytes
 * (may be NULL) get the totals. Best effort: what cannot be removed is
 * logged and left.
 */
void	sb_temp_sweep(const char *dir, int *files, int64_t *bytes);

/*
 * Is there room for need bytes in dir (statvfs f_bavail)? SB_OK, or
 * SB_ERR_IO with "not enough free space in <dir>: <need> bytes needed,
 * <free> free" (or why dir cannot be examined) in err.
 */
enum sb_err	sb_temp_space(const char *dir, int64_t need, char *err);

#endif /* SB_TEMPFILE_H */
