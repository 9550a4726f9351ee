/*
 * test_snapshot.c - snapshots in and out of real SQLite files, with a
 * real concurrent writer in a child process.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>

#include "readvfs.h"
#include "snapshot_int.h"

struct fix {
	char	dir[PATH_MAX - 64];
	char	live[PATH_MAX];
	char	copy[PATH_MAX];
	char	stop[PATH_MAX];
};

static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
setup(void **state)
{
	struct fix	*f;
	const char	*tmp = getenv("TMPDIR");

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/sbsnap.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->live, sizeof(f->live), "%s/live.db", f->dir);
	snprintf(f->copy, sizeof(f->copy), "%s/copy.db", f->dir);
	snprintf(f->stop, sizeof(f->stop), "%s/stop", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix	*f = *state;
	DIR		*d;
	struct dirent	*e;
	char		 p[PATH_MAX + 256];

	if ((d = opendir(f->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
xexec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/*
 * A database of n rows with a payload of bsize bytes each (so the copy
 * takes a while), tag v in every row, in WAL mode or not, page size psize
 * (0 = default).
 */
static void
mkdb(const char *path, int wal, int psize, int n, int bsize, const char *v)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	char		 sql[64];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (psize > 0) {
		snprintf(sql, sizeof(sql), "PRAGMA page_size = %d", psize);
		xexec(db, sql);
	}
	xexec(db, wal ? "PRAGMA journal_mode = WAL" :
	    "PRAGMA journal_mode = DELETE");
	xexec(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, "
	    "v TEXT, b BLOB, txn INTEGER, ts INTEGER)");
	xexec(db, "BEGIN");
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t (v, b) "
	    "VALUES (?1, randomblob(?2))", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, bsize);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	xexec(db, "COMMIT");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* One integer from sql on db. */
static int64_t
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st = NULL;
	int64_t		 v;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		fail_msg("%s: %d %s", sql, rc, sqlite3_errmsg(db));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* One integer from sql on a fresh read-only connection to path. */
static int64_t
q1path(const char *path, const char *sql)
{
	sqlite3	*db = NULL;
	int64_t	 v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	v = q1(db, sql);
	sqlite3_close(db);
	return v;
}

/* Bytes 18 and 19 of the header: 1 rollback journal, 2 WAL. */
static int
header_mode(const char *path)
{
	unsigned char	h[20];
	FILE		*fp;

	assert_non_null(fp = fopen(path, "rb"));
	assert_int_equal(fread(h, 1, sizeof(h), fp), sizeof(h));
	fclose(fp);
	assert_int_equal(h[18], h[19]);
	return h[18];
}

