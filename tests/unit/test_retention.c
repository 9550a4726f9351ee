/*
 * test_retention.c - the retention plan, against fixed dates: the policy
 * of retention.h (30 days daily, ISO weeks to 90 days, halts, the failed
 * records, the never-delete-all rule) and the ISO 8601 week numbering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "retention.h"

#define HOUR	(INT64_C(3600) * 1000)
#define DAY	(24 * HOUR)

static const struct sb_retention_policy pol = { 30, 90, 48, 7 };

/* Milliseconds of an ISO 8601 time, which must parse. */
static int64_t
T(const char *iso)
{
	int64_t	ms = 0;

	assert_int_equal(sb_time_parse(iso, &ms), SB_OK);
	return ms;
}

/* A fixture: up to 512 backups with distinct ids. */
struct set {
	struct sb_backup	v[512];
	size_t			n;
};

static struct sb_backup *
add(struct set *s, enum sb_type type, enum sb_status st, int64_t created)
{
	struct sb_backup *b;

	assert_true(s->n < 512);
	b = &s->v[s->n];
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "00000000-0000-4000-8000-%012zu",
	    s->n + 1);
	b->type = type;
	b->status = st;
	b->created_at = created;
	b->completed_at = st == SB_STATUS_COMPLETED ? created + 60000 : 0;
	b->size = -1;
	s->n++;
	return b;
}

static struct sb_backup *
auto_done(struct set *s, int64_t created)
{
	return add(s, SB_TYPE_AUTOMATIC, SB_STATUS_COMPLETED, created);
}

static const struct sb_decision *
find(const struct sb_retention_plan *p, const struct sb_backup *b)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].backup == b)
			return &p->v[i];
	fail_msg("backup %s not in the plan", b->id);
	return NULL;
}

static void
expect(const struct sb_retention_plan *p, const struct sb_backup *b,
    enum sb_verdict v, const char *reason)
{
	const struct sb_decision *d = find(p, b);

	if (d->verdict != v)
		fail_msg("%s: verdict %d, want %d (%s)", b->id, d->verdict, v,
		    d->reason);
	if (reason != NULL && strcmp(d->reason, reason) != 0)
		fail_msg("%s: reason \"%s\", want \"%s\"", b->id, d->reason,
		    reason);
}

static size_t
count(const struct sb_retention_plan *p, enum sb_verdict v)
{
	size_t	c = 0;

	for (size_t i = 0; i < p->n; i++)
		c += p->v[i].verdict == v;
	return c;
}

static void
test_empty(void **state)
{
	struct sb_retention_plan p;

	(void)state;
	assert_int_equal(sb_retention_plan(&pol, NULL, 0, T("2026-11-26"), &p),
	    SB_OK);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.ndelete, 0);
	assert_int_equal(p.halted, 0);
	sb_retention_clear(&p);
}

static void
test_only_manual(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, now - 400 * DAY);
	add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, now - 95 * DAY);
	add(&s, SB_TYPE_MANUAL, SB_STATUS_FAILED, now - 60 * DAY);
	add(&s, SB_TYPE_MANUAL, SB_STATUS_PENDING, now - 1 * DAY);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.ndelete, 0);
	/* No automatic backup: nothing could be pruned, nothing to halt. */
	assert_int_equal(p.halted, 0);
	for (size_t i = 0; i < s.n; i++)
		expect(&p, &s.v[i], SB_KEEP, "manual backups are never pruned");
	sb_retention_clear(&p);
}

static void
test_all_within_30_days(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	for (int h = 1; h < 30 * 24; h += 6)
		auto_done(&s, now - h * HOUR);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	assert_int_equal(p.ndelete, 0);
	for (size_t i = 0; i < s.n; i++)
		expect(&p, &s.v[i], SB_KEEP, "within 30 days");
	sb_retention_clear(&p);
}

/* created_at >= now - 30 days is daily; one millisecond older is not. */
static void
test_daily_boundary(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*edge, *older, *recent;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	recent = auto_done(&s, now - HOUR);
	edge = auto_done(&s, now - 30 * DAY);		/* 2026-10-27T12:00Z */
	older = auto_done(&s, now - 30 * DAY - 1);	/* same ISO week */
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, recent, SB_KEEP, "within 30 days");
	expect(&p, edge, SB_KEEP, "within 30 days");
	expect(&p, older, SB_DELETE,
	    "older than 30 days, not the newest of its ISO week");
	assert_int_equal(p.ndelete, 1);
	sb_retention_clear(&p);
}

