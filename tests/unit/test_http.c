/*
 * test_http.c - backupd's request parsing: paths, query strings, JSON
 * bodies, content types, scopes, route matching, error answers. (The
 * JSON of backups is json.c's: test_json.c; the filter rules are
 * filter.c's: test_filter.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "sb.h"
#include "http.h"
#include "filter.h"

static void
test_method(void **state)
{
	(void)state;
	assert_int_equal(http_method_parse("GET"), HTTP_GET);
	assert_int_equal(http_method_parse("DELETE"), HTTP_DELETE);
	assert_int_equal(http_method_parse("get"), HTTP_OTHER);
	assert_int_equal(http_method_parse("BREW"), HTTP_OTHER);
	assert_int_equal(http_method_parse(NULL), HTTP_OTHER);
	assert_string_equal(http_method_str(HTTP_POST), "POST");
}

static void
test_pct_decode(void **state)
{
	char	buf[32];
	size_t	n;

	(void)state;
	assert_int_equal(http_pct_decode("a%20b+c", 7, 1, buf, &n), SB_OK);
	assert_string_equal(buf, "a b c");
	assert_int_equal(n, 5);
	assert_int_equal(http_pct_decode("a+b", 3, 0, buf, &n), SB_OK);
	assert_string_equal(buf, "a+b");
	assert_int_equal(http_pct_decode("%c3%A9", 6, 0, buf, &n), SB_OK);
	assert_string_equal(buf, "\xc3\xa9");
	assert_int_equal(http_pct_decode("%", 1, 0, buf, &n), SB_ERR_INVAL);
	assert_int_equal(http_pct_decode("%4", 2, 0, buf, &n), SB_ERR_INVAL);
	assert_int_equal(http_pct_decode("%zz", 3, 0, buf, &n), SB_ERR_INVAL);
	assert_int_equal(http_pct_decode("a%00", 4, 0, buf, &n),
	    SB_ERR_INVAL);
}

static void
test_path_good(void **state)
{
	struct http_path	p;
	char			err[HTTP_ERR_MAX];

	(void)state;
	assert_int_equal(http_path_parse("/backups", &p, err), SB_OK);
	assert_int_equal(p.nseg, 1);
	assert_string_equal(p.seg[0], "backups");
	http_path_clear(&p);

	assert_int_equal(http_path_parse("/backups/abc/restore?x=1", &p,
	    err), SB_OK);
	assert_int_equal(p.nseg, 3);
	assert_string_equal(p.seg[1], "abc");
	assert_string_equal(p.seg[2], "restore");
	http_path_clear(&p);

	assert_int_equal(http_path_parse("/backups/h%65alth", &p, err),
	    SB_OK);
	assert_string_equal(p.seg[1], "health");
	http_path_clear(&p);

	assert_int_equal(http_path_parse("/", &p, err), SB_OK);
	assert_int_equal(p.nseg, 0);
	http_path_clear(&p);
	assert_null(p.buf);
}

static void
test_path_bad(void **state)
{
	static const char *const bad[] = {
		"", "backups", "//", "/backups/", "/backups//x",
		"/backups/..", "/backups/.", "/backups/%2e%2e",
		"/backups/..%2f..%2fetc%2fpasswd", "/backups/a%2fb",
		"/backups/%00", "/backups/%0a", "/backups/%ff",
		"/backups/%", "/backups/%g0", "/a/b/c/d/e/f/g/h/i",
	};
	struct http_path	p;
	char			err[HTTP_ERR_MAX];
	char			*longp;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(http_path_parse(bad[i], &p, err),
		    SB_ERR_INVAL);
		assert_true(err[0] != '\0');
		assert_null(p.buf);
	}
	assert_int_equal(http_path_parse(NULL, &p, err), SB_ERR_INVAL);
	longp = malloc(HTTP_PATH_MAX + 2);
	assert_non_null(longp);
	memset(longp, 'a', HTTP_PATH_MAX + 1);
	longp[0] = '/';
	longp[HTTP_PATH_MAX + 1] = '\0';
	assert_int_equal(http_path_parse(longp, &p, err), SB_ERR_INVAL);
	free(longp);
}

static void
test_query_list(void **state)
{
	struct sb_filter	 f;
	char			*buf = NULL;
	char			 err[HTTP_ERR_MAX];
	int64_t			 ms;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("type=manual&status=completed"
	    "&from=2026-01-01&to=2026-02-01T10%3A00%3A00Z&q=nightly+run"
	    "&limit=50&offset=10", http_list_params, http_list_nparams, &f,
	    &buf, err), SB_OK);
	assert_true(f.has_type);
	assert_int_equal(f.type, SB_TYPE_MANUAL);
	assert_true(f.has_status);
	assert_int_equal(f.status, SB_STATUS_COMPLETED);
	assert_int_equal(sb_time_parse("2026-01-01", &ms), SB_OK);
	assert_true(f.from == ms);
	assert_int_equal(sb_time_parse("2026-02-01T10:00:00Z", &ms), SB_OK);
	assert_true(f.to == ms);
	assert_string_equal(f.q, "nightly run");
	assert_int_equal(f.limit, 50);
	assert_int_equal(f.offset, 10);
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
	free(buf);

	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("", http_list_params,
	    http_list_nparams, &f, &buf, err), SB_OK);
	assert_null(buf);
	assert_int_equal(http_query_parse(NULL, http_list_params,
	    http_list_nparams, &f, &buf, err), SB_OK);
	assert_false(f.has_type);

	/* A date alone as to is the end of that day. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("from=2026-02-01&to=2026-02-01",
	    http_list_params, http_list_nparams, &f, &buf, err), SB_OK);
	assert_int_equal(sb_time_parse("2026-02-01T23:59:59.999Z", &ms), SB_OK);
	assert_true(f.to == ms);
	assert_int_equal(sb_time_parse("2026-02-01", &ms), SB_OK);
	assert_true(f.from == ms);
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
	free(buf);

	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("from=2026-03-01&to=2026-02-01",
	    http_list_params, http_list_nparams, &f, &buf, err), SB_OK);
	assert_int_equal(sb_filter_check(&f, err), SB_ERR_INVAL);
	assert_string_equal(err, "from is after to");
	free(buf);
}

static void
test_query_bad(void **state)
{
	static const char *const bad[] = {
		"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=",
		"limit=+5", "limit=%201", "offset=-1", "offset=1e3",
		"type=Manual", "type=", "status=done", "from=yesterday",
		"from=2026-13-01", "to=2026-02-30", "from=1970-01-01",
		"q=", "sort=asc", "limit=1&limit=2", "&", "limit",
		"=1", "q=%", "q=%0a", "q=%ff", "type=manual&&limit=1",
		"q=a%00b", "LIMIT=1", "limit=99999999999999999999",
	};
	struct sb_filter	 f;
	char			*buf = NULL;
	char			 err[HTTP_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0, sizeof(f));
		err[0] = '\0';
		assert_int_equal(http_query_parse(bad[i], http_list_params,
		    http_list_nparams, &f, &buf, err), SB_ERR_INVAL);
		assert_true(err[0] != '\0');
		free(buf);
		buf = NULL;
	}
	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("sort=asc", http_list_params,
	    http_list_nparams, &f, &buf, err), SB_ERR_INVAL);
	assert_string_equal(err, "unknown query parameter 'sort'");
	free(buf);
}

/*
 * The reasons come from the core's filter parser, after the parameter's
 * name: the CLI prints the same reasons after its option's name.
 */
