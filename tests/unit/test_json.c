/*
 * test_json.c - json.c: the JSON of backups and restores (backupd's
 * answers and backup-cron --json), of prune, verify and reconcile
 * (backup-cron --json), and the tags column's text. Exact strings where
 * the shape is the interface: a renamed or reordered member fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "sb.h"
#include "engine.h"
#include "json.h"

#define ID1	"0b0e6c9e-1b7a-4c53-9d7e-0d5c9f2f1a11"
#define ID2	"1c1f7d0f-2c8b-4d64-8e8f-1e6d0a3a2b22"
#define ID3	"2d208e10-3d9c-4e75-9f90-2f7e1b4b3c33"

/* o as compact text, then released. */
static void
assert_json(json_object *o, const char *want)
{
	assert_non_null(o);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want);
	json_object_put(o);
}

static void
test_backup_json(void **state)
{
	struct sb_backup	 b;
	json_object		*o, *v;
	const char		*tags[] = { "x", "y" };

	(void)state;
	memset(&b, 0, sizeof(b));
	sb_strlcpy(b.id, ID1, sizeof(b.id));
	b.type = SB_TYPE_AUTOMATIC;
	b.status = SB_STATUS_PENDING;
	b.created_at = 1764131400123LL;
	b.completed_at = 0;
	b.size = -1;
	b.stored_size = -1;
	assert_json(sb_backup_json(&b),
	    "{\"id\":\"" ID1 "\","
	    "\"type\":\"automatic\",\"status\":\"pending\","
	    "\"created_at\":\"2025-11-26T04:30:00.123Z\","
	    "\"completed_at\":null,\"size\":null,\"sha256\":null,"
	    "\"stored_size\":null,\"location\":null,\"description\":null,\"error\":null,"
	    "\"verified_at\":null,\"verify_status\":null,"
	    "\"verify_detail\":null,\"tags\":[]}");

	b.status = SB_STATUS_COMPLETED;
	b.completed_at = b.created_at + 1000;
	b.size = 4096;
	b.stored_size = 1200;
	memset(b.sha256, 'a', SB_SHA256_HEX);
	b.location = strdup("backup-x.db");
	b.description = strdup("d\"q");
	assert_int_equal(sb_backup_set_tags(&b, tags, 2), SB_OK);
	o = sb_backup_json(&b);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "size", &v));
	assert_int_equal(json_object_get_int64(v), 4096);
	assert_true(json_object_object_get_ex(o, "stored_size", &v));
	assert_int_equal(json_object_get_int64(v), 1200);
	assert_true(json_object_object_get_ex(o, "description", &v));
	assert_string_equal(json_object_get_string(v), "d\"q");
	assert_true(json_object_object_get_ex(o, "tags", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(o, "completed_at", &v));
	assert_string_equal(json_object_get_string(v),
	    "2025-11-26T04:30:01.123Z");
	json_object_put(o);

	/* A drilled backup: when, ok or failed, and what it found. */
	b.verified_at = b.created_at + 2000;
	b.verify_status = SB_VERIFY_FAILED;
	b.verify_detail = strdup("query 1 returned 0, expected > 0");
	o = sb_backup_json(&b);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "verified_at", &v));
	assert_string_equal(json_object_get_string(v),
	    "2025-11-26T04:30:02.123Z");
	assert_true(json_object_object_get_ex(o, "verify_status", &v));
	assert_string_equal(json_object_get_string(v), "failed");
	assert_true(json_object_object_get_ex(o, "verify_detail", &v));
	assert_string_equal(json_object_get_string(v),
	    "query 1 returned 0, expected > 0");
	json_object_put(o);
	sb_backup_clear(&b);
}

