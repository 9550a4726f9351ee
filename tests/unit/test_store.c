/*
 * test_store.c - the object store through its public API, against a real
 * disk store in a mkdtemp(3) directory: round trips of data and metadata,
 * listing, names that must be refused, and failures that must leave
 * nothing behind.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "store.h"

struct fx {
	char		 tmp[64];		/* the mkdtemp directory */
	char		 root[128];		/* <tmp>/store */
	struct sb_store	*s;
};

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	struct fx	*f;
	char		 err[SB_ERRMSG_MAX] = "";

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/sb-test-store.XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/store", f->tmp);
	if (sb_store_disk_open(&f->s, f->root, err) != SB_OK) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	/* As `backup-cron init` does: open creates nothing. */
	if (sb_store_create(f->s) != SB_OK) {
		fprintf(stderr, "create: %s\n", sb_store_errmsg(f->s));
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;
	char		 st[PATH_MAX];

	/* Undo what the failure tests did, so everything can be removed. */
	chmod(f->root, 0700);
	snprintf(st, sizeof(st), "%s/.staging", f->root);
	chmod(st, 0700);
	sb_store_free(&f->s);
	assert_null(f->s);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* --- helpers ------------------------------------------------------------ */

/* Byte i of the test pattern: not periodic in any block size we use. */
static unsigned char
pat(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ i);
}

/* A reader of `total` pattern bytes in odd-sized pieces; fails at `fail`. */
struct prd {
	size_t	pos, total, calls, fail;	/* fail: 0 = never */
};

static ssize_t
pat_read(void *arg, void *buf, size_t len)
{
	static const size_t	 sizes[] = { 1, 7, 4093, 65537, 3, 1 << 20,
	    999999, 12345 };
	struct prd		*r = arg;
	size_t			 n, i;

	if (r->fail != 0 && r->pos >= r->fail)
		return -1;
	n = sizes[r->calls++ % (sizeof(sizes) / sizeof(sizes[0]))];
	if (n > len)
		n = len;
	if (n > r->total - r->pos)
		n = r->total - r->pos;
	for (i = 0; i < n; i++)
		((unsigned char *)buf)[i] = pat(r->pos + i);
	r->pos += n;
	return (ssize_t)n;
}

/* A writer that checks it receives exactly the pattern. */
struct pwr {
	size_t	pos, bad;
	int	fail;		/* 1: refuse the first block */
};

static int
pat_write(void *arg, const void *buf, size_t len)
{
	struct pwr	*w = arg;

	if (w->fail)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (((const unsigned char *)buf)[i] != pat(w->pos + i))
			w->bad++;
	w->pos += len;
	return 0;
}

/* A reader over a fixed string. */
struct srd {
	const char	*s;
	size_t		 off;
};

