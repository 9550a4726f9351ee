/*
 * drill.c - the pure rules of restore drills and of `backup-cron check`
 * (see drill.h): the smoke-query syntax, the nightly rotation and the
 * health verdict. The engine does the I/O (engine_drill.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drill.h"

#define HOUR_MS		(INT64_C(3600) * 1000)
#define DAY_MS		(24 * HOUR_MS)

static const char *const verifystr[SB_VERIFY__MAX] = { NULL, "ok", "failed" };
static const char *const cmpstr[SB_CMP__MAX] = {
	">", ">=", "=", "!=", "<", "<=" };
static const char *const healthstr[SB_HEALTH__MAX] = {
	"OK", "WARNING", "CRITICAL", "UNKNOWN" };

const char *
sb_verify_str(enum sb_verify v)
{
	return (unsigned)v < SB_VERIFY__MAX ? verifystr[v] : NULL;
}

enum sb_err
sb_verify_parse(const char *s, enum sb_verify *out)
{
	*out = SB_VERIFY_NONE;
	if (s == NULL)
		return SB_OK;
	for (int i = 1; i < SB_VERIFY__MAX; i++)
		if (strcmp(s, verifystr[i]) == 0) {
			*out = (enum sb_verify)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

const char *
sb_cmp_str(enum sb_cmp c)
{
	return (unsigned)c < SB_CMP__MAX ? cmpstr[c] : "?";
}

const char *
sb_health_str(enum sb_health h)
{
	return (unsigned)h < SB_HEALTH__MAX ? healthstr[h] : "UNKNOWN";
}

enum sb_err
sb_health_parse(const char *s, enum sb_health *out)
{
	for (int i = 0; s != NULL && i < SB_HEALTH__MAX; i++)
		if (strcmp(s, healthstr[i]) == 0) {
			*out = (enum sb_health)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

/* The operator that ends at text[end - 1], or -1; *n gets its length. */
static int
cmp_before(const char *text, size_t end, size_t *n)
{
	/* Two-letter operators first: ">=" must not be read as "=". */
	for (size_t len = 2; len >= 1; len--) {
		if (end < len)
			continue;
		for (int c = 0; c < SB_CMP__MAX; c++)
			if (strlen(cmpstr[c]) == len &&
			    strncmp(text + end - len, cmpstr[c], len) == 0) {
				*n = len;
				return c;
			}
	}
	return -1;
}

/*
 * Read from the end: blanks, the integer, blanks, the operator, at least
 * one blank; what is left (trimmed) is the SQL.
 */
enum sb_err
sb_drill_query_parse(const char *text, struct sb_drill_query *q, char *why,
    size_t len)
{
	size_t		 end, numstart, oplen, sqlend, start = 0;
	int		 op;
	char		 num[24];
	int64_t		 want;

	memset(q, 0, sizeof(*q));
	end = text != NULL ? strlen(text) : 0;
	while (end > 0 && isspace((unsigned char)text[end - 1]))
		end--;
	numstart = end;
	while (numstart > 0 && isdigit((unsigned char)text[numstart - 1]))
		numstart--;
	if (numstart > 0 && text[numstart - 1] == '-')
		numstart--;
	if (numstart == end || end - numstart >= sizeof(num)) {
		snprintf(why, len, "must end with an expectation: an operator "
		    "(> >= = != < <=) and an integer, e.g. "
		    "`SELECT count(*) FROM users > 0`");
		return SB_ERR_INVAL;
	}
	memcpy(num, text + numstart, end - numstart);
	num[end - numstart] = '\0';
	if (sb_parse_i64(num, INT64_MIN, INT64_MAX, &want) != SB_OK) {
		snprintf(why, len, "expected value %s is not an integer", num);
		return SB_ERR_INVAL;
	}
	sqlend = numstart;
	while (sqlend > 0 && isspace((unsigned char)text[sqlend - 1]))
		sqlend--;
	if ((op = cmp_before(text, sqlend, &oplen)) == -1) {
		snprintf(why, len, "no operator before %s: use one of > >= = "
		    "!= < <=", num);
		return SB_ERR_INVAL;
	}
	sqlend -= oplen;
	if (sqlend == 0 || !isspace((unsigned char)text[sqlend - 1])) {
		snprintf(why, len, "the operator %s must follow the query "
		    "after a blank", cmpstr[op]);
		return SB_ERR_INVAL;
	}
	while (sqlend > 0 && isspace((unsigned char)text[sqlend - 1]))
		sqlend--;
	while (start < sqlend && isspace((unsigned char)text[start]))
		start++;
	if (start == sqlend) {
		snprintf(why, len, "no query before the expectation");
		return SB_ERR_INVAL;
	}
	if (sqlend - start > SB_DRILL_SQL_MAX) {
		snprintf(why, len, "query longer than %d bytes",
		    SB_DRILL_SQL_MAX);
		return SB_ERR_INVAL;
	}
	memcpy(q->sql, text + start, sqlend - start);
	q->sql[sqlend - start] = '\0';
	q->op = (enum sb_cmp)op;
	q->want = want;
	return SB_OK;
}