static void
write_file(const char *path, const void *buf, size_t len)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
test_take_basic(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	char		 missing[PATH_MAX + 16];
	struct stat	 sb;

	mkdb(f->live, 0, 0, 1000, 100, "a");
	if (sb_snapshot_take(f->live, f->copy, err) != SB_OK)
		fail_msg("take: %s", err);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t"), 1000);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t "
	    "WHERE length(b) = 100 AND v = 'a'"), 1000);
	assert_int_equal(header_mode(f->copy), 1);
	assert_int_equal(stat(f->copy, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* dst exists: refused, and the existing file is left alone. */
	err[0] = '\0';
	assert_int_equal(sb_snapshot_take(f->live, f->copy, err), SB_ERR_IO);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t"), 1000);

	/* No source: nothing is created. */
	snprintf(missing, sizeof(missing), "%s/nope.db", f->dir);
	unlink(f->copy);
	assert_int_equal(sb_snapshot_take(missing, f->copy, err), SB_ERR_IO);
	assert_int_equal(stat(f->copy, &sb), -1);

	/* A source that is not a database: error, and no copy left. */
	write_file(missing, "not a database, not at all, no no no", 36);
	err[0] = '\0';
	assert_int_equal(sb_snapshot_take(missing, f->copy, err), SB_ERR_DB);
	assert_non_null(strstr(err, "not a database"));
	assert_int_equal(stat(f->copy, &sb), -1);
}

/* A WAL source: the copy stands alone in rollback-journal mode. */
static void
test_take_wal_standalone(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	char		 side[PATH_MAX + 16];
	struct stat	 sb;

	mkdb(f->live, 1, 0, 500, 50, "w");
	assert_int_equal(header_mode(f->live), 2);
	if (sb_snapshot_take(f->live, f->copy, err) != SB_OK)
		fail_msg("take: %s", err);
	assert_int_equal(header_mode(f->copy), 1);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t"), 500);
	snprintf(side, sizeof(side), "%s-wal", f->copy);
	assert_int_equal(stat(side, &sb), -1);
	snprintf(side, sizeof(side), "%s-shm", f->copy);
	assert_int_equal(stat(side, &sb), -1);
}

/* The bytes of a file from offset off on, into a new buffer (caller frees). */
static unsigned char *
file_tail(const char *path, long off, size_t *len)
{
	unsigned char	*buf;
	FILE		*fp;
	long		 end;

	assert_non_null(fp = fopen(path, "rb"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((end = ftell(fp)) >= off);
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	*len = (size_t)(end - off);
	assert_non_null(buf = malloc(*len + 1));
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

/*
 * The copy is written through a VFS that gathers the pager's writes
 * (snapvfs.c): whatever the page size, every page lands where it belongs.
 * The source is checkpointed first, so its file holds every page; then
 * the copy must equal it byte for byte after the 100-byte header (which
 * legitimately differs: journal mode, schema cookie). Several MB, so the
 * page cache spills pages during the copy and the rest go at commit; and
 * the hash returned is the hash of the file.
 */
static void
test_take_page_sizes(void **state)
{
	static const int	 sizes[] = { 512, 4096, 65536 };
	struct fix		*f = *state;
	char			 err[SB_ERRMSG_MAX] = "", sha[SB_SHA256_HEX + 1];
	char			 sha2[SB_SHA256_HEX + 1];
	unsigned char		*a, *b;
	size_t			 alen, blen;
	int64_t			 size = -1, size2 = -1;
	unsigned long		 before;
	sqlite3			*db = NULL;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unlink(f->live);
		unlink(f->copy);
		mkdb(f->live, (int)(i % 2), sizes[i], 4000, 2000, "p");
		assert_int_equal(sqlite3_open(f->live, &db), SQLITE_OK);
		xexec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
		sqlite3_close(db);
		before = sb_snapshot_rehashed();
		if (sb_snapshot_take_hashed(f->live, f->copy, sha, &size,
		    err) != SB_OK)
			fail_msg("take (page size %d): %s", sizes[i], err);
		/* Hashed as it was written, at every page size. */
		assert_int_equal(sb_snapshot_rehashed(), before);
		assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
		assert_int_equal(header_mode(f->copy), 1);
		a = file_tail(f->live, 100, &alen);
		b = file_tail(f->copy, 100, &blen);
		assert_true(alen > 6 * 1024 * 1024);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		free(a);
		free(b);
		assert_int_equal(sb_sha256_file(f->copy, sha2, &size2, err),
		    SB_OK);
		assert_string_equal(sha, sha2);
		assert_int_equal(size, size2);
		assert_int_equal(size, (int64_t)blen + 100);
	}
}

/* A writer that commits growing transactions until *stop (a thread). */
struct grower {
	const char	*path;
	int		 stop;		/* __atomic */
	int		 commits;	/* __atomic */
	int		 rc;
};

static void *
grow(void *arg)
{
	struct grower	*g = arg;
	sqlite3		*db = NULL;

	g->rc = sqlite3_open(g->path, &db);
	if (g->rc == SQLITE_OK)
		g->rc = sqlite3_busy_timeout(db, 10000);
	while (g->rc == SQLITE_OK && !__atomic_load_n(&g->stop,
	    __ATOMIC_ACQUIRE)) {
		g->rc = sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0; "
		    "INSERT INTO t (v, b) VALUES ('grow', randomblob(20000))",
		    NULL, NULL, NULL);
		__atomic_add_fetch(&g->commits, 1, __ATOMIC_RELEASE);
	}
	sqlite3_close(db);
	return NULL;
}

/* Bytes 28-31 of the database file: the page count its header says. */
static uint32_t
file_page_count(const char *path)
{
	unsigned char	h[32];
	FILE		*fp;

	assert_non_null(fp = fopen(path, "rb"));
	assert_int_equal(fread(h, 1, sizeof(h), fp), sizeof(h));
	fclose(fp);
	return (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 |
	    (uint32_t)h[30] << 8 | h[31];
}

/*
 * A WAL database whose newest page 1 is in the -wal file, not in the
 * database file (a connection stays open, so nothing is checkpointed),
 * and a writer that commits growing transactions while the snapshot is
 * taken: the hasher's guess of page 1 is the page the copy read, so the
 * copy is not hashed again (sb_snapshot_rehashed() unchanged), and the
 * hash returned is the file's.
 */
static void
test_take_hashed_wal_page1(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "", sha[SB_SHA256_HEX + 1];
	char		 sha2[SB_SHA256_HEX + 1];
	int64_t		 size = -1, size2 = -1;
	unsigned long	 before;
	struct grower	 g = { .path = f->live };
	pthread_t	 t;
	sqlite3		*db = NULL;
	int		 rc;

	mkdb(f->live, 1, 0, 2000, 2000, "s");
	assert_int_equal(sqlite3_open(f->live, &db), SQLITE_OK);
	xexec(db, "PRAGMA wal_autocheckpoint = 0");
	xexec(db, "CREATE TABLE u (x)");
	xexec(db, "INSERT INTO t (v, b) SELECT 'more', randomblob(3000) "
	    "FROM t LIMIT 500");
	/* The fault: the database file's page 1 is stale. */
	assert_true(file_page_count(f->live) <
	    (uint32_t)q1(db, "PRAGMA page_count"));
	assert_int_equal(pthread_create(&t, NULL, grow, &g), 0);
	while (__atomic_load_n(&g.commits, __ATOMIC_ACQUIRE) < 5 &&
	    g.rc == SQLITE_OK)
		usleep(1000);
	before = sb_snapshot_rehashed();
	rc = sb_snapshot_take_hashed(f->live, f->copy, sha, &size, err);
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	sqlite3_close(db);
	if (rc != SB_OK)
		fail_msg("take: %s", err);
	assert_int_equal(g.rc, SQLITE_OK);
	print_message("the writer committed %d transactions\n", g.commits);
	assert_int_equal(sb_snapshot_rehashed(), before);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t "
	    "WHERE v = 'more'"), 500);
	assert_int_equal(sb_sha256_file(f->copy, sha2, &size2, err), SB_OK);
	assert_string_equal(sha, sha2);
	assert_int_equal(size, size2);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
}

/* A sink that hashes what it is given (the stream an encoder gets). */
static int
sink_hash(void *arg, const void *buf, size_t len)
{
	return EVP_DigestUpdate(arg, buf, len) == 1 ? 0 : -1;
}

/*
 * A guess of page 1 the copy does not confirm (spoilt on purpose): the
 * hash is not the guessed stream's but the file's, read again; a sink
 * is told its stream is not the copy (*streamed 0), and what it got
 * differs from the file (the guess went into it).
 */
static void
test_take_spoilt_guess(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "", sha[SB_SHA256_HEX + 1];
	char		 sha2[SB_SHA256_HEX + 1], got[SB_SHA256_HEX + 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int64_t		 size = -1, size2 = -1;
	unsigned long	 before;
	EVP_MD_CTX	*ctx;
	int		 streamed = -1;

	mkdb(f->live, 1, 0, 300, 1000, "s");
	before = sb_snapshot_rehashed();
	sb_snapshot_spoil_guesses(1);
	if (sb_snapshot_take_hashed(f->live, f->copy, sha, &size, err) != SB_OK)
		fail_msg("take: %s", err);
	assert_int_equal(sb_snapshot_rehashed(), before + 1);
	assert_int_equal(sb_sha256_file(f->copy, sha2, &size2, err), SB_OK);
	assert_string_equal(sha, sha2);
	assert_int_equal(size, size2);

	/* Streamed: the same, and the sink is told. */
	assert_int_equal(unlink(f->copy), 0);
	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	sb_snapshot_spoil_guesses(1);
	if (sb_snapshot_take_streamed(f->live, f->copy, sha, &size, NULL,
	    sink_hash, ctx, &streamed, err) != SB_OK)
		fail_msg("take streamed: %s", err);
	assert_int_equal(streamed, 0);
	assert_int_equal(sb_snapshot_rehashed(), before + 2);
	assert_int_equal(sb_sha256_file(f->copy, sha2, &size2, err), SB_OK);
	assert_string_equal(sha, sha2);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	sb_hex(md, 32, got);
	assert_string_not_equal(got, sha2);

	/* Unspoilt, the sink's stream is the copy. */
	assert_int_equal(unlink(f->copy), 0);
	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	if (sb_snapshot_take_streamed(f->live, f->copy, sha, &size, NULL,
	    sink_hash, ctx, &streamed, err) != SB_OK)
		fail_msg("take streamed: %s", err);
	assert_int_equal(streamed, 1);
	assert_int_equal(sb_snapshot_rehashed(), before + 2);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	sb_hex(md, 32, got);
	assert_string_equal(got, sha);
}

/*
 * The VFS wraps whatever VFS is the default when the first snapshot is
 * taken; here one whose files have version 1 methods (no shared memory,
 * no memory maps: unix-dotfile). In a child, since the default stays;
 * and first in main(), since a child inherits a registration made before
 * the fork (the child checks that it wraps a version 1 file).
 */
static void
test_take_old_vfs(void **state)
{
	struct fix	*f = *state;
	int		 status;
	pid_t		 pid;

	mkdb(f->live, 0, 0, 2000, 1000, "d");
	if ((pid = fork()) == 0) {
		char		 err[SB_ERRMSG_MAX] = "", sha[SB_SHA256_HEX + 1];
		char		 sha2[SB_SHA256_HEX + 1];
		int64_t		 size = -1, size2 = -1;
		sqlite3_vfs	*v = sqlite3_vfs_find("unix-dotfile");
		sqlite3		*db = NULL;
		sqlite3_file	*file = NULL;

		if (v == NULL || sqlite3_vfs_register(v, 1) != SQLITE_OK)
			_exit(100);
		if (sb_snapshot_take_hashed(f->live, f->copy, sha, &size,
		    err) != SB_OK) {
			fprintf(stderr, "take: %s\n", err);
			_exit(1);
		}
		if (sb_sha256_file(f->copy, sha2, &size2, err) != SB_OK ||
		    strcmp(sha, sha2) != 0 || size != size2)
			_exit(2);
		if (sqlite3_open_v2(f->copy, &db, SQLITE_OPEN_READONLY,
		    "sb-snapshot") != SQLITE_OK ||
		    sqlite3_file_control(db, "main",
		    SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
		    file == NULL || file->pMethods == NULL ||
		    file->pMethods->iVersion != 1)
			_exit(3);
		sqlite3_close(db);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t "
	    "WHERE v = 'd'"), 2000);
	assert_int_equal(header_mode(f->copy), 1);
}

/*
 * A write that fails in the middle of the copy (here: the file size limit,
 * EFBIG) fails the snapshot with a file system error and leaves no file,
 * although the VFS had accepted earlier writes into its buffer. In a child
 * process, so the limit stays there.
 */
static void
test_take_write_fails(void **state)
{
	struct fix	*f = *state;
	struct stat	 sb;
	int		 status;
	pid_t		 pid;

	mkdb(f->live, 1, 0, 3000, 2000, "x");
	if ((pid = fork()) == 0) {
		struct rlimit	 rl = { 1024 * 1024, 1024 * 1024 };
		char		 err[SB_ERRMSG_MAX] = "";
		int		 rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			_exit(100);
		rc = sb_snapshot_take(f->live, f->copy, err);
		_exit(rc == SB_ERR_IO && err[0] != '\0' ? 0 : 10 + rc);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stat(f->copy, &sb), -1);
}

/*
 * The writer child: until the stop file appears, insert rows in pairs,
 * one transaction per pair, each row stamped with the transaction number
 * and the monotonic time just before it. Exits 0 on success.
 */
#define LOG_MAX	(1 << 20)

static void
writer(const char *path, const char *stop, int64_t *log)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int64_t		 txn = 0, end = mono_us() + 60 * 1000000LL;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		_exit(2);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO t (v, txn, ts) "
	    "VALUES ('pair', ?1, ?2)", -1, &st, NULL) != SQLITE_OK)
		_exit(3);
	while (access(stop, F_OK) == -1 && mono_us() < end) {
		txn++;
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			_exit(4);
		for (int i = 0; i < 2; i++) {
			sqlite3_bind_int64(st, 1, txn);
			sqlite3_bind_int64(st, 2, mono_us());
			if (sqlite3_step(st) != SQLITE_DONE)
				_exit(5);
			sqlite3_reset(st);
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			_exit(6);
		if (txn < LOG_MAX) {
			log[txn] = mono_us();
			__atomic_store_n(&log[0], txn, __ATOMIC_RELEASE);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	_exit(0);
}

/*
 * One run of the scenario below. The consistency of the copy is asserted
 * outright; whether the writer kept committing during the copy is timing,
 * and is returned (1: it did) so the caller can retry on a loaded machine.
 */
static int
take_while_writing_once(struct fix *f)
{
	char		 err[SB_ERRMSG_MAX] = "";
	char		 sql[256];
	int64_t		 t0, t1, pairs, during, n;
	pid_t		 pid;
	int		 status;
	sqlite3		*db = NULL;
	int64_t		*log, k, ntx, after = 0, window;

	/* ~32 MB, so the copy lasts long enough to watch the writer. */
	mkdb(f->live, 1, 0, 4000, 8000, "base");
	log = mmap(NULL, LOG_MAX * sizeof(*log), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(log != MAP_FAILED);
	if ((pid = fork()) == 0)
		writer(f->live, f->stop, log);
	assert_true(pid > 0);

	/* Wait until the writer is going. */
	assert_int_equal(sqlite3_open_v2(f->live, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < 1000; i++) {
		if (q1(db, "SELECT count(*) FROM t WHERE v = 'pair'") >= 20)
			break;
		usleep(10000);
	}
	assert_true(q1(db, "SELECT count(*) FROM t WHERE v = 'pair'") >= 20);

	t0 = mono_us();
	n = sb_snapshot_take(f->live, f->copy, err);
	t1 = mono_us();
	/* Let the writer get a few transactions past the snapshot instant
	 * before stopping it, however slowly a loaded machine runs it. */
	if (n == SB_OK) {
		k = q1path(f->copy, "SELECT count(*) FROM t WHERE v = 'pair'")
		    / 2;
		for (int i = 0; i < 1000 && __atomic_load_n(&log[0],
		    __ATOMIC_ACQUIRE) < k + 5; i++)
			usleep(10000);
	}
	write_file(f->stop, "", 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (n != SB_OK)
		fail_msg("take: %s", err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The copy is sound and is one instant: only whole pairs. */
	if (sb_snapshot_check(f->copy, err) != SB_OK)
		fail_msg("check: %s", err);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t "
	    "WHERE v = 'base'"), 4000);
	pairs = q1path(f->copy, "SELECT count(*) FROM t WHERE v = 'pair'");
	assert_true(pairs >= 40);
	assert_int_equal(pairs % 2, 0);
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM (SELECT txn "
	    "FROM t WHERE v = 'pair' GROUP BY txn HAVING count(*) != 2)"), 0);
	/* Transactions 1..k, none missing. */
	assert_int_equal(q1path(f->copy, "SELECT max(txn) FROM t"),
	    pairs / 2);

	/*
	 * The writer was not held up. The writer logged when each of its
	 * transactions committed; k, the last one in the copy, committed
	 * just before the copy's read transaction began. Had the copy
	 * blocked writers (a rollback journal, or a write lock on the
	 * source), transaction k+1 could not commit until the whole copy
	 * was done (measured: 70-110 ms for this database), so nothing would
	 * commit in the 30 ms after k. In WAL mode a commit takes well under
	 * a millisecond here.
	 */
	k = pairs / 2;
	ntx = __atomic_load_n(&log[0], __ATOMIC_ACQUIRE);
	assert_true(ntx > k + 3 && ntx < LOG_MAX);
	/* On a loaded machine (make -j, sanitizers) the writer itself can
	 * stall for tens of ms: the window grows with the copy's duration,
	 * and stays well inside the time a blocking copy would hold the
	 * lock (most of t1 - t0; the rest is the fsync). */
	window = (t1 - t0) / 3 > 30000 ? (t1 - t0) / 3 : 30000;
	for (int64_t i = k + 1; i <= ntx; i++)
		if (log[i] <= log[k] + window)
			after++;
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT txn) FROM t "
	    "WHERE v = 'pair' AND ts > %lld AND ts < %lld", (long long)t0,
	    (long long)t1);
	during = q1(db, sql);
	print_message("take took %lld ms; the writer committed %lld "
	    "transactions meanwhile, %lld of them in the %lld ms after the "
	    "snapshot instant (next commit %lld us after it)\n",
	    (long long)(t1 - t0) / 1000, (long long)during,
	    (long long)after, (long long)window / 1000,
	    (long long)(log[k + 1] - log[k]));
	munmap(log, LOG_MAX * sizeof(*log));
	/* The live database went on past the snapshot. */
	assert_true(q1(db, "SELECT count(*) FROM t WHERE v = 'pair'") >
	    pairs);
	sqlite3_close(db);
	return after >= 1 && during >= 3;
}

/*
 * A snapshot of a WAL database while a writer commits all the time: the
 * copy is one instant, and the writer is not held up. A copy that blocked
 * writers fails every attempt; a writer starved of CPU by a busy machine
 * fails one now and then, hence three attempts.
 */
static void
test_take_while_writing(void **state)
{
	struct fix	*f = *state;
	const char	*sfx[] = { "", "-wal", "-shm", "-journal" };
	char		 path[PATH_MAX + 16];

	for (int attempt = 1; attempt <= 3; attempt++) {
		for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", f->live, sfx[i]);
			(void)unlink(path);
			snprintf(path, sizeof(path), "%s%s", f->copy, sfx[i]);
			(void)unlink(path);
		}
		(void)unlink(f->stop);
		if (take_while_writing_once(f))
			return;
		print_message("attempt %d: the writer made no progress during "
		    "the copy\n", attempt);
	}
	fail_msg("the writer was held up by the snapshot in 3 attempts");
}

