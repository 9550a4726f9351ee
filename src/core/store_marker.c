/*
 * store_marker.c - a store knows it is itself.
 *
 * `backup-cron init` writes one object, SB_MARKER_NAME under the store's
 * prefix, naming the service the store belongs to, the prefix, and a
 * store_id (a uuid drawn once). Every later operation reads it first
 * (sb_store_identify, from sb_engine_open) and refuses a store without it
 * or with another's: an unmounted volume, a container that was deleted, a
 * config pointed at another service's store or prefix. Without this, an
 * empty directory or a missing container looks exactly like a store whose
 * backups were all lost, and reconcile and prune act on that.
 *
 * The marker is JSON:
 *	{"format":1,"service":"app.db","prefix":"","store_id":"<uuid>",
 *	 "created_at":1764547200000}
 * Its name does not start with "backup-", so sb_name_parse() never takes
 * it for a backup.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "azure.h"
#include "config.h"
#include "store.h"

#define HINT	"run `backup-cron init` if this is a new store; if its " \
		"volume is not mounted (or its container was deleted), " \
		"mount (restore) it first"

/* Copy the string member key of o into buf (len bytes); SB_ERR_INVAL. */
static enum sb_err
get_str(json_object *o, const char *key, char *buf, size_t len)
{
	json_object	*v;
	const char	*s;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return SB_ERR_INVAL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) >= len ||
	    strlen(s) != (size_t)json_object_get_string_len(v))
		return SB_ERR_INVAL;
	memcpy(buf, s, strlen(s) + 1);
	return SB_OK;
}

/*
 * Parse a marker (len bytes of JSON) into m. Every field is required and
 * checked: format 1, a valid service name, a normalised prefix, a uuid
 * store_id, a created_at >= 0. SB_ERR_INVAL with the reason in err.
 */
