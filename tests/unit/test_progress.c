/*
 * test_progress.c - progress.h and scrub.h: the throttle of the progress
 * rows (pure: at most one write a period, bytes never back nor over the
 * total), the names, the line and JSON forms, the recorder's row on a
 * real catalog file, and the scrubber of server paths.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "catalog.h"
#include "progress.h"
#include "scrub.h"
#include "snapshot.h"
#include "store.h"

/* --- the throttle ------------------------------------------------------- */

/* Never written: due at once, whatever the clock says. */
static void
test_throttle_first(void **state)
{
	struct sb_throttle	t;
	int64_t			done = 10, total = 100;
	int			due = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(sb_throttle_wait_ms(&t, 5), 0);
	sb_throttle_view(&t, 5, SB_PHASE_SNAPSHOT, &done, &total, &due);
	assert_true(due);
	assert_int_equal(done, 10);
	assert_int_equal(total, 100);
	/* A clock at 0 still counts as written once marked. */
	sb_throttle_mark(&t, 0, SB_PHASE_SNAPSHOT, 10, 100);
	assert_int_not_equal(t.last_ms, 0);
}

/* One write a period at most; then only when something changed. */
static void
test_throttle_period(void **state)
{
	struct sb_throttle	t;
	int64_t			done, total;
	int			due = 1;

	(void)state;
	memset(&t, 0, sizeof(t));
	sb_throttle_mark(&t, 10000, SB_PHASE_SNAPSHOT, 100, 1000);
	assert_int_equal(sb_throttle_wait_ms(&t, 10000),
	    SB_PROGRESS_PERIOD_MS);
	assert_int_equal(sb_throttle_wait_ms(&t, 10400),
	    SB_PROGRESS_PERIOD_MS - 400);
	assert_int_equal(sb_throttle_wait_ms(&t, 10000 +
	    SB_PROGRESS_PERIOD_MS), 0);
	assert_int_equal(sb_throttle_wait_ms(&t, 99999), 0);

	done = 500, total = 1000;
	sb_throttle_view(&t, 10999, SB_PHASE_SNAPSHOT, &done, &total, &due);
	assert_false(due);			/* too soon */
	sb_throttle_view(&t, 11000, SB_PHASE_SNAPSHOT, &done, &total, &due);
	assert_true(due);
	done = 100, total = 1000;
	sb_throttle_view(&t, 15000, SB_PHASE_SNAPSHOT, &done, &total, &due);
	assert_false(due);			/* nothing changed */
	done = 0, total = 1000;
	sb_throttle_view(&t, 15000, SB_PHASE_UPLOAD, &done, &total, &due);
	assert_true(due);			/* a new phase */
	done = 100, total = -1;
	sb_throttle_view(&t, 15000, SB_PHASE_SNAPSHOT, &done, &total, &due);
	assert_true(due);			/* the total changed */
	assert_int_equal(total, -1);
}

/* What readers see: never above the total, never back within a phase. */
static void
test_throttle_view(void **state)
{
	struct sb_throttle	t;
	int64_t			done, total;
	int			due;

	(void)state;
	memset(&t, 0, sizeof(t));
	sb_throttle_mark(&t, 1000, SB_PHASE_COPY, 600, 1000);
	done = 5000, total = 1000;
	sb_throttle_view(&t, 3000, SB_PHASE_COPY, &done, &total, &due);
	assert_int_equal(done, 1000);		/* over the total */
	assert_int_equal(total, 1000);
	done = 200, total = 1000;
	sb_throttle_view(&t, 3000, SB_PHASE_COPY, &done, &total, &due);
	assert_int_equal(done, 600);		/* never back */
	assert_false(due);
	done = 200, total = 500;		/* a lower total, known better */
	sb_throttle_view(&t, 3000, SB_PHASE_COPY, &done, &total, &due);
	assert_int_equal(done, 600);
	assert_int_equal(total, 600);
	done = 200, total = 1000;		/* another phase starts over */
	sb_throttle_view(&t, 3000, SB_PHASE_SAFETY_BACKUP, &done, &total,
	    &due);
	assert_int_equal(done, 200);
	assert_true(due);
	done = -5, total = -7;			/* nonsense in, sense out */
	sb_throttle_view(&t, 3000, SB_PHASE_VERIFY, &done, &total, &due);
	assert_int_equal(done, 0);
	assert_int_equal(total, -1);
}

/* --- names and forms ------------------------------------------------------- */

