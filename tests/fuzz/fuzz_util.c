/*
 * fuzz_util.c - libFuzzer harness for the core's parsers of outside input
 * (util.c): times (query filters, CLI flags), object names (store
 * listings), sizes and integers (config), UTF-8, tags and descriptions
 * (request bodies, object metadata). Beyond "does not crash", it checks
 * round trips: what a parser accepts, its formatter writes back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, buf[512], id[SB_UUID_LEN + 1];
	enum sb_type	 type;
	int64_t		 ms, ms2, i64;
	uint64_t	 u64;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (sb_time_parse(s, &ms) == SB_OK) {
		if (ms < 0 || sb_time_format(ms, buf, sizeof(buf)) != SB_OK ||
		    sb_time_parse(buf, &ms2) != SB_OK || ms2 != ms)
			abort();
	}
	if (sb_name_parse(s, &type, &ms, id) == SB_OK) {
		if (!sb_is_uuid(id) || sb_name_format(type, ms, id, buf,
		    sizeof(buf)) != SB_OK || strcmp(buf, s) != 0)
			abort();
	}
	if (sb_parse_size(s, UINT64_MAX, &u64) == SB_OK && s[0] == '-')
		abort();
	if (sb_parse_i64(s, -5, 1000, &i64) == SB_OK && (i64 < -5 ||
	    i64 > 1000))
		abort();
	if (sb_is_tag(s) && (strlen(s) == 0 || strlen(s) > SB_TAG_MAX ||
	    strchr(s, ',') != NULL))
		abort();
	if (sb_is_description(s) && !sb_is_utf8(s, strlen(s)))
		abort();
	(void)sb_is_utf8((const char *)data, size);
	free(s);
	return 0;
}
