/*
 * engine.c - open and close the engine, its lock and its reports; create,
 * list, delete and download backups: the safety rules of
 * docs/ARCHITECTURE.md. Verify and restore are in engine_restore.c,
 * prune, reconcile and init in engine_reconcile.c.
 *
 * Every writing operation (create, delete, restore, prune, reconcile) runs
 * under the per-source-database lock (lock.c). Holding it also means no
 * other process can be in the middle of a backup, so a record still
 * "pending" when we take the lock was left by a process that died: it is
 * marked failed before we start.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "engine.h"
#include "engine_int.h"
#include "json.h"
#include "lock.h"
#include "report.h"
#include "retention.h"
#include "snapshot.h"
#include "store.h"
#include "tempfile.h"

#define INTERRUPTED	"interrupted: the process taking it stopped before it finished"
#define INTERRUPTED_RESTORE	"interrupted: the process restoring stopped " \
	"before it finished; SQLite leaves the live database either as it " \
	"was or wholly the backup's, never a mix"

static void	reports_flush(struct sb_engine *);

/*
 * Open the store and make sure it is this service's: the marker must be
 * there and name our [store] service and prefix, and its store_id must be
 * the one the catalog remembers (sb_store_guard). A catalog that
 * remembers none (new, or rebuilt) adopts the marker's. SB_ERR_IDENTITY
 * (the store is not ours) fails the open, closing the store again. A
 * store that does not answer now is not a verdict: the guard checks again
 * before the first operation that touches it, and catalog-only work goes
 * on meanwhile.
 */
static enum sb_err
engine_store_open(struct sb_engine *e, char *err)
{
	struct sb_store_marker	m;
	char			known[SB_UUID_LEN + 1] = "";
	int			rc;

	rc = sb_catalog_setting_get(e->cat, STORE_ID_KEY, known,
	    sizeof(known));
	if (rc != SB_OK && rc != SB_ERR_NOTFOUND) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(e->cat));
		return rc;
	}
	if (rc == SB_ERR_NOTFOUND)
		known[0] = '\0';
	if ((rc = sb_store_open(&e->store, e->cfg, err)) != SB_OK)
		return rc;
	rc = sb_store_guard(e->store, e->cfg, known, &m, err);
	if (rc == SB_ERR_STORAGE || rc == SB_ERR_AUTH) {
		sb_log(SB_LOG_WARN, "store.unchecked", "%s (checked again "
		    "before the store is used)", err);
		err[0] = '\0';
		return SB_OK;
	}
	if (rc != SB_OK)
		goto out;
	if (known[0] == '\0' && (rc = sb_catalog_setting_set(e->cat,
	    STORE_ID_KEY, m.store_id, sb_now_ms())) != SB_OK) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	if (known[0] == '\0')
		sb_log(SB_LOG_INFO, "catalog.store", "the catalog now belongs "
		    "to store %s (service %s)", m.store_id, m.service);
out:
	if (rc != SB_OK)
		sb_store_free(&e->store);
	return rc;
}

/*
 * Open the catalog, the store and the reporter. A store that cannot be
 * opened (whatever the reason: missing root, refused credentials, a
 * store that is not ours) does not fail the engine: its error is kept,
 * every store operation fails with it, and a backup is recorded failed
 * and reported with it. Only a catalog or reporter failure fails here.
 */
enum sb_err
sb_engine_open(struct sb_engine **out, const struct sb_config *cfg, char *err)
{
	struct sb_engine	*e = NULL;
	int			 rc = SB_ERR_NOMEM;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		sb_seterr(err, "out of memory");
		goto out;
	}
	e->cfg = cfg;
	e->lock.fd = -1;
	if (snprintf(e->keep_dir, sizeof(e->keep_dir), "%s-safety",
	    cfg->catalog_path) >= (int)sizeof(e->keep_dir)) {
		sb_seterr(err, "%s: path too long", cfg->catalog_path);
		rc = SB_ERR_INVAL;
		goto out;
	}
	/* Never plaintext by accident: encryption without a key stops here. */
	if ((rc = sb_engine_codec_open(e, err)) != SB_OK)
		goto out;
	if ((rc = sb_catalog_open(&e->cat, cfg->catalog_path, err)) != SB_OK)
		goto out;
	if ((rc = engine_store_open(e, e->store_err)) != SB_OK) {
		e->store = NULL;
		e->store_rc = rc;
		sb_log(SB_LOG_WARN, "store.unavailable", "%s", e->store_err);
	}
	if ((rc = sb_reporter_new(&e->rep, cfg->webhook,
	    cfg->webhook_timeout)) != SB_OK) {
		sb_seterr(err, "cannot set up the error reporter");
		goto out;
	}
	*out = e;
	e = NULL;
	rc = SB_OK;
