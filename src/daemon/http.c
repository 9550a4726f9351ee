/*
 * http.c - request parsing and validation for backupd: methods, paths,
 * query strings, JSON bodies, content types, scopes, route matching, and
 * the JSON shapes of the answers. Pure: no FastCGI, no engine, no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "sb.h"
#include "http.h"
#include "json.h"
#include "filter.h"

static const char *const methods[HTTP__MAX] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"
};

enum http_method
http_method_parse(const char *s)
{
	if (s == NULL)
		return HTTP_OTHER;
	for (int i = 0; i < HTTP_OTHER; i++)
		if (strcmp(s, methods[i]) == 0)	/* methods are case-sensitive */
			return (enum http_method)i;
	return HTTP_OTHER;
}

const char *
http_method_str(enum http_method m)
{
	return (unsigned)m < HTTP__MAX ? methods[m] : "OTHER";
}

/*
 * RFC 3986 s2.1: '%' HEXDIG HEXDIG. A '%' not followed by two hex digits
 * is an error (not passed through, as some servers do: strict input).
 */
enum sb_err
http_pct_decode(const char *src, size_t len, int plus, char *dst,
    size_t *outlen)
{
	size_t	i, o = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)src[i];
		if (c == '%') {
			int hi, lo;
			if (len - i < 3 ||
			    (hi = sb_hexval((unsigned char)src[i + 1])) < 0 ||
			    (lo = sb_hexval((unsigned char)src[i + 2])) < 0)
				return SB_ERR_INVAL;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (c == '\0')
			return SB_ERR_INVAL;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	*outlen = o;
	return SB_OK;
}

