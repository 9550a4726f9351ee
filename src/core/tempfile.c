/*
 * tempfile.c - recognisable, owned temporary files (see tempfile.h).
 *
 * Ownership is an flock(2) on a companion file, not a pid or an age: the
 * kernel releases it when the owner exits however it exits, pids are
 * reused, and a slow operation may leave its temp file untouched for
 * longer than any age we could pick. flock locks belong to the open file
 * description, so a sweeper in the same process that opens the companion
 * again is refused like any other process (Linux flock(2)).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "report.h"
#include "tempfile.h"

#define RAND_LEN	8		/* hex digits of the random part */
#define LOCK_SFX	".lock"
#define NO_ID		"none"
#define RESERVE_TRIES	16

static const char *const side_sfx[] = { "-journal", "-wal", "-shm" };
#define NSIDE	(sizeof(side_sfx) / sizeof(side_sfx[0]))

static int
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sb_hexval((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

/*
 * sb-tmp-<op>-<id>-<rand>[suffix]: op [a-z]{1,16}; id a lowercase uuid or
 * "none"; rand 8 hex digits; suffix "", ".lock" or a side file's.
 */
enum sb_err
sb_temp_parse(const char *name, size_t *baselen, char *op, char *id)
{
	const char	*p, *q;
	size_t		 oplen, idlen, base;
	char		 uuid[SB_UUID_LEN + 1];

	if (name == NULL || strncmp(name, SB_TEMP_PREFIX,
	    sizeof(SB_TEMP_PREFIX) - 1) != 0)
		return SB_ERR_INVAL;
	p = name + sizeof(SB_TEMP_PREFIX) - 1;
	for (q = p; *q >= 'a' && *q <= 'z'; q++)
		;
	oplen = (size_t)(q - p);
	if (oplen == 0 || oplen > SB_TEMP_OP_MAX || *q != '-')
		return SB_ERR_INVAL;
	if (op != NULL) {
		memcpy(op, p, oplen);
		op[oplen] = '\0';
	}
	p = q + 1;
	if (strncmp(p, NO_ID "-", sizeof(NO_ID)) == 0)
		idlen = sizeof(NO_ID) - 1;
	else {
		if (strnlen(p, SB_UUID_LEN + 1) < SB_UUID_LEN + 1 ||
		    p[SB_UUID_LEN] != '-')
			return SB_ERR_INVAL;
		memcpy(uuid, p, SB_UUID_LEN);
		uuid[SB_UUID_LEN] = '\0';
		if (!sb_is_uuid(uuid))
			return SB_ERR_INVAL;
		idlen = SB_UUID_LEN;
	}
	if (id != NULL) {
		memcpy(id, p, idlen);
		id[idlen] = '\0';
	}
	p += idlen + 1;
	if (strnlen(p, RAND_LEN) < RAND_LEN || !is_hex(p, RAND_LEN))
		return SB_ERR_INVAL;
	p += RAND_LEN;
	base = (size_t)(p - name);
	if (*p != '\0' && strcmp(p, LOCK_SFX) != 0) {
		size_t i;
		for (i = 0; i < NSIDE; i++)
			if (strcmp(p, side_sfx[i]) == 0)
				break;
		if (i == NSIDE)
			return SB_ERR_INVAL;
	}
	if (baselen != NULL)
		*baselen = base;
	return SB_OK;
}

enum sb_err
sb_temp_reserve(struct sb_temp *t, const char *dir, const char *op,
    const char *id, char *err)
{
	unsigned char	r[RAND_LEN / 2];
	char		lock[PATH_MAX], hex[RAND_LEN + 1];
	struct stat	a, b;
	size_t		oplen;
	int		n, fd = -1;

	t->path[0] = '\0';
	t->fd = -1;
	oplen = op == NULL ? 0 : strnlen(op, SB_TEMP_OP_MAX + 1);
	if (oplen == 0 || oplen > SB_TEMP_OP_MAX ||
	    strspn(op, "abcdefghijklmnopqrstuvwxyz") != oplen ||
	    (id != NULL && !sb_is_uuid(id)) || dir == NULL ||
	    dir[0] == '\0') {
		sb_seterr(err, "temp file: bad name parts");
		return SB_ERR_INVAL;
	}
	for (int tries = 0; tries < RESERVE_TRIES; tries++) {
		if (RAND_bytes(r, sizeof(r)) != 1) {
			sb_seterr(err, "temp file: no random bytes");
			return SB_ERR_IO;
		}
		sb_hex(r, sizeof(r), hex);
		n = snprintf(t->path, sizeof(t->path), "%s/" SB_TEMP_PREFIX
		    "%s-%s-%s", dir, op, id != NULL ? id : NO_ID, hex);
		if (n < 0 || (size_t)n + sizeof(LOCK_SFX) + 8 >=
		    sizeof(t->path)) {
			t->path[0] = '\0';
			sb_seterr(err, "temp file in %s: path too long", dir);
			return SB_ERR_CONFIG;
		}
		if (snprintf(lock, sizeof(lock), "%s" LOCK_SFX, t->path) >=
		    (int)sizeof(lock))
			break;
		if ((fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1) {
			if (errno == EEXIST)
				continue;
			sb_seterr(err, "temp file in %s: %s", dir,
			    strerror(errno));
			t->path[0] = '\0';
			return SB_ERR_IO;
		}
		while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
			;
		/*
		 * A sweeper may have opened our companion between the
		 * create and the lock, taken it first and removed it as
		 * ownerless: then ours is a lock on a file with no name.
		 */
		if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			t->fd = fd;
			return SB_OK;
		}
		close(fd);
		fd = -1;
	}
	t->path[0] = '\0';
	sb_seterr(err, "temp file in %s: no free name", dir);
	return SB_ERR_IO;
}

/* Unlink base and its side files; add what they held to *bytes. */
static int
remove_set(const char *base, int64_t *bytes, int *files)
{
	char		p[PATH_MAX];
	struct stat	st;
	int		fails = 0;

	for (size_t i = 0; i <= NSIDE; i++) {
		if (snprintf(p, sizeof(p), "%s%s", base,
		    i == 0 ? "" : side_sfx[i - 1]) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) == -1)
			continue;
		if (unlink(p) == -1) {
			fails++;
			continue;
		}
		if (bytes != NULL)
			*bytes += st.st_size;
		if (files != NULL)
			(*files)++;
	}
	return fails;
}

void
sb_temp_release(struct sb_temp *t)
{
	char	lock[PATH_MAX];

	if (t == NULL)
		return;
	/* The data first: a temp file never outlives its companion. */
	if (t->path[0] != '\0') {
		(void)remove_set(t->path, NULL, NULL);
		if (snprintf(lock, sizeof(lock), "%s" LOCK_SFX, t->path) <
		    (int)sizeof(lock))
			(void)unlink(lock);
	}
	if (t->fd != -1)
		close(t->fd);
	t->fd = -1;
	t->path[0] = '\0';
}

/*
 * One entry of a sweep: if its set has no owner, remove the set and log
 * it. Returns the files and bytes removed through the pointers.
 */
static void
sweep_one(const char *dir, const char *name, size_t baselen, int *files,
    int64_t *bytes)
{
	char		 base[PATH_MAX], lock[PATH_MAX], num[32], cnt[16];
	struct stat	 a, b;
	int64_t		 got = 0;
	int		 fd, n = 0, fails;

	if (snprintf(base, sizeof(base), "%s/%.*s", dir, (int)baselen,
	    name) >= (int)sizeof(base) ||
	    snprintf(lock, sizeof(lock), "%s" LOCK_SFX, base) >=
	    (int)sizeof(lock))
		return;
	if ((fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		/* No companion: its owner has finished or died. */
		if (errno != ENOENT)
			return;
	} else if (flock(fd, LOCK_EX | LOCK_NB) == -1 ||
	    fstat(fd, &a) == -1 || lstat(lock, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		/* Owned (or already being removed by another sweeper). */
		close(fd);
		return;
	}
	fails = remove_set(base, &got, &n);
	if (fd != -1) {
		if (fails == 0 && unlink(lock) == 0)
			n++;
		close(fd);
	}
	if (n == 0)
		return;
	(void)snprintf(num, sizeof(num), "%lld", (long long)got);
	(void)snprintf(cnt, sizeof(cnt), "%d", n);
	sb_logkv(SB_LOG_WARN, "temp.removed", (const char *[]){ "path", base,
	    "bytes", num, "files", cnt, NULL }, "removed %s (%lld bytes in "
	    "%d file(s)) left by an operation that is no longer running",
	    base, (long long)got, n);
	if (fails > 0)
		sb_logkv(SB_LOG_WARN, "temp.remove_failed", (const char *[]){
		    "path", base, NULL }, "could not remove all of %s", base);
	if (files != NULL)
		*files += n;
	if (bytes != NULL)
		*bytes += got;
}

void
sb_temp_sweep(const char *dir, int *files, int64_t *bytes)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 baselen;

	if (files != NULL)
		*files = 0;
	if (bytes != NULL)
		*bytes = 0;
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (sb_temp_parse(de->d_name, &baselen, NULL, NULL) == SB_OK)
			sweep_one(dir, de->d_name, baselen, files, bytes);
	closedir(d);
}

enum sb_err
sb_temp_space(const char *dir, int64_t need, char *err)
{
	struct statvfs	vfs;
	uint64_t	avail;

	if (statvfs(dir, &vfs) == -1) {
		sb_seterr(err, "%s: %s", dir, strerror(errno));
		return SB_ERR_IO;
	}
	avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if (need > 0 && avail < (uint64_t)need) {
		sb_seterr(err, "not enough free space in %s: %lld bytes "
		    "needed, %llu free", dir, (long long)need,
		    (unsigned long long)avail);
		return SB_ERR_IO;
	}
	return SB_OK;
}