out:
	sb_engine_close(&e);
	return rc;
}

/*
 * sb_engine_open on a store the caller made instead of the one the config
 * names (the unit tests: a store that injects faults through its
 * operations table). The engine owns store from the call on, also on
 * failure, and checks it as its own (sb_store_guard against the store id
 * the catalog remembers); unlike sb_engine_open, a failed check (not
 * ours, or not answering) fails here.
 */
enum sb_err
sb_engine_open_store(struct sb_engine **out, const struct sb_config *cfg,
    struct sb_store *store, char *err)
{
	char	known[SB_UUID_LEN + 1] = "";
	int	rc;

	if ((rc = sb_engine_open(out, cfg, err)) != SB_OK) {
		sb_store_free(&store);
		return rc;
	}
	sb_store_free(&(*out)->store);
	(*out)->store = store;
	if (sb_catalog_setting_get((*out)->cat, STORE_ID_KEY, known,
	    sizeof(known)) != SB_OK)
		known[0] = '\0';
	if ((rc = sb_store_guard(store, cfg, known, NULL, err)) != SB_OK)
		sb_engine_close(out);
	return rc;
}

void
sb_engine_close(struct sb_engine **ep)
{
	struct sb_engine	*e;

	if (ep == NULL || (e = *ep) == NULL)
		return;
	sb_engine_progress_end(e);
	sb_lock_release(&e->lock);
	reports_flush(e);
	sb_catalog_close(&e->cat);
	sb_store_free(&e->store);
	sb_reporter_free(&e->rep);
	sb_keyring_free(&e->ring);
	free(e);
	*ep = NULL;
}

const char *
sb_engine_errmsg(const struct sb_engine *e)
{
	return e->err;
}

/*
 * SB_OK if the store is open. One that failed to open is tried again (a
 * long-lived backupd worker must see the admin's fix); if it still
 * fails, its error becomes the engine's.
 */
enum sb_err
sb_engine_store_ready(struct sb_engine *e)
{
	int	rc;

	if (e->store != NULL)
		return SB_OK;
	if ((rc = engine_store_open(e, e->store_err)) == SB_OK)
		return SB_OK;
	e->store = NULL;
	e->store_rc = rc;
	return fail(e, rc, "the store cannot be opened: %s", e->store_err);
}

/*
 * Report a failure. With the lock held, the log line is written now and
 * the webhook POST (which may wait up to [report] webhook_timeout) is
 * queued for lock_drop: another operation must never be kept BUSY by a
 * webhook. Past REPORTS_MAX queued, the POST is dropped (logged).
 */
void
sb_engine_report(struct sb_engine *e, const char *event, enum sb_err code,
    const char *backup_id, const char *msg)
{
	struct queued_report	*q;

	if (e->lock.fd == -1) {
		sb_report(e->rep, event, code, backup_id, msg);
		return;
	}
	sb_report_log(e->rep, event, code, backup_id, msg);
	if (!sb_is_webhook_set(e->rep))
		return;
	if (e->nqueued == REPORTS_MAX) {
		sb_log(SB_LOG_WARN, "report.dropped", "too many reports at "
		    "once: %s not sent to the webhook", event);
		return;
	}
	q = &e->queue[e->nqueued++];
	q->event = event;
	q->code = code;
	sb_strlcpy(q->backup_id, backup_id != NULL ? backup_id : "",
	    sizeof(q->backup_id));
	sb_strlcpy(q->msg, msg != NULL ? msg : "", sizeof(q->msg));
}

