/*
 * catalog.c - the backup-db: every backup and every restore, in SQLite.
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

#include "catalog.h"
#include "json.h"
#include "sql.h"

#define BUSY_TIMEOUT_MS	10000

struct sb_catalog {
	sqlite3	*db;
	char	 errmsg[SB_ERRMSG_MAX];
};

/*
 * Migrations, indexed by the version they produce minus one. Each runs in
 * its own BEGIN IMMEDIATE transaction together with the PRAGMA
 * user_version bump (https://sqlite.org/pragma.html#pragma_user_version),
 * so a crash leaves the catalog at one version or the next, never between.
 * Never edit a released step: add a new one.
 */
static const char *const migrations[SB_CATALOG_VERSION] = {
	/* 1: backups. NULL means "unknown" for completed_at, size, sha256. */
	"CREATE TABLE backups ("
	"  id           TEXT PRIMARY KEY NOT NULL,"
	"  type         TEXT NOT NULL"
	"               CHECK (type IN ('manual', 'automatic')),"
	"  status       TEXT NOT NULL"
	"               CHECK (status IN ('pending', 'completed', 'failed')),"
	"  created_at   INTEGER NOT NULL,"	/* ms since the epoch, UTC */
	"  completed_at INTEGER,"
	"  location     TEXT,"
	"  size         INTEGER,"
	"  sha256       TEXT,"
	"  description  TEXT,"
	"  tags         TEXT NOT NULL DEFAULT '[]'"
	"               CHECK (json_valid(tags)),"	/* a JSON array */
	"  error        TEXT"
	");"
	"CREATE INDEX backups_created ON backups (created_at, id);"
	"CREATE INDEX backups_type_created ON backups (type, created_at);"
	"CREATE INDEX backups_status_created ON backups (status, created_at);",

	/*
	 * 2: restores. backup_id is deliberately not a foreign key: retention
	 * prunes backups, and the history of restores must survive them.
	 */
	"CREATE TABLE restores ("
	"  id               TEXT PRIMARY KEY NOT NULL,"
	"  backup_id        TEXT NOT NULL,"
	"  safety_backup_id TEXT,"
	"  started_at       INTEGER NOT NULL,"
	"  finished_at      INTEGER,"
	"  status           TEXT NOT NULL"
	"                   CHECK (status IN ('pending', 'completed', 'failed')),"
	"  error            TEXT"
	");"
	"CREATE INDEX restores_backup ON restores (backup_id, started_at);"
	"CREATE INDEX restores_started ON restores (started_at);",

	/*
	 * 3: settings. Small facts the catalog must remember between runs
	 * (which store it belongs to, what an admin confirmed), one row a
	 * key. Never a cache: every value is something only this catalog
	 * knows.
	 */
	"CREATE TABLE settings ("
	"  key        TEXT PRIMARY KEY NOT NULL,"
	"  value      TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL"	/* ms since the epoch, UTC */
	");",
};

/* The columns every backup query reads, in the order row_to_backup wants. */
#define BACKUP_COLS \
	"id, type, status, created_at, completed_at, location, size, " \
	"sha256, description, tags, error"

/*
 * Map an SQLite result code to ours, and record "context: sqlite message"
 * as the catalog's error. A lock still held after the busy timeout is
 * SB_ERR_BUSY: the caller may retry.
 */
static int
dberr(struct sb_catalog *c, int rc, const char *context)
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
static int
prepare(struct sb_catalog *c, const char *sql, sqlite3_stmt **stmt)
{
	int	rc;

	*stmt = NULL;
	rc = sqlite3_prepare_v2(c->db, sql, -1, stmt, NULL);
	if (rc != SQLITE_OK)
		return dberr(c, rc, "preparing a catalog query");
	return SB_OK;
}

/* Bind a string, or NULL when s is NULL (or empty and empty_null). */
static int
bind_text(sqlite3_stmt *st, int i, const char *s, int empty_null)
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

/*
 * Run a script of constant SQL (a migration) statement by statement with
 * prepare/step, so that each statement's error is reported.
 */
