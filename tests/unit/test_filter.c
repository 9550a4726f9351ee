/*
 * test_filter.c - filter.c, the one parser of the list filter that GET
 * /backups and `backup-cron list` share: its limits, the bare date rule,
 * from <= to, and that a refused value leaves the filter unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sb.h"
#include "filter.h"

static int64_t
ms_of(const char *iso)
{
	int64_t	ms = 0;

	assert_int_equal(sb_time_parse(iso, &ms), SB_OK);
	return ms;
}

static void
test_good(void **state)
{
	struct sb_filter	f;
	char			err[SB_ERRMSG_MAX];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TYPE, "manual", err),
	    SB_OK);
	assert_true(f.has_type);
	assert_int_equal(f.type, SB_TYPE_MANUAL);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_STATUS, "failed", err),
	    SB_OK);
	assert_true(f.has_status);
	assert_int_equal(f.status, SB_STATUS_FAILED);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_Q, "nightly run", err),
	    SB_OK);
	assert_string_equal(f.q, "nightly run");
	/* A description's lines: a search may span them. */
	assert_int_equal(sb_filter_set(&f, SB_FILTER_Q, "a\nb", err), SB_OK);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_LIMIT, "1", err), SB_OK);
	assert_int_equal(f.limit, 1);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_LIMIT, "1000", err),
	    SB_OK);
	assert_int_equal(f.limit, SB_LIST_MAX);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_OFFSET, "0", err),
	    SB_OK);
	assert_int_equal(f.offset, 0);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_OFFSET, "2147483647",
	    err), SB_OK);
	assert_true(f.offset == SB_OFFSET_MAX);
	/* A time is taken as it is, in any offset. */
	assert_int_equal(sb_filter_set(&f, SB_FILTER_FROM,
	    "2026-02-01T10:00:00+02:00", err), SB_OK);
	assert_true(f.from == ms_of("2026-02-01T08:00:00Z"));
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TO,
	    "2026-02-01T10:00:00Z", err), SB_OK);
	assert_true(f.to == ms_of("2026-02-01T10:00:00Z"));
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
}

/* A date alone: from is its first millisecond, to its last. */
static void
test_bare_date(void **state)
{
	struct sb_filter	f;
	char			err[SB_ERRMSG_MAX];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(sb_filter_set(&f, SB_FILTER_FROM, "2026-02-01", err),
	    SB_OK);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TO, "2026-02-01", err),
	    SB_OK);
	assert_true(f.from == ms_of("2026-02-01T00:00:00Z"));
	assert_true(f.to == ms_of("2026-02-01T23:59:59.999Z"));
	/* One day is a valid range: from == its start, to == its end. */
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
	/* Midnight as a time is not the end of the day. */
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TO,
	    "2026-02-01T00:00:00Z", err), SB_OK);
	assert_true(f.to == ms_of("2026-02-01"));
	/* The last day of a leap February. */
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TO, "2028-02-29", err),
	    SB_OK);
	assert_true(f.to == ms_of("2028-03-01") - 1);
}

static void
test_from_after_to(void **state)
{
	struct sb_filter	f;
	char			err[SB_ERRMSG_MAX] = "";

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(sb_filter_set(&f, SB_FILTER_FROM, "2026-03-01", err),
	    SB_OK);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_TO, "2026-02-01", err),
	    SB_OK);
	assert_int_equal(sb_filter_check(&f, err), SB_ERR_INVAL);
	assert_string_equal(err, "from is after to");
	/* A millisecond apart, the wrong way round. */
	assert_int_equal(sb_filter_set(&f, SB_FILTER_FROM,
	    "2026-02-02T00:00:00Z", err), SB_OK);
	assert_int_equal(sb_filter_check(&f, err), SB_ERR_INVAL);
	assert_int_equal(sb_filter_set(&f, SB_FILTER_FROM,
	    "2026-02-01T23:59:59.999Z", err), SB_OK);
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
	/* An open bound is no conflict. */
	f.to = 0;
	assert_int_equal(sb_filter_check(&f, err), SB_OK);
}

/* Every bad value: SB_ERR_INVAL, its reason, and f untouched. */
static void
test_bad(void **state)
{
	static const struct {
		enum sb_filter_key	 key;
		const char		*val;
		const char		*err;
	} t[] = {
		{ SB_FILTER_TYPE, "Manual", "expected automatic or manual" },
		{ SB_FILTER_TYPE, "", "expected automatic or manual" },
		{ SB_FILTER_STATUS, "done",
		  "expected pending, completed or failed" },
		{ SB_FILTER_FROM, "yesterday", NULL },
		{ SB_FILTER_FROM, "2026-02-30", NULL },
		{ SB_FILTER_FROM, "2026-01-01junk", NULL },
		{ SB_FILTER_FROM, "1970-01-01", NULL },	/* 0: "open" */
		{ SB_FILTER_TO, "2026-13-01", NULL },
		{ SB_FILTER_TO, "", NULL },
		{ SB_FILTER_Q, "", NULL },
		{ SB_FILTER_Q, "a\001b", NULL },
		{ SB_FILTER_Q, "a\177b", NULL },
		{ SB_FILTER_Q, "\xff", NULL },
		{ SB_FILTER_LIMIT, "0", "expected an integer from 1 to 1000" },
		{ SB_FILTER_LIMIT, "1001", NULL },
		{ SB_FILTER_LIMIT, "-1", NULL },
		{ SB_FILTER_LIMIT, "+5", NULL },
		{ SB_FILTER_LIMIT, "1e3", NULL },
		{ SB_FILTER_LIMIT, "", NULL },
		{ SB_FILTER_OFFSET, "-1",
		  "expected an integer from 0 to 2147483647" },
		{ SB_FILTER_OFFSET, "2147483648", NULL },
		{ SB_FILTER_OFFSET, "99999999999999999999", NULL },
		{ SB_FILTER_OFFSET, "0x10", NULL },
		{ SB_FILTER__MAX, "1", "unknown filter" },
	};
	struct sb_filter	f, before;
	char			err[SB_ERRMSG_MAX];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.limit = 7;
	f.offset = 3;
	f.from = 1;
	f.to = 2;
	before = f;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sb_filter_set(&f, t[i].key, t[i].val, err),
		    SB_ERR_INVAL);
		assert_true(err[0] != '\0');
		if (t[i].err != NULL)
			assert_string_equal(err, t[i].err);
		assert_memory_equal(&f, &before, sizeof(f));
	}
	/* A q longer than a description is refused; one as long is not. */
	{
		char	q[SB_DESC_MAX + 2];

		memset(q, 'a', sizeof(q) - 1);
		q[sizeof(q) - 1] = '\0';
		assert_int_equal(sb_filter_set(&f, SB_FILTER_Q, q, err),
		    SB_ERR_INVAL);
		q[SB_DESC_MAX] = '\0';
		assert_int_equal(sb_filter_set(&f, SB_FILTER_Q, q, err),
		    SB_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bare_date),
		cmocka_unit_test(test_from_after_to),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
