/*
 * test_catalog.c - the backup-db on real SQLite files in a mkdtemp()
 * directory: migrations, round trips, state changes, list filters.
 */
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

struct fix {
	char			 dir[PATH_MAX];
	char			 path[PATH_MAX + 16];
	struct sb_catalog	*c;
};

static void
rm_db(const char *path)
{
	char	buf[PATH_MAX + 16];

	unlink(path);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-journal", path);
	unlink(buf);
}

static int
setup(void **state)
{
	struct fix	*f;
	const char	*tmp = getenv("TMPDIR");
	char		 err[SB_ERRMSG_MAX] = "";

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/sbcat.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	if (sb_catalog_open(&f->c, f->path, err) != SB_OK)
		fail_msg("open: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix	*f = *state;

	sb_catalog_close(&f->c);
	rm_db(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
mkid(char id[SB_UUID_LEN + 1], int n)
{
	snprintf(id, SB_UUID_LEN + 1, "00000000-0000-4000-8000-%012d", n);
}

/* Fill b (cleared first) with a simple record. */
static void
mkbackup(struct sb_backup *b, int n, enum sb_type type,
    enum sb_status status, int64_t created, const char *desc,
    const char *const *tags, size_t ntags)
{
	sb_backup_clear(b);
	mkid(b->id, n);
	b->type = type;
	b->status = status;
	b->created_at = created;
	b->description = desc == NULL ? NULL : strdup(desc);
	assert_int_equal(sb_backup_set_tags(b, tags, ntags), SB_OK);
}

static void
insert(struct sb_catalog *c, int n, enum sb_type type, enum sb_status st,
    int64_t created, const char *desc, const char *const *tags, size_t ntags)
{
	struct sb_backup	b;

	memset(&b, 0, sizeof(b));
	mkbackup(&b, n, type, st, created, desc, tags, ntags);
	if (sb_catalog_insert(c, &b) != SB_OK)
		fail_msg("insert %d: %s", n, sb_catalog_errmsg(c));
	sb_backup_clear(&b);
}

/* An integer from a one-value SQL query on a separate connection. */
static int64_t
query_i64(const char *path, const char *sql)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int64_t		 v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
test_migrate_fresh(void **state)
{
	struct fix	*f = *state;
	int		 v = -1;

	assert_int_equal(sb_catalog_version(f->c, &v), SB_OK);
	assert_int_equal(v, SB_CATALOG_VERSION);
	assert_int_equal(SB_CATALOG_VERSION, 6);
	assert_int_equal(query_i64(f->path, "PRAGMA user_version"), 6);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM "
	    "sqlite_schema WHERE type = 'table' AND name IN "
	    "('backups', 'restores', 'settings', 'monitor_state', "
	    "'running')"), 5);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM "
	    "pragma_table_info('backups') WHERE name IN ('verified_at', "
	    "'verify_status', 'verify_detail')"), 3);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM "
	    "sqlite_schema WHERE type = 'index' AND name IN "
	    "('backups_created', 'backups_type_created', "
	    "'backups_status_created', 'restores_started')"), 4);
	/* WAL: the header's read/write versions are 2. */
	assert_int_equal(query_i64(f->path, "SELECT 1 FROM "
	    "pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
}

static void
test_reopen_keeps_version(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;
	char			 err[SB_ERRMSG_MAX] = "";
	int			 v = -1;

	memset(&b, 0, sizeof(b));
	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 1000, "kept",
	    NULL, 0);
	sb_catalog_close(&f->c);
	assert_null(f->c);
	if (sb_catalog_open(&f->c, f->path, err) != SB_OK)
		fail_msg("reopen: %s", err);
	assert_int_equal(sb_catalog_version(f->c, &v), SB_OK);
	assert_int_equal(v, SB_CATALOG_VERSION);
	mkid(b.id, 1);
	assert_int_equal(sb_catalog_get(f->c, b.id, &b), SB_OK);
	assert_string_equal(b.description, "kept");
	sb_backup_clear(&b);

	/* A second handle, as another process would have, shares it. */
	{
		struct sb_catalog	*c2 = NULL;
		int64_t			 n = 0;

		assert_int_equal(sb_catalog_open(&c2, f->path, err), SB_OK);
		insert(c2, 2, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, 2000,
		    NULL, NULL, 0);
		assert_int_equal(sb_catalog_count(f->c, NULL, &n), SB_OK);
		assert_int_equal(n, 2);
		sb_catalog_close(&c2);
	}
}

