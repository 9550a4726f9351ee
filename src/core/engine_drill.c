/*
 * engine_drill.c - restore drills and `backup-cron check` (engine.h):
 * prove a backup restorable without touching the live database, and
 * judge whether the backups are fresh. The rules without I/O are in
 * drill.c; what the engine's files share is in engine_int.h.
 *
 * A drill takes no lock, as verify: it writes nothing but its result in
 * the catalog, and the engine's lock is not waited for (a second writer
 * gets BUSY), so a drill holding it would make the nightly backup fail.
 * The live database is only read (its schema, read-only): in WAL mode a
 * reader never blocks its writers.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "catalog.h"
#include "config.h"
#include "drill.h"
#include "engine_int.h"
#include "tempfile.h"

#define DETAIL_MAX	2048	/* bytes of a drill's detail */
#define SCHEMA_MAX	10000	/* schema objects compared */
#define SCHEMA_SHOWN	20	/* differences named in the detail */
#define PROGRESS_OPS	1000	/* VM steps between two deadline checks */

/* Append to a detail (DETAIL_MAX bytes), "; " between parts, capped. */
static void __attribute__((format(printf, 2, 3)))
detail_add(char *d, const char *fmt, ...)
{
	va_list	ap;
	size_t	used = strnlen(d, DETAIL_MAX);

	if (used + 3 >= DETAIL_MAX)
		return;
	if (used > 0) {
		memcpy(d + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(d + used, DETAIL_MAX - used, fmt, ap);
	va_end(ap);
}

/* sqlite3_progress_handler: non-zero stops the statement (INTERRUPT). */
static int
past_deadline(void *arg)
{
	return sb_mono_ms() > *(const int64_t *)arg;
}

/*
 * Open a database file read-only, and make sure nothing can write
 * through the connection (PRAGMA query_only,
 * https://sqlite.org/pragma.html#pragma_query_only). *db is closed by
 * the caller (also on failure).
 */
static enum sb_err
open_ro(const char *path, sqlite3 **db, char *err)
{
	char	*msg = NULL;
	int	 rc;

	rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(*db, 5000);
		rc = sqlite3_exec(*db, "PRAGMA query_only = 1", NULL, NULL,
		    &msg);
	}
	if (rc != SQLITE_OK) {
		sb_seterr(err, "opening %s read-only: %s", path, msg != NULL ?
		    msg : *db != NULL ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_free(msg);
		return SB_ERR_DB;
	}
	return SB_OK;
}

/*
 * PRAGMA foreign_key_check (https://sqlite.org/pragma.html
 * #pragma_foreign_key_check): every row names a child row without its
 * parent. SB_ERR_CORRUPT with the first and the count in err.
 */
static enum sb_err
fk_check(sqlite3 *db, char *err)
{
	sqlite3_stmt	*st = NULL;
	char		 first[256] = "";
	long long	 n = 0;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st,
	    NULL)) != SQLITE_OK) {
		sb_seterr(err, "foreign_key_check: %s", sqlite3_errmsg(db));
		return SB_ERR_DB;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (n++ == 0)
			snprintf(first, sizeof(first), "table %s row %lld has "
			    "no parent in %s", sqlite3_column_text(st, 0),
			    (long long)sqlite3_column_int64(st, 1),
			    sqlite3_column_text(st, 2));
	if (rc != SQLITE_DONE)
		sb_seterr(err, "foreign_key_check: %s", sqlite3_errmsg(db));
	else if (n > 0)
		sb_seterr(err, "foreign_key_check found %lld broken "
		    "reference%s: %s", n, n == 1 ? "" : "s", first);
	sqlite3_finalize(st);
	return rc != SQLITE_DONE ? SB_ERR_DB : n > 0 ? SB_ERR_CORRUPT : SB_OK;
}

/* One schema object: its type, name and CREATE statement. */
struct schema_obj {
	char	*type;
	char	*name;
	char	*sql;
};

struct schema {
	struct schema_obj	*v;
	size_t			 n;
};