/* Send the queued webhook reports; the lock is not held any more. */
static void
reports_flush(struct sb_engine *e)
{
	for (size_t i = 0; i < e->nqueued; i++) {
		struct queued_report *q = &e->queue[i];
		sb_report_post(e->rep, q->event, q->code,
		    q->backup_id[0] != '\0' ? q->backup_id : NULL, q->msg);
	}
	e->nqueued = 0;
}

/*
 * Safety snapshots that a restore kept under their object names in the
 * keep directory (a remote store's: safety_locked, sb_engine_keep_dir)
 * and that never reached the store: the restore was killed after
 * recording one, or its upload failed. Lock held, at every lock_take, so
 * each is retried until it is stored. temp_dir is looked at too: versions
 * before 0.x kept them there.
 * - Record completed: upload the file (then remove it); if the store
 *   already holds the object, same size and sha256, just remove it.
 * - Record not completed: its restore never reached the copy (the record
 *   completes before the copy starts), so the live database still is, or
 *   was taken again as, what the file holds: remove it.
 * - No record, or another location: not ours; left alone.
 */
static void
safety_resume_one(struct sb_engine *e, const struct sb_backup *b,
    const char *path)
{
	struct sb_object	o;
	struct sb_meta		m;
	const char		*sha;
	int			rc;

	memset(&o, 0, sizeof(o));
	memset(&m, 0, sizeof(m));
	if (b->status != SB_STATUS_COMPLETED) {
		if (unlink(path) == 0)
			sb_logkv(SB_LOG_WARN, "temp.removed", (const char *[]){
			    "path", path, "backup_id", b->id, NULL },
			    "removed the snapshot of a safety backup that "
			    "never completed");
		return;
	}
	rc = sb_store_head(e->store, b->location, &o);
	if (rc == SB_OK) {
		sha = sb_meta_get(&o.meta, "sha256");
		if (o.size == (b->stored_size >= 0 ? b->stored_size :
		    b->size) && sha != NULL &&
		    strcmp(sha, b->sha256) == 0 && unlink(path) == 0)
			sb_logkv(SB_LOG_INFO, "safety.uploaded",
			    (const char *[]){ "backup_id", b->id, NULL },
			    "safety backup already in the store; its local "
			    "copy removed");
		goto out;
	}
	if (rc != SB_ERR_NOTFOUND ||
	    (rc = sb_engine_meta_build(e, b, &m)) != SB_OK ||
	    (rc = sb_store_put_file(e->store, b->location, path, &m)) !=
	    SB_OK) {
		sb_logkv(SB_LOG_ERROR, "safety.upload_failed", (const char *[]){
		    "backup_id", b->id, "path", path, NULL }, "safety backup "
		    "still not in the %s store (%s); kept at %s, tried again "
		    "at the next operation", e->store->ops->kind,
		    sb_store_errmsg(e->store), path);
		goto out;
	}
	(void)unlink(path);
	sb_logkv(SB_LOG_WARN, "safety.uploaded", (const char *[]){
	    "backup_id", b->id, NULL }, "safety backup uploaded from its "
	    "local copy, left by an earlier restore");
out:
	sb_object_clear(&o);
	sb_meta_clear(&m);
}

static void
safety_resume_dir(struct sb_engine *e, const char *dir)
{
	struct sb_backup	 b;
	struct dirent		*de;
	struct stat		 st;
	enum sb_type		 type;
	int64_t			 created;
	char			 id[SB_UUID_LEN + 1], path[PATH_MAX];
	DIR			*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (sb_name_parse(de->d_name, &type, &created, id) != SB_OK ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) ||
		    lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		memset(&b, 0, sizeof(b));
		if (sb_catalog_get(e->cat, id, &b) == SB_OK &&
		    b.location != NULL && strcmp(b.location, de->d_name) == 0)
			safety_resume_one(e, &b, path);
		sb_backup_clear(&b);
	}
	closedir(d);
}

static void
safety_resume(struct sb_engine *e)
{
	if (e->store == NULL || sb_store_staging_dir(e->store) != NULL)
		return;
	safety_resume_dir(e, e->keep_dir);
	safety_resume_dir(e, e->cfg->temp_dir);
}

/*
 * Crash repair, lock held: records a dead process left pending become
 * failed, temp files whose owner is gone are removed (tempfile.h), and
 * safety snapshots kept locally go up to the store (safety_resume).
 * *count (may be NULL) gets the records repaired. Errors are logged and
 * returned; the caller decides whether they matter.
 */
