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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define INTERRUPTED	"interrupted: the process taking it stopped before it finished"

struct sb_engine {
	const struct sb_config	*cfg;
	struct sb_catalog	*cat;
	struct sb_store		*store;
	struct sb_reporter	*rep;
	struct sb_lock		 lock;
	char			 err[SB_ERRMSG_MAX];
};

static int
fail(struct sb_engine *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
	if ((rc = engine_store_open(e, err)) != SB_OK)
		goto out;
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

void
sb_engine_close(struct sb_engine **ep)
{
	struct sb_engine	*e;

	if (ep == NULL || (e = *ep) == NULL)
		return;
	sb_lock_release(&e->lock);
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
 * Take the writer lock, then fail any record a dead process left pending.
 * SB_ERR_BUSY when another writer runs.
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
	if (sb_catalog_fail_pending(e->cat, sb_now_ms(), INTERRUPTED, &n) ==
	    SB_OK && n > 0)
		sb_log(SB_LOG_WARN, "catalog.repaired",
		    "%d interrupted backup(s) marked failed", n);
	return SB_OK;
}

static void
lock_drop(struct sb_engine *e)
{
	sb_lock_release(&e->lock);
}

int
sb_engine_repair_pending(struct sb_engine *e, int *count)
{
	int	rc;

	*count = 0;
	if ((rc = sb_lock_acquire(&e->lock, e->cfg->lock_file, e->err)) !=
	    SB_OK)
		return rc == SB_ERR_BUSY ? SB_OK : rc;
	rc = sb_catalog_fail_pending(e->cat, sb_now_ms(), INTERRUPTED, count);
	if (rc != SB_OK)
		fail(e, rc, "%s", sb_catalog_errmsg(e->cat));
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
	char			 name[SB_NAME_MAX + 1], tmp[4096];
	char			 msg[SB_ERRMSG_MAX];
	int			 rc, inserted = 0, stored = 0, n;

	memset(&b, 0, sizeof(b));
	memset(&meta, 0, sizeof(meta));
	tmp[0] = '\0';
	b.size = -1;
	b.type = type;
	b.status = SB_STATUS_PENDING;
	b.created_at = sb_now_ms();
	if ((rc = sb_uuid_new(b.id)) != SB_OK) {
		fail(e, rc, "cannot make a backup id");
		goto out;
	}
	if ((rc = sb_name_format(type, b.created_at, b.id, name,
	    sizeof(name))) != SB_OK) {
		fail(e, rc, "cannot name the backup");
		goto out;
	}
	if ((b.location = strdup(name)) == NULL ||
	    (desc != NULL && (b.description = strdup(desc)) == NULL) ||
	    sb_backup_set_tags(&b, tags, ntags) != SB_OK) {
		rc = fail(e, SB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sb_catalog_insert(e->cat, &b)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	inserted = 1;
	sb_logkv(SB_LOG_INFO, "backup.started",
	    (const char *[]){ "backup_id", b.id, "type", sb_type_str(type),
	    "location", name, NULL }, "backup started");

	n = snprintf(tmp, sizeof(tmp), "%s/snapshot-%s.db", work_dir(e), b.id);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		tmp[0] = '\0';
		rc = fail(e, SB_ERR_CONFIG, "temporary directory path too long");
		goto out;
	}
	/*
	 * The upload starts while the snapshot is written: Azure stages the
	 * blocks already there (and checks them against the final file); the
	 * disk store simply takes the file at finish.
	 */
	if ((rc = sb_store_upload_begin(e->store, name, tmp, &up)) != SB_OK) {
		fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
		goto out;
	}
	if ((rc = sb_snapshot_take_hashed(e->cfg->source_path, tmp, b.sha256,
	    &b.size, msg)) != SB_OK) {
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
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	if (rc != SB_OK && inserted) {
		/* A completed-looking object without a completed record would
		 * be resurrected by reconcile: remove it. */
		if (stored)
			(void)sb_store_del(e->store, name);
		b.status = SB_STATUS_FAILED;
		b.completed_at = sb_now_ms();
		free(b.error);
		b.error = strdup(e->err);
		if (sb_catalog_fail(e->cat, b.id, b.completed_at, e->err) !=
		    SB_OK)
			sb_log(SB_LOG_ERROR, "catalog.error",
			    "cannot mark backup %s failed: %s", b.id,
			    sb_catalog_errmsg(e->cat));
		sb_report(e->rep, "backup.failed", rc, b.id, e->err);
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

int
sb_engine_create(struct sb_engine *e, enum sb_type type, const char *desc,
    const char *const *tags, size_t ntags, struct sb_backup *out)
{
	int	rc;

	if ((rc = check_args(e, type, desc, tags, ntags)) != SB_OK)
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
	if ((rc = lock_take(e)) != SB_OK)
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

/*
 * Download the backup's object into a new temp file and check it: size and
 * sha256 against the catalog, then PRAGMA integrity_check. tmp (PATH_MAX
 * buffer) gets the file's path; the caller unlinks it (also on failure).
 */
static int
fetch_verified(struct sb_engine *e, const struct sb_backup *b, char *tmp,
    size_t tmplen, const char *tag)
{
	char	 sha[SB_SHA256_HEX + 1], msg[SB_ERRMSG_MAX];
	int64_t	 size = -1;
	int	 rc, n;

	tmp[0] = '\0';
	if (b->status != SB_STATUS_COMPLETED)
		return fail(e, SB_ERR_INVAL, "backup %s is %s, not completed",
		    b->id, sb_status_str(b->status));
	n = snprintf(tmp, tmplen, "%s/%s-%s.db", e->cfg->temp_dir, tag, b->id);
	if (n < 0 || (size_t)n >= tmplen) {
		tmp[0] = '\0';
		return fail(e, SB_ERR_CONFIG, "temporary directory path too long");
	}
	(void)unlink(tmp);
	if ((rc = sb_store_get_file(e->store, b->location, tmp)) != SB_OK) {
		if (rc == SB_ERR_NOTFOUND)
			return fail(e, SB_ERR_CORRUPT, "backup %s: object %s "
			    "is missing from the store", b->id, b->location);
		return fail(e, rc, "download of %s: %s", b->location,
		    sb_store_errmsg(e->store));
	}
	if ((rc = sb_sha256_file(tmp, sha, &size, msg)) != SB_OK)
		return fail(e, rc, "hashing the download: %s", msg);
	if (size != b->size)
		return fail(e, SB_ERR_CORRUPT, "backup %s is %lld bytes in the "
		    "store, %lld in the catalog: refusing it", b->id,
		    (long long)size, (long long)b->size);
	if (strcmp(sha, b->sha256) != 0)
		return fail(e, SB_ERR_CORRUPT, "backup %s has sha256 %s in the "
		    "store, %s in the catalog: refusing it", b->id, sha,
		    b->sha256);
	if ((rc = sb_snapshot_check(tmp, msg)) != SB_OK)
		return fail(e, SB_ERR_CORRUPT, "backup %s fails the integrity "
		    "check: %s", b->id, msg);
	return SB_OK;
}

int
sb_engine_verify(struct sb_engine *e, const char *id)
{
	struct sb_backup	b;
	char			tmp[4096];
	int			rc;

	memset(&b, 0, sizeof(b));
	tmp[0] = '\0';
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	rc = fetch_verified(e, &b, tmp, sizeof(tmp), "verify");
	if (rc == SB_ERR_CORRUPT)
		sb_report(e->rep, "backup.corrupt", rc, id, e->err);
out:
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	sb_backup_clear(&b);
	return rc;
}

int
sb_engine_restore(struct sb_engine *e, const char *id, struct sb_restore *out)
{
	struct sb_backup	 b, safety;
	struct sb_restore	 r;
	char			 tmp[4096], msg[SB_ERRMSG_MAX];
	const char		*stags[] = { "safety", "pre-restore" };
	char			 sdesc[128];
	int			 rc, locked = 0, recorded = 0;

	memset(&b, 0, sizeof(b));
	memset(&safety, 0, sizeof(safety));
	memset(&r, 0, sizeof(r));
	tmp[0] = '\0';
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

	/* 1. Everything that can fail without touching the live DB. */
	if ((rc = fetch_verified(e, &b, tmp, sizeof(tmp), "restore")) != SB_OK)
		goto out;

	/* 2. The safety backup: no restore without a way back. */
	snprintf(sdesc, sizeof(sdesc), "safety backup before restoring %s", id);
	if ((rc = create_locked(e, SB_TYPE_MANUAL, sdesc, stags, 2,
	    &safety)) != SB_OK) {
		sb_strlcpy(msg, e->err, sizeof(msg));
		fail(e, rc, "safety backup failed, live database untouched: %s",
		    msg);
		goto out;
	}
	sb_strlcpy(r.safety_backup_id, safety.id, sizeof(r.safety_backup_id));

	/* 3. Copy into the live DB in place. */
	if ((rc = sb_snapshot_restore(tmp, e->cfg->source_path, msg)) !=
	    SB_OK) {
		fail(e, rc, "copy into %s failed (safety backup %s holds the "
		    "previous state): %s", e->cfg->source_path, safety.id, msg);
		goto out;
	}
	rc = SB_OK;
out:
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	if (recorded) {
		r.finished_at = sb_now_ms();
		r.status = rc == SB_OK ? SB_STATUS_COMPLETED : SB_STATUS_FAILED;
		if (rc != SB_OK)
			r.error = strdup(e->err);
		if (sb_catalog_restore_finish(e->cat, r.id, r.finished_at,
		    r.status, r.safety_backup_id[0] ? r.safety_backup_id : NULL,
		    rc == SB_OK ? NULL : e->err) != SB_OK)
			sb_log(SB_LOG_ERROR, "catalog.error", "cannot record "
			    "restore %s: %s", r.id, sb_catalog_errmsg(e->cat));
		if (rc == SB_OK)
			sb_logkv(SB_LOG_INFO, "restore.completed",
			    (const char *[]){ "restore_id", r.id, "backup_id",
			    id, "safety_backup_id", safety.id, NULL },
			    "restore completed");
		else
			sb_report(e->rep, "restore.failed", rc, id, e->err);
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
	return rc;
}

int
sb_engine_download(struct sb_engine *e, const char *id, sb_write_fn w,
    void *arg)
{
	struct sb_backup	b;
	int			rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	if (b.status != SB_STATUS_COMPLETED) {
		rc = fail(e, SB_ERR_NOTFOUND, "backup %s is %s: there is "
		    "nothing to download", id, sb_status_str(b.status));
		goto out;
	}
	if ((rc = sb_store_get(e->store, b.location, w, arg)) != SB_OK)
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

int
sb_engine_prune(struct sb_engine *e, int dry_run, struct sb_prune_result *out)
{
	struct sb_retention_policy	 pol;
	int				 rc;

	memset(out, 0, sizeof(*out));
	pol.daily_days = e->cfg->ret_daily_days;
	pol.weekly_days = e->cfg->ret_weekly_days;
	pol.recent_hours = e->cfg->ret_recent_hours;
	pol.failed_days = e->cfg->ret_failed_days;
	if (!dry_run && (rc = lock_take(e)) != SB_OK)
		return rc;
	if ((rc = sb_catalog_list_type(e->cat, SB_TYPE_AUTOMATIC,
	    &out->list)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	if ((rc = sb_retention_plan(&pol, out->list.v, out->list.n,
	    sb_now_ms(), &out->plan)) != SB_OK) {
		fail(e, rc, "retention: out of memory");
		goto out;
	}
	if (out->plan.halted) {
		fail(e, SB_OK, "%s", out->plan.halt_reason);
		sb_report(e->rep, "prune.halted", SB_OK, NULL,
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
	if (out->errors > 0) {
		rc = fail(e, SB_ERR_STORAGE, "%zu of %zu deletions failed",
		    out->errors, out->plan.ndelete);
		sb_report(e->rep, "prune.failed", rc, NULL, e->err);
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
	if ((rc = lock_take(e)) != SB_OK)
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
