/*
 * engine.h - what an admin can do with backups: create, list, delete,
 * restore, verify, prune, reconcile. Both binaries are thin layers over
 * this. The safety rules of docs/ARCHITECTURE.md live here.
 */
#ifndef SB_ENGINE_H
#define SB_ENGINE_H

#include "sb.h"
#include "store.h"
#include "retention.h"

struct sb_config;
struct sb_engine;

/*
 * Open the catalog and the store the config names. The config is borrowed
 * and must outlive the engine. *out freed with sb_engine_close.
 */
int		 sb_engine_open(struct sb_engine **out,
		    const struct sb_config *, char *err);
void		 sb_engine_close(struct sb_engine **);

/* The message of the last failure. */
const char	*sb_engine_errmsg(const struct sb_engine *);

/*
 * Take a backup now: lock; record pending; snapshot; hash; upload with
 * metadata; record completed with size and sha256. On any failure after
 * the pending record, the record becomes failed with the reason and the
 * failure is reported. out (may be NULL) gets the final record.
 * tags: ntags strings, validated.
 */
int	sb_engine_create(struct sb_engine *, enum sb_type,
	    const char *description, const char *const *tags, size_t ntags,
	    struct sb_backup *out);

int	sb_engine_get(struct sb_engine *, const char *id, struct sb_backup *);
int	sb_engine_list(struct sb_engine *, const struct sb_filter *,
	    struct sb_backup_list *);

/* Delete a manual backup: SB_ERR_AUTOMATIC for an automatic one. */
int	sb_engine_delete(struct sb_engine *, const char *id);

/*
 * Restore: lock; download; verify size and sha256; integrity_check the
 * copy; safety backup of the live DB (must succeed); copy into the live DB;
 * integrity_check; record. Before the copy, any failure leaves the live DB
 * untouched. out gets the restore record (with the safety backup id).
 */
int	sb_engine_restore(struct sb_engine *, const char *id,
	    struct sb_restore *out);

/* Download and verify a backup without touching anything. */
int	sb_engine_verify(struct sb_engine *, const char *id);

/* Stream a completed backup's object into w. */
int	sb_engine_download(struct sb_engine *, const char *id,
	    sb_write_fn w, void *arg);

/*
 * Apply retention (see retention.h). With dry_run nothing is deleted.
 * plan (may be NULL) gets the decisions; its backups point into list,
 * which the caller clears after the plan.
 */
struct sb_prune_result {
	struct sb_backup_list		list;
	struct sb_retention_plan	plan;
	size_t				deleted;
	size_t				errors;
};
void	sb_prune_result_clear(struct sb_prune_result *);
int	sb_engine_prune(struct sb_engine *, int dry_run,
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
};
int	sb_engine_reconcile(struct sb_engine *, int force,
	    struct sb_reconcile_result *);

/*
 * `backup-cron init`: create the store's place if missing, write its
 * marker if missing, and make the catalog remember the store's id. Needs
 * no engine (the store is not usable before). Refuses (SB_ERR_IDENTITY)
 * a marker of another service or prefix, and, unless force, a store whose
 * id differs from the one the catalog remembers. out (may be NULL) gets
 * the marker; *created whether this call wrote it.
 */
int	sb_engine_init(const struct sb_config *, int force,
	    struct sb_store_marker *out, int *created, char *err);

/* Mark pending records failed if no writer holds the lock (crash repair). */
int	sb_engine_repair_pending(struct sb_engine *, int *count);

#endif /* SB_ENGINE_H */
