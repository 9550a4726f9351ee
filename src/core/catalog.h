/*
 * catalog.h - the backup-db: an SQLite database recording every backup and
 * every restore. Versioned migrations run on open (PRAGMA user_version).
 * Opened in WAL mode with a busy timeout, so backupd workers and
 * backup-cron can share it.
 */
#ifndef SB_CATALOG_H
#define SB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "progress.h"
#include "sb.h"

struct sb_catalog;

/* Newest schema version this build knows. */
#define SB_CATALOG_VERSION	6

/*
 * Open (creating if missing) and migrate. Refuses a catalog whose version
 * is newer than SB_CATALOG_VERSION. *out freed with sb_catalog_close.
 */
enum sb_err sb_catalog_open(struct sb_catalog **out, const char *path,
		    char *err);
/*
 * Another connection to a catalog already opened (so migrated) by this
 * process, for another thread: no migration, and a version other than
 * SB_CATALOG_VERSION is refused.
 */
enum sb_err sb_catalog_attach(struct sb_catalog **out, const char *path,
		    char *err);
void		 sb_catalog_close(struct sb_catalog **);
const char	*sb_catalog_errmsg(const struct sb_catalog *);
enum sb_err sb_catalog_version(struct sb_catalog *, int *version);

/* Insert a new record (any status). SB_ERR_INVAL if the id exists. */
enum sb_err	sb_catalog_insert(struct sb_catalog *, const struct sb_backup *);

/* Insert or replace every field (reconcile). */
enum sb_err	sb_catalog_upsert(struct sb_catalog *, const struct sb_backup *);

/*
 * pending -> completed with size and sha256 (of the plain .db) and the
 * stored object's size (-1 unknown). SB_ERR_NOTFOUND if no such.
 */
enum sb_err	sb_catalog_complete(struct sb_catalog *, const char *id,
	    int64_t completed_at, int64_t size, const char *sha256,
	    int64_t stored_size);

/* any -> failed with the reason. */
enum sb_err	sb_catalog_fail(struct sb_catalog *, const char *id,
	    int64_t completed_at, const char *error);

/*
 * Mark every pending record failed with reason (used when the lock is
 * taken: nothing else can be writing, so a pending row is an interrupted
 * operation). *count gets the number marked (may be NULL).
 */
enum sb_err	sb_catalog_fail_pending(struct sb_catalog *, int64_t now,
	    const char *error, int *count);

/* One record; SB_ERR_NOTFOUND if absent. out cleared first. */
enum sb_err	sb_catalog_get(struct sb_catalog *, const char *id,
	    struct sb_backup *out);

/* Filtered list, newest first (created_at desc, id desc). */
enum sb_err	sb_catalog_list(struct sb_catalog *, const struct sb_filter *,
	    struct sb_backup_list *out);

/* Every record of one type (retention), newest first, unbounded. */
enum sb_err	sb_catalog_list_type(struct sb_catalog *, enum sb_type,
	    struct sb_backup_list *out);

/* Every completed record, newest first, unbounded (drills). */
enum sb_err	sb_catalog_list_completed(struct sb_catalog *,
	    struct sb_backup_list *out);

/* Count matching the filter (ignores limit/offset). */
enum sb_err	sb_catalog_count(struct sb_catalog *, const struct sb_filter *,
	    int64_t *count);

/* Remove a record; SB_ERR_NOTFOUND if absent. */
enum sb_err	sb_catalog_delete(struct sb_catalog *, const char *id);

/* Restores. */
enum sb_err	sb_catalog_restore_insert(struct sb_catalog *,
	    const struct sb_restore *);
enum sb_err	sb_catalog_restore_finish(struct sb_catalog *, const char *id,
	    int64_t finished_at, enum sb_status, const char *safety_id,
	    const char *error);
/* Every pending restore -> failed with reason (see fail_pending). */
enum sb_err	sb_catalog_restore_fail_pending(struct sb_catalog *, int64_t now,
	    const char *error, int *count);
enum sb_err	sb_catalog_restore_get(struct sb_catalog *, const char *id,
	    struct sb_restore *out);

/*
 * Settings: small named facts this catalog remembers (store identity,
 * admin confirmations). get: SB_ERR_NOTFOUND if never set, SB_ERR_INVAL
 * if the value does not fit in len bytes with its NUL.
 */
