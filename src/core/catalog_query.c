/*
 * catalog_query.c - filtered, paged lists of the catalog's backups
 * (src/core/catalog.c). Every value reaches SQL through a bound parameter;
 * the SQL text is made of constant fragments of this file only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "catalog_int.h"

/*
 * Build the LIKE pattern for q: "%q%" with the LIKE metacharacters %, _
 * and our escape character \ escaped, so q matches literally
 * (https://sqlite.org/lang_expr.html#like). Caller frees.
 */
static char *
like_pattern(const char *q)
{
	size_t	 len = strlen(q), i, j = 0;
	char	*p;

	if (len > (SIZE_MAX - 3) / 2)
		return NULL;
	if ((p = malloc(len * 2 + 3)) == NULL)
		return NULL;
	p[j++] = '%';
	for (i = 0; i < len; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[j++] = '\\';
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

/*
 * The SQL text of a query over backups with the filter's WHERE clause,
 * into sql (len bytes), from constant fragments only: values are bound
 * by name (filter_bind). ORDER BY and paging when paged is set.
 * SB_ERR_INVAL if it does not fit.
 */
static enum sb_err
filter_sql(struct sb_catalog *c, const char *head, const struct sb_filter *f,
    int paged, char *sql, size_t len)
{
	const char	*join = " WHERE ";
	size_t		 used;
	int		 ok = 1;

#define APPEND(s) do {							\
	used = strlen(sql);						\
	if (sb_strlcpy(sql + used, (s), len - used) >= len - used)	\
		ok = 0;							\
} while (0)
#define COND(s) do { APPEND(join); APPEND(s); join = " AND "; } while (0)

	sql[0] = '\0';
	APPEND(head);
	if (f != NULL && f->has_type)
		COND("type = :type");
	if (f != NULL && f->has_status)
		COND("status = :status");
	if (f != NULL && f->from != 0)
		COND("created_at >= :from");
	if (f != NULL && f->to != 0)
		COND("created_at <= :to");
	if (f != NULL && f->q != NULL && f->q[0] != '\0') {
		/*
		 * A tag matches through json_each on the decoded values
		 * (https://sqlite.org/json1.html#jeach), never on the JSON
		 * text, so quotes and backslashes in q match literally.
		 * LIKE folds ASCII case only.
		 */
		COND("(description LIKE :q ESCAPE '\\' OR EXISTS "
		    "(SELECT 1 FROM json_each(backups.tags) AS t "
		    "WHERE t.value LIKE :q ESCAPE '\\'))");
	}
	if (paged) {
		APPEND(" ORDER BY created_at DESC, id DESC");
		APPEND(" LIMIT :limit OFFSET :offset");
	}
#undef COND
#undef APPEND
	if (!ok) {
		sb_seterr(c->errmsg, "list query too long");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/* Bind an integer to the named parameter of st. */
static int
bind_named_i64(sqlite3_stmt *st, const char *name, int64_t v)
{
	return sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, name),
	    v);
}

/*
 * Bind the filter's values to the statement filter_sql made (same f and
 * paged). The limit: 0 is SB_LIST_DEFAULT, more than SB_LIST_MAX is
 * clamped.
 */
static enum sb_err
filter_bind(struct sb_catalog *c, sqlite3_stmt *st, const struct sb_filter *f,
    int paged)
{
	char	*pat = NULL;
	int64_t	 limit;
	int	 ret;

	if (f != NULL && f->has_type && sb_catalog_bind_text(st,
	    sqlite3_bind_parameter_index(st, ":type"), sb_type_str(f->type),
	    0) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->has_status && sb_catalog_bind_text(st,
	    sqlite3_bind_parameter_index(st, ":status"),
	    sb_status_str(f->status), 0) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->from != 0 &&
	    bind_named_i64(st, ":from", f->from) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->to != 0 &&
	    bind_named_i64(st, ":to", f->to) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->q != NULL && f->q[0] != '\0') {
		if ((pat = like_pattern(f->q)) == NULL) {
			sb_seterr(c->errmsg, "list: out of memory");
			return SB_ERR_NOMEM;
		}
		if (sb_catalog_bind_text(st, sqlite3_bind_parameter_index(st,
		    ":q"), pat, 0) != SQLITE_OK)
			goto bindfail;
	}
	if (paged) {
		limit = f == NULL ? 0 : f->limit;
		if (limit == 0)
			limit = SB_LIST_DEFAULT;
		if (limit > SB_LIST_MAX)
			limit = SB_LIST_MAX;
		if (bind_named_i64(st, ":limit", limit) != SQLITE_OK ||
		    bind_named_i64(st, ":offset", f == NULL ? 0 : f->offset) !=
		    SQLITE_OK)
			goto bindfail;
	}
	free(pat);
	return SB_OK;
bindfail:
	ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
	    "binding a list filter");
	free(pat);
	return ret;
}

/*
 * A query over backups with the filter's WHERE clause (filter_sql,
 * filter_bind); head is "SELECT ... FROM backups". ORDER BY and paging
 * follow sb_catalog_list when paged is set. Returns the prepared
 * statement in *stmt (caller finalizes).
 */
