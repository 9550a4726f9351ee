/*
 * fuzz_json.c - libFuzzer harness for the JSON body parser and the field
 * validators of POST /backups and POST /backups/:id/restore.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_create_body		c;
	struct http_restore_body	r;
	char				err[HTTP_ERR_MAX];

	memset(&c, 0, sizeof(c));
	if (http_body_parse((const char *)data, size, http_create_fields,
	    http_create_nfields, &c, err) == SB_OK) {
		/* What was accepted is what the engine may be given. */
		if (c.description != NULL &&
		    !sb_is_description(c.description))
			abort();
		if (c.ntags > SB_TAGS_MAX)
			abort();
		for (size_t i = 0; i < c.ntags; i++)
			if (!sb_is_tag(c.tags[i]))
				abort();
	}
	http_create_body_clear(&c);
	memset(&r, 0, sizeof(r));
	if (http_body_parse((const char *)data, size, http_restore_fields,
	    http_restore_nfields, &r, err) == SB_OK && r.confirm != 0 &&
	    r.confirm != 1)
		abort();
	return 0;
}
