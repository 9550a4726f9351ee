/*
 * metrics.c - the Prometheus text exposition format 0.0.4 of the backups'
 * state (status.h). One writer for GET /backups/metrics and for
 * `backup-cron metrics`, so the two can never disagree. Format: lines
 * "# HELP name text", "# TYPE name gauge", then "name{l="v",...} value";
 * label values escape \, " and newline (the format's only escapes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "status.h"

void
sb_prom_escape(const char *in, char *out, size_t len)
{
	size_t		 o = 0;
	const char	*rep;
	char		 one[2] = { 0, 0 };

	if (len == 0)
		return;
	for (; *in != '\0'; in++) {
		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		else {
			one[0] = *in;
			rep = one;
		}
		if (o + strlen(rep) >= len)
			break;
		memcpy(out + o, rep, strlen(rep));
		o += strlen(rep);
	}
	out[o] = '\0';
}

static void
family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* A timestamp in seconds (ms in), 0 for none. */
static void
stamp(FILE *f, const char *name, const char *help, int64_t ms)
{
	family(f, name, help);
	fprintf(f, "%s %" PRId64 ".%03d\n", name, ms / 1000,
	    (int)(ms % 1000));
}

/* A duration in seconds (ms in); the family is left out when ms < 0. */
static void
duration(FILE *f, const char *name, const char *help, int64_t ms)
{
	if (ms < 0)
		return;
	family(f, name, help);
	fprintf(f, "%s %" PRId64 ".%03d\n", name, ms / 1000,
	    (int)(ms % 1000));
}

/* A family with one sample per (type, status) or per type. */
static void
by_type(FILE *f, const char *name, const char *help,
    const int64_t v[SB_TYPE__MAX][SB_STATUS__MAX], int with_status)
{
	char	type[32], status[32];

	family(f, name, help);
	for (int t = 0; t < SB_TYPE__MAX; t++) {
		sb_prom_escape(sb_type_str((enum sb_type)t), type,
		    sizeof(type));
		if (!with_status) {
			fprintf(f, "%s{type=\"%s\"} %" PRId64 "\n", name, type,
			    v[t][SB_STATUS_COMPLETED]);
			continue;
		}
		for (int s = 0; s < SB_STATUS__MAX; s++) {
			sb_prom_escape(sb_status_str((enum sb_status)s),
			    status, sizeof(status));
			fprintf(f, "%s{type=\"%s\",status=\"%s\"} %" PRId64
			    "\n", name, type, status, v[t][s]);
		}
	}
}

enum sb_err
sb_metrics_write(FILE *f, const struct sb_overview *s)
{
	stamp(f, "safbackup_last_success_timestamp_seconds", "Completion "
	    "time of the newest completed backup (0: none).",
	    s->t.last_success.at);
	stamp(f, "safbackup_last_failure_timestamp_seconds", "Completion "
	    "time of the newest failed backup (0: none).",
	    s->t.last_failure.at);
	stamp(f, "safbackup_last_verified_timestamp_seconds", "Time of the "
	    "newest successful restore drill of a kept backup (0: none).",
	    s->t.verified.at);
	by_type(f, "safbackup_backups", "Backups in the catalog by type and "
	    "status.", s->t.count, 1);
	by_type(f, "safbackup_backup_bytes", "Bytes of the completed backups "
	    "by type.", s->t.bytes, 0);
	duration(f, "safbackup_last_backup_duration_seconds", "Duration of "
	    "the newest completed backup.", s->t.backup_ms);
	duration(f, "safbackup_last_restore_duration_seconds", "Duration of "
	    "the newest finished restore.", s->t.restore_ms);
	family(f, "safbackup_prune_halted", "1 when prune is halted (backups "
	    "failing or the clock jumped), else 0.");
	fprintf(f, "safbackup_prune_halted %d\n", sb_is_prune_halted(s));
	family(f, "safbackup_health", "The verdict of backup-cron check "
	    "without the store: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	fprintf(f, "safbackup_health %d\n", (int)s->health);
	return fflush(f) == 0 && !ferror(f) ? SB_OK : SB_ERR_IO;
}
