/*
 * test_drill.c - drill.c, the pure rules of restore drills and of
 * `backup-cron check`: the smoke-query syntax and its expectation, the
 * nightly rotation (every backup drilled within the bound), the verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drill.h"

#define HOUR	(INT64_C(3600) * 1000)

static void
test_query_parse(void **state)
{
	struct sb_drill_query	q;
	char			why[256];

	(void)state;
	assert_int_equal(sb_drill_query_parse("SELECT count(*) FROM users > 0",
	    &q, why, sizeof(why)), SB_OK);
	assert_string_equal(q.sql, "SELECT count(*) FROM users");
	assert_int_equal(q.op, SB_CMP_GT);
	assert_int_equal(q.want, 0);
	/* Two-letter operators are not read as their last letter. */
	assert_int_equal(sb_drill_query_parse("  SELECT x FROM t WHERE a > 1 "
	    ">= -12  ", &q, why, sizeof(why)), SB_OK);
	assert_string_equal(q.sql, "SELECT x FROM t WHERE a > 1");
	assert_int_equal(q.op, SB_CMP_GE);
	assert_int_equal(q.want, -12);
	assert_int_equal(sb_drill_query_parse("SELECT 1 != 2", &q, why,
	    sizeof(why)), SB_OK);
	assert_int_equal(q.op, SB_CMP_NE);
	assert_int_equal(sb_drill_query_parse("SELECT 1 <= 2", &q, why,
	    sizeof(why)), SB_OK);
	assert_int_equal(q.op, SB_CMP_LE);
	assert_int_equal(sb_drill_query_parse("SELECT 1 < 2", &q, why,
	    sizeof(why)), SB_OK);
	assert_int_equal(q.op, SB_CMP_LT);
	assert_int_equal(sb_drill_query_parse("SELECT 1 = 1", &q, why,
	    sizeof(why)), SB_OK);
	assert_int_equal(q.op, SB_CMP_EQ);

	/* Refused, each with its reason. */
	assert_int_equal(sb_drill_query_parse("SELECT count(*) FROM users",
	    &q, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "must end with an expectation"));
	assert_int_equal(sb_drill_query_parse("SELECT 1 2", &q, why,
	    sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "no operator"));
	assert_int_equal(sb_drill_query_parse("SELECT x>0", &q, why,
	    sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "after a blank"));
	assert_int_equal(sb_drill_query_parse("  > 0", &q, why, sizeof(why)),
	    SB_ERR_INVAL);
	assert_non_null(strstr(why, "no query"));
	assert_int_equal(sb_drill_query_parse("SELECT 1 > 99999999999999999999",
	    &q, why, sizeof(why)), SB_ERR_INVAL);
	assert_int_equal(sb_drill_query_parse("", &q, why, sizeof(why)),
	    SB_ERR_INVAL);
	assert_int_equal(sb_drill_query_parse(NULL, &q, why, sizeof(why)),
	    SB_ERR_INVAL);
	assert_null(sb_drill_query_check("SELECT 1 > 0", why, sizeof(why)));
	assert_non_null(sb_drill_query_check("SELECT 1", why, sizeof(why)));
}

static void
test_expected(void **state)
{
	struct sb_drill_query	q;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.want = 5;
	q.op = SB_CMP_GT;
	assert_true(sb_is_expected(&q, 6));
	assert_false(sb_is_expected(&q, 5));
	q.op = SB_CMP_GE;
	assert_true(sb_is_expected(&q, 5));
	assert_false(sb_is_expected(&q, 4));
	q.op = SB_CMP_EQ;
	assert_true(sb_is_expected(&q, 5));
	assert_false(sb_is_expected(&q, 6));
	q.op = SB_CMP_NE;
	assert_true(sb_is_expected(&q, 6));
	assert_false(sb_is_expected(&q, 5));
	q.op = SB_CMP_LT;
	assert_true(sb_is_expected(&q, 4));
	assert_false(sb_is_expected(&q, 5));
	q.op = SB_CMP_LE;
	assert_true(sb_is_expected(&q, 5));
	assert_false(sb_is_expected(&q, 6));
	q.op = SB_CMP__MAX;
	assert_false(sb_is_expected(&q, 5));
}

