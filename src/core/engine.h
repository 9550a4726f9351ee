/*
 * engine.h - what an admin can do with backups: create, list, delete,
 * restore, verify, prune, reconcile. Both binaries are thin layers over
 * this. The safety rules of docs/ARCHITECTURE.md live here.
 */
#ifndef SB_ENGINE_H
#define SB_ENGINE_H

#include "drill.h"
#include "sb.h"
#include "store.h"
#include "retention.h"

struct sb_config;
struct sb_engine;

/*
 * Open the catalog and the store the config names. The config is borrowed
 * and must outlive the engine. *out freed with sb_engine_close. Fails only
 * when the catalog (or the reporter) cannot be set up: a store that cannot
 * be opened is remembered, every store operation then fails with its
 * error, and sb_engine_create records and reports a failed backup.
 */
enum sb_err	 sb_engine_open(struct sb_engine **out,
		    const struct sb_config *, char *err);
void		 sb_engine_close(struct sb_engine **);
/*
 * The keys the configuration gives, checked as sb_engine_open would:
 * SB_ERR_CONFIG (err says what to do) when it asks for encryption and
 * the keyring has no usable key. The programs call it before they start:
 * never plaintext by accident.
 */
enum sb_err	 sb_engine_keys_check(const struct sb_config *, char *err);
/*
 * The same on a store the caller opened (tests: a store that injects
 * faults), instead of the config's. The engine owns store from the call
 * on, also on failure; it must be this service's (sb_store_guard).
 */
enum sb_err	 sb_engine_open_store(struct sb_engine **out,
		    const struct sb_config *, struct sb_store *store,
		    char *err);

/*
 * Is the store open and this service's? SB_OK, or the error of opening
 * it (SB_ERR_IDENTITY: its marker is missing or not ours), with the
 * message in sb_engine_errmsg(). Tries to open it again if it failed
 * before, as every store operation does.
 */
enum sb_err	 sb_engine_store_ready(struct sb_engine *);

/* The message of the last failure. */
const char	*sb_engine_errmsg(const struct sb_engine *);

/*
 * Take a backup now: check the arguments and that the metadata fits the
 * store (SB_ERR_INVAL, nothing recorded); lock; record pending; check the
 * store, the source and the free space; snapshot; hash; upload with
 * metadata; record completed with size and sha256. On any failure after
 * the pending record, the record becomes failed with the reason and the
 * failure is reported (the webhook after the lock is released). out (may
 * be NULL) gets the final record. tags: ntags strings, validated.
 */
enum sb_err	sb_engine_create(struct sb_engine *, enum sb_type,
	    const char *description, const char *const *tags, size_t ntags,
	    struct sb_backup *out);

enum sb_err	sb_engine_get(struct sb_engine *, const char *id,
	    struct sb_backup *);
enum sb_err	sb_engine_list(struct sb_engine *, const struct sb_filter *,
	    struct sb_backup_list *);
/* How many backups match f, limit and offset aside (the total of a page). */
enum sb_err	sb_engine_count(struct sb_engine *, const struct sb_filter *,
	    int64_t *count);

/*
 * The backups and restores running now (progress.h), newest first, at
 * most max into v (*n of them): those of backup_id (the backup being
 * created, or restored from) or all when it is NULL. Rows whose
 * operation is no longer pending (a process that died) are left out.
 */
struct sb_running;
enum sb_err	sb_engine_running(struct sb_engine *, const char *backup_id,
	    struct sb_running *v, size_t max, size_t *n);

/* Delete a manual backup: SB_ERR_AUTOMATIC for an automatic one. */
enum sb_err	sb_engine_delete(struct sb_engine *, const char *id);

/*
 * Restore (docs/ARCHITECTURE.md, "A restore"): engine lock; free space;
 * the backup as a local file (read in place, or downloaded); its size,
 * sha256 and integrity_check, before anything is locked or written; the
 * live DB's write lock; the safety backup of the live DB (must succeed;
 * in WAL mode the copy's pages go into live's WAL meanwhile, uncommitted);
 * the commit; a check that live is the backup; record. Before the copy
 * commits, any failure leaves the live DB untouched; after it, a failure
 * is recorded saying the live DB WAS replaced. out gets the restore
 * record (with the safety backup id).
 */
enum sb_err	sb_engine_restore(struct sb_engine *, const char *id,
	    struct sb_restore *out);

/* Download and verify a backup without touching anything. */
enum sb_err	sb_engine_verify(struct sb_engine *, const char *id);

/*
 * Restore drill of a completed backup (docs/OPERATIONS.md): fetch it
 * as verify does (size, sha256, integrity_check; in place on a disk
 * store, else into a scratch file in temp_dir, removed after), then
 * foreign_key_check, the [drill] smoke queries (read-only, each stopped
 * after [drill] timeout) and its schema against the live database's
 * (read-only; a difference is noted, not a failure). Never writes the
 * live database; takes no lock. The result is recorded on the backup
 * (verified_at, verify_status, verify_detail): SB_OK passed,
 * SB_ERR_CORRUPT failed. Other errors (store, disk) mean the drill
 * could not run: nothing recorded. Every failure is reported
 * (drill.failed). out (may be NULL) gets the record after the drill.
 */
enum sb_err	sb_engine_drill(struct sb_engine *, const char *id,
		    struct sb_backup *out);

/*
 * The backups a drill without ids runs on, into out: every completed
 * one (all), or the nightly choice (sb_drill_choose): the newest
 * automatic backup and the one drilled longest ago.
 */
