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

static enum sb_err
set_type(struct sb_filter *f, const char *val, char *err)
{
	if (sb_type_parse(val, &f->type) != SB_OK) {
		sb_seterr(err, "expected automatic or manual");
		return SB_ERR_INVAL;
	}
	f->has_type = 1;
	return SB_OK;
}

static enum sb_err
set_status(struct sb_filter *f, const char *val, char *err)
{
	if (sb_status_parse(val, &f->status) != SB_OK) {
		sb_seterr(err, "expected pending, completed or failed");
		return SB_ERR_INVAL;
	}
	f->has_status = 1;
	return SB_OK;
}

/*
 * A bound in ms. 0 means "open" in struct sb_filter, so the epoch itself
 * (1970-01-01) is refused rather than silently meaning no bound.
 */
static enum sb_err
parse_bound(const char *val, int64_t *ms, char *err)
{
	if (sb_time_parse(val, ms) != SB_OK || *ms == 0) {
		sb_seterr(err, "expected a date (2026-11-26) or an ISO 8601 "
		    "time (2026-11-26T04:30:00Z) after 1970-01-01");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

static enum sb_err
set_from(struct sb_filter *f, const char *val, char *err)
{
	int64_t	ms;

	if (parse_bound(val, &ms, err) != SB_OK)
		return SB_ERR_INVAL;
	f->from = ms;
	return SB_OK;
}

/*
 * to is inclusive, and a date alone ("2026-01-31") means the whole day:
 * it stands for that day's last millisecond, not its first. sb_time_parse
 * takes a date alone only as exactly DATE_LEN bytes.
 */
static enum sb_err
set_to(struct sb_filter *f, const char *val, char *err)
{
	int64_t	ms;

	if (parse_bound(val, &ms, err) != SB_OK)
		return SB_ERR_INVAL;
	if (strlen(val) == DATE_LEN)
		ms += DAY_MS - 1;
	f->to = ms;
	return SB_OK;
}

/*
 * What a description may hold (a search may span its lines): UTF-8 text
 * without control bytes but tab and newline; not empty.
 */
static enum sb_err
set_q(struct sb_filter *f, const char *val, char *err)
{
	if (val[0] == '\0' || !sb_valid_description(val)) {
		sb_seterr(err, "expected 1 to %d bytes of UTF-8 text without "
		    "control characters (but tab and newline)", SB_DESC_MAX);
		return SB_ERR_INVAL;
	}
	f->q = val;
	return SB_OK;
}

static enum sb_err
set_limit(struct sb_filter *f, const char *val, char *err)
{
	if (sb_parse_i64(val, 1, SB_LIST_MAX, &f->limit) != SB_OK) {
		sb_seterr(err, "expected an integer from 1 to %d",
		    SB_LIST_MAX);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

static enum sb_err
set_offset(struct sb_filter *f, const char *val, char *err)
{
	if (sb_parse_i64(val, 0, SB_OFFSET_MAX, &f->offset) != SB_OK) {
		sb_seterr(err, "expected an integer from 0 to %d",
		    SB_OFFSET_MAX);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

typedef enum sb_err	(*setter_fn)(struct sb_filter *, const char *,
			    char *);

static const setter_fn setters[SB_FILTER__MAX] = {
	[SB_FILTER_TYPE] = set_type,
	[SB_FILTER_STATUS] = set_status,
	[SB_FILTER_FROM] = set_from,
	[SB_FILTER_TO] = set_to,
	[SB_FILTER_Q] = set_q,
	[SB_FILTER_LIMIT] = set_limit,
	[SB_FILTER_OFFSET] = set_offset,
};

enum sb_err
sb_filter_set(struct sb_filter *f, enum sb_filter_key key, const char *val,
    char *err)
{
	struct sb_filter	tmp;

	if ((unsigned)key >= SB_FILTER__MAX || val == NULL) {
		sb_seterr(err, "unknown filter");
		return SB_ERR_INVAL;
	}
	/* Work on a copy: a refused value leaves f as it was. */
	tmp = *f;
	if (setters[key](&tmp, val, err) != SB_OK)
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