enum sb_err	sb_catalog_setting_get(struct sb_catalog *, const char *key,
	    char *buf, size_t len);
enum sb_err	sb_catalog_setting_set(struct sb_catalog *, const char *key,
	    const char *value, int64_t now);

/*
 * The result of backup id's restore drill, at (ms), detail in words.
 * SB_ERR_NOTFOUND if no such backup (pruned meanwhile).
 */
enum sb_err	sb_catalog_drill_set(struct sb_catalog *, const char *id,
	    int64_t at, enum sb_verify, const char *detail);

/*
 * What `backup-cron check` (and a status page) reads of the backups, in
 * one read transaction. Times in ms, 0 for none.
 */
struct sb_catalog_summary {
	int64_t		newest_auto;	/* created_at of the newest completed
					   automatic backup */
	int64_t		last_drill;	/* newest verified_at */
	int64_t		completed;	/* completed backups */
	char		latest_id[SB_UUID_LEN + 1]; /* newest finished
					   (completed or failed), "" none */
	enum sb_status	latest_status;
	char		drill_failed_id[SB_UUID_LEN + 1]; /* a completed
					   backup whose latest drill failed
					   (the latest such), "" none */
};
enum sb_err	sb_catalog_summary(struct sb_catalog *,
	    struct sb_catalog_summary *out);

/*
 * Monitored states (table monitor_state): the last state of name, its
 * reason and since when. set keeps since while the state is unchanged.
 * get: SB_ERR_NOTFOUND if never set.
 */
#define SB_STATE_NAME_MAX	16
struct sb_state {
	char	state[SB_STATE_NAME_MAX + 1];
	char	reason[SB_ERRMSG_MAX];
	int64_t	since;
	int64_t	updated_at;
};
enum sb_err	sb_catalog_state_get(struct sb_catalog *, const char *name,
	    struct sb_state *out);
enum sb_err	sb_catalog_state_set(struct sb_catalog *, const char *name,
	    const char *state, const char *reason, int64_t now);

/*
 * What GET /backups/status and the metrics read besides the summary (a
 * few statements: a write may land between them). Times in ms, 0 (and "" ids) for none; durations
 * in ms, -1 for none.
 */
struct sb_catalog_event {
	char		id[SB_UUID_LEN + 1];
	int64_t		at;		/* completed_at (finished) */
	enum sb_type	type;
};
struct sb_catalog_tally {
	int64_t			count[SB_TYPE__MAX][SB_STATUS__MAX];
	int64_t			bytes[SB_TYPE__MAX][SB_STATUS__MAX];
	struct sb_catalog_event	last_success;	/* newest completed */
	struct sb_catalog_event	last_failure;	/* newest failed */
	struct sb_catalog_event	verified;	/* newest verified_at, any
						   status of the drill */
	int64_t			backup_ms;	/* last finished backup */
	int64_t			restore_ms;	/* last finished restore */
};
enum sb_err	sb_catalog_tally(struct sb_catalog *,
	    struct sb_catalog_tally *out);

/*
 * Operations running now (table running, progress.h). put inserts or
 * replaces r; update sets phase and bytes (total -1: unknown, NULL) and
 * updated_at of op_id; del removes op_id's row (none: SB_OK); clear
 * removes every row (crash repair, lock held), *count (may be NULL) gets
 * how many. list reads the rows whose operation is still pending
 * (backups.status or restores.status), newest first, only those of
 * backup_id unless it is NULL, at most max into v; *n gets how many.
 */
enum sb_err	sb_catalog_running_put(struct sb_catalog *,
	    const struct sb_running *r);
enum sb_err	sb_catalog_running_update(struct sb_catalog *,
	    const char *op_id, enum sb_phase, int64_t done, int64_t total,
	    int64_t now);
enum sb_err	sb_catalog_running_del(struct sb_catalog *, const char *op_id);
enum sb_err	sb_catalog_running_clear(struct sb_catalog *, int *count);
enum sb_err	sb_catalog_running_list(struct sb_catalog *,
	    const char *backup_id, struct sb_running *v, size_t max,
	    size_t *n);

#endif /* SB_CATALOG_H */
