/*
 * http.h - parsing what a client sends to backupd, with no FastCGI and no
 * engine in sight, so that unit tests and libFuzzer harnesses link only
 * this file, util.c and json-c.
 *
 * Everything here is strict: an unknown query parameter, an unknown JSON
 * field, a bad percent escape, a path segment that decodes to '/', a body
 * nested deeper than the cap - each is an error with a human message,
 * answered 400 by the caller. Request fields are validated through one
 * table of (name, validator) per route, as kcgi's struct kvalid does.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sb.h"

#define HTTP_ERR_MAX		SB_ERRMSG_MAX /* bytes of a parse error message:
					   sb_seterr's size, the one size */
#define HTTP_PATH_MAX		1024	/* longest raw path accepted */
#define HTTP_QUERY_MAX		4096	/* longest raw query string accepted */
#define HTTP_SEGS_MAX		8	/* most path segments */
#define HTTP_JSON_DEPTH		8	/* JSON nesting cap */

enum http_method {
	HTTP_GET = 0,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_PATCH,
	HTTP_OPTIONS,
	HTTP_OTHER,
	HTTP__MAX
};

enum http_method	 http_method_parse(const char *);
const char		*http_method_str(enum http_method);

/*
 * A request path split into percent-decoded segments. "/backups/x/restore"
 * gives {"backups", "x", "restore"}. The segments point into buf, which
 * the struct owns; http_path_clear() releases it.
 */
struct http_path {
	char	*buf;
	char	*seg[HTTP_SEGS_MAX];
	size_t	 nseg;
};

/*
 * Split the path part of a REQUEST_URI (anything from '?' on is ignored).
 * Refuses (SB_ERR_INVAL, message in err): no leading '/', longer than
 * HTTP_PATH_MAX, an empty segment ("//", trailing '/'), more than
 * HTTP_SEGS_MAX segments, a bad percent escape, a segment that decodes to
 * something with '/', NUL, a control byte or invalid UTF-8, and the dot
 * segments "." and "..". SB_ERR_NOMEM on allocation failure.
 */
enum sb_err	http_path_parse(const char *uri, struct http_path *,
		    char *err);
void	http_path_clear(struct http_path *);

/*
 * Percent-decode src[0..len) into dst (at least len + 1 bytes), with '+'
 * as space when plus is set (application/x-www-form-urlencoded). *outlen
 * gets the decoded length; dst is NUL-terminated. Returns SB_ERR_INVAL on
 * a malformed escape or a decoded NUL.
 */
enum sb_err	http_pct_decode(const char *src, size_t len, int plus,
		    char *dst, size_t *outlen);

/*
 * A validator of a query parameter: parses the decoded value into the
 * route's own output structure; arg is the table entry's (one validator
 * can serve several parameters). SB_OK when the value is good, otherwise
 * SB_ERR_INVAL, with a reason in err (HTTP_ERR_MAX bytes) that the parser
 * puts after the parameter's name.
 */
typedef enum sb_err	(*http_kvalid_fn)(const char *val, int arg,
			    void *out, char *err);

/* One query parameter a route accepts: its name and its validator. */
struct http_kvalid {
	const char	*name;
	http_kvalid_fn	 valid;
	int		 arg;
};

/*
 * Parse a query string (application/x-www-form-urlencoded, RFC 3986 s3.4)
 * against the table v of nv accepted names. Every pair must be name=value
 * with a known name given at most once; values are decoded and must be
 * valid UTF-8 without control bytes. The validators write into out and
 * may keep pointers to the decoded value: those point into *bufp, which
 * the caller frees (also on failure). An empty or NULL query is no
 * parameter at all. Returns SB_OK, SB_ERR_INVAL with err, SB_ERR_NOMEM.
 */
enum sb_err	http_query_parse(const char *qs, const struct http_kvalid *v,
		    size_t nv, void *out, char **bufp, char *err);

/*
 * The validators of GET /backups, writing into a struct sb_filter through
 * the core's filter parser (filter.h), which also checks the rules between
 * fields (sb_filter_check) once all are parsed.
 */
extern const struct http_kvalid	 http_list_params[];
extern const size_t		 http_list_nparams;