static void
test_iso_week_known_dates(void **state)
{
	(void)state;
	assert_int_equal(sb_iso_week(T("2026-11-26T12:00:00Z")), 202648);
	assert_int_equal(sb_iso_week(T("1970-01-01")), 197001);
	assert_int_equal(sb_iso_week(T("2026-01-01")), 202601);
	/* Sunday ends the week; Monday 00:00 UTC starts the next. */
	assert_int_equal(sb_iso_week(T("2026-11-29T23:59:59.999Z")), 202648);
	assert_int_equal(sb_iso_week(T("2026-11-30T00:00:00Z")), 202649);
	/* UTC, not local: 00:30 at +01:00 is still Sunday in UTC. */
	assert_int_equal(sb_iso_week(T("2026-11-30T00:30:00+01:00")), 202648);
	/* Years with 53 weeks and the days that cross the new year. */
	assert_int_equal(sb_iso_week(T("2020-12-31")), 202053);
	assert_int_equal(sb_iso_week(T("2021-01-03T23:59:59Z")), 202053);
	assert_int_equal(sb_iso_week(T("2021-01-04")), 202101);
	assert_int_equal(sb_iso_week(T("2026-12-31")), 202653);
	assert_int_equal(sb_iso_week(T("2027-01-01")), 202653);
	assert_int_equal(sb_iso_week(T("2027-01-04")), 202701);
	assert_int_equal(sb_iso_week(T("2010-01-03")), 200953);
	assert_int_equal(sb_iso_week(T("2016-01-01")), 201553);
	/* Dec 29-31 can be week 1 of the next year. */
	assert_int_equal(sb_iso_week(T("2025-12-29")), 202601);
	assert_int_equal(sb_iso_week(T("2024-12-30")), 202501);
	assert_int_equal(sb_iso_week(T("2008-12-29")), 200901);
	assert_int_equal(sb_iso_week(T("2025-12-28T23:59:59Z")), 202552);
}

/* Week edges in a plan: Sunday 23:59:59 and Monday 00:00 are two weeks. */
static void
test_week_edges_in_plan(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*thu, *fri, *sun, *mon, *recent;
	int64_t			 now = T("2027-02-10T12:00:00Z");

	(void)state;
	s.n = 0;
	recent = auto_done(&s, now - HOUR);
	thu = auto_done(&s, T("2026-12-31T03:00:00Z"));	/* 2026-W53 */
	fri = auto_done(&s, T("2027-01-01T03:00:00Z"));	/* 2026-W53 */
	sun = auto_done(&s, T("2027-01-03T23:59:59Z"));	/* 2026-W53 */
	mon = auto_done(&s, T("2027-01-04T00:00:00Z"));	/* 2027-W01 */
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, recent, SB_KEEP, "within 30 days");
	expect(&p, sun, SB_KEEP, "newest of ISO week 2026-W53");
	expect(&p, mon, SB_KEEP, "newest of ISO week 2027-W01");
	expect(&p, thu, SB_DELETE, NULL);
	expect(&p, fri, SB_DELETE, NULL);
	assert_int_equal(p.ndelete, 2);
	sb_retention_clear(&p);
}

/*
 * A backup every day at 03:00 for 100 days. Between 30 and 90 days old
 * exactly the Sundays survive (each the newest of its Monday..Sunday
 * week), except in the week that reaches into the last 30 days, whose
 * newest backup is a daily one; past 90 days all go.
 */