/* No ASCII control byte (C0 or DEL) in s. */
static int
is_control_free(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

void
http_path_clear(struct http_path *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/*
 * Split and decode a path (RFC 3986 s3.3). The raw path is copied into
 * one buffer; segments are decoded in place (decoding only shrinks) and
 * NUL-terminated where their '/' was.
 */
enum sb_err
http_path_parse(const char *uri, struct http_path *p, char *err)
{
	size_t		 len, start, i;
	enum sb_err	 rc = SB_ERR_INVAL;

	memset(p, 0, sizeof(*p));
	if (uri == NULL || uri[0] != '/') {
		sb_seterr(err, "path must start with /");
		goto out;
	}
	len = strcspn(uri, "?#");
	if (len > HTTP_PATH_MAX) {
		sb_seterr(err, "path longer than %d bytes", HTTP_PATH_MAX);
		goto out;
	}
	if ((p->buf = malloc(len + 1)) == NULL) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	memcpy(p->buf, uri, len);
	p->buf[len] = '\0';

	/* "/" alone has no segment; otherwise every '/' opens one. */
	if (len == 1) {
		rc = SB_OK;
		goto out;
	}
	start = 1;
	for (i = 1; i <= len; i++) {
		char	*seg;
		size_t	 slen, dlen;

		if (i < len && p->buf[i] != '/')
			continue;
		seg = p->buf + start;
		slen = i - start;
		if (slen == 0) {
			sb_seterr(err, "empty path segment");
			goto out;
		}
		if (p->nseg == HTTP_SEGS_MAX) {
			sb_seterr(err, "too many path segments");
			goto out;
		}
		if (http_pct_decode(seg, slen, 0, seg, &dlen) != SB_OK) {
			sb_seterr(err, "bad percent escape in path");
			goto out;
		}
		if (memchr(seg, '/', dlen) != NULL || !is_control_free(seg, dlen) ||
		    !sb_is_utf8(seg, dlen)) {
			sb_seterr(err, "bad character in path segment");
			goto out;
		}
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
			sb_seterr(err, "dot segment in path");
			goto out;
		}
		p->seg[p->nseg++] = seg;
		start = i + 1;
	}
	rc = SB_OK;
out:
	if (rc != SB_OK)
		http_path_clear(p);
	return rc;
}

/*
 * One name=value pair of a query string, NUL-terminated in place: decode
 * it, find its name in the table (seen marks the names already given) and
 * run its validator, whose reason goes after the name in err.
 */
static enum sb_err
query_pair(char *p, const struct http_kvalid *v, size_t nv,
    unsigned char *seen, void *out, char *err)
{
	char	*eq, *val, why[SB_ERRMSG_MAX];
	size_t	 nlen, vlen, k;

	if (*p == '\0') {
		sb_seterr(err, "empty query parameter");
		return SB_ERR_INVAL;
	}
	if ((eq = strchr(p, '=')) == NULL) {
		sb_seterr(err, "query parameter without '='");
		return SB_ERR_INVAL;
	}
	*eq = '\0';
	val = eq + 1;
	if (http_pct_decode(p, strlen(p), 1, p, &nlen) != SB_OK ||
	    http_pct_decode(val, strlen(val), 1, val, &vlen) != SB_OK) {
		sb_seterr(err, "bad percent escape in query string");
		return SB_ERR_INVAL;
	}
	if (!is_control_free(p, nlen) || !sb_is_utf8(p, nlen)) {
		sb_seterr(err, "bad query parameter name");
		return SB_ERR_INVAL;
	}
	for (k = 0; k < nv; k++)
		if (strcmp(v[k].name, p) == 0)
			break;
	if (k == nv) {
		/* Names are printable by now; cap what we echo. */
		sb_seterr(err, "unknown query parameter '%.32s'", p);
		return SB_ERR_INVAL;
	}
	if (seen[k]) {
		sb_seterr(err, "query parameter '%s' given twice", v[k].name);
		return SB_ERR_INVAL;
	}
	seen[k] = 1;
	if (!is_control_free(val, vlen) || !sb_is_utf8(val, vlen)) {
		sb_seterr(err, "bad characters in query parameter '%s'",
		    v[k].name);
		return SB_ERR_INVAL;
	}
	why[0] = '\0';
	if (v[k].valid(val, v[k].arg, out, why) != SB_OK) {
		sb_seterr(err, "%s: %s", v[k].name, why[0] != '\0' ? why :
		    "bad value");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/*
 * Query strings. The raw string is copied once into *bufp and decoded in
 * place pair by pair, so validators can keep pointers to values without
 * another allocation. A name may not repeat: "limit=1&limit=2" is
 * ambiguous, and ambiguity is refused.
 */
enum sb_err
http_query_parse(const char *qs, const struct http_kvalid *v, size_t nv,
    void *out, char **bufp, char *err)
{
	unsigned char	 seen[64];
	char		*buf, *p, *end;
	size_t		 len;
	enum sb_err	 rc;

	*bufp = NULL;
	if (qs == NULL || *qs == '\0')
		return SB_OK;
	if (nv > sizeof(seen))
		return SB_ERR_INVAL;
	memset(seen, 0, sizeof(seen));
	len = strlen(qs);
	if (len > HTTP_QUERY_MAX) {
		sb_seterr(err, "query string longer than %d bytes",
		    HTTP_QUERY_MAX);
		return SB_ERR_INVAL;
	}
	if ((buf = malloc(len + 1)) == NULL)
		return SB_ERR_NOMEM;
	memcpy(buf, qs, len + 1);
	*bufp = buf;
	for (p = buf; p != NULL && p < buf + len; p = end) {
		if ((end = strchr(p, '&')) != NULL)
			*end++ = '\0';
		if ((rc = query_pair(p, v, nv, seen, out, err)) != SB_OK)
			return rc;
	}
	return SB_OK;
}

/* --- GET /backups filters ------------------------------------------------ */

/*
 * Every filter is parsed by the core (filter.h), as `backup-cron list`
 * does: arg is the field's enum sb_filter_key.
 */
static enum sb_err
v_filter(const char *val, int arg, void *out, char *err)
{
	return sb_filter_set(out, (enum sb_filter_key)arg, val, err);
}

const struct http_kvalid http_list_params[] = {
	{ "type", v_filter, SB_FILTER_TYPE },
	{ "status", v_filter, SB_FILTER_STATUS },
	{ "from", v_filter, SB_FILTER_FROM },
	{ "to", v_filter, SB_FILTER_TO },
	{ "q", v_filter, SB_FILTER_Q },
	{ "limit", v_filter, SB_FILTER_LIMIT },
	{ "offset", v_filter, SB_FILTER_OFFSET },
};
const size_t http_list_nparams =
    sizeof(http_list_params) / sizeof(http_list_params[0]);

/* --- JSON bodies ----------------------------------------------------------- */

static enum sb_err
hex4(const char *p, const char *end, unsigned *cp)
{
	unsigned	v = 0;

	if (end - p < 4)
		return SB_ERR_INVAL;
	for (int i = 0; i < 4; i++) {
		int h = sb_hexval((unsigned char)p[i]);
		if (h < 0)
			return SB_ERR_INVAL;
		v = v * 16 + (unsigned)h;
	}
	*cp = v;
	return SB_OK;
}

/*
 * RFC 8259 s8.2: a \u escape of a lone surrogate is not a character.
 * json-c turns one into U+FFFD silently; we refuse it instead, since a
 * client sending one sends something it did not mean. Walks the raw text
 * tracking strings and escapes; the tokener judges everything else.
 */
static int
is_surrogate_free(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;
	int		 instr = 0;
	unsigned	 cp, lo;

	while (p < end) {
		if (!instr) {
			if (*p++ == '"')
				instr = 1;
			continue;
		}
		if (*p == '"') {
			instr = 0;
			p++;
			continue;
		}
		if (*p != '\\') {
			p++;
			continue;
		}
		if (end - p < 2)
			return 1;		/* the tokener will refuse it */
		if (p[1] != 'u') {
			p += 2;
			continue;
		}
		if (hex4(p + 2, end, &cp) != SB_OK)
			return 1;
		p += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return 0;		/* low without high */
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    hex4(p + 2, end, &lo) != SB_OK || lo < 0xdc00 ||
			    lo > 0xdfff)
				return 0;	/* high without low */
			p += 6;
		}
	}
	return 1;
}

/*
 * json-c's tokener with strict mode (RFC 8259 only: no comments, no
 * single quotes, no trailing commas) and UTF-8 validation, and a depth
 * cap, so a body of a million '[' costs nothing. The whole buffer must be
 * consumed; a NUL byte inside is refused before json-c sees it (it would
 * end the parse early).
 */
enum sb_err
http_json_parse(const char *buf, size_t len, int depth, json_object **out,
    char *err)
{
	struct json_tokener	*tok = NULL;
	json_object		*obj = NULL;
	enum json_tokener_error	 jerr;
	size_t			 end;
	enum sb_err		 rc = SB_ERR_INVAL;

	*out = NULL;
	if (len == 0) {
		if ((*out = json_object_new_object()) == NULL)
			return SB_ERR_NOMEM;
		return SB_OK;
	}
	if (len > INT32_MAX) {
		sb_seterr(err, "body too large");
		return SB_ERR_INVAL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		sb_seterr(err, "NUL byte in body");
		return SB_ERR_INVAL;
	}
	if (!is_surrogate_free(buf, len)) {
		sb_seterr(err, "lone UTF-16 surrogate in a JSON string");
		return SB_ERR_INVAL;
	}
	if ((tok = json_tokener_new_ex(depth)) == NULL)
		return SB_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		sb_seterr(err, "body is not complete JSON");
		goto out;
	}
	if (jerr != json_tokener_success || obj == NULL) {
		sb_seterr(err, "body is not valid JSON: %s",
		    json_tokener_error_desc(jerr));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	for (; end < len; end++)
		if (!strchr(" \t\r\n", buf[end])) {
			sb_seterr(err, "trailing data after the JSON body");
			goto out;
		}
	if (!json_object_is_type(obj, json_type_object)) {
		sb_seterr(err, "body must be a JSON object");
		goto out;
	}
	*out = obj;
	obj = NULL;
	rc = SB_OK;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return rc;
}

enum sb_err
http_json_fields(json_object *obj, const struct http_jvalid *v, size_t nv,
    void *out, char *err)
{
	struct json_object_iterator	it, end;

	if (!json_object_is_type(obj, json_type_object)) {
		sb_seterr(err, "body must be a JSON object");
		return SB_ERR_INVAL;
	}
	it = json_object_iter_begin(obj);
	end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		const char	*name = json_object_iter_peek_name(&it);
		size_t		 k;

		for (k = 0; k < nv; k++)
			if (strcmp(v[k].name, name) == 0)
				break;
		if (k == nv) {
			size_t nl = strlen(name);
			if (nl <= 32 && is_control_free(name, nl))
				sb_seterr(err, "unknown field '%s'", name);
			else
				sb_seterr(err, "unknown field");
			return SB_ERR_INVAL;
		}
		if (err != NULL)
			err[0] = '\0';
		if (v[k].valid(json_object_iter_peek_value(&it), out,
		    err) != SB_OK) {
			if (err != NULL && err[0] == '\0')
				sb_seterr(err, "bad value for field '%s'",
				    v[k].name);
			return SB_ERR_INVAL;
		}
	}
	return SB_OK;
}