static void
test_check_garbage(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	char		 buf[8192];

	/* Not a database at all. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)("garbage!"[i % 8]);
	write_file(f->copy, buf, sizeof(buf));
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
	assert_non_null(strstr(err, "not a database"));

	/* Empty. */
	write_file(f->copy, buf, 0);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);

	/* The right magic, then garbage. */
	memcpy(buf, "SQLite format 3", 16);
	write_file(f->copy, buf, sizeof(buf));
	err[0] = '\0';
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
	assert_true(err[0] != '\0');

	/* Missing: a file system error, not a corrupt backup. */
	unlink(f->copy);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_IO);
}

static void
test_check_truncated(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	struct stat	 sb;
	int		 fd;

	mkdb(f->live, 0, 4096, 2000, 300, "x");
	assert_int_equal(sb_snapshot_take(f->live, f->copy, err), SB_OK);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_OK);
	assert_int_equal(stat(f->copy, &sb), 0);

	/* Cut at a page boundary: the header's page count says so. */
	assert_int_equal(truncate(f->copy, sb.st_size / 2 / 4096 * 4096), 0);
	err[0] = '\0';
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
	assert_non_null(strstr(err, "truncated"));

	/* Cut inside a page. */
	assert_int_equal(truncate(f->copy, 4096 * 3 + 100), 0);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
	assert_non_null(strstr(err, "truncated"));

	/* Whole size, but a page in the middle overwritten. */
	unlink(f->copy);
	assert_int_equal(sb_snapshot_take(f->live, f->copy, err), SB_OK);
	assert_true((fd = open(f->copy, O_WRONLY)) != -1);
	{
		unsigned char page[4096];

		memset(page, 0xa5, sizeof(page));
		assert_int_equal(pwrite(fd, page, sizeof(page),
		    (off_t)sb.st_size / 2 / 4096 * 4096), sizeof(page));
	}
	close(fd);
	err[0] = '\0';
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
	assert_true(err[0] != '\0');
	print_message("overwritten page: %s\n", err);
}