static int
exec_script(struct sb_catalog *c, const char *sql, const char *context)
{
	sqlite3_stmt	*st = NULL;
	const char	*tail = sql;
	int		 rc;

	while (tail != NULL && *tail != '\0') {
		rc = sqlite3_prepare_v2(c->db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			return dberr(c, rc, context);
		if (st == NULL)		/* whitespace or comment only */
			continue;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE) {
			rc = dberr(c, rc, context);
			sqlite3_finalize(st);
			return rc;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	return SB_OK;
}

/* Read PRAGMA user_version. */
static int
read_version(struct sb_catalog *c, int *version)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	if ((ret = prepare(c, "PRAGMA user_version", &st)) != SB_OK)
		return ret;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		ret = dberr(c, rc, "reading the catalog version");
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	ret = SB_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Bring the schema to SB_CATALOG_VERSION, one transaction per step. The
 * version is read again under the write lock, so two processes opening a
 * new catalog at once do not both migrate.
 */
static int
migrate(struct sb_catalog *c)
{
	char	 sql[64];
	int	 v, cur, ret;

	for (v = 1; v <= SB_CATALOG_VERSION; v++) {
		if ((ret = exec_script(c, "BEGIN IMMEDIATE",
		    "locking the catalog for migration")) != SB_OK)
			return ret;
		if ((ret = read_version(c, &cur)) != SB_OK)
			goto fail;
		if (cur >= v) {
			if ((ret = exec_script(c, "COMMIT",
			    "ending a migration")) != SB_OK)
				goto fail;
			continue;
		}
		if ((ret = exec_script(c, migrations[v - 1],
		    "migrating the catalog")) != SB_OK)
			goto fail;
		/* PRAGMA takes no parameters; v is our own loop counter. */
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
		if ((ret = exec_script(c, sql,
		    "setting the catalog version")) != SB_OK ||
		    (ret = exec_script(c, "COMMIT",
		    "committing a migration")) != SB_OK)
			goto fail;
	}
	return SB_OK;
fail:
	/* Keep the first error message: ROLLBACK's own error is noise. */
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Run a PRAGMA that returns one text row (journal_mode) into buf. */
static int
pragma_text(struct sb_catalog *c, const char *sql, char *buf, size_t len)
{
	int	rc;

	if ((rc = sb_sql_text(c->db, sql, buf, len)) != SQLITE_OK)
		return dberr(c, rc, sql);
	return SB_OK;
}

/*
 * Open the catalog at path, creating it if missing, and migrate it.
 * Settings (https://sqlite.org/pragma.html): WAL so readers and the one
 * writer do not block each other; synchronous=NORMAL, which in WAL mode
 * stays consistent after a power loss and may only lose the last
 * transactions; foreign_keys=ON; a 10 s busy timeout.
 * A catalog written by a newer build (user_version > SB_CATALOG_VERSION)
 * is refused before anything is written to it.
 * On success *out is owned by the caller (sb_catalog_close). On failure
 * *out is NULL and err (SB_ERRMSG_MAX bytes, may be NULL) says why.
 */
int
sb_catalog_open(struct sb_catalog **out, const char *path, char *err)
{
	struct sb_catalog	*c = NULL;
	char			 mode[16];
	int			 rc, ret = SB_ERR_DB, version;

	*out = NULL;
	if (path == NULL || path[0] == '\0') {
		sb_seterr(err, "catalog: no path given");
		return SB_ERR_INVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		sb_seterr(err, "catalog: out of memory");
		return SB_ERR_NOMEM;
	}
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (c->db == NULL) {
			ret = SB_ERR_NOMEM;
			sb_seterr(c->errmsg, "opening %s: out of memory", path);
		} else
			ret = dberr(c, rc, "opening the catalog");
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	if ((rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS)) != SQLITE_OK) {
		ret = dberr(c, rc, "setting the busy timeout");
		goto out;
	}
	if ((ret = read_version(c, &version)) != SB_OK)
		goto out;
	if (version > SB_CATALOG_VERSION) {
		sb_seterr(c->errmsg, "catalog was written by a newer safbackup "
		    "(version %d); this build knows up to version %d", version,
		    SB_CATALOG_VERSION);
		ret = SB_ERR_DB;
		goto out;
	}
	if ((ret = exec_script(c, "PRAGMA foreign_keys = ON",
	    "enabling foreign keys")) != SB_OK)
		goto out;
	if ((ret = pragma_text(c, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode))) != SB_OK)
		goto out;
	if (strcmp(mode, "wal") != 0) {
		sb_seterr(c->errmsg, "catalog %s could not switch to WAL mode "
		    "(journal mode is %s)", path, mode);
		ret = SB_ERR_DB;
		goto out;
	}
	if ((ret = exec_script(c, "PRAGMA synchronous = NORMAL",
	    "setting synchronous")) != SB_OK)
		goto out;
	if ((ret = migrate(c)) != SB_OK)
		goto out;
	*out = c;
	c = NULL;
	ret = SB_OK;
out:
	if (c != NULL) {
		if (err != NULL)
			sb_strlcpy(err, c->errmsg, SB_ERRMSG_MAX);
		sb_catalog_close(&c);
	}
	return ret;
}

/* Close and free; *c is set to NULL. Unfinalized statements: none by design. */
void
sb_catalog_close(struct sb_catalog **c)
{
	if (c == NULL || *c == NULL)
		return;
	sqlite3_close((*c)->db);
	free(*c);
	*c = NULL;
}

/* The last error of this handle; "" if none. Owned by the catalog. */
const char *
sb_catalog_errmsg(const struct sb_catalog *c)
{
	return c == NULL ? "no catalog" : c->errmsg;
}

/* The schema version of the open catalog (PRAGMA user_version). */
int
sb_catalog_version(struct sb_catalog *c, int *version)
{
	return read_version(c, version);
}

/* --- backups ------------------------------------------------------------ */

/*
 * Parse the tags column into b. A value that is not a JSON array of at
 * most SB_TAGS_MAX strings is a damaged catalog: SB_ERR_DB.
 */
static int
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
static int
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
static int
row_to_backup(struct sb_catalog *c, sqlite3_stmt *st, struct sb_backup *b)
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
	return SB_OK;
nomem:
	sb_seterr(c->errmsg, "reading backup %s: out of memory", b->id);
	return ret;
}

