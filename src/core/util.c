/*
 * util.c - the small things every module needs: errors, records, time,
 * uuids, object names, validation, bounded strings, file hashing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sb.h"

static const char *const errstr[SB_ERR__MAX] = {
	"success",					/* SB_OK */
	"out of memory",				/* SB_ERR_NOMEM */
	"invalid input",				/* SB_ERR_INVAL */
	"not found",					/* SB_ERR_NOTFOUND */
	"automatic backups cannot be deleted",		/* SB_ERR_AUTOMATIC */
	"another backup operation is running",		/* SB_ERR_BUSY */
	"backup failed verification",			/* SB_ERR_CORRUPT */
	"object store error",				/* SB_ERR_STORAGE */
	"database error",				/* SB_ERR_DB */
	"file system error",				/* SB_ERR_IO */
	"configuration error",				/* SB_ERR_CONFIG */
	"object store refused the credentials",		/* SB_ERR_AUTH */
	"the object store is not this service's store",	/* SB_ERR_IDENTITY */
	"the key this backup needs is not available",	/* SB_ERR_KEY */
};

/* Stable codes: part of the HTTP contract, never renamed. */
static const char *const errcode[SB_ERR__MAX] = {
	"OK",
	"INTERNAL",
	"BAD_REQUEST",
	"NOT_FOUND",
	"AUTOMATIC_NOT_DELETABLE",
	"BUSY",
	"BACKUP_CORRUPT",
	"STORAGE_ERROR",
	"INTERNAL",
	"INTERNAL",
	"INTERNAL",
	"STORAGE_ERROR",
	"STORE_IDENTITY",
	"KEY_UNAVAILABLE",
};

const char *
sb_strerror(enum sb_err e)
{
	if ((unsigned)e >= SB_ERR__MAX)
		return "unknown error";
	return errstr[e];
}

const char *
sb_errcode(enum sb_err e)
{
	if ((unsigned)e >= SB_ERR__MAX)
		return "INTERNAL";
	return errcode[e];
}

static const char *const typestr[SB_TYPE__MAX] = { "manual", "automatic" };
static const char *const statusstr[SB_STATUS__MAX] =
    { "pending", "completed", "failed" };

const char *
sb_type_str(enum sb_type t)
{
	return (unsigned)t < SB_TYPE__MAX ? typestr[t] : "unknown";
}