static void
test_restore_json(void **state)
{
	struct sb_restore	r;

	(void)state;
	memset(&r, 0, sizeof(r));
	sb_strlcpy(r.id, ID1, sizeof(r.id));
	sb_strlcpy(r.backup_id, ID2, sizeof(r.backup_id));
	r.status = SB_STATUS_PENDING;
	r.started_at = 1764131400123LL;
	assert_json(sb_restore_json(&r),
	    "{\"id\":\"" ID1 "\",\"backup_id\":\"" ID2 "\","
	    "\"safety_backup_id\":null,\"status\":\"pending\","
	    "\"started_at\":\"2025-11-26T04:30:00.123Z\","
	    "\"finished_at\":null,\"error\":null}");
	sb_strlcpy(r.safety_backup_id, ID3, sizeof(r.safety_backup_id));
	r.status = SB_STATUS_FAILED;
	r.finished_at = r.started_at + 1000;
	r.error = strdup("live database was replaced");
	assert_json(sb_restore_json(&r),
	    "{\"id\":\"" ID1 "\",\"backup_id\":\"" ID2 "\","
	    "\"safety_backup_id\":\"" ID3 "\",\"status\":\"failed\","
	    "\"started_at\":\"2025-11-26T04:30:00.123Z\","
	    "\"finished_at\":\"2025-11-26T04:30:01.123Z\","
	    "\"error\":\"live database was replaced\"}");
	sb_restore_clear(&r);
}

/*
 * A plan over three records: two automatic (one deleted, one kept) and a
 * manual one, which the plan holds for the clock check but prune's JSON
 * does not list.
 */
static void
make_plan(struct sb_prune_result *p, struct sb_backup *b,
    struct sb_decision *d)
{
	static const char *const ids[] = { ID1, ID2, ID3 };
	static const enum sb_type types[] = { SB_TYPE_AUTOMATIC,
	    SB_TYPE_MANUAL, SB_TYPE_AUTOMATIC };
	static const enum sb_verdict verdicts[] = { SB_DELETE, SB_KEEP,
	    SB_KEEP };
	static const char *const reasons[] = { "older than 90 days",
	    "manual", "within 30 days" };

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < 3; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		sb_strlcpy(b[i].id, ids[i], sizeof(b[i].id));
		b[i].type = types[i];
		d[i].backup = &b[i];
		d[i].verdict = verdicts[i];
		sb_strlcpy(d[i].reason, reasons[i], sizeof(d[i].reason));
	}
	p->plan.v = d;
	p->plan.n = 3;
	p->plan.ndelete = 1;
}

static void
test_prune_json(void **state)
{
	struct sb_prune_result	p;
	struct sb_backup	b[3];
	struct sb_decision	d[3];

	(void)state;
	make_plan(&p, b, d);
	p.deleted = 1;
	assert_json(sb_prune_json(&p, 0),
	    "{\"dry_run\":false,\"halted\":false,\"halt_reason\":null,"
	    "\"clock_halt\":false,\"clock_confirmed\":null,\"deleted\":1,"
	    "\"decisions\":["
	    "{\"id\":\"" ID1 "\",\"verdict\":\"delete\","
	    "\"reason\":\"older than 90 days\"},"
	    "{\"id\":\"" ID3 "\",\"verdict\":\"keep\","
	    "\"reason\":\"within 30 days\"}]}");

	/* A dry run that confirmed the clock. */
	p.deleted = 0;
	p.clock_confirmed = 1764131400123LL;
	assert_json(sb_prune_json(&p, 1),
	    "{\"dry_run\":true,\"halted\":false,\"halt_reason\":null,"
	    "\"clock_halt\":false,"
	    "\"clock_confirmed\":\"2025-11-26T04:30:00.123Z\",\"deleted\":0,"
	    "\"decisions\":["
	    "{\"id\":\"" ID1 "\",\"verdict\":\"delete\","
	    "\"reason\":\"older than 90 days\"},"
	    "{\"id\":\"" ID3 "\",\"verdict\":\"keep\","
	    "\"reason\":\"within 30 days\"}]}");

	/* Halted for the clock: the reason is given, nothing deleted. */
	for (size_t i = 0; i < 3; i++)
		d[i].verdict = SB_KEEP;
	p.plan.halted = 1;
	p.plan.clock_halt = 1;
	p.plan.ndelete = 0;
	p.clock_confirmed = 0;
	sb_strlcpy(p.plan.halt_reason, "automatic backups jumped",
	    sizeof(p.plan.halt_reason));
	assert_json(sb_prune_json(&p, 0),
	    "{\"dry_run\":false,\"halted\":true,"
	    "\"halt_reason\":\"automatic backups jumped\","
	    "\"clock_halt\":true,\"clock_confirmed\":null,\"deleted\":0,"
	    "\"decisions\":["
	    "{\"id\":\"" ID1 "\",\"verdict\":\"keep\","
	    "\"reason\":\"older than 90 days\"},"
	    "{\"id\":\"" ID3 "\",\"verdict\":\"keep\","
	    "\"reason\":\"within 30 days\"}]}");

	/* An empty plan still has its (empty) decisions. */
	memset(&p, 0, sizeof(p));
	assert_json(sb_prune_json(&p, 0),
	    "{\"dry_run\":false,\"halted\":false,\"halt_reason\":null,"
	    "\"clock_halt\":false,\"clock_confirmed\":null,\"deleted\":0,"
	    "\"decisions\":[]}");
}

