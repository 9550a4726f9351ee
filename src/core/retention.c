/*
 * retention.c - which backups a prune deletes. A pure function of the
 * records, the policy and the time: no I/O, no clock, so every rule is
 * tested with fixed dates (tests/unit/test_retention.c).
 *
 * The rules, from retention.h and the user's answer in seed-spec.txt
 * ("that retention policy sounds good, although if backups fail, don't
 * delete the existing backups"):
 *
 *  1. manual backups: always kept, whatever their status;
 *  2. halt (delete nothing, say why) when automatic backups exist and
 *     - the latest non-pending automatic backup failed, or
 *     - no automatic backup completed within recent_hours;
 *  3. pending automatic: kept (a backup may be running);
 *  4. failed automatic: deleted once older than failed_days, else kept;
 *  5. completed automatic, by age of created_at:
 *     - age <= daily_days: kept (the boundary is inclusive: a backup
 *       created exactly daily_days ago is still "within 30 days");
 *     - age <= weekly_days: kept if it is the newest completed automatic
 *       backup of its ISO 8601 week (UTC), otherwise deleted;
 *     - older: deleted;
 *  6. never delete every completed automatic backup: if the plan would,
 *     the newest one is kept;
 *  7. the floor: never leave fewer than min_keep completed automatic
 *     backups; the newest of those the bands would delete are kept;
 *  8. halt for the clock; this reason wins over rule 2's, which a jumped
 *     clock fools (a fresh backup stamped a year ahead is "recent" and
 *     "latest"):
 *     - backward: a record of any type or status created more than
 *       SB_RETENTION_SKEW_MS after now;
 *     - forward: two consecutive automatic records (any status, by
 *       created_at) more than max_gap_hours apart. Failed records fill a
 *       gap: an outage is not a jump;
 *     only what comes after the marks counts: a record created after
 *     the mark, the part of a gap after it. An admin's confirmation
 *     gives two marks: the newest record it accepted (clock_confirmed,
 *     for records in the future) and the time it was given
 *     (clock_confirmed_at, for gaps). Records dated in the future take
 *     no part in rule 2 or in gaps until the clock reaches them: once
 *     accepted, a backup stamped a year ahead must not stand in for a
 *     recent one for that year. The gap check also skips
 *     what the last prune that ran already checked (gaps_checked), since
 *     prune itself thins the history into gaps (weekly slots, failed
 *     records going after failed_days). With neither mark (the first
 *     prune), gaps are only measured inside the last min(daily_days,
 *     failed_days), where no earlier prune can have deleted anything.
 *     A halted plan yields no new gaps_checked (checked_through is 0),
 *     so a jump is never forgotten until it is confirmed.
 *
 * "Newest of its ISO week" looks at every completed automatic backup of
 * that week, including those still within the daily window: a week's
 * newest backup stays its newest as time passes, so the backup a weekly
 * slot keeps never changes from one prune to the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retention.h"

#define MS_HOUR	(INT64_C(3600) * 1000)
#define MS_DAY	(24 * MS_HOUR)

/*
 * ISO 8601 week-numbering (UTC): weeks start on Monday, week 1 is the one
 * containing the year's first Thursday, so a week belongs to the year of
 * its Thursday. Dec 29-31 may fall in week 1 of the next year, Jan 1-3 in
 * week 52 or 53 of the previous one. Returns year * 100 + week.
 */
int
sb_iso_week(int64_t ms)
{
	struct tm	tm;
	int64_t		days, wd, thu;
	time_t		t;

	/* Floor division: times before 1970 still land on the right day. */
	days = ms / MS_DAY;
	if (ms % MS_DAY < 0)
		days--;
	/* 1970-01-01 was a Thursday; ISO weekday 1 = Monday .. 7 = Sunday. */
	wd = ((days + 3) % 7 + 7) % 7 + 1;
	thu = days - wd + 4;
	t = (time_t)(thu * 86400);
	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	return (tm.tm_year + 1900) * 100 + tm.tm_yday / 7 + 1;
}