/*
 * The read-ahead VFS of the integrity check (readvfs.c) gives SQLite the
 * bytes, and the result codes, the default VFS gives: reads inside a
 * window, across a window's end, in the last short window, past the end
 * (a short read, zero-filled), after the file shrank under it; and the
 * check goes through it (windows filled), and still finds a bad page.
 */
static void
test_check_readahead(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	static const sqlite3_int64 offs[] = { 0, 4096, 100, 262144 - 100,
	    262144, 3 * 262144 + 4000, -1, -2, -3 };
	unsigned char	 a[8192], b[8192], page[4096];
	sqlite3		*ra = NULL, *df = NULL;
	sqlite3_file	*fa = NULL, *fb = NULL;
	sqlite3_int64	 size = 0;
	unsigned long	 before;
	int		 fd;

	mkdb(f->live, 0, 4096, 600, 3000, "x");
	assert_int_equal(sqlite3_open(f->live, &df), SQLITE_OK);
	xexec(df, "CREATE INDEX t_v ON t (v, id)");
	assert_int_equal(sqlite3_close(df), SQLITE_OK);
	before = sb_readvfs_fills();
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
	assert_true(sb_readvfs_fills() > before);

	assert_int_equal(sb_readvfs_register(), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(f->live, &ra, SQLITE_OPEN_READONLY,
	    SB_READVFS_NAME), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(f->live, &df, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(q1(ra, "SELECT count(*) FROM t"), 600);
	assert_int_equal(q1(df, "SELECT count(*) FROM t"), 600);
	assert_int_equal(sqlite3_file_control(ra, "main",
	    SQLITE_FCNTL_FILE_POINTER, &fa), SQLITE_OK);
	assert_int_equal(sqlite3_file_control(df, "main",
	    SQLITE_FCNTL_FILE_POINTER, &fb), SQLITE_OK);
	assert_int_equal(fb->pMethods->xFileSize(fb, &size), SQLITE_OK);
	assert_true(size > 4 * 262144);
	for (int shrunk = 0; shrunk < 2; shrunk++) {
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			/* -1: the last page; -2: across the end; -3: past it */
			sqlite3_int64 off = offs[i] >= 0 ? offs[i] :
			    offs[i] == -1 ? size - 4096 : offs[i] == -2 ?
			    size - 100 : size + 8192;
			int ra_rc, df_rc;

			memset(a, 0x11, sizeof(a));
			memset(b, 0x22, sizeof(b));
			ra_rc = fa->pMethods->xRead(fa, a, 4096, off);
			df_rc = fb->pMethods->xRead(fb, b, 4096, off);
			assert_int_equal(ra_rc, df_rc);
			assert_memory_equal(a, b, 4096);
		}
		if (shrunk)
			break;
		/* Shrunk after a new connection opened it (its windows
		 * empty, its size the old one): reads what it holds now. */
		sqlite3_close(ra);
		assert_int_equal(sqlite3_open_v2(f->live, &ra,
		    SQLITE_OPEN_READONLY, SB_READVFS_NAME), SQLITE_OK);
		assert_int_equal(sqlite3_file_control(ra, "main",
		    SQLITE_FCNTL_FILE_POINTER, &fa), SQLITE_OK);
		size = size / 2 / 262144 * 262144 + 5000;
		assert_int_equal(truncate(f->live, size), 0);
	}
	sqlite3_close(ra);
	sqlite3_close(df);

	/* A page in the middle overwritten: still found. */
	mkdb(f->copy, 0, 4096, 600, 3000, "x");
	assert_true((fd = open(f->copy, O_WRONLY)) != -1);
	memset(page, 0xa5, sizeof(page));
	assert_int_equal(pwrite(fd, page, sizeof(page), 300 * 4096),
	    sizeof(page));
	close(fd);
	assert_int_equal(sb_snapshot_check(f->copy, err), SB_ERR_CORRUPT);
}

/*
 * Restore into a live database while another connection stays open; that
 * connection then sees the restored rows and can still write.
 */
static void
restore_into(struct fix *f, int wal)
{
	char		 err[SB_ERRMSG_MAX] = "";
	sqlite3		*other = NULL;

	mkdb(f->live, wal, 0, 100, 10, "old");
	mkdb(f->copy, 0, 0, 500, 20, "new");

	assert_int_equal(sqlite3_open(f->live, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 10000);
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 100);

	if (sb_snapshot_restore(f->copy, f->live, NULL, err) != SB_OK)
		fail_msg("restore: %s", err);

	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 500);
	assert_int_equal(q1(other, "SELECT count(*) FROM t WHERE v = 'new' "
	    "AND length(b) = 20"), 500);
	xexec(other, "INSERT INTO t (v) VALUES ('after')");
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 501);
	assert_int_equal(sqlite3_close(other), SQLITE_OK);

	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 501);
	assert_int_equal(header_mode(f->live), wal ? 2 : 1);
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
	/* The backup file is untouched. */
	assert_int_equal(q1path(f->copy, "SELECT count(*) FROM t"), 500);
}