enum sb_err
sb_type_parse(const char *s, enum sb_type *out)
{
	for (int i = 0; i < SB_TYPE__MAX; i++)
		if (s != NULL && strcmp(s, typestr[i]) == 0) {
			*out = (enum sb_type)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

const char *
sb_status_str(enum sb_status s)
{
	return (unsigned)s < SB_STATUS__MAX ? statusstr[s] : "unknown";
}

enum sb_err
sb_status_parse(const char *s, enum sb_status *out)
{
	for (int i = 0; i < SB_STATUS__MAX; i++)
		if (s != NULL && strcmp(s, statusstr[i]) == 0) {
			*out = (enum sb_status)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

/* --- records ------------------------------------------------------------ */

void
sb_backup_clear(struct sb_backup *b)
{
	if (b == NULL)
		return;
	free(b->location);
	free(b->description);
	free(b->error);
	free(b->verify_detail);
	for (size_t i = 0; i < b->ntags; i++)
		free(b->tags[i]);
	free(b->tags);
	memset(b, 0, sizeof(*b));
	b->size = -1;
	b->stored_size = -1;
}

/* Set tags to a copy of the n strings in tags. */
enum sb_err
sb_backup_set_tags(struct sb_backup *b, const char *const *tags, size_t n)
{
	char	**v = NULL;
	size_t	  i;

	if (n > SB_TAGS_MAX)
		return SB_ERR_INVAL;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return SB_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if ((v[i] = strdup(tags[i])) == NULL) {
			while (i-- > 0)
				free(v[i]);
			free(v);
			return SB_ERR_NOMEM;
		}
	for (i = 0; i < b->ntags; i++)
		free(b->tags[i]);
	free(b->tags);
	b->tags = v;
	b->ntags = n;
	return SB_OK;
}

/* Deep copy; dst must be cleared (or zeroed) first. */
enum sb_err
sb_backup_copy(struct sb_backup *dst, const struct sb_backup *src)
{
	*dst = *src;
	dst->location = NULL;
	dst->description = NULL;
	dst->error = NULL;
	dst->verify_detail = NULL;
	dst->tags = NULL;
	dst->ntags = 0;
	if ((src->location && !(dst->location = strdup(src->location))) ||
	    (src->description && !(dst->description = strdup(src->description))) ||
	    (src->error && !(dst->error = strdup(src->error))) ||
	    (src->verify_detail &&
	    !(dst->verify_detail = strdup(src->verify_detail))) ||
	    sb_backup_set_tags(dst, (const char *const *)src->tags,
	    src->ntags) != SB_OK) {
		sb_backup_clear(dst);
		return SB_ERR_NOMEM;
	}
	return SB_OK;
}

void
sb_backup_list_clear(struct sb_backup_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		sb_backup_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Room for one more element in a growable array of n elements of size
 * bytes, *(T **)arrp, that keeps no capacity: the capacity is implied by
 * n (SB_VEC_MIN, then doubled each time n reaches a power of two, never
 * past max), so a { v, n } pair needs no third field. SB_ERR_INVAL when
 * the array already holds max elements (the caller says what is too
 * many), SB_ERR_NOMEM when memory runs out; the array is unchanged then.
 */
enum sb_err
sb_vec_grow(void *arrp, size_t n, size_t size, size_t max)
{
	void	*arr, *nv;
	size_t	 cap;

	if (n >= max)
		return SB_ERR_INVAL;
	if (n != 0 && (n < SB_VEC_MIN || (n & (n - 1)) != 0))
		return SB_OK;
	cap = n == 0 ? SB_VEC_MIN : n * 2;
	if (cap > max)
		cap = max;
	if (size == 0 || cap > SIZE_MAX / size)
		return SB_ERR_NOMEM;
	memcpy(&arr, arrp, sizeof(arr));
	if ((nv = realloc(arr, cap * size)) == NULL)
		return SB_ERR_NOMEM;
	memcpy(arrp, &nv, sizeof(nv));
	return SB_OK;
}

/*
 * Move *b into the list (b is zeroed). SB_ERR_INVAL past SB_LIST_ALL_MAX
 * records, SB_ERR_NOMEM.
 */
enum sb_err
sb_backup_list_push(struct sb_backup_list *l, struct sb_backup *b)
{
	enum sb_err	rc;

	if ((rc = sb_vec_grow(&l->v, l->n, sizeof(*l->v), SB_LIST_ALL_MAX)) !=
	    SB_OK)
		return rc;
	l->v[l->n++] = *b;
	memset(b, 0, sizeof(*b));
	b->size = -1;
	return SB_OK;
}

void
sb_restore_clear(struct sb_restore *r)
{
	if (r == NULL)
		return;
	free(r->error);
	memset(r, 0, sizeof(*r));
}

/* --- time --------------------------------------------------------------- */

int64_t
sb_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds on a clock that does not jump: durations, deadlines. */
int64_t
sb_mono_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * write(2) all of buf, retrying short writes and EINTR. SB_OK, or
 * SB_ERR_IO with errno set.
 */
enum sb_err
sb_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return SB_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return SB_OK;
}

/* sb_write_all with pwrite(2), at offset off. */
enum sb_err
sb_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return SB_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return SB_OK;
}

/*
 * fsync a directory, so the names just created, renamed or removed in it
 * are durable (Linux fsync(2)). SB_OK, or SB_ERR_IO with errno set.
 */
enum sb_err
sb_fsync_dir(const char *path)
{
	int	fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return SB_ERR_IO;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc == 0 ? SB_OK : SB_ERR_IO;
}

/* "2026-11-26T04:30:00.123Z" (24 bytes + NUL). */
enum sb_err
sb_time_format(int64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;
	int64_t		frac;
	int		n;

	if (ms < 0)
		return SB_ERR_INVAL;
	t = (time_t)(ms / 1000);
	frac = ms % 1000;
	if (gmtime_r(&t, &tm) == NULL)
		return SB_ERR_INVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac);
	return (n < 0 || (size_t)n >= len) ? SB_ERR_INVAL : SB_OK;
}

static enum sb_err
digits(const char **p, int n, int *out)
{
	int	v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return SB_ERR_INVAL;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return SB_OK;
}

/*
 * Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with "Z" or "+HH:MM" /
 * "-HH:MM", strictly: every field range-checked, nothing trailing.
 */
enum sb_err
sb_time_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct tm	tm;
	const char	*p = s;
	int		y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	time_t		t;

	if (s == NULL || strlen(s) > 40)
		return SB_ERR_INVAL;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return SB_ERR_INVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1])
		return SB_ERR_INVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return SB_ERR_INVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return SB_ERR_INVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return SB_ERR_INVAL;
			if (*p == '.') {
				int nd = 0;
				p++;
				while (isdigit((unsigned char)*p)) {
					if (nd < 3)
						frac = frac * 10 + (*p - '0');
					nd++;
					p++;
				}
				if (nd == 0 || nd > 9)
					return SB_ERR_INVAL;
				for (; nd < 3; nd++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return SB_ERR_INVAL;
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh) || *p++ != ':' ||
			    digits(&p, 2, &om) || oh > 23 || om > 59)
				return SB_ERR_INVAL;
			off = sign * (oh * 60 + om);
		} else
			return SB_ERR_INVAL;
	}
	if (*p != '\0')
		return SB_ERR_INVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return SB_ERR_INVAL;
	*ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
	if (*ms < 0)
		return SB_ERR_INVAL;
	return SB_OK;
}

