/*
 * test_util.c - util.c: object names, ISO 8601 times, uuids, UTF-8 and
 * field validation, number parsing, the backup list, sha256 of a file.
 * These parse outside input (HTTP queries, blob listings, the config
 * file), so the rejections matter as much as the round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb.h"

static const char *uuid1 = "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d";

static int64_t
T(const char *iso)
{
	int64_t	ms = -1;

	if (sb_time_parse(iso, &ms) != SB_OK)
		fail_msg("sb_time_parse refused \"%s\"", iso);
	return ms;
}

static void
test_errors_and_enums(void **state)
{
	enum sb_type	t;
	enum sb_status	s;

	(void)state;
	assert_string_equal(sb_strerror(SB_OK), "success");
	assert_string_equal(sb_errcode(SB_ERR_NOTFOUND), "NOT_FOUND");
	assert_string_equal(sb_errcode(SB_ERR_AUTOMATIC),
	    "AUTOMATIC_NOT_DELETABLE");
	assert_string_equal(sb_errcode(SB_ERR_STORAGE), "STORAGE_ERROR");
	assert_string_equal(sb_errcode(SB_ERR_KEY), "KEY_UNAVAILABLE");
	assert_string_equal(sb_errcode(SB_ERR__MAX), "INTERNAL");
	assert_string_equal(sb_strerror((enum sb_err)-1), "unknown error");
	for (int e = 0; e < SB_ERR__MAX; e++) {
		assert_non_null(sb_strerror((enum sb_err)e));
		assert_non_null(sb_errcode((enum sb_err)e));
	}
	assert_int_equal(sb_type_parse("automatic", &t), SB_OK);
	assert_int_equal(t, SB_TYPE_AUTOMATIC);
	assert_int_equal(sb_type_parse("Manual", &t), SB_ERR_INVAL);
	assert_int_equal(sb_type_parse(NULL, &t), SB_ERR_INVAL);
	assert_string_equal(sb_type_str(SB_TYPE_MANUAL), "manual");
	assert_string_equal(sb_type_str(SB_TYPE__MAX), "unknown");
	assert_int_equal(sb_status_parse("failed", &s), SB_OK);
	assert_int_equal(s, SB_STATUS_FAILED);
	assert_int_equal(sb_status_parse("done", &s), SB_ERR_INVAL);
	assert_string_equal(sb_status_str(SB_STATUS_PENDING), "pending");
}

static void
test_name_roundtrip(void **state)
{
	char		buf[128], id[SB_UUID_LEN + 1];
	enum sb_type	type;
	int64_t		created, t = T("2026-11-26T04:30:00.123Z");

	(void)state;
	assert_int_equal(sb_name_format(SB_TYPE_AUTOMATIC, t, uuid1, buf,
	    sizeof(buf)), SB_OK);
	assert_string_equal(buf, "backup-20261126T043000123Z-automatic-"
	    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db");
	assert_int_equal(sb_name_parse(buf, &type, &created, id), SB_OK);
	assert_int_equal(type, SB_TYPE_AUTOMATIC);
	assert_int_equal(created, t);
	assert_string_equal(id, uuid1);

	/* Every ms of a few instants, both types. */
	const int64_t times[] = { 0, 1, 999, 1000, T("2000-02-29T23:59:59.999Z"),
	    T("2026-12-31T23:59:59.5Z"), T("9999-12-31T23:59:59.999Z") };
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		for (int ty = 0; ty < SB_TYPE__MAX; ty++) {
			assert_int_equal(sb_name_format((enum sb_type)ty,
			    times[i], uuid1, buf, sizeof(buf)), SB_OK);
			assert_int_equal(sb_name_parse(buf, &type, &created,
			    id), SB_OK);
			assert_int_equal(type, ty);
			assert_int_equal(created, times[i]);
		}

	/* Names sort by time. */
	char a[128], b[128];
	assert_int_equal(sb_name_format(SB_TYPE_MANUAL, t, uuid1, a,
	    sizeof(a)), SB_OK);
	assert_int_equal(sb_name_format(SB_TYPE_MANUAL, t + 1, uuid1, b,
	    sizeof(b)), SB_OK);
	assert_true(strcmp(a, b) < 0);
}