static void
test_names(void **state)
{
	enum sb_phase	ph;
	enum sb_op	op;

	(void)state;
	for (int i = 0; i < SB_PHASE__MAX; i++) {
		assert_non_null(sb_phase_str((enum sb_phase)i));
		assert_int_equal(sb_phase_parse(sb_phase_str((enum sb_phase)i),
		    &ph), SB_OK);
		assert_int_equal(ph, i);
	}
	assert_string_equal(sb_phase_str(SB_PHASE_SAFETY_BACKUP),
	    "safety_backup");
	assert_null(sb_phase_str(SB_PHASE__MAX));
	assert_int_equal(sb_phase_parse("Snapshot", &ph), SB_ERR_INVAL);
	assert_int_equal(sb_phase_parse(NULL, &ph), SB_ERR_INVAL);
	assert_int_equal(sb_op_parse("restore", &op), SB_OK);
	assert_int_equal(op, SB_OP_RESTORE);
	assert_string_equal(sb_op_str(SB_OP_BACKUP), "backup");
	assert_int_equal(sb_op_parse("drill", &op), SB_ERR_INVAL);
}

static void
test_forms(void **state)
{
	struct sb_running	 r;
	struct json_object	*o, *v;
	char			 line[256];

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.backup_id, "0d04656c-62b1-439c-a44b-f994ecadc149");
	r.op = SB_OP_RESTORE;
	r.phase = SB_PHASE_COPY;
	r.bytes_done = 3 * 1024 * 1024 / 2;
	r.bytes_total = 2 * 1024 * 1024;
	r.started_at = 1796195536366;
	r.updated_at = 1796195537366;
	sb_running_line(&r, line, sizeof(line));
	assert_string_equal(line, "restore, copy: 1.5 MiB of 2.0 MiB (75%), "
	    "updated 2026-12-02T07:12:17.366Z");
	r.bytes_total = -1;
	r.bytes_done = 512;
	sb_running_line(&r, line, sizeof(line));
	assert_string_equal(line, "restore, copy: 512 B, updated "
	    "2026-12-02T07:12:17.366Z");

	assert_non_null(o = sb_running_json(&r, 1));
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"backup_id\":\"0d04656c-62b1-439c-"
	    "a44b-f994ecadc149\",\"operation\":\"restore\",\"phase\":\"copy\","
	    "\"bytes_done\":512,\"bytes_total\":null,\"started_at\":"
	    "\"2026-12-02T07:12:16.366Z\",\"updated_at\":"
	    "\"2026-12-02T07:12:17.366Z\"}");
	json_object_put(o);
	r.bytes_total = 4096;
	assert_non_null(o = sb_running_json(&r, 0));
	assert_false(json_object_object_get_ex(o, "backup_id", &v));
	assert_true(json_object_object_get_ex(o, "bytes_total", &v));
	assert_int_equal(json_object_get_int64(v), 4096);
	json_object_put(o);
}

/* --- the recorder on a real catalog ------------------------------------------- */

/*
 * start inserts the row at once (readers see the operation from its
 * first moment), end removes it; a recorder that cannot start is no
 * crash, and every call takes a NULL recorder.
 */
static void
test_recorder(void **state)
{
	struct sb_catalog	*c = NULL;
	struct sb_progress	*p = NULL;
	struct sb_running	 v[SB_RUNNING_MAX];
	struct sb_backup	 b;
	char			 dir[PATH_MAX], path[PATH_MAX + 16];
	char			 err[SB_ERRMSG_MAX];
	size_t			 n = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sbprog.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(sb_catalog_open(&c, path, err), SB_OK);
	memset(&b, 0, sizeof(b));
	assert_int_equal(sb_uuid_new(b.id), SB_OK);
	b.type = SB_TYPE_MANUAL;
	b.status = SB_STATUS_PENDING;
	b.created_at = sb_now_ms();
	b.size = -1;
	assert_int_equal(sb_catalog_insert(c, &b), SB_OK);

	assert_int_equal(sb_progress_start(&p, path, SB_OP_BACKUP, b.id,
	    b.id, SB_PHASE_SNAPSHOT, 8192, err), SB_OK);
	assert_non_null(p);
	sb_progress_set(p, 4096);
	sb_progress_set(p, 100);		/* smaller: ignored */
	sb_progress_add(p, SB_PHASE_UPLOAD, 10);
	sb_progress_phase(p, SB_PHASE_UPLOAD, 8192);
	sb_progress_total(p, 9000);
	assert_int_equal(sb_catalog_running_list(c, b.id, v, SB_RUNNING_MAX,
	    &n), SB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].op_id, b.id);
	assert_int_equal(v[0].op, SB_OP_BACKUP);
	assert_int_equal(v[0].bytes_total, 8192);
	sb_progress_end(&p);
	assert_null(p);
	assert_int_equal(sb_catalog_running_list(c, NULL, v, SB_RUNNING_MAX,
	    &n), SB_OK);
	assert_int_equal(n, 0);

	/* No catalog there: no recorder, a reason, no crash. */
	err[0] = '\0';
	assert_int_not_equal(sb_progress_start(&p, "/nonexistent/dir/c.db",
	    SB_OP_BACKUP, b.id, b.id, SB_PHASE_SNAPSHOT, -1, err), SB_OK);
	assert_null(p);
	assert_int_not_equal(err[0], '\0');
	sb_progress_set(NULL, 1);
	sb_progress_add(NULL, SB_PHASE_UPLOAD, 1);
	sb_progress_phase(NULL, SB_PHASE_COPY, 1);
	sb_progress_total(NULL, 1);
	sb_progress_end(NULL);
	sb_progress_end(&p);

	sb_catalog_close(&c);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* --- the hot paths report their bytes ------------------------------------- */