/* --- uuid --------------------------------------------------------------- */

/* RFC 4122 version 4 from OpenSSL's CSPRNG. */
enum sb_err
sb_uuid_new(char out[SB_UUID_LEN + 1])
{
	unsigned char	r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return SB_ERR_IO;
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(out, SB_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
	    r[10], r[11], r[12], r[13], r[14], r[15]);
	return SB_OK;
}

/* Canonical lowercase 8-4-4-4-12 hex; any version. */
int
sb_is_uuid(const char *s)
{
	size_t	i;

	if (s == NULL)
		return 0;
	for (i = 0; i < SB_UUID_LEN; i++) {
		if (s[i] == '\0')
			return 0;
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[i] == '\0';
}

/* --- validation --------------------------------------------------------- */

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int
sb_is_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;

	while (i < len) {
		unsigned c = p[i], n, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* No ASCII control characters but tab and newline (description only). */
static int
printable(const char *s, int allow_nl)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == 0x7f || (c < 0x20 && !(allow_nl &&
		    (c == '\n' || c == '\t'))))
			return 0;
	}
	return 1;
}

int
sb_is_description(const char *s)
{
	size_t	len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	return len <= SB_DESC_MAX && sb_is_utf8(s, len) && printable(s, 1);
}

/* A tag: 1..64 bytes of UTF-8, no control characters, no comma. */
int
sb_is_tag(const char *s)
{
	size_t	len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	return len > 0 && len <= SB_TAG_MAX && sb_is_utf8(s, len) &&
	    printable(s, 0) && strchr(s, ',') == NULL;
}

/* A service name: 1..SB_SERVICE_MAX bytes of [A-Za-z0-9._-]. */
static int
service_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
sb_is_service(const char *s)
{
	size_t	i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SB_SERVICE_MAX || !service_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * A [daemon] listen value: "unix:/path" (at most 107 bytes of
 * path: sockaddr_un's sun_path) or "host:port" with a host before the
 * colon and a port from 1 to 65535. NULL when it is one, else why not.
 * backupd takes the forms apart when it binds (backupd.c).
 */
const char *
sb_listen_check(const char *spec)
{
	const char	*colon;
	int64_t		 port;

	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] == '\0')
			return "unix: needs a socket path";
		if (strlen(spec + 5) > 107)
			return "socket path too long (at most 107 bytes once "
			    "resolved)";
		return NULL;
	}
	colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec ||
	    sb_parse_i64(colon + 1, 1, 65535, &port) != SB_OK)
		return "must be unix:/path/to/socket or host:port (port 1 to "
		    "65535)";
	return NULL;
}

/*
 * The default [store] service: the file name of the source database
 * ("/srv/app/app.db" -> "app.db"), each byte outside [A-Za-z0-9._-]
 * replaced by '_', cut at SB_SERVICE_MAX. Two services rarely share a
 * database file name, and the name says which database a store holds.
 * Returns a new string the caller frees, NULL when out of memory.
 */
