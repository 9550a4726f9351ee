/*
 * engine_restore.c - verify and restore a backup, with the restore's
 * safety backup: the restore rules of docs/ARCHITECTURE.md. Runs under
 * the engine's lock (engine.c); what the engine's files share is in
 * engine_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "engine_int.h"
#include "snapshot.h"
#include "store.h"
#include "tempfile.h"

/* The sha256 of a file, in a thread (beside the integrity check). */
struct sha_job {
	const char	*path;
	struct sb_progress *progress;	/* told the bytes hashed, or NULL */
	char		 sha[SB_SHA256_HEX + 1];
	int64_t		 size;
	int		 rc;
	char		 err[SB_ERRMSG_MAX];
};

static void *
sha_thread(void *arg)
{
	struct sha_job	*j = arg;

	j->rc = sb_sha256_file_tick(j->path, j->sha, &j->size,
	    j->progress != NULL ? sb_progress_tick : NULL, j->progress,
	    j->err);
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
	struct sb_progress	*progress; /* told the bytes hashed */
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
	j.progress = v->progress;
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
 * Where backup b's object lies as a local file (sb_store_local_path):
 * *local 1 and path (len bytes) set; *local 0 for a store that keeps no
 * local files. A local object that is missing is SB_ERR_CORRUPT.
 */
enum sb_err
sb_engine_object_path(struct sb_engine *e, const struct sb_backup *b,
    char *path, size_t len, int *local)
{
	int	rc;

	*local = 0;
	rc = sb_store_local_path(e->store, b->location, path, len);
	if (rc == SB_ERR_NOTFOUND)
		return fail(e, SB_ERR_CORRUPT, "backup %s: object %s is "
		    "missing from the store", b->id, b->location);
	if (rc != SB_OK && rc != SB_ERR_INVAL)
		return fail(e, rc, "reading %s: %s", b->location,
		    sb_store_errmsg(e->store));
	*local = rc == SB_OK;
	return SB_OK;
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
	int		 rc, wal = 1, local;

	path[0] = '\0';
	got->rc = SB_ERR_NOTFOUND;
	if (b->status != SB_STATUS_COMPLETED)
		return fail(e, SB_ERR_INVAL, "backup %s is %s, not completed",
		    b->id, sb_status_str(b->status));
	if ((rc = store_ready(e)) != SB_OK)
		return rc;
	if (sb_is_engine_encoded(b)) {
		if ((rc = sb_engine_fetch_decoded(e, b, t, op, path, got->sha,
		    &got->size)) == SB_OK)
			got->rc = SB_OK;
		return rc;
	}
	if ((rc = sb_engine_object_path(e, b, path, PATH_MAX, &local)) !=
	    SB_OK)
		return rc;
	if (local && sb_snapshot_header(path, &wal, msg) == SB_OK && !wal)
		return SB_OK;
	/* Not a local file, or not one to open in place: copy it. */
	if ((rc = sb_temp_space(e->cfg->temp_dir, b->size, msg)) != SB_OK)
		return fail(e, rc, "download of backup %s: %s", b->id, msg);
	if ((rc = sb_temp_reserve(t, e->cfg->temp_dir, op, b->id, msg)) !=
	    SB_OK)
		return fail(e, rc, "download of backup %s: %s", b->id, msg);
	sb_strlcpy(path, t->path, PATH_MAX);
	sb_engine_progress_phase(e, SB_PHASE_DOWNLOAD, b->size);
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

/*
 * fetch_local, then every check (verify_thread, sha256 and integrity):
 * verify's and a drill's way to the backup as a checked local file.
 */
enum sb_err
sb_engine_fetch_verified(struct sb_engine *e, const struct sb_backup *b,
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

enum sb_err
sb_engine_verify(struct sb_engine *e, const char *id)
{
	struct sb_backup	b;
	struct sb_temp		t = { "", -1 };
	char			path[PATH_MAX];
	int			rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	rc = sb_engine_fetch_verified(e, &b, &t, "verify", path);
	if (rc == SB_ERR_CORRUPT)
		sb_engine_report(e, "backup.corrupt", rc, id, e->err);
out:
	sb_temp_release(&t);
	sb_backup_clear(&b);
	return rc;
}

/*
 * Where a restore's safety snapshot is taken: the staging directory of a
 * local store (put_file renames it into the store), else the keep
 * directory beside the catalog, where it waits for its upload
 * (sb_engine_keep_dir: never temp_dir).
 */
static enum sb_err
safety_dir(struct sb_engine *e, const char **dir)
{
	if ((*dir = sb_store_staging_dir(e->store)) != NULL)
		return SB_OK;
	return sb_engine_keep_dir(e, dir);
}

/*
 * Room for a restore, checked before anything is written: the download
 * (the backup's size; none from a store of local files) in temp_dir and
 * the safety snapshot (the source's size) in its directory (safety_dir);
 * both in one sum when they share a file system.
 */
static enum sb_err
restore_space(struct sb_engine *e, const struct sb_backup *b)
{
	struct stat	a, w;
	char		msg[SB_ERRMSG_MAX];
	const char	*wd;
	int64_t		src, tmp = b->size > 0 ? b->size : 0;
	int		rc;

	if ((rc = store_ready(e)) != SB_OK ||
	    (rc = sb_engine_source_size(e, &src)) != SB_OK ||
	    (rc = safety_dir(e, &wd)) != SB_OK)
		return rc;
	/* A local object is read where it lies (sb_engine_fetch_verified);
	 * if it must be copied after all, that checks for room then. */
	if (e->store->ops->local_path != NULL)
		tmp = 0;
	/* Encoded: the plain copy is decoded into temp_dir (and downloaded
	 * beside it from a remote store); the safety snapshot is encoded
	 * beside itself. */
	if (sb_is_engine_encoded(b))
		tmp = (b->size > 0 ? b->size : 0) + (e->store->ops->local_path !=
		    NULL ? 0 : b->stored_size > 0 ? b->stored_size : 0);
	if (!sb_is_codec_plain(&e->codec))
		src += src + src / 64 + (1 << 20);
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
 * A remote store's safety snapshot tmp, taken in dir (safety_dir), kept
 * until it is uploaded as local = <dir>/<name> (a name the temp sweeper
 * never removes): renamed there, then the directory fsynced. local is ""
 * if the rename did not happen; the caller removes a local copy that is
 * left.
 */
static enum sb_err
safety_keep_local(struct sb_engine *e, const char *tdir, const char *tmp,
    const char *name, char local[PATH_MAX])
{
	int	rc;

	if (snprintf(local, PATH_MAX, "%s/%s", tdir, name) >= PATH_MAX) {
		rc = fail(e, SB_ERR_INVAL, "%s: path too long", tdir);
		local[0] = '\0';
		return rc;
	}
	if (rename(tmp, local) == -1) {
		rc = fail(e, SB_ERR_IO, "keeping the safety snapshot as %s: %s",
		    local, strerror(errno));
		local[0] = '\0';
		return rc;
	}
	if (sb_fsync_dir(tdir) != SB_OK)
		return fail(e, SB_ERR_IO, "keeping the safety snapshot: fsync "
		    "%s: %s", tdir, strerror(errno));
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
 * - remote store (Azure): snapshot into the keep directory beside the
 *   catalog (safety_dir), fsynced, then renamed to local (<dir>/<object
 *   name>, a name the temp sweeper never removes), directory fsynced,
 *   record completed. The caller uploads it
 *   after the copy (safety_upload) and removes local once it is stored.
 *   local is "" for a local store.
 * On failure the record is marked failed, reported, nothing of it is
 * left, and the live database is untouched (the caller aborts txn).
 * out gets the record (the caller clears it); meta its object metadata.
 */
static enum sb_err
safety_locked(struct sb_engine *e, struct sb_restore_txn *txn,
    const char *restored_id, struct sb_backup *out, struct sb_meta *meta,
    char local[PATH_MAX])
{
	struct sb_backup	 b;
	struct sb_temp		 t = { "", -1 };
	const char		*stags[] = { "safety", "pre-restore" }, *dir;
	char			 name[SB_NAME_MAX + 1], desc[128];
	char			 msg[SB_ERRMSG_MAX];
	int			 rc, inserted = 0, stored = 0, remote;

	memset(&b, 0, sizeof(b));
	local[0] = '\0';
	remote = sb_store_staging_dir(e->store) == NULL;
	snprintf(desc, sizeof(desc), "safety backup before restoring %s",
	    restored_id);
	if ((rc = sb_engine_record_pending(e, &b, SB_TYPE_MANUAL, desc, stags, 2, name,
	    "safety backup started")) != SB_OK)
		goto out;
	inserted = 1;
	if ((rc = safety_dir(e, &dir)) != SB_OK)
		goto out;
	if ((rc = sb_temp_reserve(&t, dir, "snapshot", b.id, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	/* Encoded like every backup: its object is what is kept and sent. */
	if (!sb_is_codec_plain(&e->codec)) {
		if ((rc = sb_engine_safety_encoded(e, txn, &b, dir, &t)) !=
		    SB_OK)
			goto out;
	} else if ((rc = sb_snapshot_take_locked(txn, t.path, b.sha256,
	    &b.size, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	b.completed_at = sb_now_ms();
	if ((rc = sb_engine_meta_build(e, &b, meta)) != SB_OK) {
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
	} else if ((rc = safety_keep_local(e, dir, t.path, name, local)) !=
	    SB_OK)
		goto out;
	if ((rc = sb_engine_record_completed(e, &b, "safety backup",
	    remote ? ", kept locally until uploaded: " : "", local)) != SB_OK)
		goto out;
out:
	sb_temp_release(&t);
	if (rc != SB_OK && inserted) {
		if (stored)
			(void)sb_store_del(e->store, name);
		if (local[0] != '\0')
			(void)unlink(local);
		local[0] = '\0';
		sb_engine_record_failed(e, &b, rc);
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
	sb_engine_report(e, "safety.upload_failed", rc, s->id, warn);
}

/* One restore in progress: what its steps share. */
struct restore_run {
	struct sb_backup	 b;		/* the backup restored */
	struct sb_backup	 safety;	/* its safety backup */
	struct sb_meta		 smeta;		/* the safety backup's metadata */
	struct sb_restore	 r;		/* the restore's record */
	struct sb_restore_txn	*txn;		/* the live database's lock */
	struct sb_temp		 t;		/* a downloaded copy */
	struct verify_job	 vj;		/* the checks of the backup */
	struct sha_job		 got;		/* hashed on download */
	char			 from[PATH_MAX]; /* the backup as a file */
	char			 local[PATH_MAX]; /* safety copy to upload */
	char			 warn[SB_ERRMSG_MAX]; /* succeeded, but... */
	char			 blocked[32];	/* writers blocked, ms */
	int64_t			 t0;		/* when they were blocked */
};

/* Record restore r of backup id as pending (a new id) and log it. */
static enum sb_err
restore_record(struct sb_engine *e, const char *id, struct sb_restore *r)
{
	int	rc;

	if ((rc = sb_uuid_new(r->id)) != SB_OK)
		return fail(e, rc, "cannot make a restore id");
	sb_strlcpy(r->backup_id, id, sizeof(r->backup_id));
	r->started_at = sb_now_ms();
	r->status = SB_STATUS_PENDING;
	if ((rc = sb_catalog_restore_insert(e->cat, r)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	sb_logkv(SB_LOG_INFO, "restore.started", (const char *[]){
	    "restore_id", r->id, "backup_id", id, NULL }, "restore started");
	return SB_OK;
}

/*
 * Steps 1 and 2. 1: the backup as a local file and every check on it:
 * size and sha256 against the catalog, and PRAGMA integrity_check, at
 * the same time (verify_thread: a thread hashes while SQLite checks, or
 * the sha256 was taken on the download). A damaged, truncated, swapped
 * or unsound backup is refused before anything is locked or written. 2:
 * the live database's write lock, held from here to the end of the copy:
 * nothing the service commits can fall between the safety backup and the
 * copy. Writers wait (busy timeout) from now.
 */
static enum sb_err
restore_prepare(struct sb_engine *e, struct restore_run *x)
{
	char	msg[SB_ERRMSG_MAX];
	int	rc;

	x->vj.b = &x->b;
	x->vj.path = x->from;
	x->vj.got = &x->got;
	x->vj.what = VERIFY_SHA | VERIFY_INTEGRITY;
	if ((rc = restore_space(e, &x->b)) != SB_OK)
		return rc;
	sb_engine_progress_start(e, SB_OP_RESTORE, x->r.id, x->b.id,
	    e->store->ops->local_path != NULL ? SB_PHASE_VERIFY :
	    SB_PHASE_DOWNLOAD, x->b.size);
	if ((rc = fetch_local(e, &x->b, &x->t, "restore", x->from,
	    &x->got)) != SB_OK)
		return rc;
	if (x->got.rc != SB_OK) {	/* not hashed on the way: now */
		sb_engine_progress_phase(e, SB_PHASE_VERIFY, x->b.size);
		x->vj.progress = e->progress;
	}
	(void)verify_thread(&x->vj);
	x->vj.progress = NULL;
	if ((rc = x->vj.rc) != SB_OK)
		return fail(e, rc, "restore refused, the live database is "
		    "untouched: %s", x->vj.err);
	x->t0 = sb_mono_ms();
	if ((rc = sb_snapshot_restore_begin(x->from, e->cfg->source_path,
	    &x->txn, msg)) != SB_OK)
		return fail(e, rc, "copy into %s failed, the live database is "
		    "unchanged: %s", e->cfg->source_path, msg);
	return SB_OK;
}

/*
 * The copy's pages ahead of its commit, in a thread (restore_safety). A
 * failure is kept in the transaction: restore_copy hears it from
 * sb_snapshot_restore_finish, as it hears any failed copy.
 */
static void *
pages_thread(void *txn)
{
	char	err[SB_ERRMSG_MAX];

	(void)sb_snapshot_restore_pages(txn, err);
	return NULL;
}

/*
 * Step 3: the safety backup (no restore without a way back). In WAL mode
 * the copy's pages go into live's WAL at the same time, in a thread,
 * uncommitted (sb_snapshot_restore_pages): the safety snapshot reads
 * through a read transaction of its own, which does not see them, so it
 * is still exactly the state the restore replaces, and nothing commits
 * before it is durable and recorded (restore_copy). A copy that fails
 * meanwhile is rolled back, the live database untouched; restore_copy
 * reports it, the safety backup (taken all the same) kept and named.
 * Rollback-journal mode: the copy
 * would write into the database file the safety snapshot reads, so it
 * waits for restore_copy.
 */
static enum sb_err
restore_safety(struct sb_engine *e, struct restore_run *x, const char *id)
{
	char		msg[SB_ERRMSG_MAX];
	pthread_t	thr;
	int64_t		need;
	int		ahead = 0, src;

	if (sb_engine_source_size(e, &need) != SB_OK)
		need = -1;
	sb_engine_progress_phase(e, SB_PHASE_SAFETY_BACKUP, need);
	sb_snapshot_restore_watch(x->txn, e->progress);
	if (sb_is_restore_wal(x->txn))
		ahead = pthread_create(&thr, NULL, pages_thread, x->txn) == 0;
	src = safety_locked(e, x->txn, id, &x->safety, &x->smeta, x->local);
	if (ahead) {
		/* No safety backup, no restore: the rest would be for nothing. */
		if (src != SB_OK)
			sb_snapshot_restore_stop(x->txn);
		pthread_join(thr, NULL);
	}
	if (src != SB_OK) {
		sb_strlcpy(msg, e->err, sizeof(msg));
		return fail(e, src, "safety backup failed, live database "
		    "untouched: %s", msg);
	}
	sb_strlcpy(x->r.safety_backup_id, x->safety.id,
	    sizeof(x->r.safety_backup_id));
	/* Known now, so an interrupted restore's record names it too. */
	if (sb_catalog_restore_finish(e->cat, x->r.id, 0, SB_STATUS_PENDING,
	    x->safety.id, NULL) != SB_OK)
		sb_log(SB_LOG_WARN, "catalog.error", "restore %s: %s",
		    x->r.id, sb_catalog_errmsg(e->cat));
	return SB_OK;
}

/*
 * Step 4: copy into the live DB in place; the lock goes with it. Step 5:
 * a remote store's safety backup goes up now, writers running, whether
 * the copy succeeded or not.
 */
static enum sb_err
restore_copy(struct sb_engine *e, struct restore_run *x, const char *id)
{
	char	msg[SB_ERRMSG_MAX];
	int64_t	unlocked = 0;
	int	rc, replaced = 0;

	sb_engine_progress_phase(e, SB_PHASE_COPY,
	    sb_snapshot_restore_bytes(x->txn));
	rc = sb_snapshot_restore_finish(&x->txn, &replaced, &unlocked, msg);
	/* Writers waited from the lock to the commit, not for what follows. */
	snprintf(x->blocked, sizeof(x->blocked), "%lld",
	    (long long)((unlocked > 0 ? unlocked : sb_mono_ms()) - x->t0));
	if (rc != SB_OK) {
		if (replaced)
			fail(e, rc, "the live database %s WAS replaced by "
			    "backup %s, but the check after the copy failed: "
			    "%s; safety backup %s holds the previous state",
			    e->cfg->source_path, id, msg, x->safety.id);
		else
			fail(e, rc, "copy into %s failed, the live database is "
			    "unchanged (safety backup %s holds it too): %s",
			    e->cfg->source_path, x->safety.id, msg);
	}
	safety_upload(e, &x->safety, &x->smeta, x->local, x->warn);
	return rc;
}

/* The restore's record, finished with rc: stored, then logged or reported. */
static void
restore_recorded(struct sb_engine *e, struct restore_run *x, const char *id,
    int rc)
{
	struct sb_restore	*r = &x->r;
	const char		*why;

	r->finished_at = sb_now_ms();
	r->status = rc == SB_OK ? SB_STATUS_COMPLETED : SB_STATUS_FAILED;
	if (rc != SB_OK)
		r->error = strdup(e->err);
	else if (x->warn[0] != '\0')
		r->error = strdup(x->warn);
	why = rc != SB_OK ? e->err : x->warn[0] != '\0' ? x->warn : NULL;
	if (sb_catalog_restore_finish(e->cat, r->id, r->finished_at,
	    r->status, r->safety_backup_id[0] ? r->safety_backup_id : NULL,
	    why) != SB_OK)
		sb_log(SB_LOG_ERROR, "catalog.error", "cannot record "
		    "restore %s: %s", r->id, sb_catalog_errmsg(e->cat));
	if (rc == SB_OK)
		sb_logkv(SB_LOG_INFO, "restore.completed",
		    (const char *[]){ "restore_id", r->id, "backup_id",
		    id, "safety_backup_id", x->safety.id,
		    "writers_blocked_ms", x->blocked, NULL },
		    "restore completed");
	else
		sb_engine_report(e, "restore.failed", rc, id, e->err);
}

/* The steps are those of engine.h and docs/ARCHITECTURE.md. */
enum sb_err
sb_engine_restore(struct sb_engine *e, const char *id, struct sb_restore *out)
{
	struct restore_run	x;
	int			rc, locked = 0, recorded = 0;

	memset(&x, 0, sizeof(x));
	x.t.fd = -1;
	if ((rc = sb_engine_get(e, id, &x.b)) != SB_OK)
		goto out;
	if ((rc = sb_engine_lock_take(e)) != SB_OK)
		goto out;
	locked = 1;
	if ((rc = restore_record(e, id, &x.r)) != SB_OK)
		goto out;
	recorded = 1;
	if ((rc = restore_prepare(e, &x)) != SB_OK ||
	    (rc = restore_safety(e, &x, id)) != SB_OK ||
	    (rc = restore_copy(e, &x, id)) != SB_OK)
		goto out;
	rc = SB_OK;
out:
	sb_snapshot_restore_abort(&x.txn);
	sb_engine_progress_end(e);
	if (x.t0 != 0 && x.blocked[0] == '\0')
		snprintf(x.blocked, sizeof(x.blocked), "%lld",
		    (long long)(sb_mono_ms() - x.t0));
	sb_temp_release(&x.t);
	if (recorded)
		restore_recorded(e, &x, id, rc);
	if (locked)
		sb_engine_lock_drop(e);
	if (out != NULL) {
		sb_restore_clear(out);
		*out = x.r;
	} else
		sb_restore_clear(&x.r);
	sb_backup_clear(&x.b);
	sb_backup_clear(&x.safety);
	sb_meta_clear(&x.smeta);
	return rc;
}