static void
test_newer_refused(void **state)
{
	struct fix		*f = *state;
	struct sb_catalog	*c = NULL;
	sqlite3			*db = NULL;
	char			 path[PATH_MAX + 16];
	char			 err[SB_ERRMSG_MAX] = "";

	snprintf(path, sizeof(path), "%s/newer.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (a); "
	    "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(sb_catalog_open(&c, path, err), SB_ERR_DB);
	assert_null(c);
	assert_non_null(strstr(err,
	    "catalog was written by a newer safbackup (version 99)"));
	/* Untouched: still version 99, still a rollback journal. */
	assert_int_equal(query_i64(path, "PRAGMA user_version"), 99);
	assert_int_equal(query_i64(path, "SELECT count(*) FROM "
	    "pragma_journal_mode WHERE journal_mode = 'delete'"), 1);
	assert_int_equal(query_i64(path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'backups'"), 0);
	rm_db(path);

	/* A file that is not a database is refused, not overwritten. */
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		for (int i = 0; i < 100; i++)
			fputs("this is not an SQLite database\n", fp);
		fclose(fp);
		err[0] = '\0';
		assert_int_equal(sb_catalog_open(&c, path, err), SB_ERR_DB);
		assert_null(c);
		assert_non_null(strstr(err, "not a database"));
		rm_db(path);
	}
}

static void
test_roundtrip(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 in, out;
	const char *const	 tags[] = { "prod", "été", "日本",
	    "with \"quote\"", "back\\slash" };

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	mkbackup(&in, 7, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED,
	    1700000000123LL, "Avant la migration — ünïcödé 日本語 \"q\" 'a'",
	    tags, 5);
	in.completed_at = 1700000009999LL;
	in.location = strdup("backup-20231114T221320123Z-automatic-x.db");
	in.size = 123456789012LL;
	memset(in.sha256, 'a', SB_SHA256_HEX);
	in.sha256[SB_SHA256_HEX] = '\0';
	in.error = strdup("disk full");
	assert_int_equal(sb_catalog_insert(f->c, &in), SB_OK);

	/* out holds a record already: get releases it first. */
	mkbackup(&out, 99, SB_TYPE_MANUAL, SB_STATUS_PENDING, 1, "old",
	    tags, 2);
	assert_int_equal(sb_catalog_get(f->c, in.id, &out), SB_OK);
	assert_string_equal(out.id, in.id);
	assert_int_equal(out.type, SB_TYPE_AUTOMATIC);
	assert_int_equal(out.status, SB_STATUS_FAILED);
	assert_int_equal(out.created_at, 1700000000123LL);
	assert_int_equal(out.completed_at, 1700000009999LL);
	assert_string_equal(out.location, in.location);
	assert_int_equal(out.size, 123456789012LL);
	assert_string_equal(out.sha256, in.sha256);
	assert_string_equal(out.description, in.description);
	assert_string_equal(out.error, "disk full");
	assert_int_equal(out.ntags, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(out.tags[i], tags[i]);
	sb_backup_clear(&out);

	/* Unknowns stay unknown: 0, -1, "", NULL, no tags. */
	mkbackup(&in, 8, SB_TYPE_MANUAL, SB_STATUS_PENDING, 5, NULL, NULL, 0);
	assert_int_equal(sb_catalog_insert(f->c, &in), SB_OK);
	assert_int_equal(sb_catalog_get(f->c, in.id, &out), SB_OK);
	assert_int_equal(out.type, SB_TYPE_MANUAL);
	assert_int_equal(out.status, SB_STATUS_PENDING);
	assert_int_equal(out.completed_at, 0);
	assert_int_equal(out.size, -1);
	assert_string_equal(out.sha256, "");
	assert_null(out.location);
	assert_null(out.description);
	assert_null(out.error);
	assert_int_equal(out.ntags, 0);
	sb_backup_clear(&out);
	sb_backup_clear(&in);

	/* Not found clears out too. */
	mkbackup(&out, 99, SB_TYPE_MANUAL, SB_STATUS_PENDING, 1, "old",
	    NULL, 0);
	assert_int_equal(sb_catalog_get(f->c,
	    "00000000-0000-4000-8000-000000000404", &out), SB_ERR_NOTFOUND);
	assert_null(out.description);
	assert_string_equal(out.id, "");
	assert_non_null(strstr(sb_catalog_errmsg(f->c), "no backup"));
}

static void
test_duplicate(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;

	memset(&b, 0, sizeof(b));
	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 10, "first",
	    NULL, 0);
	mkbackup(&b, 1, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, 20, "second",
	    NULL, 0);
	assert_int_equal(sb_catalog_insert(f->c, &b), SB_ERR_INVAL);
	assert_non_null(strstr(sb_catalog_errmsg(f->c), "already exists"));
	assert_int_equal(sb_catalog_get(f->c, b.id, &b), SB_OK);
	assert_string_equal(b.description, "first");
	assert_int_equal(b.created_at, 10);

	/* Bad enums and empty ids never reach SQLite. */
	b.type = SB_TYPE__MAX;
	assert_int_equal(sb_catalog_insert(f->c, &b), SB_ERR_INVAL);
	b.type = SB_TYPE_MANUAL;
	b.id[0] = '\0';
	assert_int_equal(sb_catalog_insert(f->c, &b), SB_ERR_INVAL);
	sb_backup_clear(&b);
}

static void
test_upsert(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;
	const char *const	 t1[] = { "a" };
	int64_t			 n = 0;

	memset(&b, 0, sizeof(b));
	mkbackup(&b, 3, SB_TYPE_MANUAL, SB_STATUS_PENDING, 100, "v1", t1, 1);
	assert_int_equal(sb_catalog_upsert(f->c, &b), SB_OK);
	mkbackup(&b, 3, SB_TYPE_AUTOMATIC, SB_STATUS_COMPLETED, 200, "v2",
	    NULL, 0);
	b.size = 42;
	assert_int_equal(sb_catalog_upsert(f->c, &b), SB_OK);
	assert_int_equal(sb_catalog_count(f->c, NULL, &n), SB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sb_catalog_get(f->c, b.id, &b), SB_OK);
	assert_int_equal(b.type, SB_TYPE_AUTOMATIC);
	assert_int_equal(b.status, SB_STATUS_COMPLETED);
	assert_int_equal(b.created_at, 200);
	assert_int_equal(b.size, 42);
	assert_string_equal(b.description, "v2");
	assert_int_equal(b.ntags, 0);
	sb_backup_clear(&b);
}

static void
test_complete_fail(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;
	char			 id[SB_UUID_LEN + 1];
	char			 sha[SB_SHA256_HEX + 1];

	memset(&b, 0, sizeof(b));
	memset(sha, 'f', SB_SHA256_HEX);
	sha[SB_SHA256_HEX] = '\0';
	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_PENDING, 10, NULL, NULL, 0);
	mkid(id, 1);
	assert_int_equal(sb_catalog_complete(f->c, id, 20, 4096, sha, 1234),
	    SB_OK);
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_OK);
	assert_int_equal(b.status, SB_STATUS_COMPLETED);
	assert_int_equal(b.completed_at, 20);
	assert_int_equal(b.size, 4096);
	assert_int_equal(b.stored_size, 1234);
	assert_string_equal(b.sha256, sha);

	/* Only a pending record completes. */
	assert_int_equal(sb_catalog_complete(f->c, id, 30, 1, sha, 1),
	    SB_ERR_INVAL);
	assert_non_null(strstr(sb_catalog_errmsg(f->c), "not pending"));
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_OK);
	assert_int_equal(b.completed_at, 20);
	assert_int_equal(sb_catalog_complete(f->c,
	    "00000000-0000-4000-8000-000000000404", 30, 1, sha, 1),
	    SB_ERR_NOTFOUND);

	/* Any -> failed. */
	assert_int_equal(sb_catalog_fail(f->c, id, 40, "upload lost"), SB_OK);
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_OK);
	assert_int_equal(b.status, SB_STATUS_FAILED);
	assert_int_equal(b.completed_at, 40);
	assert_string_equal(b.error, "upload lost");
	assert_int_equal(sb_catalog_fail(f->c,
	    "00000000-0000-4000-8000-000000000404", 30, "x"),
	    SB_ERR_NOTFOUND);
	sb_backup_clear(&b);
}

