/*
 * catalog.c - the backup-db: every backup and every restore, in SQLite.
 * Opening and migrating it is in catalog_schema.c, the filtered lists in
 * catalog_query.c; what the three share is in catalog_int.h.
 *
 * One handle per process, used from one thread (SQLITE_OPEN_NOMUTEX: the
 * "multi-thread" mode of https://sqlite.org/threadsafe.html). backupd
 * workers and backup-cron share the file, so it runs in WAL mode
 * (https://sqlite.org/wal.html: readers never block the writer) with a busy
 * timeout for the moments two writers meet.
 *
 * Every value reaches SQL through a bound parameter of a prepared
 * statement (https://sqlite.org/c3ref/bind_blob.html); the only SQL text
 * built at run time is made of constant fragments of this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "catalog_int.h"
#include "drill.h"
#include "json.h"

/*
 * Map an SQLite result code to ours, and record "context: sqlite message"
 * as the catalog's error. A lock still held after the busy timeout is
 * SB_ERR_BUSY: the caller may retry.
 */
enum sb_err
sb_catalog_dberr(struct sb_catalog *c, int rc, const char *context)
{
	sb_seterr(c->errmsg, "%s: %s", context, sqlite3_errmsg(c->db));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SB_ERR_BUSY;
	case SQLITE_NOMEM:
		return SB_ERR_NOMEM;
	default:
		return SB_ERR_DB;
	}
}

/*
 * Prepare one statement; on failure the catalog's message says which.
 * *stmt is NULL on failure.
 */
enum sb_err
sb_catalog_prepare(struct sb_catalog *c, const char *sql, sqlite3_stmt **stmt)
{
	int	rc;

	*stmt = NULL;
	rc = sqlite3_prepare_v2(c->db, sql, -1, stmt, NULL);
	if (rc != SQLITE_OK)
		return sb_catalog_dberr(c, rc, "preparing a catalog query");
	return SB_OK;
}

/* Bind a string, or NULL when s is NULL (or empty and empty_null). */
int
sb_catalog_bind_text(sqlite3_stmt *st, int i, const char *s, int empty_null)
{
	if (s == NULL || (empty_null && s[0] == '\0'))
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* Bind an integer, or NULL when it equals the "unknown" value none. */
static int
bind_i64(sqlite3_stmt *st, int i, int64_t v, int64_t none)
{
	if (v == none)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, v);
}

/* The last error of this handle; "" if none. Owned by the catalog. */
const char *
sb_catalog_errmsg(const struct sb_catalog *c)
{
	return c == NULL ? "no catalog" : c->errmsg;
}

/* --- backups ------------------------------------------------------------ */

/*
 * Parse the tags column into b. A value that is not a JSON array of at
 * most SB_TAGS_MAX strings is a damaged catalog: SB_ERR_DB.
 */
static enum sb_err
tags_from_json(struct sb_catalog *c, struct sb_backup *b, const char *txt,
    int len)
{
	int	ret;

	if (txt == NULL || len <= 0)
		return SB_OK;
	if ((ret = sb_tags_from_json(b, txt, (size_t)len, 0)) == SB_ERR_INVAL) {
		sb_seterr(c->errmsg, "backup %s: tags are not a JSON array of "
		    "at most %d strings", b->id, SB_TAGS_MAX);
		return SB_ERR_DB;
	}
	if (ret != SB_OK)
		sb_seterr(c->errmsg, "backup %s: out of memory", b->id);
	return ret;
}

/* strdup of a text column, NULL if the column is NULL. */
static enum sb_err
col_dup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char	*s;

	*out = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return SB_OK;
	if ((s = sqlite3_column_text(st, i)) == NULL)
		return SB_ERR_NOMEM;
	if ((*out = strdup((const char *)s)) == NULL)
		return SB_ERR_NOMEM;
	return SB_OK;
}

/*
 * Fill b (zeroed by the caller) from a row of BACKUP_COLS. Anything the
 * CHECK constraints should have kept out is reported as SB_ERR_DB.
 */