static enum sb_err
filter_query(struct sb_catalog *c, const char *head,
    const struct sb_filter *f, int paged, sqlite3_stmt **stmt)
{
	char		 sql[1024];
	sqlite3_stmt	*st = NULL;
	int		 ret;

	*stmt = NULL;
	if (f != NULL && ((f->has_type && (unsigned)f->type >= SB_TYPE__MAX) ||
	    (f->has_status && (unsigned)f->status >= SB_STATUS__MAX) ||
	    f->limit < 0 || f->offset < 0)) {
		sb_seterr(c->errmsg, "bad list filter");
		return SB_ERR_INVAL;
	}
	if ((ret = filter_sql(c, head, f, paged, sql, sizeof(sql))) != SB_OK ||
	    (ret = sb_catalog_prepare(c, sql, &st)) != SB_OK)
		return ret;
	if ((ret = filter_bind(c, st, f, paged)) != SB_OK) {
		sqlite3_finalize(st);
		return ret;
	}
	*stmt = st;
	return SB_OK;
}

/*
 * Step a SELECT of BACKUP_COLS, appending every row to out, then
 * finalize it. On failure out is emptied.
 */
static enum sb_err
collect(struct sb_catalog *c, sqlite3_stmt *st, struct sb_backup_list *out)
{
	struct sb_backup	b;
	int			rc = SQLITE_DONE, ret = SB_OK;

	memset(&b, 0, sizeof(b));
	while (ret == SB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = sb_catalog_row_to_backup(c, st, &b)) != SB_OK)
			sb_backup_clear(&b);
		else if ((ret = sb_backup_list_push(out, &b)) != SB_OK) {
			sb_backup_clear(&b);
			if (ret == SB_ERR_NOMEM)
				sb_seterr(c->errmsg, "list: out of memory");
			else
				sb_seterr(c->errmsg, "list: more than %d "
				    "backups", SB_LIST_ALL_MAX);
		}
	}
	if (ret == SB_OK && rc != SQLITE_DONE)
		ret = sb_catalog_dberr(c, rc, "listing backups");
	sqlite3_finalize(st);
	if (ret != SB_OK)
		sb_backup_list_clear(out);
	return ret;
}

/*
 * Filtered page of backups, newest first (created_at DESC, id DESC).
 * f may be NULL (no filter). limit 0 means SB_LIST_DEFAULT; more than
 * SB_LIST_MAX is clamped. out is released with sb_backup_list_clear()
 * first (zeroed or holding a list); the caller frees it the same way,
 * also on failure.
 */
enum sb_err
sb_catalog_list(struct sb_catalog *c, const struct sb_filter *f,
    struct sb_backup_list *out)
{
	sqlite3_stmt	*st = NULL;
	int		 ret;

	sb_backup_list_clear(out);
	if ((ret = filter_query(c, "SELECT " BACKUP_READ_COLS
	    " FROM backups", f, 1, &st)) != SB_OK)
		return ret;
	return collect(c, st, out);
}

/*
 * Every backup of one type, newest first, no paging: retention needs the
 * whole history. out as in sb_catalog_list.
 */
enum sb_err
sb_catalog_list_type(struct sb_catalog *c, enum sb_type type,
    struct sb_backup_list *out)
{
	sqlite3_stmt	*st = NULL;
	int		 ret;

	sb_backup_list_clear(out);
	if ((unsigned)type >= SB_TYPE__MAX) {
		sb_seterr(c->errmsg, "bad backup type");
		return SB_ERR_INVAL;
	}
	if ((ret = sb_catalog_prepare(c, "SELECT " BACKUP_READ_COLS
	    " FROM backups WHERE type = ?1 ORDER BY created_at DESC, id DESC",
	    &st)) != SB_OK)
		return ret;
	if (sb_catalog_bind_text(st, 1, sb_type_str(type), 0) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, sqlite3_errcode(c->db),
		    "binding a type");
		sqlite3_finalize(st);
		return ret;
	}
	return collect(c, st, out);
}

/*
 * Every completed backup, newest first, no paging: the restore drills
 * choose among them (sb_drill_choose). out as in sb_catalog_list.
 */
enum sb_err
sb_catalog_list_completed(struct sb_catalog *c, struct sb_backup_list *out)
{
	sqlite3_stmt	*st = NULL;
	int		 ret;

	sb_backup_list_clear(out);
	if ((ret = sb_catalog_prepare(c, "SELECT " BACKUP_READ_COLS
	    " FROM backups WHERE status = 'completed' "
	    "ORDER BY created_at DESC, id DESC", &st)) != SB_OK)
		return ret;
	return collect(c, st, out);
}

/* How many backups match f (limit and offset ignored); f may be NULL. */
enum sb_err
sb_catalog_count(struct sb_catalog *c, const struct sb_filter *f,
    int64_t *count)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	*count = 0;
	if ((ret = filter_query(c, "SELECT count(*) FROM backups", f, 0,
	    &st)) != SB_OK)
		return ret;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		ret = SB_OK;
	} else
		ret = sb_catalog_dberr(c, rc, "counting backups");
	sqlite3_finalize(st);
	return ret;
}
