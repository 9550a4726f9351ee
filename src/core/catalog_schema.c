/*
 * catalog_schema.c - open the catalog (src/core/catalog.c) and bring its
 * schema up to date: settings and migrations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "sql.h"

#define BUSY_TIMEOUT_MS	10000

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

	/*
	 * 4: restore drills and monitored states. The latest drill of each
	 * backup (engine_drill.c): when, ok or failed, what it found; NULL
	 * for never. monitor_state: one row per watched thing ("check":
	 * the last verdict `backup-cron check` reported; "prune": halted or
	 * not, with the reason), so a change of state is reported once and
	 * a status page can say since when.
	 */
	"ALTER TABLE backups ADD COLUMN verified_at INTEGER;"
	"ALTER TABLE backups ADD COLUMN verify_status TEXT"
	"  CHECK (verify_status IN ('ok', 'failed'));"
	"ALTER TABLE backups ADD COLUMN verify_detail TEXT;"
	"CREATE TABLE monitor_state ("
	"  name       TEXT PRIMARY KEY NOT NULL,"
	"  state      TEXT NOT NULL,"
	"  reason     TEXT,"
	"  since      INTEGER NOT NULL,"	/* ms: entered this state */
	"  updated_at INTEGER NOT NULL"		/* ms: last set */
	");",

	/*
	 * 5: operations running now (progress.h), one row each, written by
	 * the operation's own thread at most once a second. op_id is the
	 * backup's id (operation backup) or the restore's (restore); a row
	 * counts only while that record is pending, so a row left by a
	 * process that died is ignored by readers at once and removed by
	 * the crash repair at the next lock_take.
	 */
	"CREATE TABLE running ("
	"  op_id       TEXT PRIMARY KEY NOT NULL,"
	"  operation   TEXT NOT NULL"
	"              CHECK (operation IN ('backup', 'restore')),"
	"  backup_id   TEXT NOT NULL,"
	"  phase       TEXT NOT NULL,"
	"  bytes_done  INTEGER NOT NULL,"
	"  bytes_total INTEGER,"		/* NULL: unknown */
	"  started_at  INTEGER NOT NULL,"	/* ms since the epoch, UTC */
	"  updated_at  INTEGER NOT NULL"
	");",

	/*
	 * 6: the stored object's size (issue 13: an object may be compressed
	 * and/or encrypted; size and sha256 stay the plain .db's). Every
	 * object before it was the plain file: the same as size.
	 */
	"ALTER TABLE backups ADD COLUMN stored_size INTEGER;"
	"UPDATE backups SET stored_size = size"
	"  WHERE status = 'completed';",
};

/*
 * Run a script of constant SQL (a migration) statement by statement with
 * prepare/step, so that each statement's error is reported.
 */
static enum sb_err
exec_script(struct sb_catalog *c, const char *sql, const char *context)
{
	sqlite3_stmt	*st = NULL;
	const char	*tail = sql;
	int		 rc;

	while (tail != NULL && *tail != '\0') {
		rc = sqlite3_prepare_v2(c->db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			return sb_catalog_dberr(c, rc, context);
		if (st == NULL)		/* whitespace or comment only */
			continue;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE) {
			rc = sb_catalog_dberr(c, rc, context);
			sqlite3_finalize(st);
			return rc;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	return SB_OK;
}

/* Read PRAGMA user_version. */
static enum sb_err
read_version(struct sb_catalog *c, int *version)
{
	sqlite3_stmt	*st = NULL;
	int		 rc, ret;

	if ((ret = sb_catalog_prepare(c, "PRAGMA user_version", &st)) != SB_OK)
		return ret;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		ret = sb_catalog_dberr(c, rc, "reading the catalog version");
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
static enum sb_err
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
static enum sb_err
pragma_text(struct sb_catalog *c, const char *sql, char *buf, size_t len)
{
	int	rc;

	if ((rc = sb_sql_text(c->db, sql, buf, len)) != SQLITE_OK)
		return sb_catalog_dberr(c, rc, sql);
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
static enum sb_err
catalog_open(struct sb_catalog **out, const char *path, int attach,
    char *err)
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
			ret = sb_catalog_dberr(c, rc, "opening the catalog");
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	if ((rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS)) != SQLITE_OK) {
		ret = sb_catalog_dberr(c, rc, "setting the busy timeout");
		goto out;
	}
	if ((ret = read_version(c, &version)) != SB_OK)
		goto out;
	if (attach && version != SB_CATALOG_VERSION) {
		sb_seterr(c->errmsg, "catalog %s is at version %d, not %d",
		    path, version, SB_CATALOG_VERSION);
		ret = SB_ERR_DB;
		goto out;
	}
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
	if (!attach && (ret = migrate(c)) != SB_OK)
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

enum sb_err
sb_catalog_open(struct sb_catalog **out, const char *path, char *err)
{
	return catalog_open(out, path, 0, err);
}

/*
 * A second connection to a catalog this process has opened (and so
 * migrated) already, for a thread of its own (progress.c): the same
 * settings, no migration; a catalog at another version is refused.
 */
enum sb_err
sb_catalog_attach(struct sb_catalog **out, const char *path, char *err)
{
	return catalog_open(out, path, 1, err);
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

/* The schema version of the open catalog (PRAGMA user_version). */
enum sb_err
sb_catalog_version(struct sb_catalog *c, int *version)
{
	return read_version(c, version);
}