static void
test_fail_pending(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;
	struct sb_filter	 flt;
	int			 n = -1;
	int64_t			 cnt = 0;

	memset(&b, 0, sizeof(b));
	memset(&flt, 0, sizeof(flt));
	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_PENDING, 10, NULL, NULL, 0);
	insert(f->c, 2, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, 11, NULL,
	    NULL, 0);
	insert(f->c, 3, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 12, NULL, NULL, 0);
	insert(f->c, 4, SB_TYPE_MANUAL, SB_STATUS_PENDING, 13, NULL, NULL, 0);
	assert_int_equal(sb_catalog_fail_pending(f->c, 99, "interrupted",
	    &n), SB_OK);
	assert_int_equal(n, 3);
	flt.has_status = 1;
	flt.status = SB_STATUS_FAILED;
	assert_int_equal(sb_catalog_count(f->c, &flt, &cnt), SB_OK);
	assert_int_equal(cnt, 3);
	mkid(b.id, 2);
	assert_int_equal(sb_catalog_get(f->c, b.id, &b), SB_OK);
	assert_string_equal(b.error, "interrupted");
	assert_int_equal(b.completed_at, 99);
	mkid(b.id, 3);
	assert_int_equal(sb_catalog_get(f->c, b.id, &b), SB_OK);
	assert_int_equal(b.status, SB_STATUS_COMPLETED);
	assert_null(b.error);
	sb_backup_clear(&b);
	assert_int_equal(sb_catalog_fail_pending(f->c, 100, "again", &n),
	    SB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sb_catalog_fail_pending(f->c, 100, "again", NULL),
	    SB_OK);
}

/* Pending restores -> failed, naming the safety backup when known. */
static void
test_restore_fail_pending(void **state)
{
	struct fix		*f = *state;
	struct sb_restore	 r, got;
	int			 n = -1;

	memset(&r, 0, sizeof(r));
	memset(&got, 0, sizeof(got));
	mkid(r.id, 1);
	mkid(r.backup_id, 9);
	r.started_at = 10;
	r.status = SB_STATUS_PENDING;
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_OK);
	mkid(r.id, 2);
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_OK);
	mkid(r.safety_backup_id, 7);
	assert_int_equal(sb_catalog_restore_finish(f->c, r.id, 0,
	    SB_STATUS_PENDING, r.safety_backup_id, NULL), SB_OK);
	mkid(r.id, 3);
	r.safety_backup_id[0] = '\0';
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_OK);
	assert_int_equal(sb_catalog_restore_finish(f->c, r.id, 20,
	    SB_STATUS_COMPLETED, NULL, NULL), SB_OK);

	assert_int_equal(sb_catalog_restore_fail_pending(f->c, 99,
	    "interrupted", &n), SB_OK);
	assert_int_equal(n, 2);
	mkid(r.id, 1);
	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_FAILED);
	assert_int_equal(got.finished_at, 99);
	assert_string_equal(got.error, "interrupted");
	mkid(r.id, 2);
	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_FAILED);
	assert_non_null(strstr(got.error, "interrupted; safety backup "
	    "00000000-0000-4000-8000-000000000007 holds"));
	mkid(r.id, 3);
	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &got), SB_OK);
	assert_int_equal(got.status, SB_STATUS_COMPLETED);
	assert_null(got.error);
	sb_restore_clear(&got);
	assert_int_equal(sb_catalog_restore_fail_pending(f->c, 100, "x", &n),
	    SB_OK);
	assert_int_equal(n, 0);
}

