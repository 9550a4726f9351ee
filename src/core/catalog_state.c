/*
 * catalog_state.c - what the catalog records for restore drills and for
 * monitoring (schema version 4): the latest drill of each backup, the
 * summary `backup-cron check` reads, and the monitored states (the last
 * verdict check reported, whether prune is halted).
 */
#include <string.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "drill.h"

enum sb_err
sb_catalog_drill_set(struct sb_catalog *c, const char *id, int64_t at,
    enum sb_verify v, const char *detail)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL || sb_verify_str(v) == NULL) {
		sb_seterr(c->errmsg, "drill result: no id or no status");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "UPDATE backups SET verified_at = ?2, "
	    "verify_status = ?3, verify_detail = ?4 WHERE id = ?1",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, id, 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, at) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, sb_verify_str(v), 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 4, detail, 1) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding a drill result");
	else
		ret = sb_catalog_step_change(c, st, "recording a drill result",
		    &n);
	sqlite3_finalize(st);
	if (ret == SB_OK && n == 0) {
		sb_seterr(c->errmsg, "no backup %s", id);
		ret = SB_ERR_NOTFOUND;
	}
	return ret;
}

/* A text column into buf (len bytes, truncated), "" for NULL. */
static void
col_copy(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	sb_strlcpy(buf, s != NULL ? (const char *)s : "", len);
}

/* One SELECT of subqueries: a single statement is one read snapshot. */
enum sb_err
sb_catalog_summary(struct sb_catalog *c, struct sb_catalog_summary *out)
{
	sqlite3_stmt	*st = NULL;
	char		 status[16];
	int		 rc, ret;

	memset(out, 0, sizeof(*out));
	if ((ret = sb_catalog_prepare(c, "SELECT "
	    "(SELECT max(created_at) FROM backups WHERE type = 'automatic' "
	    "  AND status = 'completed'), "
	    "(SELECT max(verified_at) FROM backups), "
	    "(SELECT count(*) FROM backups WHERE status = 'completed'), "
	    "l.id, l.status, "
	    "(SELECT id FROM backups WHERE status = 'completed' AND "
	    "  verify_status = 'failed' ORDER BY verified_at DESC LIMIT 1) "
	    "FROM (SELECT 1) LEFT JOIN (SELECT id, status FROM backups WHERE "
	    "  status != 'pending' ORDER BY created_at DESC, id DESC LIMIT 1) "
	    "  AS l", &st)) != SB_OK)
		return ret;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		ret = sb_catalog_dberr(c, rc, "summing up the catalog");
		goto out;
	}
	out->newest_auto = sqlite3_column_int64(st, 0);
	out->last_drill = sqlite3_column_int64(st, 1);
	out->completed = sqlite3_column_int64(st, 2);
	col_copy(st, 3, out->latest_id, sizeof(out->latest_id));
	col_copy(st, 4, status, sizeof(status));
	if (out->latest_id[0] != '\0' &&
	    sb_status_parse(status, &out->latest_status) != SB_OK) {
		sb_seterr(c->errmsg, "backup %s: bad status in catalog",
		    out->latest_id);
		ret = SB_ERR_DB;
		goto out;
	}
	col_copy(st, 5, out->drill_failed_id, sizeof(out->drill_failed_id));
	ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

enum sb_err
sb_catalog_state_get(struct sb_catalog *c, const char *name,
    struct sb_state *out)
{
	sqlite3_stmt	*st = NULL;
	int		 ret;

	memset(out, 0, sizeof(*out));
	if ((ret = sb_catalog_find_by_id(c, "SELECT state, reason, since, "
	    "updated_at FROM monitor_state WHERE name = ?1", name,
	    "monitored state", &st)) != SB_OK)
		goto out;
	col_copy(st, 0, out->state, sizeof(out->state));
	col_copy(st, 1, out->reason, sizeof(out->reason));
	out->since = sqlite3_column_int64(st, 2);
	out->updated_at = sqlite3_column_int64(st, 3);
	ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

enum sb_err
sb_catalog_state_set(struct sb_catalog *c, const char *name,
    const char *state, const char *reason, int64_t now)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (name == NULL || state == NULL ||
	    strlen(state) > SB_STATE_NAME_MAX) {
		sb_seterr(c->errmsg, "monitored state: bad name or state");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "INSERT INTO monitor_state (name, "
	    "state, reason, since, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
	    "ON CONFLICT (name) DO UPDATE SET since = CASE WHEN state = "
	    "excluded.state THEN since ELSE excluded.since END, "
	    "state = excluded.state, reason = excluded.reason, "
	    "updated_at = excluded.updated_at", &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, name, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 2, state, 0) != SQLITE_OK ||
	    sb_catalog_bind_text(st, 3, reason, 1) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, now) != SQLITE_OK)
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding a monitored state");
	else
		ret = sb_catalog_step_change(c, st,
		    "recording a monitored state", &n);
	sqlite3_finalize(st);
	return ret;
}