/*
 * One completed automatic backup, for grouping by week: sorted by week
 * ascending, then newest first; equal times fall back on the id so the
 * choice never depends on input order. The sort keys are copied in since
 * qsort(3) passes no context.
 */
struct wk {
	size_t		 idx;		/* into the input list */
	int		 week;
	int64_t		 created;
	const char	*id;
};

static int
wk_cmp(const void *a, const void *b)
{
	const struct wk	*x = a, *y = b;
	int		 c;

	if (x->week != y->week)
		return x->week < y->week ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	c = strcmp(x->id, y->id);
	return c > 0 ? -1 : c < 0;
}

static void
decide(struct sb_decision *dd, enum sb_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
decide(struct sb_decision *dd, enum sb_verdict v, const char *fmt, ...)
{
	va_list	ap;

	dd->verdict = v;
	va_start(ap, fmt);
	vsnprintf(dd->reason, sizeof(dd->reason), fmt, ap);
	va_end(ap);
}

static int
is_auto(const struct sb_backup *b)
{
	return b->type == SB_TYPE_AUTOMATIC;
}

/* Newest first, equal times by id, as wk_cmp within a week. */
static int
newest_cmp(const void *a, const void *b)
{
	const struct wk	*x = a, *y = b;
	int		 c;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	c = strcmp(x->id, y->id);
	return c > 0 ? -1 : c < 0;
}

/* Add completed automatic backup list[idx] == b to the week groups. */
static void
week_add(struct wk *wk, size_t *nwk, size_t idx, const struct sb_backup *b)
{
	wk[*nwk].idx = idx;
	wk[*nwk].week = sb_iso_week(b->created_at);
	wk[*nwk].created = b->created_at;
	wk[*nwk].id = b->id;
	(*nwk)++;
}

static int
time_cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* A time for a reason text; "?" for one gmtime cannot show. */
static const char *
when(int64_t ms, char *buf, size_t len)
{
	if (sb_time_format(ms, buf, len) != SB_OK)
		snprintf(buf, len, "?");
	return buf;
}

/*
 * Rule 8, backward: records dated after now plus the skew and after the
 * admin's mark. Halts out (with the reason) and returns 1 if any.
 */
static int
clock_future(const struct sb_retention_policy *pol,
    const struct sb_backup *list, size_t n, int64_t now,
    struct sb_retention_plan *out)
{
	int64_t	newest = 0;
	size_t	i, nfut = 0;
	char	t1[40], t2[40];

	for (i = 0; i < n; i++) {
		if (list[i].created_at <= now + SB_RETENTION_SKEW_MS ||
		    list[i].created_at <= pol->clock_confirmed)
			continue;
		nfut++;
		if (list[i].created_at > newest)
			newest = list[i].created_at;
	}
	if (nfut == 0)
		return 0;
	out->halted = out->clock_halt = 1;
	snprintf(out->halt_reason, sizeof(out->halt_reason),
	    "%zu backup(s) dated in the future (newest %s, now %s): the "
	    "clock went back or was wrong; check the clock, then run "
	    "`backup-cron prune --confirm-clock`: not pruning", nfut,
	    when(newest, t1, sizeof(t1)), when(now, t2, sizeof(t2)));
	return 1;
}

/*
 * Rule 8, forward: gaps longer than max_gap_hours between consecutive
 * automatic records, ending after the marks. at holds the nat created_at
 * times of every automatic record and is sorted here. Halts out and
 * returns 1 if any; the reason names the newest gap.
 */
static int
clock_gaps(const struct sb_retention_policy *pol, int64_t *at, size_t nat,
    int64_t now, struct sb_retention_plan *out)
{
	int64_t	mark, lower, from, max, days, ga = 0, gb = 0;
	size_t	i, ngap = 0;
	char	t1[40], t2[40];

	if (pol->max_gap_hours == 0 || nat < 2)
		return 0;
	max = (int64_t)pol->max_gap_hours * MS_HOUR;
	mark = pol->clock_confirmed_at > pol->gaps_checked ?
	    pol->clock_confirmed_at : pol->gaps_checked;
	days = pol->daily_days < pol->failed_days ? pol->daily_days :
	    pol->failed_days;
	lower = mark > 0 ? mark : now - days * MS_DAY;
	qsort(at, nat, sizeof(*at), time_cmp);
	for (i = 1; i < nat; i++) {
		if (at[i] <= lower)
			continue;
		/* Only the part of a gap after the mark is unaccounted. */
		from = at[i - 1] < lower ? lower : at[i - 1];
		if (at[i] - from <= max)
			continue;
		ngap++;
		ga = at[i - 1];
		gb = at[i];
	}
	if (ngap == 0)
		return 0;
	out->halted = out->clock_halt = 1;
	snprintf(out->halt_reason, sizeof(out->halt_reason),
	    "automatic backups jumped from %s to %s with nothing in between "
	    "(more than %u hours; %zu such gap(s) not yet confirmed): the "
	    "clock jumped forward, or backups stopped; check the clock, then "
	    "run `backup-cron prune --confirm-clock`: not pruning",
	    when(ga, t1, sizeof(t1)), when(gb, t2, sizeof(t2)),
	    pol->max_gap_hours, ngap);
	return 1;
}

/* What the first pass over the records learns, for the rules after it. */
struct scan {
	struct wk		*wk;	/* completed automatic, by week */
	size_t			 nwk;
	int64_t			*at;	/* automatic created_at, not future */
	size_t			 nauto;
	size_t			 ndone;	/* completed within recent_hours */
	const struct sb_backup	*latest;	/* newest non-pending auto */
	const struct sb_backup	*newest_done;	/* newest completed auto */
};

/*
 * The first pass: every decision starts as "kept"; the automatic records
 * are gathered into sc (weeks, times, the latest, the recent ones), and
 * out->checked_through gets the newest automatic record not in the
 * future.
 */
static void
scan_records(const struct sb_retention_policy *pol,
    const struct sb_backup *list, size_t n, int64_t now,
    struct sb_retention_plan *out, struct scan *sc)
{
	int64_t	recent = now - (int64_t)pol->recent_hours * MS_HOUR, done;

	for (size_t i = 0; i < n; i++) {
		const struct sb_backup *b = &list[i];

		out->v[i].backup = b;
		decide(&out->v[i], SB_KEEP, "kept");
		if (!is_auto(b))
			continue;
		/*
		 * A record dated in the future (rule 8 halts on it until an
		 * admin confirms it) says nothing about the present: it is
		 * neither the latest nor a recent backup, nor a gap's end,
		 * until the clock reaches it. Otherwise one backup stamped a
		 * year ahead, once confirmed, would blind rules 2 and 8 for
		 * that year.
		 */
		if (b->created_at > now + SB_RETENTION_SKEW_MS) {
			if (b->status == SB_STATUS_COMPLETED)
				week_add(sc->wk, &sc->nwk, i, b);
			continue;
		}
		sc->at[sc->nauto++] = b->created_at;
		if (b->created_at > out->checked_through)
			out->checked_through = b->created_at;
		/* On a tie in time, a failure wins: the safer reading. */
		if (b->status != SB_STATUS_PENDING && (sc->latest == NULL ||
		    b->created_at > sc->latest->created_at ||
		    (b->created_at == sc->latest->created_at &&
		    b->status == SB_STATUS_FAILED)))
			sc->latest = b;
		if (b->status != SB_STATUS_COMPLETED)
			continue;
		/* Completion time says whether one finished "recently". */
		done = b->completed_at > 0 ? b->completed_at : b->created_at;
		if (done >= recent)
			sc->ndone++;
		week_add(sc->wk, &sc->nwk, i, b);
	}
	for (size_t i = 0; i < sc->nwk; i++) {
		const struct sb_backup *b = &list[sc->wk[i].idx];

		if (sc->newest_done == NULL ||
		    b->created_at > sc->newest_done->created_at ||
		    (b->created_at == sc->newest_done->created_at &&
		    strcmp(b->id, sc->newest_done->id) > 0))
			sc->newest_done = b;
	}
}

/* Rule 2. With no automatic backup at all there is nothing to halt. */
static void
halt_unhealthy(const struct sb_retention_policy *pol, const struct scan *sc,
    struct sb_retention_plan *out)
{
	if (sc->latest != NULL && sc->latest->status == SB_STATUS_FAILED) {
		out->halted = 1;
		snprintf(out->halt_reason, sizeof(out->halt_reason),
		    "latest automatic backup %s failed: not pruning",
		    sc->latest->id);
	} else if (sc->nauto > 0 && sc->ndone == 0) {
		out->halted = 1;
		snprintf(out->halt_reason, sizeof(out->halt_reason),
		    "no automatic backup completed in the last %u hours: "
		    "not pruning", pol->recent_hours);
	}
}

/* Rules 1, 3, 4 and the age bands of 5, for one record. */
static void
decide_band(const struct sb_retention_policy *pol, const struct sb_backup *b,
    int64_t now, struct sb_decision *dd)
{
	int64_t	daily = now - (int64_t)pol->daily_days * MS_DAY;
	int64_t	weekly = now - (int64_t)pol->weekly_days * MS_DAY;
	int64_t	failed = now - (int64_t)pol->failed_days * MS_DAY;

	if (!is_auto(b)) {
		decide(dd, SB_KEEP, "manual backups are never pruned");
		return;
	}
	switch (b->status) {
	case SB_STATUS_PENDING:
		decide(dd, SB_KEEP, "pending");
		break;
	case SB_STATUS_FAILED:
		if (b->created_at < failed)
			decide(dd, SB_DELETE, "failed, older than %u days",
			    pol->failed_days);
		else
			decide(dd, SB_KEEP, "failed, within %u days",
			    pol->failed_days);
		break;
	case SB_STATUS_COMPLETED:
		if (b->created_at >= daily)
			decide(dd, SB_KEEP, "within %u days", pol->daily_days);
		else if (b->created_at >= weekly)
			decide(dd, SB_DELETE, "older than %u days, not the "
			    "newest of its ISO week", pol->daily_days);
		else
			decide(dd, SB_DELETE, "older than %u days",
			    pol->weekly_days);
		break;
	default:
		decide(dd, SB_KEEP, "unknown status: kept");
		break;
	}
}

/*
 * Rule 5, weekly band, then rule 7 (keep the newest of the would-be-
 * deleted up to the floor), then rule 6 (never all of them). Sorts
 * sc->wk.
 */
static void
keep_completed(const struct sb_retention_policy *pol, int64_t now,
    struct scan *sc, struct sb_retention_plan *out)
{
	int64_t	daily = now - (int64_t)pol->daily_days * MS_DAY;
	int64_t	weekly = now - (int64_t)pol->weekly_days * MS_DAY;
	size_t	i, nkept = 0, ndel = 0;

	/* The first of each week group is its newest. */
	qsort(sc->wk, sc->nwk, sizeof(*sc->wk), wk_cmp);
	for (i = 0; i < sc->nwk; i++) {
		struct sb_decision *dd = &out->v[sc->wk[i].idx];

		if (i > 0 && sc->wk[i].week == sc->wk[i - 1].week)
			continue;
		if (sc->wk[i].created < daily && sc->wk[i].created >= weekly)
			decide(dd, SB_KEEP, "newest of ISO week %d-W%02d",
			    sc->wk[i].week / 100, sc->wk[i].week % 100);
	}

	for (i = 0; i < sc->nwk; i++)
		if (out->v[sc->wk[i].idx].verdict == SB_KEEP)
			nkept++;
	qsort(sc->wk, sc->nwk, sizeof(*sc->wk), newest_cmp);
	for (i = 0; i < sc->nwk && nkept < pol->min_keep; i++) {
		struct sb_decision *dd = &out->v[sc->wk[i].idx];

		if (dd->verdict != SB_DELETE)
			continue;
		decide(dd, SB_KEEP, "kept: min_keep floor (%u)",
		    pol->min_keep);
		nkept++;
	}

	for (i = 0; i < sc->nwk; i++)
		if (out->v[sc->wk[i].idx].verdict == SB_DELETE)
			ndel++;
	if (sc->nwk > 0 && ndel == sc->nwk) {
		for (i = 0; i < out->n; i++)
			if (out->v[i].backup == sc->newest_done)
				decide(&out->v[i], SB_KEEP, "newest completed "
				    "automatic backup: never delete them all");
	}
}

/*
 * Rule 2 applied: a halted plan only says what it would have done. Then
 * what the next prune need not check again: only once this ran.
 */
static void
apply_halt(const struct sb_retention_policy *pol,
    struct sb_retention_plan *out)
{
	for (size_t i = 0; i < out->n; i++) {
		struct sb_decision *dd = &out->v[i];

		if (dd->verdict != SB_DELETE)
			continue;
		if (out->halted) {
			char why[sizeof(dd->reason)];
			memcpy(why, dd->reason, sizeof(why));
			decide(dd, SB_KEEP, "halted; would delete: %s", why);
		} else
			out->ndelete++;
	}
	if (out->halted)
		out->checked_through = 0;
	else if (pol->gaps_checked > out->checked_through)
		out->checked_through = pol->gaps_checked;
}

/*
 * Build the plan (see the rules at the top). out is filled and owned by
 * the caller (sb_retention_clear); on error it is left empty. Decisions
 * are in input order and point into list, which must outlive the plan.
 * Returns SB_OK, SB_ERR_INVAL (no policy) or SB_ERR_NOMEM.
 */
enum sb_err
sb_retention_plan(const struct sb_retention_policy *pol,
    const struct sb_backup *list, size_t n, int64_t now,
    struct sb_retention_plan *out)
{
	struct scan	sc;
	enum sb_err	rc = SB_ERR_NOMEM;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	if (pol == NULL || (list == NULL && n > 0))
		return SB_ERR_INVAL;
	if (n == 0)
		return SB_OK;
	if (n > SIZE_MAX / sizeof(*sc.wk) ||
	    (out->v = calloc(n, sizeof(*out->v))) == NULL ||
	    (sc.wk = calloc(n, sizeof(*sc.wk))) == NULL ||
	    (sc.at = calloc(n, sizeof(*sc.at))) == NULL)
		goto out;
	out->n = n;

	/* Unsigned policy values times ms fit in int64_t. */
	scan_records(pol, list, n, now, out, &sc);
	halt_unhealthy(pol, &sc, out);
	/*
	 * Rule 8 after rule 2, so its reason wins: with a jumped clock the
	 * reasons of rule 2 are about the wrong thing.
	 */
	if (!clock_future(pol, list, n, now, out))
		clock_gaps(pol, sc.at, sc.nauto, now, out);
	for (size_t i = 0; i < n; i++)
		decide_band(pol, &list[i], now, &out->v[i]);
	keep_completed(pol, now, &sc, out);
	apply_halt(pol, out);
	rc = SB_OK;
out:
	free(sc.at);
	free(sc.wk);
	if (rc != SB_OK)
		sb_retention_clear(out);
	return rc;
}

void
sb_retention_clear(struct sb_retention_plan *p)
{
	if (p == NULL)
		return;
	free(p->v);
	memset(p, 0, sizeof(*p));
}