static ssize_t
str_read(void *arg, void *buf, size_t len)
{
	struct srd	*r = arg;
	size_t		 n = strlen(r->s + r->off);

	if (n > len)
		n = len;
	memcpy(buf, r->s + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

/* A writer into a bounded buffer. */
struct bwr {
	char	buf[4096];
	size_t	len;
};

static int
buf_write(void *arg, const void *p, size_t len)
{
	struct bwr	*w = arg;

	if (len >= sizeof(w->buf) - w->len)
		return -1;
	memcpy(w->buf + w->len, p, len);
	w->len += len;
	w->buf[w->len] = '\0';
	return 0;
}

static int
put_str(struct sb_store *s, const char *name, const char *data,
    const struct sb_meta *m)
{
	struct srd	r = { data, 0 };

	return sb_store_put_stream(s, name, str_read, &r, m);
}

/* The object's content as a string; asserts it is there. */
static void
expect_content(struct sb_store *s, const char *name, const char *want)
{
	struct bwr	w;

	memset(&w, 0, sizeof(w));
	if (sb_store_get(s, name, buf_write, &w) != SB_OK)
		fail_msg("get %s: %s", name, sb_store_errmsg(s));
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(w.buf, want, w.len);
}

/* Entries of dir other than "." and ".."; -1 if it cannot be read. */
static int
count_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
write_file(const char *path, const char *data)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(data, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

/* --- tests -------------------------------------------------------------- */

static void
test_open_layout(void **state)
{
	struct fx	*f = *state;
	struct stat	 st;
	char		 want[PATH_MAX];

	assert_int_equal(stat(f->root, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(want, sizeof(want), "%s/.staging", f->root);
	assert_string_equal(sb_store_staging_dir(f->s), want);
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_string_equal(f->s->ops->kind, "disk");
}

static void
test_open_errors(void **state)
{
	struct fx		*f = *state;
	struct sb_store		*s = NULL;
	struct sb_config	 cfg;
	char			 err[SB_ERRMSG_MAX] = "", path[PATH_MAX];

	/* Root is a regular file: open is lazy, create says so. */
	snprintf(path, sizeof(path), "%s/afile", f->tmp);
	write_file(path, "x");
	assert_int_equal(sb_store_disk_open(&s, path, err), SB_OK);
	assert_int_equal(sb_store_create(s), SB_ERR_STORAGE);
	assert_non_null(strstr(sb_store_errmsg(s), "Not a directory"));
	sb_store_free(&s);
	assert_int_equal(sb_store_disk_open(&s, "", err), SB_ERR_CONFIG);
	assert_null(s);

	/*
	 * Through the configuration: a missing root is not created by
	 * open, nor by a put (an unmounted volume must stay visible as
	 * missing); only sb_store_create makes it.
	 */
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = SB_STORE_DISK;
	snprintf(path, sizeof(path), "%s/deep/er/store/", f->tmp);
	cfg.disk_root = path;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_OK);
	assert_non_null(s);
	assert_string_equal(s->ops->kind, "disk");
	assert_int_equal(put_str(s, "hello", "world", NULL), SB_ERR_STORAGE);
	assert_false(exists(path));
	snprintf(path, sizeof(path), "%s/deep", f->tmp);
	assert_false(exists(path));
	assert_int_equal(sb_store_create(s), SB_OK);
	assert_int_equal(put_str(s, "hello", "world", NULL), SB_OK);
	sb_store_free(&s);
	assert_null(s);
	snprintf(path, sizeof(path), "%s/deep/er/store/hello", f->tmp);
	assert_true(exists(path));
	sb_store_free(&s);		/* freeing NULL is fine */

	cfg.disk_root = NULL;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	assert_null(s);
	cfg.store_kind = SB_STORE__MAX;
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_ERR_CONFIG);
	assert_null(s);
}

/* A few MB through odd-sized reads, back through get and get_file. */
static void
test_roundtrip_stream(void **state)
{
	struct fx	*f = *state;
	const size_t	 total = 3 * (1 << 20) + 12345;
	struct prd	 r = { 0, total, 0, 0 };
	struct pwr	 w = { 0, 0, 0 };
	struct sb_object o;
	char		 path[PATH_MAX], hex[SB_SHA256_HEX + 1], hex2[65];
	char		 err[SB_ERRMSG_MAX];
	int64_t		 size = 0;
	FILE		*fp;

	assert_int_equal(sb_store_put_stream(f->s, "big.db", pat_read, &r,
	    NULL), SB_OK);
	assert_true(r.calls > 8);
	assert_int_equal(sb_store_get(f->s, "big.db", pat_write, &w), SB_OK);
	assert_int_equal(w.pos, total);
	assert_int_equal(w.bad, 0);
	assert_int_equal(sb_store_head(f->s, "big.db", &o), SB_OK);
	assert_int_equal(o.size, (int64_t)total);
	assert_int_equal(o.meta.n, 0);
	sb_object_clear(&o);

	/* get_file: a new 0600 file with the same bytes. */
	snprintf(path, sizeof(path), "%s/restored.db", f->tmp);
	assert_int_equal(sb_store_get_file(f->s, "big.db", path), SB_OK);
	{
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_size, (off_t)total);
	}
	assert_int_equal(sb_sha256_file(path, hex, &size, err), SB_OK);
	/* The same bytes written directly hash the same. */
	snprintf(path, sizeof(path), "%s/direct.db", f->tmp);
	assert_non_null(fp = fopen(path, "w"));
	for (size_t i = 0; i < total; i++)
		fputc(pat(i), fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(sb_sha256_file(path, hex2, NULL, err), SB_OK);
	assert_string_equal(hex, hex2);
	assert_int_equal(size, (int64_t)total);

	/* get_file_sha: hashed while it is written, the same sha256. */
	snprintf(path, sizeof(path), "%s/hashed.db", f->tmp);
	size = 0;
	hex2[0] = '\0';
	assert_int_equal(sb_store_get_file_sha(f->s, "big.db", path, hex2,
	    &size), SB_OK);
	assert_string_equal(hex, hex2);
	assert_int_equal(size, (int64_t)total);
	snprintf(path, sizeof(path), "%s/none-hashed.db", f->tmp);
	assert_int_equal(sb_store_get_file_sha(f->s, "nope.db", path, hex2,
	    &size), SB_ERR_NOTFOUND);
	assert_false(exists(path));

	/* get_file never overwrites: O_EXCL. */
	snprintf(path, sizeof(path), "%s/restored.db", f->tmp);
	assert_int_equal(sb_store_get_file(f->s, "big.db", path), SB_ERR_IO);
	assert_non_null(strstr(sb_store_errmsg(f->s), "File exists"));
	assert_int_equal(sb_sha256_file(path, hex2, NULL, err), SB_OK);
	assert_string_equal(hex, hex2);

	/* A missing object leaves no file behind. */
	snprintf(path, sizeof(path), "%s/none.db", f->tmp);
	assert_int_equal(sb_store_get_file(f->s, "nope.db", path),
	    SB_ERR_NOTFOUND);
	assert_false(exists(path));

	/* A writer that gives up: SB_ERR_IO, no crash, no partial file. */
	w.fail = 1;
	assert_int_equal(sb_store_get(f->s, "big.db", pat_write, &w),
	    SB_ERR_IO);
}

static void
test_meta_api(void **state)
{
	struct sb_meta	m;
	char		big[SB_META_VAL_MAX + 2], key[80];

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_true(sb_is_meta_key("sha256"));
	assert_true(sb_is_meta_key("a_b_9"));
	memset(key, 'k', 64);
	key[64] = '\0';
	assert_true(sb_is_meta_key(key));
	key[64] = 'k';
	key[65] = '\0';
	assert_false(sb_is_meta_key(key));
	assert_false(sb_is_meta_key(""));
	assert_false(sb_is_meta_key(NULL));
	assert_false(sb_is_meta_key("Sha256"));
	assert_false(sb_is_meta_key("a-b"));
	assert_false(sb_is_meta_key("a b"));
	assert_false(sb_is_meta_key("\xc3\xa9t\xc3\xa9"));
	assert_false(sb_is_meta_key("9lives"));	/* Azure: C# identifier */

	assert_int_equal(sb_meta_set(&m, "a", "1"), SB_OK);
	assert_int_equal(sb_meta_set(&m, "b", "2"), SB_OK);
	assert_int_equal(sb_meta_set(&m, "a", "3"), SB_OK);	/* replaces */
	assert_int_equal(m.n, 2);
	assert_string_equal(sb_meta_get(&m, "a"), "3");
	assert_string_equal(sb_meta_get(&m, "b"), "2");
	assert_null(sb_meta_get(&m, "c"));
	assert_int_equal(sb_meta_set(&m, "Bad", "x"), SB_ERR_INVAL);
	assert_int_equal(sb_meta_set(&m, "c", NULL), SB_ERR_INVAL);
	assert_int_equal(sb_meta_set(&m, "c", "\xc3\x28"), SB_ERR_INVAL);
	assert_int_equal(sb_meta_set(&m, "c", "\xed\xa0\x80"), SB_ERR_INVAL);
	memset(big, 'v', SB_META_VAL_MAX);
	big[SB_META_VAL_MAX] = '\0';
	assert_int_equal(sb_meta_set(&m, "c", big), SB_OK);
	big[SB_META_VAL_MAX] = 'v';
	big[SB_META_VAL_MAX + 1] = '\0';
	assert_int_equal(sb_meta_set(&m, "d", big), SB_ERR_INVAL);
	assert_int_equal(m.n, 3);
	/* Up to SB_META_MAX pairs, no more; replacing still works. */
	for (int i = 0; m.n < SB_META_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(sb_meta_set(&m, key, "v"), SB_OK);
	}
	assert_int_equal(sb_meta_set(&m, "one_more", "v"), SB_ERR_INVAL);
	assert_int_equal(sb_meta_set(&m, "a", "4"), SB_OK);
	assert_string_equal(sb_meta_get(&m, "a"), "4");
	assert_int_equal(m.n, SB_META_MAX);
	sb_meta_clear(&m);
	assert_int_equal(m.n, 0);
	assert_null(sb_meta_get(&m, "a"));
	sb_meta_clear(&m);
}

static void
test_meta_roundtrip(void **state)
{
	struct fx		*f = *state;
	struct sb_meta		 m, bad;
	struct sb_object	 o;
	struct sb_object_list	 l;
	const char		*desc = "Sauvegarde de l'\xc3\xa9t\xc3\xa9 \xe2\x80\x94 "
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82 \"quoted\" "
	    "back\\slash/ tab\tnew\nline {\"json\":1}";

	memset(&m, 0, sizeof(m));
	assert_int_equal(sb_meta_set(&m, "description", desc), SB_OK);
	assert_int_equal(sb_meta_set(&m, "sha256", "ab12"), SB_OK);
	assert_int_equal(sb_meta_set(&m, "tags", "nightly,pre-migration"),
	    SB_OK);
	assert_int_equal(sb_meta_set(&m, "empty", ""), SB_OK);
	assert_int_equal(put_str(f->s, "m.db", "data", &m), SB_OK);

	assert_int_equal(sb_store_head(f->s, "m.db", &o), SB_OK);
	assert_string_equal(o.name, "m.db");
	assert_int_equal(o.size, 4);
	assert_true(o.mtime > 0);
	assert_int_equal(o.meta.n, 4);
	assert_string_equal(sb_meta_get(&o.meta, "description"), desc);
	assert_string_equal(sb_meta_get(&o.meta, "sha256"), "ab12");
	assert_string_equal(sb_meta_get(&o.meta, "tags"),
	    "nightly,pre-migration");
	assert_string_equal(sb_meta_get(&o.meta, "empty"), "");
	sb_object_clear(&o);
	assert_null(o.name);

	assert_int_equal(sb_store_list(f->s, "", &l), SB_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(sb_meta_get(&l.v[0].meta, "description"), desc);
	sb_object_list_clear(&l);
	assert_null(l.v);

	/* Overwriting replaces data and metadata together. */
	sb_meta_clear(&m);
	assert_int_equal(sb_meta_set(&m, "sha256", "cd34"), SB_OK);
	assert_int_equal(put_str(f->s, "m.db", "other data", &m), SB_OK);
	assert_int_equal(sb_store_head(f->s, "m.db", &o), SB_OK);
	assert_int_equal(o.size, 10);
	assert_int_equal(o.meta.n, 1);
	assert_string_equal(sb_meta_get(&o.meta, "sha256"), "cd34");
	sb_object_clear(&o);
	expect_content(f->s, "m.db", "other data");
	sb_meta_clear(&m);

	/* A hand-filled map the setters would refuse is refused at put. */
	memset(&bad, 0, sizeof(bad));
	bad.kv[0].key = (char *)"Upper";
	bad.kv[0].val = (char *)"x";
	bad.n = 1;
	assert_int_equal(put_str(f->s, "bad.db", "x", &bad), SB_ERR_INVAL);
	bad.kv[0].key = (char *)"dup";
	bad.kv[1].key = (char *)"dup";
	bad.kv[1].val = (char *)"y";
	bad.n = 2;
	assert_int_equal(put_str(f->s, "bad.db", "x", &bad), SB_ERR_INVAL);
	bad.n = SB_META_MAX + 1;
	assert_int_equal(put_str(f->s, "bad.db", "x", &bad), SB_ERR_INVAL);
	assert_int_equal(sb_store_head(f->s, "bad.db", &o), SB_ERR_NOTFOUND);
}

static void
test_list(void **state)
{
	struct fx		*f = *state;
	struct sb_object_list	 l;
	struct sb_meta		 m;
	const char		*names[] = { "backup-b", "backup-a", "backup-c",
	    "other", "backup-a2", "Backup-upper" };
	char			 path[PATH_MAX];

	memset(&m, 0, sizeof(m));
	assert_int_equal(sb_meta_set(&m, "k", "v"), SB_OK);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(put_str(f->s, names[i], names[i], &m), SB_OK);
	sb_meta_clear(&m);

	/* Things in root that are not objects, and objects without meta. */
	snprintf(path, sizeof(path), "%s/ghost.meta", f->root);
	write_file(path, "{\"meta\":{\"k\":\"v\"}}");
	snprintf(path, sizeof(path), "%s/.hidden", f->root);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/left.tmp", f->root);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/backup-dir", f->root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/backup-bare", f->root);
	write_file(path, "no meta");
	snprintf(path, sizeof(path), "%s/backup-junk", f->root);
	write_file(path, "junk meta");
	snprintf(path, sizeof(path), "%s/backup-junk.meta", f->root);
	write_file(path, "{not json");
	snprintf(path, sizeof(path), "%s/.staging/backup-staged", f->root);
	write_file(path, "in staging");

	assert_int_equal(sb_store_list(f->s, "backup-", &l), SB_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.v[0].name, "backup-a");
	assert_string_equal(l.v[1].name, "backup-a2");
	assert_string_equal(l.v[2].name, "backup-b");
	assert_string_equal(l.v[3].name, "backup-bare");
	assert_string_equal(l.v[4].name, "backup-c");
	assert_string_equal(l.v[5].name, "backup-junk");
	assert_int_equal(l.v[0].size, 8);
	assert_string_equal(sb_meta_get(&l.v[0].meta, "k"), "v");
	assert_int_equal(l.v[3].meta.n, 0);	/* no .meta: empty, no error */
	assert_int_equal(l.v[5].meta.n, 0);	/* bad .meta: empty, no error */
	assert_int_equal(l.v[5].size, 9);
	sb_object_list_clear(&l);

	assert_int_equal(sb_store_list(f->s, "", &l), SB_OK);
	assert_int_equal(l.n, 8);
	assert_string_equal(l.v[0].name, "Backup-upper");	/* strcmp order */
	assert_string_equal(l.v[7].name, "other");
	sb_object_list_clear(&l);

	assert_int_equal(sb_store_list(f->s, NULL, &l), SB_OK);
	assert_int_equal(l.n, 8);
	sb_object_list_clear(&l);

	assert_int_equal(sb_store_list(f->s, "zzz", &l), SB_OK);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	sb_object_list_clear(&l);

	assert_int_equal(sb_store_list(f->s, "ghost", &l), SB_OK);
	assert_int_equal(l.n, 0);
	sb_object_list_clear(&l);

	assert_int_equal(sb_store_list(f->s, "bad\x01", &l), SB_ERR_INVAL);
}

static void
test_head_del(void **state)
{
	struct fx		*f = *state;
	struct sb_object	 o;
	struct sb_meta		 m;
	struct bwr		 w;
	char			 path[PATH_MAX];
	int64_t			 before = sb_now_ms();

	memset(&m, 0, sizeof(m));
	assert_int_equal(sb_meta_set(&m, "k", "v"), SB_OK);
	assert_int_equal(put_str(f->s, "x.db", "12345", &m), SB_OK);
	sb_meta_clear(&m);
	assert_int_equal(sb_store_head(f->s, "x.db", &o), SB_OK);
	assert_int_equal(o.size, 5);
	assert_true(o.mtime >= before - 2000 && o.mtime <= sb_now_ms() + 2000);
	sb_object_clear(&o);

	assert_int_equal(sb_store_del(f->s, "x.db"), SB_OK);
	assert_int_equal(sb_store_head(f->s, "x.db", &o), SB_ERR_NOTFOUND);
	assert_null(o.name);
	assert_non_null(strstr(sb_store_errmsg(f->s), "x.db"));
	snprintf(path, sizeof(path), "%s/x.db.meta", f->root);
	assert_false(exists(path));
	snprintf(path, sizeof(path), "%s/x.db", f->root);
	assert_false(exists(path));
	/* Deleting what is gone is success: a retried prune must not fail. */
	assert_int_equal(sb_store_del(f->s, "x.db"), SB_OK);
	assert_int_equal(sb_store_del(f->s, "never-was"), SB_OK);

	memset(&w, 0, sizeof(w));
	assert_int_equal(sb_store_get(f->s, "x.db", buf_write, &w),
	    SB_ERR_NOTFOUND);
	assert_int_equal(w.len, 0);
	assert_int_equal(sb_store_head(f->s, "missing", &o), SB_ERR_NOTFOUND);

	/* An orphan .meta is removed by del too. */
	snprintf(path, sizeof(path), "%s/orphan.meta", f->root);
	write_file(path, "{}");
	assert_int_equal(sb_store_del(f->s, "orphan"), SB_OK);
	assert_false(exists(path));

	/* NULL arguments are refused, not crashed on. */
	assert_int_equal(sb_store_head(f->s, "x", NULL), SB_ERR_INVAL);
	assert_int_equal(sb_store_get(f->s, "x", NULL, NULL), SB_ERR_INVAL);
	assert_int_equal(sb_store_put_stream(f->s, "x", NULL, NULL, NULL),
	    SB_ERR_INVAL);
	assert_int_equal(sb_store_put_file(f->s, "x", NULL, NULL),
	    SB_ERR_INVAL);
	assert_int_equal(sb_store_list(f->s, "", NULL), SB_ERR_INVAL);
	assert_int_equal(sb_store_del(NULL, "x"), SB_ERR_INVAL);
	assert_int_equal(sb_store_del(f->s, NULL), SB_ERR_INVAL);
}

static void
test_bad_names(void **state)
{
	struct fx	*f = *state;
	char		 long256[257], path[PATH_MAX];
	const char	*bad[] = {
		"", ".", "..", "../x", "../../etc/passwd", "a/b", "/abs",
		"a\\b", "..\\x", ".hidden", ".staging", "x.meta", "x.tmp",
		"\x01", "a\nb", "a\x7f", "tab\tname", "\xc3\x28",
		"\xed\xa0\x80", "\xc0\xaf", long256, "X.META", "y.Tmp",
	};
	struct sb_object o;
	struct bwr	 w;
	struct srd	 r;

	memset(long256, 'a', 256);
	long256[256] = '\0';
	snprintf(path, sizeof(path), "%s/src", f->tmp);
	write_file(path, "data");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *n = bad[i];

		r.s = "data";
		r.off = 0;
		assert_false(sb_is_disk_name(n));
		if (sb_store_put_stream(f->s, n, str_read, &r, NULL) !=
		    SB_ERR_INVAL)
			fail_msg("put_stream accepted bad name #%zu", i);
		if (sb_store_put_file(f->s, n, path, NULL) != SB_ERR_INVAL)
			fail_msg("put_file accepted bad name #%zu", i);
		if (sb_store_get(f->s, n, buf_write, &w) != SB_ERR_INVAL)
			fail_msg("get accepted bad name #%zu", i);
		if (sb_store_head(f->s, n, &o) != SB_ERR_INVAL)
			fail_msg("head accepted bad name #%zu", i);
		if (sb_store_del(f->s, n) != SB_ERR_INVAL)
			fail_msg("del accepted bad name #%zu", i);
	}
	assert_false(sb_is_disk_name(NULL));
	/* The rule both backends share: 1..max bytes, UTF-8, no controls. */
	assert_false(sb_is_store_name(NULL, 10));
	assert_false(sb_is_store_name("", 10));
	assert_true(sb_is_store_name("0123456789", 10));
	assert_false(sb_is_store_name("0123456789a", 10));
	assert_false(sb_is_store_name("a\tb", 10));
	assert_false(sb_is_store_name("a\x7f", 10));
	assert_false(sb_is_store_name("\xff", 10));
	assert_true(sb_is_store_name(".a/b\\c", 10));
	/* SB_NAME_MAX bytes is the limit, not one less; one more is refused
	 * (the disk store adds ".meta" within the system's 255). */
	long256[SB_NAME_MAX] = '\0';
	assert_true(sb_is_disk_name(long256));
	long256[SB_NAME_MAX] = 'a';
	long256[SB_NAME_MAX + 1] = '\0';
	assert_false(sb_is_disk_name(long256));
	/* Nothing was created: not in root, not next to it, not in staging. */
	assert_int_equal(count_entries(f->tmp), 2);	/* store, src */
	assert_true(exists(path));
	assert_int_equal(count_entries(f->root), 1);	/* .staging */
	assert_int_equal(count_entries(sb_store_staging_dir(f->s)), 0);
}

static void
test_odd_names(void **state)
{
	struct fx		*f = *state;
	struct sb_object_list	 l;
	const char		*odd[] = { "with space", "\xe6\x97\xa5\xe6\x9c\xac.db",
	    "100%+a=b", "a..b", "x.meta.db", "x.tmpl", "~!@#$^&()[]{}',;",
	    "-dash", "meta", "\xf0\x9f\x99\x82" };
	size_t			 n = sizeof(odd) / sizeof(odd[0]);

	for (size_t i = 0; i < n; i++) {
		assert_true(sb_is_disk_name(odd[i]));
		if (put_str(f->s, odd[i], odd[i], NULL) != SB_OK)
			fail_msg("put %s: %s", odd[i], sb_store_errmsg(f->s));
		expect_content(f->s, odd[i], odd[i]);
	}
	assert_int_equal(sb_store_list(f->s, "", &l), SB_OK);
	assert_int_equal(l.n, n);
	for (size_t i = 1; i < l.n; i++)
		assert_true(strcmp(l.v[i - 1].name, l.v[i].name) < 0);
	sb_object_list_clear(&l);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sb_store_del(f->s, odd[i]), SB_OK);
	assert_int_equal(count_entries(f->root), 1);
}

static void
test_failing_reader(void **state)
{
	struct fx		*f = *state;
	struct prd		 r = { 0, 5 << 20, 0, 2 << 20 };
	struct sb_object	 o;
	struct sb_meta		 m;

	memset(&m, 0, sizeof(m));
	assert_int_equal(sb_meta_set(&m, "k", "v"), SB_OK);
	assert_int_equal(sb_store_put_stream(f->s, "half.db", pat_read, &r,
	    &m), SB_ERR_STORAGE);
	assert_non_null(strstr(sb_store_errmsg(f->s), "half.db"));
	assert_non_null(strstr(sb_store_errmsg(f->s), f->root));
	assert_int_equal(sb_store_head(f->s, "half.db", &o), SB_ERR_NOTFOUND);
	assert_int_equal(count_entries(f->root), 1);
	assert_int_equal(count_entries(sb_store_staging_dir(f->s)), 0);
	sb_meta_clear(&m);
}

/* Storage that refuses writes: SB_ERR_STORAGE with the errno text. */
static void
test_storage_failure(void **state)
{
	struct fx		*f = *state;
	struct sb_object	 o;
	char			 staging[PATH_MAX];

	snprintf(staging, sizeof(staging), "%s", sb_store_staging_dir(f->s));

	/* A read-only root; root ignores permissions, so only as a user. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->root, 0500), 0);
		assert_int_equal(put_str(f->s, "ro.db", "x", NULL),
		    SB_ERR_STORAGE);
		assert_non_null(strstr(sb_store_errmsg(f->s),
		    "Permission denied"));
		assert_int_equal(chmod(f->root, 0700), 0);
		assert_int_equal(sb_store_head(f->s, "ro.db", &o),
		    SB_ERR_NOTFOUND);
		assert_int_equal(count_entries(staging), 0);
	}

	/* .staging replaced by a regular file: fails for root too. */
	assert_int_equal(rmdir(staging), 0);
	write_file(staging, "not a directory");
	assert_int_equal(put_str(f->s, "nf.db", "x", NULL), SB_ERR_STORAGE);
	assert_non_null(strstr(sb_store_errmsg(f->s), "Not a directory"));
	assert_non_null(strstr(sb_store_errmsg(f->s), "nf.db"));
	assert_int_equal(sb_store_head(f->s, "nf.db", &o), SB_ERR_NOTFOUND);
	assert_int_equal(count_entries(f->root), 1);

	/* .staging a dangling symlink. */
	assert_int_equal(unlink(staging), 0);
	assert_int_equal(symlink("/nonexistent/sb-staging", staging), 0);
	assert_int_equal(put_str(f->s, "dl.db", "x", NULL), SB_ERR_STORAGE);
	assert_non_null(strstr(sb_store_errmsg(f->s),
	    "No such file or directory"));
	assert_int_equal(sb_store_head(f->s, "dl.db", &o), SB_ERR_NOTFOUND);
	assert_int_equal(count_entries(f->root), 1);
	assert_int_equal(unlink(staging), 0);
	assert_int_equal(mkdir(staging, 0700), 0);
	assert_int_equal(put_str(f->s, "ok.db", "x", NULL), SB_OK);
}

/* put_file from .staging is a rename: the source is consumed. */
static void
test_put_file_rename(void **state)
{
	struct fx		*f = *state;
	struct sb_object	 o;
	struct sb_meta		 m;
	struct stat		 st1, st2;
	char			 src[PATH_MAX], dst[PATH_MAX];

	snprintf(src, sizeof(src), "%s/snap.db", sb_store_staging_dir(f->s));
	write_file(src, "snapshot bytes");
	assert_int_equal(stat(src, &st1), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(sb_meta_set(&m, "sha256", "ff"), SB_OK);
	assert_int_equal(sb_store_put_file(f->s, "snap-1.db", src, &m), SB_OK);
	sb_meta_clear(&m);
	assert_false(exists(src));
	snprintf(dst, sizeof(dst), "%s/snap-1.db", f->root);
	assert_int_equal(stat(dst, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);	/* renamed, not copied */
	expect_content(f->s, "snap-1.db", "snapshot bytes");
	assert_int_equal(sb_store_head(f->s, "snap-1.db", &o), SB_OK);
	assert_string_equal(sb_meta_get(&o.meta, "sha256"), "ff");
	sb_object_clear(&o);
	assert_int_equal(count_entries(sb_store_staging_dir(f->s)), 0);

	/* A symlink or a hard-linked file is copied, not moved. */
	{
		char other[PATH_MAX], sl[PATH_MAX];

		snprintf(src, sizeof(src), "%s/hl.db", f->tmp);
		snprintf(other, sizeof(other), "%s/hl-other.db", f->tmp);
		snprintf(sl, sizeof(sl), "%s/sl.db", f->tmp);
		write_file(src, "linked bytes");
		assert_int_equal(link(src, other), 0);
		assert_int_equal(symlink(src, sl), 0);
		assert_int_equal(sb_store_put_file(f->s, "hl.db", src, NULL),
		    SB_OK);
		assert_int_equal(sb_store_put_file(f->s, "sl.db", sl, NULL),
		    SB_OK);
		assert_true(exists(src));
		assert_true(exists(sl));
		snprintf(dst, sizeof(dst), "%s/sl.db", f->root);
		assert_int_equal(lstat(dst, &st2), 0);
		assert_true(S_ISREG(st2.st_mode));
		assert_int_equal(st2.st_nlink, 1);
		snprintf(dst, sizeof(dst), "%s/hl.db", f->root);
		assert_int_equal(stat(dst, &st2), 0);
		assert_int_equal(st2.st_nlink, 1);
		/* Writing through the other name does not touch the backup. */
		write_file(other, "changed");
		expect_content(f->s, "hl.db", "linked bytes");
		expect_content(f->s, "sl.db", "linked bytes");
		snprintf(src, sizeof(src), "%s/snap.db",
		    sb_store_staging_dir(f->s));
	}

	/* A missing source: an error, and no object. */
	assert_int_equal(sb_store_put_file(f->s, "snap-2.db", src, NULL),
	    SB_ERR_IO);
	assert_int_equal(sb_store_head(f->s, "snap-2.db", &o), SB_ERR_NOTFOUND);
	/* A directory is not a file to store. */
	assert_int_equal(sb_store_put_file(f->s, "snap-2.db", f->tmp, NULL),
	    SB_ERR_IO);
	assert_int_equal(sb_store_head(f->s, "snap-2.db", &o), SB_ERR_NOTFOUND);
}

/* From another file system rename(2) gives EXDEV: we copy instead. */
static void
test_put_file_exdev(void **state)
{
	struct fx	*f = *state;
	struct stat	 a, b;
	char		 dir[] = "/dev/shm/sb-test-store.XXXXXX", src[64];

	if (stat("/dev/shm", &a) == -1 || stat(f->root, &b) == -1 ||
	    a.st_dev == b.st_dev || mkdtemp(dir) == NULL) {
		skip();
		return;
	}
	snprintf(src, sizeof(src), "%s/snap.db", dir);
	write_file(src, "far away bytes");
	assert_int_equal(sb_store_put_file(f->s, "far.db", src, NULL), SB_OK);
	expect_content(f->s, "far.db", "far away bytes");
	/* Copied: the caller still owns (and removes) its file. */
	assert_true(exists(src));
	assert_int_equal(count_entries(sb_store_staging_dir(f->s)), 0);
	unlink(src);
	rmdir(dir);
}

/* With no put_file in the ops, the generic layer streams the file. */
static void
test_put_file_generic(void **state)
{
	struct fx		*f = *state;
	struct sb_store_ops	 ops = *f->s->ops;
	const struct sb_store_ops *saved = f->s->ops;
	char			 src[PATH_MAX];
	int			 rc;

	ops.put_file = NULL;
	f->s->ops = &ops;
	snprintf(src, sizeof(src), "%s/gen.db", f->tmp);
	write_file(src, "generic path");
	rc = sb_store_put_file(f->s, "gen.db", src, NULL);
	f->s->ops = saved;
	assert_int_equal(rc, SB_OK);
	expect_content(f->s, "gen.db", "generic path");
	assert_true(exists(src));

	f->s->ops = &ops;
	snprintf(src, sizeof(src), "%s/missing.db", f->tmp);
	rc = sb_store_put_file(f->s, "gen2.db", src, NULL);
	f->s->ops = saved;
	assert_int_equal(rc, SB_ERR_IO);
	assert_non_null(strstr(sb_store_errmsg(f->s), "missing.db"));
}

/* Temps a killed put left behind are swept at open once a day old. */
static void
test_staging_sweep(void **state)
{
	struct fx	*f = *state;
	struct timespec	 old[2];
	char		 err[SB_ERRMSG_MAX];
	char		 stale_d[PATH_MAX], stale_m[PATH_MAX], fresh[PATH_MAX];
	char		 snap[PATH_MAX];
	const char	*st = sb_store_staging_dir(f->s);

	snprintf(stale_d, sizeof(stale_d), "%s/data-AbC123", st);
	snprintf(stale_m, sizeof(stale_m), "%s/meta-xYz789", st);
	snprintf(fresh, sizeof(fresh), "%s/data-QwErTy", st);
	snprintf(snap, sizeof(snap), "%s/snapshot.db", st);
	write_file(stale_d, "x");
	write_file(stale_m, "x");
	write_file(fresh, "x");
	write_file(snap, "x");
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 25 * 3600;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, stale_d, old, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, stale_m, old, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, snap, old, 0), 0);
	sb_store_free(&f->s);
	assert_int_equal(sb_store_disk_open(&f->s, f->root, err), SB_OK);
	assert_false(exists(stale_d));
	assert_false(exists(stale_m));
	assert_true(exists(fresh));	/* may be a put in progress */
	assert_true(exists(snap));	/* not ours */
}

/* --- the store marker ----------------------------------------------------- */

#define UUID_A	"0b6f8f0e-6a4c-4c39-9f0e-2a1d3c4b5a69"

static void
test_marker_parse(void **state)
{
	struct sb_store_marker	 m, m2;
	char			 err[SB_ERRMSG_MAX] = "", *txt = NULL;
	const char		*ok = "{\"format\":1,\"service\":\"app.db\","
	    "\"prefix\":\"svc/a/\",\"store_id\":\"" UUID_A "\","
	    "\"created_at\":1764547200000}";
	static const char *const bad[] = {
		"",
		"[]",
		"not json",
		"{\"format\":2,\"service\":\"a\",\"prefix\":\"\",\"store_id\":\""
		    UUID_A "\",\"created_at\":1}",
		"{\"format\":1,\"prefix\":\"\",\"store_id\":\"" UUID_A
		    "\",\"created_at\":1}",
		"{\"format\":1,\"service\":\"a b\",\"prefix\":\"\",\"store_id\""
		    ":\"" UUID_A "\",\"created_at\":1}",
		"{\"format\":1,\"service\":\"a\",\"prefix\":\"x\",\"store_id\":"
		    "\"" UUID_A "\",\"created_at\":1}",	/* not normalised */
		"{\"format\":1,\"service\":\"a\",\"prefix\":\"../\",\"store_id\""
		    ":\"" UUID_A "\",\"created_at\":1}",
		"{\"format\":1,\"service\":\"a\",\"prefix\":\"\",\"store_id\":"
		    "\"nope\",\"created_at\":1}",
		"{\"format\":1,\"service\":\"a\",\"prefix\":\"\",\"store_id\":"
		    "\"" UUID_A "\",\"created_at\":-1}",
		"{\"format\":1,\"service\":\"a\",\"prefix\":\"\",\"store_id\":"
		    "\"" UUID_A "\",\"created_at\":1} trailing",
		"{\"format\":\"1\",\"service\":\"a\",\"prefix\":\"\",\"store_id\""
		    ":\"" UUID_A "\",\"created_at\":1}",
	};
	enum sb_type		 t;
	int64_t			 ms;
	char			 id[SB_UUID_LEN + 1];

	(void)state;
	assert_int_equal(sb_marker_parse(ok, strlen(ok), &m, err), SB_OK);
	assert_int_equal(m.format, 1);
	assert_string_equal(m.service, "app.db");
	assert_string_equal(m.prefix, "svc/a/");
	assert_string_equal(m.store_id, UUID_A);
	assert_int_equal(m.created_at, 1764547200000LL);
	/* format -> parse gives the same marker back. */
	assert_int_equal(sb_marker_format(&m, &txt), SB_OK);
	assert_int_equal(sb_marker_parse(txt, strlen(txt), &m2, err), SB_OK);
	assert_memory_equal(&m, &m2, sizeof(m));
	free(txt);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (sb_marker_parse(bad[i], strlen(bad[i]), &m, err) == SB_OK)
			fail_msg("accepted marker %zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
		assert_string_equal(m.store_id, "");
	}
	/* The marker's name is never taken for a backup's. */
	assert_int_not_equal(sb_name_parse(SB_MARKER_NAME, &t, &ms, id), SB_OK);
}

static void
test_prefix_normalise(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "", "" }, { "a", "a/" }, { "a/", "a/" },
		{ "svc-1/db.2_x", "svc-1/db.2_x/" }, { "a/b/c/", "a/b/c/" },
	};
	static const char *const bad[] = {
		"/", "/a", "a//b", "a//", "..", "a/../b", "./a", "a/.hidden",
		"A", "a b", "a\\b", "a/%", "é",
	};
	char		 out[SB_PREFIX_MAX + 1], longp[SB_PREFIX_MAX + 8];
	const char	*why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(sb_prefix_normalise(good[i].in, out,
		    sizeof(out), &why), SB_OK);
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (sb_prefix_normalise(bad[i], out, sizeof(out), &why) ==
		    SB_OK)
			fail_msg("accepted prefix '%s'", bad[i]);
		assert_non_null(why);
	}
	/* 127 bytes + '/' fit; 128 + '/' do not. */
	memset(longp, 'a', sizeof(longp));
	longp[SB_PREFIX_MAX - 1] = '\0';
	assert_int_equal(sb_prefix_normalise(longp, out, sizeof(out), &why),
	    SB_OK);
	assert_int_equal(strlen(out), SB_PREFIX_MAX);
	longp[SB_PREFIX_MAX - 1] = 'a';
	longp[SB_PREFIX_MAX] = '\0';
	assert_int_equal(sb_prefix_normalise(longp, out, sizeof(out), &why),
	    SB_ERR_INVAL);
	/* Service names. */
	assert_true(sb_is_service("app.db"));
	assert_true(sb_is_service("My_Service-2"));
	assert_false(sb_is_service(""));
	assert_false(sb_is_service("a/b"));
	assert_false(sb_is_service("a b"));
}