static void
test_name_rejects(void **state)
{
	char		buf[128], small[20], id[SB_UUID_LEN + 1];
	enum sb_type	type;
	int64_t		created;
	const char	*bad[] = {
		"",
		"backup-",
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d",		/* no .db */
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db.meta",
		"backup-20261126T043000123Z-weekly-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",
		"backup-20261126T043000123Z-manual-"
		    "0B9F3C1E-8A7D-4E2F-9C61-5D3A2B1F0E9D.db",	/* upper */
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9.db",	/* short */
		"backup-20260230T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",	/* Feb 30 */
		"backup-20261126T243000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",	/* 24h */
		"backup-20261126T043000Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",	/* no ms */
		"backup-20261126T043000123-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",	/* no Z */
		"Backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",
		"../backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.dbx",
		"backup-20261126T043060123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db",	/* :60 (fuzz) */
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db.gz",	/* no codec */
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db.enc.zst",
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.zst",
		"backup-20261126T043000123Z-manual-"
		    "0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d.db.zst.enc.meta",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sb_name_parse(bad[i], &type, &created, id) != SB_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(sb_name_parse(NULL, &type, &created, id),
	    SB_ERR_INVAL);

	assert_int_equal(sb_name_format(SB_TYPE_MANUAL, -1, uuid1, buf,
	    sizeof(buf)), SB_ERR_INVAL);
	assert_int_equal(sb_name_format(SB_TYPE__MAX, 0, uuid1, buf,
	    sizeof(buf)), SB_ERR_INVAL);
	assert_int_equal(sb_name_format(SB_TYPE_MANUAL, 0, "not-a-uuid", buf,
	    sizeof(buf)), SB_ERR_INVAL);
	assert_int_equal(sb_name_format(SB_TYPE_MANUAL, 0, uuid1, small,
	    sizeof(small)), SB_ERR_INVAL);
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(sb_name_format_ext(SB_TYPE_MANUAL, 0, uuid1, ".gz",
	    buf, sizeof(buf)), SB_ERR_INVAL);
	assert_int_equal(sb_name_format_ext(SB_TYPE_MANUAL, 0, uuid1, NULL,
	    buf, sizeof(buf)), SB_ERR_INVAL);
}

/* Every codec's extension (codec.h) formats and parses back. */
static void
test_name_ext(void **state)
{
	const char	*exts[] = { ".db", ".db.zst", ".db.enc", ".db.zst.enc" };
	char		 buf[SB_NAME_MAX + 1], id[SB_UUID_LEN + 1];
	enum sb_type	 type;
	int64_t		 created, t = 1796195705825;
	size_t		 n;

	(void)state;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		assert_int_equal(sb_name_format_ext(SB_TYPE_AUTOMATIC, t, uuid1,
		    exts[i], buf, sizeof(buf)), SB_OK);
		n = strlen(buf);
		assert_true(n > strlen(exts[i]));
		assert_string_equal(buf + n - strlen(exts[i]), exts[i]);
		assert_int_equal(sb_name_parse(buf, &type, &created, id), SB_OK);
		assert_int_equal(type, SB_TYPE_AUTOMATIC);
		assert_int_equal(created, t);
		assert_string_equal(id, uuid1);
	}
}

