/*
 * test_azure.c - the pure parts of the Azure store, no network: Shared Key
 * signing against a string-to-sign written out by hand from "Authorize
 * with Shared Key", connection strings, the encodings, List Blobs parsing,
 * and the checks sb_store_azure_open makes. The requests themselves are
 * tested against Azurite by tests/azure/run.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "azure.h"
#include "config.h"
#include "store.h"

/* The Azurite development key: public, documented; tests only. */
#define DEVKEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4" \
	"I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void
expect_sig(const char *sts, const char *got)
{
	unsigned char	*key = NULL, mac[32];
	unsigned int	 maclen = 0;
	size_t		 keylen = 0;
	char		 b64[64], want[256];

	assert_int_equal(az_b64_decode(DEVKEY, &key, &keylen), SB_OK);
	assert_int_equal(keylen, 64);
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)sts,
	    strlen(sts), mac, &maclen);
	assert_int_equal(az_b64_encode(mac, maclen, b64, sizeof(b64)), SB_OK);
	snprintf(want, sizeof(want), "Authorization: SharedKey "
	    "devstoreaccount1:%s", b64);
	assert_string_equal(got, want);
	free(key);
}

static void
cred_dev(struct az_cred *c)
{
	struct sb_config	cfg;
	char			err[SB_ERRMSG_MAX];

	memset(&cfg, 0, sizeof(cfg));
	cfg.az_account = "devstoreaccount1";
	cfg.az_endpoint = "http://127.0.0.1:10000/devstoreaccount1/";
	cfg.az_key = DEVKEY;
	assert_int_equal(az_cred_init(c, &cfg, err), SB_OK);
	assert_string_equal(c->endpoint,
	    "http://127.0.0.1:10000/devstoreaccount1");
	assert_string_equal(c->path, "/devstoreaccount1");
}

/*
 * Put Block with metadata: x-ms-* headers sorted by name (a key that is a
 * prefix of another first), query parameters sorted by name, values raw.
 */
static void
t_sign_put_block(void **state)
{
	struct az_cred		 c;
	struct az_qp		 qp[2] = { { "comp", "block" },
				    { "blockid", "YmxrMDAwMDAx" } };
	const char *const	 xms[] = {
		"x-ms-version:2021-08-06",
		"x-ms-meta-ab:2",
		"x-ms-date:Thu, 26 Nov 2026 04:34:32 GMT",
		"x-ms-meta-a:1",
	};
	struct az_sigreq	 r;
	char			 auth[256];

	(void)state;
	cred_dev(&c);
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.path = "/devstoreaccount1/c1/dir/a%20b";
	r.qp = qp;
	r.nqp = 2;
	r.xms = xms;
	r.nxms = 4;
	r.content_length = 65536;
	r.content_md5 = "1B2M2Y8AsgTpgAmY7PhCfg==";
	assert_int_equal(az_sign(&c, &r, auth, sizeof(auth)), SB_OK);
	expect_sig("PUT\n\n\n65536\n1B2M2Y8AsgTpgAmY7PhCfg==\n\n\n\n\n\n\n\n"
	    "x-ms-date:Thu, 26 Nov 2026 04:34:32 GMT\n"
	    "x-ms-meta-a:1\n"
	    "x-ms-meta-ab:2\n"
	    "x-ms-version:2021-08-06\n"
	    "/devstoreaccount1/devstoreaccount1/c1/dir/a%20b\n"
	    "blockid:YmxrMDAwMDAx\n"
	    "comp:block", auth);
	az_cred_clear(&c);
}

