/*
 * filter.c - one parser for the list filter (see filter.h). Both front
 * ends call it field by field, so a limit, a date rule or a message is
 * written here once.
 */
#include <string.h>

#include "sb.h"
#include "filter.h"

#define DAY_MS		86400000LL
#define DATE_LEN	10	/* "2026-01-31": a date without a time */

/* SB_ERR_INVAL, with why in err. */
static enum sb_err
invalid(char *err, const char *why)
{
	sb_seterr(err, "%s", why);
	return SB_ERR_INVAL;
}

/* An integer from min to max into *dst. */
static enum sb_err
parse_int(const char *val, int64_t min, int64_t max, int64_t *dst, char *err)
{
	if (sb_parse_i64(val, min, max, dst) != SB_OK) {
		sb_seterr(err, "expected an integer from %lld to %lld",
		    (long long)min, (long long)max);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/*
 * A bound in ms. 0 means "open" in struct sb_filter, so the epoch itself
 * (1970-01-01) is refused rather than silently meaning no bound. to is
 * inclusive, and a date alone ("2026-01-31") means the whole day: as to,
 * it stands for that day's last millisecond, not its first (sb_time_parse
 * takes a date alone only as exactly DATE_LEN bytes).
 */
static enum sb_err
parse_bound(const char *val, int is_to, int64_t *dst, char *err)
{
	int64_t	ms;

	if (sb_time_parse(val, &ms) != SB_OK || ms == 0) {
		sb_seterr(err, "expected a date (2026-11-26) or an ISO 8601 "
		    "time (2026-11-26T04:30:00Z) after 1970-01-01");
		return SB_ERR_INVAL;
	}
	if (is_to && strlen(val) == DATE_LEN)
		ms += DAY_MS - 1;
	*dst = ms;
	return SB_OK;
}

/*
 * q: what a description may hold (a search may span its lines): UTF-8
 * text without control bytes but tab and newline; not empty.
 */
static enum sb_err
parse_q(const char *val, const char **dst, char *err)
{
	if (val[0] == '\0' || !sb_is_description(val)) {
		sb_seterr(err, "expected 1 to %d bytes of UTF-8 text without "
		    "control characters (but tab and newline)", SB_DESC_MAX);
		return SB_ERR_INVAL;
	}
	*dst = val;
	return SB_OK;
}

/* Parse into f, which may be changed even on failure (see below). */
static enum sb_err
set(struct sb_filter *f, enum sb_filter_key key, const char *val, char *err)
{
	switch (key) {
	case SB_FILTER_TYPE:
		f->has_type = 1;
		return sb_type_parse(val, &f->type) == SB_OK ? SB_OK :
		    invalid(err, "expected automatic or manual");
	case SB_FILTER_STATUS:
		f->has_status = 1;
		return sb_status_parse(val, &f->status) == SB_OK ? SB_OK :
		    invalid(err, "expected pending, completed or failed");
	case SB_FILTER_FROM:
		return parse_bound(val, 0, &f->from, err);
	case SB_FILTER_TO:
		return parse_bound(val, 1, &f->to, err);
	case SB_FILTER_Q:
		return parse_q(val, &f->q, err);
	case SB_FILTER_LIMIT:
		return parse_int(val, 1, SB_LIST_MAX, &f->limit, err);
	case SB_FILTER_OFFSET:
		return parse_int(val, 0, SB_OFFSET_MAX, &f->offset, err);
	default:
		return invalid(err, "unknown filter");
	}
}

enum sb_err
sb_filter_set(struct sb_filter *f, enum sb_filter_key key, const char *val,
    char *err)
{
	struct sb_filter	tmp;

	if (val == NULL) {
		sb_seterr(err, "no value");
		return SB_ERR_INVAL;
	}
	/* Work on a copy: a refused value leaves f as it was. */
	tmp = *f;
	if (set(&tmp, key, val, err) != SB_OK)
		return SB_ERR_INVAL;
	*f = tmp;
	return SB_OK;
}

enum sb_err
sb_filter_check(const struct sb_filter *f, char *err)
{
	if (f->from != 0 && f->to != 0 && f->from > f->to) {
		sb_seterr(err, "from is after to");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}