static void
test_query_reasons(void **state)
{
	static const struct {
		const char	*qs;
		const char	*err;
	} t[] = {
		{ "offset=2147483648",
		  "offset: expected an integer from 0 to 2147483647" },
		{ "limit=0", "limit: expected an integer from 1 to 1000" },
		{ "type=Manual", "type: expected automatic or manual" },
		{ "status=done",
		  "status: expected pending, completed or failed" },
		{ "from=yesterday", "from: expected a date (2026-11-26) or an "
		  "ISO 8601 time (2026-11-26T04:30:00Z) after 1970-01-01" },
		{ "q=", "q: expected 1 to 1024 bytes of UTF-8 text without "
		  "control characters (but tab and newline)" },
	};
	struct sb_filter	 f;
	char			*buf = NULL;
	char			 err[HTTP_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&f, 0, sizeof(f));
		assert_int_equal(http_query_parse(t[i].qs, http_list_params,
		    http_list_nparams, &f, &buf, err), SB_ERR_INVAL);
		assert_string_equal(err, t[i].err);
		free(buf);
		buf = NULL;
	}
	/* The largest offset is accepted. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(http_query_parse("offset=2147483647",
	    http_list_params, http_list_nparams, &f, &buf, err), SB_OK);
	assert_true(f.offset == SB_OFFSET_MAX);
	free(buf);
}

static void
test_body_create(void **state)
{
	struct http_create_body	b;
	char			err[HTTP_ERR_MAX];
	const char		*js;

	(void)state;
	memset(&b, 0, sizeof(b));
	js = "{\"description\":\"before upgrade\",\"tags\":[\"a\",\"b c\"]}";
	assert_int_equal(http_body_parse(js, strlen(js), http_create_fields,
	    http_create_nfields, &b, err), SB_OK);
	assert_string_equal(b.description, "before upgrade");
	assert_int_equal(b.ntags, 2);
	assert_string_equal(b.tags[1], "b c");
	http_create_body_clear(&b);

	assert_int_equal(http_body_parse("", 0, http_create_fields,
	    http_create_nfields, &b, err), SB_OK);
	assert_null(b.description);
	assert_int_equal(b.ntags, 0);
	/* A surrogate pair is fine, and so is an escaped backslash before u. */
	js = "{\"description\":\"\\ud83d\\ude00 \\\\ud800\"}";
	assert_int_equal(http_body_parse(js, strlen(js), http_create_fields,
	    http_create_nfields, &b, err), SB_OK);
	assert_string_equal(b.description, "\xf0\x9f\x98\x80 \\ud800");
	http_create_body_clear(&b);
	js = " {}\r\n";
	assert_int_equal(http_body_parse(js, strlen(js), http_create_fields,
	    http_create_nfields, &b, err), SB_OK);
}