/* The ids of a list, as numbers, for compact assertions. */
static int
ids_of(const struct sb_backup_list *l, int *v, size_t max)
{
	size_t	i;

	for (i = 0; i < l->n && i < max; i++)
		v[i] = (int)strtol(l->v[i].id + 24, NULL, 10);
	return (int)l->n;
}

static void
test_list_order(void **state)
{
	struct fix		*f = *state;
	struct sb_backup_list	 l = { NULL, 0 };
	int			 v[8];

	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 300, NULL,
	    NULL, 0);
	insert(f->c, 2, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 100, NULL,
	    NULL, 0);
	insert(f->c, 3, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 200, NULL,
	    NULL, 0);
	insert(f->c, 5, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 200, NULL,
	    NULL, 0);
	insert(f->c, 4, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 200, NULL,
	    NULL, 0);
	assert_int_equal(sb_catalog_list(f->c, NULL, &l), SB_OK);
	assert_int_equal(ids_of(&l, v, 8), 5);
	/* created_at desc; the tie at 200 by id desc. */
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 5);
	assert_int_equal(v[2], 4);
	assert_int_equal(v[3], 3);
	assert_int_equal(v[4], 2);
	sb_backup_list_clear(&l);
}

/*
 * The data set for the filter tests:
 *  n  type  status     created  description            tags
 *  1  man   completed  1000     "Before upgrade"       [prod]
 *  2  auto  completed  2000     NULL                   [nightly]
 *  3  man   failed     3000     "100% done_ok"         []
 *  4  auto  pending    4000     "it's \"quoted\""      [a\b]
 *  5  man   completed  5000     "100x doneXok"         [Release-2]
 */
static void
filter_data(struct sb_catalog *c)
{
	const char *const	t1[] = { "prod" };
	const char *const	t2[] = { "nightly" };
	const char *const	t4[] = { "a\\b" };
	const char *const	t5[] = { "Release-2" };

	insert(c, 1, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 1000,
	    "Before upgrade", t1, 1);
	insert(c, 2, SB_TYPE_AUTOMATIC, SB_STATUS_COMPLETED, 2000, NULL,
	    t2, 1);
	insert(c, 3, SB_TYPE_MANUAL, SB_STATUS_FAILED, 3000, "100% done_ok",
	    NULL, 0);
	insert(c, 4, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, 4000,
	    "it's \"quoted\"", t4, 1);
	insert(c, 5, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 5000,
	    "100x doneXok", t5, 1);
}

/*
 * List with f and compare with the expected ids (newest first); count
 * must agree with the number of ids.
 */
static void
expect(struct sb_catalog *c, const struct sb_filter *f, const char *what,
    int n, ...)
{
	struct sb_backup_list	 l = { NULL, 0 };
	int			 v[16];
	int64_t			 cnt = -1;
	va_list			 ap;

	if (sb_catalog_list(c, f, &l) != SB_OK)
		fail_msg("%s: %s", what, sb_catalog_errmsg(c));
	if ((int)l.n != n)
		fail_msg("%s: %zu rows, expected %d", what, l.n, n);
	ids_of(&l, v, 16);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int want = va_arg(ap, int);
		if (v[i] != want)
			fail_msg("%s: row %d is %d, expected %d", what, i,
			    v[i], want);
	}
	va_end(ap);
	sb_backup_list_clear(&l);
	assert_int_equal(sb_catalog_count(c, f, &cnt), SB_OK);
	if (cnt != n)
		fail_msg("%s: count %lld, expected %d", what,
		    (long long)cnt, n);
}