static void
test_restore_wal(void **state)
{
	restore_into(*state, 1);
}

static void
test_restore_rollback(void **state)
{
	restore_into(*state, 0);
}

/* A backup whose header says WAL does not turn a rollback live DB to WAL. */
static void
test_restore_wal_backup_into_rollback(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	int		 replaced = 0;

	mkdb(f->live, 0, 0, 10, 10, "old");
	mkdb(f->copy, 1, 0, 30, 10, "new");
	assert_int_equal(header_mode(f->copy), 2);
	if (sb_snapshot_restore(f->copy, f->live, &replaced, err) != SB_OK)
		fail_msg("restore: %s", err);
	assert_int_equal(replaced, 1);
	assert_int_equal(header_mode(f->live), 1);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 30);
}

static void
test_restore_refused(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	char		 buf[4096];
	int		 replaced = -1;

	mkdb(f->live, 1, 4096, 100, 10, "old");

	/* Garbage: corrupt, live untouched. */
	memset(buf, 'z', sizeof(buf));
	write_file(f->copy, buf, sizeof(buf));
	assert_int_equal(sb_snapshot_restore(f->copy, f->live, &replaced,
	    err), SB_ERR_CORRUPT);
	assert_int_equal(replaced, 0);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 100);

	/* A WAL database cannot change its page size: refused, clearly. */
	unlink(f->copy);
	mkdb(f->copy, 0, 1024, 50, 10, "new");
	err[0] = '\0';
	replaced = -1;
	assert_int_equal(sb_snapshot_restore(f->copy, f->live, &replaced,
	    err), SB_ERR_DB);
	assert_int_equal(replaced, 0);
	assert_non_null(strstr(err, "page size"));
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 100);
	assert_int_equal(q1path(f->live, "PRAGMA page_size"), 4096);

	/* No live database: refused, not created. */
	{
		char		nope[PATH_MAX + 16];
		struct stat	sb;

		snprintf(nope, sizeof(nope), "%s/nope.db", f->dir);
		assert_int_not_equal(sb_snapshot_restore(f->copy, nope, NULL, err),
		    SB_OK);
		assert_int_equal(stat(nope, &sb), -1);
	}
}

/*
 * A writer holds the write lock on live for a while: the restore waits
 * for it (bounded) and then wins.
 */
static void
test_restore_waits_for_writer(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "";
	int		 p[2];
	pid_t		 pid;
	int64_t		 t0, waited;
	int		 status;
	char		 c;

	mkdb(f->live, 1, 0, 100, 10, "old");
	mkdb(f->copy, 0, 0, 300, 10, "new");
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		sqlite3 *db = NULL;

		close(p[0]);
		if (sqlite3_open(f->live, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t (v) "
		    "VALUES ('held')", NULL, NULL, NULL) != SQLITE_OK)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		usleep(1500 * 1000);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			_exit(4);
		sqlite3_close(db);
		_exit(0);
	}
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);

	t0 = mono_us();
	status = sb_snapshot_restore(f->copy, f->live, NULL, err);
	waited = (mono_us() - t0) / 1000;
	if (status != SB_OK)
		fail_msg("restore: %s", err);
	assert_true(waited >= 1000);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The restore came last: the held row is gone. */
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 300);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t "
	    "WHERE v = 'held'"), 0);
}

