/*
 * config.c - the configuration file (INI, read with inih), its environment
 * overrides and its secrets. See config.h, docs/CONFIG.md and
 * safbackup.conf.example.
 *
 * Order of precedence, lowest first: built-in defaults, the file,
 * SAFBACKUP_<SECTION>_<KEY> environment variables; then the secrets
 * (environment first, then the *_file keys); then derived defaults (lock
 * file); then sb_config_check(). A connection string is kept whole: the
 * Azure store reads it (azure_auth.c), explicit keys winning over it.
 *
 * Every error names where the value came from ("FILE:LINE" or the
 * environment variable), the [section] and the key, and echoes the value
 * only when it is not sensitive: secrets and the webhook URL (which often
 * carries a token) are never echoed.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "azure.h"
#include "config.h"
#include "drill.h"
#include "secret.h"

#define KIB		(UINT64_C(1) << 10)
#define MIB		(UINT64_C(1) << 20)
#define ECHO_MAX	100		/* bytes of a bad value echoed back */

enum ktype {
	K_PATH,		/* path; relative ones resolved against the file's dir */
	K_KIND,		/* disk | azure */
	K_SERVICE,	/* a service name, sb_is_service() */
	K_PREFIX,	/* an object prefix, sb_prefix_normalise() */
	K_ACCOUNT,	/* Azure storage account name */
	K_CONTAINER,	/* Azure container name */
	K_URL,		/* http:// or https:// URL, echoed in errors */
	K_URL_SECRET,	/* same, never echoed (webhooks carry tokens) */
	K_LISTEN,	/* unix:/path or host:port */
	K_WORDS,	/* a list, as written; its user checks it (backupd) */
	K_UINT,		/* unsigned in [min, max] */
	K_SIZE,		/* uint64_t size with units in [min, max] */
	K_SECRETFILE,	/* path to a file holding a secret (index in off) */
	K_INFILE,	/* a secret given in the file itself: refused */
	K_QUERY,	/* a [drill] smoke query, sb_drill_query_parse() */
	K_CODEC		/* [store] compression, encryption, key_id (codec.h) */
};

/* Indexes of the secrets: also the index of their *_file key in ctx. */
enum secret {
	S_KEY = 0,
	S_SAS,
	S_CONNSTR,
	S_STOREKEYS,
	S__MAX
};

struct key {
	const char	*section;
	const char	*name;
	enum ktype	 type;
	size_t		 off;	/* offset in struct sb_config, or enum secret */
	int64_t		 min;
	int64_t		 max;
};

#define OFF(f)	offsetof(struct sb_config, f)