const char *
sb_drill_query_check(const char *text, char *why, size_t len)
{
	struct sb_drill_query	q;

	return sb_drill_query_parse(text, &q, why, len) == SB_OK ? NULL : why;
}

int
sb_is_expected(const struct sb_drill_query *q, int64_t got)
{
	switch (q->op) {
	case SB_CMP_GT:
		return got > q->want;
	case SB_CMP_GE:
		return got >= q->want;
	case SB_CMP_EQ:
		return got == q->want;
	case SB_CMP_NE:
		return got != q->want;
	case SB_CMP_LT:
		return got < q->want;
	case SB_CMP_LE:
		return got <= q->want;
	default:
		return 0;
	}
}

/* Whether a was created after b (ties: the greater id, as list sorts). */
static int
is_newer(const struct sb_backup *a, const struct sb_backup *b)
{
	if (a->created_at != b->created_at)
		return a->created_at > b->created_at;
	return strcmp(a->id, b->id) > 0;
}

size_t
sb_drill_choose(const struct sb_backup *v, size_t n, size_t idx[2])
{
	size_t	k = 0, newest = n, rot = n;

	for (size_t i = 0; i < n; i++)
		if (v[i].type == SB_TYPE_AUTOMATIC &&
		    (newest == n || is_newer(&v[i], &v[newest])))
			newest = i;
	if (newest < n)
		idx[k++] = newest;
	for (size_t i = 0; i < n; i++) {
		if (i == newest)
			continue;
		if (rot == n || v[i].verified_at < v[rot].verified_at ||
		    (v[i].verified_at == v[rot].verified_at &&
		    is_newer(&v[rot], &v[i])))
			rot = i;
	}
	if (rot < n)
		idx[k++] = rot;
	return k;
}

/* Append "; "-separated text to buf (len bytes), truncating at its end. */
static void __attribute__((format(printf, 3, 4)))
reason_add(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;
	size_t	used = strnlen(buf, len);

	if (used + 1 >= len)
		return;
	if (used > 0) {
		snprintf(buf + used, len - used, "; ");
		used = strnlen(buf, len);
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* The CRITICAL reasons; returns whether there was one. */
static int
critical(const struct sb_health_facts *f, char *r, size_t len)
{
	int64_t	age = f->now - f->newest_auto;
	int64_t	max = (int64_t)f->max_age_hours * HOUR_MS;
	size_t	before = strnlen(r, len);

	if (f->newest_auto == 0)
		reason_add(r, len, "no completed automatic backup");
	else if (age > max)
		reason_add(r, len, "newest automatic backup is %lldh old "
		    "(max %uh)", (long long)(age / HOUR_MS), f->max_age_hours);
	if (f->latest_failed != NULL)
		reason_add(r, len, "the latest backup %s failed",
		    f->latest_failed);
	if (f->prune_halted != NULL)
		reason_add(r, len, "prune is halted: %s", f->prune_halted);
	if (f->drill_failed != NULL)
		reason_add(r, len, "the restore drill of backup %s failed",
		    f->drill_failed);
	if (f->store_error != NULL)
		reason_add(r, len, "the store is unreachable: %s",
		    f->store_error);
	return strnlen(r, len) > before;
}

enum sb_health
sb_health_eval(const struct sb_health_facts *f, char *r, size_t len)
{
	int64_t	age = f->now - f->newest_auto;
	int	warn = 0;

	r[0] = '\0';
	if (critical(f, r, len))
		return SB_HEALTH_CRITICAL;
	/*
	 * Late, not yet stale: with the defaults (24 and 26 hours) a daily
	 * backup that did not run shows the hour after it should have.
	 */
	if (f->warn_age_hours > 0 && f->warn_age_hours < f->max_age_hours &&
	    age > (int64_t)f->warn_age_hours * HOUR_MS) {
		reason_add(r, len, "newest automatic backup is %lldh old "
		    "(warning past %uh, max %uh)", (long long)(age / HOUR_MS),
		    f->warn_age_hours, f->max_age_hours);
		warn = 1;
	}
	if (f->drill_days > 0 && f->completed > 0 && f->last_drill == 0) {
		reason_add(r, len, "no restore drill yet");
		warn = 1;
	} else if (f->drill_days > 0 && f->completed > 0 &&
	    f->now - f->last_drill > (int64_t)f->drill_days * DAY_MS) {
		reason_add(r, len, "no restore drill for %lld days (max %u)",
		    (long long)((f->now - f->last_drill) / DAY_MS),
		    f->drill_days);
		warn = 1;
	}
	if (warn)
		return SB_HEALTH_WARNING;
	snprintf(r, len, "newest automatic backup is %lldh old, last drill "
	    "%s", (long long)(age / HOUR_MS), f->last_drill > 0 ? "passed" :
	    "none");
	return SB_HEALTH_OK;
}
