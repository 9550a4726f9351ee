/*
 * status.h - the state of the backups as GET /backups/status shows it
 * (sb_engine_status, engine_check.c) and the same facts in the
 * Prometheus text exposition format 0.0.4 (metrics.c), which both
 * GET /backups/metrics and `backup-cron metrics` print.
 */
#ifndef SB_STATUS_H
#define SB_STATUS_H

#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "catalog.h"
#include "drill.h"
#include "engine.h"
#include "sb.h"

struct sb_overview {
	int64_t			now;		/* ms */
	struct sb_catalog_tally	t;
	int64_t			newest_auto;	/* ms, 0 none */
	int64_t			expected_by;	/* newest_auto + max_age_hours:
						   the next automatic backup is
						   due by then; 0 none */
	char			prune_state[SB_STATE_NAME_MAX + 1]; /* ""
						   never pruned */
	char			prune_reason[SB_ERRMSG_MAX];
	int64_t			prune_since;	/* ms, 0 none */
	const char		*store_kind;	/* "disk", "azure" */
	int64_t			db_size;	/* live database, -1 unknown */
	enum sb_health		health;		/* sb_health_eval, the store
						   not contacted */
	char			reason[1024];
};

/* Whether prune is halted. Inline: json.c needs it, and the fuzzers
 * link json.c without the metrics writer. */
static inline int
sb_is_prune_halted(const struct sb_overview *s)
{
	return strcmp(s->prune_state, SB_PRUNE_HALTED) == 0;
}

/*
 * Escape a label value for the exposition format: \ as \\, " as \",
 * newline as \n. Into out (len bytes, truncated, always terminated).
 */
void		sb_prom_escape(const char *in, char *out, size_t len);

/*
 * The metrics of s in the text exposition format 0.0.4 (one HELP and one
 * TYPE line per family, then its samples). Timestamps are 0 when there is
 * no such event; a duration family is left out when there is none.
 * SB_ERR_IO when f fails.
 */
enum sb_err	sb_metrics_write(FILE *f, const struct sb_overview *s);

#endif /* SB_STATUS_H */