/*
 * A restore in halves: begin holds the live database's write lock (WAL:
 * readers go on, writers are refused; rollback journal: readers are
 * refused too), the safety snapshot taken meanwhile is the state before,
 * hashed right, and finish copies and releases the lock.
 */
static void
restore_locked(struct fix *f, int wal)
{
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "", safety[PATH_MAX + 16];
	char			 sha[SB_SHA256_HEX + 1], sha2[SB_SHA256_HEX + 1];
	int64_t			 size = -1, size2 = -2, t0, unlocked = -1;
	sqlite3			*other = NULL;
	int			 replaced = 0;

	mkdb(f->live, wal, 0, 100, 10, "old");
	mkdb(f->copy, 0, 0, 500, 20, "new");
	snprintf(safety, sizeof(safety), "%s/safety.db", f->dir);
	assert_int_equal(sqlite3_open(f->live, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 0);
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 100);

	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	assert_int_equal(sb_is_restore_wal(t), wal);
	assert_int_not_equal(sqlite3_exec(other, "INSERT INTO t (v) "
	    "VALUES ('lost?')", NULL, NULL, NULL) & 0xff, SQLITE_OK);
	if (wal)
		assert_int_equal(q1(other, "SELECT count(*) FROM t"), 100);
	else
		assert_int_equal(sqlite3_exec(other, "SELECT count(*) FROM t",
		    NULL, NULL, NULL) & 0xff, SQLITE_BUSY);

	if (sb_snapshot_take_locked(t, safety, sha, &size, err) != SB_OK)
		fail_msg("take_locked: %s", err);
	assert_int_equal(sb_sha256_file(safety, sha2, &size2, err), SB_OK);
	assert_string_equal(sha, sha2);
	assert_int_equal(size, size2);
	assert_int_equal(sb_snapshot_check(safety, err), SB_OK);
	assert_int_equal(q1path(safety, "SELECT count(*) FROM t WHERE "
	    "v = 'old'"), 100);
	assert_int_equal(header_mode(safety), 1);

	t0 = sb_mono_ms();
	if (sb_snapshot_restore_finish(&t, &replaced, &unlocked, err) != SB_OK)
		fail_msg("finish: %s", err);
	assert_null(t);
	assert_int_equal(replaced, 1);
	/* The lock went with the commit, inside finish. */
	assert_true(unlocked >= t0 && unlocked <= sb_mono_ms());
	sqlite3_busy_timeout(other, 10000);
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 500);
	xexec(other, "INSERT INTO t (v) VALUES ('after')");
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 501);
	assert_int_equal(header_mode(f->live), wal ? 2 : 1);
}

static void
test_restore_locked_wal(void **state)
{
	restore_locked(*state, 1);
}

static void
test_restore_locked_rollback(void **state)
{
	restore_locked(*state, 0);
}

/* A sink that hashes the first of its calls only, then refuses. */
static int
sink_once(void *arg, const void *buf, size_t len)
{
	static int	calls;

	if (buf == NULL) {		/* reset */
		calls = 0;
		return 0;
	}
	return calls++ == 0 ? sink_hash(arg, buf, len) : -1;
}

/*
 * take_locked_streamed on t into dst, its sha256 and size out: with a
 * sink that takes every byte (refusing 0), *streamed is 1 and the sink
 * got exactly the file; with one that refuses after its first call
 * (refusing 1), *streamed is 0 and the file is whole all the same.
 */
static void
take_locked_sunk(struct sb_restore_txn *t, const char *dst,
    char sha[SB_SHA256_HEX + 1], int64_t *size, int refusing)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		 err[SB_ERRMSG_MAX] = "", got[SB_SHA256_HEX + 1];
	char		 file[SB_SHA256_HEX + 1];
	int64_t		 fsize = -1;
	int		 streamed = -1;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	(void)sink_once(NULL, NULL, 0);
	if (sb_snapshot_take_locked_streamed(t, dst, sha, size,
	    refusing ? sink_once : sink_hash, ctx, &streamed, err) != SB_OK)
		fail_msg("take_locked_streamed: %s", err);
	assert_int_equal(streamed, !refusing);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	sb_hex(md, mdlen, got);
	assert_int_equal(sb_sha256_file(dst, file, &fsize, err), SB_OK);
	assert_string_equal(sha, file);
	assert_int_equal(*size, fsize);
	if (refusing)
		assert_string_not_equal(got, sha);
	else
		assert_string_equal(got, sha);
	EVP_MD_CTX_free(ctx);
}

/*
 * WAL mode, the safety snapshot as a byte copy of live's database file:
 * live has commits in its WAL that no checkpoint has copied into the file
 * (a writer's connection stays open, autocheckpoint off), and a reader
 * holds a read transaction from before the last of them (reader_behind)
 * or not; streamed_too: through take_locked_streamed, a sink given every
 * byte. The snapshot holds every commit (201 rows) and is hashed right,
 * sound, a rollback-journal database; it was a byte copy
 * (sb_snapshot_locked_file_copies()) unless the reader held frames back;
 * live is left as it was.
 */
static void
take_locked_behind(struct fix *f, int reader_behind, int streamed_too)
{
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "", safety[PATH_MAX + 16];
	char			 sha[SB_SHA256_HEX + 1], sha2[SB_SHA256_HEX + 1];
	int64_t			 size = -1, size2 = -2;
	sqlite3			*w = NULL, *r = NULL;
	unsigned long		 before;

	mkdb(f->live, 1, 0, 100, 3000, "old");
	mkdb(f->copy, 0, 0, 10, 10, "new");
	snprintf(safety, sizeof(safety), "%s/safety.db", f->dir);
	assert_int_equal(sqlite3_open(f->live, &w), SQLITE_OK);
	assert_int_equal(sqlite3_open(f->live, &r), SQLITE_OK);
	xexec(w, "PRAGMA wal_autocheckpoint = 0");
	xexec(w, "INSERT INTO t (v, b) SELECT 'wal', randomblob(3000) "
	    "FROM t");
	if (reader_behind) {
		xexec(r, "BEGIN");
		assert_int_equal(q1(r, "SELECT count(*) FROM t"), 200);
	}
	xexec(w, "INSERT INTO t (v) VALUES ('last')");

	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	before = sb_snapshot_locked_file_copies();
	if (streamed_too)
		take_locked_sunk(t, safety, sha, &size, 0);
	else if (sb_snapshot_take_locked(t, safety, sha, &size, err) != SB_OK)
		fail_msg("take_locked: %s", err);
	assert_int_equal(sb_snapshot_locked_file_copies() != before,
	    !reader_behind);
	sb_snapshot_restore_abort(&t);

	assert_int_equal(sb_sha256_file(safety, sha2, &size2, err), SB_OK);
	assert_string_equal(sha, sha2);
	assert_int_equal(size, size2);
	assert_int_equal(sb_snapshot_check(safety, err), SB_OK);
	assert_int_equal(header_mode(safety), 1);
	assert_int_equal(q1path(safety, "SELECT count(*) FROM t"), 201);
	assert_int_equal(q1path(safety, "SELECT count(*) FROM t WHERE "
	    "v = 'last'"), 1);
	if (reader_behind) {
		assert_int_equal(q1(r, "SELECT count(*) FROM t"), 200);
		xexec(r, "COMMIT");
	}
	assert_int_equal(q1(r, "SELECT count(*) FROM t"), 201);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 201);
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
}

