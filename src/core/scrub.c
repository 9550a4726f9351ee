/*
 * scrub.c - server file-system paths out of the messages a browser sees
 * (scrub.h). Pure text work, unit tested: a path gives way to its base
 * name, a URL stays whole.
 */
#include <string.h>

#include "scrub.h"

#define NEUTRAL	"(path)"

/* A byte a path's name may hold (any non-ASCII byte: UTF-8 names). */
static int
is_name_byte(unsigned char c)
{
	return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("._~+@%-", c) !=
	    NULL);
}

/* A byte after which a '/' starts a path. */
static int
is_path_lead(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    (c != '\0' && strchr("\"'`([{<=:,", c) != NULL);
}

/* A byte that ends a URL. */
static int
is_url_end(unsigned char c)
{
	return c <= ' ' || strchr("\"'`<>", c) != NULL;
}

/* Append n bytes of s to out (len bytes) at *o, as far as they fit. */
static void
put(char *out, size_t len, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= len)
		return;
	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
}

/*
 * The path at in[i] (a '/' after a lead byte): its extent *end (past it,
 * without the dots that end a sentence), written as its base name.
 */
static size_t
scrub_path(const char *in, size_t i, char *out, size_t len, size_t *o)
{
	size_t	end = i, dots, name, base;

	while (in[end] == '/' || is_name_byte((unsigned char)in[end]))
		end++;
	/* Dots after a name end a sentence (copied after); "/.." is a name. */
	for (dots = end; dots > i + 1 && in[dots - 1] == '.'; dots--)
		;
	if (in[dots - 1] != '/')
		end = dots;
	for (name = end; name > i + 1 && in[name - 1] == '/'; name--)
		;		/* a directory's "/" goes with it */
	for (base = name; base > i && in[base - 1] != '/'; base--)
		;
	if (base == name || strspn(in + base, ".") >= name - base)
		put(out, len, o, NEUTRAL, sizeof(NEUTRAL) - 1);
	else
		put(out, len, o, in + base, name - base);
	return end;
}

size_t
sb_scrub_paths(const char *in, char *out, size_t len)
{
	size_t	i = 0, o = 0, n;
	int	url = 0;

	if (len == 0)
		return 0;
	while (in != NULL && in[i] != '\0') {
		unsigned char c = (unsigned char)in[i];

		if (url && is_url_end(c))
			url = 0;
		if (!url && c == ':' && in[i + 1] == '/' && in[i + 2] == '/')
			url = 1;	/* "scheme://...": copied whole */
		if (!url && c == '/' && (i == 0 ||
		    is_path_lead((unsigned char)in[i - 1])) &&
		    (in[i + 1] == '/' || is_name_byte(
		    (unsigned char)in[i + 1]))) {
			i = scrub_path(in, i, out, len, &o);
			continue;
		}
		n = 1;
		put(out, len, &o, in + i, n);
		i += n;
	}
	out[o] = '\0';
	return o;
}
