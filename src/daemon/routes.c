/*
 * routes.c - the /backups API: one route table, one path for an unknown
 * route (404) or a wrong method (405), and a handler per route. Handlers
 * validate everything before the engine sees it (ids as uuids, query
 * parameters and JSON fields through their tables in http.c) and answer
 * JSON always, errors as {"error":{"code","message"}} (docs/openapi.json).
 *
 * Responses go out as FastCGI stdout: CGI-style headers, a blank line,
 * the body (FastCGI spec s6.2 "Responder"; CGI RFC 3875 s6.3 for the
 * Status header).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "sb.h"
#include "config.h"
#include "engine.h"
#include "report.h"
#include "http.h"
#include "json.h"
#include "filter.h"
#include "backupd.h"
#include "progress.h"
#include "scrub.h"
#include "status.h"

/* What a client is told when the store is not this service's. */
#define STORE_IDENTITY_MSG "the backup store is not this service's store " \
	"(not initialised, not mounted, or another service's): an " \
	"administrator must run `backup-cron init` on a new store or mount " \
	"the right one"

static void	h_health(struct req *);
static void	h_list(struct req *);
static void	h_create(struct req *);
static void	h_get(struct req *);
static void	h_delete(struct req *);
static void	h_restore(struct req *);
static void	h_drill(struct req *);
static void	h_download(struct req *);
static void	h_status(struct req *);
static void	h_metrics(struct req *);

/*
 * The table. Order matters: the first fitting pattern wins, so the literal
 * "health", "status" and "metrics" come before ":id" (an id is a uuid
 * anyway: valid_id would refuse them with 400). codes lists every status a route can give
 * (besides 401/403/404/405/415/413/500 any route may give); the OpenAPI
 * test checks docs/openapi.json documents each of them.
 */