static void
test_body_bad(void **state)
{
	static const char *const bad[] = {
		"{", "}", "[]", "null", "1", "\"x\"", "{\"a\":1}",
		"{\"description\":1}", "{\"description\":null}",
		"{\"tags\":\"a\"}", "{\"tags\":[1]}", "{\"tags\":[\"\"]}",
		"{\"tags\":[\"a,b\"]}", "{\"tags\":[\"a\",\"a\"]}",
		"{\"description\":\"x\"} {}", "{\"description\":\"x\",}",
		"{'description':'x'}", "{\"description\":\"a\\u0000b\"}",
		"{\"description\":\"\\u0007\"}", "{\"tags\":[[[[[[[[[]]]]]]]]]}",
		"{\"description\":\"\xff\"}", "/* c */ {}",
		"{\"description\":\"\\ud800\"}",
		"{\"description\":\"\\udc00x\"}",
		"{\"description\":\"\\ud800\\u0041\"}",
	};
	struct http_create_body	b;
	char			err[HTTP_ERR_MAX];
	char			big[2 * SB_DESC_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&b, 0, sizeof(b));
		err[0] = '\0';
		assert_int_equal(http_body_parse(bad[i], strlen(bad[i]),
		    http_create_fields, http_create_nfields, &b, err),
		    SB_ERR_INVAL);
		assert_true(err[0] != '\0');
		http_create_body_clear(&b);
	}
	/* A NUL byte inside the body. */
	assert_int_equal(http_body_parse("{}\0", 3, http_create_fields,
	    http_create_nfields, &b, err), SB_ERR_INVAL);
	/* Description one byte too long. */
	memset(big, 0, sizeof(big));
	snprintf(big, sizeof(big), "{\"description\":\"%*s\"}",
	    SB_DESC_MAX + 1, "x");
	assert_int_equal(http_body_parse(big, strlen(big), http_create_fields,
	    http_create_nfields, &b, err), SB_ERR_INVAL);
	http_create_body_clear(&b);
	/* Unknown field is named. */
	assert_int_equal(http_body_parse("{\"confirm\":true}", 16,
	    http_create_fields, http_create_nfields, &b, err), SB_ERR_INVAL);
	assert_string_equal(err, "unknown field 'confirm'");
}

