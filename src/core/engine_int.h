/*
 * engine_int.h - what the engine's three files share, and nothing else
 * includes: the engine struct and the helpers every operation uses.
 *
 *  engine.c           open/close, locking, reports, backup, list, delete,
 *                     download;
 *  engine_restore.c   verify, restore and its safety backup;
 *  engine_reconcile.c prune, reconcile, init;
 *  engine_drill.c     restore drills and `check`;
 *  engine_codec.c     the keyring and codec: objects encoded, decoded,
 *                     their metadata (sealed when encrypted).
 *  engine_progress.c  the progress of a running backup or restore.
 */
#ifndef SB_ENGINE_INT_H
#define SB_ENGINE_INT_H

#include <limits.h>
#include <stdarg.h>

#include "codec.h"
#include "engine.h"
#include "lock.h"
#include "progress.h"
#include "report.h"

#define REPORTS_MAX	4	/* webhook reports queued under the lock */

/* The catalog setting naming the store it belongs to (a marker's uuid). */
#define STORE_ID_KEY	"store_id"

/* A report whose webhook POST waits for the lock to be released. */
struct queued_report {
	const char	*event;		/* a string constant */
	enum sb_err	 code;
	char		 backup_id[SB_UUID_LEN + 1];	/* "" for none */
	char		 msg[SB_ERRMSG_MAX];
};

struct sb_engine {
	const struct sb_config	*cfg;
	struct sb_catalog	*cat;
	struct sb_store		*store;		/* NULL: it failed to open */
	int			 store_rc;	/* why, when store is NULL */
	char			 store_err[SB_ERRMSG_MAX];
	struct sb_reporter	*rep;
	struct sb_keyring	*ring;		/* [store] keys (codec.h) */
	struct sb_codec		 codec;		/* of new backups */
	struct sb_lock		 lock;
	char			 keep_dir[PATH_MAX]; /* sb_engine_keep_dir */
	struct queued_report	 queue[REPORTS_MAX];
	size_t			 nqueued;
	struct sb_progress	*progress;	/* of the running operation */
	char			 err[SB_ERRMSG_MAX];
};

/*
 * Set the engine's message and return rc, so callers can `return fail()`.
 * It and store_ready keep their short names: the fetch code moved between
 * the engine's files unchanged.
 */
static inline enum sb_err
fail(struct sb_engine *e, enum sb_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline enum sb_err
fail(struct sb_engine *e, enum sb_err rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sb_vseterr(e->err, fmt, ap);
	va_end(ap);
	return rc;
}

/* SB_OK if the store is open and ours (sb_engine_store_ready). */
static inline enum sb_err
store_ready(struct sb_engine *e)
{
	return sb_engine_store_ready(e);
}

/* engine.c */
void		 sb_engine_report(struct sb_engine *, const char *event,
		    enum sb_err, const char *backup_id, const char *msg);
enum sb_err	 sb_engine_lock_take(struct sb_engine *);
void		 sb_engine_lock_drop(struct sb_engine *);
const char	*sb_engine_work_dir(struct sb_engine *);
enum sb_err	 sb_engine_keep_dir(struct sb_engine *, const char **dir);
enum sb_err	 sb_engine_source_size(struct sb_engine *, int64_t *need);
enum sb_err	 sb_engine_record_pending(struct sb_engine *,
		    struct sb_backup *, enum sb_type, const char *desc,
		    const char *const *tags, size_t ntags,
		    char name[SB_NAME_MAX + 1], const char *msg);
enum sb_err	 sb_engine_record_completed(struct sb_engine *,
		    struct sb_backup *, const char *what, const char *note,
		    const char *path);
void		 sb_engine_record_failed(struct sb_engine *,
		    struct sb_backup *, enum sb_err rc);

/* engine_progress.c: the running operation's recorder (progress.h). */
void		 sb_engine_progress_start(struct sb_engine *, enum sb_op,
		    const char *op_id, const char *backup_id, enum sb_phase,
		    int64_t total);
void		 sb_engine_progress_phase(struct sb_engine *, enum sb_phase,
		    int64_t total);
void		 sb_engine_progress_end(struct sb_engine *);

/*
 * engine_codec.c (see there): the ring and codec of the configuration
 * (SB_ERR_CONFIG: encryption without a key); whether b's object is
 * encoded (its name); the object metadata (sealed description and tags
 * when encrypted) and its reverse for reconcile; a backup encoded while
 * its snapshot is written; an encoded object decoded into a plain temp
 * file, or to a download's writer.
 */
struct sb_temp;
struct sb_download_cb;
enum sb_err	 sb_engine_codec_open(struct sb_engine *, char *err);
int		 sb_is_engine_encoded(const struct sb_backup *);
enum sb_err	 sb_engine_meta_build(struct sb_engine *,
		    const struct sb_backup *, struct sb_meta *);
/* A backup's object file is complete: commit it (engine.c). */
struct sb_upload;
enum sb_err	 sb_engine_upload_commit(struct sb_engine *, struct sb_backup *,
		    struct sb_upload **, int64_t stored, struct sb_meta *);
enum sb_err	 sb_engine_meta_unseal(struct sb_engine *,
		    const struct sb_meta *, struct sb_backup *, char *err);
enum sb_err	 sb_engine_backup_encoded(struct sb_engine *,
		    struct sb_backup *, const char *name, const char *snap,
		    struct sb_meta *meta);
enum sb_err	 sb_engine_fetch_decoded(struct sb_engine *,
		    const struct sb_backup *, struct sb_temp *, const char *op,
		    char path[PATH_MAX], char sha[SB_SHA256_HEX + 1],
		    int64_t *size);
struct sb_restore_txn;
enum sb_err	 sb_engine_safety_encoded(struct sb_engine *,
		    struct sb_restore_txn *, struct sb_backup *,
		    const char *dir, struct sb_temp *t);
enum sb_err	 sb_engine_download_decoded(struct sb_engine *,
		    const struct sb_backup *, const struct sb_download_cb *);

/*
 * engine_restore.c: the completed backup b as a local file at path
 * (PATH_MAX), its size, sha256 and integrity checked: read in place from
 * a disk store, else downloaded into a temp file reserved in t for
 * operation op (the caller releases t, also on failure). SB_ERR_CORRUPT
 * for a missing, damaged or truncated object; the message is the
 * engine's.
 */
enum sb_err	 sb_engine_fetch_verified(struct sb_engine *,
		    const struct sb_backup *, struct sb_temp *,
		    const char *op, char path[PATH_MAX]);
/*
 * engine_restore.c: where b's object lies as a local file: *local 1 and
 * path set, or *local 0 for a store that keeps none. A local object
 * that is missing is SB_ERR_CORRUPT ("missing from the store").
 */
enum sb_err	 sb_engine_object_path(struct sb_engine *,
		    const struct sb_backup *, char *path, size_t len,
		    int *local);

#endif /* SB_ENGINE_INT_H */
