/*
 * sql.c - small helpers over SQLite that the catalog and the snapshots
 * share (sql.h).
 */
#include "sb.h"
#include "sql.h"

int
sb_sql_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*s = NULL;
	int			 rc;

	buf[0] = '\0';
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		s = sqlite3_column_text(st, 0);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		sb_strlcpy(buf, s == NULL ? "" : (const char *)s, len);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}
