/*
 * test_codec.c - the codec (codec.h, docs/FORMAT.md): every combination
 * of compression and encryption round trips under any split of its input;
 * a flipped byte, a truncation, trailing bytes, a header for another
 * codec are refused; a wrong or missing key is SB_ERR_KEY; a rotated ring
 * still reads old objects; sealed metadata; the keyring text and the
 * [store] configuration keys.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "codec.h"
#include "config.h"

/* Fixed test keys: bytes 0..31, 32..63 and 64..95, in key file lines. */
#define KEY_OLD	"old AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_NEW	"new-2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define KEY_OLD_OTHER "old QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="

/* A growable buffer, the writer of every test. */
struct buf {
	unsigned char	*p;
	size_t		 n;
	size_t		 cap;
};

static int
buf_write(void *arg, const void *data, size_t len)
{
	struct buf	*b = arg;

	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	return 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Text-like plaintext (compressible, not constant): n bytes. */
static unsigned char *
plaintext(size_t n)
{
	static const char *const words[] = { "backup ", "sqlite ", "page ",
	    "restore ", "index ", "the ", "of ", "order-", "user\n" };
	unsigned char	*p = malloc(n + 1);
	uint32_t	 x = 12345;
	size_t		 i = 0, w;

	assert_non_null(p);
	while (i < n) {
		x = x * 1103515245u + 12345u;
		w = strlen(words[(x >> 16) % 9]);
		if (w > n - i)
			w = n - i;
		memcpy(p + i, words[(x >> 16) % 9], w);
		i += w;
		if (i < n && (x & 0x100))
			p[i++] = (unsigned char)('0' + (x >> 24) % 10);
	}
	return p;
}

static void
sha_hex(const unsigned char *p, size_t n, char out[SB_SHA256_HEX + 1])
{
	unsigned char	md[32];
	unsigned int	mdlen;

	assert_int_equal(EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL), 1);
	sb_hex(md, mdlen, out);
}

static struct sb_keyring *
ring_of(const char *text, const char *active)
{
	struct sb_keyring	*r = NULL;
	char			 err[SB_ERRMSG_MAX];

	assert_int_equal(sb_keyring_parse(text, active, &r, err), SB_OK);
	return r;
}

static struct sb_codec
codec_of(enum sb_comp comp, enum sb_enc enc, const char *id)
{
	struct sb_codec	c;

	memset(&c, 0, sizeof(c));
	c.comp = comp;
	c.level = 3;
	c.enc = enc;
	if (enc != SB_ENC_NONE)
		snprintf(c.key_id, sizeof(c.key_id), "%s", id);
	return c;
}

/* Encode n bytes of p, written in pieces of split bytes, into out. */
static void
encode(const struct sb_codec *c, const struct sb_keyring *r,
    const unsigned char *p, size_t n, size_t split, struct buf *out)
{
	struct sb_encoder	*e = NULL;
	char			 err[SB_ERRMSG_MAX];
	int64_t			 stored = -1;

	memset(out, 0, sizeof(*out));
	assert_int_equal(sb_encoder_new(c, r, buf_write, out, &e, err), SB_OK);
	for (size_t i = 0; i < n; i += split)
		assert_int_equal(sb_encoder_write(e, p + i,
		    n - i < split ? n - i : split), SB_OK);
	assert_int_equal(sb_encoder_finish(e, &stored), SB_OK);
	assert_int_equal(stored, (int64_t)out->n);
	assert_int_not_equal(sb_encoder_write(e, "x", 1), SB_OK);
	sb_encoder_free(&e);
	assert_null(e);
}

/*
 * Decode n stored bytes in pieces of split bytes; the first error
 * (write or finish) is returned, the plaintext given out is in out.
 */
static enum sb_err
decode(const struct sb_codec *want, const struct sb_keyring *r,
    const unsigned char *p, size_t n, size_t split, struct buf *out,
    char sha[SB_SHA256_HEX + 1], int64_t *size)
{
	struct sb_decoder	*d = NULL;
	char			 err[SB_ERRMSG_MAX];
	enum sb_err		 rc = SB_OK;

	memset(out, 0, sizeof(*out));
	assert_int_equal(sb_decoder_new(r, want, buf_write, out, &d, err),
	    SB_OK);
	for (size_t i = 0; i < n && rc == SB_OK; i += split)
		rc = sb_decoder_write(d, p + i, n - i < split ? n - i : split);
	if (rc == SB_OK)
		rc = sb_decoder_finish(d, sha, size);
	if (rc != SB_OK)
		assert_true(sb_decoder_errmsg(d)[0] != '\0');
	sb_decoder_free(&d);
	return rc;
}

static const enum sb_comp comps[4] = { SB_COMP_NONE, SB_COMP_ZSTD,
    SB_COMP_NONE, SB_COMP_ZSTD };