/* K backups, one night at a time; a drilled one gets verified_at = night. */
#define K	6
static void
test_choose_rotation(void **state)
{
	struct sb_backup	v[K];
	size_t			idx[2], n;
	int			drilled[K] = { 0 };

	(void)state;
	memset(v, 0, sizeof(v));
	for (int i = 0; i < K; i++) {
		snprintf(v[i].id, sizeof(v[i].id),
		    "00000000-0000-4000-8000-%012d", i);
		v[i].type = i == 2 ? SB_TYPE_MANUAL : SB_TYPE_AUTOMATIC;
		v[i].status = SB_STATUS_COMPLETED;
		v[i].created_at = 1000 * (i + 1);
	}
	assert_int_equal(sb_drill_choose(v, 0, idx), 0);
	/* Night 1: the newest automatic, and the oldest never drilled. */
	n = sb_drill_choose(v, K, idx);
	assert_int_equal(n, 2);
	assert_int_equal(idx[0], K - 1);
	assert_int_equal(idx[1], 0);
	/* Within K nights every backup is drilled (the documented bound). */
	for (int night = 1; night <= K; night++) {
		n = sb_drill_choose(v, K, idx);
		for (size_t k = 0; k < n; k++) {
			v[idx[k]].verified_at = 100000 + night;
			drilled[idx[k]] = 1;
		}
	}
	for (int i = 0; i < K; i++)
		assert_true(drilled[i]);
	/* Only manual backups: no newest automatic, one in rotation. */
	for (int i = 0; i < K; i++)
		v[i].type = SB_TYPE_MANUAL;
	assert_int_equal(sb_drill_choose(v, K, idx), 1);
	/* One backup: drilled once, not twice. */
	v[0].type = SB_TYPE_AUTOMATIC;
	assert_int_equal(sb_drill_choose(v, 1, idx), 1);
	assert_int_equal(idx[0], 0);
}

static void
test_health(void **state)
{
	struct sb_health_facts	f;
	char			r[512];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.now = 1000 * HOUR;
	f.max_age_hours = 26;
	f.warn_age_hours = 24;
	f.drill_days = 3;
	f.newest_auto = f.now - 1 * HOUR;
	f.last_drill = f.now - 2 * HOUR;
	f.completed = 3;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_OK);
	/* Late past 24 h, stale past 26 h. */
	f.newest_auto = f.now - 24 * HOUR;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_OK);
	f.newest_auto = f.now - 24 * HOUR - 1;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_WARNING);
	assert_string_equal(r, "newest automatic backup is 24h old (warning "
	    "past 24h, max 26h)");
	/* No age warning when it is off, or not below the maximum. */
	f.warn_age_hours = 0;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_OK);
	f.warn_age_hours = 26;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_OK);
	f.warn_age_hours = 24;
	f.newest_auto = f.now - 26 * HOUR;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_WARNING);
	f.newest_auto = f.now - 26 * HOUR - 1;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_CRITICAL);
	assert_string_equal(r, "newest automatic backup is 26h old (max 26h)");
	f.newest_auto = 0;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_CRITICAL);
	f.newest_auto = f.now - HOUR;
	/* Drills: none yet, or too old, is a warning; 0 days turns it off. */
	f.last_drill = 0;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_WARNING);
	assert_string_equal(r, "no restore drill yet");
	f.last_drill = f.now - 4 * 24 * HOUR;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_WARNING);
	f.drill_days = 0;
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_OK);
	/* Every critical reason is named, worst first, in one line. */
	f.latest_failed = "L";
	f.prune_halted = "clock";
	f.drill_failed = "D";
	f.store_error = "gone";
	assert_int_equal(sb_health_eval(&f, r, sizeof(r)), SB_HEALTH_CRITICAL);
	assert_string_equal(r, "the latest backup L failed; prune is halted: "
	    "clock; the restore drill of backup D failed; the store is "
	    "unreachable: gone");
	/* A short buffer truncates, never overflows. */
	assert_int_equal(sb_health_eval(&f, r, 16), SB_HEALTH_CRITICAL);
	assert_int_equal(strlen(r), 15);
}

static void
test_strings(void **state)
{
	enum sb_verify	v;
	enum sb_health	h;

	(void)state;
	assert_string_equal(sb_verify_str(SB_VERIFY_OK), "ok");
	assert_null(sb_verify_str(SB_VERIFY_NONE));
	assert_int_equal(sb_verify_parse("failed", &v), SB_OK);
	assert_int_equal(v, SB_VERIFY_FAILED);
	assert_int_equal(sb_verify_parse(NULL, &v), SB_OK);
	assert_int_equal(v, SB_VERIFY_NONE);
	assert_int_equal(sb_verify_parse("bogus", &v), SB_ERR_INVAL);
	assert_int_equal(sb_health_parse("CRITICAL", &h), SB_OK);
	assert_int_equal(h, SB_HEALTH_CRITICAL);
	assert_int_equal(sb_health_parse("critical", &h), SB_ERR_INVAL);
	assert_string_equal(sb_cmp_str(SB_CMP_NE), "!=");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_expected),
		cmocka_unit_test(test_choose_rotation),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