enum sb_err
sb_catalog_row_to_backup(struct sb_catalog *c, sqlite3_stmt *st, struct sb_backup *b)
{
	const unsigned char	*s;
	int			 ret;

	b->size = -1;
	s = sqlite3_column_text(st, 0);
	sb_strlcpy(b->id, s == NULL ? "" : (const char *)s, sizeof(b->id));
	s = sqlite3_column_text(st, 1);
	if (s == NULL || sb_type_parse((const char *)s, &b->type) != SB_OK) {
		sb_seterr(c->errmsg, "backup %s: bad type in catalog", b->id);
		return SB_ERR_DB;
	}
	s = sqlite3_column_text(st, 2);
	if (s == NULL ||
	    sb_status_parse((const char *)s, &b->status) != SB_OK) {
		sb_seterr(c->errmsg, "backup %s: bad status in catalog", b->id);
		return SB_ERR_DB;
	}
	b->created_at = sqlite3_column_int64(st, 3);
	b->completed_at = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(st, 4);
	if ((ret = col_dup(st, 5, &b->location)) != SB_OK)
		goto nomem;
	b->size = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 6);
	s = sqlite3_column_text(st, 7);
	sb_strlcpy(b->sha256, s == NULL ? "" : (const char *)s,
	    sizeof(b->sha256));
	if ((ret = col_dup(st, 8, &b->description)) != SB_OK)
		goto nomem;
	s = sqlite3_column_text(st, 9);
	if ((ret = tags_from_json(c, b, (const char *)s,
	    sqlite3_column_bytes(st, 9))) != SB_OK)
		return ret;
	if ((ret = col_dup(st, 10, &b->error)) != SB_OK)
		goto nomem;
	b->stored_size = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 11);
	if (sqlite3_column_count(st) <= 12)
		return SB_OK;
	b->verified_at = sqlite3_column_int64(st, 12);
	if (sb_verify_parse((const char *)sqlite3_column_text(st, 13),
	    &b->verify_status) != SB_OK) {
		sb_seterr(c->errmsg, "backup %s: bad verify_status in catalog",
		    b->id);
		return SB_ERR_DB;
	}
	if ((ret = col_dup(st, 14, &b->verify_detail)) != SB_OK)
		goto nomem;
	return SB_OK;
nomem:
	sb_seterr(c->errmsg, "reading backup %s: out of memory", b->id);
	return ret;
}

/* Refuse records the schema cannot hold, before SQLite sees them. */
static enum sb_err
check_backup(struct sb_catalog *c, const struct sb_backup *b)
{
	if (b == NULL || b->id[0] == '\0') {
		sb_seterr(c->errmsg, "backup record without an id");
		return SB_ERR_INVAL;
	}
	if ((unsigned)b->type >= SB_TYPE__MAX ||
	    (unsigned)b->status >= SB_STATUS__MAX) {
		sb_seterr(c->errmsg, "backup %s: bad type or status", b->id);
		return SB_ERR_INVAL;
	}
	if (b->ntags > SB_TAGS_MAX || (b->ntags > 0 && b->tags == NULL)) {
		sb_seterr(c->errmsg, "backup %s: bad tags", b->id);
		return SB_ERR_INVAL;
	}
	for (size_t i = 0; i < b->ntags; i++)
		if (b->tags[i] == NULL) {
			sb_seterr(c->errmsg, "backup %s: NULL tag", b->id);
			return SB_ERR_INVAL;
		}
	return SB_OK;
}

/*
 * Shared body of insert and upsert: sql has ?1..?12 in BACKUP_COLS order.
 * A duplicate id on insert is SB_ERR_INVAL.
 */