static void
schema_clear(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].type);
		free(s->v[i].name);
		free(s->v[i].sql);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Read sqlite_schema (https://sqlite.org/schematab.html), by type, name. */
static enum sb_err
schema_read(sqlite3 *db, struct schema *s, char *err)
{
	sqlite3_stmt		*st = NULL;
	struct schema_obj	*o;
	int			 rc, ret = SB_OK;

	if (sqlite3_prepare_v2(db, "SELECT type, name, coalesce(sql, '') "
	    "FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	    "ORDER BY type, name", -1, &st, NULL) != SQLITE_OK) {
		sb_seterr(err, "reading the schema: %s", sqlite3_errmsg(db));
		return SB_ERR_DB;
	}
	while (ret == SB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = sb_vec_grow(&s->v, s->n, sizeof(*s->v),
		    SCHEMA_MAX)) != SB_OK) {
			sb_seterr(err, "reading the schema: more than %d "
			    "objects, or out of memory", SCHEMA_MAX);
			break;
		}
		o = &s->v[s->n++];
		o->type = sb_strdup((const char *)sqlite3_column_text(st, 0));
		o->name = sb_strdup((const char *)sqlite3_column_text(st, 1));
		o->sql = sb_strdup((const char *)sqlite3_column_text(st, 2));
		if (o->type == NULL || o->name == NULL || o->sql == NULL) {
			sb_seterr(err, "reading the schema: out of memory");
			ret = SB_ERR_NOMEM;
		}
	}
	if (ret == SB_OK && rc != SQLITE_DONE) {
		sb_seterr(err, "reading the schema: %s", sqlite3_errmsg(db));
		ret = SB_ERR_DB;
	}
	sqlite3_finalize(st);
	return ret;
}

/* Order of schema_read: type, then name (the same collation, BINARY). */
static int
obj_cmp(const struct schema_obj *a, const struct schema_obj *b)
{
	int	c = strcmp(a->type, b->type);

	return c != 0 ? c : strcmp(a->name, b->name);
}

/*
 * The differences between the backup's schema and the live one, named
 * in d: "schema differs from the live database: table t added since the
 * backup, ...". Not a failure: a backup older than a migration is still
 * a good backup of its time.
 */
static void
schema_diff(const struct schema *bk, const struct schema *live, char *d)
{
	char	list[DETAIL_MAX / 2] = "";
	size_t	i = 0, j = 0, shown = 0, more = 0, used;
	int	c;

	while (i < bk->n || j < live->n) {
		const char *what, *type, *name;
		c = i == bk->n ? 1 : j == live->n ? -1 :
		    obj_cmp(&bk->v[i], &live->v[j]);
		if (c == 0 && strcmp(bk->v[i].sql, live->v[j].sql) == 0) {
			i++, j++;
			continue;
		}
		what = c < 0 ? "removed since" : c > 0 ? "added since" :
		    "changed since";
		type = c > 0 ? live->v[j].type : bk->v[i].type;
		name = c > 0 ? live->v[j].name : bk->v[i].name;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (shown++ >= SCHEMA_SHOWN) {
			more++;
			continue;
		}
		used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s%s %s %s the "
		    "backup", used > 0 ? ", " : "", type, name, what);
	}
	if (shown == 0)
		detail_add(d, "schema matches the live database");
	else if (more > 0)
		detail_add(d, "schema differs from the live database: %s, and "
		    "%zu more", list, more);
	else
		detail_add(d, "schema differs from the live database: %s",
		    list);
}

/* Compare the scratch copy's schema with the live database's (read-only). */
static void
schema_compare(struct sb_engine *e, sqlite3 *db, char *d)
{
	struct schema	 bk = { NULL, 0 }, live = { NULL, 0 };
	sqlite3		*ldb = NULL;
	char		 err[SB_ERRMSG_MAX];

	if (schema_read(db, &bk, err) != SB_OK ||
	    open_ro(e->cfg->source_path, &ldb, err) != SB_OK ||
	    schema_read(ldb, &live, err) != SB_OK)
		detail_add(d, "schema not compared: %s", err);
	else
		schema_diff(&bk, &live, d);
	sqlite3_close(ldb);
	schema_clear(&bk);
	schema_clear(&live);
}