/* The WAL checkpointed into the file, then the file copied. */
static void
test_take_locked_file_copy(void **state)
{
	take_locked_behind(*state, 0, 0);
}

/* The same, its bytes also handed to a sink as they are copied. */
static void
test_take_locked_file_streamed(void **state)
{
	take_locked_behind(*state, 0, 1);
}

/*
 * Rollback-journal mode: the byte copy through the lock holder streams
 * too; a sink that gives up leaves the caller the whole file.
 */
static void
test_take_locked_streamed_rollback(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "", dst[PATH_MAX + 16];
	char			 sha[SB_SHA256_HEX + 1];
	int64_t			 size = -1;

	mkdb(f->live, 0, 0, 800, 3000, "old");
	mkdb(f->copy, 0, 0, 10, 10, "new");
	for (int refusing = 0; refusing < 2; refusing++) {
		snprintf(dst, sizeof(dst), "%s/safety%d.db", f->dir, refusing);
		if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) !=
		    SB_OK)
			fail_msg("begin: %s", err);
		take_locked_sunk(t, dst, sha, &size, refusing);
		sb_snapshot_restore_abort(&t);
		assert_true(size > 800 * 3000);
		assert_int_equal(q1path(dst, "SELECT count(*) FROM t"), 800);
		assert_int_equal(sb_snapshot_check(dst, err), SB_OK);
	}
}

/* A reader holds frames back: through SQLite, the same rows. */
static void
test_take_locked_reader_behind(void **state)
{
	take_locked_behind(*state, 1, 0);
}

/* abort after begin: live untouched, its lock released. */
static void
test_restore_abort(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "";
	sqlite3			*other = NULL;

	mkdb(f->live, 0, 0, 100, 10, "old");
	mkdb(f->copy, 0, 0, 500, 20, "new");
	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	sb_snapshot_restore_abort(&t);
	assert_null(t);
	sb_snapshot_restore_abort(&t);
	assert_int_equal(sqlite3_open(f->live, &other), SQLITE_OK);
	xexec(other, "INSERT INTO t (v) VALUES ('after')");
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t WHERE "
	    "v = 'old'"), 100);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 101);
}

/* The sha256 of the file at path, or "" when it cannot be read. */
static void
file_sha(const char *path, char sha[SB_SHA256_HEX + 1])
{
	char	err[SB_ERRMSG_MAX];
	int64_t	size;

	if (sb_sha256_file(path, sha, &size, err) != SB_OK)
		sha[0] = '\0';
}

/* Size of path in bytes, -1 when missing. */
static int64_t
fsize(const char *path)
{
	struct stat	sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/*
 * The pages tests' databases: live in WAL mode, 200 rows 'old'; the
 * backup, 2000 rows 'new' of 3000 bytes (6 MB of pages for live's WAL).
 * wal gets live's WAL path, before the sha256 of live's file.
 */
static void
pages_dbs(struct fix *f, char wal[PATH_MAX + 16],
    char before[SB_SHA256_HEX + 1])
{
	mkdb(f->live, 1, 0, 200, 3000, "old");
	mkdb(f->copy, 0, 0, 2000, 3000, "new");
	snprintf(wal, PATH_MAX + 16, "%s-wal", f->live);
	file_sha(f->live, before);
}

struct pages_arg {
	struct sb_restore_txn	*t;
	int			 rc;
	char			 err[SB_ERRMSG_MAX];
};

static void *
pages_run(void *arg)
{
	struct pages_arg	*a = arg;

	a->rc = sb_snapshot_restore_pages(a->t, a->err);
	return NULL;
}

/*
 * WAL mode: the copy's pages go into live's WAL, uncommitted, while the
 * safety snapshot is taken from another thread at the same time (as a
 * restore does). The snapshot is the state before; a reader sees the old
 * rows throughout; the database file is not written; the WAL is (the
 * pages really went somewhere). Then finish commits the backup's rows.
 */
static void
test_restore_pages_ahead(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	struct pages_arg	 a;
	pthread_t		 thr;
	char			 err[SB_ERRMSG_MAX] = "", safety[PATH_MAX + 16];
	char			 wal[PATH_MAX + 16], sha[SB_SHA256_HEX + 1];
	char			 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];
	int64_t			 size = -1;
	sqlite3			*other = NULL;
	int			 replaced = 0;

	pages_dbs(f, wal, before);
	snprintf(safety, sizeof(safety), "%s/safety.db", f->dir);
	assert_int_equal(sqlite3_open(f->live, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 0);

	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	memset(&a, 0, sizeof(a));
	a.t = t;
	assert_int_equal(pthread_create(&thr, NULL, pages_run, &a), 0);
	if (sb_snapshot_take_locked(t, safety, sha, &size, err) != SB_OK)
		fail_msg("take_locked: %s", err);
	assert_int_equal(pthread_join(thr, NULL), 0);
	if (a.rc != SB_OK)
		fail_msg("pages: %s", a.err);

	assert_int_equal(q1path(safety, "SELECT count(*) FROM t"), 200);
	assert_int_equal(q1path(safety, "SELECT count(*) FROM t WHERE "
	    "v = 'new'"), 0);
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 200);
	assert_int_equal(q1(other, "SELECT count(*) FROM t WHERE v = 'new'"),
	    0);
	file_sha(f->live, after);
	assert_string_equal(before, after);
	assert_true(fsize(wal) > 2000 * 3000);

	if (sb_snapshot_restore_finish(&t, &replaced, NULL, err) != SB_OK)
		fail_msg("finish: %s", err);
	assert_int_equal(replaced, 1);
	assert_int_equal(q1(other, "SELECT count(*) FROM t WHERE v = 'new'"),
	    2000);
	assert_int_equal(q1(other, "SELECT count(*) FROM t"), 2000);
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
}

/*
 * The pages went into the WAL, then the restore is given up (a failed
 * safety backup, say): rolled back, live's content and its database
 * file as they were, its lock released, writers go on.
 */