static const enum sb_enc encs[4] = { SB_ENC_NONE, SB_ENC_NONE,
    SB_ENC_XCHACHA, SB_ENC_XCHACHA };

static void
test_names(void **state)
{
	struct sb_codec	c;
	enum sb_comp	comp;
	enum sb_enc	enc;

	(void)state;
	for (int i = 0; i < 4; i++) {
		c = codec_of(comps[i], encs[i], "k");
		assert_int_equal(sb_codec_from_name(sb_codec_ext(&c), &c),
		    SB_OK);
		assert_int_equal(c.comp, comps[i]);
		assert_int_equal(c.enc, encs[i]);
		assert_int_equal(sb_is_codec_plain(&c), i == 0);
	}
	assert_string_equal(sb_codec_ext(&(struct sb_codec){ SB_COMP_ZSTD, 3,
	    SB_ENC_XCHACHA, "k" }), ".db.zst.enc");
	assert_int_equal(sb_codec_from_name("backup-20261202T070000000Z-"
	    "manual-0b0e4c6e-8a4b-4c55-9d1e-3f1f5e7a9b10.db.zst", &c), SB_OK);
	assert_int_equal(c.comp, SB_COMP_ZSTD);
	assert_int_equal(c.enc, SB_ENC_NONE);
	assert_int_equal(sb_codec_from_name("x.db.enc", &c), SB_OK);
	assert_int_equal(c.enc, SB_ENC_XCHACHA);
	assert_int_equal(c.comp, SB_COMP_NONE);
	assert_int_equal(sb_codec_from_name("x.db.gz", &c), SB_ERR_INVAL);
	assert_int_equal(sb_codec_from_name("x.zst", &c), SB_ERR_INVAL);
	assert_int_equal(sb_comp_parse("zstd", &comp), SB_OK);
	assert_int_equal(comp, SB_COMP_ZSTD);
	assert_int_equal(sb_comp_parse("gzip", &comp), SB_ERR_INVAL);
	assert_int_equal(sb_enc_parse("xchacha20poly1305", &enc), SB_OK);
	assert_int_equal(enc, SB_ENC_XCHACHA);
	assert_int_equal(sb_enc_parse("aes", &enc), SB_ERR_INVAL);
	assert_string_equal(sb_enc_str(SB_ENC_NONE), "none");
	assert_true(sb_is_key_id("key-2026.12_a"));
	assert_false(sb_is_key_id(""));
	assert_false(sb_is_key_id("a b"));
	assert_false(sb_is_key_id("k/1"));
	assert_false(sb_is_key_id("0123456789abcdef0123456789abcdefX"));
	assert_true(sb_is_key_id("0123456789abcdef0123456789abcdef"));
}

/* Every combination, sizes around the chunk size, many splits. */
static void
test_round_trip(void **state)
{
	static const size_t	 sizes[] = { 0, 1, 1000, SB_CODEC_CHUNK,
	    SB_CODEC_CHUNK + 1, 3 * SB_CODEC_CHUNK + 777, 1200000 };
	static const size_t	 splits[] = { 1, 7, 4096, 65557, SIZE_MAX };
	struct sb_keyring	*r = ring_of(KEY_OLD "\n" KEY_NEW "\n", NULL);
	unsigned char		*p = plaintext(1200000);
	struct buf		 st, pt;
	struct sb_codec		 c, got;
	char			 sha[SB_SHA256_HEX + 1], want[SB_SHA256_HEX + 1];
	int64_t			 size;

	(void)state;
	for (int i = 0; i < 4; i++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			c = codec_of(comps[i], encs[i], "new-2");
			encode(&c, r, p, sizes[s], s % 2 ? 1000 : SIZE_MAX,
			    &st);
			if (i == 0)
				assert_int_equal(st.n, sizes[s]);
			if (comps[i] == SB_COMP_ZSTD && sizes[s] > 10000)
				assert_true(st.n < sizes[s] / 2);
			if (encs[i] != SB_ENC_NONE && sizes[s] > 100)
				assert_null(memmem(st.p, st.n, p, 24));
			sha_hex(p, sizes[s], want);
			for (size_t k = 0; k < sizeof(splits) /
			    sizeof(splits[0]); k++) {
				/* Byte by byte only where it stays quick. */
				if (splits[k] == 1 && sizes[s] > 70000)
					continue;
				assert_int_equal(decode(&c, r, st.p, st.n,
				    splits[k], &pt, sha, &size), SB_OK);
				assert_int_equal(size, (int64_t)sizes[s]);
				assert_int_equal(pt.n, sizes[s]);
				assert_true(sizes[s] == 0 ||
				    memcmp(pt.p, p, sizes[s]) == 0);
				assert_string_equal(sha, want);
				buf_free(&pt);
			}
			buf_free(&st);
		}
	/* The decoder tells what the header says, key id included. */
	c = codec_of(SB_COMP_ZSTD, SB_ENC_XCHACHA, "old");
	encode(&c, r, p, 10, SIZE_MAX, &st);
	{
		struct sb_decoder	*d = NULL;
		char			 err[SB_ERRMSG_MAX];

		assert_int_equal(sb_decoder_new(r, &c, buf_write, &pt, &d, err),
		    SB_OK);
		memset(&pt, 0, sizeof(pt));
		assert_int_equal(sb_decoder_codec(d, &got), SB_ERR_INVAL);
		assert_int_equal(sb_decoder_write(d, st.p, st.n), SB_OK);
		assert_int_equal(sb_decoder_codec(d, &got), SB_OK);
		assert_string_equal(got.key_id, "old");
		assert_int_equal(got.comp, SB_COMP_ZSTD);
		assert_int_equal(sb_decoder_finish(d, NULL, NULL), SB_OK);
		sb_decoder_free(&d);
		buf_free(&pt);
	}
	buf_free(&st);
	free(p);
	sb_keyring_free(&r);
	assert_null(r);
}