static void
test_list_filters(void **state)
{
	struct fix		*f = *state;
	struct sb_filter	 flt;

	filter_data(f->c);
	memset(&flt, 0, sizeof(flt));
	expect(f->c, &flt, "none", 5, 5, 4, 3, 2, 1);

	flt.has_type = 1;
	flt.type = SB_TYPE_AUTOMATIC;
	expect(f->c, &flt, "type", 2, 4, 2);
	flt.type = SB_TYPE_MANUAL;
	expect(f->c, &flt, "type manual", 3, 5, 3, 1);
	flt.has_type = 0;

	flt.has_status = 1;
	flt.status = SB_STATUS_COMPLETED;
	expect(f->c, &flt, "status", 3, 5, 2, 1);
	flt.status = SB_STATUS_PENDING;
	expect(f->c, &flt, "status pending", 1, 4);
	flt.has_status = 0;

	/* from and to are both inclusive. */
	flt.from = 2000;
	expect(f->c, &flt, "from", 4, 5, 4, 3, 2);
	flt.from = 2001;
	expect(f->c, &flt, "from+1", 3, 5, 4, 3);
	flt.from = 0;
	flt.to = 4000;
	expect(f->c, &flt, "to", 4, 4, 3, 2, 1);
	flt.to = 3999;
	expect(f->c, &flt, "to-1", 3, 3, 2, 1);
	flt.from = 2000;
	flt.to = 4000;
	expect(f->c, &flt, "from-to", 3, 4, 3, 2);
	flt.from = 3000;
	flt.to = 3000;
	expect(f->c, &flt, "one instant", 1, 3);
	flt.from = flt.to = 0;

	/* q: description, case-insensitively. */
	flt.q = "UPGRADE";
	expect(f->c, &flt, "q desc", 1, 1);
	/* q: a tag. */
	flt.q = "nightly";
	expect(f->c, &flt, "q tag", 1, 2);
	flt.q = "release";
	expect(f->c, &flt, "q tag case", 1, 5);
	/* % and _ are literal: "100x doneXok" must not match. */
	flt.q = "100% done_ok";
	expect(f->c, &flt, "q %_", 1, 3);
	flt.q = "%";
	expect(f->c, &flt, "q %", 1, 3);
	flt.q = "_";
	expect(f->c, &flt, "q _", 1, 3);
	/* Quotes match the text, not the JSON encoding. */
	flt.q = "\"quoted\"";
	expect(f->c, &flt, "q dquote", 1, 4);
	flt.q = "it's";
	expect(f->c, &flt, "q squote", 1, 4);
	flt.q = "a\\b";
	expect(f->c, &flt, "q backslash tag", 1, 4);
	/* In the tags' JSON text these appear; as values they do not. */
	flt.q = "\"";
	expect(f->c, &flt, "q lone dquote", 1, 4);
	flt.q = "\"prod";
	expect(f->c, &flt, "q json quote", 0);
	flt.q = "a\\\\b";
	expect(f->c, &flt, "q json escape", 0);
	flt.q = "\\";
	expect(f->c, &flt, "q backslash", 1, 4);
	flt.q = "[";
	expect(f->c, &flt, "q bracket", 0);
	flt.q = "no such thing";
	expect(f->c, &flt, "q none", 0);
	flt.q = "";
	expect(f->c, &flt, "q empty", 5, 5, 4, 3, 2, 1);

	/* Combined. */
	flt.q = "100";
	flt.has_type = 1;
	flt.type = SB_TYPE_MANUAL;
	expect(f->c, &flt, "q+type", 2, 5, 3);
	flt.has_status = 1;
	flt.status = SB_STATUS_COMPLETED;
	expect(f->c, &flt, "q+type+status", 1, 5);
	flt.to = 4999;
	expect(f->c, &flt, "q+type+status+to", 0);
	memset(&flt, 0, sizeof(flt));
	flt.has_type = 1;
	flt.type = SB_TYPE_AUTOMATIC;
	flt.has_status = 1;
	flt.status = SB_STATUS_COMPLETED;
	flt.from = 1000;
	flt.to = 2000;
	expect(f->c, &flt, "type+status+range", 1, 2);

	/* Bad filters are refused. */
	memset(&flt, 0, sizeof(flt));
	flt.has_type = 1;
	flt.type = SB_TYPE__MAX;
	{
		struct sb_backup_list	l = { NULL, 0 };
		int64_t			n;

		assert_int_equal(sb_catalog_list(f->c, &flt, &l),
		    SB_ERR_INVAL);
		assert_int_equal(l.n, 0);
		assert_int_equal(sb_catalog_count(f->c, &flt, &n),
		    SB_ERR_INVAL);
		flt.has_type = 0;
		flt.limit = -1;
		assert_int_equal(sb_catalog_list(f->c, &flt, &l),
		    SB_ERR_INVAL);
		flt.limit = 0;
		flt.offset = -1;
		assert_int_equal(sb_catalog_list(f->c, &flt, &l),
		    SB_ERR_INVAL);
	}
}