static void
test_time_parse_accepts(void **state)
{
	(void)state;
	assert_int_equal(T("1970-01-01"), 0);
	assert_int_equal(T("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(T("2026-11-26"), INT64_C(1795651200000));
	assert_int_equal(T("2026-11-26T04:30:00Z"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26T04:30Z"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26t04:30:00z"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26 04:30:00Z"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26T04:30:00.123Z"), INT64_C(1795667400123));
	assert_int_equal(T("2026-11-26T04:30:00.1Z"), INT64_C(1795667400100));
	assert_int_equal(T("2026-11-26T04:30:00.123456789Z"),
	    INT64_C(1795667400123));
	/* Offsets: the same instant. */
	assert_int_equal(T("2026-11-26T05:30:00+01:00"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26T02:00:00-02:30"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-26T04:30:00+00:00"), INT64_C(1795667400000));
	assert_int_equal(T("2026-11-27T04:29:00+23:59"), INT64_C(1795667400000));
	/* Leap days that exist. */
	assert_int_equal(T("2024-02-29"), INT64_C(1709164800000));
	assert_int_equal(T("2000-02-29"), INT64_C(951782400000));
	assert_int_equal(T("9999-12-31T23:59:59.999Z"),
	    INT64_C(253402300799999));
	/* RFC 3339 5.6 allows a leap second; POSIX time folds it forward. */
	assert_int_equal(T("2026-12-31T23:59:60Z"), T("2027-01-01T00:00:00Z"));
}

static void
test_time_parse_rejects(void **state)
{
	const char	*bad[] = {
		"", " 2026-11-26", "2026-11-26 ", "2026-11-26x",
		"2026-1-1", "26-11-26", "2026/11/26", "20261126",
		"2026-13-01", "2026-00-10", "2026-11-00", "2026-11-31",
		"2026-04-31", "2026-02-29", "2100-02-29", "2025-02-29",
		"1969-12-31", "10000-01-01",
		"2026-11-26T", "2026-11-26T24:00Z", "2026-11-26T24:00:00Z",
		"2026-11-26T23:60Z", "2026-11-26T23:59:61Z",
		"2026-11-26T4:30Z", "2026-11-26T04:30",
		"2026-11-26T04:30:00", "2026-11-26T04:30:00.Z",
		"2026-11-26T04:30:00.1234567890Z", "2026-11-26T04:30:00ZZ",
		"2026-11-26T04:30:00Z ", "2026-11-26T04:30:00Zjunk",
		"2026-11-26T04:30:00+01", "2026-11-26T04:30:00+0100",
		"2026-11-26T04:30:00+24:00", "2026-11-26T04:30:00+01:60",
		"2026-11-26T04:30:00 +01:00", "2026-11-26T04:30:00UTC",
		"1970-01-01T00:30:00+01:00",	/* before the epoch */
		"2026-11-26T04:30:00.123Z and then some more characters",
	};
	int64_t		 ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		if (sb_time_parse(bad[i], &ms) != SB_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(sb_time_parse(NULL, &ms), SB_ERR_INVAL);
}

static void
test_time_format(void **state)
{
	char	buf[32], small[24];
	int64_t	back;

	(void)state;
	assert_int_equal(sb_time_format(0, buf, sizeof(buf)), SB_OK);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	assert_int_equal(sb_time_format(INT64_C(1795667400123), buf,
	    sizeof(buf)), SB_OK);
	assert_string_equal(buf, "2026-11-26T04:30:00.123Z");
	assert_int_equal(sb_time_format(INT64_C(951868799999), buf,
	    sizeof(buf)), SB_OK);
	assert_string_equal(buf, "2000-02-29T23:59:59.999Z");
	assert_int_equal(sb_time_format(-1, buf, sizeof(buf)), SB_ERR_INVAL);
	/* 24 characters need 25 bytes. */
	assert_int_equal(sb_time_format(0, small, sizeof(small)), SB_ERR_INVAL);
	assert_int_equal(sb_time_format(0, buf, 25), SB_OK);
	/* format then parse gives the same instant. */
	for (int64_t t = 0; t < INT64_C(4102444800000);
	    t += INT64_C(86400000) * 37 + 12345) {
		assert_int_equal(sb_time_format(t, buf, sizeof(buf)), SB_OK);
		assert_int_equal(sb_time_parse(buf, &back), SB_OK);
		assert_int_equal(back, t);
	}
}

static void
test_uuid(void **state)
{
	char	u[64][SB_UUID_LEN + 1];

	(void)state;
	assert_true(sb_is_uuid(uuid1));
	assert_true(sb_is_uuid("00000000-0000-0000-0000-000000000000"));
	assert_false(sb_is_uuid("0B9F3C1E-8A7D-4E2F-9C61-5D3A2B1F0E9D"));
	assert_false(sb_is_uuid("0b9f3c1e8a7d4e2f9c615d3a2b1f0e9d"));
	assert_false(sb_is_uuid("0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9"));
	assert_false(sb_is_uuid("0b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d0"));
	assert_false(sb_is_uuid("0b9f3c1e-8a7d-4e2f-9c61_5d3a2b1f0e9d"));
	assert_false(sb_is_uuid("0b9f3c1g-8a7d-4e2f-9c61-5d3a2b1f0e9d"));
	assert_false(sb_is_uuid("{b9f3c1e-8a7d-4e2f-9c61-5d3a2b1f0e9d"));
	assert_false(sb_is_uuid(""));
	assert_false(sb_is_uuid(NULL));

	for (int i = 0; i < 64; i++) {
		assert_int_equal(sb_uuid_new(u[i]), SB_OK);
		assert_int_equal(strlen(u[i]), SB_UUID_LEN);
		assert_true(sb_is_uuid(u[i]));
		/* RFC 4122 section 4.4: version 4, variant 10xx. */
		assert_int_equal(u[i][14], '4');
		assert_non_null(strchr("89ab", u[i][19]));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(u[i], u[j]);
	}
}

static void
test_utf8(void **state)
{
	const struct {
		const char	*s;
		size_t		 len;
		int		 ok;
	} v[] = {
		{ "", 0, 1 },
		{ "plain ascii", 11, 1 },
		{ "\xc3\xa9", 2, 1 },			/* U+00E9 */
		{ "\xe2\x82\xac", 3, 1 },		/* U+20AC */
		{ "\xf0\x9f\x99\x82", 4, 1 },		/* U+1F642 */
		{ "\xef\xbf\xbf", 3, 1 },		/* U+FFFF */
		{ "\xf4\x8f\xbf\xbf", 4, 1 },		/* U+10FFFF */
		{ "\xed\x9f\xbf", 3, 1 },		/* U+D7FF */
		{ "\xee\x80\x80", 3, 1 },		/* U+E000 */
		{ "\xc0\xaf", 2, 0 },			/* overlong '/' */
		{ "\xc1\xbf", 2, 0 },			/* overlong */
		{ "\xe0\x80\xaf", 3, 0 },		/* overlong '/' */
		{ "\xe0\x9f\xbf", 3, 0 },		/* overlong U+07FF */
		{ "\xf0\x80\x80\xaf", 4, 0 },		/* overlong '/' */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },		/* overlong U+FFFF */
		{ "\xed\xa0\x80", 3, 0 },		/* U+D800 surrogate */
		{ "\xed\xbf\xbf", 3, 0 },		/* U+DFFF surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },		/* U+110000 */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
		{ "\x80", 1, 0 },			/* lone continuation */
		{ "a\xbf", 2, 0 },
		{ "\xe2\x82", 2, 0 },			/* truncated */
		{ "\xf0\x9f\x99", 3, 0 },		/* truncated */
		{ "\xc3", 1, 0 },			/* truncated */
		{ "\xc3\xa9", 1, 0 },			/* cut by len */
		{ "\xc3\x28", 2, 0 },			/* bad continuation */
		{ "\xe2\x28\xa1", 3, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (sb_is_utf8(v[i].s, v[i].len) != v[i].ok)
			fail_msg("case %zu: want %d", i, v[i].ok);
}

static void
test_tag_description(void **state)
{
	char	tag[SB_TAG_MAX + 2], desc[SB_DESC_MAX + 2];

	(void)state;
	assert_true(sb_is_tag("nightly"));
	assert_true(sb_is_tag("pre migration"));
	assert_true(sb_is_tag("\xc3\xa9t\xc3\xa9"));
	assert_false(sb_is_tag(""));
	assert_false(sb_is_tag(NULL));
	assert_false(sb_is_tag("a,b"));
	assert_false(sb_is_tag("a\tb"));
	assert_false(sb_is_tag("a\nb"));
	assert_false(sb_is_tag("a\x7f"));
	assert_false(sb_is_tag("\xc3\x28"));
	memset(tag, 't', SB_TAG_MAX);
	tag[SB_TAG_MAX] = '\0';
	assert_true(sb_is_tag(tag));
	tag[SB_TAG_MAX] = 't';
	tag[SB_TAG_MAX + 1] = '\0';
	assert_false(sb_is_tag(tag));

	assert_true(sb_is_description(""));
	assert_true(sb_is_description("before the migration,\n\tsee #12"));
	assert_true(sb_is_description("\xe6\x97\xa5\xe6\x9c\xac"));
	assert_false(sb_is_description(NULL));
	assert_false(sb_is_description("bell\x07"));
	assert_false(sb_is_description("cr\r"));
	assert_false(sb_is_description("del\x7f"));
	assert_false(sb_is_description("\xed\xa0\x80"));
	memset(desc, 'd', SB_DESC_MAX);
	desc[SB_DESC_MAX] = '\0';
	assert_true(sb_is_description(desc));
	desc[SB_DESC_MAX] = 'd';
	desc[SB_DESC_MAX + 1] = '\0';
	assert_false(sb_is_description(desc));
}

static void
test_parse_i64(void **state)
{
	int64_t	v;
	const char *bad[] = { "", " 5", "5 ", "+5", "abc", "5x", "0x10",
	    "1e3", "--5", "-", "9223372036854775808",
	    "-9223372036854775809", "99999999999999999999" };

	(void)state;
	assert_int_equal(sb_parse_i64("0", 0, 10, &v), SB_OK);
	assert_int_equal(v, 0);
	assert_int_equal(sb_parse_i64("-5", -10, 10, &v), SB_OK);
	assert_int_equal(v, -5);
	assert_int_equal(sb_parse_i64("10", 0, 10, &v), SB_OK);
	assert_int_equal(v, 10);
	assert_int_equal(sb_parse_i64("007", 0, 10, &v), SB_OK);
	assert_int_equal(v, 7);
	v = 99;
	assert_int_equal(sb_parse_i64("11", 0, 10, &v), SB_ERR_INVAL);
	assert_int_equal(sb_parse_i64("-1", 0, 10, &v), SB_ERR_INVAL);
	assert_int_equal(v, 99);	/* untouched on failure */
	assert_int_equal(sb_parse_i64("9223372036854775807", INT64_MIN,
	    INT64_MAX, &v), SB_OK);
	assert_true(v == INT64_MAX);
	assert_int_equal(sb_parse_i64("-9223372036854775808", INT64_MIN,
	    INT64_MAX, &v), SB_OK);
	assert_true(v == INT64_MIN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sb_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v) !=
		    SB_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(sb_parse_i64(NULL, 0, 1, &v), SB_ERR_INVAL);
}

static void
test_parse_size(void **state)
{
	uint64_t	v;
	const char	*bad[] = { "", "k", " 1", "1 ", "-1", "+1", "8MB",
	    "8 M", "1T", "0x10", "1.5M", "18446744073709551616" };

	(void)state;
	assert_int_equal(sb_parse_size("0", 100, &v), SB_OK);
	assert_int_equal(v, 0);
	assert_int_equal(sb_parse_size("8388608", UINT64_MAX, &v), SB_OK);
	assert_int_equal(v, 8388608);
	assert_int_equal(sb_parse_size("64k", UINT64_MAX, &v), SB_OK);
	assert_int_equal(v, 65536);
	assert_int_equal(sb_parse_size("64K", UINT64_MAX, &v), SB_OK);
	assert_int_equal(v, 65536);
	assert_int_equal(sb_parse_size("8M", UINT64_MAX, &v), SB_OK);
	assert_int_equal(v, 8388608);
	assert_int_equal(sb_parse_size("1g", UINT64_MAX, &v), SB_OK);
	assert_int_equal(v, UINT64_C(1) << 30);
	/* The bound is inclusive, and applies after the unit. */
	assert_int_equal(sb_parse_size("4M", UINT64_C(4) << 20, &v), SB_OK);
	assert_int_equal(sb_parse_size("4097k", UINT64_C(4) << 20, &v),
	    SB_ERR_INVAL);
	assert_int_equal(sb_parse_size("4194305", UINT64_C(4) << 20, &v),
	    SB_ERR_INVAL);
	/* v * unit would wrap: refused, not wrapped. */
	assert_int_equal(sb_parse_size("17179869184G", UINT64_MAX, &v),
	    SB_ERR_INVAL);
	assert_int_equal(sb_parse_size("18446744073709551615", UINT64_MAX,
	    &v), SB_OK);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sb_parse_size(bad[i], UINT64_MAX, &v) != SB_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(sb_parse_size(NULL, 1, &v), SB_ERR_INVAL);
}

static void
test_backup_list(void **state)
{
	struct sb_backup_list	 l = { NULL, 0 };
	struct sb_backup	 b, c;
	const char		*tags[] = { "a", "b" };
	char			 loc[32];

	(void)state;
	for (size_t i = 0; i < 1500; i++) {
		memset(&b, 0, sizeof(b));
		snprintf(loc, sizeof(loc), "obj-%zu", i);
		assert_non_null(b.location = strdup(loc));
		b.created_at = (int64_t)i;
		b.size = (int64_t)i * 10;
		if (i % 100 == 0)
			assert_int_equal(sb_backup_set_tags(&b, tags, 2),
			    SB_OK);
		assert_int_equal(sb_backup_list_push(&l, &b), SB_OK);
		/* Moved: the source is emptied. */
		assert_null(b.location);
		assert_null(b.tags);
		assert_int_equal(b.size, -1);
		assert_int_equal(l.n, i + 1);
	}
	for (size_t i = 0; i < l.n; i++) {
		snprintf(loc, sizeof(loc), "obj-%zu", i);
		assert_string_equal(l.v[i].location, loc);
		assert_int_equal(l.v[i].created_at, (int64_t)i);
		assert_int_equal(l.v[i].size, (int64_t)i * 10);
		assert_int_equal(l.v[i].ntags, i % 100 == 0 ? 2 : 0);
	}

	/* A deep copy survives the list. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sb_backup_copy(&c, &l.v[1000]), SB_OK);
	sb_backup_list_clear(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_string_equal(c.location, "obj-1000");
	assert_int_equal(c.ntags, 2);
	assert_string_equal(c.tags[1], "b");
	sb_backup_clear(&c);
	assert_null(c.location);
	assert_int_equal(c.size, -1);

	/* Too many tags. */
	{
		const char *many[SB_TAGS_MAX + 1];
		for (size_t i = 0; i <= SB_TAGS_MAX; i++)
			many[i] = "t";
		assert_int_equal(sb_backup_set_tags(&c, many, SB_TAGS_MAX + 1),
		    SB_ERR_INVAL);
		assert_int_equal(sb_backup_set_tags(&c, many, SB_TAGS_MAX),
		    SB_OK);
		assert_int_equal(c.ntags, SB_TAGS_MAX);
		sb_backup_clear(&c);
	}

	/* The list is usable again after a clear. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(sb_backup_list_push(&l, &b), SB_OK);
	assert_int_equal(l.n, 1);
	sb_backup_list_clear(&l);
}

/*
 * sb_vec_grow: the capacity it implies holds every element up to the
 * cap, and past the cap it refuses (SB_ERR_INVAL) and leaves the array
 * as it was.
 */
static void
test_vec_grow(void **state)
{
	int	*v = NULL, *before;
	size_t	 n = 0;

	(void)state;
	for (n = 0; n < 100; n++) {
		assert_int_equal(sb_vec_grow(&v, n, sizeof(*v), 100), SB_OK);
		v[n] = (int)n;
	}
	before = v;
	assert_int_equal(sb_vec_grow(&v, n, sizeof(*v), 100), SB_ERR_INVAL);
	assert_ptr_equal(v, before);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i], (int)i);
	free(v);

	/* A cap below the first allocation, and an overflowing size. */
	v = NULL;
	assert_int_equal(sb_vec_grow(&v, 0, sizeof(*v), 3), SB_OK);
	v[0] = v[1] = v[2] = 7;
	assert_int_equal(sb_vec_grow(&v, 3, sizeof(*v), 3), SB_ERR_INVAL);
	free(v);
	v = NULL;
	assert_int_equal(sb_vec_grow(&v, 0, SIZE_MAX / 2, 100), SB_ERR_NOMEM);
	assert_null(v);
}

static void
test_hex(void **state)
{
	const unsigned char	in[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
	char			out[2 * sizeof(in) + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	sb_hex(in, sizeof(in), out);
	assert_string_equal(out, "000fa5ff10");
	sb_hex(in, 0, out);
	assert_string_equal(out, "");
}

static void
test_strings(void **state)
{
	char	buf[8], err[SB_ERRMSG_MAX], *d;

	(void)state;
	assert_int_equal(sb_strlcpy(buf, "short", sizeof(buf)), 5);
	assert_string_equal(buf, "short");
	assert_int_equal(sb_strlcpy(buf, "much too long", sizeof(buf)), 13);
	assert_string_equal(buf, "much to");
	assert_int_equal(sb_strlcpy(buf, "x", 0), 1);
	assert_null(sb_strdup(NULL));
	assert_non_null(d = sb_strdup("dup"));
	assert_string_equal(d, "dup");
	free(d);
	sb_seterr(err, "%s: %d", "code", 42);
	assert_string_equal(err, "code: 42");
	sb_seterr(NULL, "ignored");
}

static void
test_sha256_file(void **state)
{
	char	dir[] = "/tmp/sb-test-util.XXXXXX", path[64], err[SB_ERRMSG_MAX];
	char	hex[SB_SHA256_HEX + 1];
	int64_t	size = -1;
	FILE	*fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/abc", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("abc", fp);
	assert_int_equal(fclose(fp), 0);
	/* FIPS 180-2 appendix B.1. */
	assert_int_equal(sb_sha256_file(path, hex, &size, err), SB_OK);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(size, 3);
	unlink(path);
	assert_int_equal(sb_sha256_file(path, hex, &size, err), SB_ERR_IO);
	assert_non_null(strstr(err, "No such file"));
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_and_enums),
		cmocka_unit_test(test_name_roundtrip),
		cmocka_unit_test(test_name_rejects),
		cmocka_unit_test(test_name_ext),
		cmocka_unit_test(test_time_parse_accepts),
		cmocka_unit_test(test_time_parse_rejects),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_tag_description),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_backup_list),
		cmocka_unit_test(test_vec_grow),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_sha256_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
