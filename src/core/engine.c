/*
 * engine.c - create, list, delete, restore, verify, prune and reconcile
 * backups: the safety rules of docs/ARCHITECTURE.md.
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

#define REPORTS_MAX	4	/* webhook reports queued under the lock */

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
	struct sb_lock		 lock;
	struct queued_report	 queue[REPORTS_MAX];
	size_t			 nqueued;
	char			 err[SB_ERRMSG_MAX];
};

static int
fail(struct sb_engine *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void	reports_flush(struct sb_engine *);

/* Set the engine's message and return rc, so callers can `return fail()`. */
static int
fail(struct sb_engine *e, int rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sb_vseterr(e->err, fmt, ap);
	va_end(ap);
	return rc;
}

/* The catalog setting naming the store it belongs to (a marker's uuid). */
#define STORE_ID_KEY	"store_id"

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
static int
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
int
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
	sb_lock_release(&e->lock);
	reports_flush(e);
	sb_catalog_close(&e->cat);
	sb_store_free(&e->store);
	sb_reporter_free(&e->rep);
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
static int
store_ready(struct sb_engine *e)
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

int
sb_engine_store_ready(struct sb_engine *e)
{
	return store_ready(e);
}

/*
 * Report a failure. With the lock held, the log line is written now and
 * the webhook POST (which may wait up to [report] webhook_timeout) is
 * queued for lock_drop: another operation must never be kept BUSY by a
 * webhook. Past REPORTS_MAX queued, the POST is dropped (logged).
 */
static void
report(struct sb_engine *e, const char *event, enum sb_err code,
    const char *backup_id, const char *msg)
{
	struct queued_report	*q;

	if (e->lock.fd == -1) {
		sb_report(e->rep, event, code, backup_id, msg);
		return;
	}
	sb_report_log(e->rep, event, code, backup_id, msg);
	if (!sb_reporter_has_webhook(e->rep))
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
 * Safety snapshots that a restore kept in temp_dir under their object
 * names (a remote store's: safety_locked) and that never reached the
 * store: the restore was killed after recording one, or its upload
 * failed. Lock held, at every lock_take, so each is retried until it is
 * stored.
 * - Record completed: upload the file (then remove it); if the store
 *   already holds the object, same size and sha256, just remove it.
 * - Record not completed: its restore never reached the copy (the record
 *   completes before the copy starts), so the live database still is, or
 *   was taken again as, what the file holds: remove it.
 * - No record, or another location: not ours; left alone.
 */
static int	meta_build(const struct sb_backup *, struct sb_meta *);

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
		if (o.size == b->size && sha != NULL &&
		    strcmp(sha, b->sha256) == 0 && unlink(path) == 0)
			sb_logkv(SB_LOG_INFO, "safety.uploaded",
			    (const char *[]){ "backup_id", b->id, NULL },
			    "safety backup already in the store; its local "
			    "copy removed");
		goto out;
	}
	if (rc != SB_ERR_NOTFOUND || (rc = meta_build(b, &m)) != SB_OK ||
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
safety_resume(struct sb_engine *e)
{
	struct sb_backup	 b;
	struct dirent		*de;
	struct stat		 st;
	enum sb_type		 type;
	int64_t			 created;
	char			 id[SB_UUID_LEN + 1], path[PATH_MAX];
	DIR			*d;

	if (e->store == NULL || sb_store_staging_dir(e->store) != NULL ||
	    (d = opendir(e->cfg->temp_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (sb_name_parse(de->d_name, &type, &created, id) != SB_OK ||
		    snprintf(path, sizeof(path), "%s/%s", e->cfg->temp_dir,
		    de->d_name) >= (int)sizeof(path) ||
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

/*
 * Crash repair, lock held: records a dead process left pending become
 * failed, temp files whose owner is gone are removed (tempfile.h), and
 * safety snapshots kept locally go up to the store (safety_resume).
 * *count (may be NULL) gets the records repaired. Errors are logged and
 * returned; the caller decides whether they matter.
 */
static int
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
	sb_temp_sweep(e->cfg->temp_dir, NULL, NULL);
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
static int
lock_take(struct sb_engine *e)
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
static void
lock_drop(struct sb_engine *e)
{
	sb_lock_release(&e->lock);
	reports_flush(e);
}

int
sb_engine_repair_pending(struct sb_engine *e, int *count)
{
	int	rc;

	*count = 0;
	if ((rc = sb_lock_acquire(&e->lock, e->cfg->lock_file, e->err)) !=
	    SB_OK)
		return rc == SB_ERR_BUSY ? SB_OK : rc;
	rc = repair_locked(e, count);
	lock_drop(e);
	return rc;
}

/* Where temporary copies go: beside the store when it is local. */
static const char *
work_dir(struct sb_engine *e)
{
	const char	*d = sb_store_staging_dir(e->store);

	return d != NULL ? d : e->cfg->temp_dir;
}

/*
 * Tags from the JSON array in s into b. A value that is not an array of
 * valid tags is ignored (metadata comes from outside: the store).
 */
static int
tags_parse(struct sb_backup *b, const char *s)
{
	int	rc;

	if (s == NULL)
		return SB_OK;
	rc = sb_tags_from_json(b, s, strlen(s), 1);
	return rc == SB_ERR_INVAL ? SB_OK : rc;
}

/* The object metadata that lets reconcile rebuild the record. */
static int
meta_build(const struct sb_backup *b, struct sb_meta *m)
{
	char	 num[32], *tj = NULL;
	int	 rc;

	snprintf(num, sizeof(num), "%lld", (long long)b->created_at);
	if ((rc = sb_meta_set(m, "safbackup", "1")) ||
	    (rc = sb_meta_set(m, "id", b->id)) ||
	    (rc = sb_meta_set(m, "type", sb_type_str(b->type))) ||
	    (rc = sb_meta_set(m, "created_at", num)))
		return rc;
	snprintf(num, sizeof(num), "%lld", (long long)b->completed_at);
	if ((rc = sb_meta_set(m, "completed_at", num)))
		return rc;
	snprintf(num, sizeof(num), "%lld", (long long)b->size);
	if ((rc = sb_meta_set(m, "size", num)) ||
	    (rc = sb_meta_set(m, "sha256", b->sha256)))
		return rc;
	if (b->description != NULL &&
	    (rc = sb_meta_set(m, "description", b->description)))
		return rc;
	if (b->ntags > 0) {
		if ((tj = sb_tags_to_json((const char *const *)b->tags,
		    b->ntags)) == NULL)
			return SB_ERR_NOMEM;
		rc = sb_meta_set(m, "tags", tj);
		free(tj);
	}
	return rc;
}

/*
 * What a snapshot of the source may take: the database file plus its
 * -wal (whose pages the copy folds in). SB_ERR_IO if the source is not
 * there: a backup of nothing fails before anything is written.
 */
static int
source_size(struct sb_engine *e, int64_t *need)
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
static int
record_pending(struct sb_engine *e, struct sb_backup *b, enum sb_type type,
    const char *desc, const char *const *tags, size_t ntags,
    char name[SB_NAME_MAX + 1], const char *msg)
{
	int	rc;

	b->size = -1;
	b->type = type;
	b->status = SB_STATUS_PENDING;
	b->created_at = sb_now_ms();
	if ((rc = sb_uuid_new(b->id)) != SB_OK)
		return fail(e, rc, "cannot make a backup id");
	if ((rc = sb_name_format(type, b->created_at, b->id, name,
	    SB_NAME_MAX + 1)) != SB_OK)
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
 * A recorded backup failed with rc: mark it failed with the engine's
 * message (in b and in the catalog) and report it.
 */
static void
record_failed(struct sb_engine *e, struct sb_backup *b, int rc)
{
	b->status = SB_STATUS_FAILED;
	b->completed_at = sb_now_ms();
	free(b->error);
	b->error = strdup(e->err);
	if (sb_catalog_fail(e->cat, b->id, b->completed_at, e->err) != SB_OK)
		sb_log(SB_LOG_ERROR, "catalog.error", "cannot mark backup %s "
		    "failed: %s", b->id, sb_catalog_errmsg(e->cat));
	report(e, "backup.failed", rc, b->id, e->err);
}

/*
 * The body of a backup, lock held: record pending, snapshot the live DB
 * into a temp file, hash it, upload it with its metadata, record completed.
 * Any failure after the pending record turns it failed and is reported.
 * out (may be NULL) gets the final record.
 */
static int
create_locked(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags, struct sb_backup *out)
{
	struct sb_backup	 b;
	struct sb_meta		 meta;
	struct sb_upload	*up = NULL;
	struct sb_temp		 t = { "", -1 };
	char			 name[SB_NAME_MAX + 1];
	char			 msg[SB_ERRMSG_MAX];
	int64_t			 need;
	int			 rc, inserted = 0, stored = 0;

	memset(&b, 0, sizeof(b));
	memset(&meta, 0, sizeof(meta));
	if ((rc = record_pending(e, &b, type, desc, tags, ntags, name,
	    "backup started")) != SB_OK)
		goto out;
	inserted = 1;

	/* Before any byte is written: the store, the room, the temp file. */
	if ((rc = store_ready(e)) != SB_OK)
		goto out;
	if ((rc = source_size(e, &need)) != SB_OK)
		goto out;
	if ((rc = sb_temp_space(work_dir(e), need, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	if ((rc = sb_temp_reserve(&t, work_dir(e), "snapshot", b.id, msg)) !=
	    SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	/*
	 * The upload starts while the snapshot is written: Azure stages the
	 * blocks already there (and checks them against the final file); the
	 * disk store simply takes the file at finish.
	 */
	if ((rc = sb_store_upload_begin(e->store, name, t.path, &up)) !=
	    SB_OK) {
		fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
		goto out;
	}
	if ((rc = sb_snapshot_take_hashed(e->cfg->source_path, t.path,
	    b.sha256, &b.size, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	sb_store_upload_eof(up);
	b.completed_at = sb_now_ms();
	if ((rc = meta_build(&b, &meta)) != SB_OK) {
		fail(e, rc, "cannot build the object metadata");
		goto out;
	}
	if ((rc = sb_store_upload_finish(&up, &meta)) != SB_OK) {
		fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
		goto out;
	}
	stored = 1;
	if ((rc = sb_catalog_complete(e->cat, b.id, b.completed_at, b.size,
	    b.sha256)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	b.status = SB_STATUS_COMPLETED;
	sb_logkv(SB_LOG_INFO, "backup.completed",
	    (const char *[]){ "backup_id", b.id, "sha256", b.sha256, NULL },
	    "backup completed: %lld bytes", (long long)b.size);
	rc = SB_OK;
out:
	sb_store_upload_abort(&up);
	sb_temp_release(&t);
	if (rc != SB_OK && inserted) {
		/* A completed-looking object without a completed record would
		 * be resurrected by reconcile: remove it. */
		if (stored)
			(void)sb_store_del(e->store, name);
		record_failed(e, &b, rc);
	}
	if (out != NULL && inserted) {
		sb_backup_clear(out);
		*out = b;
	} else
		sb_backup_clear(&b);
	sb_meta_clear(&meta);
	return rc;
}

static int
check_args(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags)
{
	if ((unsigned)type >= SB_TYPE__MAX)
		return fail(e, SB_ERR_INVAL, "unknown backup type");
	if (desc != NULL && !sb_valid_description(desc))
		return fail(e, SB_ERR_INVAL, "description must be valid UTF-8 "
		    "without control characters, at most %d bytes",
		    SB_DESC_MAX);
	if (ntags > SB_TAGS_MAX)
		return fail(e, SB_ERR_INVAL, "at most %d tags", SB_TAGS_MAX);
	for (size_t i = 0; i < ntags; i++) {
		if (!sb_valid_tag(tags[i]))
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
static int
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
	if ((desc != NULL && (b.description = strdup(desc)) == NULL) ||
	    sb_backup_set_tags(&b, tags, ntags) != SB_OK ||
	    meta_build(&b, &m) != SB_OK) {
		rc = fail(e, SB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sb_store_meta_check(e->store, &m)) != SB_OK)
		fail(e, rc, "%s", sb_store_errmsg(e->store));
out:
	sb_meta_clear(&m);
	sb_backup_clear(&b);
	return rc;
}

int
sb_engine_create(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags, struct sb_backup *out)
{
	int	rc;

	if ((rc = check_args(e, type, desc, tags, ntags)) != SB_OK ||
	    (rc = check_meta_fits(e, type, desc, tags, ntags)) != SB_OK)
		return rc;
	if ((rc = lock_take(e)) != SB_OK)
		return rc;
	rc = create_locked(e, type, desc, tags, ntags, out);
	lock_drop(e);
	return rc;
}

int
sb_engine_get(struct sb_engine *e, const char *id, struct sb_backup *out)
{
	int	rc;

	if (!sb_valid_uuid(id))
		return fail(e, SB_ERR_INVAL, "not a backup id (expected a "
		    "lowercase uuid)");
	if ((rc = sb_catalog_get(e->cat, id, out)) == SB_ERR_NOTFOUND)
		return fail(e, rc, "no backup with id %s", id);
	if (rc != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	return SB_OK;
}

int
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

int
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
	if ((rc = store_ready(e)) != SB_OK || (rc = lock_take(e)) != SB_OK)
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
	lock_drop(e);
out:
	sb_backup_clear(&b);
	return rc;
}

/* The sha256 of a file, in a thread (beside the integrity check). */
struct sha_job {
	const char	*path;
	char		 sha[SB_SHA256_HEX + 1];
	int64_t		 size;
	int		 rc;
	char		 err[SB_ERRMSG_MAX];
};

static void *
sha_thread(void *arg)
{
	struct sha_job	*j = arg;

	j->rc = sb_sha256_file(j->path, j->sha, &j->size, j->err);
	return NULL;
}

/*
 * The checks of a backup file against its record: size and sha256
 * (what), and PRAGMA integrity_check (what), both at once when both are
 * asked for (a thread hashes while SQLite checks: two passes over the
 * file, on two CPUs). Touches nothing of the engine (it may run in a
 * thread of its own): rc and err are the result.
 */
#define VERIFY_SHA		0x1
#define VERIFY_INTEGRITY	0x2

struct verify_job {
	const struct sb_backup	*b;
	const char		*path;
	const struct sha_job	*got;	/* hashed on download, or NULL */
	int			 what;
	int			 rc;
	char			 err[SB_ERRMSG_MAX];
};

static void *
verify_thread(void *arg)
{
	struct verify_job	*v = arg;
	const struct sb_backup	*b = v->b;
	struct sha_job		 j;
	pthread_t		 thr;
	char			 msg[SB_ERRMSG_MAX];
	int			 irc = SB_OK, threaded = 0;

	memset(&j, 0, sizeof(j));
	j.path = v->path;
	j.size = -1;
	if ((v->what & VERIFY_SHA) && v->got != NULL && v->got->rc == SB_OK)
		j = *v->got;	/* hashed while it was downloaded */
	else if (v->what & VERIFY_SHA) {
		if (v->what & VERIFY_INTEGRITY)
			threaded = pthread_create(&thr, NULL, sha_thread,
			    &j) == 0;
		if (!threaded)
			(void)sha_thread(&j);
	}
	if (v->what & VERIFY_INTEGRITY)
		irc = sb_snapshot_check(v->path, msg);
	if (threaded)
		pthread_join(thr, NULL);
	v->rc = SB_ERR_CORRUPT;
	if ((v->what & VERIFY_SHA) && j.rc != SB_OK) {
		v->rc = j.rc;
		sb_seterr(v->err, "hashing backup %s: %s", b->id, j.err);
	} else if ((v->what & VERIFY_SHA) && j.size != b->size)
		sb_seterr(v->err, "backup %s is %lld bytes in the store, %lld "
		    "in the catalog: refusing it", b->id, (long long)j.size,
		    (long long)b->size);
	else if ((v->what & VERIFY_SHA) && strcmp(j.sha, b->sha256) != 0)
		sb_seterr(v->err, "backup %s has sha256 %s in the store, %s in "
		    "the catalog: refusing it", b->id, j.sha, b->sha256);
	else if (irc != SB_OK)
		sb_seterr(v->err, "backup %s fails the integrity check: %s",
		    b->id, msg);
	else
		v->rc = SB_OK;
	return NULL;
}

/*
 * The backup's object as a local file, not yet checked. It is read where
 * it lies when the store keeps it as a local file (the disk store: no
 * copy; its objects only change under the engine's lock) and its header
 * is not WAL-marked (a read-only open of such a file would make -wal and
 * -shm files in the store). Otherwise it is downloaded into a new temp
 * file of temp_dir, reserved in t for operation op (a name no other run
 * shares), hashed as it arrives: got then holds its sha256 and size
 * (got->rc SB_OK), so the checks need not read it again; otherwise got->rc
 * is SB_ERR_NOTFOUND. path (PATH_MAX) gets the file. The caller releases
 * t (also on failure).
 */
static int
fetch_local(struct sb_engine *e, const struct sb_backup *b,
    struct sb_temp *t, const char *op, char path[PATH_MAX],
    struct sha_job *got)
{
	char		 msg[SB_ERRMSG_MAX];
	int		 rc, wal = 1;

	path[0] = '\0';
	got->rc = SB_ERR_NOTFOUND;
	if (b->status != SB_STATUS_COMPLETED)
		return fail(e, SB_ERR_INVAL, "backup %s is %s, not completed",
		    b->id, sb_status_str(b->status));
	if ((rc = store_ready(e)) != SB_OK)
		return rc;
	rc = sb_store_local_path(e->store, b->location, path, PATH_MAX);
	if (rc == SB_ERR_NOTFOUND)
		return fail(e, SB_ERR_CORRUPT, "backup %s: object %s is "
		    "missing from the store", b->id, b->location);
	if (rc != SB_OK && rc != SB_ERR_INVAL)
		return fail(e, rc, "reading %s: %s", b->location,
		    sb_store_errmsg(e->store));
	if (rc == SB_OK && sb_snapshot_header(path, &wal, msg) == SB_OK &&
	    !wal)
		return SB_OK;
	/* Not a local file, or not one to open in place: copy it. */
	if ((rc = sb_temp_space(e->cfg->temp_dir, b->size, msg)) != SB_OK)
		return fail(e, rc, "download of backup %s: %s", b->id, msg);
	if ((rc = sb_temp_reserve(t, e->cfg->temp_dir, op, b->id, msg)) !=
	    SB_OK)
		return fail(e, rc, "download of backup %s: %s", b->id, msg);
	sb_strlcpy(path, t->path, PATH_MAX);
	if ((rc = sb_store_get_file_sha(e->store, b->location, path, got->sha,
	    &got->size)) != SB_OK) {
		if (rc == SB_ERR_NOTFOUND)
			return fail(e, SB_ERR_CORRUPT, "backup %s: object %s "
			    "is missing from the store", b->id, b->location);
		return fail(e, rc, "download of %s: %s", b->location,
		    sb_store_errmsg(e->store));
	}
	got->rc = SB_OK;
	return SB_OK;
}

/* fetch_local, then every check (verify_thread, sha256 and integrity). */
static int
fetch_verified(struct sb_engine *e, const struct sb_backup *b,
    struct sb_temp *t, const char *op, char path[PATH_MAX])
{
	struct verify_job	v;
	struct sha_job		got;
	int			rc;

	if ((rc = fetch_local(e, b, t, op, path, &got)) != SB_OK)
		return rc;
	memset(&v, 0, sizeof(v));
	v.b = b;
	v.path = path;
	v.got = &got;
	v.what = VERIFY_SHA | VERIFY_INTEGRITY;
	(void)verify_thread(&v);
	if (v.rc != SB_OK)
		return fail(e, v.rc, "%s", v.err);
	return SB_OK;
}

int
sb_engine_verify(struct sb_engine *e, const char *id)
{
	struct sb_backup	b;
	struct sb_temp		t = { "", -1 };
	char			path[PATH_MAX];
	int			rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	rc = fetch_verified(e, &b, &t, "verify", path);
	if (rc == SB_ERR_CORRUPT)
		report(e, "backup.corrupt", rc, id, e->err);
out:
	sb_temp_release(&t);
	sb_backup_clear(&b);
	return rc;
}

/*
 * Room for a restore, checked before anything is written: the download
 * (the backup's size; none from a store of local files) in temp_dir and
 * the safety snapshot (the source's size) in the work directory; both in
 * one sum when they share a file system.
 */
static int
restore_space(struct sb_engine *e, const struct sb_backup *b)
{
	struct stat	a, w;
	char		msg[SB_ERRMSG_MAX];
	const char	*wd;
	int64_t		src, tmp = b->size > 0 ? b->size : 0;
	int		rc;

	if ((rc = store_ready(e)) != SB_OK ||
	    (rc = source_size(e, &src)) != SB_OK)
		return rc;
	/* A local object is read where it lies (fetch_verified); if it
	 * must be copied after all, fetch_verified checks for room then. */
	if (e->store->ops->local_path != NULL)
		tmp = 0;
	wd = work_dir(e);
	if (stat(e->cfg->temp_dir, &a) == 0 && stat(wd, &w) == 0 &&
	    a.st_dev == w.st_dev)
		tmp += src;
	else if ((rc = sb_temp_space(wd, src, msg)) != SB_OK)
		return fail(e, rc, "restore of backup %s refused, nothing "
		    "written: %s", b->id, msg);
	if ((rc = sb_temp_space(e->cfg->temp_dir, tmp, msg)) != SB_OK)
		return fail(e, rc, "restore of backup %s refused, nothing "
		    "written: %s", b->id, msg);
	return SB_OK;
}

/*
 * The safety backup of a restore, taken while txn holds the live
 * database's write lock (sb_snapshot_restore_begin): exactly the state
 * the restore replaces. It is durable locally and recorded completed
 * before this returns SB_OK, so the copy may then change the live
 * database:
 * - local store (it has a staging directory): snapshot into the staging
 *   directory, put_file renames it into the store (fsync of the file and
 *   of the directory), record completed. Nothing is left to do later.
 * - remote store (Azure): snapshot into temp_dir, fsynced, then renamed to
 *   local (<temp_dir>/<object name>, a name the temp sweeper never
 *   removes), directory fsynced, record completed. The caller uploads it
 *   after the copy (safety_upload) and removes local once it is stored.
 *   local is "" for a local store.
 * On failure the record is marked failed, reported, nothing of it is
 * left, and the live database is untouched (the caller aborts txn).
 * out gets the record (the caller clears it); meta its object metadata.
 */
static int
safety_locked(struct sb_engine *e, struct sb_restore_txn *txn,
    const char *restored_id, struct sb_backup *out, struct sb_meta *meta,
    char local[PATH_MAX])
{
	struct sb_backup	 b;
	struct sb_temp		 t = { "", -1 };
	const char		*stags[] = { "safety", "pre-restore" };
	const char		*tdir = e->cfg->temp_dir;
	char			 name[SB_NAME_MAX + 1], desc[128];
	char			 msg[SB_ERRMSG_MAX];
	int			 rc, inserted = 0, stored = 0, remote;

	memset(&b, 0, sizeof(b));
	local[0] = '\0';
	remote = sb_store_staging_dir(e->store) == NULL;
	snprintf(desc, sizeof(desc), "safety backup before restoring %s",
	    restored_id);
	if ((rc = record_pending(e, &b, SB_TYPE_MANUAL, desc, stags, 2, name,
	    "safety backup started")) != SB_OK)
		goto out;
	inserted = 1;
	if ((rc = sb_temp_reserve(&t, work_dir(e), "snapshot", b.id, msg)) !=
	    SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	if ((rc = sb_snapshot_take_locked(txn, t.path, b.sha256, &b.size,
	    msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	b.completed_at = sb_now_ms();
	if ((rc = meta_build(&b, meta)) != SB_OK) {
		fail(e, rc, "cannot build the object metadata");
		goto out;
	}
	if (!remote) {
		if ((rc = sb_store_put_file(e->store, name, t.path, meta)) !=
		    SB_OK) {
			fail(e, rc, "upload to the %s store: %s",
			    e->store->ops->kind, sb_store_errmsg(e->store));
			goto out;
		}
		stored = 1;
	} else {
		if (snprintf(local, PATH_MAX, "%s/%s", tdir, name) >=
		    PATH_MAX) {
			rc = fail(e, SB_ERR_INVAL, "%s: path too long", tdir);
			local[0] = '\0';
			goto out;
		}
		if (rename(t.path, local) == -1) {
			rc = fail(e, SB_ERR_IO, "keeping the safety snapshot "
			    "as %s: %s", local, strerror(errno));
			local[0] = '\0';
			goto out;
		}
		if (sb_fsync_dir(tdir) == -1) {
			rc = fail(e, SB_ERR_IO, "keeping the safety snapshot: "
			    "fsync %s: %s", tdir, strerror(errno));
			goto out;
		}
	}
	if ((rc = sb_catalog_complete(e->cat, b.id, b.completed_at, b.size,
	    b.sha256)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	b.status = SB_STATUS_COMPLETED;
	sb_logkv(SB_LOG_INFO, "backup.completed",
	    (const char *[]){ "backup_id", b.id, "sha256", b.sha256, NULL },
	    "safety backup completed: %lld bytes%s%s", (long long)b.size,
	    remote ? ", kept locally until uploaded: " : "", local);
	rc = SB_OK;
out:
	sb_temp_release(&t);
	if (rc != SB_OK && inserted) {
		if (stored)
			(void)sb_store_del(e->store, name);
		if (local[0] != '\0')
			(void)unlink(local);
		local[0] = '\0';
		record_failed(e, &b, rc);
	}
	*out = b;
	return rc;
}

/*
 * After the copy, a remote store's safety snapshot goes up from its local
 * copy (safety_locked). Stored: the local copy is removed. Not stored:
 * the local copy stays where it is (the only copy of the pre-restore
 * state: removed only once stored, see safety_resume), the failure is
 * logged and reported
 * (safety.upload_failed), and the message for the restore's record is
 * left in warn. The restore itself has succeeded either way.
 */
static void
safety_upload(struct sb_engine *e, const struct sb_backup *s,
    const struct sb_meta *meta, const char *local, char warn[SB_ERRMSG_MAX])
{
	char	msg[SB_ERRMSG_MAX];
	int	rc;

	warn[0] = '\0';
	if (local[0] == '\0')
		return;
	if ((rc = sb_store_put_file(e->store, s->location, local, meta)) ==
	    SB_OK) {
		(void)unlink(local);
		sb_logkv(SB_LOG_INFO, "safety.uploaded", (const char *[]){
		    "backup_id", s->id, NULL }, "safety backup uploaded");
		return;
	}
	sb_strlcpy(msg, sb_store_errmsg(e->store), sizeof(msg));
	sb_seterr(warn, "the restore succeeded but its safety backup %s "
	    "could not be uploaded to the %s store (%s); the pre-restore "
	    "database is kept at %s, and the next backup operation uploads "
	    "it", s->id, e->store->ops->kind, msg, local);
	sb_log(SB_LOG_ERROR, "safety.upload_failed", "%s", warn);
	report(e, "safety.upload_failed", rc, s->id, warn);
}

int
sb_engine_restore(struct sb_engine *e, const char *id, struct sb_restore *out)
{
	struct sb_backup	 b, safety;
	struct sb_restore	 r;
	struct sb_restore_txn	*txn = NULL;
	struct sb_meta		 smeta;
	struct sb_temp		 t = { "", -1 };
	char			 msg[SB_ERRMSG_MAX], warn[SB_ERRMSG_MAX] = "";
	char			 local[PATH_MAX] = "", blocked[32] = "";
	char			 from[PATH_MAX] = "";
	struct verify_job	 vj;
	struct sha_job		 got;
	pthread_t		 vthr;
	int			 verifying, src;
	int64_t			 t0 = 0;
	int			 rc, locked = 0, recorded = 0, replaced = 0;

	memset(&b, 0, sizeof(b));
	memset(&safety, 0, sizeof(safety));
	memset(&smeta, 0, sizeof(smeta));
	memset(&r, 0, sizeof(r));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	if ((rc = lock_take(e)) != SB_OK)
		goto out;
	locked = 1;
	if ((rc = sb_uuid_new(r.id)) != SB_OK) {
		fail(e, rc, "cannot make a restore id");
		goto out;
	}
	sb_strlcpy(r.backup_id, id, sizeof(r.backup_id));
	r.started_at = sb_now_ms();
	r.status = SB_STATUS_PENDING;
	if ((rc = sb_catalog_restore_insert(e->cat, &r)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	recorded = 1;
	sb_logkv(SB_LOG_INFO, "restore.started", (const char *[]){
	    "restore_id", r.id, "backup_id", id, NULL }, "restore started");

	/*
	 * 1. The backup as a local file, its size and sha256 checked: a
	 * damaged or truncated object is refused before anything is locked
	 * or written.
	 */
	memset(&vj, 0, sizeof(vj));
	vj.b = &b;
	vj.path = from;
	vj.got = &got;
	vj.what = VERIFY_SHA;
	if ((rc = restore_space(e, &b)) != SB_OK ||
	    (rc = fetch_local(e, &b, &t, "restore", from, &got)) != SB_OK)
		goto out;
	(void)verify_thread(&vj);
	if ((rc = vj.rc) != SB_OK) {
		fail(e, rc, "restore refused, the live database is "
		    "untouched: %s", vj.err);
		goto out;
	}

	/*
	 * 2. The live database's write lock, held from here to the end of
	 * the copy: nothing the service commits can fall between the safety
	 * backup and the copy. Writers wait (busy timeout) from now.
	 */
	t0 = sb_mono_ms();
	if ((rc = sb_snapshot_restore_begin(from, e->cfg->source_path,
	    &txn, msg)) != SB_OK) {
		fail(e, rc, "copy into %s failed, the live database is "
		    "unchanged: %s", e->cfg->source_path, msg);
		goto out;
	}

	/*
	 * 3. The safety backup (no restore without a way back) and, at the
	 * same time in a thread, the backup's integrity_check: both only
	 * read, so every check on the backup still comes before the copy
	 * while the two passes overlap.
	 */
	vj.what = VERIFY_INTEGRITY;
	verifying = pthread_create(&vthr, NULL, verify_thread, &vj) == 0;
	if (!verifying)
		(void)verify_thread(&vj);
	src = safety_locked(e, txn, id, &safety, &smeta, local);
	if (verifying)
		pthread_join(vthr, NULL);
	if (vj.rc != SB_OK) {
		/* Refused: the writers go on before anything else. */
		sb_snapshot_restore_abort(&txn);
		rc = vj.rc;
		if (src != SB_OK) {
			fail(e, rc, "restore refused, the live database is "
			    "untouched: %s", vj.err);
			goto out;
		}
		fail(e, rc, "restore refused, the live database is untouched "
		    "(safety backup %s, taken meanwhile, is kept): %s",
		    safety.id, vj.err);
		sb_strlcpy(r.safety_backup_id, safety.id,
		    sizeof(r.safety_backup_id));
		/* A remote store's safety copy goes up like any backup. */
		sb_strlcpy(msg, e->err, sizeof(msg));
		safety_upload(e, &safety, &smeta, local, warn);
		fail(e, rc, "%s", msg);
		goto out;
	}
	if ((rc = src) != SB_OK) {
		sb_strlcpy(msg, e->err, sizeof(msg));
		fail(e, rc, "safety backup failed, live database untouched: %s",
		    msg);
		goto out;
	}
	sb_strlcpy(r.safety_backup_id, safety.id, sizeof(r.safety_backup_id));
	/* Known now, so an interrupted restore's record names it too. */
	if (sb_catalog_restore_finish(e->cat, r.id, 0, SB_STATUS_PENDING,
	    safety.id, NULL) != SB_OK)
		sb_log(SB_LOG_WARN, "catalog.error", "restore %s: %s", r.id,
		    sb_catalog_errmsg(e->cat));

	/* 4. Copy into the live DB in place; the lock goes with it. */
	rc = sb_snapshot_restore_finish(&txn, &replaced, msg);
	snprintf(blocked, sizeof(blocked), "%lld",
	    (long long)(sb_mono_ms() - t0));
	if (rc != SB_OK) {
		if (replaced)
			fail(e, rc, "the live database %s WAS replaced by "
			    "backup %s, but the check after the copy failed: "
			    "%s; safety backup %s holds the previous state",
			    e->cfg->source_path, id, msg, safety.id);
		else
			fail(e, rc, "copy into %s failed, the live database is "
			    "unchanged (safety backup %s holds it too): %s",
			    e->cfg->source_path, safety.id, msg);
	}

	/* 5. A remote store's safety backup goes up now, writers running. */
	safety_upload(e, &safety, &smeta, local, warn);
	if (rc != SB_OK)
		goto out;
	rc = SB_OK;
out:
	sb_snapshot_restore_abort(&txn);
	if (t0 != 0 && blocked[0] == '\0')
		snprintf(blocked, sizeof(blocked), "%lld",
		    (long long)(sb_mono_ms() - t0));
	sb_temp_release(&t);
	if (recorded) {
		r.finished_at = sb_now_ms();
		r.status = rc == SB_OK ? SB_STATUS_COMPLETED : SB_STATUS_FAILED;
		if (rc != SB_OK)
			r.error = strdup(e->err);
		else if (warn[0] != '\0')
			r.error = strdup(warn);
		if (sb_catalog_restore_finish(e->cat, r.id, r.finished_at,
		    r.status, r.safety_backup_id[0] ? r.safety_backup_id : NULL,
		    rc != SB_OK ? e->err : warn[0] != '\0' ? warn : NULL) !=
		    SB_OK)
			sb_log(SB_LOG_ERROR, "catalog.error", "cannot record "
			    "restore %s: %s", r.id, sb_catalog_errmsg(e->cat));
		if (rc == SB_OK)
			sb_logkv(SB_LOG_INFO, "restore.completed",
			    (const char *[]){ "restore_id", r.id, "backup_id",
			    id, "safety_backup_id", safety.id,
			    "writers_blocked_ms", blocked, NULL },
			    "restore completed");
		else
			report(e, "restore.failed", rc, id, e->err);
	}
	if (locked)
		lock_drop(e);
	if (out != NULL) {
		sb_restore_clear(out);
		*out = r;
	} else
		sb_restore_clear(&r);
	sb_backup_clear(&b);
	sb_backup_clear(&safety);
	sb_meta_clear(&smeta);
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

void
sb_prune_result_clear(struct sb_prune_result *p)
{
	if (p == NULL)
		return;
	sb_retention_clear(&p->plan);
	sb_backup_list_clear(&p->list);
	memset(p, 0, sizeof(*p));
}

/*
 * A time mark kept in the catalog's settings (decimal ms) into *ms: 0 when
 * it was never set. SB_OK or the catalog's error.
 */
static int
mark_get(struct sb_engine *e, const char *key, int64_t *ms)
{
	char	buf[32];
	int	rc;

	*ms = 0;
	rc = sb_catalog_setting_get(e->cat, key, buf, sizeof(buf));
	if (rc == SB_ERR_NOTFOUND)
		return SB_OK;
	if (rc == SB_OK && sb_parse_i64(buf, 0, INT64_MAX, ms) != SB_OK)
		rc = SB_ERR_CORRUPT;
	if (rc != SB_OK)
		return fail(e, rc, "catalog setting %s: %s", key, rc ==
		    SB_ERR_CORRUPT ? "not a time in ms" :
		    sb_catalog_errmsg(e->cat));
	return SB_OK;
}

static int
mark_set(struct sb_engine *e, const char *key, int64_t ms, int64_t now)
{
	char	buf[32];
	int	rc;

	snprintf(buf, sizeof(buf), "%lld", (long long)ms);
	if ((rc = sb_catalog_setting_set(e->cat, key, buf, now)) != SB_OK)
		return fail(e, rc, "catalog setting %s: %s", key,
		    sb_catalog_errmsg(e->cat));
	return SB_OK;
}

/*
 * Every record, automatic first, into out: retention decides on the
 * automatic ones, and looks at all of them for dates in the future.
 */
static int
prune_list(struct sb_engine *e, struct sb_backup_list *out)
{
	struct sb_backup_list	man;
	int			rc;

	memset(&man, 0, sizeof(man));
	if ((rc = sb_catalog_list_type(e->cat, SB_TYPE_AUTOMATIC, out)) !=
	    SB_OK || (rc = sb_catalog_list_type(e->cat, SB_TYPE_MANUAL,
	    &man)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	for (size_t i = 0; i < man.n; i++)
		if ((rc = sb_backup_list_push(out, &man.v[i])) != SB_OK) {
			fail(e, rc, "prune: out of memory");
			goto out;
		}
out:
	sb_backup_list_clear(&man);
	return rc;
}

/*
 * The admin says the clock is right (prune --confirm-clock): every record
 * and gap up to now, or up to the newest record if that is later (the
 * clock went back), is accepted. *mark gets that time; stored and logged
 * unless dry_run.
 */
static int
clock_confirm(struct sb_engine *e, const struct sb_backup_list *l,
    int dry_run, int64_t now, struct sb_retention_policy *pol)
{
	int64_t	*mark = &pol->clock_confirmed;
	char	 t1[40] = "?", t2[40] = "?";
	int	 rc;

	if (now > *mark)
		*mark = now;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].created_at > *mark)
			*mark = l->v[i].created_at;
	pol->clock_confirmed_at = now;
	if (dry_run)
		return SB_OK;
	if ((rc = mark_set(e, SB_SETTING_CLOCK_CONFIRMED, *mark, now)) !=
	    SB_OK || (rc = mark_set(e, SB_SETTING_CLOCK_CONFIRMED_AT, now,
	    now)) != SB_OK)
		return rc;
	sb_time_format(*mark, t1, sizeof(t1));
	sb_time_format(now, t2, sizeof(t2));
	sb_logkv(SB_LOG_WARN, "prune.clock_confirmed", (const char *[]){
	    "through", t1, "confirmed_at", t2, NULL }, "the admin confirmed "
	    "the clock: backups dated up to %s and the gaps before it are "
	    "accepted", t1);
	return SB_OK;
}

int
sb_engine_prune(struct sb_engine *e, unsigned flags,
    struct sb_prune_result *out)
{
	struct sb_retention_policy	 pol;
	int				 rc, dry_run;
	int64_t				 now = sb_now_ms();

	memset(out, 0, sizeof(*out));
	memset(&pol, 0, sizeof(pol));
	dry_run = (flags & SB_PRUNE_DRY_RUN) != 0;
	pol.daily_days = e->cfg->ret_daily_days;
	pol.weekly_days = e->cfg->ret_weekly_days;
	pol.recent_hours = e->cfg->ret_recent_hours;
	pol.failed_days = e->cfg->ret_failed_days;
	pol.min_keep = e->cfg->ret_min_keep;
	pol.max_gap_hours = e->cfg->ret_max_gap_hours;
	if (!dry_run && ((rc = store_ready(e)) != SB_OK ||
	    (rc = lock_take(e)) != SB_OK))
		return rc;
	if ((rc = prune_list(e, &out->list)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_CLOCK_CONFIRMED,
	    &pol.clock_confirmed)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_CLOCK_CONFIRMED_AT,
	    &pol.clock_confirmed_at)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_GAPS_CHECKED,
	    &pol.gaps_checked)) != SB_OK)
		goto out;
	if ((flags & SB_PRUNE_CONFIRM_CLOCK) && (rc = clock_confirm(e,
	    &out->list, dry_run, now, &pol)) != SB_OK)
		goto out;
	if (flags & SB_PRUNE_CONFIRM_CLOCK)
		out->clock_confirmed = pol.clock_confirmed;
	if ((rc = sb_retention_plan(&pol, out->list.v, out->list.n,
	    now, &out->plan)) != SB_OK) {
		fail(e, rc, "retention: out of memory");
		goto out;
	}
	if (out->plan.halted) {
		fail(e, SB_OK, "%s", out->plan.halt_reason);
		report(e, "prune.halted", SB_OK, NULL,
		    out->plan.halt_reason);
		goto out;
	}
	for (size_t i = 0; i < out->plan.n && !dry_run; i++) {
		const struct sb_decision *d = &out->plan.v[i];
		if (d->verdict != SB_DELETE)
			continue;
		if ((d->backup->location != NULL &&
		    sb_store_del(e->store, d->backup->location) != SB_OK) ||
		    sb_catalog_delete(e->cat, d->backup->id) != SB_OK) {
			out->errors++;
			sb_logkv(SB_LOG_ERROR, "prune.delete_failed",
			    (const char *[]){ "backup_id", d->backup->id, NULL },
			    "%s", sb_store_errmsg(e->store));
			continue;
		}
		out->deleted++;
		sb_logkv(SB_LOG_INFO, "prune.deleted", (const char *[]){
		    "backup_id", d->backup->id, "reason", d->reason, NULL },
		    "pruned");
	}
	/*
	 * What this prune checked need not be checked again: the gaps it
	 * leaves behind are retention's, not the clock's. A failure to
	 * store it only makes the next prune check more, so it is logged.
	 */
	if (!dry_run && out->plan.checked_through > pol.gaps_checked &&
	    mark_set(e, SB_SETTING_GAPS_CHECKED, out->plan.checked_through,
	    now) != SB_OK)
		sb_log(SB_LOG_WARN, "prune.mark_failed", "%s", e->err);
	if (out->errors > 0) {
		rc = fail(e, SB_ERR_STORAGE, "%zu of %zu deletions failed",
		    out->errors, out->plan.ndelete);
		report(e, "prune.failed", rc, NULL, e->err);
	}
out:
	if (!dry_run)
		lock_drop(e);
	return rc;
}

/* Fill a record from one stored object, as far as its name and metadata
 * tell. Returns SB_ERR_INVAL for an object that is not a backup. */
static int
from_object(const struct sb_object *o, struct sb_backup *b)
{
	const char	*v;
	int64_t		 n;

	memset(b, 0, sizeof(*b));
	b->size = -1;
	if (sb_name_parse(o->name, &b->type, &b->created_at, b->id) != SB_OK)
		return SB_ERR_INVAL;
	b->status = SB_STATUS_COMPLETED;
	b->size = o->size;
	b->completed_at = o->mtime;
	if ((v = sb_meta_get(&o->meta, "completed_at")) != NULL &&
	    sb_parse_i64(v, 0, INT64_MAX, &n) == SB_OK)
		b->completed_at = n;
	if ((v = sb_meta_get(&o->meta, "created_at")) != NULL &&
	    sb_parse_i64(v, 0, INT64_MAX, &n) == SB_OK)
		b->created_at = n;
	if ((v = sb_meta_get(&o->meta, "sha256")) != NULL &&
	    strlen(v) == SB_SHA256_HEX)
		sb_strlcpy(b->sha256, v, sizeof(b->sha256));
	if ((v = sb_meta_get(&o->meta, "description")) != NULL &&
	    sb_valid_description(v) && (b->description = strdup(v)) == NULL)
		return SB_ERR_NOMEM;
	if ((b->location = strdup(o->name)) == NULL)
		return SB_ERR_NOMEM;
	return tags_parse(b, sb_meta_get(&o->meta, "tags"));
}

static int
same_record(const struct sb_backup *a, const struct sb_backup *b)
{
	if (a->status != b->status || a->size != b->size ||
	    strcmp(a->sha256, b->sha256) != 0 || a->type != b->type ||
	    a->created_at != b->created_at || a->ntags != b->ntags)
		return 0;
	if ((a->description == NULL) != (b->description == NULL) ||
	    (a->description && strcmp(a->description, b->description)))
		return 0;
	for (size_t i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i], b->tags[i]) != 0)
			return 0;
	return 1;
}

static int
cmp_name(const void *k, const void *o)
{
	return strcmp(k, ((const struct sb_object *)o)->name);
}

/*
 * How many completed records of recs have no object in objs; *completed
 * gets how many completed records there are.
 */
static size_t
count_missing(const struct sb_backup_list recs[SB_TYPE__MAX],
    const struct sb_object_list *objs, size_t *completed)
{
	size_t	n = 0;

	*completed = 0;
	for (int t = 0; t < SB_TYPE__MAX; t++)
		for (size_t i = 0; i < recs[t].n; i++) {
			const struct sb_backup *r = &recs[t].v[i];
			if (r->status != SB_STATUS_COMPLETED)
				continue;
			(*completed)++;
			if (r->location == NULL || bsearch(r->location,
			    objs->v, objs->n, sizeof(*objs->v),
			    cmp_name) == NULL)
				n++;
		}
	return n;
}

int
sb_engine_reconcile(struct sb_engine *e, int force,
    struct sb_reconcile_result *res)
{
	struct sb_object_list	objs;
	struct sb_backup_list	recs[SB_TYPE__MAX];
	struct sb_backup	b, cur;
	size_t			nmissing, ncompleted;
	int			rc;

	memset(res, 0, sizeof(*res));
	memset(&objs, 0, sizeof(objs));
	memset(recs, 0, sizeof(recs));
	memset(&b, 0, sizeof(b));
	memset(&cur, 0, sizeof(cur));
	if ((rc = store_ready(e)) != SB_OK || (rc = lock_take(e)) != SB_OK)
		return rc;
	if ((rc = sb_store_list(e->store, "backup-", &objs)) != SB_OK) {
		fail(e, rc, "listing the store: %s", sb_store_errmsg(e->store));
		goto out;
	}
	/*
	 * 0. A listing that has lost most of the history is more likely a
	 * wrong or half-mounted store than real losses: refuse before any
	 * change, unless the admin says so (--force).
	 */
	for (int t = 0; t < SB_TYPE__MAX; t++)
		if ((rc = sb_catalog_list_type(e->cat, (enum sb_type)t,
		    &recs[t])) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
	nmissing = count_missing(recs, &objs, &ncompleted);
	if (!force && nmissing > SB_RECONCILE_MISSING_MIN &&
	    nmissing * 2 > ncompleted) {
		rc = fail(e, SB_ERR_IDENTITY, "reconcile refused: %zu of the "
		    "%zu completed backups have no object in the store (%zu "
		    "objects listed); nothing was changed. Check that this "
		    "is the right store and that it is fully mounted; if the "
		    "backups really are gone, run `backup-cron reconcile "
		    "--force`", nmissing, ncompleted, objs.n);
		sb_log(SB_LOG_ERROR, "reconcile.refused", "%s", e->err);
		goto out;
	}
	for (int t = 0; t < SB_TYPE__MAX; t++)
		sb_backup_list_clear(&recs[t]);
	/* 1. Every stored backup has a record with the object's fields. */
	for (size_t i = 0; i < objs.n; i++) {
		sb_backup_clear(&b);
		if ((rc = from_object(&objs.v[i], &b)) == SB_ERR_INVAL) {
			res->skipped++;
			continue;
		} else if (rc != SB_OK)
			goto out;
		sb_backup_clear(&cur);
		rc = sb_catalog_get(e->cat, b.id, &cur);
		if (rc == SB_OK && same_record(&cur, &b))
			continue;
		if (rc != SB_OK && rc != SB_ERR_NOTFOUND) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
		if (rc == SB_OK)
			res->updated++;
		else
			res->added++;
		if ((rc = sb_catalog_upsert(e->cat, &b)) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
	}
	/* 2. Every completed record has its object. */
	for (int t = 0; t < SB_TYPE__MAX; t++) {
		if ((rc = sb_catalog_list_type(e->cat, (enum sb_type)t,
		    &recs[t])) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
		for (size_t i = 0; i < recs[t].n; i++) {
			struct sb_backup *r = &recs[t].v[i];
			if (r->status != SB_STATUS_COMPLETED ||
			    (r->location != NULL && bsearch(r->location, objs.v,
			    objs.n, sizeof(*objs.v), cmp_name) != NULL))
				continue;
			res->missing++;
			if ((rc = sb_catalog_fail(e->cat, r->id, sb_now_ms(),
			    "object missing from the store")) != SB_OK) {
				fail(e, rc, "catalog: %s",
				    sb_catalog_errmsg(e->cat));
				goto out;
			}
		}
	}
	sb_log(SB_LOG_INFO, "reconcile.done", "added %zu, updated %zu, "
	    "missing %zu, skipped %zu", res->added, res->updated,
	    res->missing, res->skipped);
	rc = SB_OK;
out:
	lock_drop(e);
	sb_backup_clear(&b);
	sb_backup_clear(&cur);
	for (int t = 0; t < SB_TYPE__MAX; t++)
		sb_backup_list_clear(&recs[t]);
	sb_object_list_clear(&objs);
	return rc;
}

int
sb_engine_init(const struct sb_config *cfg, int force,
    struct sb_store_marker *out, int *created, char *err)
{
	struct sb_catalog	*cat = NULL;
	struct sb_store		*st = NULL;
	struct sb_store_marker	 m;
	char			 known[SB_UUID_LEN + 1] = "";
	char			 where[SB_ERRMSG_MAX];
	int			 rc;

	*created = 0;
	sb_store_describe(cfg, where, sizeof(where));
	if ((rc = sb_catalog_open(&cat, cfg->catalog_path, err)) != SB_OK)
		goto out;
	rc = sb_catalog_setting_get(cat, STORE_ID_KEY, known, sizeof(known));
	if (rc != SB_OK && rc != SB_ERR_NOTFOUND) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(cat));
		goto out;
	}
	if (rc == SB_ERR_NOTFOUND)
		known[0] = '\0';
	/*
	 * A catalog that belongs to a store whose marker is not here: most
	 * likely the volume is not mounted. Making a new store now would
	 * hide that, so it takes --force.
	 */
	if ((rc = sb_store_open(&st, cfg, err)) != SB_OK)
		goto out;
	if (known[0] != '\0' && !force) {
		struct sb_object	o;

		rc = sb_store_head(st, SB_MARKER_NAME, &o);
		sb_object_clear(&o);
		if (rc == SB_ERR_NOTFOUND) {
			rc = SB_ERR_IDENTITY;
			sb_seterr(err, "%s has no marker, but the catalog %s "
			    "belongs to store %s: if the volume is not mounted "
			    "(or the container was deleted), mount (restore) it; "
			    "to start a new, empty store for this catalog, run "
			    "`backup-cron init --force`", where,
			    cfg->catalog_path, known);
			goto out;
		}
	}
	if ((rc = sb_store_init(st, cfg, &m, created, err)) != SB_OK)
		goto out;
	if (known[0] != '\0' && strcmp(known, m.store_id) != 0 && !force) {
		rc = SB_ERR_IDENTITY;
		sb_seterr(err, "%s is store %s, but the catalog %s belongs to "
		    "store %s: is the right volume mounted? (`backup-cron init "
		    "--force` makes the catalog adopt this store)", where,
		    m.store_id, cfg->catalog_path, known);
		goto out;
	}
	if (strcmp(known, m.store_id) != 0 && (rc =
	    sb_catalog_setting_set(cat, STORE_ID_KEY, m.store_id,
	    sb_now_ms())) != SB_OK) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(cat));
		goto out;
	}
	sb_log(SB_LOG_INFO, "store.init", "%s: store %s of service %s%s",
	    where, m.store_id, m.service, *created ? " created" : " ready");
	if (out != NULL)
		*out = m;
	rc = SB_OK;
out:
	sb_store_free(&st);
	sb_catalog_close(&cat);
	return rc;
}