/*
 * Flip each byte of the header and many of the body: an encrypted object
 * is refused, having given out nothing but a prefix of the true
 * plaintext (nothing unauthenticated); a compressed-only one is refused
 * or, where a bit of zstd's frame header does not change the content,
 * decodes to the same plaintext (it is not authenticated: FORMAT.md).
 */
static void
test_flip(void **state)
{
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	size_t			 n = 2 * SB_CODEC_CHUNK + 5000, same = 0, tried;
	unsigned char		*p = plaintext(n);
	struct buf		 st, pt;
	struct sb_codec		 c;
	enum sb_err		 rc;

	(void)state;
	for (int i = 1; i < 4; i++) {
		c = codec_of(comps[i], encs[i], "old");
		encode(&c, r, p, n, SIZE_MAX, &st);
		tried = 0;
		for (size_t at = 0; at < st.n; at += at < 200 ? 1 :
		    st.n / 400 + 1) {
			st.p[at] ^= 0x20;
			rc = decode(&c, r, st.p, st.n, 8192, &pt, NULL, NULL);
			st.p[at] ^= 0x20;
			tried++;
			if (encs[i] != SB_ENC_NONE) {
				assert_true(rc == SB_ERR_CORRUPT ||
				    rc == SB_ERR_KEY);
				assert_true(pt.n <= n && (pt.n == 0 ||
				    memcmp(pt.p, p, pt.n) == 0));
			} else if (rc == SB_OK) {
				assert_int_equal(pt.n, n);
				assert_memory_equal(pt.p, p, n);
				same++;
			}
			buf_free(&pt);
		}
		/* The last byte: the final tag, or zstd's checksum. */
		st.p[st.n - 1] ^= 1;
		assert_int_equal(decode(&c, r, st.p, st.n, SIZE_MAX, &pt, NULL,
		    NULL), SB_ERR_CORRUPT);
		buf_free(&pt);
		assert_true(tried > 400);
		buf_free(&st);
	}
	assert_true(same < 3);
	free(p);
	sb_keyring_free(&r);
}

/* Cut anywhere, message boundaries included: refused at finish. */
static void
test_truncate(void **state)
{
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	size_t			 n = 3 * SB_CODEC_CHUNK, cuts[10], head;
	unsigned char		*p = plaintext(n);
	struct buf		 st, pt;
	struct sb_codec		 c;

	(void)state;
	for (int i = 1; i < 4; i++) {
		c = codec_of(comps[i], encs[i], "old");
		encode(&c, r, p, n, SIZE_MAX, &st);
		head = 8 + 16 + (encs[i] != SB_ENC_NONE ? 3 + 16 + 24 : 0);
		cuts[0] = 0;
		cuts[1] = 3;
		cuts[2] = 8;
		cuts[3] = head - 1;
		cuts[4] = head;
		cuts[5] = head + 2;
		/* Just after the first whole message (or a zstd block). */
		cuts[6] = encs[i] != SB_ENC_NONE && comps[i] == SB_COMP_NONE ?
		    head + 4 + SB_CODEC_CHUNK + 17 : head + 100;
		cuts[7] = st.n / 2;
		cuts[8] = st.n - 17;
		cuts[9] = st.n - 1;
		for (int k = 0; k < 10; k++) {
			assert_true(cuts[k] < st.n);
			assert_int_equal(decode(&c, r, st.p, cuts[k], 5000, &pt,
			    NULL, NULL), SB_ERR_CORRUPT);
			buf_free(&pt);
		}
		/* Trailing bytes: one, or a second copy of the object. */
		st.p = realloc(st.p, 2 * st.n);
		assert_non_null(st.p);
		memcpy(st.p + st.n, st.p, st.n);
		assert_int_equal(decode(&c, r, st.p, st.n + 1, SIZE_MAX, &pt,
		    NULL, NULL), SB_ERR_CORRUPT);
		buf_free(&pt);
		assert_int_equal(decode(&c, r, st.p, 2 * st.n, 4096, &pt, NULL,
		    NULL), SB_ERR_CORRUPT);
		buf_free(&pt);
		buf_free(&st);
	}
	free(p);
	sb_keyring_free(&r);
}

