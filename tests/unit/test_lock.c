/*
 * test_lock.c - the per-database lock: exclusive across open file
 * descriptions and processes, released on close and on holder death.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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

#include "lock.h"

struct fx {
	char	dir[PATH_MAX];
	char	path[PATH_MAX + 32];
};

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sb-test-lock-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/db.safbackup.lock", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The pid written in the lock file, or -1. */
static long
file_pid(const char *path)
{
	char	buf[32];
	FILE	*f;
	long	pid = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL)
		pid = strtol(buf, NULL, 10);
	fclose(f);
	return pid;
}

static void
test_acquire_release(void **state)
{
	struct fx	*fx = *state;
	struct sb_lock	 l = SB_LOCK_INIT;
	struct stat	 st;
	char		 err[SB_ERRMSG_MAX] = "";

	assert_int_equal(sb_lock_acquire(&l, fx->path, err), SB_OK);
	assert_true(l.fd >= 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(file_pid(fx->path), (long)getpid());
	/* Not inherited by an exec'd program. */
	assert_true(fcntl(l.fd, F_GETFD) & FD_CLOEXEC);
	sb_lock_release(&l);
	assert_int_equal(l.fd, -1);
	/* The file stays (unlinking would race); the pid is gone. */
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* Release of a lock not held: nothing happens. */
	sb_lock_release(&l);
	assert_int_equal(l.fd, -1);
	sb_lock_release(NULL);
}

static void
test_busy_same_process(void **state)
{
	struct fx	*fx = *state;
	struct sb_lock	 a = SB_LOCK_INIT, b = SB_LOCK_INIT;
	char		 err[SB_ERRMSG_MAX] = "", want[64];

	assert_int_equal(sb_lock_acquire(&a, fx->path, err), SB_OK);
	assert_int_equal(sb_lock_acquire(&b, fx->path, err), SB_ERR_BUSY);
	assert_int_equal(b.fd, -1);
	assert_non_null(strstr(err, fx->path));
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	assert_non_null(strstr(err, want));
	/* Still busy on a second try; the holder keeps it. */
	assert_int_equal(sb_lock_acquire(&b, fx->path, err), SB_ERR_BUSY);
	assert_int_equal(file_pid(fx->path), (long)getpid());
	sb_lock_release(&a);
	assert_int_equal(sb_lock_acquire(&b, fx->path, err), SB_OK);
	assert_int_equal(sb_lock_acquire(&a, fx->path, err), SB_ERR_BUSY);
	sb_lock_release(&b);
	assert_int_equal(sb_lock_acquire(&a, fx->path, err), SB_OK);
	sb_lock_release(&a);
}

static void
test_busy_other_process(void **state)
{
	struct fx	*fx = *state;
	struct sb_lock	 l = SB_LOCK_INIT;
	char		 err[SB_ERRMSG_MAX] = "", c, want[64];
	int		 held[2], go[2], status;
	pid_t		 pid;

	assert_int_equal(pipe(held), 0);
	assert_int_equal(pipe(go), 0);
	if ((pid = fork()) == 0) {
		struct sb_lock	cl = SB_LOCK_INIT;
		char		cerr[SB_ERRMSG_MAX];

		close(held[0]);
		close(go[1]);
		c = sb_lock_acquire(&cl, fx->path, cerr) == SB_OK ? 'y' : 'n';
		if (write(held[1], &c, 1) != 1)
			_exit(2);
		/* Hold it until the parent says go, then die holding it. */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	assert_true(pid > 0);
	close(held[1]);
	close(go[0]);
	assert_int_equal(read(held[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(sb_lock_acquire(&l, fx->path, err), SB_ERR_BUSY);
	snprintf(want, sizeof(want), "(pid %ld)", (long)pid);
	assert_non_null(strstr(err, want));
	assert_int_equal(l.fd, -1);
	/* The child exits without releasing: the kernel drops its lock. */
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sb_lock_acquire(&l, fx->path, err), SB_OK);
	assert_int_equal(file_pid(fx->path), (long)getpid());
	sb_lock_release(&l);
	close(held[0]);
	close(go[1]);
}

static void
test_errors(void **state)
{
	struct fx	*fx = *state;
	struct sb_lock	 l = SB_LOCK_INIT;
	char		 err[SB_ERRMSG_MAX] = "", path[PATH_MAX + 16];

	/* A directory that does not exist. */
	snprintf(path, sizeof(path), "%s/missing/x.lock", fx->dir);
	assert_int_equal(sb_lock_acquire(&l, path, err), SB_ERR_IO);
	assert_int_equal(l.fd, -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));
	/* A symlink is not followed (it could point anywhere). */
	snprintf(path, sizeof(path), "%s/link.lock", fx->dir);
	assert_int_equal(symlink(fx->path, path), 0);
	assert_int_equal(sb_lock_acquire(&l, path, err), SB_ERR_IO);
	assert_int_equal(l.fd, -1);
	unlink(path);
	/* A directory is not a lock file. */
	assert_int_equal(sb_lock_acquire(&l, fx->dir, err), SB_ERR_IO);
	assert_int_equal(l.fd, -1);
	assert_int_equal(sb_lock_acquire(&l, "", err), SB_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acquire_release, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_busy_same_process, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_busy_other_process, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
