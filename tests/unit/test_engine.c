/*
 * test_engine.c - the engine (engine.h) on a real SQLite live database and
 * a real disk store in a mkdtemp(3) directory, with the store wrapped in
 * one that injects faults through its operations table (struct
 * sb_store_ops): every operation can be made to fail on its Nth call, and
 * the wrapper counts the calls it passed on and the faults it injected.
 * Every fault case first asserts that its fault was injected (a test
 * whose fault never happens proves nothing), then what a user would see:
 * the catalog's records, the store's objects, the live database's bytes.
 * The success case proves the wrapper transparent.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "catalog.h"
#include "config.h"
#include "engine.h"
#include "snapshot_int.h"
#include "store.h"

/* --- the fault-injecting store ------------------------------------------ */

enum fop {
	FOP_PUT_STREAM,
	FOP_PUT_FILE,
	FOP_GET,
	FOP_HEAD,
	FOP_LIST,
	FOP_DEL,
	FOP_LOCAL_PATH,
	FOP__MAX
};

/*
 * How the armed call fails. FAULT_REFUSE: the real store is not called
 * and the call returns SB_ERR_STORAGE (a medium that refuses). FAULT_META
 * (put_file only): the real store is called with a directory planted at
 * <root>/<name>.meta, so its own metadata write (rename of the .meta temp
 * file) fails with EISDIR: a real failure inside the real store.
 */
enum fmode {
	FAULT_REFUSE,
	FAULT_META
};

struct fault_store {
	struct sb_store		 base;		/* first: we are cast to it */
	struct sb_store		*inner;		/* the real disk store */
	struct sb_store_ops	 ops;
	char			 root[256];
	unsigned		 calls[FOP__MAX];	/* passed on, or failed */
	unsigned		 fail_at[FOP__MAX];	/* 1-based call; 0 never */
	enum fmode		 mode[FOP__MAX];
	unsigned		 injected[FOP__MAX];	/* faults that happened */
};

#define INJECTED	"injected fault"

/*
 * Count a call of op; 1 if it is the armed one. The store's own marker
 * reads (the identity check before every disk operation) are neither
 * counted nor failed: N counts the engine's calls only.
 */
static int
fault_due(struct fault_store *f, enum fop op, const char *name)
{
	size_t	n = name != NULL ? strlen(name) : 0;
	size_t	m = strlen(SB_MARKER_NAME);

	if (n >= m && strcmp(name + n - m, SB_MARKER_NAME) == 0)
		return 0;
	f->calls[op]++;
	return f->fail_at[op] != 0 && f->calls[op] == f->fail_at[op];
}

/* Refuse the call: the fault is counted, the message names it. */
static int
fault_refuse(struct fault_store *f, enum fop op, const char *name)
{
	f->injected[op]++;
	sb_seterr(f->base.err, "%s: call %u of op %d on %s", INJECTED,
	    f->calls[op], (int)op, name != NULL ? name : "");
	return SB_ERR_STORAGE;
}

/* The inner store's result, with its message as ours. */
static int
fault_pass(struct fault_store *f, int rc)
{
	sb_strlcpy(f->base.err, sb_store_errmsg(f->inner), sizeof(f->base.err));
	return rc;
}

static enum sb_err
f_put_stream(struct sb_store *s, const char *name, sb_read_fn rd, void *arg,
    const struct sb_meta *m)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_PUT_STREAM, name))
		return fault_refuse(f, FOP_PUT_STREAM, name);
	return fault_pass(f, f->inner->ops->put_stream(f->inner, name, rd,
	    arg, m));
}

static enum sb_err
f_put_file(struct sb_store *s, const char *name, const char *path,
    const struct sb_meta *m)
{
	struct fault_store	*f = (struct fault_store *)s;
	char			 dir[PATH_MAX];
	int			 rc;

	if (!fault_due(f, FOP_PUT_FILE, name))
		return fault_pass(f, f->inner->ops->put_file(f->inner, name,
		    path, m));
	if (f->mode[FOP_PUT_FILE] == FAULT_REFUSE)
		return fault_refuse(f, FOP_PUT_FILE, name);
	snprintf(dir, sizeof(dir), "%s/%s.meta", f->root, name);
	if (mkdir(dir, 0700) == -1)
		return fault_pass(f, SB_ERR_IO);
	rc = f->inner->ops->put_file(f->inner, name, path, m);
	(void)rmdir(dir);
	if (rc != SB_OK)
		f->injected[FOP_PUT_FILE]++;
	return fault_pass(f, rc);
}