/*
 * Memory stays bounded: a zstd frame that asks for a window over 2 MiB
 * (here 8 MiB, as `zstd --long=23` would write) is refused, not served,
 * and so is a header whose chunk size is over 1 MiB.
 */
static void
test_bounds(void **state)
{
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	unsigned char		*p = plaintext(100000), big[200000];
	struct buf		 st, pt, obj;
	struct sb_codec		 c = codec_of(SB_COMP_ZSTD, SB_ENC_NONE, "");
	ZSTD_CCtx		*z = ZSTD_createCCtx();
	ZSTD_inBuffer		 in = { p, 100000, 0 };
	ZSTD_outBuffer		 out = { big, sizeof(big), 0 };

	(void)state;
	encode(&c, r, p, 100, SIZE_MAX, &st);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog,
	    23)));
	/* Input first, end after: zstd cannot shrink the window to fit. */
	assert_false(ZSTD_isError(ZSTD_compressStream2(z, &out, &in,
	    ZSTD_e_continue)));
	in.size = in.pos = 0;
	assert_int_equal(ZSTD_compressStream2(z, &out, &in, ZSTD_e_end), 0);
	assert_true(ZSTD_getFrameContentSize(big, out.pos) ==
	    ZSTD_CONTENTSIZE_UNKNOWN);
	ZSTD_freeCCtx(z);
	memset(&obj, 0, sizeof(obj));
	buf_write(&obj, st.p, 24);	/* our header, then the wide frame */
	buf_write(&obj, big, out.pos);
	assert_int_equal(decode(&c, r, obj.p, obj.n, SIZE_MAX, &pt, NULL,
	    NULL), SB_ERR_CORRUPT);
	assert_int_equal(pt.n, 0);
	buf_free(&pt);
	buf_free(&obj);
	buf_free(&st);
	/* Chunk size 2 MiB in an encrypted header: refused before keys. */
	c = codec_of(SB_COMP_NONE, SB_ENC_XCHACHA, "old");
	encode(&c, r, p, 100, SIZE_MAX, &st);
	st.p[8 + 12 + 2] = 0x20;	/* chunk size 0x00200000 */
	st.p[8 + 12 + 0] = st.p[8 + 12 + 1] = 0;
	assert_int_equal(decode(&c, r, st.p, st.n, SIZE_MAX, &pt, NULL, NULL),
	    SB_ERR_CORRUPT);
	buf_free(&pt);
	buf_free(&st);
	free(p);
	sb_keyring_free(&r);
}

/*
 * The zstd frame declares no content size, even for an input given whole
 * or empty; a frame that does (one-shot `zstd`), a skippable frame and
 * the fuzzer's find (a frame of declared size 0 whose one compressed
 * block is empty, checksum right: libzstd refuses it given whole and took
 * it block by block) are refused, whatever the split.
 */
static void
test_content_size(void **state)
{
	static const unsigned char found[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x24,
	    0x00, 0x05, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51 };
	static const unsigned char skip[] = { 0x50, 0x2a, 0x4d, 0x18, 0x01,
	    0x00, 0x00, 0x00, 0x00 };
	static const size_t	 splits[] = { 1, 3, 7, 4096, SIZE_MAX };
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	unsigned char		*p = plaintext(5000), one[8192];
	struct sb_codec		 c = codec_of(SB_COMP_ZSTD, SB_ENC_NONE, "");
	struct buf		 st, pt, obj;
	size_t			 n1;

	(void)state;
	for (size_t len = 0; len <= 5000; len += 5000) {
		encode(&c, r, p, len, SIZE_MAX, &st);
		assert_true(ZSTD_getFrameContentSize(st.p + 24, st.n - 24) ==
		    ZSTD_CONTENTSIZE_UNKNOWN);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(decode(&c, r, st.p, st.n, splits[i],
			    &pt, NULL, NULL), SB_OK);
			assert_int_equal(pt.n, len);
			buf_free(&pt);
		}
		buf_free(&st);
	}
	encode(&c, r, p, 0, SIZE_MAX, &st);
	n1 = ZSTD_compress(one, sizeof(one), p, 5000, 3);
	assert_false(ZSTD_isError(n1));
	assert_int_equal(ZSTD_getFrameContentSize(one, n1), 5000);
	for (int k = 0; k < 3; k++) {
		memset(&obj, 0, sizeof(obj));
		buf_write(&obj, st.p, 24);	/* our header, then the frame */
		if (k == 0)
			buf_write(&obj, one, n1);
		else if (k == 1)
			buf_write(&obj, found, sizeof(found));
		else
			buf_write(&obj, skip, sizeof(skip));
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(decode(&c, r, obj.p, obj.n, splits[i],
			    &pt, NULL, NULL), SB_ERR_CORRUPT);
			assert_int_equal(pt.n, 0);
			buf_free(&pt);
		}
		buf_free(&obj);
	}
	buf_free(&st);
	free(p);
	sb_keyring_free(&r);
}