static void
test_weekly_selection(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");
	int64_t			 first = T("2026-08-18T03:00:00Z");
	size_t			 kept_weekly = 0, old = 0;

	(void)state;
	s.n = 0;
	for (int64_t t = first; t < now; t += DAY)
		auto_done(&s, t);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	for (size_t i = 0; i < s.n; i++) {
		const struct sb_backup	*b = &s.v[i];
		const struct sb_decision *d = find(&p, b);
		int64_t			 day = b->created_at / DAY;
		int			 sunday = (day + 4) % 7 == 0;

		if (b->created_at >= now - 30 * DAY) {
			expect(&p, b, SB_KEEP, "within 30 days");
		} else if (b->created_at < now - 90 * DAY) {
			expect(&p, b, SB_DELETE, "older than 90 days");
			old++;
		} else if (sunday) {
			assert_int_equal(d->verdict, SB_KEEP);
			assert_non_null(strstr(d->reason, "newest of ISO week "));
			kept_weekly++;
		} else
			expect(&p, b, SB_DELETE, "older than 30 days, not the "
			    "newest of its ISO week");
	}
	/* Sundays 2026-08-30 .. 2026-10-25. */
	assert_int_equal(kept_weekly, 9);
	/* 2026-08-18 .. 2026-08-28 03:00 are older than 2026-08-28 12:00. */
	assert_int_equal(old, 11);
	expect(&p, &s.v[(T("2026-10-25T03:00:00Z") - first) / DAY], SB_KEEP,
	    "newest of ISO week 2026-W43");
	expect(&p, &s.v[(T("2026-08-30T03:00:00Z") - first) / DAY], SB_KEEP,
	    "newest of ISO week 2026-W35");
	/* Monday 10-26 is old, but its week's newest is 11-01 (daily). */
	expect(&p, &s.v[(T("2026-10-26T03:00:00Z") - first) / DAY], SB_DELETE,
	    NULL);
	assert_int_equal(p.ndelete, count(&p, SB_DELETE));
	assert_int_equal(p.ndelete, s.n - 30 - kept_weekly);
	sb_retention_clear(&p);
}

/* The plan does not depend on the order of its input. */
static void
test_order_independent(void **state)
{
	static struct set	 s, r;
	struct sb_retention_plan p, q;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	for (int h = 1; h < 100 * 24; h += 5)
		auto_done(&s, now - h * HOUR);
	/* Two backups at the same instant: a tie the id must break. */
	auto_done(&s, now - 50 * DAY);
	auto_done(&s, now - 50 * DAY);
	r.n = s.n;
	for (size_t i = 0; i < s.n; i++)
		r.v[i] = s.v[s.n - 1 - i];
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(sb_retention_plan(&pol, r.v, r.n, now, &q), SB_OK);
	assert_int_equal(p.ndelete, q.ndelete);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(p.v[i].verdict, q.v[s.n - 1 - i].verdict);
		assert_string_equal(p.v[i].reason, q.v[s.n - 1 - i].reason);
	}
	sb_retention_clear(&p);
	sb_retention_clear(&q);
}

static void
test_older_than_90_deleted(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*a, *b, *c, *m;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	auto_done(&s, now - 2 * HOUR);
	a = auto_done(&s, now - 91 * DAY);
	b = auto_done(&s, now - 200 * DAY);
	c = auto_done(&s, now - 90 * DAY - 1);
	m = add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, now - 200 * DAY);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	expect(&p, a, SB_DELETE, "older than 90 days");
	expect(&p, b, SB_DELETE, "older than 90 days");
	expect(&p, c, SB_DELETE, "older than 90 days");
	expect(&p, m, SB_KEEP, "manual backups are never pruned");
	assert_int_equal(p.ndelete, 3);
	sb_retention_clear(&p);
}

static void
test_latest_failed_halts(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*bad;
	int64_t			 now = T("2026-11-26T12:00:00Z");
	char			 want[160];

	(void)state;
	s.n = 0;
	auto_done(&s, now - 3 * HOUR);
	auto_done(&s, now - 100 * DAY);		/* would be deleted */
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - 20 * DAY);
	bad = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - HOUR);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 1);
	snprintf(want, sizeof(want),
	    "latest automatic backup %s failed: not pruning", bad->id);
	assert_string_equal(p.halt_reason, want);
	assert_int_equal(p.ndelete, 0);
	assert_int_equal(count(&p, SB_DELETE), 0);
	/* What it would have done is still visible. */
	expect(&p, &s.v[1], SB_KEEP, "halted; would delete: older than 90 days");
	expect(&p, &s.v[2], SB_KEEP,
	    "halted; would delete: failed, older than 7 days");
	sb_retention_clear(&p);
}

