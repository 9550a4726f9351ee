/*
 * catalog_tally.c - what GET /backups/status and the metrics read of the
 * catalog besides sb_catalog_summary (catalog_state.c): counts and bytes
 * by type and status, the latest success, failure and good drill, and
 * the durations of the last backup and the last restore.
 */
#include <string.h>

#include <sqlite3.h>

#include "catalog_int.h"

/* Counts and bytes (completed sizes; unknown sizes count 0). */
static enum sb_err
tally_counts(struct sb_catalog *c, struct sb_catalog_tally *out)
{
	sqlite3_stmt	*st = NULL;
	enum sb_type	 t;
	enum sb_status	 s;
	int		 rc, ret;

	if ((ret = sb_catalog_prepare(c, "SELECT type, status, count(*), "
	    "total(CASE WHEN size > 0 THEN size ELSE 0 END) FROM backups "
	    "GROUP BY type, status", &st)) != SB_OK)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sb_type_parse((const char *)sqlite3_column_text(st, 0),
		    &t) != SB_OK || sb_status_parse((const char *)
		    sqlite3_column_text(st, 1), &s) != SB_OK) {
			sb_seterr(c->errmsg, "bad type or status in catalog");
			ret = SB_ERR_DB;
			goto out;
		}
		out->count[t][s] = sqlite3_column_int64(st, 2);
		out->bytes[t][s] = (int64_t)sqlite3_column_double(st, 3);
	}
	ret = rc == SQLITE_DONE ? SB_OK : sb_catalog_dberr(c, rc,
	    "counting backups");
out:
	sqlite3_finalize(st);
	return ret;
}

/* The first row of sql (id, time, type) into ev; none: left cleared. */
static enum sb_err
tally_event(struct sb_catalog *c, const char *sql, struct sb_catalog_event *ev)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*id;
	int			 rc, ret;

	if ((ret = sb_catalog_prepare(c, sql, &st)) != SB_OK)
		return ret;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_text(st, 0);
		sb_strlcpy(ev->id, id != NULL ? (const char *)id : "",
		    sizeof(ev->id));
		ev->at = sqlite3_column_int64(st, 1);
		if (sb_type_parse((const char *)sqlite3_column_text(st, 2),
		    &ev->type) != SB_OK) {
			sb_seterr(c->errmsg, "backup %s: bad type in catalog",
			    ev->id);
			ret = SB_ERR_DB;
		}
	} else if (rc != SQLITE_DONE)
		ret = sb_catalog_dberr(c, rc, "reading the latest backups");
	sqlite3_finalize(st);
	return ret;
}

/* The single integer sql gives, -1 when it gives no row. */
static enum sb_err
tally_ms(struct sb_catalog *c, const char *sql, int64_t *out)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	*out = -1;
	if ((ret = sb_catalog_prepare(c, sql, &st)) != SB_OK)
		return ret;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = sb_catalog_dberr(c, rc, "reading durations");
	sqlite3_finalize(st);
	return ret;
}

enum sb_err
sb_catalog_tally(struct sb_catalog *c, struct sb_catalog_tally *out)
{
	int	ret;

	memset(out, 0, sizeof(*out));
	if ((ret = tally_counts(c, out)) != SB_OK ||
	    (ret = tally_event(c, "SELECT id, completed_at, type FROM backups "
	    "WHERE status = 'completed' ORDER BY completed_at DESC, id DESC "
	    "LIMIT 1", &out->last_success)) != SB_OK ||
	    (ret = tally_event(c, "SELECT id, completed_at, type FROM backups "
	    "WHERE status = 'failed' ORDER BY completed_at DESC, id DESC "
	    "LIMIT 1", &out->last_failure)) != SB_OK ||
	    (ret = tally_event(c, "SELECT id, verified_at, type FROM backups "
	    "WHERE verify_status = 'ok' AND status = 'completed' ORDER BY "
	    "verified_at DESC, id DESC LIMIT 1", &out->verified)) != SB_OK ||
	    (ret = tally_ms(c, "SELECT completed_at - created_at FROM backups "
	    "WHERE status = 'completed' ORDER BY completed_at DESC, id DESC "
	    "LIMIT 1", &out->backup_ms)) != SB_OK)
		return ret;
	return tally_ms(c, "SELECT finished_at - started_at FROM restores "
	    "WHERE status != 'pending' AND finished_at IS NOT NULL ORDER BY "
	    "finished_at DESC, id DESC LIMIT 1", &out->restore_ms);
}