/* A wrong key, a missing key, no ring: SB_ERR_KEY, nothing given out. */
static void
test_keys(void **state)
{
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	struct sb_keyring	*other = ring_of(KEY_OLD_OTHER "\n", NULL);
	struct sb_keyring	*newonly = ring_of(KEY_NEW "\n", NULL);
	struct sb_encoder	*e = NULL;
	unsigned char		*p = plaintext(5000);
	struct buf		 st, pt;
	struct sb_codec		 c;
	char			 err[SB_ERRMSG_MAX];

	(void)state;
	for (int i = 2; i < 4; i++) {
		c = codec_of(comps[i], encs[i], "old");
		encode(&c, r, p, 5000, SIZE_MAX, &st);
		assert_int_equal(decode(&c, other, st.p, st.n, 100, &pt, NULL,
		    NULL), SB_ERR_KEY);
		assert_int_equal(pt.n, 0);
		buf_free(&pt);
		assert_int_equal(decode(&c, newonly, st.p, st.n, SIZE_MAX, &pt,
		    NULL, NULL), SB_ERR_KEY);
		buf_free(&pt);
		assert_int_equal(decode(&c, NULL, st.p, st.n, SIZE_MAX, &pt,
		    NULL, NULL), SB_ERR_KEY);
		buf_free(&pt);
		/* A name that lies about the object is refused. */
		c.comp = c.comp == SB_COMP_ZSTD ? SB_COMP_NONE : SB_COMP_ZSTD;
		assert_int_equal(decode(&c, r, st.p, st.n, SIZE_MAX, &pt, NULL,
		    NULL), SB_ERR_CORRUPT);
		buf_free(&pt);
		buf_free(&st);
	}
	/* The encoder needs its key too. */
	c = codec_of(SB_COMP_NONE, SB_ENC_XCHACHA, "nope");
	assert_int_equal(sb_encoder_new(&c, r, buf_write, &st, &e, err),
	    SB_ERR_KEY);
	assert_int_equal(sb_encoder_new(&c, NULL, buf_write, &st, &e, err),
	    SB_ERR_KEY);
	c = codec_of(SB_COMP_ZSTD, SB_ENC_NONE, "");
	c.level = 20;
	assert_int_equal(sb_encoder_new(&c, r, buf_write, &st, &e, err),
	    SB_ERR_INVAL);
	assert_null(e);
	free(p);
	sb_keyring_free(&r);
	sb_keyring_free(&other);
	sb_keyring_free(&newonly);
}

/* After a rotation the ring reads objects of both keys. */
static void
test_rotation(void **state)
{
	struct sb_keyring	*before = ring_of(KEY_OLD "\n", NULL);
	struct sb_keyring	*after = ring_of(KEY_OLD "\n" KEY_NEW "\n",
				    "new-2");
	unsigned char		*p = plaintext(70000);
	struct buf		 o1, o2, pt;
	struct sb_codec		 c1, c2;

	(void)state;
	assert_string_equal(sb_keyring_active(before), "old");
	assert_string_equal(sb_keyring_active(after), "new-2");
	assert_int_equal(sb_keyring_count(after), 2);
	c1 = codec_of(SB_COMP_ZSTD, SB_ENC_XCHACHA, sb_keyring_active(before));
	encode(&c1, before, p, 70000, SIZE_MAX, &o1);
	c2 = codec_of(SB_COMP_ZSTD, SB_ENC_XCHACHA, sb_keyring_active(after));
	encode(&c2, after, p, 70000, SIZE_MAX, &o2);
	assert_int_equal(decode(&c1, after, o1.p, o1.n, SIZE_MAX, &pt, NULL,
	    NULL), SB_OK);
	assert_memory_equal(pt.p, p, 70000);
	buf_free(&pt);
	assert_int_equal(decode(&c2, after, o2.p, o2.n, SIZE_MAX, &pt, NULL,
	    NULL), SB_OK);
	buf_free(&pt);
	/* The ring before the rotation cannot read the new object. */
	assert_int_equal(decode(&c2, before, o2.p, o2.n, SIZE_MAX, &pt, NULL,
	    NULL), SB_ERR_KEY);
	buf_free(&pt);
	buf_free(&o1);
	buf_free(&o2);
	free(p);
	sb_keyring_free(&before);
	sb_keyring_free(&after);
}