static const struct http_route	routes[] = {
	{ HTTP_GET, "/backups/health", h_health, 0, "200 503" },
	{ HTTP_GET, "/backups/status", h_status, 1, "200 400 503" },
	{ HTTP_GET, "/backups/metrics", h_metrics, 1, "200 400 503" },
	{ HTTP_GET, "/backups", h_list, 1, "200 400 503" },
	{ HTTP_POST, "/backups", h_create, 1, "201 400 409 502 503" },
	{ HTTP_GET, "/backups/:id", h_get, 1, "200 400 404 503" },
	{ HTTP_DELETE, "/backups/:id", h_delete, 1,
	    "200 400 404 409 502 503" },
	{ HTTP_POST, "/backups/:id/restore", h_restore, 1,
	    "200 400 404 409 422 502 503" },
	{ HTTP_POST, "/backups/:id/drill", h_drill, 1,
	    "200 400 404 422 502 503" },
	{ HTTP_GET, "/backups/:id/download", h_download, 1,
	    "200 400 404 422 502 503" },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* "METHOD PATTERN AUTH CODES" per line: backupd --routes, for the tests. */
void
routes_print(FILE *f)
{
	for (size_t i = 0; i < NROUTES; i++)
		fprintf(f, "%s %s %s %s\n", http_method_str(routes[i].method),
		    routes[i].pattern, routes[i].auth ? "auth" : "public",
		    routes[i].codes);
}

/* --- answers ------------------------------------------------------------- */

/*
 * What a browser gets of a failure message: no server file-system paths
 * (scrub.h); the log line (r->detail, the engine's reports) keeps them.
 * The member k of o, if a string, is replaced by its scrubbed text; o
 * NULL is left alone. Out of memory: the member becomes null rather
 * than keep the paths.
 */
static void
scrub_member(json_object *o, const char *k)
{
	json_object	*v;
	const char	*s;
	char		*buf;
	size_t		 len;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	len = strlen(s);
	/* "(path)" may stand for a two-byte "/.": at most 3x as long. */
	if ((buf = malloc(len * 3 + 1)) == NULL) {
		json_object_object_add(o, k, NULL);
		return;
	}
	(void)sb_scrub_paths(s, buf, len * 3 + 1);
	if (strcmp(buf, s) != 0)
		json_object_object_add(o, k, json_object_new_string(buf));
	free(buf);
}

/* A backup or restore record as the browser sees it (scrub_member). */
static json_object *
scrub_record(json_object *o)
{
	scrub_member(o, "error");
	scrub_member(o, "verify_detail");
	return o;
}

/*
 * Send status and the common headers. Every answer is no-store: backup
 * listings and files must not sit in a shared or browser cache.
 */
static void
send_head(struct req *r, int status, const char *ctype, int64_t clen,
    const char *extra)
{
	FCGX_FPrintF(r->fcgx->out, "Status: %d %s\r\n"
	    "Content-Type: %s\r\nCache-Control: no-store\r\n",
	    status, http_reason(status), ctype);
	if (clen >= 0)
		FCGX_FPrintF(r->fcgx->out, "Content-Length: %lld\r\n",
		    (long long)clen);
	if (extra != NULL)
		FCGX_PutS(extra, r->fcgx->out);
	FCGX_PutS("\r\n", r->fcgx->out);
	r->status = status;
}

/* Answer o (released here) as JSON. A NULL o is an allocation failure. */
static void
reply_json_extra(struct req *r, int status, json_object *o,
    const char *extra)
{
	static const char	 oom[] =
	    "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
	const char		*s;
	size_t			 len;

	if (o == NULL || (s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	    NULL) {
		status = 500;
		s = oom;
		extra = NULL;
	}
	len = strlen(s);
	send_head(r, status, "application/json; charset=utf-8",
	    (int64_t)len + 1, extra);
	FCGX_PutStr(s, (int)len, r->fcgx->out);
	FCGX_PutChar('\n', r->fcgx->out);
	r->bytes = (int64_t)len + 1;
	json_object_put(o);
}

static void
reply_json(struct req *r, int status, json_object *o)
{
	reply_json_extra(r, status, o, NULL);
}

static void
reply_error(struct req *r, int status, const char *code, const char *msg)
{
	json_object	*o, *e;

	if (r->detail[0] == '\0')
		sb_strlcpy(r->detail, msg, sizeof(r->detail));
	o = http_error_json(code, msg);
	if (o != NULL && json_object_object_get_ex(o, "error", &e))
		scrub_member(e, "message");
	reply_json(r, status, o);
}

/*
 * Answer an engine failure. 4xx answers carry the engine's message (it
 * describes the client's request); 5xx ones a generic sentence, the
 * engine's message going only to the log (it may name paths or hosts).
 */
static void
reply_engine(struct req *r, enum sb_err rc)
{
	const char	*msg = "";
	int		 status = http_status_of(rc);

	if (*r->eng != NULL)
		msg = sb_engine_errmsg(*r->eng);
	if (msg == NULL || *msg == '\0')
		msg = sb_strerror(rc);
	sb_strlcpy(r->detail, msg, sizeof(r->detail));
	if (rc == SB_ERR_IDENTITY)
		msg = STORE_IDENTITY_MSG;
	else if (status >= 500)
		msg = status == 502 ? "the object store failed" :
		    "internal error";
	else if (rc == SB_ERR_BUSY)
		msg = sb_strerror(rc);
	reply_error(r, status, sb_errcode(rc), msg);
}

/* The worker's engine, opened on first use (and again after a failure). */
static struct sb_engine *
engine(struct req *r)
{
	char	err[SB_ERRMSG_MAX] = "";

	if (*r->eng == NULL &&
	    (r->open_rc = sb_engine_open(r->eng, r->cfg, err)) != SB_OK) {
		*r->eng = NULL;
		sb_log(SB_LOG_ERROR, "engine.open", "%s", err);
		sb_strlcpy(r->detail, err, sizeof(r->detail));
		return NULL;
	}
	return *r->eng;
}

/*
 * Answer a request whose engine could not be opened: 503 STORE_IDENTITY
 * when the store is not ours (an admin must act: init, mount), 500
 * otherwise. The details (paths, hosts) go to the log only.
 */
static void
reply_noengine(struct req *r)
{
	if (r->open_rc == SB_ERR_IDENTITY)
		reply_error(r, 503, sb_errcode(SB_ERR_IDENTITY),
		    STORE_IDENTITY_MSG);
	else
		reply_error(r, 500, "INTERNAL", "internal error");
}

/* --- request input ---------------------------------------------------------- */

/*
 * Routes without parameters still refuse any: an unknown one is a 400,
 * answered here (SB_ERR_INVAL; out of memory, 500).
 */
static enum sb_err
no_query(struct req *r)
{
	char		*buf = NULL;
	char		 err[HTTP_ERR_MAX];
	enum sb_err	 rc;

	rc = http_query_parse(r->query, NULL, 0, NULL, &buf, err);
	free(buf);
	if (rc == SB_ERR_NOMEM)
		reply_error(r, 500, "INTERNAL", "out of memory");
	else if (rc != SB_OK)
		reply_error(r, 400, "BAD_REQUEST", err);
	return rc;
}

/*
 * Read the whole request body (FastCGI stdin) into *out, at most max_body
 * bytes: CONTENT_LENGTH is checked first so an announced big body is
 * refused unread, and the read itself is capped in case it lies. Answers
 * the client itself (400, 413, 500) and returns the error on failure;
 * *out is NUL-terminated and the caller frees it.
 */
static enum sb_err
read_body(struct req *r, char **out, size_t *outlen)
{
	uint64_t	 max = r->cfg->max_body;
	int64_t		 clen = 0;
	size_t		 len = 0, cap;
	char		*buf;
	int		 n;

	*out = NULL;
	*outlen = 0;
	if (r->clen != NULL && *r->clen != '\0' &&
	    sb_parse_i64(r->clen, 0, INT64_MAX, &clen) != SB_OK) {
		reply_error(r, 400, "BAD_REQUEST", "bad Content-Length");
		return SB_ERR_INVAL;
	}
	if ((uint64_t)clen > max) {
		reply_error(r, 413, "BAD_REQUEST", "request body too large");
		return SB_ERR_INVAL;
	}
	cap = (size_t)max + 1;
	if ((buf = malloc(cap + 1)) == NULL) {
		reply_error(r, 500, "INTERNAL", "out of memory");
		return SB_ERR_NOMEM;
	}
	while (len < cap) {
		size_t want = cap - len;
		if (want > 65536)
			want = 65536;
		if ((n = FCGX_GetStr(buf + len, (int)want, r->fcgx->in)) <= 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		reply_error(r, 413, "BAD_REQUEST", "request body too large");
		return SB_ERR_INVAL;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return SB_OK;
}

/* Parse the body for a table of fields; answers 400 itself on failure. */
static enum sb_err
json_body(struct req *r, const struct http_jvalid *v, size_t nv, void *out)
{
	char		*buf = NULL;
	size_t		 len;
	char		 err[HTTP_ERR_MAX];
	enum sb_err	 rc;

	if ((rc = read_body(r, &buf, &len)) != SB_OK)
		return rc;
	rc = http_body_parse(buf, len, v, nv, out, err);
	free(buf);
	if (rc == SB_ERR_NOMEM) {
		reply_error(r, 500, "INTERNAL", "out of memory");
		return rc;
	}
	if (rc != SB_OK) {
		reply_error(r, 400, "BAD_REQUEST", err);
		return rc;
	}
	return SB_OK;
}

/* Ids are checked before anything touches storage: 400 if malformed. */
static enum sb_err
valid_id(struct req *r)
{
	if (!sb_is_uuid(r->id)) {
		reply_error(r, 400, "BAD_REQUEST",
		    "malformed backup id (expected a lowercase uuid)");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/* --- handlers ------------------------------------------------------------------ */

/*
 * GET /backups/health: 200 {"status":"ok"} when the catalog answers a
 * query, 503 otherwise. Public: it says nothing about any backup.
 */
static void
h_health(struct req *r)
{
	struct sb_filter	 f;
	struct sb_backup_list	 l;
	struct sb_engine	*e;
	json_object		*o;
	enum sb_err		 rc;

	if (no_query(r) != SB_OK)
		return;
	if ((e = engine(r)) == NULL) {
		if (r->open_rc == SB_ERR_IDENTITY)
			reply_noengine(r);
		else
			reply_error(r, 503, "INTERNAL", "catalog unavailable");
		return;
	}
	/* A store that is not ours needs an admin: say so here too. */
	if ((rc = sb_engine_store_ready(e)) == SB_ERR_IDENTITY) {
		sb_strlcpy(r->detail, sb_engine_errmsg(e), sizeof(r->detail));
		reply_error(r, 503, sb_errcode(rc), STORE_IDENTITY_MSG);
		return;
	}
	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	f.limit = 1;
	if ((rc = sb_engine_list(e, &f, &l)) != SB_OK) {
		sb_strlcpy(r->detail, sb_engine_errmsg(e), sizeof(r->detail));
		reply_error(r, 503, "INTERNAL", "catalog unavailable");
		return;
	}
	sb_backup_list_clear(&l);
	o = json_object_new_object();
	if (o != NULL)
		json_object_object_add(o, "status",
		    json_object_new_string("ok"));
	reply_json(r, 200, o);
}

/*
 * The overview status and metrics print (sb_engine_status), or an answer
 * already sent (-1).
 */
static int
overview(struct req *r, struct sb_overview *ov)
{
	struct sb_engine	*e;
	enum sb_err		 rc;

	if (no_query(r) != SB_OK)
		return -1;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return -1;
	}
	if ((rc = sb_engine_status(e, ov)) != SB_OK) {
		reply_engine(r, rc);
		return -1;
	}
	return 0;
}

/*
 * The "running" member of GET /backups/status: every backup or restore
 * running now, with its backup_id (the page cannot know the id of a
 * backup whose POST has not returned). -1 when out of memory (nothing
 * answered; o still the caller's) or the catalog failed (o released,
 * answered).
 */
static int
status_running(struct req *r, json_object *o)
{
	struct sb_running	 run[SB_RUNNING_MAX];
	json_object		*arr, *j;
	size_t			 n = 0;
	enum sb_err		 rc;

	if ((rc = sb_engine_running(*r->eng, NULL, run, SB_RUNNING_MAX,
	    &n)) != SB_OK) {
		json_object_put(o);
		reply_engine(r, rc);
		return -1;
	}
	if ((arr = json_object_new_array()) == NULL ||
	    json_object_object_add(o, "running", arr) != 0) {
		json_object_put(arr);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((j = sb_running_json(&run[i], 1)) == NULL ||
		    json_object_array_add(arr, j) != 0) {
			json_object_put(j);
			return -1;
		}
	return 0;
}

/*
 * GET /backups/status: the overview (json.h, sb_overview_json), its
 * reasons without server paths, and what runs now.
 */
static void
h_status(struct req *r)
{
	struct sb_overview	 ov;
	json_object		*o, *m;

	if (overview(r, &ov) != 0)
		return;
	if ((o = sb_overview_json(&ov)) == NULL) {
		reply_json(r, 500, NULL);
		return;
	}
	if (json_object_object_get_ex(o, "health", &m))
		scrub_member(m, "reason");
	if (json_object_object_get_ex(o, "prune", &m))
		scrub_member(m, "reason");
	if (status_running(r, o) == 0)
		reply_json(r, 200, o);
	else if (r->status == 0) {	/* out of memory, not answered */
		json_object_put(o);
		reply_json(r, 500, NULL);
	}
}

/* GET /backups/metrics: the same in the Prometheus text format 0.0.4. */
static void
h_metrics(struct req *r)
{
	struct sb_overview	 ov;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*f;

	if (overview(r, &ov) != 0)
		return;
	if ((f = open_memstream(&buf, &len)) == NULL ||
	    sb_metrics_write(f, &ov) != SB_OK) {
		if (f != NULL)
			fclose(f);
		free(buf);
		reply_error(r, 500, "INTERNAL", "out of memory");
		return;
	}
	fclose(f);
	send_head(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    (int64_t)len, NULL);
	FCGX_PutStr(buf, (int)len, r->fcgx->out);
	r->bytes = (int64_t)len;
	free(buf);
}

/*
 * GET /backups?type&status&from&to&q&limit&offset: newest first, with
 * the number of every match in X-Total-Count (the page's "of N": the
 * body stays a plain array, as clients of the first version read it).
 */
static void
h_list(struct req *r)
{
	struct sb_filter	 f;
	struct sb_backup_list	 l;
	struct sb_engine	*e;
	json_object		*arr;
	char			*qbuf = NULL;
	char			 err[HTTP_ERR_MAX], extra[64];
	int64_t			 total;
	enum sb_err		 rc;

	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	rc = http_query_parse(r->query, http_list_params, http_list_nparams,
	    &f, &qbuf, err);
	if (rc == SB_OK)
		rc = sb_filter_check(&f, err);
	if (rc != SB_OK) {
		reply_error(r, rc == SB_ERR_NOMEM ? 500 : 400,
		    rc == SB_ERR_NOMEM ? "INTERNAL" : "BAD_REQUEST",
		    rc == SB_ERR_NOMEM ? "out of memory" : err);
		goto out;
	}
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		goto out;
	}
	if ((rc = sb_engine_list(e, &f, &l)) != SB_OK ||
	    (rc = sb_engine_count(e, &f, &total)) != SB_OK) {
		reply_engine(r, rc);
		goto out;
	}
	(void)snprintf(extra, sizeof(extra), "X-Total-Count: %lld\r\n",
	    (long long)total);
	if ((arr = json_object_new_array_ext((int)l.n)) == NULL) {
		reply_json(r, 500, NULL);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		json_object *b = scrub_record(sb_backup_json(&l.v[i]));
		if (b == NULL || json_object_array_add(arr, b) != 0) {
			json_object_put(b);
			json_object_put(arr);
			reply_json(r, 500, NULL);
			goto out;
		}
	}
	reply_json_extra(r, 200, arr, extra);
out:
	sb_backup_list_clear(&l);
	free(qbuf);
}

/* POST /backups {description?, tags?}: 201 with the completed backup. */
static void
h_create(struct req *r)
{
	struct http_create_body	 body;
	struct sb_backup	 b;
	struct sb_engine	*e;
	char			 loc[128];
	enum sb_err		 rc;

	memset(&body, 0, sizeof(body));
	memset(&b, 0, sizeof(b));
	if (no_query(r) != SB_OK || json_body(r, http_create_fields,
	    http_create_nfields, &body) != SB_OK)
		goto out;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		goto out;
	}
	rc = sb_engine_create(e, SB_TYPE_MANUAL, body.description,
	    (const char *const *)body.tags, body.ntags, &b);
	if (rc != SB_OK) {
		reply_engine(r, rc);
		goto out;
	}
	snprintf(loc, sizeof(loc), "Location: /backups/%s\r\n", b.id);
	reply_json_extra(r, 201, scrub_record(sb_backup_json(&b)), loc);
out:
	sb_backup_clear(&b);
	http_create_body_clear(&body);
}

/*
 * GET /backups/:id: one backup (beyond the spec; the page uses it), with
 * "progress": the backup or restore running on it now (the backup being
 * created, or restored from), or null.
 */
static void
h_get(struct req *r)
{
	struct sb_running	 run[SB_RUNNING_MAX];
	struct sb_backup	 b;
	struct sb_engine	*e;
	json_object		*o, *p = NULL;
	size_t			 n = 0;
	enum sb_err		 rc;

	memset(&b, 0, sizeof(b));
	if (no_query(r) != SB_OK || valid_id(r) != SB_OK)
		return;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return;
	}
	if ((rc = sb_engine_get(e, r->id, &b)) != SB_OK ||
	    (rc = sb_engine_running(e, r->id, run, SB_RUNNING_MAX, &n)) !=
	    SB_OK) {
		reply_engine(r, rc);
		goto out;
	}
	o = scrub_record(sb_backup_json(&b));
	if (o != NULL && n > 0 && (p = sb_running_json(&run[0], 0)) == NULL) {
		json_object_put(o);
		o = NULL;
	}
	if (o != NULL && json_object_object_add(o, "progress", p) != 0) {
		json_object_put(o);
		o = NULL;
	}
	reply_json(r, 200, o);
out:
	sb_backup_clear(&b);
}

/*
 * Is the body empty? DELETE takes none: anything else is refused rather
 * than silently ignored.
 */
static enum sb_err
empty_body(struct req *r)
{
	char		*buf = NULL;
	size_t		 len;
	enum sb_err	 rc;

	if ((rc = read_body(r, &buf, &len)) != SB_OK)
		return rc;
	free(buf);
	if (len > 0) {
		reply_error(r, 400, "BAD_REQUEST", "DELETE takes no body");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/* DELETE /backups/:id: manual backups only. */
static void
h_delete(struct req *r)
{
	struct sb_engine	*e;
	json_object		*o;
	enum sb_err		 rc;

	if (no_query(r) != SB_OK || valid_id(r) != SB_OK || empty_body(r) != SB_OK)
		return;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return;
	}
	if ((rc = sb_engine_delete(e, r->id)) != SB_OK) {
		reply_engine(r, rc);
		return;
	}
	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "deleted",
		    json_object_new_string(r->id));
	reply_json(r, 200, o);
}

/*
 * POST /backups/:id/restore {confirm: true}: synchronous; the engine takes
 * a safety backup of the live DB first and the answer names it.
 */
static void
h_restore(struct req *r)
{
	struct http_restore_body	 body;
	struct sb_restore		 res;
	struct sb_engine		*e;
	enum sb_err			 rc;

	memset(&body, 0, sizeof(body));
	memset(&res, 0, sizeof(res));
	if (no_query(r) != SB_OK || valid_id(r) != SB_OK ||
	    json_body(r, http_restore_fields, http_restore_nfields,
	    &body) != SB_OK)
		return;
	if (!body.confirm) {
		reply_error(r, 400, "BAD_REQUEST",
		    "restore replaces the live database: send "
		    "{\"confirm\": true}");
		return;
	}
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return;
	}
	if ((rc = sb_engine_restore(e, r->id, &res)) != SB_OK)
		reply_engine(r, rc);
	else
		reply_json(r, 200, scrub_record(sb_restore_json(&res)));
	sb_restore_clear(&res);
}

/*
 * POST /backups/:id/drill (body empty or {}): a restore drill, run now
 * and answered when done, like a restore. A verdict either way is 200
 * with the backup and its drill result (verify_status ok or failed): the
 * drill ran, and the record says what it found. It could not run (store,
 * disk): the engine's error.
 */
static void
h_drill(struct req *r)
{
	struct sb_backup	 b;
	struct sb_engine	*e;
	enum sb_err		 rc;

	memset(&b, 0, sizeof(b));
	if (no_query(r) != SB_OK || valid_id(r) != SB_OK ||
	    json_body(r, NULL, 0, NULL) != SB_OK)
		return;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return;
	}
	rc = sb_engine_drill(e, r->id, &b);
	if ((rc == SB_OK || rc == SB_ERR_CORRUPT) && b.id[0] != '\0')
		reply_json(r, 200, scrub_record(sb_backup_json(&b)));
	else
		reply_engine(r, rc == SB_ERR_CORRUPT ? SB_ERR_DB : rc);
	sb_backup_clear(&b);
}

/*
 * Streaming state of a download: the engine hands over the backup's name
 * and size (dl_begin) once it has decided there is something to send;
 * headers go out with the first bytes.
 */
struct dl {
	struct req	*r;
	char		 name[SB_NAME_MAX + 1];
	int64_t		 size;
	int		 begun;		/* dl_begin was called */
	int		 started;	/* headers sent */
	int		 failed;	/* the client went away */
};

static void
dl_start(struct dl *d)
{
	char	extra[SB_NAME_MAX + 64];

	snprintf(extra, sizeof(extra),
	    "Content-Disposition: attachment; filename=\"%s\"\r\n", d->name);
	send_head(d->r, 200, "application/octet-stream", d->size, extra);
	d->started = 1;
}

/* An object name safe inside a quoted header value: [A-Za-z0-9._-]. */
static int
is_safe_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > SB_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == strlen(s);
}