static enum sb_err
write_backup(struct sb_catalog *c, const char *sql, const struct sb_backup *b)
{
	sqlite3_stmt	*st = NULL;
	char		*tags = NULL;
	int		 rc, ret;

	if ((ret = check_backup(c, b)) != SB_OK)
		return ret;
	if ((tags = sb_tags_to_json((const char *const *)b->tags,
	    b->ntags)) == NULL) {
		sb_seterr(c->errmsg, "backup %s: out of memory", b->id);
		return SB_ERR_NOMEM;
	}
	if ((ret = sb_catalog_prepare(c, sql, &st)) != SB_OK)
		goto out;
	if (sb_catalog_bind_text(st, 1, b->id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, sb_type_str(b->type), 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, sb_status_str(b->status), 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, b->created_at) != SQLITE_OK ||
	    bind_i64(st, 5, b->completed_at, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 6, b->location, 0) != SQLITE_OK ||
	    bind_i64(st, 7, b->size, -1) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 8, b->sha256, 1) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 9, b->description, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 10, tags, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 11, b->error, 0) != SQLITE_OK ||
	    bind_i64(st, 12, b->stored_size, -1) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a backup");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sb_seterr(c->errmsg, "backup %s already exists", b->id);
		ret = SB_ERR_INVAL;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		(void)sb_catalog_dberr(c, rc, "backup record refused");
		ret = SB_ERR_INVAL;
	} else if (rc != SQLITE_DONE)
		ret = sb_catalog_dberr(c, rc, "writing a backup");
	else
		ret = SB_OK;
out:
	sqlite3_finalize(st);
	free(tags);
	return ret;
}