/* Insert n automatic records, created_at 1..n, in one go. */
static void
bulk(struct fix *f, int n)
{
	sqlite3			*db = NULL;
	struct sb_backup	 b;

	memset(&b, 0, sizeof(b));
	/* One transaction from a second connection keeps this fast. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	for (int i = 1; i <= n; i++) {
		sqlite3_stmt *st = NULL;

		mkid(b.id, i);
		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO backups "
		    "(id, type, status, created_at) VALUES "
		    "(?1, 'automatic', 'completed', ?2)", -1, &st, NULL),
		    SQLITE_OK);
		sqlite3_bind_text(st, 1, b.id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, i);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

static void
test_list_paging(void **state)
{
	struct fix		*f = *state;
	struct sb_filter	 flt;
	struct sb_backup_list	 l = { NULL, 0 };
	int64_t			 n = 0;

	bulk(f, SB_LIST_MAX + 5);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(sb_catalog_list(f->c, &flt, &l), SB_OK);
	assert_int_equal(l.n, SB_LIST_DEFAULT);
	assert_int_equal(l.v[0].created_at, SB_LIST_MAX + 5);
	assert_int_equal(l.v[SB_LIST_DEFAULT - 1].created_at,
	    SB_LIST_MAX + 5 - SB_LIST_DEFAULT + 1);
	flt.limit = 100000;
	assert_int_equal(sb_catalog_list(f->c, &flt, &l), SB_OK);
	assert_int_equal(l.n, SB_LIST_MAX);
	flt.limit = 3;
	flt.offset = 10;
	assert_int_equal(sb_catalog_list(f->c, &flt, &l), SB_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[0].created_at, SB_LIST_MAX + 5 - 10);
	assert_int_equal(l.v[2].created_at, SB_LIST_MAX + 5 - 12);
	flt.offset = SB_LIST_MAX + 4;
	assert_int_equal(sb_catalog_list(f->c, &flt, &l), SB_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].created_at, 1);
	flt.offset = SB_LIST_MAX + 5;
	assert_int_equal(sb_catalog_list(f->c, &flt, &l), SB_OK);
	assert_int_equal(l.n, 0);
	/* count ignores limit and offset. */
	assert_int_equal(sb_catalog_count(f->c, &flt, &n), SB_OK);
	assert_int_equal(n, SB_LIST_MAX + 5);
	flt.from = 1001;
	assert_int_equal(sb_catalog_count(f->c, &flt, &n), SB_OK);
	assert_int_equal(n, 5);

	/* list_type is not paged. */
	assert_int_equal(sb_catalog_list_type(f->c, SB_TYPE_AUTOMATIC, &l),
	    SB_OK);
	assert_int_equal(l.n, SB_LIST_MAX + 5);
	assert_int_equal(l.v[0].created_at, SB_LIST_MAX + 5);
	assert_int_equal(l.v[l.n - 1].created_at, 1);
	assert_int_equal(sb_catalog_list_type(f->c, SB_TYPE_MANUAL, &l),
	    SB_OK);
	assert_int_equal(l.n, 0);
	sb_backup_list_clear(&l);
}

static void
test_list_type(void **state)
{
	struct fix		*f = *state;
	struct sb_backup_list	 l = { NULL, 0 };
	int			 v[8];

	filter_data(f->c);
	assert_int_equal(sb_catalog_list_type(f->c, SB_TYPE_MANUAL, &l),
	    SB_OK);
	assert_int_equal(ids_of(&l, v, 8), 3);
	assert_int_equal(v[0], 5);
	assert_int_equal(v[1], 3);
	assert_int_equal(v[2], 1);
	assert_string_equal(l.v[2].tags[0], "prod");
	sb_backup_list_clear(&l);
}

static void
test_delete(void **state)
{
	struct fix		*f = *state;
	struct sb_backup	 b;
	char			 id[SB_UUID_LEN + 1];
	int64_t			 n = 0;

	memset(&b, 0, sizeof(b));
	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 1, NULL, NULL, 0);
	insert(f->c, 2, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 2, NULL, NULL, 0);
	mkid(id, 1);
	assert_int_equal(sb_catalog_delete(f->c, id), SB_OK);
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_ERR_NOTFOUND);
	assert_int_equal(sb_catalog_delete(f->c, id), SB_ERR_NOTFOUND);
	assert_non_null(strstr(sb_catalog_errmsg(f->c), id));
	assert_int_equal(sb_catalog_count(f->c, NULL, &n), SB_OK);
	assert_int_equal(n, 1);
}

static void
test_restores(void **state)
{
	struct fix		*f = *state;
	struct sb_restore	 r, out;

	memset(&r, 0, sizeof(r));
	memset(&out, 0, sizeof(out));
	mkid(r.id, 500);
	mkid(r.backup_id, 1);
	r.started_at = 1000;
	r.status = SB_STATUS_PENDING;
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_OK);
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_ERR_INVAL);
	assert_non_null(strstr(sb_catalog_errmsg(f->c), "already exists"));

	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &out), SB_OK);
	assert_string_equal(out.id, r.id);
	assert_string_equal(out.backup_id, r.backup_id);
	assert_string_equal(out.safety_backup_id, "");
	assert_int_equal(out.started_at, 1000);
	assert_int_equal(out.finished_at, 0);
	assert_int_equal(out.status, SB_STATUS_PENDING);
	assert_null(out.error);

	/* The restore history outlives the backup (no foreign key). */
	insert(f->c, 2, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 900, NULL, NULL,
	    0);
	assert_int_equal(sb_catalog_restore_finish(f->c, r.id, 2000,
	    SB_STATUS_COMPLETED, "00000000-0000-4000-8000-000000000002", NULL),
	    SB_OK);
	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &out), SB_OK);
	assert_int_equal(out.status, SB_STATUS_COMPLETED);
	assert_int_equal(out.finished_at, 2000);
	assert_string_equal(out.safety_backup_id,
	    "00000000-0000-4000-8000-000000000002");
	assert_null(out.error);

	/* NULL safety id keeps the recorded one. */
	assert_int_equal(sb_catalog_restore_finish(f->c, r.id, 3000,
	    SB_STATUS_FAILED, NULL, "integrity_check failed"), SB_OK);
	assert_int_equal(sb_catalog_restore_get(f->c, r.id, &out), SB_OK);
	assert_int_equal(out.status, SB_STATUS_FAILED);
	assert_string_equal(out.error, "integrity_check failed");
	assert_string_equal(out.safety_backup_id,
	    "00000000-0000-4000-8000-000000000002");

	assert_int_equal(sb_catalog_restore_finish(f->c,
	    "00000000-0000-4000-8000-000000000404", 1, SB_STATUS_FAILED,
	    NULL, NULL), SB_ERR_NOTFOUND);
	assert_int_equal(sb_catalog_restore_get(f->c,
	    "00000000-0000-4000-8000-000000000404", &out), SB_ERR_NOTFOUND);
	assert_null(out.error);
	sb_restore_clear(&out);
}

