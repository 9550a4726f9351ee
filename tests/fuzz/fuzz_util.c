/*
 * fuzz_util.c - libFuzzer harness for the core's parsers of outside input
 * (util.c): times (query filters, CLI flags), object names (store
 * listings), sizes and integers (config), UTF-8, tags and descriptions
 * (request bodies, object metadata), [drill] smoke queries (drill.c,
 * config). Beyond "does not crash", it checks
 * round trips: what a parser accepts, its formatter writes back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "sb.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, buf[512], id[SB_UUID_LEN + 1], why[256];
	static char	 line[SB_DRILL_SQL_MAX + 64];
	static struct sb_drill_query	q, q2;
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
	/* A query that parses has SQL, and written back it parses the same. */
	if (sb_drill_query_parse(s, &q, why, sizeof(why)) == SB_OK) {
		if (q.sql[0] == '\0' || (unsigned)q.op >= SB_CMP__MAX)
			abort();
		snprintf(line, sizeof(line), "%s %s %lld", q.sql,
		    sb_cmp_str(q.op), (long long)q.want);
		if (sb_drill_query_parse(line, &q2, why, sizeof(why)) !=
		    SB_OK || strcmp(q.sql, q2.sql) != 0 || q.op != q2.op ||
		    q.want != q2.want)
			abort();
	}
	(void)sb_is_utf8((const char *)data, size);
	free(s);
	return 0;
}