/*
 * Parse a JSON body of len bytes (not NUL-terminated) that must be one
 * object, nested at most depth levels, with only strict JSON (RFC 8259)
 * and valid UTF-8, and nothing but whitespace after it. An empty body is
 * an empty object. *out gets the object (caller: json_object_put).
 */
enum sb_err	http_json_parse(const char *buf, size_t len, int depth,
		    json_object **out, char *err);

/*
 * A JSON body field a route accepts: name and validator writing into the
 * route's output (SB_OK, or an error with a reason in err). Validators
 * must copy what they keep: the json object is released by the caller.
 */
typedef enum sb_err	(*http_jvalid_fn)(json_object *val, void *out,
			    char *err);
struct http_jvalid {
	const char	*name;
	http_jvalid_fn	 valid;
};

/*
 * Check every member of obj against the table: unknown names are an error,
 * each known one must pass its validator. SB_ERR_INVAL with err.
 */
enum sb_err	http_json_fields(json_object *obj, const struct http_jvalid *v,
		    size_t nv, void *out, char *err);

/* The body of POST /backups: {description?, tags?[]}. */
struct http_create_body {
	char	*description;			/* NULL: none */
	char	*tags[SB_TAGS_MAX];
	size_t	 ntags;
};
void	http_create_body_clear(struct http_create_body *);
extern const struct http_jvalid	 http_create_fields[];
extern const size_t		 http_create_nfields;

/* The body of POST /backups/:id/restore: {confirm: true}. */
struct http_restore_body {
	int	confirm;			/* 1 only when true was sent */
};
extern const struct http_jvalid	 http_restore_fields[];
extern const size_t		 http_restore_nfields;

/*
 * Parse and validate a whole body for a table: http_json_parse then
 * http_json_fields. Convenience for handlers and the fuzz harness.
 */
enum sb_err	http_body_parse(const char *buf, size_t len,
		    const struct http_jvalid *v, size_t nv, void *out,
		    char *err);

/*
 * Is ct (a Content-Type value) application/json? Media type compared
 * case-insensitively (RFC 9110 s8.3.1); parameters allowed, but a charset
 * other than utf-8 is refused. NULL or empty: no.
 */
int	http_is_json(const char *ct);

/*
 * Do the scopes (separated by spaces or commas) contain exactly "*"?
 */
int	http_is_admin(const char *scopes);

/*
 * A route: a method and a pattern of segments where ":id" captures one
 * segment, and its handler. struct req is backupd's (backupd.h): this
 * file only matches routes and never calls a handler.
 */
struct req;
typedef void	(*http_handler_fn)(struct req *);

struct http_route {
	enum http_method	 method;
	const char		*pattern;	/* "/backups/:id/restore" */
	http_handler_fn		 handler;
	int			 auth;		/* needs SAF_USER_* with "*" */
	const char		*codes;		/* statuses it can answer */
};

enum http_match {
	HTTP_MATCH_OK = 0,	/* *route and *id set */
	HTTP_MATCH_NOTFOUND,	/* no pattern fits the path */
	HTTP_MATCH_METHOD	/* a pattern fits, not with this method */
};

/*
 * Find the first route of the table whose pattern fits the path and whose
 * method is the request's. HEAD is not GET here (no route answers HEAD).
 * With HTTP_MATCH_METHOD, allow (may be NULL) gets the allowed methods,
 * comma separated, for the Allow header (RFC 9110 s15.5.6).
 */
enum http_match	http_route_match(const struct http_route *t, size_t n,
		    enum http_method, const struct http_path *,
		    const struct http_route **route, const char **id,
		    char *allow, size_t allowlen);

/* {"error":{"code":code,"message":msg}}; NULL on allocation failure. */
json_object	*http_error_json(const char *code, const char *msg);

/*
 * The HTTP status and stable code answering an engine error (sb_errcode
 * gives the code): NOTFOUND 404, AUTOMATIC 400, BUSY 409, CORRUPT 422,
 * INVAL 400, STORAGE and AUTH 502 (the store behind us failed: a gateway
 * error), anything else 500 INTERNAL.
 */
int	http_status_of(enum sb_err);

/* Reason phrase of a status we use ("Not Found"); "Unknown" otherwise. */
const char	*http_reason(int status);

#endif /* SB_HTTP_H */