/* A GET: Content-Length empty when zero; If-Match in its own line. */
static void
t_sign_get(void **state)
{
	struct az_cred		 c;
	const char *const	 xms[] = {
		"x-ms-date:Thu, 26 Nov 2026 04:34:32 GMT",
		"x-ms-range:bytes=100-",
		"x-ms-version:2021-08-06",
	};
	struct az_qp		 qp[3] = { { "restype", "container" },
				    { "comp", "list" }, { "prefix", "a b/é" } };
	struct az_sigreq	 r;
	char			 auth[256];

	(void)state;
	cred_dev(&c);
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.path = "/devstoreaccount1/c1";
	r.xms = xms;
	r.nxms = 3;
	r.qp = qp;
	r.nqp = 3;
	r.if_match = "\"0x8D\"";
	assert_int_equal(az_sign(&c, &r, auth, sizeof(auth)), SB_OK);
	expect_sig("GET\n\n\n\n\n\n\n\n\"0x8D\"\n\n\n\n"
	    "x-ms-date:Thu, 26 Nov 2026 04:34:32 GMT\n"
	    "x-ms-range:bytes=100-\n"
	    "x-ms-version:2021-08-06\n"
	    "/devstoreaccount1/devstoreaccount1/c1\n"
	    "comp:list\n"
	    "prefix:a b/é\n"
	    "restype:container", auth);
	az_cred_clear(&c);
}

/* Parse s, expecting failure with exactly the message want. */
static void
connstr_fails(const char *s, const char *want)
{
	struct az_connstr	cs;
	char			err[SB_ERRMSG_MAX] = "";

	assert_int_equal(az_connstr_parse(s, &cs, err), SB_ERR_CONFIG);
	assert_string_equal(err, want);
	assert_null(cs.account);
	assert_null(cs.key);
}

/*
 * The one set of rules for connection strings (az_connstr_parse, which
 * config load and the store both use): names without regard to case,
 * blanks around parts ignored, unknown names refused, errors that name a
 * part or a key and never show a value.
 */
static void
t_connstr(void **state)
{
	struct az_connstr	cs;
	char			err[SB_ERRMSG_MAX] = "";

	(void)state;
	/* The portal's form: the endpoint built from protocol and suffix. */
	assert_int_equal(az_connstr_parse("DefaultEndpointsProtocol=https;"
	    "AccountName=acct;AccountKey=a2V5==;EndpointSuffix="
	    "core.chinacloudapi.cn", &cs, err), SB_OK);
	assert_string_equal(cs.account, "acct");
	assert_string_equal(cs.key, "a2V5==");
	assert_string_equal(cs.endpoint,
	    "https://acct.blob.core.chinacloudapi.cn");
	assert_null(cs.sas);
	az_connstr_clear(&cs);

	/* Any case, blanks, empty parts; a SAS loses its '?'. */
	assert_int_equal(az_connstr_parse(" accountname=acc ; BLOBENDPOINT="
	    "http://127.0.0.1:1/acc/;;SharedAccessSignature=?sv=1&sig=x%3D;",
	    &cs, err), SB_OK);
	assert_string_equal(cs.account, "acc");
	assert_string_equal(cs.endpoint, "http://127.0.0.1:1/acc");
	assert_string_equal(cs.sas, "sv=1&sig=x%3D");
	assert_null(cs.key);
	az_connstr_clear(&cs);

	/* Another service's endpoint is allowed, and not ours. */
	assert_int_equal(az_connstr_parse("BlobEndpoint=https://b.example/;"
	    "QueueEndpoint=https://q.example/;SharedAccessSignature=sv=1",
	    &cs, err), SB_OK);
	assert_string_equal(cs.endpoint, "https://b.example");
	assert_null(cs.account);
	az_connstr_clear(&cs);

	/* Azurite: its documented account, key and endpoint. */
	assert_int_equal(az_connstr_parse("UseDevelopmentStorage=True", &cs,
	    err), SB_OK);
	assert_string_equal(cs.account, "devstoreaccount1");
	assert_string_equal(cs.key, DEVKEY);
	assert_string_equal(cs.endpoint,
	    "http://127.0.0.1:10000/devstoreaccount1");
	az_connstr_clear(&cs);

	/* Every error names a part or a key, never a value. */
	connstr_fails("AccountName=acct;AccountKeySECRET",
	    "connection string: part 2 is not Name=Value");
	connstr_fails("AccountName=acct;=SECRET",
	    "connection string: part 2 is not Name=Value");
	connstr_fails("AccountName=acct;AcountKey=SECRET",
	    "connection string: unknown key 'AcountKey'");
	connstr_fails("UseDevelopmentStorage=false",
	    "connection string: UseDevelopmentStorage must be true");
	connstr_fails("DefaultEndpointsProtocol=ftp;AccountName=acct;"
	    "AccountKey=SECRET", "connection string: "
	    "DefaultEndpointsProtocol must be http or https");
	connstr_fails("AccountName=Bad_Acct;AccountKey=SECRET",
	    "connection string: AccountName is not an Azure storage account "
	    "name (3 to 24 lowercase letters and digits)");
	connstr_fails("AccountName=acct;BlobEndpoint=ftp://SECRET",
	    "connection string: BlobEndpoint must be an http:// or https:// "
	    "URL");
}

