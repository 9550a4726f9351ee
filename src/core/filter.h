/*
 * filter.h - the list filter (struct sb_filter, sb.h) as a user gives it,
 * field by field as text: one parser and one set of limits for both front
 * ends, GET /backups (backupd's http.c) and `backup-cron list`.
 *
 * The messages name no field: each front end prefixes the field as its
 * user spells it ("from: ..." over HTTP, "--from: ..." in the CLI), so the
 * same bad value gives the same reason in both.
 */
#ifndef SB_FILTER_H
#define SB_FILTER_H

#include <stdint.h>

#include "sb.h"

/*
 * The largest offset. INT32_MAX, the bound docs/openapi.json has always
 * given: no catalog gets near it, and one limit for both front ends.
 */
#define SB_OFFSET_MAX	INT32_MAX

enum sb_filter_key {
	SB_FILTER_TYPE = 0,	/* manual | automatic */
	SB_FILTER_STATUS,	/* pending | completed | failed */
	SB_FILTER_FROM,		/* created at or after: date or time */
	SB_FILTER_TO,		/* created at or before; a date alone: its end */
	SB_FILTER_Q,		/* substring of the description or a tag */
	SB_FILTER_LIMIT,	/* 1..SB_LIST_MAX (0, unset: SB_LIST_DEFAULT,
				   which sb_catalog_list applies) */
	SB_FILTER_OFFSET,	/* 0..SB_OFFSET_MAX */
	SB_FILTER__MAX
};

/*
 * Parse val into f's field for key. q is kept as a pointer to val, which
 * must outlive f. SB_OK, or SB_ERR_INVAL with the reason in err
 * (SB_ERRMSG_MAX bytes) and f unchanged.
 */
enum sb_err	sb_filter_set(struct sb_filter *f, enum sb_filter_key key,
		    const char *val, char *err);

/*
 * The rules between fields, once all are set: from <= to when both are
 * given. SB_OK, or SB_ERR_INVAL with err.
 */
enum sb_err	sb_filter_check(const struct sb_filter *f, char *err);

#endif /* SB_FILTER_H */
