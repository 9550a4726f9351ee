/*
 * engine_check.c - `backup-cron check` (engine.h): gather the facts the
 * verdict needs (catalog summary, prune state, the store's marker), judge
 * them (sb_health_eval, drill.c), and report a change of state once:
 * the last verdict reported is kept in the catalog (monitor_state
 * "check"), so an hourly check does not send one webhook an hour.
 * sb_engine_status judges the same facts for GET /backups/status and the
 * metrics, without the store's marker (a status page makes no network
 * call) and without reporting.
 */
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>

#include "catalog.h"
#include "config.h"
#include "drill.h"
#include "engine_int.h"
#include "status.h"

#define HOUR_MS		(INT64_C(3600) * 1000)

/*
 * Whether the store answers and is ours: open (if it failed before) and
 * read its marker, within the store's own timeouts. NULL when it is, else
 * why (in buf, SB_ERRMSG_MAX bytes).
 */
static const char *
store_problem(struct sb_engine *e, char *buf)
{
	char	known[SB_UUID_LEN + 1];

	if (store_ready(e) != SB_OK) {
		sb_strlcpy(buf, e->err, SB_ERRMSG_MAX);
		return buf;
	}
	if (sb_catalog_setting_get(e->cat, STORE_ID_KEY, known,
	    sizeof(known)) != SB_OK)
		known[0] = '\0';
	if (sb_store_identify(e->store, e->cfg, known, NULL, buf) != SB_OK)
		return buf;
	return NULL;
}

/*
 * Report the change from the last verdict reported (none: OK) to h:
 * worse and not OK: backups.stale; back to OK: backups.recovered; better
 * but still not OK: nothing (the admin was told already). Then h is kept
 * as the last verdict.
 */
static void
check_transition(struct sb_engine *e, enum sb_health h, const char *reason)
{
	struct sb_state	prev;
	enum sb_health	was = SB_HEALTH_OK;
	int64_t		now = sb_now_ms();

	if (sb_catalog_state_get(e->cat, SB_STATE_CHECK, &prev) == SB_OK &&
	    sb_health_parse(prev.state, &was) != SB_OK)
		was = SB_HEALTH_OK;
	if (h != SB_HEALTH_OK && h > was)
		sb_engine_report(e, "backups.stale", SB_OK, NULL, reason);
	else if (h == SB_HEALTH_OK && was != SB_HEALTH_OK)
		sb_engine_report(e, "backups.recovered", SB_OK, NULL, reason);
	if (sb_catalog_state_set(e->cat, SB_STATE_CHECK, sb_health_str(h),
	    reason, now) != SB_OK)
		sb_log(SB_LOG_WARN, "catalog.error", "cannot keep the check's "
		    "state: %s", sb_catalog_errmsg(e->cat));
}

/*
 * The facts sb_health_eval judges, from the catalog (s, prune: kept by
 * the caller, f points into them). The store is not contacted here.
 * On failure, why in reason (len bytes).
 */
static enum sb_err
health_facts(struct sb_engine *e, struct sb_catalog_summary *s,
    struct sb_state *prune, struct sb_health_facts *f, char *reason,
    size_t len)
{
	int	rc;

	memset(f, 0, sizeof(*f));
	if ((rc = sb_catalog_summary(e->cat, s)) == SB_OK) {
		rc = sb_catalog_state_get(e->cat, SB_STATE_PRUNE, prune);
		if (rc == SB_ERR_NOTFOUND)
			rc = SB_OK;
		else if (rc == SB_OK && strcmp(prune->state,
		    SB_PRUNE_HALTED) == 0)
			f->prune_halted = prune->reason;
	}
	if (rc != SB_OK) {
		snprintf(reason, len, "catalog unreadable: %s",
		    sb_catalog_errmsg(e->cat));
		return fail(e, rc, "%s", reason);
	}
	f->now = sb_now_ms();
	f->newest_auto = s->newest_auto;
	f->last_drill = s->last_drill;
	f->completed = (size_t)s->completed;
	f->latest_failed = s->latest_id[0] != '\0' &&
	    s->latest_status == SB_STATUS_FAILED ? s->latest_id : NULL;
	f->drill_failed = s->drill_failed_id[0] != '\0' ?
	    s->drill_failed_id : NULL;
	f->max_age_hours = e->cfg->mon_max_age_hours;
	f->warn_age_hours = e->cfg->mon_warn_age_hours;
	f->drill_days = e->cfg->mon_drill_days;
	return SB_OK;
}

enum sb_err
sb_engine_check(struct sb_engine *e, struct sb_check_result *out)
{
	struct sb_catalog_summary	s;
	struct sb_health_facts		f;
	struct sb_state			prune;
	char				serr[SB_ERRMSG_MAX];
	int				rc;

	memset(out, 0, sizeof(*out));
	memset(&prune, 0, sizeof(prune));
	out->health = SB_HEALTH_UNKNOWN;
	out->age_hours = -1;
	if ((rc = health_facts(e, &s, &prune, &f, out->reason,
	    sizeof(out->reason))) != SB_OK)
		return rc;
	f.store_error = store_problem(e, serr);
	out->health = sb_health_eval(&f, out->reason, sizeof(out->reason));
	if (s.newest_auto > 0)
		out->age_hours = (f.now - s.newest_auto) / HOUR_MS;
	out->warn_hours = f.warn_age_hours > 0 && f.warn_age_hours <
	    f.max_age_hours ? f.warn_age_hours : f.max_age_hours;
	out->max_hours = f.max_age_hours;
	check_transition(e, out->health, out->reason);
	return SB_OK;
}

enum sb_err
sb_engine_status(struct sb_engine *e, struct sb_overview *out)
{
	struct sb_catalog_summary	s;
	struct sb_health_facts		f;
	struct sb_state			prune;
	struct stat			sb;
	int				rc;

	memset(out, 0, sizeof(*out));
	memset(&prune, 0, sizeof(prune));
	out->health = SB_HEALTH_UNKNOWN;
	if ((rc = health_facts(e, &s, &prune, &f, out->reason,
	    sizeof(out->reason))) != SB_OK)
		return rc;
	if ((rc = sb_catalog_tally(e->cat, &out->t)) != SB_OK)
		return fail(e, rc, "catalog unreadable: %s",
		    sb_catalog_errmsg(e->cat));
	out->now = f.now;
	out->health = sb_health_eval(&f, out->reason, sizeof(out->reason));
	out->newest_auto = s.newest_auto;
	if (s.newest_auto > 0)
		out->expected_by = s.newest_auto +
		    (int64_t)f.max_age_hours * HOUR_MS;
	sb_strlcpy(out->prune_state, prune.state, sizeof(out->prune_state));
	sb_strlcpy(out->prune_reason, prune.reason,
	    sizeof(out->prune_reason));
	out->prune_since = prune.since;
	out->store_kind = e->cfg->store_kind == SB_STORE_AZURE ? "azure" :
	    "disk";
	out->db_size = stat(e->cfg->source_path, &sb) == 0 ?
	    (int64_t)sb.st_size : -1;
	return SB_OK;
}
