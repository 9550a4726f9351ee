/*
 * drill.h - the pure rules of restore drills and of `backup-cron check`:
 * the [drill] smoke-query syntax and its expectation, which backups a
 * nightly drill picks, and the health verdict from the facts the engine
 * gathers (engine_drill.c). Nothing here touches a file or the network.
 */
#ifndef SB_DRILL_H
#define SB_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"

#define SB_DRILL_QUERIES	8	/* [drill] query, query2 .. query8 */
#define SB_DRILL_SQL_MAX	1024	/* bytes of one query's SQL */

const char	*sb_verify_str(enum sb_verify);	/* "ok", "failed"; NULL: none */
enum sb_err	 sb_verify_parse(const char *, enum sb_verify *);

/* The comparison of a smoke query's expectation. */
enum sb_cmp {
	SB_CMP_GT = 0,	/* > */
	SB_CMP_GE,	/* >= */
	SB_CMP_EQ,	/* = */
	SB_CMP_NE,	/* != */
	SB_CMP_LT,	/* < */
	SB_CMP_LE,	/* <= */
	SB_CMP__MAX
};

const char	*sb_cmp_str(enum sb_cmp);

/* One smoke query: SQL returning one integer, and what it must be. */
struct sb_drill_query {
	char		sql[SB_DRILL_SQL_MAX + 1];
	enum sb_cmp	op;
	int64_t		want;
};

/*
 * Parse "SQL OP INTEGER", the expectation at the end of the line:
 * `SELECT count(*) FROM users > 0`. OP is one of > >= = != < <=, with
 * blanks before it; INTEGER a decimal, maybe negative. The SQL is taken
 * as it stands (SQLite judges it when the drill runs). SB_ERR_INVAL with
 * the reason in why (len bytes) when the text does not have that shape.
 */
enum sb_err	sb_drill_query_parse(const char *text, struct sb_drill_query *,
		    char *why, size_t len);

/* The same as a config check: NULL if text parses, else why (len bytes). */
const char	*sb_drill_query_check(const char *text, char *why, size_t len);

/* Whether got meets the query's expectation. */
int		sb_is_expected(const struct sb_drill_query *, int64_t got);

/*
 * The nightly choice among completed backups v[0..n) (any order): the
 * newest automatic one, then one other in rotation, the one drilled
 * longest ago (never drilled first; then the oldest). Each night one
 * backup moves to the back of the rotation, so with K kept backups each
 * is drilled within K nights (docs/OPERATIONS.md). idx gets up to two
 * indexes into v; returns how many (0 when n is 0).
 */
size_t		sb_drill_choose(const struct sb_backup *v, size_t n,
		    size_t idx[2]);

/* The verdict of `backup-cron check` (Nagios plugin return codes). */
enum sb_health {
	SB_HEALTH_OK = 0,
	SB_HEALTH_WARNING = 1,
	SB_HEALTH_CRITICAL = 2,
	SB_HEALTH_UNKNOWN = 3,
	SB_HEALTH__MAX
};

const char	*sb_health_str(enum sb_health);	/* "OK", "WARNING", ... */
enum sb_err	 sb_health_parse(const char *, enum sb_health *);

/* What check looks at; times in ms, 0 for "none". */
struct sb_health_facts {
	int64_t		 now;
	int64_t		 newest_auto;	/* created_at of the newest completed
					   automatic backup */
	int64_t		 last_drill;	/* newest verified_at of any backup */
	size_t		 completed;	/* completed backups in the catalog */
	const char	*latest_failed;	/* id of the latest backup if it
					   failed, else NULL */
	const char	*prune_halted;	/* the halt's reason, else NULL */
	const char	*drill_failed;	/* id of a kept backup whose latest
					   drill failed, else NULL */
	const char	*store_error;	/* the store is unreachable: why */
	unsigned	 max_age_hours;	/* [monitor] max_age_hours */
	unsigned	 warn_age_hours; /* [monitor] warn_age_hours, 0 off */
	unsigned	 drill_days;	/* [monitor] drill_max_age_days */
};

/*
 * The verdict and its reasons, worst first, joined with "; " into reason
 * (len bytes). CRITICAL: no automatic backup, or the newest older than
 * max_age_hours; the latest backup failed; prune halted; a drill failed;
 * the store unreachable. WARNING: the newest automatic backup older than
 * warn_age_hours (when that is below max_age_hours); no drill within
 * drill_days (none yet counts).
 */
enum sb_health	sb_health_eval(const struct sb_health_facts *, char *reason,
		    size_t len);

#endif /* SB_DRILL_H */