/* Refuse records the schema cannot hold, before SQLite sees them. */
static int
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
 * Shared body of insert and upsert: sql has ?1..?11 in BACKUP_COLS order.
 * A duplicate id on insert is SB_ERR_INVAL.
 */
static int
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
	if ((ret = prepare(c, sql, &st)) != SB_OK)
		goto out;
	if (bind_text(st, 1, b->id, 0) != SQLITE_OK ||
	    bind_text(st, 2, sb_type_str(b->type), 0) != SQLITE_OK ||
	    bind_text(st, 3, sb_status_str(b->status), 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, b->created_at) != SQLITE_OK ||
	    bind_i64(st, 5, b->completed_at, 0) != SQLITE_OK ||
	    bind_text(st, 6, b->location, 0) != SQLITE_OK ||
	    bind_i64(st, 7, b->size, -1) != SQLITE_OK ||
	    bind_text(st, 8, b->sha256, 1) != SQLITE_OK ||
	    bind_text(st, 9, b->description, 0) != SQLITE_OK ||
	    bind_text(st, 10, tags, 0) != SQLITE_OK ||
	    bind_text(st, 11, b->error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a backup");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sb_seterr(c->errmsg, "backup %s already exists", b->id);
		ret = SB_ERR_INVAL;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		(void)dberr(c, rc, "backup record refused");
		ret = SB_ERR_INVAL;
	} else if (rc != SQLITE_DONE)
		ret = dberr(c, rc, "writing a backup");
	else
		ret = SB_OK;
out:
	sqlite3_finalize(st);
	free(tags);
	return ret;
}

