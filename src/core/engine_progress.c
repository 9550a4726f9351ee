/*
 * engine_progress.c - the engine's side of progress.h: a backup or a
 * restore starts its recorder once its record is pending, names each
 * phase as it enters it, and ends the recorder before its record is
 * finished; readers (GET /backups/:id, /backups/status, `show`) ask the
 * catalog what runs.
 */
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "engine_int.h"
#include "progress.h"

/*
 * Start recording op_id (op on backup_id) in phase with total (-1:
 * unknown). The progress is information, never a reason to fail: a
 * recorder that cannot start is logged and the operation goes on
 * without one.
 */
void
sb_engine_progress_start(struct sb_engine *e, enum sb_op op,
    const char *op_id, const char *backup_id, enum sb_phase phase,
    int64_t total)
{
	char	err[SB_ERRMSG_MAX] = "";

	sb_engine_progress_end(e);
	if (sb_progress_start(&e->progress, e->cfg->catalog_path, op, op_id,
	    backup_id, phase, total, err) != SB_OK) {
		e->progress = NULL;
		sb_log(SB_LOG_WARN, "progress.failed", "%s %s: its progress "
		    "cannot be recorded: %s", sb_op_str(op), op_id, err);
		return;
	}
	sb_store_watch(e->store, e->progress);
}

/* The next phase; the store (which may have been opened again) hears. */
void
sb_engine_progress_phase(struct sb_engine *e, enum sb_phase phase,
    int64_t total)
{
	if (e->progress == NULL)
		return;
	sb_progress_phase(e->progress, phase, total);
	/* Only when it changed: an upload's thread may be reading it. */
	if (e->store != NULL && e->store->progress != e->progress)
		sb_store_watch(e->store, e->progress);
}

/* Stop recording: the row goes. NULL-safe, idempotent. */
void
sb_engine_progress_end(struct sb_engine *e)
{
	if (e->progress == NULL)
		return;
	sb_store_watch(e->store, NULL);
	sb_progress_end(&e->progress);
}

enum sb_err
sb_engine_running(struct sb_engine *e, const char *backup_id,
    struct sb_running *v, size_t max, size_t *n)
{
	int	rc;

	if (backup_id != NULL && !sb_is_uuid(backup_id))
		return fail(e, SB_ERR_INVAL, "not a backup id (expected a "
		    "lowercase uuid)");
	if ((rc = sb_catalog_running_list(e->cat, backup_id, v, max, n)) !=
	    SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	return SB_OK;
}
