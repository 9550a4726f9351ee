/*
 * catalog_running.c - the operations running now (schema version 5,
 * table running; progress.h says who writes it and when). A row counts
 * only while its operation's record is pending: a process that dies
 * leaves its row behind, and readers must not show it as running.
 */
#include <string.h>

#include <sqlite3.h>

#include "catalog_int.h"

enum sb_err
sb_catalog_running_put(struct sb_catalog *c, const struct sb_running *r)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (sb_op_str(r->op) == NULL || sb_phase_str(r->phase) == NULL) {
		sb_seterr(c->errmsg, "running: unknown operation or phase");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "INSERT OR REPLACE INTO running "
	    "(op_id, operation, backup_id, phase, bytes_done, bytes_total, "
	    "started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, r->op_id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, sb_op_str(r->op), 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, r->backup_id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 4, sb_phase_str(r->phase), 0) !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, r->bytes_done) != SQLITE_OK ||
	    (r->bytes_total < 0 ? sqlite3_bind_null(st, 6) :
	    sqlite3_bind_int64(st, 6, r->bytes_total)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, r->started_at) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, r->updated_at) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding a running operation");
	else
		ret = sb_catalog_step_change(c, st,
		    "recording a running operation", &n);
	sqlite3_finalize(st);
	return ret;
}

enum sb_err
sb_catalog_running_update(struct sb_catalog *c, const char *op_id,
    enum sb_phase phase, int64_t done, int64_t total, int64_t now)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (sb_phase_str(phase) == NULL) {
		sb_seterr(c->errmsg, "running: unknown phase");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "UPDATE running SET phase = ?2, "
	    "bytes_done = ?3, bytes_total = ?4, updated_at = ?5 "
	    "WHERE op_id = ?1", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, op_id, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, sb_phase_str(phase), 0) !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, done) != SQLITE_OK ||
	    (total < 0 ? sqlite3_bind_null(st, 4) :
	    sqlite3_bind_int64(st, 4, total)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, now) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding progress");
	else
		ret = sb_catalog_step_change(c, st, "recording progress", &n);
	sqlite3_finalize(st);
	return ret;
}

/* A DELETE of running rows: op_id's, or all when op_id is NULL. */
static enum sb_err
running_delete(struct sb_catalog *c, const char *op_id, int *count)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if ((ret = sb_catalog_prepare(c, op_id != NULL ?
	    "DELETE FROM running WHERE op_id = ?1" : "DELETE FROM running",
	    &st)) != SB_OK)
		return ret;
	if (op_id != NULL && sb_catalog_bind_text(st, 1, op_id, 0) !=
	    SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding an id");
	else
		ret = sb_catalog_step_change(c, st,
		    "removing a running operation", &n);
	sqlite3_finalize(st);
	if (count != NULL)
		*count = n;
	return ret;
}

enum sb_err
sb_catalog_running_del(struct sb_catalog *c, const char *op_id)
{
	return running_delete(c, op_id, NULL);
}

enum sb_err
sb_catalog_running_clear(struct sb_catalog *c, int *count)
{
	return running_delete(c, NULL, count);
}

/* One row of the list's SELECT into r; SB_ERR_DB for a name we do not
 * know (a newer build's phase: the row is skipped). */
static enum sb_err
row_to_running(sqlite3_stmt *st, struct sb_running *r)
{
	const unsigned char	*s;

	memset(r, 0, sizeof(*r));
	s = sqlite3_column_text(st, 0);
	sb_strlcpy(r->op_id, s != NULL ? (const char *)s : "",
	    sizeof(r->op_id));
	if ((s = sqlite3_column_text(st, 1)) == NULL ||
	    sb_op_parse((const char *)s, &r->op) != SB_OK)
		return SB_ERR_DB;
	s = sqlite3_column_text(st, 2);
	sb_strlcpy(r->backup_id, s != NULL ? (const char *)s : "",
	    sizeof(r->backup_id));
	if ((s = sqlite3_column_text(st, 3)) == NULL ||
	    sb_phase_parse((const char *)s, &r->phase) != SB_OK)
		return SB_ERR_DB;
	r->bytes_done = sqlite3_column_int64(st, 4);
	r->bytes_total = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 5);
	r->started_at = sqlite3_column_int64(st, 6);
	r->updated_at = sqlite3_column_int64(st, 7);
	return SB_OK;
}

enum sb_err
sb_catalog_running_list(struct sb_catalog *c, const char *backup_id,
    struct sb_running *v, size_t max, size_t *n)
{
	sqlite3_stmt	*st = NULL;
	int		 rc = SQLITE_DONE, ret;

	*n = 0;
	if ((ret = sb_catalog_prepare(c, "SELECT r.op_id, r.operation, "
	    "r.backup_id, r.phase, r.bytes_done, r.bytes_total, "
	    "r.started_at, r.updated_at FROM running AS r "
	    "WHERE (?1 IS NULL OR r.backup_id = ?1) AND ("
	    "  (r.operation = 'backup' AND EXISTS (SELECT 1 FROM backups "
	    "    WHERE id = r.op_id AND status = 'pending')) OR "
	    "  (r.operation = 'restore' AND EXISTS (SELECT 1 FROM restores "
	    "    WHERE id = r.op_id AND status = 'pending'))) "
	    "ORDER BY r.started_at DESC, r.op_id DESC", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, backup_id, 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding an id");
		goto out;
	}
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row_to_running(st, &v[*n]) == SB_OK)
			(*n)++;
	if (*n < max && rc != SQLITE_DONE) {
		ret = sb_catalog_dberr(c, rc, "reading running operations");
		goto out;
	}
	ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}