enum sb_err
sb_marker_parse(const char *buf, size_t len, struct sb_store_marker *m,
    char *err)
{
	json_tokener	*tok = NULL;
	json_object	*root = NULL, *v;
	char		 norm[SB_PREFIX_MAX + 1];
	const char	*why = NULL;
	int64_t		 n;
	int		 rc = SB_ERR_INVAL;

	memset(m, 0, sizeof(*m));
	if (buf == NULL || len == 0 || len > SB_MARKER_MAX) {
		sb_seterr(err, "empty or larger than %d bytes", SB_MARKER_MAX);
		return SB_ERR_INVAL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL || json_tokener_get_error(tok) !=
	    json_tokener_success || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(root, json_type_object)) {
		sb_seterr(err, "not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(root, "format", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != SB_MARKER_FORMAT) {
		sb_seterr(err, "format: expected %d", SB_MARKER_FORMAT);
		goto out;
	}
	m->format = SB_MARKER_FORMAT;
	if (get_str(root, "service", m->service, sizeof(m->service)) !=
	    SB_OK || !sb_is_service(m->service)) {
		sb_seterr(err, "service: missing or not a service name");
		goto out;
	}
	if (get_str(root, "prefix", m->prefix, sizeof(m->prefix)) != SB_OK ||
	    sb_prefix_normalise(m->prefix, norm, sizeof(norm), &why) !=
	    SB_OK || strcmp(norm, m->prefix) != 0) {
		sb_seterr(err, "prefix: missing or not a normalised prefix");
		goto out;
	}
	if (get_str(root, "store_id", m->store_id, sizeof(m->store_id)) !=
	    SB_OK || !sb_is_uuid(m->store_id)) {
		sb_seterr(err, "store_id: missing or not a uuid");
		goto out;
	}
	if (!json_object_object_get_ex(root, "created_at", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 0) {
		sb_seterr(err, "created_at: missing or not a time");
		goto out;
	}
	m->created_at = n;
	rc = SB_OK;
out:
	if (rc != SB_OK)
		memset(m, 0, sizeof(*m));
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* The marker as JSON text into *out (the caller frees). */
enum sb_err
sb_marker_format(const struct sb_store_marker *m, char **out)
{
	json_object	*o;
	const char	*txt;
	int		 rc = SB_ERR_NOMEM;

	*out = NULL;
	if ((o = json_object_new_object()) == NULL)
		return SB_ERR_NOMEM;
	if (json_object_object_add(o, "format",
	    json_object_new_int(m->format)) != 0 ||
	    json_object_object_add(o, "service",
	    json_object_new_string(m->service)) != 0 ||
	    json_object_object_add(o, "prefix",
	    json_object_new_string(m->prefix)) != 0 ||
	    json_object_object_add(o, "store_id",
	    json_object_new_string(m->store_id)) != 0 ||
	    json_object_object_add(o, "created_at",
	    json_object_new_int64(m->created_at)) != 0)
		goto out;
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (txt != NULL && (*out = strdup(txt)) != NULL)
		rc = SB_OK;
out:
	json_object_put(o);
	return rc;
}

/* "disk store /srv/backups/app" or "azure container c at URL, prefix p/". */
void
sb_store_describe(const struct sb_config *cfg, char *buf, size_t len)
{
	const char	*p = cfg->store_prefix != NULL ? cfg->store_prefix : "";
	char		 ep[512], err[SB_ERRMSG_MAX];

	if (cfg->store_kind == SB_STORE_AZURE) {
		/* Resolved as the store does: config keeps what was set. */
		if (az_endpoint(cfg, ep, sizeof(ep), err) != SB_OK)
			sb_strlcpy(ep, "?", sizeof(ep));
		snprintf(buf, len, "azure container %s at %s%s%s%s",
		    cfg->az_container ? cfg->az_container : "?", ep,
		    p[0] ? " (prefix " : "", p, p[0] ? ")" : "");
	} else
		snprintf(buf, len, "disk store %s%s%s",
		    cfg->disk_root ? cfg->disk_root : "?", p[0] ? "/" : "", p);
}

/* A bounded in-memory writer for reading the marker. */
struct membuf {
	char	buf[SB_MARKER_MAX + 1];
	size_t	len;
};

static int
mem_write(void *arg, const void *p, size_t n)
{
	struct membuf	*m = arg;

	if (n > SB_MARKER_MAX - m->len)
		return -1;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	return 0;
}

/*
 * Read and parse the marker. SB_ERR_NOTFOUND if there is none (err says
 * why the store looks empty), SB_ERR_IDENTITY if it is unreadable, the
 * store's error otherwise.
 */
static enum sb_err
marker_read(struct sb_store *s, const struct sb_config *cfg,
    struct sb_store_marker *m, char *err)
{
	struct membuf	*mb = NULL;
	struct stat	 st;
	char		 where[SB_ERRMSG_MAX], why[SB_ERRMSG_MAX];
	int		 rc;

	sb_store_describe(cfg, where, sizeof(where));
	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	rc = sb_store_get(s, SB_MARKER_NAME, mem_write, mb);
	if (rc == SB_ERR_NOTFOUND) {
		if (cfg->store_kind == SB_STORE_DISK &&
		    cfg->disk_root != NULL && stat(cfg->disk_root, &st) == -1)
			sb_seterr(err, "[disk] root %s: %s", cfg->disk_root,
			    strerror(errno));
		else
			sb_seterr(err, "%s", sb_store_errmsg(s));
		goto out;
	}
	if (rc == SB_ERR_IO) {
		sb_seterr(err, "%s: marker %s is larger than %d bytes", where,
		    SB_MARKER_NAME, SB_MARKER_MAX);
		rc = SB_ERR_IDENTITY;
		goto out;
	}
	if (rc != SB_OK) {
		sb_seterr(err, "%s", sb_store_errmsg(s));
		goto out;
	}
	if ((rc = sb_marker_parse(mb->buf, mb->len, m, why)) != SB_OK) {
		sb_seterr(err, "%s: marker %s is not a safbackup store marker "
		    "(%s): check [store] and the store's contents", where,
		    SB_MARKER_NAME, why);
		if (rc != SB_ERR_NOMEM)
			rc = SB_ERR_IDENTITY;
	}
out:
	free(mb);
	return rc;
}

/*
 * Does marker m belong to this config? SB_OK, or SB_ERR_IDENTITY with
 * what differs in err.
 */
static enum sb_err
marker_match(const struct sb_store_marker *m, const struct sb_config *cfg,
    const char *where, char *err)
{
	const char	*p = cfg->store_prefix != NULL ? cfg->store_prefix : "";

	if (cfg->store_service == NULL ||
	    strcmp(m->service, cfg->store_service) != 0) {
		sb_seterr(err, "%s belongs to service \"%s\", not \"%s\" "
		    "([store] service): point this service at its own store "
		    "or [store] prefix", where, m->service,
		    cfg->store_service ? cfg->store_service : "");
		return SB_ERR_IDENTITY;
	}
	if (strcmp(m->prefix, p) != 0) {
		sb_seterr(err, "%s: its marker is for prefix \"%s\", not "
		    "\"%s\" ([store] prefix)", where, m->prefix, p);
		return SB_ERR_IDENTITY;
	}
	return SB_OK;
}

enum sb_err
sb_store_identify(struct sb_store *s, const struct sb_config *cfg,
    const char *known_id, struct sb_store_marker *out, char *err)
{
	struct sb_store_marker	m;
	char			where[SB_ERRMSG_MAX], why[SB_ERRMSG_MAX];
	int			rc;

	if (s == NULL || cfg == NULL) {
		sb_seterr(err, "store: no store");
		return SB_ERR_INVAL;
	}
	sb_store_describe(cfg, where, sizeof(where));
	rc = marker_read(s, cfg, &m, why);
	if (rc == SB_ERR_NOTFOUND) {
		sb_seterr(err, "%s is not initialised (no %s): %s; %s",
		    where, SB_MARKER_NAME, why, HINT);
		return SB_ERR_IDENTITY;
	}
	if (rc != SB_OK) {
		sb_seterr(err, "%s", why);
		return rc;
	}
	if ((rc = marker_match(&m, cfg, where, err)) != SB_OK)
		return rc;
	if (known_id != NULL && known_id[0] != '\0' &&
	    strcmp(known_id, m.store_id) != 0) {
		sb_seterr(err, "%s is store %s, but the catalog belongs to "
		    "store %s: is the right volume mounted? (`backup-cron init "
		    "--force` makes the catalog adopt this store)", where,
		    m.store_id, known_id);
		return SB_ERR_IDENTITY;
	}
	if (out != NULL)
		*out = m;
	return SB_OK;
}

enum sb_err
sb_store_init(struct sb_store *s, const struct sb_config *cfg,
    struct sb_store_marker *out, int *created, char *err)
{
	struct sb_store_marker	m;
	char			where[SB_ERRMSG_MAX], why[SB_ERRMSG_MAX];
	char			*txt = NULL;
	int			rc, existed = 0;

	*created = 0;
	memset(&m, 0, sizeof(m));
	if (s == NULL || cfg == NULL || cfg->store_service == NULL) {
		sb_seterr(err, "store: no store or no [store] service");
		return SB_ERR_INVAL;
	}
	sb_store_describe(cfg, where, sizeof(where));
	/*
	 * A SAS may allow blobs but not containers: a refused create is not
	 * final when the container exists; the marker write says.
	 */
	if ((rc = sb_store_create(s)) != SB_OK && rc != SB_ERR_AUTH) {
		sb_seterr(err, "%s: %s", where, sb_store_errmsg(s));
		return rc;
	}
	rc = marker_read(s, cfg, &m, why);
	if (rc == SB_ERR_NOTFOUND) {
		m.format = SB_MARKER_FORMAT;
		sb_strlcpy(m.service, cfg->store_service, sizeof(m.service));
		sb_strlcpy(m.prefix, cfg->store_prefix ? cfg->store_prefix :
		    "", sizeof(m.prefix));
		m.created_at = sb_now_ms();
		if ((rc = sb_uuid_new(m.store_id)) != SB_OK ||
		    (rc = sb_marker_format(&m, &txt)) != SB_OK) {
			sb_seterr(err, "%s: %s", where, sb_strerror(rc));
			goto out;
		}
		rc = sb_store_put_new(s, SB_MARKER_NAME, txt, strlen(txt),
		    &existed);
		if (rc != SB_OK) {
			sb_seterr(err, "%s: writing %s: %s", where,
			    SB_MARKER_NAME, sb_store_errmsg(s));
			goto out;
		}
		if (!existed) {
			*created = 1;
			goto done;
		}
		/* Another init was first: judge its marker like any other. */
		rc = marker_read(s, cfg, &m, why);
	}
	if (rc != SB_OK) {
		sb_seterr(err, "%s", why);
		if (rc == SB_ERR_NOTFOUND)
			rc = SB_ERR_STORAGE;
		goto out;
	}
	if ((rc = marker_match(&m, cfg, where, err)) != SB_OK)
		goto out;
done:
	if (out != NULL)
		*out = m;
	rc = SB_OK;
out:
	free(txt);
	return rc;
}