/* Every key the file may hold; the order is the order of docs/CONFIG.md. */
static const struct key keys[] = {
	{ "source", "path", K_PATH, OFF(source_path), 0, 0 },
	{ "catalog", "path", K_PATH, OFF(catalog_path), 0, 0 },
	{ "core", "temp_dir", K_PATH, OFF(temp_dir), 0, 0 },
	{ "core", "lock_file", K_PATH, OFF(lock_file), 0, 0 },
	{ "store", "kind", K_KIND, OFF(store_kind), 0, 0 },
	{ "store", "service", K_SERVICE, OFF(store_service), 0, 0 },
	{ "store", "prefix", K_PREFIX, OFF(store_prefix), 0, 0 },
	{ "store", "compression", K_CODEC, OFF(store_compression), 0, 0 },
	{ "store", "compression_level", K_UINT, OFF(store_compression_level),
	    SB_CODEC_LEVEL_MIN, SB_CODEC_LEVEL_MAX },
	{ "store", "encryption", K_CODEC, OFF(store_encryption), 0, 0 },
	{ "store", "key_id", K_CODEC, OFF(store_key_id), 0, 0 },
	{ "store", "key_file", K_SECRETFILE, S_STOREKEYS, 0, 0 },
	{ "disk", "root", K_PATH, OFF(disk_root), 0, 0 },
	{ "azure", "account", K_ACCOUNT, OFF(az_account), 0, 0 },
	{ "azure", "container", K_CONTAINER, OFF(az_container), 0, 0 },
	{ "azure", "endpoint", K_URL, OFF(az_endpoint), 0, 0 },
	{ "azure", "key_file", K_SECRETFILE, S_KEY, 0, 0 },
	{ "azure", "sas_file", K_SECRETFILE, S_SAS, 0, 0 },
	{ "azure", "connection_string_file", K_SECRETFILE, S_CONNSTR, 0, 0 },
	{ "azure", "block_size", K_SIZE, OFF(az_block_size),
	    64 * KIB, 100 * MIB },
	{ "azure", "concurrency", K_UINT, OFF(az_concurrency), 1, 64 },
	{ "azure", "timeout", K_UINT, OFF(az_timeout), 1, 3600 },
	{ "azure", "retries", K_UINT, OFF(az_retries), 0, 20 },
	{ "retention", "daily_days", K_UINT, OFF(ret_daily_days), 1, 3650 },
	{ "retention", "weekly_days", K_UINT, OFF(ret_weekly_days), 1, 3650 },
	{ "retention", "recent_hours", K_UINT, OFF(ret_recent_hours), 1, 8760 },
	{ "retention", "failed_days", K_UINT, OFF(ret_failed_days), 1, 3650 },
	{ "retention", "min_keep", K_UINT, OFF(ret_min_keep), 0, 1000 },
	{ "retention", "max_gap_hours", K_UINT, OFF(ret_max_gap_hours), 1,
	    87600 },
	{ "report", "webhook", K_URL_SECRET, OFF(webhook), 0, 0 },
	{ "report", "webhook_timeout", K_UINT, OFF(webhook_timeout), 1, 60 },
	{ "daemon", "listen", K_LISTEN, OFF(listen), 0, 0 },
	{ "daemon", "workers", K_UINT, OFF(workers), 1, 64 },
	{ "daemon", "max_body", K_SIZE, OFF(max_body), 1 * KIB, 16 * MIB },
	{ "daemon", "secret_file", K_PATH, OFF(daemon_secret_file), 0, 0 },
	{ "daemon", "allow_users", K_WORDS, OFF(allow_users), 0, 0 },
	{ "daemon", "allow_groups", K_WORDS, OFF(allow_groups), 0, 0 },
	{ "daemon", "allow_addrs", K_WORDS, OFF(allow_addrs), 0, 0 },
	{ "drill", "query", K_QUERY, OFF(drill_query[0]), 0, 0 },
	{ "drill", "query2", K_QUERY, OFF(drill_query[1]), 0, 0 },
	{ "drill", "query3", K_QUERY, OFF(drill_query[2]), 0, 0 },
	{ "drill", "query4", K_QUERY, OFF(drill_query[3]), 0, 0 },
	{ "drill", "timeout", K_UINT, OFF(drill_timeout), 1, 3600 },
	{ "monitor", "max_age_hours", K_UINT, OFF(mon_max_age_hours), 1, 8760 },
	{ "monitor", "warn_age_hours", K_UINT, OFF(mon_warn_age_hours), 0,
	    8760 },
	{ "monitor", "drill_max_age_days", K_UINT, OFF(mon_drill_days), 0,
	    365 },
	/* Not settable in the file; listed to give a useful error. */
	{ "azure", "key", K_INFILE, S_KEY, 0, 0 },
	{ "azure", "sas", K_INFILE, S_SAS, 0, 0 },
	{ "azure", "connection_string", K_INFILE, S_CONNSTR, 0, 0 },
	{ "store", "key", K_INFILE, S_STOREKEYS, 0, 0 },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const char *const secret_env[S__MAX] = {
	"SAFBACKUP_AZURE_KEY",
	"SAFBACKUP_AZURE_SAS",
	"SAFBACKUP_AZURE_CONNECTION_STRING",
	"SAFBACKUP_STORE_KEYS",
};

static const char *const secret_what[S__MAX] = {
	"account key", "SAS token", "connection string", "store keyring",
};

/* Where a value came from, for messages. */
enum origin {
	O_UNSET = 0,
	O_FILE,
	O_ENV
};

/* State of one sb_config_load(). */
struct ctx {
	struct sb_config	*cfg;
	const char		*file;		/* as the caller named it */
	char			 dir[PATH_MAX];	/* its directory, absolute */
	FILE			*fp;
	char			*secret_file[S__MAX];
	enum origin		 origin[NKEYS];
	int			 line[NKEYS];	/* where set in the file */
	int			 curline;	/* line inih is on */
	int			 indented;	/* it starts with blanks */
	int			 prevkey;	/* last key handled, -1 none */
	int			 errline;	/* line of the first error, 0 none */
	int			 rc;
	char			*err;
};

void
sb_config_free(struct sb_config **pc)
{
	struct sb_config	*c;

	if (pc == NULL || (c = *pc) == NULL)
		return;
	free(c->path);
	free(c->source_path);
	free(c->catalog_path);
	free(c->temp_dir);
	free(c->lock_file);
	free(c->store_service);
	free(c->store_prefix);
	free(c->store_key_id);
	sb_secret_free(&c->store_keys);
	free(c->disk_root);
	free(c->az_account);
	free(c->az_container);
	free(c->az_endpoint);
	sb_secret_free(&c->az_key);
	sb_secret_free(&c->az_sas);
	sb_secret_free(&c->az_connstr);
	free(c->webhook);
	free(c->listen);
	free(c->daemon_secret_file);
	free(c->allow_users);
	free(c->allow_groups);
	free(c->allow_addrs);
	for (size_t i = 0; i < SB_DRILL_QUERIES; i++)
		free(c->drill_query[i]);
	explicit_bzero(c, sizeof(*c));
	free(c);
	*pc = NULL;
}

/*
 * Allocate a configuration holding the built-in defaults and no paths
 * (source, catalog, disk root, lock file are NULL). The caller frees it
 * with sb_config_free().
 */
enum sb_err
sb_config_defaults(struct sb_config **out)
{
	struct sb_config	*c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SB_ERR_NOMEM;
	c->store_kind = SB_STORE_DISK;
	c->store_compression_level = SB_CODEC_LEVEL_DEFAULT;
	c->az_block_size = 8 * MIB;
	c->az_concurrency = 4;
	c->az_timeout = 60;
	c->az_retries = 5;
	c->ret_daily_days = 30;
	c->ret_weekly_days = 90;
	c->ret_recent_hours = 48;
	c->ret_failed_days = 7;
	c->ret_min_keep = 7;
	c->ret_max_gap_hours = 72;
	c->webhook_timeout = 5;
	c->workers = 4;
	c->max_body = 64 * KIB;
	c->drill_timeout = 10;
	c->mon_max_age_hours = 26;
	c->mon_warn_age_hours = 24;
	c->mon_drill_days = 3;
	if ((c->temp_dir = strdup("/tmp")) == NULL ||
	    (c->store_prefix = strdup("")) == NULL ||
	    (c->listen = strdup("unix:/run/safbackup/backupd.sock")) == NULL) {
		sb_config_free(&c);
		return SB_ERR_NOMEM;
	}
	*out = c;
	return SB_OK;
}

/* "SAFBACKUP_<SECTION>_<KEY>" for a key, uppercased. */
static void
env_name(const struct key *k, char *buf, size_t len)
{
	snprintf(buf, len, "SAFBACKUP_%s_%s", k->section, k->name);
	for (char *p = buf; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
}

/* "FILE:LINE" or "environment SAFBACKUP_X" for the key at index i. */
static void
where(const struct ctx *c, size_t i, char *buf, size_t len)
{
	char	env[128];

	if (c->origin[i] == O_ENV) {
		env_name(&keys[i], env, sizeof(env));
		snprintf(buf, len, "environment %s", env);
	} else
		snprintf(buf, len, "%s:%d", c->file, c->line[i]);
}

/* Record the first error only: later ones are usually its consequences. */
static void __attribute__((format(printf, 2, 3)))
ctx_err(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->rc != SB_OK)
		return;
	c->rc = SB_ERR_CONFIG;
	c->errline = c->curline;
	va_start(ap, fmt);
	sb_vseterr(c->err, fmt, ap);
	va_end(ap);
}

/* The key at index i is bad: say where, which, why and (maybe) what. */
static void
bad_value(struct ctx *c, size_t i, const char *why, const char *val)
{
	char	w[PATH_MAX + 32];

	where(c, i, w, sizeof(w));
	if (val == NULL)
		ctx_err(c, "%s: [%s] %s: %s", w, keys[i].section, keys[i].name,
		    why);
	else
		ctx_err(c, "%s: [%s] %s: %s (got '%.*s%s')", w,
		    keys[i].section, keys[i].name, why, ECHO_MAX, val,
		    strlen(val) > ECHO_MAX ? "..." : "");
}

/*
 * A path from the file, resolved against the directory of the config file
 * when relative; from the environment, taken as it is. Returns a new
 * string or NULL (too long or out of memory: *why says which).
 */
static char *
resolve_path(const struct ctx *c, const char *val, enum origin o,
    const char **why)
{
	char	buf[PATH_MAX];
	int	n;

	if (val[0] == '/' || o == O_ENV || c->dir[0] == '\0')
		n = snprintf(buf, sizeof(buf), "%s", val);
	else
		n = snprintf(buf, sizeof(buf), "%s/%s", c->dir, val);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		*why = "path too long";
		return NULL;
	}
	*why = "out of memory";
	return strdup(buf);
}

