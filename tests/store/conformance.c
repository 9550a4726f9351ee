/*
 * conformance.c - one test suite every object store must pass (disk, and
 * Azure through Azurite), plus single operations for the fault tests.
 *
 *   conformance [--config FILE] suite
 *   conformance [--config FILE] put NAME FILE | put-stream NAME FILE |
 *       get NAME FILE | head NAME | list PREFIX | del NAME | create
 *
 * The store API does not read the marker (the engine does, through
 * sb_store_identify): `suite` and `create` make the store's place exist
 * with sb_store_create, as `backup-cron init` does; the single operations
 * expect it to exist. SB_TEST_PREFIX sets [store] prefix.
 *
 * The store comes from FILE ([store] kind, [disk], [azure]: see
 * config.h) when given, else from the environment:
 *   SB_TEST_STORE		disk | azure
 *   SB_TEST_DISK_ROOT		the disk store's directory
 *   SB_TEST_AZ_ENDPOINT, SB_TEST_AZ_ACCOUNT, SB_TEST_AZ_CONTAINER,
 *   SB_TEST_AZ_KEY, SB_TEST_AZ_SAS, SB_TEST_AZ_CONNSTR,
 *   SB_TEST_AZ_BLOCK_SIZE, SB_TEST_AZ_CONCURRENCY, SB_TEST_AZ_TIMEOUT,
 *   SB_TEST_AZ_RETRIES
 * SB_TEST_PAGINATION (default 5050) objects are made for the pagination
 * case.
 *
 * The suite prints "ok - what" or "not ok - what: why" per check and ends
 * with "N passed, N failed"; the exit status is 1 on any failure. A single
 * operation prints its result and exits with the enum sb_err it got (0 on
 * success), after "error <CODE>: <message>" on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/evp.h>

#include "config.h"
#include "sb.h"
#include "store.h"

static const char *const errname[SB_ERR__MAX] = {
	"OK", "NOMEM", "INVAL", "NOTFOUND", "AUTOMATIC", "BUSY", "CORRUPT",
	"STORAGE", "DB", "IO", "CONFIG", "AUTH", "IDENTITY", "KEY",
};

static int	npass, nfail;
static struct sb_store *st;
static uint64_t	block_size = 64 * 1024;

static void
check(int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record one check: "ok - what" or "not ok - what: why". */
static void
check(int ok, const char *what, const char *fmt, ...)
{
	va_list	ap;

	if (ok) {
		npass++;
		printf("ok - %s\n", what);
	} else {
		nfail++;
		printf("not ok - %s: ", what);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(" [store: %s]\n", sb_store_errmsg(st));
	}
	fflush(stdout);
}

/* --- deterministic data: a seeded generator, hashed as it goes ---------- */

struct gen {
	uint64_t	 state;
	uint64_t	 size;
	uint64_t	 pos;
	uint64_t	 fail_at;	/* reader error at this offset; 0 never */
	unsigned	 chunk;		/* vary read sizes */
};

static uint8_t
gen_byte(struct gen *g)
{
	/* xorshift64*: cheap, and each seed gives different bytes. */
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return (uint8_t)((g->state * 2685821657736338717ULL) >> 56);
}

static void
gen_init(struct gen *g, uint64_t seed, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->state = seed * 0x9E3779B97F4A7C15ULL + 1;
	g->size = size;
}

static ssize_t
gen_read(void *arg, void *buf, size_t len)
{
	struct gen	*g = arg;
	uint8_t		*p = buf;
	size_t		 i, n;

	if (g->fail_at != 0 && g->pos >= g->fail_at)
		return -1;
	/* Short reads of changing sizes, as a real pipe would give. */
	n = 1 + (size_t)(g->chunk++ * 7919 % 100000);
	if (n > len)
		n = len;
	if (n > g->size - g->pos)
		n = (size_t)(g->size - g->pos);
	for (i = 0; i < n; i++)
		p[i] = gen_byte(g);
	g->pos += n;
	return (ssize_t)n;
}