static void
test_restore_pages_abort(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "", wal[PATH_MAX + 16];
	char			 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];
	sqlite3			*other = NULL;

	pages_dbs(f, wal, before);
	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	if (sb_snapshot_restore_pages(t, err) != SB_OK)
		fail_msg("pages: %s", err);
	assert_true(fsize(wal) > 2000 * 3000);
	sb_snapshot_restore_abort(&t);
	assert_null(t);
	file_sha(f->live, after);
	assert_string_equal(before, after);
	assert_int_equal(sqlite3_open(f->live, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 0);
	assert_int_equal(q1(other, "SELECT count(*) FROM t WHERE v = 'new'"),
	    0);
	xexec(other, "INSERT INTO t (v) VALUES ('after')");
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t WHERE "
	    "v = 'old'"), 200);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 201);
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
}

/*
 * stop before pages (the safety backup failed): pages copies nothing and
 * says so; abort leaves live as it was.
 */
static void
test_restore_pages_stopped(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "", wal[PATH_MAX + 16];
	char			 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];

	pages_dbs(f, wal, before);
	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	sb_snapshot_restore_stop(t);
	assert_int_equal(sb_snapshot_restore_pages(t, err), SB_ERR_INVAL);
	assert_non_null(strstr(err, "stopped"));
	assert_true(fsize(wal) < 3000 * 10);
	sb_snapshot_restore_abort(&t);
	file_sha(f->live, after);
	assert_string_equal(before, after);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t WHERE "
	    "v = 'old'"), 200);
}

/*
 * The process dies (SIGKILL) with the pages in live's WAL and nothing
 * committed: the next connection's WAL recovery drops them. The child
 * says when its pages are in; the WAL is checked to hold them before the
 * kill, so the crash happened at that point.
 */
static void
test_restore_pages_killed(void **state)
{
	struct fix	*f = *state;
	char		 err[SB_ERRMSG_MAX] = "", wal[PATH_MAX + 16], c;
	char		 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];
	int		 p[2], status;
	pid_t		 pid;

	pages_dbs(f, wal, before);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct sb_restore_txn *t = NULL;

		close(p[0]);
		if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) !=
		    SB_OK || sb_snapshot_restore_pages(t, err) != SB_OK)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_true(fsize(wal) > 2000 * 3000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	file_sha(f->live, after);
	assert_string_equal(before, after);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t WHERE "
	    "v = 'new'"), 0);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 200);
	assert_int_equal(sb_snapshot_check(f->live, err), SB_OK);
}

/*
 * Rollback-journal mode: pages would write the database file the safety
 * snapshot reads: refused, nothing done; finish then does the whole copy.
 */
static void
test_restore_pages_rollback(void **state)
{
	struct fix		*f = *state;
	struct sb_restore_txn	*t = NULL;
	char			 err[SB_ERRMSG_MAX] = "";
	char			 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];
	int			 replaced = 0;

	mkdb(f->live, 0, 0, 100, 10, "old");
	mkdb(f->copy, 0, 0, 500, 20, "new");
	file_sha(f->live, before);
	if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) != SB_OK)
		fail_msg("begin: %s", err);
	assert_int_equal(sb_snapshot_restore_pages(t, err), SB_ERR_INVAL);
	assert_non_null(strstr(err, "WAL"));
	file_sha(f->live, after);
	assert_string_equal(before, after);
	if (sb_snapshot_restore_finish(&t, &replaced, NULL, err) != SB_OK)
		fail_msg("finish: %s", err);
	assert_int_equal(replaced, 1);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 500);
}

/*
 * A copy whose writes fail part way (the file size limit, EFBIG, standing
 * in for a full disk), in a child so the limit stays there. Rollback-
 * journal mode: pages of the backup were written into live's file before
 * the failure; abort plays the journal back at once, so live's file is
 * byte for byte what it was and no hot journal is left for a later
 * opener (or a file copy made meanwhile) to trip on. WAL mode: the pages
 * ahead of the commit fail the same way; live's file is not written.
 */
static void
copy_fails(struct fix *f, int wal)
{
	char		 journal[PATH_MAX + 16];
	char		 before[SB_SHA256_HEX + 1], after[SB_SHA256_HEX + 1];
	struct stat	 sb;
	int		 status;
	pid_t		 pid;

	mkdb(f->live, wal, 0, 50, 3000, "old");
	mkdb(f->copy, 0, 0, 1000, 3000, "new");
	snprintf(journal, sizeof(journal), "%s-journal", f->live);
	file_sha(f->live, before);
	assert_true(fsize(f->live) < 1024 * 1024);
	if ((pid = fork()) == 0) {
		struct rlimit		 rl = { 1024 * 1024, 1024 * 1024 };
		struct sb_restore_txn	*t = NULL;
		char			 err[SB_ERRMSG_MAX] = "";
		int64_t			 unlocked = -1;
		int			 rc, replaced = -1;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			_exit(100);
		if (sb_snapshot_restore_begin(f->copy, f->live, &t, err) !=
		    SB_OK)
			_exit(101);
		if (wal) {
			rc = sb_snapshot_restore_pages(t, err);
			sb_snapshot_restore_abort(&t);
			unlocked = 0;
		} else
			rc = sb_snapshot_restore_finish(&t, &replaced,
			    &unlocked, err);
		_exit(rc == SB_ERR_IO && replaced < 1 && unlocked == 0 &&
		    err[0] != '\0' ? 0 : 10 + rc);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Before any other connection opens live. */
	assert_int_equal(stat(journal, &sb), -1);
	file_sha(f->live, after);
	assert_string_equal(before, after);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t WHERE "
	    "v = 'old'"), 50);
	assert_int_equal(q1path(f->live, "SELECT count(*) FROM t"), 50);
}

static void
test_restore_copy_fails_rollback(void **state)
{
	copy_fails(*state, 0);
}

static void
test_restore_copy_fails_wal(void **state)
{
	copy_fails(*state, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: see the comment over it. */
		cmocka_unit_test_setup_teardown(test_take_old_vfs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_basic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_take_wal_standalone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_page_sizes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_hashed_wal_page1,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_spoilt_guess, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_take_write_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_while_writing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_garbage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_readahead,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_truncated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_wal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_rollback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_restore_wal_backup_into_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_waits_for_writer,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_locked_wal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_locked_rollback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_locked_file_copy,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_locked_reader_behind,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_locked_file_streamed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_take_locked_streamed_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_abort,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pages_ahead,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pages_abort,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pages_stopped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pages_killed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pages_rollback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_restore_copy_fails_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_copy_fails_wal,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