/* Insert a new record; SB_ERR_INVAL if the id exists. */
int
sb_catalog_insert(struct sb_catalog *c, const struct sb_backup *b)
{
	return write_backup(c, "INSERT INTO backups (" BACKUP_COLS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", b);
}

/*
 * Insert, or overwrite every field of the record with this id: used when
 * the catalog is rebuilt from the store (https://sqlite.org/lang_upsert.html).
 */
int
sb_catalog_upsert(struct sb_catalog *c, const struct sb_backup *b)
{
	return write_backup(c, "INSERT INTO backups (" BACKUP_COLS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	    "ON CONFLICT (id) DO UPDATE SET type = excluded.type, "
	    "status = excluded.status, created_at = excluded.created_at, "
	    "completed_at = excluded.completed_at, "
	    "location = excluded.location, size = excluded.size, "
	    "sha256 = excluded.sha256, description = excluded.description, "
	    "tags = excluded.tags, error = excluded.error", b);
}

/* Whether a backup with this id exists: SB_OK, SB_ERR_NOTFOUND or error. */
static int
backup_exists(struct sb_catalog *c, const char *id, char *status,
    size_t len)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*s;
	int			 rc, ret;

	if ((ret = prepare(c, "SELECT status FROM backups WHERE id = ?1",
	    &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, id, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding an id");
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
		ret = dberr(c, rc, "looking up a backup");
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Step an UPDATE/DELETE to completion; *changes gets the rows it touched
 * (https://sqlite.org/c3ref/changes.html).
 */
static int
step_change(struct sb_catalog *c, sqlite3_stmt *st, const char *context,
    int *changes)
{
	int	rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return dberr(c, rc, context);
	*changes = sqlite3_changes(c->db);
	return SB_OK;
}

/*
 * pending -> completed, with the size and sha256 of the stored object.
 * SB_ERR_NOTFOUND if there is no such backup; SB_ERR_INVAL if it is not
 * pending (a finished record is never rewritten behind the caller's back).
 */
int
sb_catalog_complete(struct sb_catalog *c, const char *id,
    int64_t completed_at, int64_t size, const char *sha256)
{
	sqlite3_stmt	*st = NULL;
	char		 status[16];
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "complete: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = prepare(c, "UPDATE backups SET status = 'completed', "
	    "completed_at = ?2, size = ?3, sha256 = ?4, error = NULL "
	    "WHERE id = ?1 AND status = 'pending'", &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, id, 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, completed_at) != SQLITE_OK ||
	    bind_i64(st, 3, size, -1) != SQLITE_OK ||
	    bind_text(st, 4, sha256, 1) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a completion");
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
int
sb_catalog_fail(struct sb_catalog *c, const char *id, int64_t completed_at,
    const char *error)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "fail: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = prepare(c, "UPDATE backups SET status = 'failed', "
	    "completed_at = ?2, error = ?3 WHERE id = ?1", &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, id, 0) != SQLITE_OK ||
	    bind_i64(st, 2, completed_at, 0) != SQLITE_OK ||
	    bind_text(st, 3, error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a failure");
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
int
sb_catalog_fail_pending(struct sb_catalog *c, int64_t now, const char *error,
    int *count)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (count != NULL)
		*count = 0;
	if ((ret = prepare(c, "UPDATE backups SET status = 'failed', "
	    "completed_at = ?1, error = ?2 WHERE status = 'pending'",
	    &st)) != SB_OK)
		return ret;
	if (bind_i64(st, 1, now, 0) != SQLITE_OK ||
	    bind_text(st, 2, error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a failure");
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
static int
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
	if ((ret = prepare(c, sql, st)) != SB_OK)
		return ret;
	rc = bind_text(*st, 1, id, 0);
	sb_strlcpy(idm, id, SB_UUID_LEN + 1);
	if (rc != SQLITE_OK)
		return dberr(c, sqlite3_errcode(c->db), "binding an id");
	rc = sqlite3_step(*st);
	if (rc == SQLITE_DONE) {
		sb_seterr(c->errmsg, "no %s %s", what, idm);
		return SB_ERR_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "reading a %s", what);
		return dberr(c, rc, ctx);
	}
	return SB_OK;
}

/*
 * One record into out, which is released with sb_backup_clear() first
 * (so it must be zeroed or hold a record). SB_ERR_NOTFOUND if absent.
 * The caller frees out with sb_backup_clear().
 */
int
sb_catalog_get(struct sb_catalog *c, const char *id, struct sb_backup *out)
{
	sqlite3_stmt	*st = NULL;
	char		 idm[SB_UUID_LEN + 1];
	int		 ret;

	ret = find_by_id(c, "SELECT " BACKUP_COLS " FROM backups WHERE id = ?1",
	    id, "backup", idm, &st);
	sb_backup_clear(out);
	if (ret == SB_OK && (ret = row_to_backup(c, st, out)) != SB_OK)
		sb_backup_clear(out);
	sqlite3_finalize(st);
	return ret;
}

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
 * A query over backups with the filter's WHERE clause. The SQL text is
 * built from constant fragments only; values are bound by name. limit
 * and offset are bound when paged is set. ORDER BY and paging follow
 * sb_catalog_list; head is "SELECT ... FROM backups".
 * Returns the prepared statement in *stmt (caller finalizes).
 */
static int
filter_query(struct sb_catalog *c, const char *head,
    const struct sb_filter *f, int paged, sqlite3_stmt **stmt)
{
	char		 sql[1024];
	char		*pat = NULL;
	const char	*join = " WHERE ";
	size_t		 len;
	int64_t		 limit = 0;
	sqlite3_stmt	*st = NULL;
	int		 ret, ok = 1;

	*stmt = NULL;
	if (f != NULL && ((f->has_type && (unsigned)f->type >= SB_TYPE__MAX) ||
	    (f->has_status && (unsigned)f->status >= SB_STATUS__MAX) ||
	    f->limit < 0 || f->offset < 0)) {
		sb_seterr(c->errmsg, "bad list filter");
		return SB_ERR_INVAL;
	}

#define APPEND(s) do {							\
	len = strlen(sql);						\
	if (sb_strlcpy(sql + len, (s), sizeof(sql) - len) >=		\
	    sizeof(sql) - len)						\
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

	if ((ret = prepare(c, sql, &st)) != SB_OK)
		return ret;
	if (f != NULL && f->has_type && bind_text(st, sqlite3_bind_parameter_index(
	    st, ":type"), sb_type_str(f->type), 0) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->has_status && bind_text(st,
	    sqlite3_bind_parameter_index(st, ":status"),
	    sb_status_str(f->status), 0) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->from != 0 && sqlite3_bind_int64(st,
	    sqlite3_bind_parameter_index(st, ":from"), f->from) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->to != 0 && sqlite3_bind_int64(st,
	    sqlite3_bind_parameter_index(st, ":to"), f->to) != SQLITE_OK)
		goto bindfail;
	if (f != NULL && f->q != NULL && f->q[0] != '\0') {
		if ((pat = like_pattern(f->q)) == NULL) {
			sb_seterr(c->errmsg, "list: out of memory");
			ret = SB_ERR_NOMEM;
			goto out;
		}
		if (bind_text(st, sqlite3_bind_parameter_index(st, ":q"),
		    pat, 0) != SQLITE_OK)
			goto bindfail;
	}
	if (paged) {
		limit = f == NULL ? 0 : f->limit;
		if (limit == 0)
			limit = SB_LIST_DEFAULT;
		if (limit > SB_LIST_MAX)
			limit = SB_LIST_MAX;
		if (sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st,
		    ":limit"), limit) != SQLITE_OK ||
		    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st,
		    ":offset"), f == NULL ? 0 : f->offset) != SQLITE_OK)
			goto bindfail;
	}
	*stmt = st;
	st = NULL;
	ret = SB_OK;
	goto out;
bindfail:
	ret = dberr(c, sqlite3_errcode(c->db), "binding a list filter");
out:
	free(pat);
	sqlite3_finalize(st);
	return ret;
}

/* Step a SELECT of BACKUP_COLS, appending every row to out. */
static int
collect(struct sb_catalog *c, sqlite3_stmt *st, struct sb_backup_list *out)
{
	struct sb_backup	b;
	int			rc, ret;

	memset(&b, 0, sizeof(b));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = row_to_backup(c, st, &b)) != SB_OK) {
			sb_backup_clear(&b);
			return ret;
		}
		if ((ret = sb_backup_list_push(out, &b)) != SB_OK) {
			sb_backup_clear(&b);
			sb_seterr(c->errmsg, "list: out of memory");
			return ret;
		}
	}
	if (rc != SQLITE_DONE)
		return dberr(c, rc, "listing backups");
	return SB_OK;
}