static void
test_seal(void **state)
{
	struct sb_keyring	*r = ring_of(KEY_OLD "\n" KEY_NEW "\n", NULL);
	struct sb_keyring	*other = ring_of(KEY_OLD_OTHER "\n", NULL);
	const char		*json = "{\"description\":\"before the "
				    "migration \xc3\xa9t\xc3\xa9\",\"tags\":[\"a\"]}";
	char			*s = NULL, *u = NULL, err[SB_ERRMSG_MAX];
	char			 big[SB_SEAL_PLAIN_MAX + 2];
	size_t			 len, bad = 0;

	(void)state;
	assert_int_equal(sb_codec_seal(r, "old", "id-1", json, &s, err), SB_OK);
	assert_true(sb_is_sealed(s));
	assert_false(sb_is_sealed(json));
	assert_int_equal(strncmp(s, "sb1.old.", 8), 0);
	assert_null(strstr(s, "migration"));
	assert_int_equal(sb_codec_unseal(r, "id-1", s, &u, err), SB_OK);
	assert_string_equal(u, json);
	free(u);
	/* Another context (backup), another ring, no ring. */
	assert_int_equal(sb_codec_unseal(r, "id-2", s, &u, err),
	    SB_ERR_CORRUPT);
	assert_int_equal(sb_codec_unseal(other, "id-1", s, &u, err),
	    SB_ERR_KEY);
	assert_int_equal(sb_codec_unseal(NULL, "id-1", s, &u, err), SB_ERR_KEY);
	/* Every character of the payload changed: refused. */
	len = strlen(s);
	for (size_t i = 8; i < len; i++) {
		char	was = s[i];

		s[i] = was == 'A' ? 'B' : 'A';
		if (sb_codec_unseal(r, "id-1", s, &u, err) == SB_OK) {
			bad++;
			free(u);
		}
		s[i] = was;
	}
	/* The last character may carry only padding bits of base64. */
	assert_true(bad <= 1);
	/* Relabelled to the other key id of the ring. */
	memcpy(s + 4, "new", 3);
	assert_int_not_equal(sb_codec_unseal(r, "id-1", s, &u, err), SB_OK);
	free(s);
	s = NULL;
	assert_int_equal(sb_codec_unseal(r, NULL, "plain text", &u, err),
	    SB_ERR_INVAL);
	assert_int_equal(sb_codec_unseal(r, NULL, "sb1.old.%%%", &u, err),
	    SB_ERR_CORRUPT);
	assert_int_equal(sb_codec_seal(r, "missing", NULL, json, &s, err),
	    SB_ERR_KEY);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sb_codec_seal(r, "old", NULL, big, &s, err),
	    SB_ERR_INVAL);
	big[SB_SEAL_PLAIN_MAX] = '\0';
	assert_int_equal(sb_codec_seal(r, "new-2", NULL, big, &s, err), SB_OK);
	assert_true(strlen(s) <= SB_SEALED_MAX);
	assert_int_equal(sb_codec_unseal(r, "", s, &u, err), SB_OK);
	assert_string_equal(u, big);
	free(u);
	free(s);
	sb_keyring_free(&r);
	sb_keyring_free(&other);
}

/* One keyring text that must be refused, with the words of why. */
static void
ring_refused(const char *text, const char *active, const char *why)
{
	struct sb_keyring	*r = NULL;
	char			 err[SB_ERRMSG_MAX];

	assert_int_equal(sb_keyring_parse(text, active, &r, err),
	    SB_ERR_CONFIG);
	assert_null(r);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': got '%s', wanted '%s'", text, err, why);
	/* Never the key itself. */
	assert_null(strstr(err, "AAECAwQF"));
}