void
http_create_body_clear(struct http_create_body *b)
{
	if (b == NULL)
		return;
	free(b->description);
	for (size_t i = 0; i < b->ntags; i++)
		free(b->tags[i]);
	memset(b, 0, sizeof(*b));
}

/* A JSON string of exactly its length (json-c strings may hold NULs). */
static const char *
jstring(json_object *j)
{
	const char	*s;

	if (!json_object_is_type(j, json_type_string))
		return NULL;
	s = json_object_get_string(j);
	if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(j))
		return NULL;
	return s;
}

static enum sb_err
j_description(json_object *j, void *out, char *err)
{
	struct http_create_body	*b = out;
	const char		*s;

	if ((s = jstring(j)) == NULL || !sb_is_description(s)) {
		sb_seterr(err, "description must be a string of at most %d "
		    "bytes without control characters", SB_DESC_MAX);
		return SB_ERR_INVAL;
	}
	free(b->description);
	if ((b->description = strdup(s)) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	return SB_OK;
}

static enum sb_err
j_tags(json_object *j, void *out, char *err)
{
	struct http_create_body	*b = out;
	size_t			 n, i, k;

	if (!json_object_is_type(j, json_type_array)) {
		sb_seterr(err, "tags must be an array of strings");
		return SB_ERR_INVAL;
	}
	n = json_object_array_length(j);
	if (n > SB_TAGS_MAX) {
		sb_seterr(err, "at most %d tags", SB_TAGS_MAX);
		return SB_ERR_INVAL;
	}
	for (i = 0; i < b->ntags; i++)
		free(b->tags[i]);
	b->ntags = 0;
	for (i = 0; i < n; i++) {
		const char *s = jstring(json_object_array_get_idx(j, i));
		if (s == NULL || !sb_is_tag(s)) {
			sb_seterr(err, "a tag must be a string of 1 to %d bytes "
			    "without commas or control characters",
			    SB_TAG_MAX);
			return SB_ERR_INVAL;
		}
		for (k = 0; k < b->ntags; k++)
			if (strcmp(b->tags[k], s) == 0) {
				sb_seterr(err, "duplicate tag");
				return SB_ERR_INVAL;
			}
		if ((b->tags[b->ntags] = strdup(s)) == NULL) {
			sb_seterr(err, "out of memory");
			return SB_ERR_NOMEM;
		}
		b->ntags++;
	}
	return SB_OK;
}

const struct http_jvalid http_create_fields[] = {
	{ "description", j_description },
	{ "tags", j_tags },
};
const size_t http_create_nfields =
    sizeof(http_create_fields) / sizeof(http_create_fields[0]);

static enum sb_err
j_confirm(json_object *j, void *out, char *err)
{
	if (!json_object_is_type(j, json_type_boolean) ||
	    !json_object_get_boolean(j)) {
		sb_seterr(err, "confirm must be true");
		return SB_ERR_INVAL;
	}
	((struct http_restore_body *)out)->confirm = 1;
	return SB_OK;
}

const struct http_jvalid http_restore_fields[] = {
	{ "confirm", j_confirm },
};
const size_t http_restore_nfields =
    sizeof(http_restore_fields) / sizeof(http_restore_fields[0]);

enum sb_err
http_body_parse(const char *buf, size_t len, const struct http_jvalid *v,
    size_t nv, void *out, char *err)
{
	json_object	*obj = NULL;
	enum sb_err	 rc;

	if ((rc = http_json_parse(buf, len, HTTP_JSON_DEPTH, &obj, err)) !=
	    SB_OK)
		return rc;
	rc = http_json_fields(obj, v, nv, out, err);
	json_object_put(obj);
	return rc;
}

/* --- headers and identity -------------------------------------------------- */

int
http_is_json(const char *ct)
{
	static const char	 mt[] = "application/json";
	const char		*p;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return 0;
	p = ct + sizeof(mt) - 1;
	/* RFC 9110 s8.3.1: type "/" subtype *( OWS ";" OWS parameter ) */
	while (*p != '\0') {
		const char	*name, *val;
		size_t		 nlen, vlen;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';')
			return 0;
		while (*p == ' ' || *p == '\t')
			p++;
		name = p;
		nlen = strcspn(p, "=; \t");
		p += nlen;
		if (*p != '=' || nlen == 0)
			return 0;
		val = ++p;
		if (*val == '"') {
			const char *q = strchr(val + 1, '"');
			if (q == NULL)
				return 0;
			val++;
			vlen = (size_t)(q - val);
			p = q + 1;
		} else {
			vlen = strcspn(p, "; \t");
			p += vlen;
		}
		if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    !((vlen == 5 && strncasecmp(val, "utf-8", 5) == 0) ||
		    (vlen == 4 && strncasecmp(val, "utf8", 4) == 0)))
			return 0;
	}
	return 1;
}