static enum sb_err
f_get(struct sb_store *s, const char *name, sb_write_fn wr, void *arg)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_GET, name))
		return fault_refuse(f, FOP_GET, name);
	return fault_pass(f, f->inner->ops->get(f->inner, name, wr, arg));
}

static enum sb_err
f_head(struct sb_store *s, const char *name, struct sb_object *o)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_HEAD, name))
		return fault_refuse(f, FOP_HEAD, name);
	return fault_pass(f, f->inner->ops->head(f->inner, name, o));
}

static enum sb_err
f_list(struct sb_store *s, const char *prefix, struct sb_object_list *l)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_LIST, prefix))
		return fault_refuse(f, FOP_LIST, prefix);
	return fault_pass(f, f->inner->ops->list(f->inner, prefix, l));
}

static enum sb_err
f_del(struct sb_store *s, const char *name)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_DEL, name))
		return fault_refuse(f, FOP_DEL, name);
	return fault_pass(f, f->inner->ops->del(f->inner, name));
}

static enum sb_err
f_local_path(struct sb_store *s, const char *name, char *path, size_t len)
{
	struct fault_store	*f = (struct fault_store *)s;

	if (fault_due(f, FOP_LOCAL_PATH, name))
		return fault_refuse(f, FOP_LOCAL_PATH, name);
	return fault_pass(f, f->inner->ops->local_path(f->inner, name, path,
	    len));
}

static const char *
f_staging_dir(struct sb_store *s)
{
	struct fault_store	*f = (struct fault_store *)s;

	return f->inner->ops->staging_dir(f->inner);
}

static enum sb_err
f_meta_check(struct sb_store *s, const struct sb_meta *m)
{
	struct fault_store	*f = (struct fault_store *)s;

	return fault_pass(f, f->inner->ops->meta_check(f->inner, m));
}

static enum sb_err
f_create(struct sb_store *s)
{
	struct fault_store	*f = (struct fault_store *)s;

	return fault_pass(f, f->inner->ops->create(f->inner));
}

static enum sb_err
f_put_new(struct sb_store *s, const char *name, const void *buf, size_t len,
    int *existed)
{
	struct fault_store	*f = (struct fault_store *)s;

	return fault_pass(f, f->inner->ops->put_new(f->inner, name, buf, len,
	    existed));
}

static void
f_free(struct sb_store *s)
{
	struct fault_store	*f = (struct fault_store *)s;

	sb_store_free(&f->inner);
	free(f);
}

/*
 * Wrap the disk store at root. Its kind, recheck and the NULL-ness of
 * every optional operation are the disk store's, so the engine and the
 * generic layer take exactly the paths they take on the real store. The
 * table starts empty: an operation added to struct sb_store_ops later is
 * not offered (the generic fallback runs) until it is wrapped here, never
 * handed the wrapper as if it were the disk store.
 */
static struct fault_store *
fault_open(const char *root)
{
	struct fault_store	*f;
	const struct sb_store_ops *in;
	char			 err[SB_ERRMSG_MAX] = "";

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if (sb_store_disk_open(&f->inner, root, err) != SB_OK) {
		fprintf(stderr, "disk store: %s\n", err);
		free(f);
		return NULL;
	}
	sb_strlcpy(f->root, root, sizeof(f->root));
	in = f->inner->ops;
	f->ops.kind = in->kind;
	f->ops.recheck = in->recheck;
	f->ops.put_stream = f_put_stream;
	f->ops.put_file = in->put_file != NULL ? f_put_file : NULL;
	f->ops.get = f_get;
	f->ops.head = f_head;
	f->ops.list = f_list;
	f->ops.del = f_del;
	f->ops.local_path = in->local_path != NULL ? f_local_path : NULL;
	f->ops.staging_dir = in->staging_dir != NULL ? f_staging_dir : NULL;
	f->ops.meta_check = in->meta_check != NULL ? f_meta_check : NULL;
	f->ops.create = in->create != NULL ? f_create : NULL;
	f->ops.put_new = in->put_new != NULL ? f_put_new : NULL;
	f->ops.free = f_free;
	/* Uploads overlapping the snapshot: the disk store has none. */
	assert_null(in->upload_begin);
	f->base.ops = &f->ops;
	return f;
}

