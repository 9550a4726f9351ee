/*
 * test_metrics.c - metrics.c, the Prometheus text exposition writer:
 * label escaping (\, " and newline), one HELP and one TYPE line per
 * family, every (type, status) sample, timestamps and durations in
 * seconds, a family left out when there is nothing to say, and a failing
 * stream reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "status.h"

static void
test_escape(void **state)
{
	char	buf[64];

	(void)state;
	sb_prom_escape("plain", buf, sizeof(buf));
	assert_string_equal(buf, "plain");
	sb_prom_escape("a\\b\"c\nd", buf, sizeof(buf));
	assert_string_equal(buf, "a\\\\b\\\"c\\nd");
	/* Truncation never splits an escape. */
	sb_prom_escape("ab\"", buf, 4);
	assert_string_equal(buf, "ab");
	sb_prom_escape("\n", buf, 2);
	assert_string_equal(buf, "");
}

/* The text the writer gives for ov (malloc'd). */
static char *
written(const struct sb_overview *ov)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(sb_metrics_write(f, ov), SB_OK);
	fclose(f);
	return buf;
}

/* How many lines of text start with prefix. */
static int
lines_with(const char *text, const char *prefix)
{
	int	n = 0;

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return n;
}

static void
test_write(void **state)
{
	struct sb_overview	 ov;
	char			*t;

	(void)state;
	memset(&ov, 0, sizeof(ov));
	ov.t.count[SB_TYPE_MANUAL][SB_STATUS_COMPLETED] = 3;
	ov.t.count[SB_TYPE_AUTOMATIC][SB_STATUS_FAILED] = 1;
	ov.t.bytes[SB_TYPE_MANUAL][SB_STATUS_COMPLETED] = 12345;
	ov.t.last_success.at = INT64_C(1700000000123);
	ov.t.backup_ms = 2500;
	ov.t.restore_ms = -1;
	sb_strlcpy(ov.prune_state, SB_PRUNE_HALTED, sizeof(ov.prune_state));
	ov.health = SB_HEALTH_CRITICAL;
	t = written(&ov);
	assert_int_equal(lines_with(t, "# TYPE safbackup_backups gauge"), 1);
	assert_int_equal(lines_with(t, "# HELP safbackup_backups "), 1);
	assert_int_equal(lines_with(t, "safbackup_backups{"), 6);
	assert_non_null(strstr(t, "\nsafbackup_backups{type=\"manual\","
	    "status=\"completed\"} 3\n"));
	assert_non_null(strstr(t, "\nsafbackup_backups{type=\"automatic\","
	    "status=\"pending\"} 0\n"));
	assert_non_null(strstr(t, "\nsafbackup_backup_bytes{type=\"manual\"} "
	    "12345\n"));
	assert_non_null(strstr(t, "\nsafbackup_last_success_timestamp_seconds "
	    "1700000000.123\n"));
	assert_non_null(strstr(t, "\nsafbackup_last_failure_timestamp_seconds "
	    "0.000\n"));
	assert_non_null(strstr(t, "\nsafbackup_last_backup_duration_seconds "
	    "2.500\n"));
	assert_null(strstr(t, "safbackup_last_restore_duration_seconds"));
	assert_non_null(strstr(t, "\nsafbackup_prune_halted 1\n"));
	assert_non_null(strstr(t, "\nsafbackup_health 2\n"));
	/* One TYPE and one HELP per family (restore duration left out). */
	assert_int_equal(lines_with(t, "# TYPE "), 8);
	assert_int_equal(lines_with(t, "# HELP "), 8);
	free(t);
	ov.prune_state[0] = '\0';
	t = written(&ov);
	assert_non_null(strstr(t, "\nsafbackup_prune_halted 0\n"));
	free(t);
}

static void
test_write_fails(void **state)
{
	struct sb_overview	 ov;
	FILE			*f = fopen("/dev/null", "r");

	(void)state;
	assert_non_null(f);
	memset(&ov, 0, sizeof(ov));
	assert_int_equal(sb_metrics_write(f, &ov), SB_ERR_IO);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
