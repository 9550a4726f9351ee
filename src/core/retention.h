/*
 * retention.h - which automatic backups to keep: a pure function of the
 * records and the time, with a reason for every decision.
 *
 * Policy (the user's word, seed-spec.txt):
 *  - manual backups are never touched;
 *  - keep every completed automatic backup of the last daily_days (30);
 *  - keep the newest completed automatic backup of each ISO week (UTC) for
 *    weekly_days (90);
 *  - delete every other completed automatic backup;
 *  - failed records older than failed_days (7) are deleted (with any
 *    partial object); younger failed and all pending records are kept;
 *  - if the latest automatic backup failed, or none completed within
 *    recent_hours (48), nothing at all is deleted: the plan is "halted"
 *    with the reason, to be reported;
 *  - never fewer than min_keep (7) completed automatic backups are left,
 *    whatever their age: a floor no clock can get under;
 *  - a clock that jumped halts the plan too, until an admin confirms it:
 *    a record dated in the future (backward), or automatic backups more
 *    than max_gap_hours (72) apart (forward). Only what is newer than the
 *    confirmation and than the last prune's check counts. Records dated
 *    in the future never count as "latest" or "recent", nor in gaps.
 */
#ifndef SB_RETENTION_H
#define SB_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"

/*
 * Tolerated clock skew: a record may be this far ahead of now (another
 * host's clock, NTP slewing) before it counts as dated in the future.
 */
#define SB_RETENTION_SKEW_MS	(INT64_C(5) * 60 * 1000)

/*
 * The config's [retention] keys, and two marks the catalog remembers
 * (engine.c reads them from its settings): records created at or before
 * a mark are not checked for clock jumps again. 0 means "never".
 */
struct sb_retention_policy {
	unsigned	daily_days;
	unsigned	weekly_days;
	unsigned	recent_hours;
	unsigned	failed_days;
	unsigned	min_keep;	/* completed automatic floor; 0: none */
	unsigned	max_gap_hours;	/* longer = a jump; 0: not checked */
	int64_t		clock_confirmed; /* ms: newest created_at an admin
					    confirmed (records dated in the
					    future) */
	int64_t		clock_confirmed_at; /* ms: when an admin confirmed
					    the clock (gaps) */
	int64_t		gaps_checked;	/* ms: newest automatic created_at a
					    prune that ran already checked
					    (gaps only) */
};

enum sb_verdict {
	SB_KEEP = 0,
	SB_DELETE,
	SB_VERDICT__MAX
};

struct sb_decision {
	const struct sb_backup	*backup;	/* borrowed from the input */
	enum sb_verdict		 verdict;
	char			 reason[96];	/* e.g. "within 30 days" */
};

/* A plan; decisions heap-owned, released by sb_retention_clear. */
struct sb_retention_plan {
	int			 halted;	/* 1: delete nothing */
	char			 halt_reason[384];
	int			 clock_halt;	/* 1: halted for the clock */
	int64_t			 checked_through; /* ms: gaps_checked to store
						    after this plan ran; 0
						    when halted */
	struct sb_decision	*v;		/* one per input backup */
	size_t			 n;
	size_t			 ndelete;
};

/*
 * Decide for every backup in list (any order, any type) at time now (ms).
 * Returns SB_OK or SB_ERR_NOMEM. When halted, every verdict is SB_KEEP.
 */
enum sb_err sb_retention_plan(const struct sb_retention_policy *,
	    const struct sb_backup *list, size_t n, int64_t now,
	    struct sb_retention_plan *out);
void	sb_retention_clear(struct sb_retention_plan *);

/* ISO 8601 week of a UTC time: year*100 + week (e.g. 202648). */
int	sb_iso_week(int64_t ms);

#endif /* SB_RETENTION_H */