/* Insert a new record; SB_ERR_INVAL if the id exists. */
enum sb_err
sb_catalog_insert(struct sb_catalog *c, const struct sb_backup *b)
{
	return write_backup(c, "INSERT INTO backups (" BACKUP_COLS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", b);
}

/*
 * Insert, or overwrite every field of the record with this id: used when
 * the catalog is rebuilt from the store (https://sqlite.org/lang_upsert.html).
 */
enum sb_err
sb_catalog_upsert(struct sb_catalog *c, const struct sb_backup *b)
{
	return write_backup(c, "INSERT INTO backups (" BACKUP_COLS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	    "ON CONFLICT (id) DO UPDATE SET type = excluded.type, "
	    "status = excluded.status, created_at = excluded.created_at, "
	    "completed_at = excluded.completed_at, "
	    "location = excluded.location, size = excluded.size, "
	    "sha256 = excluded.sha256, description = excluded.description, "
	    "tags = excluded.tags, error = excluded.error, "
	    "stored_size = excluded.stored_size", b);
}

/* Whether a backup with this id exists: SB_OK, SB_ERR_NOTFOUND or error. */
static enum sb_err
backup_exists(struct sb_catalog *c, const char *id, char *status,
    size_t len)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*s;
	int			 rc, ret;

	if ((ret = sb_catalog_prepare(c, "SELECT status FROM backups WHERE id = ?1",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding an id");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sb_seterr(c->errmsg, "no backup %s", id);
		ret = SB_ERR_NOTFOUND;
	} else if (rc == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		sb_strlcpy(status, s == NULL ? "" : (const char *)s, len);
		ret = SB_OK;
	} else
		ret = sb_catalog_dberr(c, rc, "looking up a backup");
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Step an UPDATE/DELETE to completion; *changes gets the rows it touched
 * (https://sqlite.org/c3ref/changes.html).
 */
static enum sb_err
step_change(struct sb_catalog *c, sqlite3_stmt *st, const char *context,
    int *changes)
{
	int	rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sb_catalog_dberr(c, rc, context);
	*changes = sqlite3_changes(c->db);
	return SB_OK;
}

/* step_change for the catalog's other files (catalog_int.h). */
enum sb_err
sb_catalog_step_change(struct sb_catalog *c, sqlite3_stmt *st,
    const char *context, int *changes)
{
	return step_change(c, st, context, changes);
}

/*
 * pending -> completed, with the size and sha256 of the plain .db and the
 * size of the stored object.
 * SB_ERR_NOTFOUND if there is no such backup; SB_ERR_INVAL if it is not
 * pending (a finished record is never rewritten behind the caller's back).
 */
enum sb_err
sb_catalog_complete(struct sb_catalog *c, const char *id,
    int64_t completed_at, int64_t size, const char *sha256,
    int64_t stored_size)
{
	sqlite3_stmt	*st = NULL;
	char		 status[16];
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "complete: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "UPDATE backups SET status = 'completed', "
	    "completed_at = ?2, size = ?3, sha256 = ?4, error = NULL, "
	    "stored_size = ?5 WHERE id = ?1 AND status = 'pending'", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, completed_at) != SQLITE_OK ||
	    bind_i64(st, 3, size, -1) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 4, sha256, 1) != SQLITE_OK ||
	    bind_i64(st, 5, stored_size, -1) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a completion");
		goto out;
	}
	if ((ret = step_change(c, st, "completing a backup", &n)) != SB_OK)
		goto out;
	if (n == 0 && (ret = backup_exists(c, id, status, sizeof(status))) ==
	    SB_OK) {
		sb_seterr(c->errmsg, "backup %s is %s, not pending", id,
		    status);
		ret = SB_ERR_INVAL;
	}
out:
	sqlite3_finalize(st);
	return ret;
}

/* Any status -> failed, with the reason. SB_ERR_NOTFOUND if absent. */
enum sb_err
sb_catalog_fail(struct sb_catalog *c, const char *id, int64_t completed_at,
    const char *error)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "fail: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "UPDATE backups SET status = 'failed', "
	    "completed_at = ?2, error = ?3 WHERE id = ?1", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK ||
	    bind_i64(st, 2, completed_at, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, error, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a failure");
		goto out;
	}
	if ((ret = step_change(c, st, "failing a backup", &n)) != SB_OK)
		goto out;
	if (n == 0) {
		sb_seterr(c->errmsg, "no backup %s", id);
		ret = SB_ERR_NOTFOUND;
	}
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Every pending record -> failed with the reason; *count (may be NULL)
 * gets how many. Called with the operation lock held, when a pending row
 * can only be an interrupted operation.
 */
enum sb_err
sb_catalog_fail_pending(struct sb_catalog *c, int64_t now, const char *error,
    int *count)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (count != NULL)
		*count = 0;
	if ((ret = sb_catalog_prepare(c, "UPDATE backups SET status = 'failed', "
	    "completed_at = ?1, error = ?2 WHERE status = 'pending'",
	    &st)) != SB_OK)
		return ret;
	if (bind_i64(st, 1, now, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, error, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a failure");
		goto out;
	}
	if ((ret = step_change(c, st, "failing pending backups", &n)) ==
	    SB_OK && count != NULL)
		*count = n;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Prepare sql (one ?1 for an id), bind id and step to its row: SB_OK with
 * *st on the row, SB_ERR_NOTFOUND ("no <what> <id>"), SB_ERR_INVAL for a
 * NULL id, or a database error. The id is bound (copied) and kept in idm
 * before returning, so callers may clear a record that id points into.
 * The caller finalizes *st in every case.
 */
static enum sb_err
find_by_id(struct sb_catalog *c, const char *sql, const char *id,
    const char *what, char idm[SB_UUID_LEN + 1], sqlite3_stmt **st)
{
	int	rc, ret;

	*st = NULL;
	idm[0] = '\0';
	if (id == NULL) {
		sb_seterr(c->errmsg, "%s get: no id", what);
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, sql, st)) != SB_OK)
		return ret;
	rc = sb_catalog_bind_text(*st, 1, id, 0);
	sb_strlcpy(idm, id, SB_UUID_LEN + 1);
	if (rc != SQLITE_OK)
		return sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding an id");
	rc = sqlite3_step(*st);
	if (rc == SQLITE_DONE) {
		sb_seterr(c->errmsg, "no %s %s", what, idm);
		return SB_ERR_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "reading a %s", what);
		return sb_catalog_dberr(c, rc, ctx);
	}
	return SB_OK;
}

/* find_by_id for the catalog's other files (catalog_int.h). */
enum sb_err
sb_catalog_find_by_id(struct sb_catalog *c, const char *sql, const char *id,
    const char *what, sqlite3_stmt **st)
{
	char	idm[SB_UUID_LEN + 1];

	return find_by_id(c, sql, id, what, idm, st);
}

/*
 * One record into out, which is released with sb_backup_clear() first
 * (so it must be zeroed or hold a record). SB_ERR_NOTFOUND if absent.
 * The caller frees out with sb_backup_clear().
 */
