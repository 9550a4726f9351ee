/*
 * secret.h - secrets kept in files (an account key, a SAS token, a
 * connection string): read under strict rules, wiped when released.
 */
#ifndef SB_SECRET_H
#define SB_SECRET_H

#include <stddef.h>

#include "sb.h"

#define SB_SECRET_MAX	(64 * 1024)	/* a larger secret file is a mistake */

/*
 * Read a secret from path: a regular file that neither group nor others
 * may read or write (mode 0600 or stricter), at most SB_SECRET_MAX
 * bytes, trailing CR/LF removed, not empty, no NUL byte. *out is heap-
 * allocated; release it with sb_secret_free(). On error why (whylen
 * bytes) says what is wrong with the file, never what it holds; the
 * return is SB_ERR_CONFIG, or SB_ERR_NOMEM.
 */
enum sb_err	sb_secret_read(const char *path, char **out, char *why,
		    size_t whylen);

/* Overwrite the secret at *p (explicit_bzero), free it, set *p NULL. */
void		sb_secret_free(char **p);

/* Overwrite len bytes at p, then free p (NULL: nothing to do). */
void		sb_secret_wipe(void *p, size_t len);

#endif /* SB_SECRET_H */