char *
sb_service_default(const char *source_path)
{
	const char	*base;
	char		*s;
	size_t		 i, len;

	base = strrchr(source_path, '/');
	base = base != NULL ? base + 1 : source_path;
	if (*base == '\0')
		base = "safbackup";
	len = strnlen(base, SB_SERVICE_MAX);
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		s[i] = service_char((unsigned char)base[i]) ? base[i] : '_';
	s[len] = '\0';
	return s;
}

/*
 * Check and normalise a [store] prefix into out (len bytes): "" stays ""
 * (the layout before prefixes existed); otherwise segments of [a-z0-9._-]
 * separated by single '/', no segment starting with '.' (so no "." or
 * "..", nothing hidden, no clash with the disk store's .staging), no
 * leading '/', and out always ends with one '/'. At most SB_PREFIX_MAX
 * bytes once normalised. Lowercase only: Azure blob names are case-
 * sensitive, file systems may not be. Returns SB_OK, or SB_ERR_INVAL with
 * the reason in *why (a static string).
 */
enum sb_err
sb_prefix_normalise(const char *in, char *out, size_t len, const char **why)
{
	size_t	i, n, seg = 0;

	*why = NULL;
	if (in == NULL)
		in = "";
	n = strlen(in);
	if (n > 0 && in[n - 1] == '/')
		n--;
	if (n == 0 && in[0] == '/') {
		*why = "must not start with '/'";
		return SB_ERR_INVAL;
	}
	if (n + (n > 0) > SB_PREFIX_MAX || n + 2 > len) {
		*why = "too long (at most 128 bytes)";
		return SB_ERR_INVAL;
	}
	for (i = 0; i < n; i++) {
		int c = (unsigned char)in[i];

		if (c == '/') {
			if (i == 0) {
				*why = "must not start with '/'";
				return SB_ERR_INVAL;
			}
			if (seg == 0) {
				*why = "empty segment ('//')";
				return SB_ERR_INVAL;
			}
			seg = 0;
			continue;
		}
		if (seg == 0 && c == '.') {
			*why = "a segment must not start with '.' (no '.', "
			    "'..' or hidden names)";
			return SB_ERR_INVAL;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')) {
			*why = "only a-z 0-9 . _ - in segments separated by '/'";
			return SB_ERR_INVAL;
		}
		seg++;
	}
	if (n > 0 && seg == 0) {
		*why = "empty segment ('//')";
		return SB_ERR_INVAL;
	}
	memcpy(out, in, n);
	if (n > 0)
		out[n++] = '/';
	out[n] = '\0';
	return SB_OK;
}

/* Decimal integer in [min, max], nothing else (no sign games, no spaces). */
enum sb_err
sb_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) ||
	    *s == '+')
		return SB_ERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return SB_ERR_INVAL;
	*out = v;
	return SB_OK;
}

/* "8388608", "64k", "8M", "1G" (binary units), at most max. */
enum sb_err
sb_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char			*end;
	unsigned long long	 v, mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return SB_ERR_INVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return SB_ERR_INVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	default:
		return SB_ERR_INVAL;
	}
	if (*end != '\0' || v > max / mul)
		return SB_ERR_INVAL;
	*out = v * mul;
	return SB_OK;
}

/* --- strings ------------------------------------------------------------ */