static void
test_body_depth(void **state)
{
	char		 buf[20001];
	json_object	*o = NULL;
	char		 err[HTTP_ERR_MAX];

	(void)state;
	/* 10000 nested arrays inside an object: refused, not a crash. */
	buf[0] = '{';
	memcpy(buf + 1, "\"tags\":", 7);
	memset(buf + 8, '[', 9992);
	buf[10000] = '\0';
	assert_int_equal(http_json_parse(buf, strlen(buf), HTTP_JSON_DEPTH,
	    &o, err), SB_ERR_INVAL);
	assert_null(o);
	/* Depth 2 is fine. */
	assert_int_equal(http_json_parse("{\"tags\":[]}", 11, HTTP_JSON_DEPTH,
	    &o, err), SB_OK);
	json_object_put(o);
}

static void
test_body_restore(void **state)
{
	struct http_restore_body	r;
	char				err[HTTP_ERR_MAX];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_body_parse("{\"confirm\":true}", 16,
	    http_restore_fields, http_restore_nfields, &r, err), SB_OK);
	assert_int_equal(r.confirm, 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_body_parse("{\"confirm\":false}", 17,
	    http_restore_fields, http_restore_nfields, &r, err),
	    SB_ERR_INVAL);
	assert_int_equal(http_body_parse("{\"confirm\":\"true\"}", 18,
	    http_restore_fields, http_restore_nfields, &r, err),
	    SB_ERR_INVAL);
	assert_int_equal(http_body_parse("{\"confirm\":1}", 13,
	    http_restore_fields, http_restore_nfields, &r, err),
	    SB_ERR_INVAL);
	/* Empty: parses, but confirm stays 0 (the handler refuses). */
	assert_int_equal(http_body_parse("{}", 2, http_restore_fields,
	    http_restore_nfields, &r, err), SB_OK);
	assert_int_equal(r.confirm, 0);
}

static void
test_content_type(void **state)
{
	(void)state;
	assert_true(http_is_json("application/json"));
	assert_true(http_is_json("Application/JSON"));
	assert_true(http_is_json("application/json; charset=utf-8"));
	assert_true(http_is_json("application/json;charset=\"UTF-8\""));
	assert_false(http_is_json("application/json; charset=latin1"));
	assert_false(http_is_json("application/jsonp"));
	assert_false(http_is_json("application/json-patch+json"));
	assert_false(http_is_json("text/plain"));
	assert_false(http_is_json("application/x-www-form-urlencoded"));
	assert_false(http_is_json("multipart/form-data; boundary=x"));
	assert_false(http_is_json(""));
	assert_false(http_is_json(NULL));
	assert_false(http_is_json("application/json; charset"));
}

static void
test_scopes(void **state)
{
	(void)state;
	assert_true(http_is_admin("*"));
	assert_true(http_is_admin("backups:read *"));
	assert_true(http_is_admin("a,*,b"));
	assert_false(http_is_admin("backups:read"));
	assert_false(http_is_admin("**"));
	assert_false(http_is_admin("*a"));
	assert_false(http_is_admin(""));
	assert_false(http_is_admin(NULL));
}

/* Handlers of the right type; route matching never calls them. */
static void	h1(struct req *r) { (void)r; }
static void	h2(struct req *r) { (void)r; }
static void	h3(struct req *r) { (void)r; }

static const struct http_route	routes[] = {
	{ HTTP_GET, "/backups/health", h1, 0, "200" },
	{ HTTP_GET, "/backups", h1, 1, "200" },
	{ HTTP_POST, "/backups", h2, 1, "201" },
	{ HTTP_DELETE, "/backups/:id", h3, 1, "200" },
	{ HTTP_POST, "/backups/:id/restore", h3, 1, "200" },
};

