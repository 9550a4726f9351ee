/*
 * cron_drill.c - backup-cron's `drill` and `check`: restore drills, and
 * the monitoring plugin cron runs hourly (docs/OPERATIONS.md). Thin, like
 * every command: the engine drills and judges (engine_drill.c,
 * engine_check.c).
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "json.h"

#include "cron.h"

/* The exit status of a whole run: a failed drill wins, then the first. */
static int
worse(int cur, int next)
{
	if (cur == EX_CORRUPT || next == EX_OKAY)
		return cur;
	if (next == EX_CORRUPT || cur == EX_OKAY)
		return next;
	return cur;
}

/* Drill one backup; print its result (text) or add it to arr (--json). */
static int
drill_one(struct ctx *x, const char *id, struct json_object *arr)
{
	struct sb_backup	b;
	int			rc, ex = EX_OKAY;

	memset(&b, 0, sizeof(b));
	rc = sb_engine_drill(x->eng, id, &b);
	if (rc != SB_OK)
		ex = cron_failed(x, rc, "drill failed");
	if (b.id[0] != '\0' && (rc == SB_OK || rc == SB_ERR_CORRUPT)) {
		if (arr != NULL)
			json_object_array_add(arr, sb_backup_json(&b));
		else
			printf("backup %s: drill %s: %s\n", b.id, rc == SB_OK ?
			    "passed" : "FAILED", b.verify_detail ?
			    b.verify_detail : "");
	}
	sb_backup_clear(&b);
	return ex;
}

static enum sb_err
drill_opt(void *arg, int ch, const char *val)
{
	(void)val;
	if (ch != 'a')
		return SB_ERR_INVAL;
	*(int *)arg = 1;
	return SB_OK;
}

int
cmd_drill(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const struct cmd	*c = cron_cmd_find("drill");
	struct sb_backup_list	 l = { NULL, 0 };
	struct json_object	*arr = NULL;
	int			 i, all = 0, rc, ex = EX_OKAY;

	if ((i = cron_parse_opts(c, argc, argv, ":ah", lo, drill_opt,
	    &all)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (all && i < argc) {
		fprintf(stderr, "backup-cron drill: --all or IDs, not both\n");
		return EX_USAGE;
	}
	for (int k = i; k < argc; k++)
		if (!sb_is_uuid(argv[k])) {
			fprintf(stderr, "backup-cron drill: '%s' is not a "
			    "backup ID (a lowercase uuid, as `backup-cron "
			    "list` prints)\n", argv[k]);
			return EX_USAGE;
		}
	if (x->json)
		arr = json_object_new_array();
	if (i < argc)
		for (int k = i; k < argc; k++)
			ex = worse(ex, drill_one(x, argv[k], arr));
	else if ((rc = sb_engine_drill_choose(x->eng, all, &l)) != SB_OK)
		ex = cron_failed(x, rc, "drill failed");
	else {
		if (l.n == 0 && !x->json)
			printf("no completed backup to drill\n");
		for (size_t k = 0; k < l.n; k++)
			ex = worse(ex, drill_one(x, l.v[k].id, arr));
	}
	if (arr != NULL)
		cron_print_json(arr);
	sb_backup_list_clear(&l);
	return ex;
}

/*
 * A plugin's output is one line, and Nagios reads what follows '|' as
 * performance data: neither a newline nor a '|' may come from a reason.
 */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
		else if (*s == '|')
			*s = '/';
}

int
cron_check_unknown(struct ctx *x, const char *why)
{
	char	line[SB_ERRMSG_MAX];

	sb_strlcpy(line, why, sizeof(line));
	one_line(line);
	if (x->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "state",
		    json_object_new_string("UNKNOWN"));
		json_object_object_add(o, "reason",
		    json_object_new_string(line));
		cron_print_json(o);
	} else
		printf("SAFBACKUP UNKNOWN - %s\n", line);
	return SB_HEALTH_UNKNOWN;
}

/*
 * Nagios plugin output (https://nagios-plugins.org/doc/guidelines.html):
 * "SAFBACKUP STATE - reason | age_hours=N;WARN;CRIT", and the state as
 * the exit status.
 */
int
cmd_check(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct sb_check_result	 r;
	struct json_object	*o;
	char			 age[32];
	int			 i;

	if ((i = cron_parse_opts(cron_cmd_find("check"), argc, argv, ":h",
	    lo, NULL, NULL)) < 0)
		return i == -1 ? EX_OKAY : SB_HEALTH_UNKNOWN;
	if (i != argc)
		return cron_check_unknown(x, "check takes no arguments");
	if (sb_engine_check(x->eng, &r) != SB_OK)
		return cron_check_unknown(x, r.reason);
	one_line(r.reason);
	if (r.age_hours >= 0)
		snprintf(age, sizeof(age), "%lld", (long long)r.age_hours);
	else
		sb_strlcpy(age, "U", sizeof(age));
	if (x->json) {
		o = json_object_new_object();
		json_object_object_add(o, "state",
		    json_object_new_string(sb_health_str(r.health)));
		json_object_object_add(o, "reason",
		    json_object_new_string(r.reason));
		json_object_object_add(o, "age_hours", r.age_hours < 0 ? NULL :
		    json_object_new_int64(r.age_hours));
		cron_print_json(o);
	} else
		printf("SAFBACKUP %s - %s | age_hours=%s;%u;%u\n",
		    sb_health_str(r.health), r.reason, age, r.warn_hours,
		    r.max_hours);
	return (int)r.health;
}