static enum sb_err
repair_locked(struct sb_engine *e, int *count)
{
	int	rc, rc2, n = 0, m = 0;

	if ((rc = sb_catalog_fail_pending(e->cat, sb_now_ms(), INTERRUPTED,
	    &n)) != SB_OK)
		fail(e, rc, "%s", sb_catalog_errmsg(e->cat));
	else if (n > 0)
		sb_log(SB_LOG_WARN, "catalog.repaired",
		    "%d interrupted backup(s) marked failed", n);
	if ((rc2 = sb_catalog_restore_fail_pending(e->cat, sb_now_ms(),
	    INTERRUPTED_RESTORE, &m)) != SB_OK) {
		fail(e, rc2, "%s", sb_catalog_errmsg(e->cat));
		rc = rc != SB_OK ? rc : rc2;
	} else if (m > 0)
		sb_log(SB_LOG_WARN, "catalog.repaired",
		    "%d interrupted restore(s) marked failed", m);
	/* Progress rows of operations that died: nothing runs now. */
	if (sb_catalog_running_clear(e->cat, NULL) != SB_OK)
		sb_log(SB_LOG_WARN, "catalog.error", "%s",
		    sb_catalog_errmsg(e->cat));
	sb_temp_sweep(e->cfg->temp_dir, NULL, NULL);
	sb_temp_sweep(e->keep_dir, NULL, NULL);
	safety_resume(e);
	if (e->store != NULL && sb_store_staging_dir(e->store) != NULL)
		sb_temp_sweep(sb_store_staging_dir(e->store), NULL, NULL);
	if (count != NULL)
		*count = n + m;
	return rc;
}

/*
 * Take the writer lock, then repair what a dead process left: pending
 * records and temp files (repair_locked). SB_ERR_BUSY when another
 * writer runs.
 */
enum sb_err
sb_engine_lock_take(struct sb_engine *e)
{
	int	rc, n = 0;

	if ((rc = sb_lock_acquire(&e->lock, e->cfg->lock_file, e->err)) !=
	    SB_OK) {
		if (rc == SB_ERR_BUSY)
			sb_seterr(e->err, "another backup operation is "
			    "running on %s; try again when it ends",
			    e->cfg->source_path);
		return rc;
	}
	(void)repair_locked(e, &n);
	return SB_OK;
}

/* Release the lock, then send what was reported under it. */
void
sb_engine_lock_drop(struct sb_engine *e)
{
	sb_lock_release(&e->lock);
	reports_flush(e);
}

enum sb_err
sb_engine_repair_pending(struct sb_engine *e, int *count)
{
	int	rc;

	*count = 0;
	if ((rc = sb_lock_acquire(&e->lock, e->cfg->lock_file, e->err)) !=
	    SB_OK)
		return rc == SB_ERR_BUSY ? SB_OK : rc;
	rc = repair_locked(e, count);
	sb_engine_lock_drop(e);
	return rc;
}

/* Where temporary copies go: beside the store when it is local. */
const char *
sb_engine_work_dir(struct sb_engine *e)
{
	const char	*d = sb_store_staging_dir(e->store);

	return d != NULL ? d : e->cfg->temp_dir;
}

/*
 * Where a restore's safety snapshot waits for its upload to a remote
 * store: <catalog path>-safety/, beside the catalog, made 0700 on first
 * use; *dir gets it. Not temp_dir: the file is the only copy of the
 * pre-restore state until it is stored, and temp_dir may be a tmpfs, or
 * private to one process (systemd's PrivateTmp gives backupd and each
 * timer's backup-cron a /tmp and /var/tmp of their own, and empties
 * backupd's when it stops), so the next operation, which uploads it,
 * might never see it. The catalog's directory is persistent and shared
 * by every process of the service, or the catalog would not work.
 */
