/*
 * lock.c - one writing operation at a time per source database: an
 * exclusive flock(2) on a lock file, taken without waiting.
 *
 * flock(2) locks belong to the open file description: the kernel drops the
 * lock when the last descriptor of it is closed, so a crashed holder never
 * leaves the system locked, and two open(2)s of the file in one process
 * exclude each other like two processes do. A descriptor inherited over
 * fork(2) shares the description (and so the lock): fork while holding
 * only if the child is meant to hold it too. O_CLOEXEC keeps it from
 * leaking into an exec'd program.
 *
 * The file is never unlinked: removing it would let a second process lock
 * a new file of the same name while the first still holds the old one.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"

/*
 * The pid the holder wrote, for the message that says who is busy. Best
 * effort: a holder may not have written it yet. buf gets "" or " (pid N)".
 */
static void
holder_pid(int fd, char *buf, size_t len)
{
	char	pid[24];
	ssize_t	n;
	size_t	i;

	buf[0] = '\0';
	if ((n = pread(fd, pid, sizeof(pid) - 1, 0)) <= 0)
		return;
	pid[n] = '\0';
	for (i = 0; pid[i] >= '0' && pid[i] <= '9'; i++)
		;
	if (i == 0 || (pid[i] != '\n' && pid[i] != '\0'))
		return;
	pid[i] = '\0';
	snprintf(buf, len, " (pid %s)", pid);
}

/*
 * Take the lock at path without blocking. On SB_OK l->fd holds it and the
 * file holds our pid (for operators; informational only). SB_ERR_BUSY
 * when someone holds it, SB_ERR_IO when the file cannot be opened or
 * locked; both with a message in err. l->fd is -1 on failure. Do not call
 * on a lock this struct already holds.
 */
enum sb_err
sb_lock_acquire(struct sb_lock *l, const char *path, char *err)
{
	struct stat	st;
	char		buf[32];
	int		fd = -1, n, rc = SB_ERR_IO;

	l->fd = -1;
	if (path == NULL || *path == '\0') {
		sb_seterr(err, "lock: no lock file configured");
		return SB_ERR_INVAL;
	}
	/* O_NOFOLLOW: never truncate whatever a planted symlink points at. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY, 0600)) == -1) {
		sb_seterr(err, "lock %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		sb_seterr(err, "lock %s: not a regular file", path);
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			holder_pid(fd, buf, sizeof(buf));
			sb_seterr(err, "another backup operation holds %s%s",
			    path, buf);
			rc = SB_ERR_BUSY;
		} else
			sb_seterr(err, "lock %s: %s", path, strerror(errno));
		goto out;
	}
	/* Ours now: record who we are. A failure here is not fatal. */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && n > 0 &&
	    pwrite(fd, buf, (size_t)n, 0) != n) {
		/* informational only */
	}
	l->fd = fd;
	fd = -1;
	rc = SB_OK;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * Drop the lock: clear the pid (so the file does not name a process that
 * no longer holds it) and close, which releases the flock. A no-op on a
 * lock that is not held (fd -1).
 */
void
sb_lock_release(struct sb_lock *l)
{
	if (l == NULL || l->fd < 0)
		return;
	if (ftruncate(l->fd, 0) == -1) {
		/* informational only: the flock is what matters */
	}
	close(l->fd);
	l->fd = -1;
}