/*
 * Run one smoke query (drill.h) on the read-only scratch copy, stopped
 * at the deadline: one statement, read-only, its first row's first
 * column an integer that meets the expectation. SB_ERR_CORRUPT with the
 * reason in err when it errs or misses.
 */
static enum sb_err
smoke_one(sqlite3 *db, int n, const char *text, unsigned timeout_s,
    char *d, char *err)
{
	struct sb_drill_query	 q;
	sqlite3_stmt		*st = NULL;
	const char		*tail = NULL;
	char			 why[256];
	int64_t			 deadline, got;
	int			 rc, ret = SB_ERR_CORRUPT;

	if (sb_drill_query_parse(text, &q, why, sizeof(why)) != SB_OK) {
		sb_seterr(err, "query %d: %s", n, why);
		return SB_ERR_CORRUPT;
	}
	deadline = sb_mono_ms() + (int64_t)timeout_s * 1000;
	sqlite3_progress_handler(db, PROGRESS_OPS, past_deadline, &deadline);
	rc = sqlite3_prepare_v2(db, q.sql, -1, &st, &tail);
	if (rc != SQLITE_OK || st == NULL) {
		sb_seterr(err, "query %d `%s`: %s", n, q.sql, st == NULL &&
		    rc == SQLITE_OK ? "no statement" : sqlite3_errmsg(db));
		goto out;
	}
	while (tail != NULL && (*tail == ' ' || *tail == ';' || *tail == '\t'))
		tail++;
	if (tail != NULL && *tail != '\0') {
		sb_seterr(err, "query %d `%s`: one statement only", n, q.sql);
		goto out;
	}
	if (!sqlite3_stmt_readonly(st)) {
		sb_seterr(err, "query %d `%s`: must only read", n, q.sql);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_INTERRUPT)
		sb_seterr(err, "query %d `%s`: stopped after %u s ([drill] "
		    "timeout)", n, q.sql, timeout_s);
	else if (rc == SQLITE_DONE)
		sb_seterr(err, "query %d `%s`: returned no row", n, q.sql);
	else if (rc != SQLITE_ROW)
		sb_seterr(err, "query %d `%s`: %s", n, q.sql,
		    sqlite3_errmsg(db));
	else if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
		sb_seterr(err, "query %d `%s`: returned %s, not an integer", n,
		    q.sql, sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL" :
		    "a non-integer");
	else if (got = sqlite3_column_int64(st, 0), !sb_is_expected(&q, got))
		sb_seterr(err, "query %d `%s` returned %lld, expected %s %lld",
		    n, q.sql, (long long)got, sb_cmp_str(q.op),
		    (long long)q.want);
	else {
		detail_add(d, "query %d = %lld (%s %lld)", n, (long long)got,
		    sb_cmp_str(q.op), (long long)q.want);
		ret = SB_OK;
	}
out:
	sqlite3_finalize(st);
	sqlite3_progress_handler(db, 0, NULL, NULL);
	return ret;
}

/*
 * The checks after size, sha256 and integrity, on the file at path:
 * foreign keys, the schema against the live one, the smoke queries.
 * SB_OK with what passed in d; SB_ERR_CORRUPT with why in err.
 */
static enum sb_err
drill_checks(struct sb_engine *e, const char *path, char *d, char *err)
{
	sqlite3	*db = NULL;
	int	 rc;

	if ((rc = open_ro(path, &db, err)) != SB_OK)
		goto out;
	if ((rc = fk_check(db, err)) != SB_OK) {
		rc = SB_ERR_CORRUPT;
		goto out;
	}
	detail_add(d, "size, sha256, integrity_check and foreign_key_check "
	    "passed");
	for (int i = 0; i < SB_DRILL_QUERIES; i++)
		if (e->cfg->drill_query[i] != NULL &&
		    (rc = smoke_one(db, i + 1, e->cfg->drill_query[i],
		    e->cfg->drill_timeout, d, err)) != SB_OK)
			goto out;
	schema_compare(e, db, d);
	rc = SB_OK;
out:
	sqlite3_close(db);
	return rc;
}

