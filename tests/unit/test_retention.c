/*
 * test_retention.c - the retention plan, against fixed dates: the policy
 * of retention.h (30 days daily, ISO weeks to 90 days, halts, the failed
 * records, the never-delete-all rule, the min_keep floor, the clock-jump
 * halts and their confirmation) and the ISO 8601 week numbering.
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

/* The policy without the floor and the clock checks (0 turns them off). */
static const struct sb_retention_policy pol = { .daily_days = 30,
    .weekly_days = 90, .recent_hours = 48, .failed_days = 7 };

/* The default policy of docs/CONFIG.md: floor 7, gaps over 72 h halt. */
static const struct sb_retention_policy full = { .daily_days = 30,
    .weekly_days = 90, .recent_hours = 48, .failed_days = 7,
    .min_keep = 7, .max_gap_hours = 72 };

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
	struct sb_retention_policy tight = { .daily_days = 1,
	    .weekly_days = 1, .recent_hours = 24 * 400, .failed_days = 7 };
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

/* --- the min_keep floor -------------------------------------------------- */

/*
 * Twenty daily backups, all far older than weekly_days (a clock that ran
 * a year ahead would make them so): exactly the seven newest stay.
 */
static void
test_min_keep_floor(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p7 = full;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");
	int64_t			 first = now - 500 * DAY;

	(void)state;
	p7.recent_hours = 24 * 600;	/* not halted for age: the floor acts */
	p7.max_gap_hours = 0;
	s.n = 0;
	for (int i = 0; i < 20; i++)
		auto_done(&s, first + i * DAY);
	add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, first);
	assert_int_equal(sb_retention_plan(&p7, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	for (int i = 0; i < 13; i++)
		expect(&p, &s.v[i], SB_DELETE, "older than 90 days");
	for (int i = 13; i < 20; i++)
		expect(&p, &s.v[i], SB_KEEP, "kept: min_keep floor (7)");
	expect(&p, &s.v[20], SB_KEEP, "manual backups are never pruned");
	assert_int_equal(p.ndelete, 13);
	sb_retention_clear(&p);

	/* min_keep 0: no floor, only the never-delete-all backstop. */
	p7.min_keep = 0;
	assert_int_equal(sb_retention_plan(&p7, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.ndelete, 19);
	expect(&p, &s.v[19], SB_KEEP, "newest completed automatic backup: "
	    "never delete them all");
	sb_retention_clear(&p);

	/* Kept ones count toward the floor: 3 daily + the 4 newest old. */
	p7.min_keep = 7;
	for (int i = 0; i < 3; i++)
		auto_done(&s, now - (i + 1) * HOUR);
	assert_int_equal(sb_retention_plan(&p7, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.ndelete, 16);
	expect(&p, &s.v[15], SB_DELETE, "older than 90 days");
	for (int i = 16; i < 20; i++)
		expect(&p, &s.v[i], SB_KEEP, "kept: min_keep floor (7)");
	sb_retention_clear(&p);

	/* Fewer backups than the floor: nothing at all goes. */
	s.n = 5;
	assert_int_equal(sb_retention_plan(&p7, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.ndelete, 0);
	sb_retention_clear(&p);
}

/* The floor counts completed automatic backups only. */
static void
test_min_keep_counts_completed_only(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p2 = full;
	struct sb_retention_plan p;
	int64_t			 now = T("2026-11-26T12:00:00Z");
	struct sb_backup	*a, *b, *c;

	(void)state;
	p2.min_keep = 2;
	p2.max_gap_hours = 0;
	s.n = 0;
	a = auto_done(&s, now - 200 * DAY);
	b = auto_done(&s, now - 150 * DAY);
	c = auto_done(&s, now - 100 * DAY);
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - 3 * DAY);
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, now - 1 * HOUR);
	add(&s, SB_TYPE_MANUAL, SB_STATUS_COMPLETED, now - 2 * HOUR);
	auto_done(&s, now - 2 * HOUR);
	assert_int_equal(sb_retention_plan(&p2, s.v, s.n, now, &p), SB_OK);
	assert_int_equal(p.halted, 0);
	expect(&p, a, SB_DELETE, "older than 90 days");
	expect(&p, b, SB_DELETE, "older than 90 days");
	expect(&p, c, SB_KEEP, "kept: min_keep floor (2)");
	assert_int_equal(p.ndelete, 2);
	sb_retention_clear(&p);
}

/* --- the clock ------------------------------------------------------------ */

/*
 * The incident of issue 8: 37 automatic backups as daily retention leaves
 * them after 120 days (30 daily, 7 weekly Sundays), then the clock jumps
 * one year and the cron job takes a backup and prunes.
 */
static void
incident(struct set *s, int64_t *last, int64_t *jumped)
{
	int64_t	t = T("2026-11-26T03:00:00Z");	/* a Thursday */

	s->n = 0;
	for (int w = 7; w >= 1; w--)	/* Sundays 5 .. 11 weeks back */
		auto_done(s, t - (4 + 7 * (w + 4)) * DAY);
	for (int d = 29; d >= 0; d--)
		auto_done(s, t - d * DAY);
	*last = t;
	*jumped = t + 365 * DAY;
	auto_done(s, *jumped);
}

static void
test_forward_jump_halts(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	int64_t			 last, jumped, now;
	char			 want[160], a[40], b[40];

	(void)state;
	incident(&s, &last, &jumped);
	now = jumped + 30 * 60000;
	assert_int_equal(s.n, 38);

	/* The policy of old plans to delete 36 of the 37 old backups. */
	assert_int_equal(sb_retention_plan(&pol, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	assert_int_equal(pl.ndelete, 37);
	sb_retention_clear(&pl);

	/* With the floor alone, 7 are left. */
	p.max_gap_hours = 0;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	assert_int_equal(pl.ndelete, 31);
	sb_retention_clear(&pl);

	/* With the gap check: halted, nothing deleted, the jump named. */
	p.max_gap_hours = 72;
	p.gaps_checked = last;		/* yesterday's prune checked to here */
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	assert_int_equal(pl.ndelete, 0);
	assert_int_equal(count(&pl, SB_DELETE), 0);
	assert_int_equal(pl.checked_through, 0);
	assert_int_equal(sb_time_format(last, a, sizeof(a)), SB_OK);
	assert_int_equal(sb_time_format(jumped, b, sizeof(b)), SB_OK);
	snprintf(want, sizeof(want), "automatic backups jumped from %s to %s "
	    "with nothing in between", a, b);
	if (strstr(pl.halt_reason, want) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", pl.halt_reason, want);
	assert_non_null(strstr(pl.halt_reason, "--confirm-clock"));
	/* What it would have done is still shown, with the floor applied. */
	expect(&pl, &s.v[0], SB_KEEP, "halted; would delete: older than 90 "
	    "days");
	expect(&pl, &s.v[36], SB_KEEP, "kept: min_keep floor (7)");
	sb_retention_clear(&pl);

	/* The first prune ever (no marks) sees it too. */
	p.gaps_checked = 0;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	sb_retention_clear(&pl);

	/* One more daily backup does not make the jump go away. */
	p.gaps_checked = last;
	auto_done(&s, jumped + DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now + DAY, &pl),
	    SB_OK);
	assert_int_equal(pl.halted, 1);
	if (strstr(pl.halt_reason, want) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", pl.halt_reason, want);
	sb_retention_clear(&pl);
}

/* Exactly max_gap_hours apart is a schedule; a millisecond more a jump. */
static void
test_gap_boundary(void **state)
{
	static struct set	 s;
	struct sb_retention_plan pl;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	auto_done(&s, now - 80 * HOUR);
	auto_done(&s, now - 8 * HOUR);
	assert_int_equal(sb_retention_plan(&full, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	assert_int_equal(pl.checked_through, now - 8 * HOUR);
	sb_retention_clear(&pl);
	s.v[0].created_at -= 1;
	assert_int_equal(sb_retention_plan(&full, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	sb_retention_clear(&pl);
}

/* Failed records in a gap are an outage the records explain: no halt. */
static void
test_gap_filled_with_failed(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	int64_t			 now = T("2026-11-26T12:00:00Z");

	(void)state;
	s.n = 0;
	for (int d = 20; d >= 10; d--)
		auto_done(&s, now - d * DAY);
	for (int d = 9; d >= 2; d--)
		add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now - d * DAY);
	auto_done(&s, now - 1 * DAY);
	auto_done(&s, now - 1 * HOUR);
	p.gaps_checked = now - 15 * DAY;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	/* The failed ones older than 7 days go, as ever. */
	assert_int_equal(pl.ndelete, 2);
	assert_int_equal(pl.checked_through, now - HOUR);
	sb_retention_clear(&pl);

	/* Without them the same dates are a 9-day jump. */
	s.v[11] = s.v[19];
	s.v[12] = s.v[20];
	s.n = 13;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	sb_retention_clear(&pl);

	/* Once checked by a prune that ran, that gap is history. */
	p.gaps_checked = now - 1 * DAY;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	sb_retention_clear(&pl);
}

/* The clock went back: records of any kind dated after now halt. */
static void
test_future_records_halt(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	struct sb_backup	*m;
	int64_t			 now = T("2026-11-26T12:00:00Z");
	char			 t1[40], want[160];

	(void)state;
	s.n = 0;
	for (int d = 20; d >= 0; d--)
		auto_done(&s, now - d * DAY - HOUR);
	p.gaps_checked = now - HOUR;
	/* Within the skew: another host's clock, NTP slewing. */
	m = add(&s, SB_TYPE_MANUAL, SB_STATUS_FAILED,
	    now + SB_RETENTION_SKEW_MS);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	sb_retention_clear(&pl);

	/* A manual failed record ten days ahead is enough. */
	m->created_at = now + 10 * DAY;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	assert_int_equal(sb_time_format(m->created_at, t1, sizeof(t1)), SB_OK);
	snprintf(want, sizeof(want), "1 backup(s) dated in the future "
	    "(newest %s, now ", t1);
	if (strstr(pl.halt_reason, want) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", pl.halt_reason, want);
	assert_non_null(strstr(pl.halt_reason, "the clock went back"));
	sb_retention_clear(&pl);

	/* Automatic ones too; the reason counts them. */
	auto_done(&s, now + 5 * DAY);
	add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_PENDING, now + 6 * DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_non_null(strstr(pl.halt_reason, "3 backup(s) dated in the "
	    "future"));
	sb_retention_clear(&pl);

	/* Confirmed up to the newest: accepted; one later: halted again. */
	p.clock_confirmed = now + 10 * DAY;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	sb_retention_clear(&pl);
	p.clock_confirmed = now + 10 * DAY - 1;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_non_null(strstr(pl.halt_reason, "1 backup(s) dated in the "
	    "future"));
	sb_retention_clear(&pl);
}

/*
 * A backup stamped a year ahead (a VM's clock, since corrected), once
 * confirmed, halts no more; but it stands in neither for the latest
 * backup nor for a recent one, nor ends a gap: a failure after it, or a
 * new gap, halts as it would without it.
 */
static void
test_confirmed_future_blinds_nothing(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	struct sb_backup	*today;
	int64_t			 now = T("2026-03-01T12:00:00Z");

	(void)state;
	s.n = 0;
	for (int d = 59; d >= 1; d--)
		auto_done(&s, now - d * DAY);
	auto_done(&s, now + 365 * DAY);		/* the VM's backup */
	p.gaps_checked = now - 2 * DAY;

	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);		/* not confirmed yet */
	sb_retention_clear(&pl);

	p.clock_confirmed = now + 365 * DAY;
	p.clock_confirmed_at = now;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	assert_true(pl.checked_through < now);	/* never a year ahead */
	sb_retention_clear(&pl);

	/* Today's backup fails: rule 2 still sees it as the latest. */
	today = add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, now + HOUR);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now + 2 * HOUR, &pl),
	    SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_non_null(strstr(pl.halt_reason, "failed"));
	sb_retention_clear(&pl);

	/* Five days with nothing, then a backup: a gap after the mark. */
	today->status = SB_STATUS_COMPLETED;
	auto_done(&s, now + 6 * DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now + 6 * DAY + HOUR,
	    &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_non_null(strstr(pl.halt_reason, "jumped"));
	sb_retention_clear(&pl);
}

/*
 * The admin's confirmation clears exactly the jump it covers: the next
 * days prune again, and a new jump later halts again.
 */
static void
test_confirmation_mark(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	int64_t			 last, jumped, now;
	char			 b[40];

	(void)state;
	incident(&s, &last, &jumped);
	now = jumped + 30 * 60000;
	p.gaps_checked = last;

	/* An older confirmation does not cover it. */
	p.clock_confirmed = p.clock_confirmed_at = last;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	sb_retention_clear(&pl);

	/* prune --confirm-clock marks now: prune runs, the floor holds. */
	p.clock_confirmed = p.clock_confirmed_at = now;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	assert_int_equal(pl.ndelete, 31);
	assert_int_equal(count(&pl, SB_KEEP), 7);
	assert_int_equal(pl.checked_through, jumped);
	for (size_t i = 31; i < 37; i++)
		expect(&pl, &s.v[i], SB_KEEP, "kept: min_keep floor (7)");
	expect(&pl, &s.v[37], SB_KEEP, "within 30 days");
	sb_retention_clear(&pl);

	/* Confirmed before the next backup (none after the jump yet). */
	s.n--;
	p.clock_confirmed = p.clock_confirmed_at = now;
	auto_done(&s, now + DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, now + DAY + HOUR,
	    &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	sb_retention_clear(&pl);

	/* Back to the confirmed history; the next days are normal. */
	s.n = 38;
	s.v[37].created_at = jumped;
	p.clock_confirmed = p.clock_confirmed_at = now;
	p.gaps_checked = jumped;
	for (int d = 1; d <= 3; d++)
		auto_done(&s, jumped + d * DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, jumped + 3 * DAY +
	    HOUR, &pl), SB_OK);
	assert_int_equal(pl.halted, 0);
	sb_retention_clear(&pl);

	/* A second jump, after the mark, halts again and is the one named. */
	auto_done(&s, jumped + 200 * DAY);
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, jumped + 200 * DAY +
	    HOUR, &pl), SB_OK);
	assert_int_equal(pl.halted, 1);
	assert_int_equal(pl.clock_halt, 1);
	assert_int_equal(sb_time_format(jumped + 200 * DAY, b, sizeof(b)),
	    SB_OK);
	if (strstr(pl.halt_reason, b) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", pl.halt_reason, b);
	assert_non_null(strstr(pl.halt_reason, "1 such gap(s)"));
	sb_retention_clear(&pl);
}

/* Remove the records a plan deleted, as a prune that ran would. */
static void
apply(struct set *s, const struct sb_retention_plan *pl)
{
	size_t	i, j = 0;
	int	del[512];

	for (i = 0; i < s->n; i++)
		del[i] = find(pl, &s->v[i])->verdict == SB_DELETE;
	for (i = 0; i < s->n; i++)
		if (!del[i])
			s->v[j++] = s->v[i];
	s->n = j;
}

/*
 * Daily backups and prunes for 200 days, with a 2-day outage (a 72-hour
 * gap, the most max_gap_hours allows) and a day whose backup failed: no
 * halt for the clock, ever, though prune thins the history into weekly
 * gaps. The marks carried from one prune to the next are what make that
 * true: with gaps_checked stuck at the start, the thinned history halts.
 */
static void
test_daily_history_never_halts(void **state)
{
	static struct set	 s;
	struct sb_retention_policy p = full;
	struct sb_retention_plan pl;
	int64_t			 t0 = T("2026-01-01T03:00:00Z"), t = 0;
	int			 halted_stuck = 0;

	(void)state;
	s.n = 0;
	for (int d = 0; d < 200; d++) {
		t = t0 + d * DAY;
		if (d == 100 || d == 101)
			continue;		/* the machine was off */
		if (d == 150)
			add(&s, SB_TYPE_AUTOMATIC, SB_STATUS_FAILED, t);
		else
			auto_done(&s, t);
		assert_int_equal(sb_retention_plan(&p, s.v, s.n, t + HOUR,
		    &pl), SB_OK);
		if (d == 150) {
			/* The failure halts, as ever; no mark moves. */
			assert_int_equal(pl.halted, 1);
			assert_int_equal(pl.clock_halt, 0);
			assert_int_equal(pl.checked_through, 0);
		} else if (pl.halted)
			fail_msg("day %d halted: %s", d, pl.halt_reason);
		else
			p.gaps_checked = pl.checked_through;
		apply(&s, &pl);
		sb_retention_clear(&pl);
	}
	/*
	 * Days 170..199 daily; 110..169 one per ISO week: the Sundays 115
	 * .. 164, but Saturday 149 for the week whose Sunday failed (the
	 * failure itself went after 7 days).
	 */
	assert_int_equal(p.gaps_checked, t);
	assert_int_equal(s.n, 30 + 8);

	/* The same history judged from a mark at the start: halted. */
	p.gaps_checked = t0;
	assert_int_equal(sb_retention_plan(&p, s.v, s.n, t + HOUR, &pl),
	    SB_OK);
	halted_stuck = pl.halted && pl.clock_halt;
	sb_retention_clear(&pl);
	assert_true(halted_stuck);
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
		cmocka_unit_test(test_min_keep_floor),
		cmocka_unit_test(test_min_keep_counts_completed_only),
		cmocka_unit_test(test_forward_jump_halts),
		cmocka_unit_test(test_gap_boundary),
		cmocka_unit_test(test_gap_filled_with_failed),
		cmocka_unit_test(test_future_records_halt),
		cmocka_unit_test(test_confirmation_mark),
		cmocka_unit_test(test_confirmed_future_blinds_nothing),
		cmocka_unit_test(test_daily_history_never_halts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