/* sha256 of what the generator makes for seed and size, hex. */
static void
gen_hash(uint64_t seed, uint64_t size, char hex[65])
{
	struct gen	 g;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned char	 buf[65536], md[32];
	unsigned	 mdlen;
	ssize_t		 n;
	int		 i;

	gen_init(&g, seed, size);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = gen_read(&g, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Write the generator's bytes to a new file at path. */
static int
gen_file(const char *path, uint64_t seed, uint64_t size)
{
	struct gen	 g;
	unsigned char	 buf[65536];
	ssize_t		 n;
	FILE		*f;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	gen_init(&g, seed, size);
	while ((n = gen_read(&g, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
			fclose(f);
			return -1;
		}
	return fclose(f);
}

/* A writer that hashes what it gets; fails after fail_after bytes. */
struct sink {
	EVP_MD_CTX	*ctx;
	uint64_t	 n;
	uint64_t	 fail_after;	/* 0: never */
	char		*mem;		/* keep small bodies too */
	size_t		 memlen;
};

static int
sink_write(void *arg, const void *buf, size_t len)
{
	struct sink	*s = arg;

	if (s->fail_after != 0 && s->n + len > s->fail_after)
		return -1;
	EVP_DigestUpdate(s->ctx, buf, len);
	if (s->mem != NULL && s->n + len <= 4096) {
		memcpy(s->mem + s->n, buf, len);
		s->memlen = (size_t)(s->n + len);
	}
	s->n += len;
	return 0;
}

/* Download name, give its size and sha256 (hex), and rc. */
static int
fetch(const char *name, uint64_t *size, char hex[65], char *mem)
{
	struct sink	 s;
	unsigned char	 md[32];
	unsigned	 mdlen;
	int		 rc, i;

	memset(&s, 0, sizeof(s));
	s.ctx = EVP_MD_CTX_new();
	s.mem = mem;
	EVP_DigestInit_ex(s.ctx, EVP_sha256(), NULL);
	rc = sb_store_get(st, name, sink_write, &s);
	EVP_DigestFinal_ex(s.ctx, md, &mdlen);
	EVP_MD_CTX_free(s.ctx);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*size = s.n;
	if (mem != NULL)
		mem[s.memlen < 4096 ? s.memlen : 4095] = '\0';
	return rc;
}

static int
put_gen(const char *name, uint64_t seed, uint64_t size,
    const struct sb_meta *m)
{
	struct gen	g;

	gen_init(&g, seed, size);
	return sb_store_put_stream(st, name, gen_read, &g, m);
}

/* A reader over a string. */
struct strrd {
	const char	*s;
	size_t		 pos;
};

static ssize_t
str_read(void *arg, void *buf, size_t len)
{
	struct strrd	*r = arg;
	size_t		 n = strlen(r->s) - r->pos;

	if (n > len)
		n = len;
	memcpy(buf, r->s + r->pos, n);
	r->pos += n;
	return (ssize_t)n;
}

static int
put_str(const char *name, const char *body, const struct sb_meta *m)
{
	struct strrd	r = { body, 0 };

	return sb_store_put_stream(st, name, str_read, &r, m);
}

static const struct sb_object *
find(const struct sb_object_list *l, const char *name)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* --- the cases ----------------------------------------------------------- */

static const struct sb_config *gcfg;	/* the store's configuration */
static char	pfx[64];	/* unique per run: tests never see old objects */
static char	tmpdir[256];

/* A follower of sb_store_get_file_follow: hashes and counts in order. */
struct follow {
	EVP_MD_CTX	*ctx;
	uint64_t	 n;
};

static int
follow_hash(void *arg, const void *buf, size_t len)
{
	struct follow	*f = arg;

	f->n += len;
	return EVP_DigestUpdate(f->ctx, buf, len) == 1 ? 0 : -1;
}

/* get_file_follow of name into path: sha256 and size of what followed. */
static int
fetch_follow(const char *name, const char *path, uint64_t *size,
    char hex[65])
{
	struct follow	f = { EVP_MD_CTX_new(), 0 };
	unsigned char	md[32];
	int		rc;

	if (f.ctx == NULL || EVP_DigestInit_ex(f.ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(f.ctx);
		return SB_ERR_NOMEM;
	}
	rc = sb_store_get_file_follow(st, name, path, follow_hash, &f);
	EVP_DigestFinal_ex(f.ctx, md, NULL);
	EVP_MD_CTX_free(f.ctx);
	sb_hex(md, 32, hex);
	*size = f.n;
	return rc;
}

static void
t_roundtrip(void)
{
	char		 name[128], path[512], want[65], got[65];
	uint64_t	 size, sizes[4], i;
	struct sb_object o;
	int		 rc;

	sizes[0] = 0;
	sizes[1] = 1000;
	sizes[2] = block_size * 3 + block_size / 2 + 17;  /* several blocks */
	sizes[3] = block_size;				   /* exactly one */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "%sstream-%llu", pfx,
		    (unsigned long long)sizes[i]);
		rc = put_gen(name, 100 + i, sizes[i], NULL);
		check(rc == SB_OK, "put_stream", "%s: rc %d", name, rc);
		gen_hash(100 + i, sizes[i], want);
		rc = fetch(name, &size, got, NULL);
		check(rc == SB_OK && size == sizes[i] &&
		    strcmp(want, got) == 0, "get after put_stream",
		    "%s: rc %d size %llu", name, rc,
		    (unsigned long long)size);
		rc = sb_store_head(st, name, &o);
		check(rc == SB_OK && o.size == (int64_t)sizes[i] &&
		    o.mtime > 0, "head size and mtime", "%s: rc %d size %lld "
		    "mtime %lld", name, rc, (long long)o.size,
		    (long long)o.mtime);
		sb_object_clear(&o);

		snprintf(name, sizeof(name), "%sfile-%llu", pfx,
		    (unsigned long long)sizes[i]);
		snprintf(path, sizeof(path), "%s/up-%llu", tmpdir,
		    (unsigned long long)i);
		if (gen_file(path, 200 + i, sizes[i]) != 0) {
			check(0, "make a local file", "%s", strerror(errno));
			continue;
		}
		rc = sb_store_put_file(st, name, path, NULL);
		check(rc == SB_OK, "put_file", "%s: rc %d", name, rc);
		unlink(path);
		gen_hash(200 + i, sizes[i], want);
		rc = fetch(name, &size, got, NULL);
		check(rc == SB_OK && size == sizes[i] &&
		    strcmp(want, got) == 0, "get after put_file",
		    "%s: rc %d size %llu", name, rc,
		    (unsigned long long)size);

		/* get_file writes the same bytes to a new file. */
		snprintf(path, sizeof(path), "%s/down-%llu", tmpdir,
		    (unsigned long long)i);
		rc = sb_store_get_file(st, name, path);
		if (rc == SB_OK) {
			char	 err[SB_ERRMSG_MAX];
			int64_t	 fsize = -1;

			sb_sha256_file(path, got, &fsize, err);
			check(fsize == (int64_t)sizes[i] &&
			    strcmp(want, got) == 0, "get_file content",
			    "%s: size %lld", name, (long long)fsize);
		} else
			check(0, "get_file", "%s: rc %d", name, rc);
		unlink(path);

		/* get_file_follow hands the same bytes over in order. */
		rc = fetch_follow(name, path, &size, got);
		check(rc == SB_OK && size == sizes[i] && strcmp(want, got) == 0,
		    "get_file_follow hands over every byte in order",
		    "%s: rc %d size %llu", name, rc, (unsigned long long)size);
		unlink(path);
	}
}

static void
t_meta(void)
{
	/* Non-ASCII, blanks at both ends, '%' sequences, quotes, newline. */
	const char	*desc = "  Sauvegarde d'été — 日本語のバックアップ ✓ 😀 "
	    "%41%2 100% \"quoted\" tab\there\nline two  ";
	const char	*tags = "prod,nightly,émoji-🐘";
	char		 name[128], buf[4096];
	struct sb_meta	 m;
	struct sb_object o;
	struct sb_object_list l;
	const struct sb_object *e;
	const char	*v;
	int		 rc, big;

	for (big = 0; big < 2; big++) {
		memset(&m, 0, sizeof(m));
		sb_meta_set(&m, "type", "manual");
		sb_meta_set(&m, "created", "2026-11-26T04:34:32.123Z");
		sb_meta_set(&m, "sha256", "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855");
		sb_meta_set(&m, "description", desc);
		sb_meta_set(&m, "tags", tags);
		sb_meta_set(&m, "empty", "");
		snprintf(name, sizeof(name), "%smeta-%s", pfx,
		    big ? "blocks" : "small");
		if (big)
			rc = put_gen(name, 7, block_size * 2 + 5, &m);
		else
			rc = put_str(name, "hello", &m);
		check(rc == SB_OK, "put with metadata", "%s: rc %d", name, rc);

		rc = sb_store_head(st, name, &o);
		check(rc == SB_OK, "head with metadata", "rc %d", rc);
		v = sb_meta_get(&o.meta, "description");
		check(v != NULL && strcmp(v, desc) == 0,
		    "non-ASCII description round trip (head)", "got [%s]",
		    v ? v : "(null)");
		v = sb_meta_get(&o.meta, "tags");
		check(v != NULL && strcmp(v, tags) == 0,
		    "tags round trip (head)", "got [%s]", v ? v : "(null)");
		v = sb_meta_get(&o.meta, "empty");
		check(v == NULL || v[0] == '\0', "empty value (head)",
		    "got [%s]", v);
		check(sb_meta_get(&o.meta, "type") != NULL &&
		    strcmp(sb_meta_get(&o.meta, "type"), "manual") == 0 &&
		    sb_meta_get(&o.meta, "sha256") != NULL &&
		    strlen(sb_meta_get(&o.meta, "sha256")) == 64,
		    "type and sha256 (head)", "missing");
		sb_object_clear(&o);

		rc = sb_store_list(st, name, &l);
		e = rc == SB_OK ? find(&l, name) : NULL;
		check(e != NULL, "list finds the object", "rc %d", rc);
		if (e != NULL) {
			v = sb_meta_get(&e->meta, "description");
			check(v != NULL && strcmp(v, desc) == 0,
			    "non-ASCII description round trip (list)",
			    "got [%s]", v ? v : "(null)");
			v = sb_meta_get(&e->meta, "created");
			check(v != NULL &&
			    strcmp(v, "2026-11-26T04:34:32.123Z") == 0,
			    "created round trip (list)", "got [%s]",
			    v ? v : "(null)");
		}
		sb_object_list_clear(&l);
		sb_meta_clear(&m);
	}

	/* Overwrite: new bytes, and the old metadata gone. */
	snprintf(name, sizeof(name), "%smeta-small", pfx);
	memset(&m, 0, sizeof(m));
	sb_meta_set(&m, "type", "automatic");
	rc = put_str(name, "second version", &m);
	sb_meta_clear(&m);
	{
		uint64_t	size;
		char		hex[65];

		rc = rc == SB_OK ? fetch(name, &size, hex, buf) : rc;
		check(rc == SB_OK && strcmp(buf, "second version") == 0,
		    "overwrite replaces the bytes", "rc %d got [%s]", rc,
		    buf);
	}
	rc = sb_store_head(st, name, &o);
	check(rc == SB_OK && sb_meta_get(&o.meta, "description") == NULL &&
	    sb_meta_get(&o.meta, "type") != NULL &&
	    strcmp(sb_meta_get(&o.meta, "type"), "automatic") == 0,
	    "overwrite replaces the metadata", "rc %d", rc);
	sb_object_clear(&o);
}

static void
t_names(void)
{
	static const char *const odd[] = {
		"with spaces  and  more",
		"plus+and%percent%20literal",
		"amp&eq=hash#question?",
		"quote'double\"back`",
		"été-日本語-🐘",
		"tilde~comma,semi;colon:",
		"paren(brackets)[braces]{}",
		"star*bang!at@dollar$caret^pipe|",
		"less<greater>",
		"dots..in.middle",
	};
	char			 name[SB_NAME_MAX + 1], buf[4096], hex[65];
	struct sb_object_list	 l;
	uint64_t		 size;
	size_t			 i, found = 0;
	int			 rc;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(name, sizeof(name), "%sodd-%s", pfx, odd[i]);
		rc = put_str(name, name, NULL);
		check(rc == SB_OK, "put an odd name", "[%s] rc %d", name, rc);
		rc = fetch(name, &size, hex, buf);
		check(rc == SB_OK && strcmp(buf, name) == 0,
		    "get an odd name", "[%s] rc %d", name, rc);
	}
	snprintf(name, sizeof(name), "%sodd-", pfx);
	rc = sb_store_list(st, name, &l);
	for (i = 0; rc == SB_OK && i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(name, sizeof(name), "%sodd-%s", pfx, odd[i]);
		if (find(&l, name) != NULL)
			found++;
		else
			printf("# not listed: [%s]\n", name);
	}
	check(rc == SB_OK && found == sizeof(odd) / sizeof(odd[0]) &&
	    l.n == found, "list returns every odd name exactly",
	    "rc %d found %zu of %zu, listed %zu", rc, found,
	    sizeof(odd) / sizeof(odd[0]), l.n);
	for (i = 1; rc == SB_OK && i < l.n; i++)
		if (strcmp(l.v[i - 1].name, l.v[i].name) >= 0)
			break;
	check(rc == SB_OK && i >= l.n, "list is in name order",
	    "at %zu", i);
	sb_object_list_clear(&l);

	/* A name that is a prefix of others does not bring them along. */
	snprintf(name, sizeof(name), "%sodd-with", pfx);
	rc = sb_store_list(st, name, &l);
	check(rc == SB_OK && l.n == 1, "prefix narrows the list",
	    "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);

	/* The longest name we allow. */
	memset(name, 'n', SB_NAME_MAX);
	memcpy(name, pfx, strlen(pfx));
	name[SB_NAME_MAX] = '\0';
	rc = put_str(name, "long", NULL);
	check(rc == SB_OK, "put a name of SB_NAME_MAX bytes", "rc %d", rc);
	rc = fetch(name, &size, hex, buf);
	check(rc == SB_OK && strcmp(buf, "long") == 0, "get a name of SB_NAME_MAX bytes",
	    "rc %d", rc);
	rc = sb_store_del(st, name);
	check(rc == SB_OK, "delete a name of SB_NAME_MAX bytes", "rc %d", rc);
}

static void
t_missing(void)
{
	char		 name[128], hex[65];
	uint64_t	 size;
	struct sb_object o;
	struct sb_object_list l;
	int		 rc;

	snprintf(name, sizeof(name), "%snever-there", pfx);
	rc = fetch(name, &size, hex, NULL);
	check(rc == SB_ERR_NOTFOUND && size == 0, "get a missing object "
	    "is NOTFOUND", "rc %d", rc);
	rc = sb_store_head(st, name, &o);
	check(rc == SB_ERR_NOTFOUND, "head a missing object is NOTFOUND",
	    "rc %d", rc);
	sb_object_clear(&o);
	rc = sb_store_del(st, name);
	check(rc == SB_OK, "delete a missing object succeeds", "rc %d", rc);
	rc = sb_store_list(st, name, &l);
	check(rc == SB_OK && l.n == 0, "list a prefix nobody uses is empty",
	    "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);
}

static void
t_delete(void)
{
	char		 name[128], hex[65];
	uint64_t	 size;
	struct sb_object_list l;
	int		 rc;

	snprintf(name, sizeof(name), "%sdel-me", pfx);
	rc = put_str(name, "bye", NULL);
	check(rc == SB_OK, "put before delete", "rc %d", rc);
	rc = sb_store_del(st, name);
	check(rc == SB_OK, "delete", "rc %d", rc);
	rc = fetch(name, &size, hex, NULL);
	check(rc == SB_ERR_NOTFOUND, "deleted object is NOTFOUND", "rc %d",
	    rc);
	rc = sb_store_list(st, name, &l);
	check(rc == SB_OK && l.n == 0, "deleted object is not listed",
	    "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);
	rc = sb_store_del(st, name);
	check(rc == SB_OK, "delete twice succeeds", "rc %d", rc);
}

/* A failed upload leaves nothing a list or a get would return. */
static void
t_failed_put(void)
{
	struct gen	 g;
	char		 name[128], hex[65];
	uint64_t	 size, cases[2], i;
	struct sb_object_list l;
	struct sink	 s;
	int		 rc;

	cases[0] = 100;				/* inside the first block */
	cases[1] = block_size * 2 + 100;	/* after two blocks went up */
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%sfailed-%llu", pfx,
		    (unsigned long long)i);
		gen_init(&g, 9, block_size * 4);
		g.fail_at = cases[i];
		rc = sb_store_put_stream(st, name, gen_read, &g, NULL);
		check(rc != SB_OK, "a reader error fails the put", "rc %d", rc);
		rc = fetch(name, &size, hex, NULL);
		check(rc == SB_ERR_NOTFOUND, "a failed put leaves no object",
		    "rc %d size %llu", rc, (unsigned long long)size);
		rc = sb_store_list(st, name, &l);
		check(rc == SB_OK && l.n == 0, "a failed put is not listed",
		    "rc %d n %zu", rc, l.n);
		sb_object_list_clear(&l);
	}

	/* A writer that fails aborts the get with an error. */
	snprintf(name, sizeof(name), "%sstream-%llu", pfx,
	    (unsigned long long)(block_size * 3 + block_size / 2 + 17));
	memset(&s, 0, sizeof(s));
	s.ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s.ctx, EVP_sha256(), NULL);
	s.fail_after = 1000;
	rc = sb_store_get(st, name, sink_write, &s);
	EVP_MD_CTX_free(s.ctx);
	check(rc != SB_OK && rc != SB_ERR_NOTFOUND,
	    "a writer error fails the get", "rc %d", rc);
}

static void
t_pagination(void)
{
	char			 name[128], sub[96];
	struct sb_object_list	 l;
	long			 n = 5050, i;
	int			 rc, bad = 0;
	const char		*env;
	time_t			 t0 = time(NULL);

	if ((env = getenv("SB_TEST_PAGINATION")) != NULL)
		n = strtol(env, NULL, 10);
	snprintf(sub, sizeof(sub), "%spage-", pfx);
	for (i = 0; i < n && !bad; i++) {
		snprintf(name, sizeof(name), "%s%06ld", sub, i);
		if ((rc = put_str(name, "x", NULL)) != SB_OK) {
			check(0, "put many small objects", "#%ld rc %d", i, rc);
			bad = 1;
		}
	}
	if (!bad)
		check(1, "put many small objects", "%ld", n);
	printf("# %ld objects put in %lds\n", n, (long)(time(NULL) - t0));
	rc = sb_store_list(st, sub, &l);
	check(rc == SB_OK && l.n == (size_t)n,
	    "list returns every object across pages",
	    "rc %d listed %zu of %ld", rc, l.n, n);
	for (i = 0; rc == SB_OK && (size_t)i < l.n; i++) {
		snprintf(name, sizeof(name), "%s%06ld", sub, i);
		if (strcmp(l.v[i].name, name) != 0 || l.v[i].size != 1)
			break;
	}
	check(rc == SB_OK && (size_t)i == l.n, "paged list is complete, "
	    "ordered, sized", "first bad at %ld", i);
	sb_object_list_clear(&l);

	/* The whole store lists at least as much (and other objects). */
	rc = sb_store_list(st, "", &l);
	check(rc == SB_OK && l.n > (size_t)n, "list with an empty prefix",
	    "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%06ld", sub, i);
		if (sb_store_del(st, name) != SB_OK)
			break;
	}
	check(i == n, "delete many objects", "stopped at %ld", i);
	rc = sb_store_list(st, sub, &l);
	check(rc == SB_OK && l.n == 0, "all deleted", "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);
}


/*
 * A writer thread for t_staged: writes the file block by block (slowly,
 * so a store can stage early blocks), then rewrites its first bytes and a
 * middle block, as SQLite does with page 1 at the end of a copy.
 */
struct slowwriter {
	const char	*path;
	uint64_t	 size;
	uint64_t	 chunk;
	int		 ok;
};

static void *
slowwriter_main(void *arg)
{
	struct slowwriter	*w = arg;
	struct gen		 g;
	unsigned char		*buf;
	uint64_t		 off;
	size_t			 n;
	int			 fd;

	w->ok = 0;
	if ((buf = malloc((size_t)w->chunk)) == NULL)
		return NULL;
	if ((fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		free(buf);
		return NULL;
	}
	gen_init(&g, 77, w->size);
	for (off = 0; off < w->size; off += n) {
		n = (size_t)(w->size - off < w->chunk ? w->size - off :
		    w->chunk);
		for (size_t i = 0; i < n; i++)
			buf[i] = gen_byte(&g);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			goto out;
		usleep(20000);
	}
	/* Rewrites behind the writer's back: the start, and a middle. */
	if (pwrite(fd, "REWRITTEN HEADER", 16, 0) != 16 ||
	    pwrite(fd, "MIDDLE", 6, (off_t)(w->size / 2)) != 6)
		goto out;
	w->ok = 1;
out:
	close(fd);
	free(buf);
	return NULL;
}

/* sha256 (hex) of a local file. */
static void
file_hash(const char *path, char hex[65])
{
	char	err[SB_ERRMSG_MAX];
	int64_t	size;

	hex[0] = '\0';
	sb_sha256_file(path, hex, &size, err);
}

static void
t_staged(void)
{
	struct slowwriter	 w;
	struct sb_upload	*up = NULL;
	struct sb_object	 o;
	pthread_t		 th;
	char			 name[128], path[512], want[65], got[65];
	uint64_t		 size;
	struct sb_meta		 m;
	int			 rc;

	snprintf(name, sizeof(name), "%sstaged", pfx);
	snprintf(path, sizeof(path), "%s/staged", tmpdir);
	memset(&w, 0, sizeof(w));
	w.path = path;
	w.size = block_size * 9 + 1234;
	w.chunk = block_size / 2;
	rc = sb_store_upload_begin(st, name, path, &up);
	check(rc == SB_OK && up != NULL, "upload_begin", "rc %d", rc);
	if (rc != SB_OK)
		return;
	pthread_create(&th, NULL, slowwriter_main, &w);
	pthread_join(th, NULL);
	check(w.ok, "the writer wrote the file", "%s", strerror(errno));
	/* Before finish: a disk store may take the file away (rename). */
	file_hash(path, want);
	sb_store_upload_eof(up);
	memset(&m, 0, sizeof(m));
	sb_meta_set(&m, "description", "staged: été");
	rc = sb_store_upload_finish(&up, &m);
	sb_meta_clear(&m);
	check(rc == SB_OK && up == NULL, "upload_finish", "rc %d", rc);
	rc = fetch(name, &size, got, NULL);
	check(rc == SB_OK && size == w.size && strcmp(want, got) == 0,
	    "the object is the final file, rewrites included",
	    "rc %d size %llu", rc, (unsigned long long)size);
	rc = sb_store_head(st, name, &o);
	check(rc == SB_OK && sb_meta_get(&o.meta, "description") != NULL &&
	    strcmp(sb_meta_get(&o.meta, "description"), "staged: été") == 0,
	    "staged upload carries its metadata", "rc %d", rc);
	sb_object_clear(&o);
	unlink(path);

	/* Abort: nothing is committed. */
	snprintf(name, sizeof(name), "%sstaged-aborted", pfx);
	rc = sb_store_upload_begin(st, name, path, &up);
	w.ok = 0;
	pthread_create(&th, NULL, slowwriter_main, &w);
	pthread_join(th, NULL);
	sb_store_upload_abort(&up);
	check(rc == SB_OK && up == NULL, "upload_abort", "rc %d", rc);
	rc = fetch(name, &size, got, NULL);
	check(rc == SB_ERR_NOTFOUND, "an aborted upload leaves no object",
	    "rc %d", rc);
	unlink(path);
}

/*
 * [store] prefix: two stores under two prefixes of the same place see
 * only their own objects, by names without the prefix; the unprefixed
 * store does not take theirs for its own names.
 */
static void
t_prefix(void)
{
	struct sb_config	 ca, cb;
	struct sb_store		*a = NULL, *b = NULL, *main_st = st;
	struct sb_object_list	 l;
	struct sb_object	 o;
	char			 pa[96], pb[96], err[SB_ERRMSG_MAX], mem[4096];
	char			 hex[65];
	uint64_t		 size;
	int			 rc;

	snprintf(pa, sizeof(pa), "%sa/", pfx);
	snprintf(pb, sizeof(pb), "%sb/deeper/", pfx);
	ca = *gcfg;
	cb = *gcfg;
	ca.store_prefix = pa;
	cb.store_prefix = pb;
	rc = sb_store_open(&a, &ca, err);
	if (rc == SB_OK)
		rc = sb_store_open(&b, &cb, err);
	check(rc == SB_OK, "open two stores under two prefixes", "%s", err);
	if (rc != SB_OK)
		goto out;
	rc = sb_store_create(a);
	if (rc == SB_OK)
		rc = sb_store_create(b);
	check(rc == SB_OK, "create under a prefix", "rc %d", rc);
	st = a;
	rc = put_str("backup-same", "from a", NULL);
	st = b;
	if (rc == SB_OK)
		rc = put_str("backup-same", "from b!", NULL);
	check(rc == SB_OK, "put one name under each prefix", "rc %d %s", rc,
	    sb_store_errmsg(st));
	st = a;
	rc = fetch("backup-same", &size, hex, mem);
	check(rc == SB_OK && strcmp(mem, "from a") == 0, "each prefix gets "
	    "its own object back (a)", "rc %d '%s'", rc, mem);
	st = b;
	rc = fetch("backup-same", &size, hex, mem);
	check(rc == SB_OK && strcmp(mem, "from b!") == 0, "each prefix gets "
	    "its own object back (b)", "rc %d '%s'", rc, mem);
	rc = sb_store_list(a, "", &l);
	check(rc == SB_OK && l.n == 1 && strcmp(l.v[0].name,
	    "backup-same") == 0 && l.v[0].size == 6, "list under a prefix: "
	    "only its objects, names without the prefix", "rc %d n %zu %s",
	    rc, l.n, l.n > 0 ? l.v[0].name : "");
	sb_object_list_clear(&l);
	rc = sb_store_list(b, "backup-", &l);
	check(rc == SB_OK && l.n == 1 && l.v[0].size == 7,
	    "list with a name prefix under a store prefix", "rc %d n %zu", rc,
	    l.n);
	sb_object_list_clear(&l);
	rc = sb_store_head(b, "backup-same", &o);
	check(rc == SB_OK && o.name != NULL &&
	    strcmp(o.name, "backup-same") == 0 && o.size == 7,
	    "head under a prefix gives the name without it", "rc %d", rc);
	sb_object_clear(&o);
	/* The unprefixed store: no object of its own by those names. */
	st = main_st;
	rc = fetch("backup-same", &size, hex, NULL);
	check(rc == SB_ERR_NOTFOUND, "the unprefixed store does not see "
	    "prefixed objects by their names", "rc %d", rc);
	rc = sb_store_list(main_st, "backup-same", &l);
	check(rc == SB_OK && l.n == 0, "nor lists them", "rc %d n %zu", rc,
	    l.n);
	sb_object_list_clear(&l);
	/* Deleting under one prefix leaves the other's. */
	rc = sb_store_del(a, "backup-same");
	st = b;
	if (rc == SB_OK)
		rc = fetch("backup-same", &size, hex, mem);
	check(rc == SB_OK && strcmp(mem, "from b!") == 0,
	    "delete under one prefix leaves the other's", "rc %d", rc);
	rc = sb_store_list(a, "", &l);
	check(rc == SB_OK && l.n == 0, "deleted", "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);
	(void)sb_store_del(b, "backup-same");
out:
	st = main_st;
	sb_store_free(&a);
	sb_store_free(&b);
}

/* put_new: an exclusive create; the second writer learns it lost. */
static void
t_put_new(void)
{
	char	name[128], mem[4096], hex[65];
	uint64_t size;
	int	rc, existed = -1;

	snprintf(name, sizeof(name), "%sonce", pfx);
	rc = sb_store_put_new(st, name, "first", 5, &existed);
	check(rc == SB_OK && existed == 0, "put_new creates", "rc %d existed "
	    "%d %s", rc, existed, sb_store_errmsg(st));
	rc = sb_store_put_new(st, name, "second", 6, &existed);
	check(rc == SB_OK && existed == 1, "put_new of an existing name "
	    "says so", "rc %d existed %d %s", rc, existed,
	    sb_store_errmsg(st));
	rc = fetch(name, &size, hex, mem);
	check(rc == SB_OK && strcmp(mem, "first") == 0, "and leaves the "
	    "first object as it was", "rc %d '%s'", rc, mem);
	(void)sb_store_del(st, name);
}

/*
 * A store whose place is gone (a directory not mounted, a container
 * deleted): list is an error, never an empty list, and a put creates
 * nothing.
 */
static void
t_not_there(void)
{
	struct sb_config	 c = *gcfg;
	struct sb_store		*x = NULL;
	struct sb_object_list	 l;
	char			 root[512], cont[64], err[SB_ERRMSG_MAX];
	int			 rc;

	snprintf(root, sizeof(root), "%s/not-mounted", tmpdir);
	snprintf(cont, sizeof(cont), "gone-%u", (unsigned)getpid());
	c.disk_root = root;
	c.az_container = cont;
	c.store_prefix = NULL;
	if ((rc = sb_store_open(&x, &c, err)) != SB_OK) {
		check(0, "open a store that is not there", "%s", err);
		return;
	}
	rc = sb_store_list(x, "", &l);
	check(rc != SB_OK, "list of a store that is not there is an error",
	    "rc %d n %zu", rc, l.n);
	sb_object_list_clear(&l);
	st = x;
	rc = put_str("backup-x", "x", NULL);
	st = NULL;
	check(rc != SB_OK, "a put to a store that is not there fails", "rc %d",
	    rc);
	rc = sb_store_list(x, "", &l);
	check(rc != SB_OK && (c.store_kind != SB_STORE_DISK ||
	    access(root, F_OK) == -1), "and creates nothing (no directory, "
	    "no container)", "rc %d", rc);
	sb_object_list_clear(&l);
	sb_store_free(&x);
}

static int
suite(void)
{
	char		 tmpl[] = "/tmp/sb-conformance-XXXXXX";
	unsigned	 r;
	const char	*kind = st->ops->kind;

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	sb_strlcpy(tmpdir, tmpl, sizeof(tmpdir));
	r = (unsigned)getpid() ^ (unsigned)time(NULL);
	snprintf(pfx, sizeof(pfx), "conf-%08x-", r);
	printf("# store %s, prefix %s, block size %llu\n", kind, pfx,
	    (unsigned long long)block_size);
	t_roundtrip();
	t_meta();
	t_names();
	t_missing();
	t_delete();
	t_failed_put();
	t_staged();
	t_put_new();
	t_prefix();
	{
		struct sb_store *keep = st;

		t_not_there();
		st = keep;
	}
	t_pagination();
	rmdir(tmpdir);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail > 0;
}

/* --- settings ------------------------------------------------------------ */

static char *
envdup(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? strdup(v) : NULL;
}

static unsigned
envnum(const char *name, unsigned def)
{
	const char	*v = getenv(name);
	int64_t		 n;

	if (v == NULL || sb_parse_i64(v, 0, 1000000000, &n) != SB_OK)
		return def;
	return (unsigned)n;
}

static struct sb_config *
env_config(void)
{
	struct sb_config	*c;
	const char		*kind = getenv("SB_TEST_STORE");
	uint64_t		 bs = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->store_kind = kind != NULL && strcmp(kind, "azure") == 0 ?
	    SB_STORE_AZURE : SB_STORE_DISK;
	c->disk_root = envdup("SB_TEST_DISK_ROOT");
	c->az_endpoint = envdup("SB_TEST_AZ_ENDPOINT");
	c->az_account = envdup("SB_TEST_AZ_ACCOUNT");
	c->az_container = envdup("SB_TEST_AZ_CONTAINER");
	c->az_key = envdup("SB_TEST_AZ_KEY");
	c->az_sas = envdup("SB_TEST_AZ_SAS");
	c->az_connstr = envdup("SB_TEST_AZ_CONNSTR");
	if (getenv("SB_TEST_AZ_BLOCK_SIZE") != NULL)
		sb_parse_size(getenv("SB_TEST_AZ_BLOCK_SIZE"), 1ULL << 40, &bs);
	c->az_block_size = bs ? bs : 8 * 1024 * 1024;
	c->az_concurrency = envnum("SB_TEST_AZ_CONCURRENCY", 4);
	c->az_timeout = envnum("SB_TEST_AZ_TIMEOUT", 60);
	c->az_retries = envnum("SB_TEST_AZ_RETRIES", 5);
	c->store_prefix = envdup("SB_TEST_PREFIX");
	return c;
}

static void
env_config_free(struct sb_config *c)
{
	free(c->disk_root);
	free(c->az_endpoint);
	free(c->az_account);
	free(c->az_container);
	free(c->az_key);
	free(c->az_sas);
	free(c->az_connstr);
	free(c->store_prefix);
	free(c);
}

static int
fail(int rc)
{
	fprintf(stderr, "error %s: %s\n",
	    (unsigned)rc < SB_ERR__MAX ? errname[rc] : "?",
	    sb_store_errmsg(st));
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: conformance [--config FILE] suite | "
	    "put NAME FILE | put-stream NAME FILE | get NAME FILE | "
	    "head NAME | list PREFIX | del NAME | create\n");
	return 2;
}

static ssize_t
fd_read(void *arg, void *buf, size_t len)
{
	return read(*(int *)arg, buf, len);
}

int
main(int argc, char *argv[])
{
	struct sb_config	*cfg = NULL;
	struct sb_object_list	 l;
	struct sb_object	 o;
	char			 err[SB_ERRMSG_MAX];
	const char		*cmd;
	size_t			 i;
	int			 rc, fd, from_file = 0;

	if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
		from_file = 1;
		if ((rc = sb_config_load(argv[2], &cfg, err)) != SB_OK) {
			fprintf(stderr, "config: %s\n", err);
			return rc;
		}
		argc -= 2;
		argv += 2;
	} else if ((cfg = env_config()) == NULL)
		return SB_ERR_NOMEM;
	if (argc < 2)
		return usage();
	cmd = argv[1];
	if (cfg->store_kind == SB_STORE_AZURE)
		block_size = cfg->az_block_size;
	if ((rc = sb_store_open(&st, cfg, err)) != SB_OK) {
		fprintf(stderr, "error %s: %s\n", errname[rc], err);
		goto out;
	}
	gcfg = cfg;
	if (strcmp(cmd, "suite") == 0 || strcmp(cmd, "create") == 0) {
		if ((rc = sb_store_create(st)) != SB_OK)
			fail(rc);
		else if (strcmp(cmd, "suite") == 0)
			rc = suite();
	}
	else if (strcmp(cmd, "put") == 0 && argc == 4) {
		if ((rc = sb_store_put_file(st, argv[2], argv[3], NULL)) !=
		    SB_OK)
			fail(rc);
	} else if (strcmp(cmd, "put-stream") == 0 && argc == 4) {
		if ((fd = open(argv[3], O_RDONLY)) == -1) {
			perror(argv[3]);
			rc = SB_ERR_IO;
		} else {
			if ((rc = sb_store_put_stream(st, argv[2], fd_read,
			    &fd, NULL)) != SB_OK)
				fail(rc);
			close(fd);
		}
	} else if (strcmp(cmd, "get") == 0 && argc == 4) {
		if ((rc = sb_store_get_file(st, argv[2], argv[3])) != SB_OK)
			fail(rc);
	} else if (strcmp(cmd, "head") == 0 && argc == 3) {
		if ((rc = sb_store_head(st, argv[2], &o)) != SB_OK)
			fail(rc);
		else {
			printf("%s %lld %lld\n", o.name, (long long)o.size,
			    (long long)o.mtime);
			for (i = 0; i < o.meta.n; i++)
				printf("  %s=%s\n", o.meta.kv[i].key,
				    o.meta.kv[i].val);
			sb_object_clear(&o);
		}
	} else if (strcmp(cmd, "list") == 0 && argc == 3) {
		if ((rc = sb_store_list(st, argv[2], &l)) != SB_OK)
			fail(rc);
		else {
			for (i = 0; i < l.n; i++)
				printf("%s %lld\n", l.v[i].name,
				    (long long)l.v[i].size);
			printf("# %zu objects\n", l.n);
			sb_object_list_clear(&l);
		}
	} else if (strcmp(cmd, "del") == 0 && argc == 3) {
		if ((rc = sb_store_del(st, argv[2])) != SB_OK)
			fail(rc);
	} else
		rc = usage();
out:
	sb_store_free(&st);
	if (from_file)
		sb_config_free(&cfg);
	if (cfg != NULL && !from_file)
		env_config_free(cfg);
	return rc;
}