/*
 * Filtered page of backups, newest first (created_at DESC, id DESC).
 * f may be NULL (no filter). limit 0 means SB_LIST_DEFAULT; more than
 * SB_LIST_MAX is clamped. out is released with sb_backup_list_clear()
 * first (zeroed or holding a list); the caller frees it the same way,
 * also on failure.
 */
int
sb_catalog_list(struct sb_catalog *c, const struct sb_filter *f,
    struct sb_backup_list *out)
{
	sqlite3_stmt	*st = NULL;
	int		 ret;

	sb_backup_list_clear(out);
	if ((ret = filter_query(c, "SELECT " BACKUP_COLS " FROM backups", f,
	    1, &st)) != SB_OK)
		return ret;
	ret = collect(c, st, out);
	sqlite3_finalize(st);
	if (ret != SB_OK)
		sb_backup_list_clear(out);
	return ret;
}

/*
 * Every backup of one type, newest first, no paging: retention needs the
 * whole history. out as in sb_catalog_list.
 */
int
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
	if ((ret = prepare(c, "SELECT " BACKUP_COLS " FROM backups "
	    "WHERE type = ?1 ORDER BY created_at DESC, id DESC", &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, sb_type_str(type), 0) != SQLITE_OK)
		ret = dberr(c, sqlite3_errcode(c->db), "binding a type");
	else
		ret = collect(c, st, out);
	sqlite3_finalize(st);
	if (ret != SB_OK)
		sb_backup_list_clear(out);
	return ret;
}