/* The download's name and size, from the record the engine found. */
static void
dl_begin(void *arg, const struct sb_backup *b)
{
	struct dl	*d = arg;

	if (is_safe_name(b->location))
		sb_strlcpy(d->name, b->location, sizeof(d->name));
	else
		snprintf(d->name, sizeof(d->name), "backup-%s.db", b->id);
	d->size = b->size;
	d->begun = 1;
}

static int
dl_write(void *arg, const void *buf, size_t len)
{
	struct dl	*d = arg;

	if (!d->started)
		dl_start(d);
	while (len > 0) {
		int n = len > 65536 ? 65536 : (int)len;
		if (FCGX_PutStr(buf, n, d->r->fcgx->out) != n) {
			d->failed = 1;
			return -1;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
		d->r->bytes += n;
	}
	return 0;
}

/*
 * GET /backups/:id/download: the stored file, streamed with its size as
 * Content-Length. The engine decides what can be downloaded (completed
 * backups only; 404 otherwise). Headers wait for the first byte, so a
 * failure before it is still a JSON error; a failure after it can only
 * cut the stream short, which the client sees as a body shorter than
 * Content-Length.
 */
static void
h_download(struct req *r)
{
	struct sb_download_cb	 cb;
	struct sb_engine	*e;
	struct dl		 d;
	enum sb_err		 rc;

	if (no_query(r) != SB_OK || valid_id(r) != SB_OK)
		return;
	if ((e = engine(r)) == NULL) {
		reply_noengine(r);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.r = r;
	cb.begin = dl_begin;
	cb.write = dl_write;
	cb.arg = &d;
	rc = sb_engine_download(e, r->id, &cb);
	if (rc != SB_OK && !d.started) {
		reply_engine(r, rc);
		return;
	}
	if (rc != SB_OK) {
		/* Too late for a status: log it; the short body tells. */
		snprintf(r->detail, sizeof(r->detail), "download cut: %s",
		    d.failed ? "client went away" : sb_engine_errmsg(e));
		return;
	}
	if (!d.started && d.begun)	/* an empty object */
		dl_start(&d);
}

/* --- dispatch ------------------------------------------------------------------ */

/*
 * Route one request: path syntax (400), route (404, 405 with Allow),
 * identity (401 without SAF_USER_ID, 403 without the "*" scope), content
 * type of state-changing requests (415), then the handler. Identity comes
 * only from the SAF_USER_* parameters nginx sets from its auth gateway;
 * the client's own X-User-* headers (HTTP_X_USER_*) are never read.
 */
void
routes_dispatch(struct req *r)
{
	const struct http_route	*rt;
	char			 err[HTTP_ERR_MAX];
	char			 allow[64], hdr[96];

	if (http_path_parse(r->uri, &r->path, err) != SB_OK) {
		reply_error(r, 400, "BAD_REQUEST", err);
		return;
	}
	switch (http_route_match(routes, NROUTES, r->method, &r->path, &rt,
	    &r->id, allow, sizeof(allow))) {
	case HTTP_MATCH_NOTFOUND:
		reply_error(r, 404, "NOT_FOUND", "no such route");
		return;
	case HTTP_MATCH_METHOD:
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		if (r->detail[0] == '\0')
			sb_strlcpy(r->detail, "method not allowed",
			    sizeof(r->detail));
		reply_json_extra(r, 405, http_error_json("BAD_REQUEST",
		    "method not allowed on this route"), hdr);
		return;
	case HTTP_MATCH_OK:
		break;
	}
	r->route = rt->pattern;
	if (rt->auth) {
		if (r->user == NULL || *r->user == '\0') {
			reply_error(r, 401, "UNAUTHENTICATED",
			    "authentication required");
			return;
		}
		if (!http_is_admin(r->scopes)) {
			reply_error(r, 403, "FORBIDDEN",
			    "backups need the \"*\" scope");
			return;
		}
	}
	if ((r->method == HTTP_POST || r->method == HTTP_DELETE) &&
	    !http_is_json(r->ctype)) {
		reply_error(r, 415, "BAD_REQUEST",
		    "Content-Type must be application/json");
		return;
	}
	rt->handler(r);
}

/*
 * Refuse a client that may not talk to backupd (peer.c): 403 PEER_REFUSED
 * before any route is looked at, so no handler runs. why goes to the log
 * line only: the client is told nothing about which check failed.
 */
void
routes_refuse(struct req *r, const char *why)
{
	sb_strlcpy(r->detail, why, sizeof(r->detail));
	reply_error(r, 403, "PEER_REFUSED",
	    "this client may not talk to backupd");
}