enum sb_err
sb_engine_keep_dir(struct sb_engine *e, const char **dir)
{
	struct stat	st;

	char		parent[PATH_MAX], *slash;

	*dir = e->keep_dir;
	if (mkdir(e->keep_dir, 0700) == 0) {
		/* Its entry durable too, or a crash could take it away
		 * with the file renamed into it. */
		sb_strlcpy(parent, e->keep_dir, sizeof(parent));
		if ((slash = strrchr(parent, '/')) == NULL)
			sb_strlcpy(parent, ".", sizeof(parent));
		else if (slash == parent)
			parent[1] = '\0';	/* "/" */
		else
			*slash = '\0';
		if (sb_fsync_dir(parent) != SB_OK)
			return fail(e, SB_ERR_IO, "fsync %s: %s", parent,
			    strerror(errno));
		return SB_OK;
	}
	if (errno == EEXIST && stat(e->keep_dir, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return SB_OK;
	return fail(e, SB_ERR_IO, "cannot make %s (where a safety backup "
	    "waits for its upload): %s", e->keep_dir, strerror(errno));
}

/*
 * What a snapshot of the source may take: the database file plus its
 * -wal (whose pages the copy folds in). SB_ERR_IO if the source is not
 * there: a backup of nothing fails before anything is written.
 */
enum sb_err
sb_engine_source_size(struct sb_engine *e, int64_t *need)
{
	struct stat	st;
	char		wal[4096];

	*need = 0;
	if (stat(e->cfg->source_path, &st) == -1)
		return fail(e, SB_ERR_IO, "source database %s: %s",
		    e->cfg->source_path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(e, SB_ERR_IO, "source database %s: not a regular "
		    "file", e->cfg->source_path);
	*need = st.st_size;
	if (snprintf(wal, sizeof(wal), "%s-wal", e->cfg->source_path) <
	    (int)sizeof(wal) && stat(wal, &st) == 0)
		*need += st.st_size;
	return SB_OK;
}

/*
 * Start a backup's record: a new id and object name (copied into name),
 * its description and tags, inserted pending, logged as backup.started
 * with msg. b must be zeroed; the caller clears it, also on failure, when
 * the engine's message says why and nothing is recorded.
 */
enum sb_err
sb_engine_record_pending(struct sb_engine *e, struct sb_backup *b, enum sb_type type,
    const char *desc, const char *const *tags, size_t ntags,
    char name[SB_NAME_MAX + 1], const char *msg)
{
	int	rc;

	b->size = -1;
	b->stored_size = -1;
	b->type = type;
	b->status = SB_STATUS_PENDING;
	b->created_at = sb_now_ms();
	if ((rc = sb_uuid_new(b->id)) != SB_OK)
		return fail(e, rc, "cannot make a backup id");
	if ((rc = sb_name_format_ext(type, b->created_at, b->id,
	    sb_codec_ext(&e->codec), name, SB_NAME_MAX + 1)) != SB_OK)
		return fail(e, rc, "cannot name the backup");
	if ((b->location = strdup(name)) == NULL ||
	    (desc != NULL && (b->description = strdup(desc)) == NULL) ||
	    sb_backup_set_tags(b, tags, ntags) != SB_OK)
		return fail(e, SB_ERR_NOMEM, "out of memory");
	if ((rc = sb_catalog_insert(e->cat, b)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	sb_logkv(SB_LOG_INFO, "backup.started",
	    (const char *[]){ "backup_id", b->id, "type", sb_type_str(type),
	    "location", name, NULL }, "%s", msg);
	return SB_OK;
}

/*
 * A recorded backup is stored: its record becomes completed (size and
 * sha256 from b) and "<what> completed: N bytes<note><path>" is logged
 * as backup.completed. The engine's message says why it could not.
 */
enum sb_err
sb_engine_record_completed(struct sb_engine *e, struct sb_backup *b,
    const char *what, const char *note, const char *path)
{
	int	rc;

	if (b->stored_size < 0)
		b->stored_size = b->size;	/* plain: the object is the file */
	if ((rc = sb_catalog_complete(e->cat, b->id, b->completed_at, b->size,
	    b->sha256, b->stored_size)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	b->status = SB_STATUS_COMPLETED;
	sb_logkv(SB_LOG_INFO, "backup.completed",
	    (const char *[]){ "backup_id", b->id, "sha256", b->sha256, NULL },
	    "%s completed: %lld bytes%s%s", what, (long long)b->size, note,
	    path);
	return SB_OK;
}

/*
 * A recorded backup failed with rc: mark it failed with the engine's
 * message (in b and in the catalog) and report it.
 */
void
sb_engine_record_failed(struct sb_engine *e, struct sb_backup *b,
    enum sb_err rc)
{
	b->status = SB_STATUS_FAILED;
	b->completed_at = sb_now_ms();
	free(b->error);
	b->error = strdup(e->err);
	if (sb_catalog_fail(e->cat, b->id, b->completed_at, e->err) != SB_OK)
		sb_log(SB_LOG_ERROR, "catalog.error", "cannot mark backup %s "
		    "failed: %s", b->id, sb_catalog_errmsg(e->cat));
	sb_engine_report(e, "backup.failed", rc, b->id, e->err);
}

/*
 * Before any byte of backup id is written: the store, the room for the
 * snapshot in the work directory, and its temp file, reserved in t.
 */
static enum sb_err
backup_prepare(struct sb_engine *e, const char *id, struct sb_temp *t)
{
	char	msg[SB_ERRMSG_MAX];
	int64_t	need;
	int	rc;

	if ((rc = store_ready(e)) != SB_OK ||
	    (rc = sb_engine_source_size(e, &need)) != SB_OK)
		return rc;
	/* An encoded backup also writes its object beside the snapshot; zstd
	 * and the cipher add a little at worst. */
	if (!sb_is_codec_plain(&e->codec))
		need += need + need / 64 + (1 << 20);
	if ((rc = sb_temp_space(sb_engine_work_dir(e), need, msg)) != SB_OK ||
	    (rc = sb_temp_reserve(t, sb_engine_work_dir(e), "snapshot", id,
	    msg)) != SB_OK)
		return fail(e, rc, "snapshot of %s: %s", e->cfg->source_path,
		    msg);
	return SB_OK;
}

/*
 * The object's file is complete (stored bytes of it): the upload is told,
 * the record gets its completion time and the object its metadata, and
 * the upload commits it. The plain and the encoded backup end so; the
 * caller's sb_store_upload_abort() releases *up if this fails.
 */
enum sb_err
sb_engine_upload_commit(struct sb_engine *e, struct sb_backup *b,
    struct sb_upload **up, int64_t stored, struct sb_meta *meta)
{
	int	rc;

	sb_store_upload_eof(*up);
	sb_engine_progress_phase(e, SB_PHASE_UPLOAD, stored);
	b->completed_at = sb_now_ms();
	if ((rc = sb_engine_meta_build(e, b, meta)) != SB_OK)
		return fail(e, rc, "cannot build the object metadata");
	if ((rc = sb_store_upload_finish(up, meta)) != SB_OK)
		return fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
	return SB_OK;
}

/*
 * Steps 3 and 4 of a plain backup: the upload starts while the snapshot
 * is written: Azure stages the blocks already there (and checks them
 * against the final file); the disk store simply takes the file at
 * finish. b gets size, sha256 and completed_at, meta the object's
 * metadata; on SB_OK the object is committed.
 */
static enum sb_err
backup_plain(struct sb_engine *e, struct sb_backup *b, const char *name,
    const char *snap, struct sb_meta *meta)
{
	struct sb_upload	*up = NULL;
	char			 msg[SB_ERRMSG_MAX];
	int			 rc;

	if ((rc = sb_store_upload_begin(e->store, name, snap, &up)) !=
	    SB_OK) {
		fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
		goto out;
	}
	if ((rc = sb_snapshot_take_watched(e->cfg->source_path, snap,
	    b->sha256, &b->size, e->progress, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	rc = sb_engine_upload_commit(e, b, &up, b->size, meta);
out:
	sb_store_upload_abort(&up);
	return rc;
}

/*
 * The body of a backup, lock held: record pending, snapshot the live DB
 * into a temp file, hash it, upload it (encoded first when the codec is
 * not plain: engine_codec.c) with its metadata, record completed.
 * Any failure after the pending record turns it failed and is reported.
 * out (may be NULL) gets the final record.
 */
static enum sb_err
create_locked(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags, struct sb_backup *out)
{
	struct sb_backup	 b;
	struct sb_meta		 meta;
	struct sb_temp		 t = { "", -1 };
	struct stat		 st;
	char			 name[SB_NAME_MAX + 1];
	int			 rc, inserted = 0, stored = 0;

	memset(&b, 0, sizeof(b));
	memset(&meta, 0, sizeof(meta));
	if ((rc = sb_engine_record_pending(e, &b, type, desc, tags, ntags, name,
	    "backup started")) != SB_OK)
		goto out;
	inserted = 1;

	if ((rc = backup_prepare(e, b.id, &t)) != SB_OK)
		goto out;
	/*
	 * The source file's size is the snapshot's total until the copy
	 * knows its page count (a reader polling in the first second would
	 * otherwise see no percentage).
	 */
	sb_engine_progress_start(e, SB_OP_BACKUP, b.id, b.id,
	    SB_PHASE_SNAPSHOT, stat(e->cfg->source_path, &st) == 0 ?
	    (int64_t)st.st_size : -1);
	if (sb_is_codec_plain(&e->codec))
		rc = backup_plain(e, &b, name, t.path, &meta);
	else
		rc = sb_engine_backup_encoded(e, &b, name, t.path, &meta);
	if (rc != SB_OK)
		goto out;
	stored = 1;
	if ((rc = sb_engine_record_completed(e, &b, "backup", "", "")) !=
	    SB_OK)
		goto out;
out:
	sb_engine_progress_end(e);
	sb_temp_release(&t);
	if (rc != SB_OK && inserted) {
		/* A completed-looking object without a completed record would
		 * be resurrected by reconcile: remove it. */
		if (stored)
			(void)sb_store_del(e->store, name);
		sb_engine_record_failed(e, &b, rc);
	}
	if (out != NULL && inserted) {
		sb_backup_clear(out);
		*out = b;
	} else
		sb_backup_clear(&b);
	sb_meta_clear(&meta);
	return rc;
}

static enum sb_err
check_args(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags)
{
	if ((unsigned)type >= SB_TYPE__MAX)
		return fail(e, SB_ERR_INVAL, "unknown backup type");
	if (desc != NULL && !sb_is_description(desc))
		return fail(e, SB_ERR_INVAL, "description must be valid UTF-8 "
		    "without control characters, at most %d bytes",
		    SB_DESC_MAX);
	if (ntags > SB_TAGS_MAX)
		return fail(e, SB_ERR_INVAL, "at most %d tags", SB_TAGS_MAX);
	for (size_t i = 0; i < ntags; i++) {
		if (!sb_is_tag(tags[i]))
			return fail(e, SB_ERR_INVAL, "tag %zu: 1 to %d bytes of "
			    "UTF-8, no control characters or commas", i + 1,
			    SB_TAG_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(tags[i], tags[j]) == 0)
				return fail(e, SB_ERR_INVAL,
				    "tag \"%s\" given twice", tags[i]);
	}
	return SB_OK;
}

/*
 * Would the object metadata of this backup fit the store? Measured on the
 * widest record the backup could get (every number at its longest), so a
 * backup that passes cannot fail for its metadata after the upload has
 * begun. SB_ERR_INVAL with the store's message (sizes, limit) if not.
 */
static enum sb_err
check_meta_fits(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags)
{
	struct sb_backup	b;
	struct sb_meta		m;
	int			rc;

	if (e->store == NULL)
		return SB_OK;	/* the backup fails, recorded, for that */
	memset(&b, 0, sizeof(b));
	memset(&m, 0, sizeof(m));
	sb_strlcpy(b.id, "ffffffff-ffff-4fff-bfff-ffffffffffff", sizeof(b.id));
	b.type = type;
	b.created_at = b.completed_at = b.size = INT64_MAX;
	memset(b.sha256, 'f', SB_SHA256_HEX);
	if ((b.location = malloc(SB_NAME_MAX + 1)) == NULL ||
	    sb_name_format_ext(type, 0, b.id, sb_codec_ext(&e->codec),
	    b.location, SB_NAME_MAX + 1) != SB_OK ||
	    (desc != NULL && (b.description = strdup(desc)) == NULL) ||
	    sb_backup_set_tags(&b, tags, ntags) != SB_OK) {
		rc = fail(e, SB_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* A description and tags too long to seal are refused here too. */
	if ((rc = sb_engine_meta_build(e, &b, &m)) != SB_OK) {
		if (rc != SB_ERR_NOMEM)
			rc = SB_ERR_INVAL;
		else
			fail(e, rc, "out of memory");
		goto out;
	}
	if ((rc = sb_store_meta_check(e->store, &m)) != SB_OK)
		fail(e, rc, "%s", sb_store_errmsg(e->store));
out:
	sb_meta_clear(&m);
	sb_backup_clear(&b);
	return rc;
}

enum sb_err
sb_engine_create(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags, struct sb_backup *out)
{
	int	rc;

	if ((rc = check_args(e, type, desc, tags, ntags)) != SB_OK ||
	    (rc = check_meta_fits(e, type, desc, tags, ntags)) != SB_OK)
		return rc;
	if ((rc = sb_engine_lock_take(e)) != SB_OK)
		return rc;
	rc = create_locked(e, type, desc, tags, ntags, out);
	sb_engine_lock_drop(e);
	return rc;
}

enum sb_err
sb_engine_get(struct sb_engine *e, const char *id, struct sb_backup *out)
{
	int	rc;

	if (!sb_is_uuid(id))
		return fail(e, SB_ERR_INVAL, "not a backup id (expected a "
		    "lowercase uuid)");
	if ((rc = sb_catalog_get(e->cat, id, out)) == SB_ERR_NOTFOUND)
		return fail(e, rc, "no backup with id %s", id);
	if (rc != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	return SB_OK;
}

enum sb_err
sb_engine_list(struct sb_engine *e, const struct sb_filter *f,
    struct sb_backup_list *out)
{
	int	rc;

	if (f->limit < 0 || f->limit > SB_LIST_MAX || f->offset < 0)
		return fail(e, SB_ERR_INVAL, "limit must be 1..%d and offset "
		    ">= 0", SB_LIST_MAX);
	if ((rc = sb_catalog_list(e->cat, f, out)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	return SB_OK;
}

enum sb_err
sb_engine_count(struct sb_engine *e, const struct sb_filter *f,
    int64_t *count)
{
	int	rc;

	if ((rc = sb_catalog_count(e->cat, f, count)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	return SB_OK;
}

enum sb_err
sb_engine_delete(struct sb_engine *e, const char *id)
{
	struct sb_backup	b;
	int			rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		return rc;
	if (b.type == SB_TYPE_AUTOMATIC) {
		rc = fail(e, SB_ERR_AUTOMATIC, "backup %s is automatic: "
		    "retention removes automatic backups, not admins", id);
		goto out;
	}
	if ((rc = store_ready(e)) != SB_OK || (rc = sb_engine_lock_take(e)) != SB_OK)
		goto out;
	/* The object first: a record without an object is repairable, an
	 * object without a record would come back at the next reconcile. */
	if (b.location != NULL &&
	    (rc = sb_store_del(e->store, b.location)) != SB_OK)
		fail(e, rc, "deleting %s: %s", b.location,
		    sb_store_errmsg(e->store));
	else if ((rc = sb_catalog_delete(e->cat, id)) != SB_OK)
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	else
		sb_logkv(SB_LOG_INFO, "backup.deleted",
		    (const char *[]){ "backup_id", id, NULL }, "backup deleted");
	sb_engine_lock_drop(e);
out:
	sb_backup_clear(&b);
	return rc;
}

enum sb_err
sb_engine_download(struct sb_engine *e, const char *id,
    const struct sb_download_cb *cb)
{
	struct sb_backup	b;
	enum sb_err		rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	if (b.status != SB_STATUS_COMPLETED) {
		rc = fail(e, SB_ERR_NOTFOUND, "backup %s is %s: there is "
		    "nothing to download", id, sb_status_str(b.status));
		goto out;
	}
	if ((rc = store_ready(e)) != SB_OK)
		goto out;
	if (sb_is_engine_encoded(&b)) {
		rc = sb_engine_download_decoded(e, &b, cb);
		goto out;
	}
	if (cb->begin != NULL)
		cb->begin(cb->arg, &b);
	if ((rc = sb_store_get(e->store, b.location, cb->write, cb->arg)) !=
	    SB_OK)
		fail(e, rc, "download of %s: %s", b.location,
		    sb_store_errmsg(e->store));
out:
	sb_backup_clear(&b);
	return rc;
}