static void
t_cred(void **state)
{
	struct sb_config	cfg;
	struct az_cred		c;
	char			err[SB_ERRMSG_MAX] = "", buf[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.az_account = "acct";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "no credentials"));

	cfg.az_key = "not*base64!SECRET";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "not valid base64"));
	assert_null(strstr(err, "SECRET"));

	/* Default endpoint; the key is decoded. */
	cfg.az_key = "a2V5";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_OK);
	assert_string_equal(c.endpoint, "https://acct.blob.core.windows.net");
	assert_string_equal(c.path, "");
	assert_int_equal(c.keylen, 3);
	assert_memory_equal(c.key, "key", 3);
	az_cred_clear(&c);

	/* The connection string fills in what is not explicit. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.az_connstr = "AccountName=xyz;AccountKey=a2V5;BlobEndpoint="
	    "http://127.0.0.1:9/xyz";
	cfg.az_endpoint = "http://10.0.0.1:7/x/";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_OK);
	assert_string_equal(c.account, "xyz");
	assert_string_equal(c.endpoint, "http://10.0.0.1:7/x");
	assert_string_equal(c.path, "/x");
	az_cred_clear(&c);
	assert_int_equal(az_endpoint(&cfg, buf, sizeof(buf), err), SB_OK);
	assert_string_equal(buf, "http://10.0.0.1:7/x");

	/* Explicit values win, the rest comes from the string. */
	cfg.az_endpoint = NULL;
	cfg.az_account = "explicit1";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_OK);
	assert_string_equal(c.account, "explicit1");
	assert_string_equal(c.endpoint, "http://127.0.0.1:9/xyz");
	az_cred_clear(&c);

	/* The default endpoint, from an account and nothing else. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.az_account = "envacct";
	assert_int_equal(az_endpoint(&cfg, buf, sizeof(buf), err), SB_OK);
	assert_string_equal(buf, "https://envacct.blob.core.windows.net");
	cfg.az_connstr = "AccountName=envacct;EndpointSuffix=example.org";
	assert_int_equal(az_endpoint(&cfg, buf, sizeof(buf), err), SB_OK);
	assert_string_equal(buf, "https://envacct.blob.example.org");

	/* A bad string fails the store too, with the same message. */
	cfg.az_connstr = "AccountName=envacct;Key=SECRET";
	cfg.az_key = "a2V5";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_ERR_CONFIG);
	assert_string_equal(err, "azure: connection string: unknown key "
	    "'Key'");

	/* A SAS alone, with its '?'. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.az_endpoint = "https://a.blob.core.windows.net";
	cfg.az_sas = "?sv=2021&sig=abc";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_OK);
	assert_string_equal(c.sas, "sv=2021&sig=abc");
	assert_null(c.key);
	az_cred_clear(&c);

	cfg.az_endpoint = "ftp://a";
	assert_int_equal(az_cred_init(&c, &cfg, err), SB_ERR_CONFIG);
}

static void
t_b64(void **state)
{
	unsigned char	*out = NULL;
	size_t		 len = 0;
	char		 buf[16];

	(void)state;
	assert_int_equal(az_b64_encode((const unsigned char *)"blk000001", 9,
	    buf, sizeof(buf)), SB_OK);
	assert_string_equal(buf, "YmxrMDAwMDAx");
	assert_int_equal(az_b64_encode((const unsigned char *)"ab", 2, buf,
	    sizeof(buf)), SB_OK);
	assert_string_equal(buf, "YWI=");
	assert_int_equal(az_b64_encode((const unsigned char *)"abcdefghijk",
	    11, buf, 16), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("YWI=", &out, &len), SB_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "ab", 2);
	free(out);
	/* Padding may be left out; blanks at either end may not. */
	assert_int_equal(az_b64_decode("YWI", &out, &len), SB_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "ab", 2);
	free(out);
	assert_int_equal(az_b64_decode("YWJj", &out, &len), SB_OK);
	assert_int_equal(len, 3);
	free(out);
	assert_int_equal(az_b64_decode(" YWI=", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("YWI =", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("YW*=", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("Y", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("YW I=", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("", &out, &len), SB_ERR_INVAL);
	assert_int_equal(az_b64_decode("YWI===", &out, &len), SB_ERR_INVAL);
}

static void
t_meta_encoding(void **state)
{
	const char	*vals[] = { "", "plain", "  été — 日本 😀  ",
	    "100% %41 %zz %", "tab\tnl\nquote\"", "\x7f\x01" };
	char		*enc = NULL, *dec = NULL;
	size_t		 i, j;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_int_equal(az_meta_encode(vals[i], &enc), SB_OK);
		/* Header-safe: printable ASCII, no blank at either end. */
		for (j = 0; enc[j] != '\0'; j++)
			assert_true(enc[j] > 0x20 && enc[j] < 0x7f);
		assert_int_equal(az_meta_decode(enc, &dec), SB_OK);
		assert_string_equal(dec, vals[i]);
		free(enc);
		free(dec);
	}
	assert_int_equal(az_meta_encode("a b%", &enc), SB_OK);
	assert_string_equal(enc, "a%20b%25");
	free(enc);
	/* Values some other tool wrote: odd '%' and %00 stay as they are. */
	assert_int_equal(az_meta_decode("50%-%4%00%41", &dec), SB_OK);
	assert_string_equal(dec, "50%-%4%00A");
	free(dec);
}

/*
 * The size toward Azure's 8 KiB: names plus values as encoded. "a b" is
 * sent as "a%20b" (5 bytes), "\u20ac" (3 bytes of UTF-8) as 9.
 */
static void
t_meta_size(void **state)
{
	struct sb_meta	m;
	size_t		n = 1;
	char		big[SB_META_VAL_MAX + 1];

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(az_meta_size(&m, &n), SB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sb_meta_set(&m, "id", "a b"), SB_OK);
	assert_int_equal(az_meta_size(&m, &n), SB_OK);
	assert_int_equal(n, 2 + 5);
	assert_int_equal(sb_meta_set(&m, "description", "\xe2\x82\xac"),
	    SB_OK);
	assert_int_equal(az_meta_size(&m, &n), SB_OK);
	assert_int_equal(n, 7 + 11 + 9);
	/* One value within the per-value limit, over the total once encoded. */
	memset(big, ' ', 3000);
	big[3000] = '\0';
	assert_int_equal(sb_meta_set(&m, "tags", big), SB_OK);
	assert_int_equal(az_meta_size(&m, &n), SB_OK);
	assert_int_equal(n, 27 + 4 + 9000);
	assert_true(n > AZ_META_TOTAL_MAX);
	sb_meta_clear(&m);
}

static void
t_url_encode(void **state)
{
	char	*out = NULL;

	(void)state;
	assert_int_equal(az_url_encode("a b/é?#&=+~._-", 1, &out), SB_OK);
	assert_string_equal(out, "a%20b/%C3%A9%3F%23%26%3D%2B~._-");
	free(out);
	assert_int_equal(az_url_encode("a/b", 0, &out), SB_OK);
	assert_string_equal(out, "a%2Fb");
	free(out);
}

static void
t_http_date(void **state)
{
	(void)state;
	assert_int_equal(az_http_date("Thu, 01 Jan 1970 00:00:01 GMT"), 1000);
	assert_int_equal(az_http_date("Tue, 04 Sep 2012 19:12:43 GMT"),
	    1346785963000LL);
	assert_int_equal(az_http_date("Tue, 04 Foo 2012 19:12:43 GMT"), -1);
	assert_int_equal(az_http_date("not a date"), -1);
	assert_int_equal(az_http_date(""), -1);
	/* The obsolete forms RFC 9110 section 5.6.7 says to accept. */
	assert_int_equal(az_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
	    784111777000LL);
	assert_int_equal(az_http_date("Sun Nov  6 08:49:37 1994"),
	    784111777000LL);
	assert_int_equal(az_http_date("Tue, 04 Sep 2012 25:12:43 GMT"), -1);
}

/* Feed a whole string to the parser. */
static int
feed(struct az_listparse *lp, const char *s, int final, char *err)
{
	return az_listparse_feed(lp, s, strlen(s), final, err);
}

static const char listxml[] =
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://x/\" ContainerName=\"c\">"
    "<Prefix>b</Prefix><MaxResults>2</MaxResults><Blobs>"
    "<Blob><Name>b-one &amp; two</Name><Properties>"
    "<Last-Modified>Tue, 04 Sep 2012 19:12:43 GMT</Last-Modified>"
    "<Etag>0x1</Etag><Content-Length>1234</Content-Length>"
    "<Content-Type>application/octet-stream</Content-Type></Properties>"
    "<Metadata><Description>%C3%A9t%C3%A9%20ok</Description>"
    "<type>manual</type><Bad-Key>x</Bad-Key></Metadata></Blob>"
    "<Blob><Name Encoded=\"true\">b%EF%BF%BEodd</Name><Properties>"
    "<Content-Length>0</Content-Length></Properties><Metadata/></Blob>"
    "<BlobPrefix><Name>b/</Name></BlobPrefix>"
    "</Blobs><NextMarker>2!72!MDAw</NextMarker></EnumerationResults>";

static void
t_listparse(void **state)
{
	struct sb_object_list	 l = { NULL, 0 };
	struct az_listparse	*lp = NULL;
	char			 err[SB_ERRMSG_MAX] = "", *m;
	size_t			 i;

	(void)state;
	/* Fed one byte at a time, as a slow network would. */
	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	for (i = 0; i < sizeof(listxml) - 1; i++)
		assert_int_equal(az_listparse_feed(lp, listxml + i, 1, 0, err),
		    SB_OK);
	assert_int_equal(feed(lp, "", 1, err), SB_OK);
	m = az_listparse_marker(lp);
	assert_string_equal(m, "2!72!MDAw");
	free(m);
	az_listparse_free(&lp);
	assert_null(lp);

	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "b-one & two");
	assert_int_equal(l.v[0].size, 1234);
	assert_int_equal(l.v[0].mtime, 1346785963000LL);
	assert_string_equal(sb_meta_get(&l.v[0].meta, "description"),
	    "\xc3\xa9t\xc3\xa9 ok");
	assert_string_equal(sb_meta_get(&l.v[0].meta, "type"), "manual");
	assert_null(sb_meta_get(&l.v[0].meta, "bad-key"));
	assert_string_equal(l.v[1].name, "b\xef\xbf\xbeodd");
	assert_int_equal(l.v[1].size, 0);
	assert_int_equal(l.v[1].meta.n, 0);
	sb_object_list_clear(&l);

	/* The last page: no marker. */
	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	assert_int_equal(feed(lp, "<EnumerationResults><Blobs/>"
	    "<NextMarker/></EnumerationResults>", 1, err), SB_OK);
	assert_null(az_listparse_marker(lp));
	az_listparse_free(&lp);
	assert_int_equal(l.n, 0);

	/* Broken XML is an error, with where. */
	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	assert_int_equal(feed(lp, "<EnumerationResults><Blobs>"
	    "<Blob><Name>x</Nom>", 0, err), SB_ERR_STORAGE);
	assert_non_null(strstr(err, "line 1"));
	az_listparse_free(&lp);
	sb_object_list_clear(&l);
}

/* Text beyond the bound, and a Blob without a Name, are refused. */
static void
t_listparse_bounds(void **state)
{
	struct sb_object_list	 l = { NULL, 0 };
	struct az_listparse	*lp = NULL;
	char			 err[SB_ERRMSG_MAX] = "", *big;
	size_t			 n = 64 * 1024;
	const char		*head = "<EnumerationResults><Blobs><Blob><Name>";

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	assert_int_equal(az_listparse_feed(lp, head, strlen(head), 0, err),
	    SB_OK);
	assert_int_equal(az_listparse_feed(lp, big, n, 0, err),
	    SB_ERR_STORAGE);
	assert_non_null(strstr(err, "too long"));
	az_listparse_free(&lp);
	free(big);

	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	assert_int_equal(feed(lp, "<EnumerationResults><Blobs>"
	    "<Blob><Properties/></Blob>", 0, err), SB_ERR_STORAGE);
	az_listparse_free(&lp);
	sb_object_list_clear(&l);
}

/* A few hundred Blobs: the array grows and every entry survives. */
static void
t_listparse_many(void **state)
{
	struct sb_object_list	 l = { NULL, 0 };
	struct az_listparse	*lp = NULL;
	char			 err[SB_ERRMSG_MAX] = "", buf[128];
	size_t			 i;
	int			 len;

	(void)state;
	assert_int_equal(az_listparse_new(&lp, &l), SB_OK);
	assert_int_equal(feed(lp, "<EnumerationResults><Blobs>", 0, err), SB_OK);
	for (i = 0; i < 300; i++) {
		len = snprintf(buf, sizeof(buf), "<Blob><Name>n%03zu</Name>"
		    "<Properties><Content-Length>%zu</Content-Length>"
		    "</Properties></Blob>", i, i);
		assert_int_equal(az_listparse_feed(lp, buf, (size_t)len, 0,
		    err), SB_OK);
	}
	assert_int_equal(feed(lp, "</Blobs></EnumerationResults>", 1, err), SB_OK);
	az_listparse_free(&lp);
	assert_int_equal(l.n, 300);
	for (i = 0; i < 300; i++) {
		snprintf(buf, sizeof(buf), "n%03zu", i);
		assert_string_equal(l.v[i].name, buf);
		assert_int_equal(l.v[i].size, (int64_t)i);
	}
	sb_object_list_clear(&l);
}

static void
t_open_checks(void **state)
{
	struct sb_config	 cfg;
	struct sb_store		*s = NULL;
	char			 err[SB_ERRMSG_MAX] = "";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = SB_STORE_AZURE;
	cfg.az_account = "devstoreaccount1";
	cfg.az_endpoint = "http://127.0.0.1:1/devstoreaccount1";
	cfg.az_key = DEVKEY;
	cfg.az_container = "Bad_Name";
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	assert_null(s);
	assert_non_null(strstr(err, "container"));
	cfg.az_container = "a--b";
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	cfg.az_container = "backups";
	cfg.az_block_size = 1000;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "block_size"));
	cfg.az_block_size = 0;
	cfg.az_concurrency = 1000;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	cfg.az_concurrency = 4;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_OK);
	assert_string_equal(s->ops->kind, "azure");
	sb_store_free(&s);
	assert_null(s);
}