enum sb_err
sb_catalog_get(struct sb_catalog *c, const char *id, struct sb_backup *out)
{
	sqlite3_stmt	*st = NULL;
	char		 idm[SB_UUID_LEN + 1];
	int		 ret;

	ret = find_by_id(c, "SELECT " BACKUP_READ_COLS " FROM backups "
	    "WHERE id = ?1", id, "backup", idm, &st);
	sb_backup_clear(out);
	if (ret == SB_OK && (ret = sb_catalog_row_to_backup(c, st, out)) != SB_OK)
		sb_backup_clear(out);
	sqlite3_finalize(st);
	return ret;
}

/* Remove a record; SB_ERR_NOTFOUND if absent. */
enum sb_err
sb_catalog_delete(struct sb_catalog *c, const char *id)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "delete: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "DELETE FROM backups WHERE id = ?1", &st)) !=
	    SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding an id");
	else if ((ret = step_change(c, st, "deleting a backup", &n)) ==
	    SB_OK && n == 0) {
		sb_seterr(c->errmsg, "no backup %s", id);
		ret = SB_ERR_NOTFOUND;
	}
	sqlite3_finalize(st);
	return ret;
}

/* --- restores ----------------------------------------------------------- */

/*
 * Record a restore (usually pending, when it starts). safety_backup_id ""
 * and finished_at 0 are stored as NULL. SB_ERR_INVAL if the id exists.
 */
enum sb_err
sb_catalog_restore_insert(struct sb_catalog *c, const struct sb_restore *r)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	if (r == NULL || r->id[0] == '\0' || r->backup_id[0] == '\0' ||
	    (unsigned)r->status >= SB_STATUS__MAX) {
		sb_seterr(c->errmsg, "bad restore record");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "INSERT INTO restores (id, backup_id, "
	    "safety_backup_id, started_at, finished_at, status, error) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, r->id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, r->backup_id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, r->safety_backup_id, 1) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, r->started_at) != SQLITE_OK ||
	    bind_i64(st, 5, r->finished_at, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 6, sb_status_str(r->status), 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 7, r->error, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a restore");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sb_seterr(c->errmsg, "restore %s already exists", r->id);
		ret = SB_ERR_INVAL;
	} else if (rc != SQLITE_DONE)
		ret = sb_catalog_dberr(c, rc, "recording a restore");
	else
		ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Finish a restore: status, finish time, error (NULL for none). safety_id
 * NULL or "" keeps the safety backup already recorded, if any.
 * SB_ERR_NOTFOUND if there is no such restore.
 */
enum sb_err
sb_catalog_restore_finish(struct sb_catalog *c, const char *id,
    int64_t finished_at, enum sb_status status, const char *safety_id,
    const char *error)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL || (unsigned)status >= SB_STATUS__MAX) {
		sb_seterr(c->errmsg, "bad restore update");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "UPDATE restores SET finished_at = ?2, "
	    "status = ?3, safety_backup_id = coalesce(?4, safety_backup_id), "
	    "error = ?5 WHERE id = ?1", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK ||
	    bind_i64(st, 2, finished_at, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, sb_status_str(status), 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 4, safety_id, 1) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 5, error, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a restore");
		goto out;
	}
	if ((ret = step_change(c, st, "finishing a restore", &n)) == SB_OK &&
	    n == 0) {
		sb_seterr(c->errmsg, "no restore %s", id);
		ret = SB_ERR_NOTFOUND;
	}
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Every pending restore -> failed with the reason (and the safety backup
 * that holds the state before, when one was recorded), finished at now;
 * *count (may be NULL) gets how many. Like sb_catalog_fail_pending, for
 * the operation lock's holder: a pending restore then has no process.
 */
