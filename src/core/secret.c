/*
 * secret.c - secrets kept in files: see secret.h. A secret is wiped
 * before its memory is released (explicit_bzero(3) is not optimised
 * away), so that it does not linger in freed heap memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"

void
sb_secret_wipe(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
sb_secret_free(char **p)
{
	if (*p == NULL)
		return;
	sb_secret_wipe(*p, strlen(*p));
	*p = NULL;
}

/* Whether st is a file only its owner may read or write; else why. */
static int
is_private_file(const struct stat *st, char *why, size_t whylen)
{
	if (!S_ISREG(st->st_mode))
		snprintf(why, whylen, "not a regular file");
	else if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0)
		snprintf(why, whylen, "mode %04o lets group or others at a "
		    "secret: refused (chmod 600 it)",
		    (unsigned)(st->st_mode & 07777));
	else if (st->st_size > SB_SECRET_MAX)
		snprintf(why, whylen, "larger than %d bytes", SB_SECRET_MAX);
	else
		return 1;
	return 0;
}

/* Read up to SB_SECRET_MAX bytes of fd into buf; *len the count. */
static enum sb_err
read_all(int fd, char *buf, size_t *len, char *why, size_t whylen)
{
	ssize_t	n;

	*len = 0;
	while (*len < SB_SECRET_MAX &&
	    (n = read(fd, buf + *len, SB_SECRET_MAX - *len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "%s", strerror(errno));
			return SB_ERR_CONFIG;
		}
		*len += (size_t)n;
	}
	return SB_OK;
}

enum sb_err
sb_secret_read(const char *path, char **out, char *why, size_t whylen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	int		 fd = -1, rc = SB_ERR_CONFIG;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto out;
	}
	if (!is_private_file(&st, why, whylen))
		goto out;
	if ((buf = malloc(SB_SECRET_MAX + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		rc = SB_ERR_NOMEM;
		goto out;
	}
	if ((rc = read_all(fd, buf, &len, why, whylen)) != SB_OK)
		goto out;
	rc = SB_ERR_CONFIG;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "%s", len == 0 ? "empty" :
		    "holds a NUL byte");
		goto out;
	}
	*out = buf;
	buf = NULL;
	rc = SB_OK;
out:
	sb_secret_wipe(buf, SB_SECRET_MAX + 1);
	if (fd != -1)
		close(fd);
	return rc;
}
