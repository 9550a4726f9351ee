/*
 * fuzz_azure.c - libFuzzer harness for what the Azure store parses from
 * outside: List Blobs responses (azure_xml.c, fed in pieces of varying
 * size), metadata values and Last-Modified dates from response headers,
 * connection strings, base64 keys, and the store marker
 * (store_marker.c: a marker parsed is formatted and parsed back equal). Built and run by tests/fuzz/run.sh,
 * which links util.c and azure_auth.c (connection strings, base64, dates,
 * metadata values); the List Blobs parser and the metadata map (store.c,
 * store_meta.c) are compiled in here, with the two store constructors store.c names
 * and the progress recorder a download reports to (progress.c, over the
 * catalog) stubbed out, so no network or catalog code is linked.
 *
 * The first input byte picks the parser; the rest is its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azure.h"	/* azure_auth.c is in run.sh SRCS */
#include "../../src/core/azure_xml.c"
#include "../../src/core/store.c"
#include "../../src/core/store_meta.c"
#include "../../src/core/store_marker.c"

enum sb_err
sb_store_disk_open(struct sb_store **out, const char *root, char *err)
{
	(void)root;
	(void)err;
	*out = NULL;
	return SB_ERR_CONFIG;
}

enum sb_err
sb_store_azure_open(struct sb_store **out, const struct sb_config *cfg,
    char *err)
{
	(void)cfg;
	(void)err;
	*out = NULL;
	return SB_ERR_CONFIG;
}

void
sb_progress_set(struct sb_progress *p, int64_t done)
{
	(void)p;
	(void)done;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_list(const uint8_t *d, size_t n)
{
	struct sb_object_list	 l = { NULL, 0 };
	struct az_listparse	*lp = NULL;
	char			 err[SB_ERRMSG_MAX], *m;
	size_t			 off = 0, step;

	if (az_listparse_new(&lp, &l) != SB_OK)
		return;
	/* Pieces of 1..64 bytes, sized by the data itself. */
	while (off < n) {
		step = 1 + d[off] % 64;
		if (step > n - off)
			step = n - off;
		if (az_listparse_feed(lp, (const char *)d + off, step, 0,
		    err) != SB_OK)
			goto out;
		off += step;
	}
	(void)az_listparse_feed(lp, "", 0, 1, err);
	m = az_listparse_marker(lp);
	free(m);
out:
	az_listparse_free(&lp);
	sb_object_list_clear(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct az_connstr	 cs;
	unsigned char		*bin = NULL;
	char			*s, *enc = NULL, *dec = NULL, err[SB_ERRMSG_MAX];
	size_t			 len;

	if (n < 1)
		return 0;
	if (d[0] % 2 == 0) {
		fuzz_list(d + 1, n - 1);
		return 0;
	}
	if ((s = malloc(n)) == NULL)
		return 0;
	memcpy(s, d + 1, n - 1);
	s[n - 1] = '\0';
	{
		struct sb_store_marker	 m, m2;
		char			*txt = NULL;

		if (sb_marker_parse(s, n - 1, &m, err) == SB_OK) {
			if (sb_marker_format(&m, &txt) != SB_OK ||
			    sb_marker_parse(txt, strlen(txt), &m2, err) !=
			    SB_OK || memcmp(&m, &m2, sizeof(m)) != 0)
				abort();
			free(txt);
		}
	}
	if (az_connstr_parse(s, &cs, err) == SB_OK)
		az_connstr_clear(&cs);
	if (az_b64_decode(s, &bin, &len) == SB_OK)
		free(bin);
	(void)az_http_date(s);
	/* Decoding then encoding then decoding is the identity. */
	if (az_meta_decode(s, &dec) == SB_OK &&
	    az_meta_encode(dec, &enc) == SB_OK) {
		char	*again = NULL;

		if (az_meta_decode(enc, &again) == SB_OK &&
		    strcmp(again, dec) != 0)
			abort();
		free(again);
	}
	free(enc);
	free(dec);
	free(s);
	return 0;
}