enum sb_err	sb_engine_drill_choose(struct sb_engine *, int all,
		    struct sb_backup_list *out);

/*
 * `backup-cron check`: the health of the backups (sb_health_eval) from
 * the catalog, the prune state and the store's marker. A change from
 * the last verdict is reported once: worse and not OK: backups.stale;
 * back to OK: backups.recovered. SB_OK with the verdict in out; else
 * the catalog could not be read (out->health UNKNOWN).
 */
#define SB_STATE_CHECK	"check"		/* monitor_state names */
#define SB_STATE_PRUNE	"prune"
#define SB_PRUNE_HALTED	"halted"	/* "prune" states */
#define SB_PRUNE_OK	"ok"
struct sb_check_result {
	enum sb_health	health;
	char		reason[1024];
	int64_t		age_hours;	/* of the newest automatic, -1 none */
	unsigned	warn_hours;	/* perfdata thresholds */
	unsigned	max_hours;
};
enum sb_err	sb_engine_check(struct sb_engine *, struct sb_check_result *);

/*
 * GET /backups/status and the metrics (status.h): the catalog's tally and
 * summary, the prune state, the live database's size and check's verdict
 * from the same rules, without contacting the store (no network call on a
 * status page; `check` does). Nothing is reported or recorded.
 */
struct sb_overview;
enum sb_err	sb_engine_status(struct sb_engine *, struct sb_overview *);

/*
 * A download's callbacks, all given arg. begin (may be NULL) is called
 * once, when the engine has decided the backup can be downloaded and
 * before the first byte, with its record (borrowed for the call): a front
 * end takes the name and size for its headers there. write gets the bytes.
 */
struct sb_download_cb {
	void		(*begin)(void *arg, const struct sb_backup *);
	sb_write_fn	 write;
	void		*arg;
};

/*
 * Stream a backup's object through cb. Only a completed backup has one:
 * a pending or failed one is SB_ERR_NOTFOUND (the message says which),
 * and begin is not called. A store failure may come before the first
 * write or after some.
 */
enum sb_err	sb_engine_download(struct sb_engine *, const char *id,
		    const struct sb_download_cb *cb);

/*
 * Apply retention (see retention.h) under the lock. flags:
 *  SB_PRUNE_DRY_RUN: plan only; no lock, nothing deleted or recorded;
 *  SB_PRUNE_CONFIRM_CLOCK: the admin confirms the clock first: records
 *    and gaps up to now (or the newest record, if later) no longer halt
 *    prune; recorded in the catalog setting "clock_confirmed" and logged
 *    (prune.clock_confirmed), unless a dry run.
 * A plan that ran (not halted, not a dry run) stores in the setting
 * "prune_gaps_checked" the newest automatic record it checked for gaps.
 * out->plan gets the decisions (for every record, manual ones too); its
 * backups point into out->list: sb_prune_result_clear releases both.
 */
enum {
	SB_PRUNE_DRY_RUN = 1 << 0,
	SB_PRUNE_CONFIRM_CLOCK = 1 << 1
};
#define SB_SETTING_CLOCK_CONFIRMED	"clock_confirmed"
#define SB_SETTING_CLOCK_CONFIRMED_AT	"clock_confirmed_at"
#define SB_SETTING_GAPS_CHECKED		"prune_gaps_checked"

struct sb_prune_result {
	struct sb_backup_list		list;
	struct sb_retention_plan	plan;
	size_t				deleted;
	size_t				errors;
	int64_t				clock_confirmed; /* the mark
						 --confirm-clock set, or 0 */
};
void	sb_prune_result_clear(struct sb_prune_result *);
enum sb_err	sb_engine_prune(struct sb_engine *, unsigned flags,
	    struct sb_prune_result *out);

/*
 * Rebuild the catalog from the store: every object that parses as a
 * backup name is recorded as completed with its metadata; catalog records
 * claiming completed whose object is gone become failed. Unless force,
 * refuses (SB_ERR_IDENTITY, nothing changed) when more than
 * SB_RECONCILE_MISSING_MIN completed records and more than half of them
 * would be marked missing: that is a wrong or empty store far more often
 * than real losses.
 */
#define SB_RECONCILE_MISSING_MIN	3
struct sb_reconcile_result {
	size_t	added;		/* records created from objects */
	size_t	updated;	/* records whose fields were repaired */
	size_t	missing;	/* completed records without an object */
	size_t	skipped;	/* objects that are not backups */
	size_t	unreadable;	/* encrypted objects whose sealed description
				   and tags could not be read (key missing):
				   recorded without them, each logged */
};
enum sb_err	sb_engine_reconcile(struct sb_engine *, int force,
	    struct sb_reconcile_result *);

/*
 * `backup-cron init`: create the store's place if missing, write its
 * marker if missing, and make the catalog remember the store's id. Needs
 * no engine (the store is not usable before). Refuses (SB_ERR_IDENTITY)
 * a marker of another service or prefix, and, unless force, a store whose
 * id differs from the one the catalog remembers. out (may be NULL) gets
 * the marker; *created whether this call wrote it.
 */
enum sb_err	sb_engine_init(const struct sb_config *, int force,
	    struct sb_store_marker *out, int *created, char *err);

/*
 * Crash repair, if no writer holds the lock (the same runs whenever a
 * writing operation takes it): pending backups and restores become
 * failed, and temp files of operations no longer running are removed
 * and logged (tempfile.h). *count gets the records repaired.
 */
enum sb_err	sb_engine_repair_pending(struct sb_engine *, int *count);

#endif /* SB_ENGINE_H */