/* A disk config on <tmp>/<dir> with a service and a prefix. */
static void
disk_cfg(struct sb_config *cfg, char *root, size_t len, const char *tmp,
    const char *dir, const char *service, const char *prefix)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(root, len, "%s/%s", tmp, dir);
	cfg->store_kind = SB_STORE_DISK;
	cfg->disk_root = root;
	cfg->store_service = (char *)service;
	cfg->store_prefix = (char *)prefix;
}

static void
test_put_new(void **state)
{
	struct fx	*f = *state;
	int		 existed = -1;

	assert_int_equal(sb_store_put_new(f->s, "once", "first", 5, &existed),
	    SB_OK);
	assert_int_equal(existed, 0);
	assert_int_equal(sb_store_put_new(f->s, "once", "second", 6,
	    &existed), SB_OK);
	assert_int_equal(existed, 1);
	expect_content(f->s, "once", "first");
	/* Nothing left in .staging by either. */
	{
		char	st[PATH_MAX];

		snprintf(st, sizeof(st), "%s/.staging", f->root);
		assert_int_equal(count_entries(st), 0);
	}
}

static void
test_identify_init(void **state)
{
	struct fx		*f = *state;
	struct sb_config	 cfg, other;
	struct sb_store		*s = NULL, *s2 = NULL;
	struct sb_store_marker	 m, m2;
	char			 root[256], root2[256], path[PATH_MAX];
	char			 err[SB_ERRMSG_MAX] = "";
	int			 created = -1;

	disk_cfg(&cfg, root, sizeof(root), f->tmp, "mnt/backups", "app.db",
	    "");
	assert_int_equal(sb_store_open(&s, &cfg, err), SB_OK);
	/* Not mounted: the root is missing, identify says so, creates nothing. */
	assert_int_equal(sb_store_identify(s, &cfg, NULL, &m, err),
	    SB_ERR_IDENTITY);
	assert_non_null(strstr(err, "not initialised"));
	assert_non_null(strstr(err, "backup-cron init"));
	assert_non_null(strstr(err, root));
	snprintf(path, sizeof(path), "%s/mnt", f->tmp);
	assert_false(exists(path));
	/* init creates the root and the marker, once. */
	assert_int_equal(sb_store_init(s, &cfg, &m, &created, err), SB_OK);
	assert_int_equal(created, 1);
	assert_true(sb_is_uuid(m.store_id));
	assert_string_equal(m.service, "app.db");
	snprintf(path, sizeof(path), "%s/%s", root, SB_MARKER_NAME);
	assert_true(exists(path));
	assert_int_equal(sb_store_init(s, &cfg, &m2, &created, err), SB_OK);
	assert_int_equal(created, 0);
	assert_string_equal(m2.store_id, m.store_id);
	assert_int_equal(sb_store_identify(s, &cfg, NULL, &m2, err), SB_OK);
	assert_string_equal(m2.store_id, m.store_id);
	assert_int_equal(sb_store_identify(s, &cfg, m.store_id, NULL, err),
	    SB_OK);
	/* Another store id than the catalog remembers. */
	assert_int_equal(sb_store_identify(s, &cfg, UUID_A, NULL, err),
	    SB_ERR_IDENTITY);
	assert_non_null(strstr(err, UUID_A));
	/* Another service on the same store and prefix: refused both ways. */
	disk_cfg(&other, root2, sizeof(root2), f->tmp, "mnt/backups", "blog.db",
	    "");
	assert_int_equal(sb_store_open(&s2, &other, err), SB_OK);
	assert_int_equal(sb_store_identify(s2, &other, NULL, NULL, err),
	    SB_ERR_IDENTITY);
	assert_non_null(strstr(err, "app.db"));
	assert_int_equal(sb_store_init(s2, &other, &m2, &created, err),
	    SB_ERR_IDENTITY);
	assert_int_equal(created, 0);
	sb_store_free(&s2);
	/* A marker that is not one. */
	write_file(path, "{\"format\":1}");
	assert_int_equal(sb_store_identify(s, &cfg, NULL, NULL, err),
	    SB_ERR_IDENTITY);
	assert_non_null(strstr(err, "not a safbackup store marker"));
	sb_store_free(&s);
}