/* "64k", "100M", or plain bytes: a bound as a user would write it. */
static void
fmt_size(uint64_t v, char *buf, size_t len)
{
	if (v >= MIB && v % MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v / MIB));
	else if (v >= KIB && v % KIB == 0)
		snprintf(buf, len, "%lluk", (unsigned long long)(v / KIB));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Replace the string at *dst by src (owned by the callee now). */
static void
set_str(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

/* K_UINT: a whole number in [k->min, k->max]. NULL, or why not. */
static const char *
set_uint(struct sb_config *cfg, const struct key *k, const char *val,
    char *why, size_t whylen)
{
	int64_t	iv;

	if (sb_parse_i64(val, k->min, k->max, &iv) == SB_OK) {
		*(unsigned *)((char *)cfg + k->off) = (unsigned)iv;
		return NULL;
	}
	snprintf(why, whylen, "%s from %lld to %lld",
	    sb_parse_i64(val, INT64_MIN, INT64_MAX, &iv) == SB_OK ?
	    "out of range: must be" : "not a whole number",
	    (long long)k->min, (long long)k->max);
	return why;
}

/* K_SIZE: bytes, or a number with k, M or G, in [min, max]. */
static const char *
set_size(struct sb_config *cfg, const struct key *k, const char *val,
    char *why, size_t whylen)
{
	char		lo[32], hi[32];
	uint64_t	uv;

	fmt_size((uint64_t)k->min, lo, sizeof(lo));
	fmt_size((uint64_t)k->max, hi, sizeof(hi));
	if (sb_parse_size(val, UINT64_MAX, &uv) != SB_OK)
		snprintf(why, whylen, "not a size (bytes, or a number with k, "
		    "M or G) from %s to %s", lo, hi);
	else if (uv < (uint64_t)k->min || uv > (uint64_t)k->max)
		snprintf(why, whylen, "out of range: must be from %s to %s",
		    lo, hi);
	else {
		*(uint64_t *)((char *)cfg + k->off) = uv;
		return NULL;
	}
	return why;
}

/*
 * K_URL, K_URL_SECRET: an http(s) URL. The store appends
 * "/container/blob" to an endpoint: no slash at its end; a webhook is
 * used as given.
 */
static const char *
set_url(const struct key *k, char **dst, const char *val)
{
	size_t	 n = strlen(val);
	char	*s = NULL;

	if (*val != '\0') {
		while (k->type == K_URL && n > 0 && val[n - 1] == '/')
			n--;
		if ((s = strndup(val, n)) == NULL)
			return "out of memory";
		if (!sb_is_http_url(s)) {
			free(s);
			return "must be an http:// or https:// URL";
		}
	}
	set_str(dst, s);
	return NULL;
}

/*
 * K_LISTEN: a form sb_listen_check() takes, with a unix: path resolved;
 * val becomes the form to store (in buf).
 */
static const char *
check_listen(const struct ctx *c, const char **val, enum origin o, char *buf,
    size_t len)
{
	const char	*why = NULL;
	char		*s;

	if (**val == '\0' || strncmp(*val, "unix:", 5) != 0 || (*val)[5] == '\0')
		return **val == '\0' ? NULL : sb_listen_check(*val);
	if ((s = resolve_path(c, *val + 5, o, &why)) == NULL)
		return why;
	snprintf(buf, len, "unix:%s", s);
	free(s);
	if ((why = sb_listen_check(buf)) == NULL)
		*val = buf;
	return why;
}

/*
 * The checks of K_SERVICE, K_ACCOUNT, K_CONTAINER, K_QUERY; NULL when val
 * passes.
 */
static const char *
check_name(const struct key *k, const char *val, char *why, size_t whylen)
{
	if (*val == '\0')
		return NULL;
	if (k->type == K_QUERY)
		return sb_drill_query_check(val, why, whylen);
	if (k->type == K_SERVICE && !sb_is_service(val)) {
		snprintf(why, whylen, "not a service name (1 to %d of a-z A-Z "
		    "0-9 . _ -)", SB_SERVICE_MAX);
		return why;
	}
	if (k->type == K_ACCOUNT && !sb_is_azure_account(val))
		return "not an Azure storage account name (3 to 24 lowercase "
		    "letters and digits)";
	if (k->type == K_CONTAINER && !sb_is_azure_container(val))
		return "not an Azure container name (3 to 63 lowercase "
		    "letters, digits and single hyphens, starting and ending "
		    "with a letter or digit)";
	return NULL;
}

/* K_PATH, K_SECRETFILE, K_PREFIX: stored as resolved or normalised. */
static const char *
set_path(const struct ctx *c, const struct key *k, char **dst,
    const char *val, enum origin o)
{
	char		 norm[SB_PREFIX_MAX + 1];
	const char	*why = NULL;
	char		*s = NULL;

	if (k->type == K_PREFIX) {
		if (sb_prefix_normalise(val, norm, sizeof(norm), &why) !=
		    SB_OK)
			return why;
		if ((s = strdup(norm)) == NULL)
			return "out of memory";
	} else if (*val != '\0' &&
	    (s = resolve_path(c, val, o, &why)) == NULL)
		return why;
	set_str(dst, s);
	return NULL;
}

/* K_CODEC: [store] compression, encryption (codec.h), key_id. */
static const char *
set_codec(struct sb_config *cfg, const struct key *k, const char *val)
{
	char	*s = NULL;

	if (k->off == OFF(store_compression))
		return sb_comp_parse(val, &cfg->store_compression) == SB_OK ?
		    NULL : "must be none or zstd";
	if (k->off == OFF(store_encryption))
		return sb_enc_parse(val, &cfg->store_encryption) == SB_OK ?
		    NULL : "must be none or xchacha20poly1305";
	if (*val != '\0' && !sb_is_key_id(val))
		return "not a key id (1 to 32 of A-Z a-z 0-9 . _ -)";
	if (*val != '\0' && (s = strdup(val)) == NULL)
		return "out of memory";
	set_str(&cfg->store_key_id, s);
	return NULL;
}

/*
 * Parse val for the key at index i and store it in the configuration.
 * The value comes from origin o (file or environment). An empty value
 * unsets an optional string (its default applies). Returns SB_OK, or
 * SB_ERR_CONFIG with the error recorded in the context.
 */
static enum sb_err
set_value(struct ctx *c, size_t i, const char *val, enum origin o)
{
	const struct key	*k = &keys[i];
	char			**dst = (char **)((char *)c->cfg + k->off);
	char			 buf[256];
	const char		*why = NULL;
	char			*s = NULL;

	c->origin[i] = o;
	switch (k->type) {
	case K_INFILE:
		snprintf(buf, sizeof(buf), "the %s is never read from the "
		    "config file itself: set %s in the environment or point "
		    "%s_file at a file only the service user can read",
		    secret_what[k->off], secret_env[k->off], k->name);
		bad_value(c, i, buf, NULL);
		return SB_ERR_CONFIG;
	case K_UINT:
		why = set_uint(c->cfg, k, val, buf, sizeof(buf));
		break;
	case K_SIZE:
		why = set_size(c->cfg, k, val, buf, sizeof(buf));
		break;
	case K_KIND:
		if (strcmp(val, "disk") == 0)
			c->cfg->store_kind = SB_STORE_DISK;
		else if (strcmp(val, "azure") == 0)
			c->cfg->store_kind = SB_STORE_AZURE;
		else
			why = "must be disk or azure";
		break;
	case K_CODEC:
		why = set_codec(c->cfg, k, val);
		break;
	case K_SECRETFILE:
		dst = &c->secret_file[k->off];
		/* FALLTHROUGH */
	case K_PATH:
	case K_PREFIX:
		why = set_path(c, k, dst, val, o);
		break;
	case K_URL:
	case K_URL_SECRET:
		why = set_url(k, dst, val);
		break;
	case K_LISTEN:
	case K_WORDS:
	case K_SERVICE:
	case K_ACCOUNT:
	case K_CONTAINER:
	case K_QUERY:
		why = k->type == K_LISTEN ? check_listen(c, &val, o, buf,
		    sizeof(buf)) : check_name(k, val, buf, sizeof(buf));
		if (why == NULL && *val != '\0' && (s = strdup(val)) == NULL)
			why = "out of memory";
		if (why == NULL)
			set_str(dst, s);
		break;
	}
	if (why != NULL) {
		bad_value(c, i, why, k->type == K_URL_SECRET ? NULL : val);
		return SB_ERR_CONFIG;
	}
	return SB_OK;
}

/* Find a key in the table; -1 if there is none. */
static int
find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
is_known_section(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return 1;
	return 0;
}

/* Whether nothing is left to read (a last line without its newline). */
static int
is_at_eof(FILE *fp)
{
	int	ch;

	if ((ch = getc(fp)) == EOF)
		return 1;
	ungetc(ch, fp);
	return 0;
}

/*
 * inih's line reader: fgets(3) that counts lines (inih 55 as Debian builds
 * it does not pass the line number to the handler) and refuses a line too
 * long for inih's buffer, which inih would otherwise silently split into
 * two lines.
 */
static char *
reader(char *buf, int size, void *stream)
{
	struct ctx	*c = stream;
	size_t		 n;

	if (c->rc != SB_OK || fgets(buf, size, c->fp) == NULL)
		return NULL;
	c->curline++;
	n = strlen(buf);
	if (size > 1 && n == (size_t)size - 1 && buf[n - 1] != '\n' &&
	    !is_at_eof(c->fp)) {
		ctx_err(c, "%s:%d: line too long (at most %d bytes)",
		    c->file, c->curline, size - 2);
		return NULL;
	}
	c->indented = buf[0] == ' ' || buf[0] == '\t';
	return buf;
}

/*
 * inih's handler: one call per "key = value" line. Returns 1 to go on, 0
 * on error (inih then reports this line; the message is ours).
 */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx	*c = user;
	char		 buf[INI_MAX_LINE + 1];
	size_t		 n;
	int		 i;

	if (c->rc != SB_OK)
		return 0;
	if (*name == '\0') {
		ctx_err(c, "%s:%d: [%s] missing key name before '='", c->file,
		    c->curline, section);
		return 0;
	}
	if ((i = find_key(section, name)) == -1) {
		if (*section == '\0')
			ctx_err(c, "%s:%d: %s: unknown key: keys must follow a "
			    "[section] header", c->file, c->curline, name);
		else if (!is_known_section(section))
			ctx_err(c, "%s:%d: [%s] %s: unknown key: there is no "
			    "section [%s]", c->file, c->curline, section, name,
			    section);
		else
			ctx_err(c, "%s:%d: [%s] %s: unknown key", c->file,
			    c->curline, section, name);
		return 0;
	}
	if (c->line[i] != 0) {
		/*
		 * inih reads an indented line after a key as a continuation
		 * of that key's value (Python configparser style) and calls
		 * us again with the same name: say so, not "duplicate".
		 */
		if (c->indented && c->prevkey == i)
			ctx_err(c, "%s:%d: [%s] %s: indented line is read as a "
			    "continuation of %s's value: remove the leading "
			    "blanks", c->file, c->curline, section, name, name);
		else
			ctx_err(c, "%s:%d: [%s] %s: duplicate key (first set "
			    "on line %d)", c->file, c->curline, section, name,
			    c->line[i]);
		return 0;
	}
	c->line[i] = c->curline;
	c->prevkey = i;
	/* One pair of double quotes around a value is taken off. */
	n = strlen(value);
	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		snprintf(buf, sizeof(buf), "%.*s", (int)(n - 2), value + 1);
		value = buf;
	}
	return set_value(c, (size_t)i, value, O_FILE) == SB_OK;
}