/* What migration 4 added, taken away: a version-3 catalog's schema. */
#define V4_UNDO	"ALTER TABLE backups DROP COLUMN stored_size; " \
	"DROP TABLE running; DROP TABLE monitor_state; " \
	"ALTER TABLE backups DROP COLUMN verified_at; " \
	"ALTER TABLE backups DROP COLUMN verify_status; " \
	"ALTER TABLE backups DROP COLUMN verify_detail; "

/*
 * A version-3 catalog holding a backup upgrades in place: the record is
 * kept, never drilled; a drill result and monitored states then round
 * trip, and the summary check reads sees them.
 */
static void
test_v3_upgrade_drill(void **state)
{
	struct fix			*f = *state;
	struct sb_backup		 b;
	struct sb_state			 st;
	struct sb_catalog_summary	 s;
	char				 err[SB_ERRMSG_MAX];
	char				 id[SB_UUID_LEN + 1];
	sqlite3				*db;

	memset(&b, 0, sizeof(b));
	insert(f->c, 1, SB_TYPE_AUTOMATIC, SB_STATUS_COMPLETED, 1000, "one",
	    NULL, 0);
	insert(f->c, 2, SB_TYPE_MANUAL, SB_STATUS_FAILED, 2000, NULL, NULL,
	    0);
	sb_catalog_close(&f->c);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, V4_UNDO "PRAGMA user_version = 3",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sb_catalog_open(&f->c, f->path, err), SB_OK);
	assert_int_equal(query_i64(f->path, "PRAGMA user_version"), 6);
	mkid(id, 1);
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_OK);
	assert_string_equal(b.description, "one");
	/* Every object before version 5 was the plain file. */
	assert_int_equal(b.stored_size, b.size);
	assert_int_equal(b.verify_status, SB_VERIFY_NONE);
	assert_int_equal(b.verified_at, 0);
	assert_null(b.verify_detail);

	assert_int_equal(sb_catalog_summary(f->c, &s), SB_OK);
	assert_int_equal(s.newest_auto, 1000);
	assert_int_equal(s.completed, 1);
	assert_int_equal(s.last_drill, 0);
	assert_int_equal(s.latest_status, SB_STATUS_FAILED);
	assert_string_equal(s.drill_failed_id, "");

	assert_int_equal(sb_catalog_drill_set(f->c, id, 5000,
	    SB_VERIFY_FAILED, "sha256 differs"), SB_OK);
	assert_int_equal(sb_catalog_get(f->c, id, &b), SB_OK);
	assert_int_equal(b.verify_status, SB_VERIFY_FAILED);
	assert_int_equal(b.verified_at, 5000);
	assert_string_equal(b.verify_detail, "sha256 differs");
	assert_int_equal(sb_catalog_summary(f->c, &s), SB_OK);
	assert_int_equal(s.last_drill, 5000);
	assert_string_equal(s.drill_failed_id, id);
	mkid(id, 9);
	assert_int_equal(sb_catalog_drill_set(f->c, id, 1, SB_VERIFY_OK,
	    NULL), SB_ERR_NOTFOUND);

	/* A state keeps its since while unchanged, and moves on a change. */
	assert_int_equal(sb_catalog_state_get(f->c, "check", &st),
	    SB_ERR_NOTFOUND);
	assert_int_equal(sb_catalog_state_set(f->c, "check", "CRITICAL",
	    "stale", 10), SB_OK);
	assert_int_equal(sb_catalog_state_set(f->c, "check", "CRITICAL",
	    "staler", 20), SB_OK);
	assert_int_equal(sb_catalog_state_get(f->c, "check", &st), SB_OK);
	assert_string_equal(st.state, "CRITICAL");
	assert_string_equal(st.reason, "staler");
	assert_int_equal(st.since, 10);
	assert_int_equal(st.updated_at, 20);
	assert_int_equal(sb_catalog_state_set(f->c, "check", "OK", NULL, 30),
	    SB_OK);
	assert_int_equal(sb_catalog_state_get(f->c, "check", &st), SB_OK);
	assert_int_equal(st.since, 30);
	assert_string_equal(st.reason, "");
	sb_backup_clear(&b);
}

/* Settings: unset is NOT_FOUND, set replaces, too long for buf is INVAL;
 * a version-2 catalog gains the table on open. */