static void
test_keyring_text(void **state)
{
	struct sb_keyring	*r;
	char			 line[SB_KEY_LINE_MAX + 1], line2[sizeof(line)];
	char			 text[256];

	(void)state;
	r = ring_of("# keys of example.org\r\n\n  " KEY_OLD "  \r\n"
	    "\t# rotated on 2026-12-02\n" KEY_NEW, NULL);
	assert_int_equal(sb_keyring_count(r), 2);
	assert_string_equal(sb_keyring_active(r), "old");
	assert_true(sb_is_keyring_holding(r, "new-2"));
	assert_false(sb_is_keyring_holding(r, "new"));
	sb_keyring_free(&r);
	r = ring_of(NULL, NULL);
	assert_int_equal(sb_keyring_count(r), 0);
	assert_null(sb_keyring_active(r));
	sb_keyring_free(&r);
	ring_refused(KEY_OLD "\nold AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	    NULL, "line 2: duplicate key id");
	ring_refused("k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", NULL,
	    "line 1: the key is not base64");
	ring_refused("# c\nk1 AAEC*wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	    NULL, "line 2: the key is not base64");
	ring_refused("k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", NULL,
	    "line 1: the key is not 32 bytes");
	ring_refused("k1", NULL, "line 1: expected");
	ring_refused(KEY_OLD " extra", NULL, "more words");
	ring_refused("k/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL,
	    "key id must be");
	ring_refused(KEY_OLD, "new-2", "key_id 'new-2' is not in the keyring");
	/* keygen lines parse, differ, and carry the id asked for. */
	assert_int_equal(sb_keyring_keygen("k-1", line, sizeof(line)), SB_OK);
	assert_int_equal(sb_keyring_keygen(NULL, line2, sizeof(line2)), SB_OK);
	assert_int_equal(strncmp(line, "k-1 ", 4), 0);
	assert_int_equal(strncmp(line2, "key-20", 6), 0);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_int_not_equal(strcmp(line + 4, line2 + strlen(line2) -
	    strlen(line + 4)), 0);
	snprintf(text, sizeof(text), "%s%s", line, line2);
	r = ring_of(text, "k-1");
	assert_int_equal(sb_keyring_count(r), 2);
	sb_keyring_free(&r);
	assert_int_equal(sb_keyring_keygen("bad id", line, sizeof(line)),
	    SB_ERR_INVAL);
	assert_int_equal(sb_keyring_keygen("k", line, 10), SB_ERR_INVAL);
}

/* A scratch directory with a config file naming a key file. */
struct fx {
	char	dir[64];
	char	conf[128];
	char	keys[128];
};

static int
fx_setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_codec.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/safbackup.conf", fx->dir);
	snprintf(fx->keys, sizeof(fx->keys), "%s/store.keys", fx->dir);
	unsetenv("SAFBACKUP_STORE_KEYS");
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*fx = *state;

	unlink(fx->conf);
	unlink(fx->keys);
	unlink(fx->conf);
	rmdir(fx->dir);
	unsetenv("SAFBACKUP_STORE_KEYS");
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*fp;

	unlink(path);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Load a config of [store] lines; the result, and the message in err. */
static enum sb_err
load(struct fx *fx, const char *store, struct sb_config **cfg, char *err)
{
	char	text[1024];

	snprintf(text, sizeof(text), "[source]\npath = /srv/app.db\n"
	    "[catalog]\npath = /srv/catalog.db\n[disk]\nroot = /srv/b\n"
	    "[store]\n%s", store);
	write_file(fx->conf, text, 0644);
	return sb_config_load(fx->conf, cfg, err);
}

static void
test_config(void **state)
{
	struct fx		*fx = *state;
	struct sb_config	*cfg = NULL;
	struct sb_keyring	*r = NULL;
	struct sb_codec		 c;
	char			 err[SB_ERRMSG_MAX], store[512];

	/* Defaults: a plain .db, no key needed. */
	assert_int_equal(load(fx, "", &cfg, err), SB_OK);
	assert_int_equal(cfg->store_compression, SB_COMP_NONE);
	assert_int_equal(cfg->store_encryption, SB_ENC_NONE);
	assert_int_equal(sb_keyring_load(cfg, &r, err), SB_OK);
	assert_int_equal(sb_codec_from_config(cfg, r, &c, err), SB_OK);
	assert_true(sb_is_codec_plain(&c));
	sb_keyring_free(&r);
	sb_config_free(&cfg);
	/* Encryption without a key: refused, saying what to do. */
	assert_int_equal(load(fx, "encryption = xchacha20poly1305\n", &cfg,
	    err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "backup-cron keygen"));
	/* A key file group or others may read: refused. */
	write_file(fx->keys, KEY_OLD "\n" KEY_NEW "\n", 0644);
	snprintf(store, sizeof(store), "compression = zstd\n"
	    "compression_level = 9\nencryption = xchacha20poly1305\n"
	    "key_file = %s\n", fx->keys);
	assert_int_equal(load(fx, store, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "[store] key_file"));
	assert_non_null(strstr(err, "chmod 600"));
	chmod(fx->keys, 0600);
	assert_int_equal(load(fx, store, &cfg, err), SB_OK);
	assert_int_equal(sb_keyring_load(cfg, &r, err), SB_OK);
	assert_int_equal(sb_codec_from_config(cfg, r, &c, err), SB_OK);
	assert_int_equal(c.comp, SB_COMP_ZSTD);
	assert_int_equal(c.level, 9);
	assert_string_equal(c.key_id, "old");
	assert_string_equal(sb_codec_ext(&c), ".db.zst.enc");
	sb_keyring_free(&r);
	sb_config_free(&cfg);
	/* key_id picks the active key; it must be in the ring. */
	snprintf(store, sizeof(store), "encryption = xchacha20poly1305\n"
	    "key_id = new-2\nkey_file = %s\n", fx->keys);
	assert_int_equal(load(fx, store, &cfg, err), SB_OK);
	assert_int_equal(sb_keyring_load(cfg, &r, err), SB_OK);
	assert_int_equal(sb_codec_from_config(cfg, r, &c, err), SB_OK);
	assert_string_equal(c.key_id, "new-2");
	sb_keyring_free(&r);
	sb_config_free(&cfg);
	snprintf(store, sizeof(store), "encryption = xchacha20poly1305\n"
	    "key_id = gone\nkey_file = %s\n", fx->keys);
	assert_int_equal(load(fx, store, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "'gone' is not in the keyring"));
	/* A bad line in the file is named, its content is not. */
	write_file(fx->keys, KEY_OLD "\nk2 c2hvcnQ=\n", 0600);
	snprintf(store, sizeof(store), "key_file = %s\n", fx->keys);
	assert_int_equal(load(fx, store, &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "line 2: the key is not 32 bytes"));
	assert_null(strstr(err, "c2hvcnQ"));
	/* The environment gives the ring too (and wins over the file). */
	setenv("SAFBACKUP_STORE_KEYS", KEY_NEW, 1);
	assert_int_equal(load(fx, "encryption = xchacha20poly1305\n"
	    "compression = zstd\n", &cfg, err), SB_OK);
	assert_int_equal(sb_keyring_load(cfg, &r, err), SB_OK);
	assert_string_equal(sb_keyring_active(r), "new-2");
	sb_keyring_free(&r);
	sb_config_free(&cfg);
	unsetenv("SAFBACKUP_STORE_KEYS");
	/* Values checked one by one. */
	assert_int_equal(load(fx, "compression = lz4\n", &cfg, err),
	    SB_ERR_CONFIG);
	assert_non_null(strstr(err, "must be none or zstd"));
	assert_int_equal(load(fx, "compression_level = 20\n", &cfg, err),
	    SB_ERR_CONFIG);
	assert_non_null(strstr(err, "from 1 to 19"));
	assert_int_equal(load(fx, "encryption = aes\n", &cfg, err),
	    SB_ERR_CONFIG);
	assert_non_null(strstr(err, "none or xchacha20poly1305"));
	assert_int_equal(load(fx, "key_id = a/b\n", &cfg, err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "not a key id"));
	assert_int_equal(load(fx, "key = " KEY_OLD "\n", &cfg, err),
	    SB_ERR_CONFIG);
	assert_non_null(strstr(err, "SAFBACKUP_STORE_KEYS"));
	assert_null(strstr(err, "AAECAwQF"));
}

/* Whole files: round trip; a failed decode leaves no output file. */
static void
test_files(void **state)
{
	struct fx		*fx = *state;
	struct sb_keyring	*r = ring_of(KEY_OLD "\n", NULL);
	unsigned char		*p = plaintext(300000);
	char			 a[160], b[160], o[160], err[SB_ERRMSG_MAX];
	char			 sha[SB_SHA256_HEX + 1], want[SB_SHA256_HEX + 1];
	struct sb_codec		 c = codec_of(SB_COMP_ZSTD, SB_ENC_XCHACHA, "old");
	struct stat		 sta;
	int64_t			 stored, size;
	FILE			*fp;

	snprintf(a, sizeof(a), "%s/plain.db", fx->dir);
	snprintf(b, sizeof(b), "%s/object.db.zst.enc", fx->dir);
	snprintf(o, sizeof(o), "%s/out.db", fx->dir);
	assert_non_null(fp = fopen(a, "w"));
	assert_int_equal(fwrite(p, 1, 300000, fp), 300000);
	assert_int_equal(fclose(fp), 0);
	sha_hex(p, 300000, want);
	assert_int_equal(sb_codec_encode_file(&c, r, a, b, &stored, err),
	    SB_OK);
	assert_int_equal(stat(b, &sta), 0);
	assert_int_equal(sta.st_size, stored);
	assert_int_equal(sta.st_mode & 077, 0);
	assert_int_equal(sb_codec_decode_file(r, &c, b, o, sha, &size, err),
	    SB_OK);
	assert_string_equal(sha, want);
	assert_int_equal(size, 300000);
	/* Truncated object: refused, and out.db is gone. */
	assert_int_equal(truncate(b, stored - 1), 0);
	assert_int_equal(sb_codec_decode_file(r, &c, b, o, sha, &size, err),
	    SB_ERR_CORRUPT);
	if (strstr(err, "truncated") == NULL)
		fail_msg("%s", err);
	assert_int_equal(stat(o, &sta), -1);
	assert_int_equal(sb_codec_decode_file(r, &c, "/nonexistent/x", o, sha,
	    &size, err), SB_ERR_IO);
	unlink(a);
	unlink(b);
	free(p);
	sb_keyring_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_flip),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_content_size),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_keyring_text),
		cmocka_unit_test_setup_teardown(test_config, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_files, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