static void
match(const char *path, enum http_method m, enum http_match want,
    const struct http_route **r, const char **id, char *allow)
{
	struct http_path	p;
	char			err[HTTP_ERR_MAX];

	assert_int_equal(http_path_parse(path, &p, err), SB_OK);
	assert_int_equal(http_route_match(routes, 5, m, &p, r, id, allow,
	    64), want);
	http_path_clear(&p);
}

static void
test_routes(void **state)
{
	const struct http_route	*r;
	const char		*id;
	char			 allow[64];

	(void)state;
	match("/backups", HTTP_GET, HTTP_MATCH_OK, &r, &id, allow);
	assert_ptr_equal(r, &routes[1]);
	assert_null(id);
	match("/backups/health", HTTP_GET, HTTP_MATCH_OK, &r, &id, allow);
	assert_ptr_equal(r, &routes[0]);
	match("/backups", HTTP_PUT, HTTP_MATCH_METHOD, &r, &id, allow);
	assert_null(r);
	assert_string_equal(allow, "GET, POST");
	match("/backups/x", HTTP_GET, HTTP_MATCH_METHOD, &r, &id, allow);
	assert_string_equal(allow, "DELETE");
	match("/backups/x/restore", HTTP_POST, HTTP_MATCH_OK, &r, &id, allow);
	assert_ptr_equal(r, &routes[4]);
	/* id points into the path buffer, freed by match(): compare first. */
	match("/backups/x/y", HTTP_POST, HTTP_MATCH_NOTFOUND, &r, &id, allow);
	match("/backup", HTTP_GET, HTTP_MATCH_NOTFOUND, &r, &id, allow);
	match("/", HTTP_GET, HTTP_MATCH_NOTFOUND, &r, &id, allow);
	match("/backups/x/restore/z", HTTP_POST, HTTP_MATCH_NOTFOUND, &r,
	    &id, allow);
}

static void
test_route_capture(void **state)
{
	struct http_path	 p;
	const struct http_route	*r;
	const char		*id;
	char			 err[HTTP_ERR_MAX];

	(void)state;
	assert_int_equal(http_path_parse("/backups/abc%2Dd/restore", &p,
	    err), SB_OK);
	assert_int_equal(http_route_match(routes, 5, HTTP_POST, &p, &r, &id,
	    NULL, 0), HTTP_MATCH_OK);
	assert_string_equal(id, "abc-d");
	http_path_clear(&p);
}

static void
test_errors(void **state)
{
	json_object	*o;

	(void)state;
	o = http_error_json("NOT_FOUND", "no such backup");
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN),
	    "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no such backup\"}}");
	json_object_put(o);
	assert_int_equal(http_status_of(SB_ERR_NOTFOUND), 404);
	assert_int_equal(http_status_of(SB_ERR_AUTOMATIC), 400);
	assert_string_equal(sb_errcode(SB_ERR_AUTOMATIC),
	    "AUTOMATIC_NOT_DELETABLE");
	assert_int_equal(http_status_of(SB_ERR_BUSY), 409);
	assert_int_equal(http_status_of(SB_ERR_CORRUPT), 422);
	assert_int_equal(http_status_of(SB_ERR_INVAL), 400);
	assert_int_equal(http_status_of(SB_ERR_STORAGE), 502);
	assert_int_equal(http_status_of(SB_ERR_AUTH), 502);
	assert_int_equal(http_status_of(SB_ERR_DB), 500);
	assert_int_equal(http_status_of(SB_ERR_NOMEM), 500);
	assert_string_equal(http_reason(409), "Conflict");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_path_good),
		cmocka_unit_test(test_path_bad),
		cmocka_unit_test(test_query_list),
		cmocka_unit_test(test_query_bad),
		cmocka_unit_test(test_query_reasons),
		cmocka_unit_test(test_body_create),
		cmocka_unit_test(test_body_bad),
		cmocka_unit_test(test_body_depth),
		cmocka_unit_test(test_body_restore),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_capture),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