static void
test_settings(void **state)
{
	struct fix	*f = *state;
	char		 buf[16], err[SB_ERRMSG_MAX];
	sqlite3		*db;

	assert_int_equal(sb_catalog_setting_get(f->c, "k", buf, sizeof(buf)),
	    SB_ERR_NOTFOUND);
	assert_int_equal(sb_catalog_setting_set(f->c, "k", "one", 1), SB_OK);
	assert_int_equal(sb_catalog_setting_set(f->c, "k", "two", 2), SB_OK);
	assert_int_equal(sb_catalog_setting_get(f->c, "k", buf, sizeof(buf)),
	    SB_OK);
	assert_string_equal(buf, "two");
	assert_int_equal(sb_catalog_setting_get(f->c, "k", buf, 3),
	    SB_ERR_INVAL);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM settings"),
	    1);

	/* Back to version 2 without the table: opening migrates again. */
	sb_catalog_close(&f->c);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, V4_UNDO "DROP TABLE settings; "
	    "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sb_catalog_open(&f->c, f->path, err), SB_OK);
	assert_int_equal(query_i64(f->path, "PRAGMA user_version"), 6);
	assert_int_equal(sb_catalog_setting_get(f->c, "k", buf, sizeof(buf)),
	    SB_ERR_NOTFOUND);
}

/*
 * Running operations (version 5): a row shows while its operation is
 * pending, and only then; update moves it on; del and clear remove
 * rows; attach opens a second connection that sees them.
 */
static void
test_running(void **state)
{
	struct fix		*f = *state;
	struct sb_catalog	*c2 = NULL;
	struct sb_restore	 r;
	struct sb_running	 w, v[SB_RUNNING_MAX];
	char			 err[SB_ERRMSG_MAX], bid[SB_UUID_LEN + 1];
	size_t			 n = 99;
	int			 count = -1;

	insert(f->c, 1, SB_TYPE_MANUAL, SB_STATUS_PENDING, 1000, NULL, NULL,
	    0);
	insert(f->c, 2, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, 500, NULL,
	    NULL, 0);
	memset(&r, 0, sizeof(r));
	mkid(r.id, 3);
	mkid(r.backup_id, 2);
	r.started_at = 2000;
	r.status = SB_STATUS_PENDING;
	assert_int_equal(sb_catalog_restore_insert(f->c, &r), SB_OK);

	memset(&w, 0, sizeof(w));
	mkid(w.op_id, 1);
	mkid(w.backup_id, 1);
	w.op = SB_OP_BACKUP;
	w.phase = SB_PHASE_SNAPSHOT;
	w.bytes_total = -1;
	w.started_at = w.updated_at = 1000;
	assert_int_equal(sb_catalog_running_put(f->c, &w), SB_OK);
	mkid(w.op_id, 3);
	mkid(w.backup_id, 2);
	w.op = SB_OP_RESTORE;
	w.phase = SB_PHASE_VERIFY;
	w.bytes_total = 4096;
	w.started_at = w.updated_at = 2000;
	assert_int_equal(sb_catalog_running_put(f->c, &w), SB_OK);
	w.phase = SB_PHASE__MAX;
	assert_int_equal(sb_catalog_running_put(f->c, &w), SB_ERR_INVAL);

	/* A second connection (the recorder's) sees and moves them. */
	assert_int_equal(sb_catalog_attach(&c2, f->path, err), SB_OK);
	assert_int_equal(sb_catalog_running_list(c2, NULL, v, SB_RUNNING_MAX,
	    &n), SB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].op, SB_OP_RESTORE);	/* newest first */
	mkid(bid, 2);
	assert_string_equal(v[0].backup_id, bid);
	assert_int_equal(v[0].bytes_total, 4096);
	assert_int_equal(v[1].op, SB_OP_BACKUP);
	assert_int_equal(v[1].phase, SB_PHASE_SNAPSHOT);
	assert_int_equal(v[1].bytes_total, -1);
	mkid(w.op_id, 1);
	assert_int_equal(sb_catalog_running_update(c2, w.op_id,
	    SB_PHASE_UPLOAD, 300, 900, 1500), SB_OK);
	mkid(bid, 1);
	assert_int_equal(sb_catalog_running_list(f->c, bid, v,
	    SB_RUNNING_MAX, &n), SB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].phase, SB_PHASE_UPLOAD);
	assert_int_equal(v[0].bytes_done, 300);
	assert_int_equal(v[0].bytes_total, 900);
	assert_int_equal(v[0].updated_at, 1500);
	assert_int_equal(v[0].started_at, 1000);
	sb_catalog_close(&c2);

	/* A row whose operation is no longer pending does not show. */
	assert_int_equal(sb_catalog_complete(f->c, bid, 3000, 10, "ab", 10),
	    SB_OK);
	assert_int_equal(sb_catalog_running_list(f->c, bid, v,
	    SB_RUNNING_MAX, &n), SB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sb_catalog_restore_finish(f->c, r.id, 3000,
	    SB_STATUS_FAILED, NULL, "stopped"), SB_OK);
	assert_int_equal(sb_catalog_running_list(f->c, NULL, v,
	    SB_RUNNING_MAX, &n), SB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM running"),
	    2);
	assert_int_equal(sb_catalog_running_del(f->c, r.id), SB_OK);
	assert_int_equal(sb_catalog_running_clear(f->c, &count), SB_OK);
	assert_int_equal(count, 1);
	assert_int_equal(query_i64(f->path, "SELECT count(*) FROM running"),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_fresh, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v3_upgrade_drill, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_version,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_fail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_fail_pending,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_pending, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_paging, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restores, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_running, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
