/*
 * sql.h - small helpers over SQLite that the catalog and the snapshots
 * share.
 */
#ifndef SB_SQL_H
#define SB_SQL_H

#include <stddef.h>

#include <sqlite3.h>

/*
 * Run one statement (a PRAGMA) and copy the first column of its first row
 * as text into buf (len bytes; "" when there is no row or it is NULL).
 * Returns SQLITE_OK, or the SQLite error of preparing or stepping it; the
 * caller reads sqlite3_errmsg(db) for the message.
 */
int	sb_sql_text(sqlite3 *db, const char *sql, char *buf, size_t len);

#endif /* SB_SQL_H */