/* A WAL database of n rows of 4000 random bytes at path. */
static void
make_db(const char *path, int n)
{
	sqlite3	*db = NULL;
	char	 sql[256];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode = WAL; CREATE TABLE t "
	    "(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE c(x) AS (SELECT "
	    "1 UNION ALL SELECT x + 1 FROM c LIMIT %d) INSERT INTO t (b) "
	    "SELECT randomblob(4000) FROM c;", n);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int64_t
file_size(const char *path)
{
	struct stat	st;

	assert_int_equal(stat(path, &st), 0);
	return (int64_t)st.st_size;
}

/*
 * Each phase's counter hears its hot path, whole: the snapshot's writes
 * (snapvfs's watch; its total from the source), a sha256 pass, a
 * download's marks (disk store), the safety snapshot under the restore's
 * lock, and the restore's copy in steps (two here: 20 MiB of pages), all
 * but its last page ahead of the commit.
 */
static void
test_hooks(void **state)
{
	struct sb_catalog	*c = NULL;
	struct sb_progress	*p = NULL;
	struct sb_restore_txn	*t = NULL;
	struct sb_store		*s = NULL;
	char			 dir[64], cat[128], live[128], copy[128];
	char			 got[128], safety[128], root[128], cmd[160];
	char			 sha[SB_SHA256_HEX + 1], id[SB_UUID_LEN + 1];
	char			 err[SB_ERRMSG_MAX];
	int64_t			 size = 0, sz = 0;
	int			 replaced = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sbhook.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cat, sizeof(cat), "%s/catalog.db", dir);
	snprintf(live, sizeof(live), "%s/live.db", dir);
	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	snprintf(got, sizeof(got), "%s/got.db", dir);
	snprintf(safety, sizeof(safety), "%s/safety.db", dir);
	snprintf(root, sizeof(root), "%s/store", dir);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(sb_catalog_open(&c, cat, err), SB_OK);
	assert_int_equal(sb_uuid_new(id), SB_OK);
	assert_int_equal(sb_progress_start(&p, cat, SB_OP_BACKUP, id, id,
	    SB_PHASE_SNAPSHOT, -1, err), SB_OK);
	make_db(live, 5000);

	assert_int_equal(sb_snapshot_take_watched(live, copy, sha, &size, p,
	    err), SB_OK);
	assert_true(size > 16 * 1024 * 1024);
	assert_int_equal(sb_progress_done(p, SB_PHASE_SNAPSHOT), size);
	assert_int_equal(sb_progress_total_of(p, SB_PHASE_SNAPSHOT), size);

	sb_progress_phase(p, SB_PHASE_VERIFY, size);
	assert_int_equal(sb_progress_current(p), SB_PHASE_VERIFY);
	assert_int_equal(sb_sha256_file_tick(copy, sha, &sz, sb_progress_tick,
	    p, err), SB_OK);
	assert_int_equal(sb_progress_done(p, SB_PHASE_VERIFY), size);
	assert_int_equal(sb_progress_done(p, SB_PHASE_SNAPSHOT), size);

	assert_int_equal(sb_store_disk_open(&s, root, err), SB_OK);
	assert_int_equal(sb_store_put_file(s, "a.db", copy, NULL), SB_OK);
	sb_store_watch(s, p);
	sb_progress_phase(p, SB_PHASE_DOWNLOAD, size);
	assert_int_equal(sb_store_get_file_sha(s, "a.db", got, sha, &sz),
	    SB_OK);
	assert_int_equal(sb_progress_done(p, SB_PHASE_DOWNLOAD), size);

	sb_progress_phase(p, SB_PHASE_SAFETY_BACKUP, -1);
	assert_int_equal(sb_snapshot_restore_begin(got, live, &t, err), SB_OK);
	sb_snapshot_restore_watch(t, p);
	assert_int_equal(sb_snapshot_take_locked(t, safety, sha, &sz, err),
	    SB_OK);
	assert_int_equal(sb_progress_done(p, SB_PHASE_SAFETY_BACKUP), sz);
	assert_int_equal(sb_progress_total_of(p, SB_PHASE_SAFETY_BACKUP), sz);
	/* WAL mode: the pages ahead of the commit count as the copy's while
	 * the safety backup is still the current phase. */
	assert_int_equal(sb_snapshot_restore_bytes(t), size);
	assert_int_equal(sb_is_restore_wal(t), 1);
	assert_int_equal(sb_snapshot_restore_pages(t, err), SB_OK);
	assert_int_equal(sb_progress_current(p), SB_PHASE_SAFETY_BACKUP);
	assert_int_equal(sb_progress_done(p, SB_PHASE_COPY), size - 4096);
	sb_progress_phase(p, SB_PHASE_COPY, sb_snapshot_restore_bytes(t));
	assert_int_equal(sb_snapshot_restore_finish(&t, &replaced, NULL, err),
	    SB_OK);
	assert_int_equal(replaced, 1);
	assert_int_equal(sb_progress_total_of(p, SB_PHASE_COPY), size);
	assert_int_equal(sb_progress_done(p, SB_PHASE_COPY), size);
	assert_int_equal(file_size(live) >= size, 1);

	sb_store_watch(s, NULL);
	sb_store_free(&s);
	sb_progress_end(&p);
	sb_catalog_close(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* --- the scrubber ------------------------------------------------------- */

static void
scrubs(const char *in, const char *want)
{
	char	out[512];

	sb_scrub_paths(in, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("scrub \"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void
test_scrub(void **state)
{
	char	small[8];

	(void)state;
	/* At the start, after a colon and a space, at the end. */
	scrubs("/var/lib/app/live.db: disk full", "live.db: disk full");
	scrubs("snapshot of /srv/app/app.db: database is locked",
	    "snapshot of app.db: database is locked");
	scrubs("cannot make /var/lib/safbackup/catalog.db-safety",
	    "cannot make catalog.db-safety");
	scrubs("fsync /tmp/x/y.tmp.", "fsync y.tmp.");
	scrubs("path:/etc/safbackup/key", "path:key");
	scrubs("keep=/a/b,c", "keep=b,c");
	/* Inside quotes and brackets. */
	scrubs("open \"/var/tmp/sb/backup-1.db\" failed",
	    "open \"backup-1.db\" failed");
	scrubs("file '/home/u/x.db' (/home/u) gone",
	    "file 'x.db' (u) gone");
	scrubs("dir /var/tmp/ is full", "dir tmp is full");
	scrubs("at /", "at /");
	scrubs("weird /.. path", "weird (path) path");
	scrubs("//server/share/f.db broke", "f.db broke");
	scrubs("UTF-8 /srv/données/é.db here", "UTF-8 é.db here");
	/* URLs survive whole, with their paths. */
	scrubs("GET https://x/y failed", "GET https://x/y failed");
	scrubs("azure: PUT http://127.0.0.1:10000/devstoreaccount1/c/b.db "
	    "503", "azure: PUT http://127.0.0.1:10000/devstoreaccount1/c/b.db "
	    "503");
	scrubs("see <https://example.com/a/b> and /etc/passwd",
	    "see <https://example.com/a/b> and passwd");
	/* Not paths: fractions, and/or, I/O. */
	scrubs("I/O error on 3/4 of the pages, and/or more",
	    "I/O error on 3/4 of the pages, and/or more");
	scrubs("", "");
	/* Cut short, always terminated. */
	assert_int_equal(sb_scrub_paths("/a/b/cdefghijkl", small,
	    sizeof(small)), 7);
	assert_string_equal(small, "cdefghi");
	assert_int_equal(sb_scrub_paths("x", small, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle_first),
		cmocka_unit_test(test_throttle_period),
		cmocka_unit_test(test_throttle_view),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_recorder),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_scrub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