/*
 * The directory of the config file, absolute (realpath(3) of its dirname),
 * against which relative paths in it are resolved.
 */
static enum sb_err
config_dir(struct ctx *c, const char *path)
{
	char	 tmp[PATH_MAX];
	char	*slash;

	if (sb_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		sb_seterr(c->err, "%s: path too long", path);
		return SB_ERR_CONFIG;
	}
	if ((slash = strrchr(tmp, '/')) == NULL)
		sb_strlcpy(tmp, ".", sizeof(tmp));
	else if (slash == tmp)
		tmp[1] = '\0';
	else
		*slash = '\0';
	if (realpath(tmp, c->dir) == NULL) {
		sb_seterr(c->err, "%s: %s", path, strerror(errno));
		return SB_ERR_CONFIG;
	}
	if (strcmp(c->dir, "/") == 0)
		c->dir[0] = '\0';	/* so "/" + "/" + name is not "//name" */
	return SB_OK;
}

/* Apply every SAFBACKUP_<SECTION>_<KEY> that is set. */
static void
apply_env(struct ctx *c)
{
	char		 name[128];
	const char	*v;

	for (size_t i = 0; i < NKEYS && c->rc == SB_OK; i++) {
		if (keys[i].type == K_INFILE)
			continue;	/* those are read as secrets below */
		env_name(&keys[i], name, sizeof(name));
		if ((v = getenv(name)) != NULL)
			(void)set_value(c, i, v, O_ENV);
	}
}