int
http_is_admin(const char *scopes)
{
	const char	*p = scopes;

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		size_t n;
		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (n == 1 && p[0] == '*')
			return 1;
		p += n;
	}
	return 0;
}

/* --- routes ---------------------------------------------------------------- */

/* Does the pattern ("/a/:id/b") fit the segments? *id gets the capture. */
static int
is_pattern_fit(const char *pat, const struct http_path *p, const char **id)
{
	size_t		 i = 0;
	const char	*s = pat;

	*id = NULL;
	while (*s == '/') {
		size_t n;
		s++;
		n = strcspn(s, "/");
		if (i == p->nseg)
			return 0;
		if (n == 3 && strncmp(s, ":id", 3) == 0)
			*id = p->seg[i];
		else if (strlen(p->seg[i]) != n ||
		    strncmp(s, p->seg[i], n) != 0)
			return 0;
		i++;
		s += n;
	}
	return i == p->nseg;
}

enum http_match
http_route_match(const struct http_route *t, size_t n, enum http_method m,
    const struct http_path *p, const struct http_route **route,
    const char **id, char *allow, size_t allowlen)
{
	const char	*cap;
	size_t		 i, used = 0;
	int		 fits = 0;

	*route = NULL;
	*id = NULL;
	if (allow != NULL && allowlen > 0)
		allow[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!is_pattern_fit(t[i].pattern, p, &cap))
			continue;
		if (t[i].method == m) {
			*route = &t[i];
			*id = cap;
			return HTTP_MATCH_OK;
		}
		fits = 1;
		if (allow != NULL && allowlen > 0) {
			const char	*ms = http_method_str(t[i].method);
			int		 w;
			if (strstr(allow, ms) != NULL)
				continue;
			w = snprintf(allow + used, allowlen - used, "%s%s",
			    used > 0 ? ", " : "", ms);
			if (w > 0 && (size_t)w < allowlen - used)
				used += (size_t)w;
		}
	}
	return fits ? HTTP_MATCH_METHOD : HTTP_MATCH_NOTFOUND;
}

/* --- answers ----------------------------------------------------------------- */

json_object *
http_error_json(const char *code, const char *msg)
{
	json_object	*o, *e;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((e = json_object_new_object()) == NULL || sb_json_add(o, "error", e) ||
	    sb_json_add(e, "code", json_object_new_string(code)) ||
	    sb_json_add(e, "message", json_object_new_string(msg))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
http_status_of(enum sb_err e)
{
	switch (e) {
	case SB_OK:
		return 200;
	case SB_ERR_INVAL:
	case SB_ERR_AUTOMATIC:
		return 400;
	case SB_ERR_NOTFOUND:
		return 404;
	case SB_ERR_BUSY:
		return 409;
	case SB_ERR_CORRUPT:
	case SB_ERR_KEY:
		return 422;
	case SB_ERR_STORAGE:
	case SB_ERR_AUTH:
		return 502;
	case SB_ERR_IDENTITY:
		return 503;
	default:
		return 500;
	}
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}
