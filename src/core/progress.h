/*
 * progress.h - how far a running backup or restore has got, where every
 * process of the service can read it: the catalog's table `running`
 * (catalog schema version 5), written by a thread of the operation at
 * most once a second, read by GET /backups/:id, GET /backups/status and
 * `backup-cron show`.
 *
 * The hot paths (the snapshot's writes, blocks staged, a download's
 * mark, the restore's copy steps) only store a number in memory
 * (sb_progress_set, sb_progress_add: an atomic store or add); the thread
 * turns it into one small UPDATE a second on a connection of its own, so
 * a catalog that is busy never holds them up.
 */
#ifndef SB_PROGRESS_H
#define SB_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"

/* What runs. */
enum sb_op {
	SB_OP_BACKUP,		/* a backup being created */
	SB_OP_RESTORE,		/* a restore, from backup_id */
	SB_OP__MAX
};

/*
 * Its phases, in order: backup = snapshot, upload; restore = download
 * (remote store) or verify (the sha256 of a local object), then
 * safety_backup, copy.
 */
enum sb_phase {
	SB_PHASE_SNAPSHOT,	/* bytes of the copy written */
	SB_PHASE_UPLOAD,	/* bytes staged or sent to the store */
	SB_PHASE_DOWNLOAD,	/* bytes downloaded without a hole */
	SB_PHASE_VERIFY,	/* bytes hashed */
	SB_PHASE_SAFETY_BACKUP,	/* bytes of the safety snapshot written */
	SB_PHASE_COPY,		/* pages copied into live x page size */
	SB_PHASE__MAX
};

const char	*sb_op_str(enum sb_op);
const char	*sb_phase_str(enum sb_phase);
/* SB_OK and *out, or SB_ERR_INVAL for a name that is none of them. */
enum sb_err	 sb_op_parse(const char *, enum sb_op *out);
enum sb_err	 sb_phase_parse(const char *, enum sb_phase *out);

/* One row of `running`: times in ms since the epoch, total -1 unknown. */
struct sb_running {
	char		op_id[SB_UUID_LEN + 1];	/* the backup's or the
						   restore's own id */
	enum sb_op	op;
	char		backup_id[SB_UUID_LEN + 1]; /* created, or restored
						   from */
	enum sb_phase	phase;
	int64_t		bytes_done;
	int64_t		bytes_total;
	int64_t		started_at;
	int64_t		updated_at;
};

/* At most this many rows are read (one lock: one operation at a time). */
#define SB_RUNNING_MAX	8

/*
 * The JSON form (docs/openapi.json, Progress): {operation, phase,
 * bytes_done, bytes_total (null: unknown), started_at, updated_at}, and
 * backup_id first when with_id (GET /backups/status's running). A new
 * object, NULL when out of memory.
 */
struct json_object;
struct json_object	*sb_running_json(const struct sb_running *,
			    int with_id);
/*
 * One line for people: "backup, snapshot: 1.5 GiB of 2.0 GiB (75%),
 * updated 2026-12-02T07:30:00.000Z" into buf (len bytes).
 */
void	sb_running_line(const struct sb_running *, char *buf, size_t len);

/* --- the throttle (pure; unit tested) ------------------------------------ */

#define SB_PROGRESS_PERIOD_MS	1000	/* at most one write a period */

/*
 * What was last written, and when (a monotonic clock, ms). A write is
 * due when the period since the last one has passed and what would be
 * written differs from it.
 */
struct sb_throttle {
	int64_t		last_ms;	/* 0: never written */
	enum sb_phase	phase;
	int64_t		done;
	int64_t		total;
};

/* ms to wait from now before a write may be made (0: now). */
int64_t	sb_throttle_wait_ms(const struct sb_throttle *, int64_t now_ms);
/*
 * The values to write for (phase, done, total) as readers must see
 * them: done never above a known total, and never below what was written
 * before in the same phase. *due: the period has passed and they differ
 * from what was last written.
 */
void	sb_throttle_view(const struct sb_throttle *, int64_t now_ms,
	    enum sb_phase, int64_t *done, int64_t *total, int *due);
/* They were written at now_ms. */
void	sb_throttle_mark(struct sb_throttle *, int64_t now_ms,
	    enum sb_phase, int64_t done, int64_t total);

/* --- the recorder ----------------------------------------------------------- */

struct sb_progress;

/*
 * Start recording operation op_id (op, of backup_id) in the catalog at
 * catalog_path: the row is inserted in phase first with total (-1 for
 * unknown), then a thread updates it at most once a second. *out owned
 * by the caller: sb_progress_end. A recorder that cannot start is no
 * failure of the operation: *out is NULL (all calls below accept it) and
 * err says why, for the log.
 */
enum sb_err	sb_progress_start(struct sb_progress **out,
		    const char *catalog_path, enum sb_op, const char *op_id,
		    const char *backup_id, enum sb_phase first,
		    int64_t total, char *err);
/* The next phase, with its total (-1: unknown). */
void	sb_progress_phase(struct sb_progress *, enum sb_phase,
	    int64_t total);
/* The current phase's total, known better now. */
void	sb_progress_total(struct sb_progress *, int64_t total);
/* done bytes of the current phase (only grows; smaller is ignored). */
void	sb_progress_set(struct sb_progress *, int64_t done);
/* The same for phase, which need not be the current one. Any thread. */
void	sb_progress_set_in(struct sb_progress *, enum sb_phase,
	    int64_t done);
/* sb_progress_set for a callback (sb_sha256_file_tick): arg is p. */
void	sb_progress_tick(void *p, int64_t done);
/*
 * n more bytes of phase (which need not be the current one: blocks staged
 * while the snapshot is written count for the upload). Any thread.
 */
void	sb_progress_add(struct sb_progress *, enum sb_phase, int64_t n);
/*
 * What the recorder holds now for phase (not yet written, perhaps):
 * its bytes done and total (-1 unknown); the current phase. For tests
 * and logs; 0, -1 and SB_PHASE__MAX for a NULL recorder.
 */
int64_t		sb_progress_done(const struct sb_progress *, enum sb_phase);
int64_t		sb_progress_total_of(const struct sb_progress *,
		    enum sb_phase);
enum sb_phase	sb_progress_current(const struct sb_progress *);
/* Stop the thread and remove the row. *p NULL after; NULL-safe. */
void	sb_progress_end(struct sb_progress **);

#endif /* SB_PROGRESS_H */
