/*
 * fuzz_query.c - libFuzzer harness for the query-string parser and the
 * GET /backups validators (http_query_parse + sb_filter_check).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "http.h"
#include "filter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_filter	 f;
	char			*qs, *buf = NULL;
	char			 err[HTTP_ERR_MAX];

	if ((qs = malloc(size + 1)) == NULL)
		return 0;
	memcpy(qs, data, size);
	qs[size] = '\0';
	memset(&f, 0, sizeof(f));
	if (http_query_parse(qs, http_list_params, http_list_nparams, &f,
	    &buf, err) == SB_OK) {
		(void)sb_filter_check(&f, err);
		/* What was accepted must be in range. */
		if (f.limit < 0 || f.limit > SB_LIST_MAX || f.offset < 0 ||
		    (f.q != NULL && (strlen(f.q) == 0 ||
		    !sb_is_utf8(f.q, strlen(f.q)))))
			abort();
	}
	free(buf);
	free(qs);
	return 0;
}