/*
 * Read the secret file of the key at index ki (sb_secret_read). *out:
 * the caller frees it with sb_secret_free(). On error the message names
 * the file but never its content.
 */
static enum sb_err
read_secret_file(struct ctx *c, size_t ki, const char *path, char **out)
{
	char	w[PATH_MAX + 32], why[128];
	int	rc;

	if ((rc = sb_secret_read(path, out, why, sizeof(why))) == SB_ERR_NOMEM)
		ctx_err(c, "out of memory");
	else if (rc != SB_OK) {
		where(c, ki, w, sizeof(w));
		ctx_err(c, "%s: [%s] %s: %s: %s", w, keys[ki].section,
		    keys[ki].name, path, why);
	}
	return rc;
}

/* Secrets: the environment first, then the *_file keys. */
static void
load_secrets(struct ctx *c)
{
	char		**field[S__MAX];
	const char	 *v;
	char		 *s;
	size_t		  ki;

	field[S_KEY] = &c->cfg->az_key;
	field[S_SAS] = &c->cfg->az_sas;
	field[S_CONNSTR] = &c->cfg->az_connstr;
	field[S_STOREKEYS] = &c->cfg->store_keys;
	for (size_t si = 0; si < S__MAX && c->rc == SB_OK; si++) {
		if ((v = getenv(secret_env[si])) != NULL && *v != '\0') {
			if ((s = strdup(v)) == NULL) {
				ctx_err(c, "out of memory");
				return;
			}
		} else if (c->secret_file[si] != NULL) {
			for (ki = 0; ki < NKEYS; ki++)
				if (keys[ki].type == K_SECRETFILE &&
				    keys[ki].off == si)
					break;
			if (read_secret_file(c, ki, c->secret_file[si], &s) !=
			    SB_OK)
				return;
		} else
			continue;
		/* A SAS token is kept without the '?' portals show it with. */
		if (si == S_SAS && s[0] == '?')
			memmove(s, s + 1, strlen(s));
		sb_secret_free(field[si]);
		*field[si] = s;
	}
}