enum sb_err
sb_catalog_restore_fail_pending(struct sb_catalog *c, int64_t now,
    const char *error, int *count)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (count != NULL)
		*count = 0;
	if ((ret = sb_catalog_prepare(c, "UPDATE restores SET status = 'failed', "
	    "finished_at = ?1, error = ?2 || coalesce('; safety backup ' || "
	    "safety_backup_id || ' holds the live database as it was before', "
	    "'') WHERE status = 'pending'", &st)) != SB_OK)
		return ret;
	if (bind_i64(st, 1, now, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, error, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a failure");
		goto out;
	}
	if ((ret = step_change(c, st, "failing pending restores", &n)) ==
	    SB_OK && count != NULL)
		*count = n;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * One restore into out, released with sb_restore_clear() first (zeroed or
 * holding a record); caller frees with sb_restore_clear().
 * SB_ERR_NOTFOUND if absent.
 */
enum sb_err
sb_catalog_restore_get(struct sb_catalog *c, const char *id,
    struct sb_restore *out)
{
	sqlite3_stmt		*st = NULL;
	char			 idm[SB_UUID_LEN + 1];
	const unsigned char	*s;
	int			 ret;

	ret = find_by_id(c, "SELECT id, backup_id, safety_backup_id, "
	    "started_at, finished_at, status, error FROM restores "
	    "WHERE id = ?1", id, "restore", idm, &st);
	sb_restore_clear(out);
	if (ret != SB_OK)
		goto out;
	s = sqlite3_column_text(st, 0);
	sb_strlcpy(out->id, s == NULL ? "" : (const char *)s, sizeof(out->id));
	s = sqlite3_column_text(st, 1);
	sb_strlcpy(out->backup_id, s == NULL ? "" : (const char *)s,
	    sizeof(out->backup_id));
	s = sqlite3_column_text(st, 2);
	sb_strlcpy(out->safety_backup_id, s == NULL ? "" : (const char *)s,
	    sizeof(out->safety_backup_id));
	out->started_at = sqlite3_column_int64(st, 3);
	out->finished_at = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(st, 4);
	s = sqlite3_column_text(st, 5);
	if (s == NULL ||
	    sb_status_parse((const char *)s, &out->status) != SB_OK) {
		sb_seterr(c->errmsg, "restore %s: bad status in catalog", idm);
		ret = SB_ERR_DB;
		goto fail;
	}
	if ((ret = col_dup(st, 6, &out->error)) != SB_OK) {
		sb_seterr(c->errmsg, "restore %s: out of memory", idm);
		goto fail;
	}
	ret = SB_OK;
	goto out;
fail:
	sb_restore_clear(out);
out:
	sqlite3_finalize(st);
	return ret;
}

/* --- settings ----------------------------------------------------------- */

/*
 * The value of setting key into buf (len bytes, NUL-terminated).
 * SB_ERR_NOTFOUND if it was never set; SB_ERR_INVAL if the value does not
 * fit in buf.
 */
enum sb_err
sb_catalog_setting_get(struct sb_catalog *c, const char *key, char *buf,
    size_t len)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*v;
	int			 rc, ret;

	if ((ret = sb_catalog_prepare(c, "SELECT value FROM settings WHERE key = ?1",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, key, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a setting");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sb_seterr(c->errmsg, "setting %s is not set", key);
		ret = SB_ERR_NOTFOUND;
	} else if (rc != SQLITE_ROW)
		ret = sb_catalog_dberr(c, rc, "reading a setting");
	else if ((v = sqlite3_column_text(st, 0)) == NULL ||
	    (size_t)sqlite3_column_bytes(st, 0) >= len) {
		sb_seterr(c->errmsg, "setting %s: value too long", key);
		ret = SB_ERR_INVAL;
	} else {
		memcpy(buf, v, (size_t)sqlite3_column_bytes(st, 0) + 1);
		ret = SB_OK;
	}
out:
	sqlite3_finalize(st);
	return ret;
}

/* Set (insert or replace) setting key to value at time now (ms). */
enum sb_err
sb_catalog_setting_set(struct sb_catalog *c, const char *key,
    const char *value, int64_t now)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if ((ret = sb_catalog_prepare(c, "INSERT INTO settings (key, value, updated_at) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
	    "value = excluded.value, updated_at = excluded.updated_at",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, key, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, value, 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, now) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db), "binding a setting");
	else
		ret = step_change(c, st, "writing a setting", &n);
	sqlite3_finalize(st);
	return ret;
}