static void
test_verify_json(void **state)
{
	(void)state;
	assert_json(sb_verify_json(ID1), "{\"verified\":\"" ID1 "\"}");
}

static void
test_reconcile_json(void **state)
{
	struct sb_reconcile_result	r = { 1, 2, 3, 4, 5 };

	(void)state;
	assert_json(sb_reconcile_json(&r),
	    "{\"added\":1,\"updated\":2,\"missing\":3,\"skipped\":4,"
	    "\"unreadable\":5}");
	memset(&r, 0, sizeof(r));
	assert_json(sb_reconcile_json(&r),
	    "{\"added\":0,\"updated\":0,\"missing\":0,\"skipped\":0,"
	    "\"unreadable\":0}");
}

/* sb_json_add refuses a NULL value (a failed allocation) and says so. */
static void
test_json_add(void **state)
{
	json_object	*o = json_object_new_object();

	(void)state;
	assert_int_equal(sb_json_add(o, "a", json_object_new_int(1)), SB_OK);
	assert_int_equal(sb_json_add(o, "b", NULL), SB_ERR_NOMEM);
	assert_json(o, "{\"a\":1}");
}

/* The tags column: text out, the same tags back; bad text refused. */
static void
test_tags(void **state)
{
	static const char *const bad[] = {
		"", "{}", "[1]", "[\"a\",", "\"a\"", "[\"a,b\"]", "[\"\"]",
	};
	const char		*tags[] = { "nightly", "pre-upgrade \"x\"" };
	struct sb_backup	 b;
	char			*txt;

	(void)state;
	memset(&b, 0, sizeof(b));
	txt = sb_tags_to_json(tags, 2);
	assert_non_null(txt);
	assert_string_equal(txt, "[\"nightly\",\"pre-upgrade \\\"x\\\"\"]");
	assert_int_equal(sb_tags_from_json(&b, txt, strlen(txt), 1), SB_OK);
	assert_int_equal(b.ntags, 2);
	assert_string_equal(b.tags[0], "nightly");
	assert_string_equal(b.tags[1], "pre-upgrade \"x\"");
	free(txt);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sb_tags_from_json(&b, bad[i], strlen(bad[i]),
		    1), SB_ERR_INVAL);
	/* Refused text leaves the tags as they were. */
	assert_int_equal(b.ntags, 2);
	sb_backup_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_json),
		cmocka_unit_test(test_restore_json),
		cmocka_unit_test(test_prune_json),
		cmocka_unit_test(test_verify_json),
		cmocka_unit_test(test_reconcile_json),
		cmocka_unit_test(test_json_add),
		cmocka_unit_test(test_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