/* Where the connection string came from, for its error messages. */
static void
connstr_where(const struct ctx *c, char *buf, size_t len)
{
	const char	*v = getenv(secret_env[S_CONNSTR]);
	int		 i;

	if (v != NULL && *v != '\0') {
		snprintf(buf, len, "environment %s", secret_env[S_CONNSTR]);
		return;
	}
	i = find_key("azure", "connection_string_file");
	where(c, (size_t)i, buf, len);
}

/*
 * A connection string is kept as it is (a secret): the store reads it
 * (az_cred_init). It is parsed here too, by the same parser, so that a
 * bad one fails the load with a message saying where it came from.
 */
static void
check_connstr(struct ctx *c)
{
	struct az_connstr	cs;
	char			w[PATH_MAX + 32], msg[SB_ERRMSG_MAX];

	if (c->cfg->az_connstr == NULL)
		return;
	if (az_connstr_parse(c->cfg->az_connstr, &cs, msg) != SB_OK) {
		connstr_where(c, w, sizeof(w));
		ctx_err(c, "%s: [azure] %s", w, msg);
	}
	az_connstr_clear(&cs);
}

/* Defaults that depend on other keys. */
static void
derive(struct ctx *c)
{
	struct sb_config	*cfg = c->cfg;
	char			 buf[PATH_MAX];
	int			 n;

	if (cfg->temp_dir == NULL && (cfg->temp_dir = strdup("/tmp")) == NULL) {
		ctx_err(c, "out of memory");
		return;
	}
	if (cfg->store_prefix == NULL &&
	    (cfg->store_prefix = strdup("")) == NULL) {
		ctx_err(c, "out of memory");
		return;
	}
	if (cfg->store_service == NULL && cfg->source_path != NULL &&
	    (cfg->store_service = sb_service_default(cfg->source_path)) ==
	    NULL) {
		ctx_err(c, "out of memory");
		return;
	}
	if (cfg->listen == NULL &&
	    (cfg->listen = strdup("unix:/run/safbackup/backupd.sock")) == NULL) {
		ctx_err(c, "out of memory");
		return;
	}
	if (cfg->lock_file == NULL && cfg->source_path != NULL) {
		n = snprintf(buf, sizeof(buf), "%s.safbackup.lock",
		    cfg->source_path);
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			ctx_err(c, "%s: [core] lock_file: the default "
			    "<source path>.safbackup.lock is too long: set "
			    "lock_file", c->file);
			return;
		}
		if ((cfg->lock_file = strdup(buf)) == NULL)
			ctx_err(c, "out of memory");
	}
}