/* The value of one hex digit (either case), or -1. */
int
sb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void
sb_hex(const unsigned char *in, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

size_t
sb_strlcpy(char *dst, const char *src, size_t len)
{
	size_t	n = strlen(src);

	if (len > 0) {
		size_t c = n >= len ? len - 1 : n;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *
sb_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* Tell the compiler fmt is a printf format (clang -Wformat-nonliteral). */
void	sb_vseterr(char *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

void
sb_vseterr(char *buf, const char *fmt, va_list ap)
{
	if (buf == NULL)
		return;
	if (vsnprintf(buf, SB_ERRMSG_MAX, fmt, ap) < 0)
		sb_strlcpy(buf, "error message could not be formatted",
		    SB_ERRMSG_MAX);
}

void
sb_seterr(char *buf, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sb_vseterr(buf, fmt, ap);
	va_end(ap);
}

/* --- names -------------------------------------------------------------- */

enum sb_err
sb_name_format(enum sb_type type, int64_t created, const char *id,
    char *buf, size_t len)
{
	return sb_name_format_ext(type, created, id, ".db", buf, len);
}

/* The extensions a backup's object name may end with (codec.h). */
static const char *const name_exts[] = {
	".db", ".db.zst", ".db.enc", ".db.zst.enc"
};

static int
is_name_ext(const char *s)
{
	for (size_t i = 0; i < sizeof(name_exts) / sizeof(name_exts[0]); i++)
		if (strcmp(s, name_exts[i]) == 0)
			return 1;
	return 0;
}

enum sb_err
sb_name_format_ext(enum sb_type type, int64_t created, const char *id,
    const char *ext, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;
	int		n;

	if (created < 0 || !sb_is_uuid(id) || (unsigned)type >= SB_TYPE__MAX ||
	    ext == NULL || !is_name_ext(ext))
		return SB_ERR_INVAL;
	t = (time_t)(created / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return SB_ERR_INVAL;
	n = snprintf(buf, len, "backup-%04d%02d%02dT%02d%02d%02d%03dZ-%s-%s%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(created % 1000), sb_type_str(type), id,
	    ext);
	return (n < 0 || (size_t)n >= len) ? SB_ERR_INVAL : SB_OK;
}

/* Inverse of sb_name_format; SB_ERR_INVAL for anything else. */
enum sb_err
sb_name_parse(const char *name, enum sb_type *type, int64_t *created,
    char id[SB_UUID_LEN + 1])
{
	const char	*p = name;
	char		 iso[64], tstr[16];
	int		 v[7];
	size_t		 tl;
	int64_t		 ms;

	if (name == NULL || strncmp(p, "backup-", 7) != 0)
		return SB_ERR_INVAL;
	p += 7;
	if (digits(&p, 4, &v[0]) || digits(&p, 2, &v[1]) ||
	    digits(&p, 2, &v[2]) || *p++ != 'T' || digits(&p, 2, &v[3]) ||
	    digits(&p, 2, &v[4]) || digits(&p, 2, &v[5]) ||
	    digits(&p, 3, &v[6]) || *p++ != 'Z' || *p++ != '-')
		return SB_ERR_INVAL;
	/* We never write a leap second: a name with one is not ours, and
	 * would not format back to itself. */
	if (v[5] > 59)
		return SB_ERR_INVAL;
	for (tl = 0; p[tl] != '\0' && p[tl] != '-'; tl++)
		;
	if (p[tl] != '-' || tl >= sizeof(tstr))
		return SB_ERR_INVAL;
	memcpy(tstr, p, tl);
	tstr[tl] = '\0';
	if (sb_type_parse(tstr, type) != SB_OK)
		return SB_ERR_INVAL;
	p += tl + 1;
	if (strlen(p) < SB_UUID_LEN || !is_name_ext(p + SB_UUID_LEN))
		return SB_ERR_INVAL;
	memcpy(id, p, SB_UUID_LEN);
	id[SB_UUID_LEN] = '\0';
	if (!sb_is_uuid(id))
		return SB_ERR_INVAL;
	snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	if (sb_time_parse(iso, &ms) != SB_OK)
		return SB_ERR_INVAL;
	*created = ms;
	return SB_OK;
}

/* --- hashing ------------------------------------------------------------ */

enum sb_err
sb_sha256_file(const char *path, char hex[SB_SHA256_HEX + 1], int64_t *size,
    char *err)
{
	return sb_sha256_file_tick(path, hex, size, NULL, NULL, err);
}

enum sb_err
sb_sha256_file_tick(const char *path, char hex[SB_SHA256_HEX + 1],
    int64_t *size, void (*tick)(void *arg, int64_t done), void *arg,
    char *err)
{
	enum { BUFSZ = 1 << 20 };
	EVP_MD_CTX	*ctx = NULL;
	unsigned char	*buf = NULL, md[32];
	unsigned int	 mdlen = 0;
	int64_t		 total = 0;
	ssize_t		 n;
	int		 fd = -1, rc = SB_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sb_seterr(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((buf = malloc(BUFSZ)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
		rc = SB_ERR_NOMEM;
		sb_seterr(err, "out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		sb_seterr(err, "sha256 init failed");
		goto out;
	}
	while ((n = read(fd, buf, BUFSZ)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sb_seterr(err, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += n;
		if (tick != NULL)
			tick(arg, total);
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	sb_hex(md, 32, hex);
	if (size != NULL)
		*size = total;
	rc = SB_OK;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}