/* Two prefixes in one directory, and the layout without one, apart. */
static void
test_prefix_disk(void **state)
{
	struct fx		*f = *state;
	struct sb_config	 ca, cb, c0;
	struct sb_store		*a = NULL, *b = NULL, *z = NULL;
	struct sb_store_marker	 m;
	struct sb_object_list	 l;
	struct sb_object	 o;
	char			 ra[256], rb[256], r0[256];
	char			 path[PATH_MAX], err[SB_ERRMSG_MAX] = "";
	int			 created;

	disk_cfg(&ca, ra, sizeof(ra), f->tmp, "shared", "a.db", "svc-a/");
	disk_cfg(&cb, rb, sizeof(rb), f->tmp, "shared", "b.db", "team/svc-b/");
	disk_cfg(&c0, r0, sizeof(r0), f->tmp, "shared", "z.db", "");
	assert_int_equal(sb_store_open(&a, &ca, err), SB_OK);
	assert_int_equal(sb_store_open(&b, &cb, err), SB_OK);
	assert_int_equal(sb_store_open(&z, &c0, err), SB_OK);
	assert_int_equal(sb_store_init(a, &ca, &m, &created, err), SB_OK);
	assert_string_equal(m.prefix, "svc-a/");
	assert_int_equal(sb_store_init(b, &cb, &m, &created, err), SB_OK);
	assert_int_equal(sb_store_init(z, &c0, &m, &created, err), SB_OK);
	assert_int_equal(put_str(a, "backup-x", "A", NULL), SB_OK);
	assert_int_equal(put_str(b, "backup-x", "B", NULL), SB_OK);
	assert_int_equal(put_str(z, "backup-x", "Z", NULL), SB_OK);
	/* The prefix is a subdirectory of the root. */
	snprintf(path, sizeof(path), "%s/svc-a/backup-x", ra);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s/team/svc-b/backup-x", ra);
	assert_true(exists(path));
	expect_content(a, "backup-x", "A");
	expect_content(b, "backup-x", "B");
	expect_content(z, "backup-x", "Z");
	/* Each lists its own objects only, by names without the prefix. */
	assert_int_equal(sb_store_list(a, "", &l), SB_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "backup-x");
	assert_string_equal(l.v[1].name, SB_MARKER_NAME);
	sb_object_list_clear(&l);
	assert_int_equal(sb_store_list(z, "backup-", &l), SB_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].size, 1);
	sb_object_list_clear(&l);
	assert_int_equal(sb_store_head(b, "backup-x", &o), SB_OK);
	assert_string_equal(o.name, "backup-x");
	sb_object_clear(&o);
	/* A prefix's store cannot reach another's objects by name. */
	assert_int_equal(sb_store_head(a, "svc-b", &o), SB_ERR_NOTFOUND);
	assert_int_not_equal(sb_store_get(z, "svc-a/backup-x", buf_write,
	    &(struct bwr){ 0 }), SB_OK);
	assert_int_equal(sb_store_del(a, "backup-x"), SB_OK);
	expect_content(b, "backup-x", "B");
	expect_content(z, "backup-x", "Z");
	/* Each marker names its own prefix; the other's config is refused. */
	assert_int_equal(sb_store_identify(a, &cb, NULL, NULL, err),
	    SB_ERR_IDENTITY);
	sb_store_free(&a);
	sb_store_free(&b);
	sb_store_free(&z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_layout, setup,
		    teardown),
		cmocka_unit_test(test_marker_parse),
		cmocka_unit_test(test_prefix_normalise),
		cmocka_unit_test_setup_teardown(test_put_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_init, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prefix_disk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_stream, setup,
		    teardown),
		cmocka_unit_test(test_meta_api),
		cmocka_unit_test_setup_teardown(test_meta_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_del, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_odd_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failing_reader, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_file_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_file_exdev, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_file_generic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_staging_sweep, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
