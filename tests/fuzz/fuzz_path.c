/*
 * fuzz_path.c - libFuzzer harness for the request path parser, the route
 * matcher, the percent decoder and the Content-Type check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A handler of the right type; route matching never calls it. */
static void	h(struct req *r) { (void)r; }

static const struct http_route	routes[] = {
	{ HTTP_GET, "/backups/health", h, 0, "200" },
	{ HTTP_GET, "/backups", h, 1, "200" },
	{ HTTP_POST, "/backups", h, 1, "201" },
	{ HTTP_GET, "/backups/:id", h, 1, "200" },
	{ HTTP_DELETE, "/backups/:id", h, 1, "200" },
	{ HTTP_POST, "/backups/:id/restore", h, 1, "200" },
	{ HTTP_GET, "/backups/:id/download", h, 1, "200" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_path	 p;
	const struct http_route	*rt;
	const char		*id;
	char			*s, *dec;
	char			 err[HTTP_ERR_MAX], allow[64];
	size_t			 n;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (http_path_parse(s, &p, err) == SB_OK) {
		for (size_t i = 0; i < p.nseg; i++) {
			/* No accepted segment may carry '/', '..' or '.'. */
			if (strchr(p.seg[i], '/') != NULL ||
			    strcmp(p.seg[i], "..") == 0 ||
			    strcmp(p.seg[i], ".") == 0 || p.seg[i][0] == '\0')
				abort();
		}
		for (int m = 0; m < HTTP__MAX; m++)
			if (http_route_match(routes, 7, (enum http_method)m,
			    &p, &rt, &id, allow, sizeof(allow)) ==
			    HTTP_MATCH_OK && rt == NULL)
				abort();
		http_path_clear(&p);
	}
	if ((dec = malloc(size + 1)) != NULL) {
		if (http_pct_decode((const char *)data, size, 1, dec, &n) ==
		    SB_OK && (n > size || dec[n] != '\0'))
			abort();
		free(dec);
	}
	(void)http_is_json(s);
	(void)http_is_admin(s);
	free(s);
	return 0;
}