/* How many backups match f (limit and offset ignored); f may be NULL. */
int
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
		ret = dberr(c, rc, "counting backups");
	sqlite3_finalize(st);
	return ret;
}

/* Remove a record; SB_ERR_NOTFOUND if absent. */
int
sb_catalog_delete(struct sb_catalog *c, const char *id)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (id == NULL) {
		sb_seterr(c->errmsg, "delete: no id");
		return SB_ERR_INVAL;
	}
	if ((ret = prepare(c, "DELETE FROM backups WHERE id = ?1", &st)) !=
	    SB_OK)
		return ret;
	if (bind_text(st, 1, id, 0) != SQLITE_OK)
		ret = dberr(c, sqlite3_errcode(c->db), "binding an id");
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
int
sb_catalog_restore_insert(struct sb_catalog *c, const struct sb_restore *r)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	if (r == NULL || r->id[0] == '\0' || r->backup_id[0] == '\0' ||
	    (unsigned)r->status >= SB_STATUS__MAX) {
		sb_seterr(c->errmsg, "bad restore record");
		return SB_ERR_INVAL;
	}
	if ((ret = prepare(c, "INSERT INTO restores (id, backup_id, "
	    "safety_backup_id, started_at, finished_at, status, error) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, r->id, 0) != SQLITE_OK ||
	    bind_text(st, 2, r->backup_id, 0) != SQLITE_OK ||
	    bind_text(st, 3, r->safety_backup_id, 1) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, r->started_at) != SQLITE_OK ||
	    bind_i64(st, 5, r->finished_at, 0) != SQLITE_OK ||
	    bind_text(st, 6, sb_status_str(r->status), 0) != SQLITE_OK ||
	    bind_text(st, 7, r->error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a restore");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sb_seterr(c->errmsg, "restore %s already exists", r->id);
		ret = SB_ERR_INVAL;
	} else if (rc != SQLITE_DONE)
		ret = dberr(c, rc, "recording a restore");
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
int
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
	if ((ret = prepare(c, "UPDATE restores SET finished_at = ?2, "
	    "status = ?3, safety_backup_id = coalesce(?4, safety_backup_id), "
	    "error = ?5 WHERE id = ?1", &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, id, 0) != SQLITE_OK ||
	    bind_i64(st, 2, finished_at, 0) != SQLITE_OK ||
	    bind_text(st, 3, sb_status_str(status), 0) != SQLITE_OK ||
	    bind_text(st, 4, safety_id, 1) != SQLITE_OK ||
	    bind_text(st, 5, error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a restore");
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
int
sb_catalog_restore_fail_pending(struct sb_catalog *c, int64_t now,
    const char *error, int *count)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if (count != NULL)
		*count = 0;
	if ((ret = prepare(c, "UPDATE restores SET status = 'failed', "
	    "finished_at = ?1, error = ?2 || coalesce('; safety backup ' || "
	    "safety_backup_id || ' holds the live database as it was before', "
	    "'') WHERE status = 'pending'", &st)) != SB_OK)
		return ret;
	if (bind_i64(st, 1, now, 0) != SQLITE_OK ||
	    bind_text(st, 2, error, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a failure");
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
int
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
int
sb_catalog_setting_get(struct sb_catalog *c, const char *key, char *buf,
    size_t len)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*v;
	int			 rc, ret;

	if ((ret = prepare(c, "SELECT value FROM settings WHERE key = ?1",
	    &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, key, 0) != SQLITE_OK) {
		ret = dberr(c, sqlite3_errcode(c->db), "binding a setting");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sb_seterr(c->errmsg, "setting %s is not set", key);
		ret = SB_ERR_NOTFOUND;
	} else if (rc != SQLITE_ROW)
		ret = dberr(c, rc, "reading a setting");
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
int
sb_catalog_setting_set(struct sb_catalog *c, const char *key,
    const char *value, int64_t now)
{
	sqlite3_stmt	*st = NULL;
	int		 ret, n = 0;

	if ((ret = prepare(c, "INSERT INTO settings (key, value, updated_at) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
	    "value = excluded.value, updated_at = excluded.updated_at",
	    &st)) != SB_OK)
		return ret;
	if (bind_text(st, 1, key, 0) != SQLITE_OK ||
	    bind_text(st, 2, value, 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, now) != SQLITE_OK)
		ret = dberr(c, sqlite3_errcode(c->db), "binding a setting");
	else
		ret = step_change(c, st, "writing a setting", &n);
	sqlite3_finalize(st);
	return ret;
}