/* Fail the Nth call of op from now on (1: the next one). */
static void
fault_arm(struct fault_store *f, enum fop op, unsigned n, enum fmode mode)
{
	f->fail_at[op] = f->calls[op] + n;
	f->mode[op] = mode;
}

static unsigned
fault_total(const struct fault_store *f)
{
	unsigned	n = 0;

	for (int i = 0; i < FOP__MAX; i++)
		n += f->injected[i];
	return n;
}

/* --- fixture: a live database, a config, an initialised store ------------ */

struct fx {
	char			 tmp[64];
	char			 live[128];
	char			 root[128];
	struct sb_config	*cfg;
	struct fault_store	*fs;		/* owned by e */
	struct sb_engine	*e;
	struct sb_catalog	*cat;		/* a second reader's view */
};

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Run SQL on the live database; 0 or -1. */
static int
live_exec(struct fx *x, const char *sql)
{
	sqlite3	*db = NULL;
	int	 rc;

	rc = sqlite3_open(x->live, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* One integer from the live database (-1 on error). */
static long long
live_int(struct fx *x, const char *sql)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	long long	 v = -1;

	if (sqlite3_open_v2(x->live, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
live_sha(struct fx *x, char sha[SB_SHA256_HEX + 1])
{
	char	err[SB_ERRMSG_MAX];
	int64_t	size;

	assert_int_equal(sb_sha256_file(x->live, sha, &size, err), SB_OK);
}

static int
setup(void **state)
{
	struct fx	*x;
	char		 conf[PATH_MAX], err[SB_ERRMSG_MAX] = "";
	FILE		*fp;
	int		 created = 0;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	snprintf(x->tmp, sizeof(x->tmp), "/tmp/sb-test-engine.XXXXXX");
	if (mkdtemp(x->tmp) == NULL)
		return -1;
	snprintf(x->live, sizeof(x->live), "%s/app.db", x->tmp);
	snprintf(x->root, sizeof(x->root), "%s/store", x->tmp);
	snprintf(conf, sizeof(conf), "%s/tmp", x->tmp);
	if (mkdir(conf, 0700) == -1)
		return -1;
	if (live_exec(x, "CREATE TABLE t(x INTEGER, pad BLOB);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 200) INSERT INTO t SELECT i, randomblob(500) FROM n;")
	    != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/safbackup.conf", x->tmp);
	if ((fp = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(fp, "[source]\npath = %s\n[catalog]\npath = %s/catalog.db\n"
	    "[core]\ntemp_dir = %s/tmp\n[store]\nkind = disk\n"
	    "[disk]\nroot = %s\n", x->live, x->tmp, x->tmp, x->root);
	if (fclose(fp) != 0)
		return -1;
	if (sb_config_load(conf, &x->cfg, err) != SB_OK ||
	    sb_engine_init(x->cfg, 0, NULL, &created, err) != SB_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	if ((x->fs = fault_open(x->root)) == NULL)
		return -1;
	if (sb_engine_open_store(&x->e, x->cfg, &x->fs->base, err) != SB_OK ||
	    sb_catalog_open(&x->cat, x->cfg->catalog_path, err) != SB_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*x = *state;

	sb_catalog_close(&x->cat);
	sb_engine_close(&x->e);
	sb_config_free(&x->cfg);
	nftw(x->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/* Objects named backup-* in the store, read past the wrapper. */
static size_t
store_backups(struct fx *x, struct sb_object_list *l)
{
	char	err[SB_ERRMSG_MAX];
	struct sb_store *s = NULL;

	assert_int_equal(sb_store_disk_open(&s, x->root, err), SB_OK);
	assert_int_equal(sb_store_list(s, "backup-", l), SB_OK);
	sb_store_free(&s);
	return l->n;
}

/* Records with this status, from the catalog. */
static size_t
records(struct fx *x, enum sb_status status)
{
	struct sb_filter	f;
	struct sb_backup_list	l;
	size_t			n;

	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	f.has_status = 1;
	f.status = status;
	assert_int_equal(sb_engine_list(x->e, &f, &l), SB_OK);
	n = l.n;
	sb_backup_list_clear(&l);
	return n;
}

/* Regular files left in <root>/.staging (temp files not cleaned up). */
static size_t
staging_files(struct fx *x)
{
	char		 dir[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	snprintf(dir, sizeof(dir), "%s/.staging", x->root);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* --- cases -------------------------------------------------------------- */

/*
 * No fault armed: backup and restore succeed through the wrapper as on the
 * disk store itself, and the calls really went through it.
 */
static void
test_success_through_wrapper(void **state)
{
	struct fx		*x = *state;
	struct sb_backup	 b, s;
	struct sb_restore	 r;
	struct sb_object_list	 l;

	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	memset(&l, 0, sizeof(l));
	assert_int_equal(sb_engine_create(x->e, SB_TYPE_MANUAL, "before",
	    NULL, 0, &b), SB_OK);
	assert_int_equal(b.status, SB_STATUS_COMPLETED);
	assert_int_equal(x->fs->calls[FOP_PUT_FILE], 1);
	assert_int_equal(store_backups(x, &l), 1);
	assert_string_equal(sb_meta_get(&l.v[0].meta, "id"), b.id);
	assert_string_equal(sb_meta_get(&l.v[0].meta, "sha256"), b.sha256);
	assert_int_equal(l.v[0].size, b.size);
	sb_object_list_clear(&l);

	/* The live database moves on; the restore takes it back. */
	assert_int_equal(live_exec(x, "INSERT INTO t VALUES (999, NULL)"), 0);
	assert_int_equal(live_int(x, "SELECT count(*) FROM t"), 201);
	assert_int_equal(sb_engine_restore(x->e, b.id, &r), SB_OK);
	assert_int_equal(r.status, SB_STATUS_COMPLETED);
	assert_int_equal(live_int(x, "SELECT count(*) FROM t"), 200);
	assert_int_equal(x->fs->calls[FOP_PUT_FILE], 2);	/* the safety */
	assert_true(x->fs->calls[FOP_LOCAL_PATH] >= 1);
	assert_int_equal(sb_engine_get(x->e, r.safety_backup_id, &s), SB_OK);
	assert_int_equal(s.status, SB_STATUS_COMPLETED);
	assert_int_equal(store_backups(x, &l), 2);
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 2);
	assert_int_equal(records(x, SB_STATUS_FAILED), 0);
	assert_int_equal(fault_total(x->fs), 0);
	sb_object_list_clear(&l);
	sb_restore_clear(&r);
	sb_backup_clear(&s);
	sb_backup_clear(&b);
}

/*
 * An encoded backup whose stream could not be used: the hasher's guess of
 * page 1 was not the copy's (spoilt on purpose here; srcvfs makes it
 * rare), so what the encoder was fed is not the snapshot. The object is
 * encoded again from the finished snapshot: it verifies, and restores
 * exactly what was backed up.
 */
static void
test_encoded_again(void **state)
{
	struct fx		*x = *state;
	struct sb_config	*cfg = NULL;
	struct sb_engine	*e = NULL;
	struct sb_backup	 b;
	struct sb_restore	 r;
	char			 conf[PATH_MAX], err[SB_ERRMSG_MAX] = "";
	long long		 sum;
	unsigned long		 n;
	FILE			*fp;

	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	snprintf(conf, sizeof(conf), "%s/zstd.conf", x->tmp);
	assert_non_null(fp = fopen(conf, "w"));
	fprintf(fp, "[source]\npath = %s\n[catalog]\npath = %s/catalog.db\n"
	    "[core]\ntemp_dir = %s/tmp\n[store]\nkind = disk\n"
	    "compression = zstd\n[disk]\nroot = %s\n", x->live, x->tmp,
	    x->tmp, x->root);
	assert_int_equal(fclose(fp), 0);
	if (sb_config_load(conf, &cfg, err) != SB_OK ||
	    sb_engine_open(&e, cfg, err) != SB_OK)
		fail_msg("open: %s", err);
	sum = live_int(x, "SELECT sum(x * length(pad)) FROM t");
	n = sb_snapshot_rehashed();
	sb_snapshot_spoil_guesses(1);
	if (sb_engine_create(e, SB_TYPE_MANUAL, "spoilt", NULL, 0, &b) !=
	    SB_OK)
		fail_msg("create: %s", sb_engine_errmsg(e));
	assert_int_equal(sb_snapshot_rehashed(), n + 1);	/* it fell back */
	assert_int_equal(b.status, SB_STATUS_COMPLETED);
	assert_non_null(strstr(b.location, ".db.zst"));
	assert_true(b.stored_size > 0 && b.stored_size < b.size);
	if (sb_engine_verify(e, b.id) != SB_OK)
		fail_msg("verify: %s", sb_engine_errmsg(e));

	assert_int_equal(live_exec(x, "DELETE FROM t"), 0);
	if (sb_engine_restore(e, b.id, &r) != SB_OK)
		fail_msg("restore: %s", sb_engine_errmsg(e));
	assert_int_equal(live_int(x, "SELECT count(*) FROM t"), 200);
	assert_int_equal(live_int(x, "SELECT sum(x * length(pad)) FROM t"),
	    sum);
	sb_restore_clear(&r);
	sb_backup_clear(&b);
	sb_engine_close(&e);
	sb_config_free(&cfg);
}

/*
 * The upload fails: the backup is recorded failed with the store's
 * message, never completed, and no object is in the store.
 */
static void
test_upload_fails(void **state)
{
	struct fx		*x = *state;
	struct sb_backup	 b, got;
	struct sb_object_list	 l;

	memset(&b, 0, sizeof(b));
	memset(&got, 0, sizeof(got));
	memset(&l, 0, sizeof(l));
	fault_arm(x->fs, FOP_PUT_FILE, 1, FAULT_REFUSE);
	assert_int_equal(sb_engine_create(x->e, SB_TYPE_AUTOMATIC, NULL, NULL,
	    0, &b), SB_ERR_STORAGE);
	assert_int_equal(x->fs->injected[FOP_PUT_FILE], 1);
	assert_int_equal(fault_total(x->fs), 1);

	assert_int_equal(b.status, SB_STATUS_FAILED);
	assert_int_equal(sb_engine_get(x->e, b.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_FAILED);
	assert_non_null(got.error);
	assert_non_null(strstr(got.error, "upload to the disk store"));
	assert_non_null(strstr(got.error, INJECTED));
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 0);
	assert_int_equal(records(x, SB_STATUS_PENDING), 0);
	assert_int_equal(store_backups(x, &l), 0);
	assert_int_equal(staging_files(x), 0);
	sb_object_list_clear(&l);
	sb_backup_clear(&got);
	sb_backup_clear(&b);
}

/*
 * The store's metadata write fails (the real disk store cannot rename its
 * .meta file into place): no object, the backup recorded failed naming
 * the .meta, nothing a reconcile could bring back, and the next backup
 * works.
 */
static void
test_metadata_write_fails(void **state)
{
	struct fx			*x = *state;
	struct sb_backup		 b, got, next;
	struct sb_object_list		 l;
	struct sb_reconcile_result	 rr;

	memset(&b, 0, sizeof(b));
	memset(&got, 0, sizeof(got));
	memset(&next, 0, sizeof(next));
	memset(&l, 0, sizeof(l));
	fault_arm(x->fs, FOP_PUT_FILE, 1, FAULT_META);
	assert_int_not_equal(sb_engine_create(x->e, SB_TYPE_MANUAL, "m",
	    NULL, 0, &b), SB_OK);
	assert_int_equal(x->fs->injected[FOP_PUT_FILE], 1);

	assert_int_equal(sb_engine_get(x->e, b.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_FAILED);
	assert_non_null(got.error);
	assert_non_null(strstr(got.error, ".meta"));
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 0);
	assert_int_equal(store_backups(x, &l), 0);
	sb_object_list_clear(&l);
	memset(&rr, 0, sizeof(rr));
	assert_int_equal(sb_engine_reconcile(x->e, 0, &rr), SB_OK);
	assert_int_equal(rr.added, 0);
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 0);

	assert_int_equal(sb_engine_create(x->e, SB_TYPE_MANUAL, "next", NULL,
	    0, &next), SB_OK);
	assert_int_equal(next.status, SB_STATUS_COMPLETED);
	assert_int_equal(x->fs->injected[FOP_PUT_FILE], 1);
	sb_backup_clear(&next);
	sb_backup_clear(&got);
	sb_backup_clear(&b);
}

/*
 * The safety backup of a restore fails: the restore stops, the live
 * database is byte for byte what it was, and the catalog says what
 * happened: the restore failed for its safety backup, which is recorded
 * failed, with no object. In WAL mode the copy's pages were going into
 * live's WAL meanwhile: stopped and rolled back, nobody sees them.
 */
static void
safety_backup_fails(struct fx *x, int wal)
{
	struct sb_backup	 b;
	struct sb_restore	 r, got;
	struct sb_backup_list	 l;
	struct sb_filter	 f;
	struct sb_object_list	 objs;
	char			 before[SB_SHA256_HEX + 1];
	char			 after[SB_SHA256_HEX + 1];

	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	memset(&got, 0, sizeof(got));
	memset(&l, 0, sizeof(l));
	memset(&objs, 0, sizeof(objs));
	if (wal)
		assert_int_equal(live_exec(x, "PRAGMA journal_mode = WAL"), 0);
	assert_int_equal(sb_engine_create(x->e, SB_TYPE_MANUAL, "to restore",
	    NULL, 0, &b), SB_OK);
	assert_int_equal(live_exec(x, "INSERT INTO t VALUES (999, NULL)"), 0);
	live_sha(x, before);

	fault_arm(x->fs, FOP_PUT_FILE, 1, FAULT_REFUSE);
	assert_int_equal(sb_engine_restore(x->e, b.id, &r), SB_ERR_STORAGE);
	assert_int_equal(x->fs->injected[FOP_PUT_FILE], 1);
	assert_int_equal(fault_total(x->fs), 1);

	/* The live database: not a byte changed. */
	live_sha(x, after);
	assert_string_equal(before, after);
	assert_int_equal(live_int(x, "SELECT count(*) FROM t"), 201);

	/* The catalog: the restore failed for its safety backup. */
	assert_int_equal(sb_catalog_restore_get(x->cat, r.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_FAILED);
	assert_string_equal(got.backup_id, b.id);
	assert_non_null(got.error);
	assert_non_null(strstr(got.error, "safety backup failed, live "
	    "database untouched"));
	assert_non_null(strstr(got.error, INJECTED));
	assert_string_equal(got.safety_backup_id, "");
	/* ... and the safety backup is a failed record, not an object. */
	memset(&f, 0, sizeof(f));
	f.has_status = 1;
	f.status = SB_STATUS_FAILED;
	assert_int_equal(sb_engine_list(x->e, &f, &l), SB_OK);
	assert_int_equal(l.n, 1);
	assert_non_null(l.v[0].description);
	assert_non_null(strstr(l.v[0].description, b.id));
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 1);
	assert_int_equal(records(x, SB_STATUS_PENDING), 0);
	assert_int_equal(store_backups(x, &objs), 1);
	assert_string_equal(objs.v[0].name, b.location);
	sb_object_list_clear(&objs);
	sb_backup_list_clear(&l);
	sb_restore_clear(&got);
	sb_restore_clear(&r);
	sb_backup_clear(&b);
}

static void
test_safety_backup_fails(void **state)
{
	safety_backup_fails(*state, 0);
}

static void
test_safety_backup_fails_wal(void **state)
{
	safety_backup_fails(*state, 1);
}

/*
 * The backup to restore cannot be read from the store: refused before
 * anything is locked, the live database byte for byte as it was, no
 * safety backup taken.
 */
static void
test_restore_read_fails(void **state)
{
	struct fx		*x = *state;
	struct sb_backup	 b;
	struct sb_restore	 r;
	char			 before[SB_SHA256_HEX + 1];
	char			 after[SB_SHA256_HEX + 1];

	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	assert_int_equal(sb_engine_create(x->e, SB_TYPE_MANUAL, NULL, NULL, 0,
	    &b), SB_OK);
	assert_int_equal(live_exec(x, "DELETE FROM t WHERE x > 100"), 0);
	live_sha(x, before);
	fault_arm(x->fs, FOP_LOCAL_PATH, 1, FAULT_REFUSE);
	assert_int_equal(sb_engine_restore(x->e, b.id, &r), SB_ERR_STORAGE);
	assert_int_equal(x->fs->injected[FOP_LOCAL_PATH], 1);
	live_sha(x, after);
	assert_string_equal(before, after);
	assert_int_equal(r.status, SB_STATUS_FAILED);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, INJECTED));
	assert_string_equal(r.safety_backup_id, "");
	assert_int_equal(x->fs->calls[FOP_PUT_FILE], 1);	/* no safety */
	assert_int_equal(records(x, SB_STATUS_COMPLETED), 1);
	sb_restore_clear(&r);
	sb_backup_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success_through_wrapper,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoded_again, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metadata_write_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_safety_backup_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_safety_backup_fails_wal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_read_fails,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
