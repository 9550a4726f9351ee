/*
 * report.h - structured logging and the error reporter.
 *
 * Every log line is one JSON object on stderr:
 *   {"ts":"2026-11-26T04:30:00.123Z","level":"error","component":"backup-cron",
 *    "event":"backup.failed","msg":"...", ...extra fields}
 * sb_report() logs at error level and, when a webhook is configured, POSTs
 * the same JSON object to it (libcurl, bounded by a timeout). A failing
 * webhook is logged, never fatal.
 */
#ifndef SB_REPORT_H
#define SB_REPORT_H

#include "sb.h"

enum sb_level {
	SB_LOG_DEBUG = 0,
	SB_LOG_INFO,
	SB_LOG_WARN,
	SB_LOG_ERROR,
	SB_LOG__MAX
};

/* Process-wide: component name in every line, minimum level printed. */
void	sb_log_init(const char *component, enum sb_level min);

/* Log one line with a printf-style message. */
void	sb_log(enum sb_level, const char *event, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

/* Log with extra string fields: kv is {"key","value",...,NULL}. */
void	sb_logkv(enum sb_level, const char *event, const char *const *kv,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct sb_reporter;

/* webhook may be NULL (log only). *out freed with sb_reporter_free. */
enum sb_err	sb_reporter_new(struct sb_reporter **out, const char *webhook,
	    unsigned timeout_s);
void	sb_reporter_free(struct sb_reporter **);

/*
 * Report a failure: an error log line with event, code (sb_errcode),
 * backup_id (may be NULL) and msg; then the webhook, if any.
 */
void	sb_report(struct sb_reporter *, const char *event, enum sb_err,
	    const char *backup_id, const char *msg);

/*
 * The two halves of sb_report(), for a caller holding a lock: the log
 * line now, the webhook POST (which may wait up to the timeout) once the
 * lock is released.
 */
void	sb_report_log(struct sb_reporter *, const char *event, enum sb_err,
	    const char *backup_id, const char *msg);
void	sb_report_post(struct sb_reporter *, const char *event, enum sb_err,
	    const char *backup_id, const char *msg);
int	sb_is_webhook_set(const struct sb_reporter *);

#endif /* SB_REPORT_H */
