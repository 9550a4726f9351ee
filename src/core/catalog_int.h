/*
 * catalog_int.h - what catalog.c, catalog_schema.c and catalog_query.c
 * share; nothing else includes it. Every function that fails sets the
 * catalog's message (sb_catalog_errmsg).
 */
#ifndef SB_CATALOG_INT_H
#define SB_CATALOG_INT_H

#include <sqlite3.h>

#include "catalog.h"

struct sb_catalog {
	sqlite3	*db;
	char	 errmsg[SB_ERRMSG_MAX];
};

/* The columns every backup query reads, in the order row_to_backup wants. */
#define BACKUP_COLS \
	"id, type, status, created_at, completed_at, location, size, " \
	"sha256, description, tags, error, stored_size"
/* What a read adds: the latest drill (columns 12 to 14). */
#define BACKUP_READ_COLS BACKUP_COLS ", verified_at, verify_status, " \
	"verify_detail"

enum sb_err	sb_catalog_dberr(struct sb_catalog *, int rc,
		    const char *context);
enum sb_err	sb_catalog_prepare(struct sb_catalog *, const char *sql,
		    sqlite3_stmt **);
int		sb_catalog_bind_text(sqlite3_stmt *, int i, const char *s,
		    int empty_null);
/*
 * Prepare sql (?1 bound to id) and step to its first row: SB_ERR_NOTFOUND
 * ("no <what> <id>") when there is none. The caller finalizes *st always.
 */
enum sb_err	sb_catalog_find_by_id(struct sb_catalog *, const char *sql,
		    const char *id, const char *what, sqlite3_stmt **st);
/* Step a write once; *changes gets the rows it changed. */
enum sb_err	sb_catalog_step_change(struct sb_catalog *, sqlite3_stmt *,
		    const char *context, int *changes);
enum sb_err	sb_catalog_row_to_backup(struct sb_catalog *, sqlite3_stmt *,
		    struct sb_backup *);

#endif /* SB_CATALOG_INT_H */
