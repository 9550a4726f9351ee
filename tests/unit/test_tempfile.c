/*
 * test_tempfile.c - temp file names (parsing, uniqueness), ownership by
 * flock (a sweep never removes an owned temp file, always removes an
 * ownerless one) and the free-space check.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>

#include <cmocka.h>

#include "tempfile.h"

#define UUID	"0b0e5c3a-1f2d-4c3b-8a9e-0123456789ab"

static void
t_parse(void **state)
{
	const char	*good[] = {
	    "sb-tmp-snapshot-" UUID "-0123abcd",
	    "sb-tmp-restore-" UUID "-0123abcd.lock",
	    "sb-tmp-verify-" UUID "-ffffffff-journal",
	    "sb-tmp-put-none-00000000",
	    "sb-tmp-meta-none-deadbeef-wal",
	    "sb-tmp-snapshot-" UUID "-0123abcd-shm",
	};
	const char	*bad[] = {
	    "", "sb-tmp-", "snapshot-" UUID ".db", "restore-" UUID ".db",
	    "sb-tmp-Snapshot-" UUID "-0123abcd",
	    "sb-tmp-snapshot-" UUID "-0123abc",	/* 7 digits */
	    "sb-tmp-snapshot-" UUID "-0123abcg",
	    "sb-tmp-snapshot-" UUID "-0123abcd.db",
	    "sb-tmp-snapshot-" UUID "-0123abcd.lockx",
	    "sb-tmp-snapshot-0b0e5c3a-1f2d-4c3b-8a9e-0123456789AB-0123abcd",
	    "sb-tmp-put-nobody-00000000",
	    "sb-tmp-abcdefghijklmnopq-none-00000000",	/* op of 17 */
	    "data-AbC123", "meta-XYZ987", ".sb-tmp-put-none-00000000",
	};
	char		op[SB_TEMP_OP_MAX + 1], id[SB_UUID_LEN + 1];
	size_t		base = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(sb_temp_parse(good[i], &base, op, id), SB_OK);
		assert_true(base <= strlen(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sb_temp_parse(bad[i], &base, NULL, NULL),
		    SB_ERR_INVAL);
	assert_int_equal(sb_temp_parse(good[1], &base, op, id), SB_OK);
	assert_string_equal(op, "restore");
	assert_string_equal(id, UUID);
	assert_int_equal(base, strlen(good[1]) - strlen(".lock"));
	assert_int_equal(sb_temp_parse(good[3], &base, op, id), SB_OK);
	assert_string_equal(op, "put");
	assert_string_equal(id, "none");
	assert_int_equal(base, strlen(good[3]));
}

static char dir[PATH_MAX];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sb-test-temp.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
touch(const char *path, size_t len)
{
	int	fd;
	char	buf[64];

	memset(buf, 'x', sizeof(buf));
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	while (len > 0) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len;
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		len -= n;
	}
	close(fd);
}

static int
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

/* Two reservations for one op and id never share a name. */
static void
t_unique(void **state)
{
	struct sb_temp	a, b;
	char		err[SB_ERRMSG_MAX];

	(void)state;
	assert_int_equal(sb_temp_reserve(&a, dir, "verify", UUID, err), SB_OK);
	assert_int_equal(sb_temp_reserve(&b, dir, "verify", UUID, err), SB_OK);
	assert_string_not_equal(a.path, b.path);
	assert_int_equal(sb_temp_parse(strrchr(a.path, '/') + 1, NULL, NULL,
	    NULL), SB_OK);
	sb_temp_release(&a);
	sb_temp_release(&b);
	assert_int_equal(a.fd, -1);
	assert_int_equal(sb_temp_reserve(&a, dir, "Verify", UUID, err),
	    SB_ERR_INVAL);
	assert_int_equal(sb_temp_reserve(&a, dir, "verify", "nope", err),
	    SB_ERR_INVAL);
	assert_int_equal(sb_temp_reserve(&a, "/nonexistent/dir", "verify",
	    NULL, err), SB_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/dir"));
}

/*
 * An owned temp file (lock held, even by this process through another
 * descriptor) survives a sweep; once released (or its owner gone: the
 * companion's lock free) the sweep removes it, its side files and its
 * companion, and counts the bytes. Files that are not ours stay.
 */
static void
t_sweep(void **state)
{
	struct sb_temp	t;
	char		err[SB_ERRMSG_MAX], p[PATH_MAX + 16], lock[PATH_MAX + 16];
	int		files = -1, fd;
	int64_t		bytes = -1;

	(void)state;
	assert_int_equal(sb_temp_reserve(&t, dir, "snapshot", UUID, err),
	    SB_OK);
	touch(t.path, 1000);
	snprintf(p, sizeof(p), "%s-journal", t.path);
	touch(p, 24);
	snprintf(lock, sizeof(lock), "%s.lock", t.path);
	snprintf(p, sizeof(p), "%s/restore-%s.db", dir, UUID);
	touch(p, 10);			/* an old-style name: not ours */

	sb_temp_sweep(dir, &files, &bytes);
	assert_int_equal(files, 0);
	assert_int_equal(bytes, 0);
	assert_true(exists(t.path));

	/* The owner dies: its lock goes with its descriptor. */
	close(t.fd);
	t.fd = -1;
	sb_temp_sweep(dir, &files, &bytes);
	assert_int_equal(files, 3);	/* data, -journal, .lock */
	assert_int_equal(bytes, 1024);
	assert_false(exists(t.path));
	assert_false(exists(lock));
	assert_true(exists(p));

	/* A data file whose companion is gone has no owner either. */
	snprintf(p, sizeof(p), "%s/sb-tmp-put-none-0000abcd", dir);
	touch(p, 5);
	sb_temp_sweep(dir, &files, &bytes);
	assert_int_equal(files, 1);
	assert_int_equal(bytes, 5);
	assert_false(exists(p));

	/* A companion locked by someone else keeps its set. */
	snprintf(p, sizeof(p), "%s/sb-tmp-put-none-0000abce", dir);
	snprintf(lock, sizeof(lock), "%s.lock", p);
	touch(p, 5);
	touch(lock, 0);
	assert_true((fd = open(lock, O_RDONLY)) != -1);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	sb_temp_sweep(dir, &files, &bytes);
	assert_int_equal(files, 0);
	assert_true(exists(p));
	close(fd);
	sb_temp_sweep(dir, &files, &bytes);
	assert_int_equal(files, 2);
	assert_false(exists(p));
}

static void
t_space(void **state)
{
	char	err[SB_ERRMSG_MAX];

	(void)state;
	assert_int_equal(sb_temp_space(dir, 1, err), SB_OK);
	assert_int_equal(sb_temp_space(dir, INT64_MAX, err), SB_ERR_IO);
	assert_non_null(strstr(err, "not enough free space in"));
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "9223372036854775807 bytes needed"));
	assert_int_equal(sb_temp_space("/nonexistent/x", 1, err), SB_ERR_IO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse),
		cmocka_unit_test_setup_teardown(t_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(t_space, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