static void
test_nothing_recent_halts(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	auto_done(&s, now - 100 * DAY);
	auto_done(&s, now - 49 * HOUR - 60000);	/* completed 49 h ago */
	add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, now - HOUR);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 1);
	assert_string_equal(p.halt_reason, "no automatic backup completed in "
	    "the last 48 hours: not pruning");
	assert_int_equal(p.ndelete, 0);
	assert_int_equal(count(&p, SB_DELETE), 0);
	sb_retention_clear(&p);

	/* Completed exactly 48 hours ago still counts. */
	s.v[1].completed_at = now - 48 * HOUR;
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	assert_int_equal(p.ndelete, 1);
	expect(&p, &s.v[0], SB_DELETE, "older than 90 days");
	sb_retention_clear(&p);

	/* Only failed and pending automatic records: halted too. */
	s.n = 0;
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, now - 10 * DAY);
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, now - HOUR);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 1);
	assert_int_equal(p.ndelete, 0);
	sb_retention_clear(&p);
}

static void
test_pending_latest_ignored(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*pend, *old, *prev;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	pend = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, now - 10 * 60000);
	prev = auto_done(&s, now - HOUR);
	old = auto_done(&s, now - 100 * DAY);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, pend, SB_KEEP, "pending");
	expect(&p, prev, SB_KEEP, "within 30 days");
	expect(&p, old, SB_DELETE, "older than 90 days");
	sb_retention_clear(&p);

	/* Behind the pending one, the latest finished one failed: halt. */
	prev->status = SB_STATUS_FAILED;
	auto_done(&s, now - 2 * HOUR);
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 1);
	assert_non_null(strstr(p.halt_reason, prev->id));
	assert_int_equal(count(&p, SB_DELETE), 0);
	sb_retention_clear(&p);
}

static void
test_failed_records(void **state)
{
	static struct set	 s;
	struct sb_retention_plan p;
	struct sb_backup	*f8, *f6, *f7, *mf;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	f8 = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - 8 * DAY);
	f6 = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - 6 * DAY);
	f7 = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - 7 * DAY);
	mf = add(&s, SB_TYPE_MANUAL, SB_STATUS_FAILED, now - 60 * DAY);
	auto_done(&s, now - HOUR);	/* the latest succeeded */
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, f8, SB_DELETE, "failed, older than 7 days");
	expect(&p, f6, SB_KEEP, "failed, within 7 days");
	expect(&p, f7, SB_KEEP, "failed, within 7 days");
	expect(&p, mf, SB_KEEP, "manual backups are never pruned");
	assert_int_equal(p.ndelete, 1);
	sb_retention_clear(&p);
}

/* A policy under which every completed backup is too old: keep one. */
static void
test_never_delete_all(void **state)
{
	static struct set	 s;
	struct sb_retention_policy tight = { 1, 1, 24 * 400, 7 };
	struct sb_retention_plan p;
	struct sb_backup	*a, *b, *c;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	a = auto_done(&s, now - 30 * DAY);
	b = auto_done(&s, now - 10 * DAY);
	c = auto_done(&s, now - 20 * DAY);
	assert_int_equal(sb_retention_plan(&tight, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, b, SB_KEEP, "newest completed automatic backup: never "
	    "delete them all");
	expect(&p, a, SB_DELETE, "older than 1 days");
	expect(&p, c, SB_DELETE, "older than 1 days");
	assert_int_equal(p.ndelete, 2);
	sb_retention_clear(&p);

	/* With the default policy nothing changes: the rule is a backstop. */
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.ndelete, 0);
	sb_retention_clear(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_only_manual),
		cmocka_unit_test(test_all_within_30_days),
		cmocka_unit_test(test_daily_boundary),
		cmocka_unit_test(test_iso_week_known_dates),
		cmocka_unit_test(test_week_edges_in_plan),
		cmocka_unit_test(test_weekly_selection),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_older_than_90_deleted),
		cmocka_unit_test(test_latest_failed_halts),
		cmocka_unit_test(test_nothing_recent_halts),
		cmocka_unit_test(test_pending_latest_ignored),
		cmocka_unit_test(test_failed_records),
		cmocka_unit_test(test_never_delete_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