/*
 * Load the file at path, then the environment, the secrets and the
 * derived defaults, then sb_config_check(). Returns SB_OK with *out
 * allocated (free with sb_config_free), or SB_ERR_CONFIG / SB_ERR_NOMEM
 * with *out NULL and a message in err (SB_ERRMSG_MAX bytes).
 */
enum sb_err
sb_config_load(const char *path, struct sb_config **out, char *err)
{
	struct ctx	 c;
	struct stat	 st;
	int		 rc, line;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.file = path;
	c.err = err;
	c.prevkey = -1;
	if (err != NULL)
		err[0] = '\0';
	if (path == NULL) {
		sb_seterr(err, "no configuration file given");
		return SB_ERR_CONFIG;
	}
	if ((rc = sb_config_defaults(&c.cfg)) != SB_OK) {
		sb_seterr(err, "out of memory");
		return rc;
	}
	if ((c.cfg->path = strdup(path)) == NULL) {
		rc = SB_ERR_NOMEM;
		sb_seterr(err, "out of memory");
		goto out;
	}
	if ((rc = config_dir(&c, path)) != SB_OK)
		goto out;
	if ((c.fp = fopen(path, "re")) == NULL) {
		rc = SB_ERR_CONFIG;
		sb_seterr(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(c.fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = SB_ERR_CONFIG;
		sb_seterr(err, "%s: not a regular file", path);
		goto out;
	}
	line = ini_parse_stream(reader, &c, handler, &c);
	if (line == -2) {
		rc = SB_ERR_NOMEM;
		sb_seterr(err, "out of memory");
		goto out;
	}
	if (ferror(c.fp) && c.rc == SB_OK) {
		rc = SB_ERR_CONFIG;
		sb_seterr(err, "%s: read error", path);
		goto out;
	}
	/* A syntax error inih found before any error of ours. */
	if (line > 0 && (c.rc == SB_OK || line < c.errline)) {
		rc = SB_ERR_CONFIG;
		sb_seterr(err, "%s:%d: syntax error: expected [section], "
		    "key = value, or a comment", path, line);
		goto out;
	}
	if (c.rc == SB_OK)
		apply_env(&c);
	if (c.rc == SB_OK)
		load_secrets(&c);
	if (c.rc == SB_OK)
		check_connstr(&c);
	if (c.rc == SB_OK)
		derive(&c);
	if ((rc = c.rc) != SB_OK)
		goto out;
	if ((rc = sb_config_check(c.cfg, err)) != SB_OK)
		goto out;
	*out = c.cfg;
	c.cfg = NULL;
out:
	if (c.fp != NULL)
		fclose(c.fp);
	for (size_t i = 0; i < S__MAX; i++)
		free(c.secret_file[i]);
	sb_config_free(&c.cfg);
	return rc;
}