/*
 * Nothing listens on port 1: a clear storage error after the retries,
 * quickly (no retries configured here), and no secret in the message.
 */
static void
t_unreachable(void **state)
{
	struct sb_config	 cfg;
	struct sb_store		*s = NULL;
	struct sb_object	 o;
	char			 err[SB_ERRMSG_MAX] = "";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = SB_STORE_AZURE;
	cfg.az_connstr = "AccountName=devstoreaccount1;AccountKey=" DEVKEY
	    ";BlobEndpoint=http://127.0.0.1:1/devstoreaccount1";
	cfg.az_container = "backups";
	cfg.az_timeout = 2;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_OK);
	assert_int_equal(sb_store_head(s, "x", &o), SB_ERR_STORAGE);
	assert_non_null(strstr(sb_store_errmsg(s), "azure: HEAD blob x: "));
	assert_null(strstr(sb_store_errmsg(s), "Eby8"));
	sb_store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sign_put_block),
		cmocka_unit_test(t_sign_get),
		cmocka_unit_test(t_connstr),
		cmocka_unit_test(t_cred),
		cmocka_unit_test(t_b64),
		cmocka_unit_test(t_meta_encoding),
		cmocka_unit_test(t_url_encode),
		cmocka_unit_test(t_http_date),
		cmocka_unit_test(t_listparse),
		cmocka_unit_test(t_listparse_bounds),
		cmocka_unit_test(t_listparse_many),
		cmocka_unit_test(t_open_checks),
		cmocka_unit_test(t_meta_size),
		cmocka_unit_test(t_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