/*
 * A drill's outcome: a verdict on the backup (passed, or SB_ERR_CORRUPT)
 * is recorded; a drill that could not run (store, disk) is not, since it
 * says nothing about the backup. A key the keyring lacks (SB_ERR_KEY) is
 * a verdict: with the keys configured, this backup cannot be restored,
 * which is what a drill is for (an old key dropped at a rotation must
 * turn `check` critical, not wait for restore day); the key put back,
 * the next drill passes. Every failure is reported.
 */
static enum sb_err
drill_record(struct sb_engine *e, const char *id, int rc, const char *d)
{
	int	crc;

	if (rc == SB_OK || rc == SB_ERR_CORRUPT || rc == SB_ERR_KEY) {
		crc = sb_catalog_drill_set(e->cat, id, sb_now_ms(),
		    rc == SB_OK ? SB_VERIFY_OK : SB_VERIFY_FAILED, d);
		if (crc != SB_OK)
			sb_log(SB_LOG_ERROR, "catalog.error", "cannot record "
			    "the drill of %s: %s", id,
			    sb_catalog_errmsg(e->cat));
	}
	if (rc == SB_OK)
		sb_logkv(SB_LOG_INFO, "drill.passed", (const char *[]){
		    "backup_id", id, NULL }, "%s", d);
	else
		sb_engine_report(e, "drill.failed", rc, id, d);
	return rc;
}

enum sb_err
sb_engine_drill(struct sb_engine *e, const char *id, struct sb_backup *out)
{
	struct sb_backup	 b;
	struct sb_temp		 t = { "", -1 };
	char			 path[PATH_MAX], err[SB_ERRMSG_MAX];
	char			*d = NULL;
	int			 rc;

	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(e, id, &b)) != SB_OK)
		goto out;
	if (b.status != SB_STATUS_COMPLETED) {
		rc = fail(e, SB_ERR_INVAL, "backup %s is %s: only a completed "
		    "backup can be drilled", id, sb_status_str(b.status));
		goto out;
	}
	if ((d = calloc(1, DETAIL_MAX)) == NULL) {
		rc = fail(e, SB_ERR_NOMEM, "drill: out of memory");
		goto out;
	}
	sb_logkv(SB_LOG_INFO, "drill.started", (const char *[]){
	    "backup_id", id, NULL }, "restore drill started");
	rc = sb_engine_fetch_verified(e, &b, &t, "drill", path);
	if (rc != SB_OK)
		sb_strlcpy(d, e->err, DETAIL_MAX);
	else if ((rc = drill_checks(e, path, d, err)) != SB_OK) {
		sb_strlcpy(d, err, DETAIL_MAX);
		fail(e, rc, "restore drill of backup %s failed: %s", id, err);
	}
	sb_temp_release(&t);
	rc = drill_record(e, id, rc, d);
	if (out != NULL && sb_engine_get(e, id, out) != SB_OK && rc == SB_OK)
		rc = SB_ERR_DB;
out:
	free(d);
	sb_backup_clear(&b);
	return rc;
}

enum sb_err
sb_engine_drill_choose(struct sb_engine *e, int all,
    struct sb_backup_list *out)
{
	struct sb_backup_list	l = { NULL, 0 };
	struct sb_backup	c;
	size_t			idx[2], n;
	int			rc;

	sb_backup_list_clear(out);
	if ((rc = sb_catalog_list_completed(e->cat, &l)) != SB_OK)
		return fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
	if (all) {
		*out = l;
		return SB_OK;
	}
	n = sb_drill_choose(l.v, l.n, idx);
	for (size_t i = 0; i < n && rc == SB_OK; i++)
		if ((rc = sb_backup_copy(&c, &l.v[idx[i]])) != SB_OK ||
		    (rc = sb_backup_list_push(out, &c)) != SB_OK) {
			sb_backup_clear(&c);
			fail(e, rc, "drill: out of memory");
		}
	sb_backup_list_clear(&l);
	if (rc != SB_OK)
		sb_backup_list_clear(out);
	return rc;
}
