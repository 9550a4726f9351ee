/*
 * codec.c - the stored object: its names, its header, and the streaming
 * encoder and decoder (libzstd's ZSTD_compressStream2/ZSTD_decompressStream,
 * libsodium's crypto_secretstream_xchacha20poly1305). The byte layout is
 * docs/FORMAT.md; keep the two in step.
 *
 * Pipeline, encoding: plaintext -> zstd (optional) -> chunks of at most
 * SB_CODEC_CHUNK bytes -> one secretstream message each (optional), each
 * framed by its length; the last message carries TAG_FINAL, so a
 * truncated object is told from a whole one. The header is the additional
 * data of the first message: changing any of its bytes fails
 * authentication. Decoding runs the same backwards and releases a
 * message's plaintext only once the message is authenticated.
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getCParams: capping memory */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#include "codec_int.h"
#include "config.h"

/* Header: docs/FORMAT.md "The header". */
#define SKIP_MAGIC	0x184D2A53u	/* a zstd skippable frame (0x184D2A5?) */
#define PREFIX_LEN	8		/* skippable magic + frame size */
#define MAGIC		"safbkobj"
#define MAGIC_LEN	8
#define FORMAT_VERSION		1
#define FIXED_LEN	16		/* magic .. chunk size */
#define SS_HEADER	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES
#define HEAD_MAX	(PREFIX_LEN + FIXED_LEN + SB_KEY_ID_MAX + \
			    SB_KEY_CHECK_BYTES + SS_HEADER)
#define LEN_BYTES	4		/* a message's length prefix */

static const char *const compstr[SB_COMP__MAX] = { "none", "zstd" };
static const char *const encstr[SB_ENC__MAX] = { "none", "xchacha20poly1305" };

const char *
sb_comp_str(enum sb_comp c)
{
	return (unsigned)c < SB_COMP__MAX ? compstr[c] : "unknown";
}

const char *
sb_enc_str(enum sb_enc e)
{
	return (unsigned)e < SB_ENC__MAX ? encstr[e] : "unknown";
}

enum sb_err
sb_comp_parse(const char *s, enum sb_comp *out)
{
	for (unsigned i = 0; s != NULL && i < SB_COMP__MAX; i++)
		if (strcmp(s, compstr[i]) == 0) {
			*out = (enum sb_comp)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

enum sb_err
sb_enc_parse(const char *s, enum sb_enc *out)
{
	for (unsigned i = 0; s != NULL && i < SB_ENC__MAX; i++)
		if (strcmp(s, encstr[i]) == 0) {
			*out = (enum sb_enc)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

int
sb_is_key_id(const char *s)
{
	size_t	i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SB_KEY_ID_MAX)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	}
	return 1;
}

int
sb_is_codec_plain(const struct sb_codec *c)
{
	return c->comp == SB_COMP_NONE && c->enc == SB_ENC_NONE;
}

/* Indexed by comp + 2 * enc. */
static const char *const exts[4] = { ".db", ".db.zst", ".db.enc",
    ".db.zst.enc" };

const char *
sb_codec_ext(const struct sb_codec *c)
{
	return exts[(c->comp == SB_COMP_ZSTD) + 2 * (c->enc == SB_ENC_XCHACHA)];
}

/* Whether name ends in suffix. */
static int
is_ending(const char *name, const char *suffix)
{
	size_t	n = strlen(name), m = strlen(suffix);

	return n >= m && strcmp(name + n - m, suffix) == 0;
}

enum sb_err
sb_codec_from_name(const char *name, struct sb_codec *out)
{
	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return SB_ERR_INVAL;
	/* Longest first: ".db.zst.enc" also ends in none of the others. */
	for (int i = 3; i >= 0; i--)
		if (is_ending(name, exts[i])) {
			out->comp = (i & 1) ? SB_COMP_ZSTD : SB_COMP_NONE;
			out->enc = (i & 2) ? SB_ENC_XCHACHA : SB_ENC_NONE;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

enum sb_err
sb_codec_from_config(const struct sb_config *cfg,
    const struct sb_keyring *ring, struct sb_codec *out, char *err)
{
	const char	*id;

	memset(out, 0, sizeof(*out));
	out->comp = cfg->store_compression;
	out->level = (int)cfg->store_compression_level;
	if (out->level == 0)
		out->level = SB_CODEC_LEVEL_DEFAULT;
	out->enc = cfg->store_encryption;
	if (out->enc == SB_ENC_NONE)
		return SB_OK;
	id = cfg->store_key_id != NULL ? cfg->store_key_id :
	    sb_keyring_active(ring);
	if (id == NULL || !sb_is_keyring_holding(ring, id)) {
		sb_seterr(err, "[store] encryption = %s needs a key, and the "
		    "keyring has %s '%s': generate one with `backup-cron "
		    "keygen`, put the line in the 0600 file [store] key_file "
		    "names (or in SAFBACKUP_STORE_KEYS), see docs/OPERATIONS.md",
		    sb_enc_str(out->enc), id == NULL ? "none, so not" : "no key",
		    id == NULL ? "" : id);
		return SB_ERR_CONFIG;
	}
	sb_strlcpy(out->key_id, id, sizeof(out->key_id));
	return SB_OK;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Bytes of a header's content (after the 8-byte prefix) for c. */
static size_t
head_content_len(enum sb_enc enc, size_t idlen)
{
	return FIXED_LEN + (enc == SB_ENC_NONE ? 0 :
	    idlen + SB_KEY_CHECK_BYTES + SS_HEADER);
}

/*
 * Hash and count plaintext, then hand it to the writer. SB_ERR_IO with
 * a message if the writer refuses it.
 */
struct sink {
	sb_write_fn	 out;
	void		*arg;
	EVP_MD_CTX	*sha;		/* NULL: no hashing (the encoder) */
	int64_t		 n;
};

static enum sb_err
sink_put(struct sink *s, const void *buf, size_t len, char *errmsg)
{
	if (len == 0)
		return SB_OK;
	if (s->sha != NULL && EVP_DigestUpdate(s->sha, buf, len) != 1) {
		sb_seterr(errmsg, "sha256 failed");
		return SB_ERR_NOMEM;
	}
	if (s->out(s->arg, buf, len) != 0) {
		sb_seterr(errmsg, "the output refused the data");
		return SB_ERR_IO;
	}
	s->n += (int64_t)len;
	return SB_OK;
}

/* ---- encoder ----------------------------------------------------------- */

struct sb_encoder {
	struct sb_codec	 c;
	struct sink	 sink;
	int		 started;	/* header written */
	int		 done;		/* finished or failed */
	enum sb_err	 rc;		/* sticky error, SB_OK none */
	unsigned char	 head[HEAD_MAX];
	size_t		 headlen;
	int		 first;		/* next message is the first */
	ZSTD_CCtx	*z;
	unsigned char	*zout;
	size_t		 zoutcap;
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char	*chunk;		/* plaintext of the next message */
	size_t		 chunklen;
	unsigned char	*msg;		/* its length + ciphertext */
	char		 errmsg[SB_ERRMSG_MAX];
};

/* Record the first error and refuse everything after it. */
static enum sb_err
enc_fail(struct sb_encoder *e, enum sb_err rc)
{
	if (e->rc == SB_OK)
		e->rc = rc;
	e->done = 1;
	return e->rc;
}

/*
 * A zstd compression context at level, with the content checksum, its
 * window, hash and chain tables capped so that no level needs more than
 * about 12 MiB (docs/FORMAT.md): ZSTD_getCParams gives the level's own.
 */
static ZSTD_CCtx *
zstd_cctx(int level)
{
	ZSTD_compressionParameters	 p = ZSTD_getCParams(level, 0, 0);
	ZSTD_CCtx			*z;

	if ((z = ZSTD_createCCtx()) == NULL)
		return NULL;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel,
	    level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog,
	    p.windowLog > SB_CODEC_WINDOW_LOG_MAX ? SB_CODEC_WINDOW_LOG_MAX :
	    (int)p.windowLog)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog,
	    p.hashLog > 20 ? 20 : (int)p.hashLog)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_chainLog,
	    p.chainLog > 20 ? 20 : (int)p.chainLog))) {
		ZSTD_freeCCtx(z);
		return NULL;
	}
	return z;
}

/*
 * Build the header of e (docs/FORMAT.md) and, when encrypting, start the
 * secretstream with key (its header goes into ours).
 */
static void
enc_header(struct sb_encoder *e, const unsigned char *key)
{
	size_t		 idlen = strlen(e->c.key_id);
	size_t		 n = head_content_len(e->c.enc, idlen);
	unsigned char	*p = e->head;

	put_le32(p, SKIP_MAGIC);
	put_le32(p + 4, (uint32_t)n);
	p += PREFIX_LEN;
	memcpy(p, MAGIC, MAGIC_LEN);
	p[8] = FORMAT_VERSION;
	p[9] = (unsigned char)e->c.comp;
	p[10] = (unsigned char)e->c.enc;
	p[11] = (unsigned char)(e->c.enc == SB_ENC_NONE ? 0 : idlen);
	put_le32(p + 12, e->c.enc == SB_ENC_NONE ? 0 : SB_CODEC_CHUNK);
	p += FIXED_LEN;
	if (e->c.enc != SB_ENC_NONE) {
		memcpy(p, e->c.key_id, idlen);
		sb_key_check(key, p + idlen);
		crypto_secretstream_xchacha20poly1305_init_push(&e->ss,
		    p + idlen + SB_KEY_CHECK_BYTES, key);
	}
	e->headlen = PREFIX_LEN + n;
}

/* Check c and ring for sb_encoder_new; the key (NULL: none) in *key. */
static enum sb_err
enc_check(const struct sb_codec *c, const struct sb_keyring *ring,
    const unsigned char **key, char *err)
{
	*key = NULL;
	if ((unsigned)c->comp >= SB_COMP__MAX ||
	    (unsigned)c->enc >= SB_ENC__MAX) {
		sb_seterr(err, "unknown compression or encryption");
		return SB_ERR_INVAL;
	}
	if (c->comp == SB_COMP_ZSTD && (c->level < SB_CODEC_LEVEL_MIN ||
	    c->level > SB_CODEC_LEVEL_MAX)) {
		sb_seterr(err, "compression level %d: must be from %d to %d",
		    c->level, SB_CODEC_LEVEL_MIN, SB_CODEC_LEVEL_MAX);
		return SB_ERR_INVAL;
	}
	if (c->enc == SB_ENC_NONE)
		return SB_OK;
	if (!sb_is_key_id(c->key_id)) {
		sb_seterr(err, "no key id to encrypt with");
		return SB_ERR_KEY;
	}
	if ((*key = sb_keyring_key(ring, c->key_id)) == NULL) {
		sb_seterr(err, "the keyring holds no key '%s' to encrypt with",
		    c->key_id);
		return SB_ERR_KEY;
	}
	return sb_codec_sodium(err);
}

enum sb_err
sb_encoder_new(const struct sb_codec *c, const struct sb_keyring *ring,
    sb_write_fn out, void *arg, struct sb_encoder **encp, char *err)
{
	struct sb_encoder	*e = NULL;
	const unsigned char	*key;
	enum sb_err		 rc;

	*encp = NULL;
	if ((rc = enc_check(c, ring, &key, err)) != SB_OK)
		return rc;
	rc = SB_ERR_NOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	e->c = *c;
	e->sink.out = out;
	e->sink.arg = arg;
	e->first = 1;
	if (c->comp == SB_COMP_ZSTD) {
		e->zoutcap = ZSTD_CStreamOutSize();
		if ((e->z = zstd_cctx(c->level)) == NULL ||
		    (e->zout = malloc(e->zoutcap)) == NULL)
			goto out;
	}
	if (c->enc != SB_ENC_NONE &&
	    ((e->chunk = malloc(SB_CODEC_CHUNK)) == NULL ||
	    (e->msg = malloc(LEN_BYTES + SB_CODEC_CHUNK + SS_ABYTES)) == NULL))
		goto out;
	if (!sb_is_codec_plain(c))
		enc_header(e, key);
	*encp = e;
	e = NULL;
	rc = SB_OK;
out:
	if (rc != SB_OK)
		sb_seterr(err, "out of memory");
	sb_encoder_free(&e);
	return rc;
}

/* Seal the chunk as one message with tag, and write it out. */
static enum sb_err
enc_seal(struct sb_encoder *e, unsigned char tag)
{
	unsigned long long	clen;

	crypto_secretstream_xchacha20poly1305_push(&e->ss, e->msg + LEN_BYTES,
	    &clen, e->chunk, e->chunklen, e->first ? e->head : NULL,
	    e->first ? e->headlen : 0, tag);
	put_le32(e->msg, (uint32_t)clen);
	e->first = 0;
	e->chunklen = 0;
	return sink_put(&e->sink, e->msg, LEN_BYTES + (size_t)clen, e->errmsg);
}

/* The stream after compression: sealed in chunks, or written as is. */
static enum sb_err
enc_stage(struct sb_encoder *e, const unsigned char *p, size_t len)
{
	enum sb_err	rc;
	size_t		n;

	if (e->c.enc == SB_ENC_NONE)
		return sink_put(&e->sink, p, len, e->errmsg);
	while (len > 0) {
		n = SB_CODEC_CHUNK - e->chunklen;
		if (n > len)
			n = len;
		memcpy(e->chunk + e->chunklen, p, n);
		e->chunklen += n;
		p += n;
		len -= n;
		if (e->chunklen == SB_CODEC_CHUNK &&
		    (rc = enc_seal(e, 0)) != SB_OK)
			return rc;
	}
	return SB_OK;
}

/* Run zstd over in with mode; everything it gives goes to enc_stage. */
static enum sb_err
enc_zstd(struct sb_encoder *e, const void *buf, size_t len,
    ZSTD_EndDirective mode)
{
	ZSTD_inBuffer	in = { buf, len, 0 };
	ZSTD_outBuffer	zo;
	size_t		left;
	enum sb_err	rc;

	do {
		zo.dst = e->zout;
		zo.size = e->zoutcap;
		zo.pos = 0;
		left = ZSTD_compressStream2(e->z, &zo, &in, mode);
		if (ZSTD_isError(left)) {
			sb_seterr(e->errmsg, "zstd: %s", ZSTD_getErrorName(left));
			return SB_ERR_INVAL;
		}
		if ((rc = enc_stage(e, e->zout, zo.pos)) != SB_OK)
			return rc;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return SB_OK;
}

/* The header goes out before anything else. */
static enum sb_err
enc_start(struct sb_encoder *e)
{
	if (e->started)
		return SB_OK;
	e->started = 1;
	return sink_put(&e->sink, e->head, e->headlen, e->errmsg);
}

enum sb_err
sb_encoder_write(struct sb_encoder *e, const void *buf, size_t len)
{
	enum sb_err	rc;

	if (e->done) {
		if (e->rc == SB_OK)
			sb_seterr(e->errmsg, "write after finish");
		return e->rc != SB_OK ? e->rc : SB_ERR_INVAL;
	}
	if (len == 0)
		return SB_OK;
	if ((rc = enc_start(e)) != SB_OK)
		return enc_fail(e, rc);
	if (e->c.comp == SB_COMP_ZSTD)
		rc = enc_zstd(e, buf, len, ZSTD_e_continue);
	else
		rc = enc_stage(e, buf, len);
	return rc == SB_OK ? SB_OK : enc_fail(e, rc);
}

enum sb_err
sb_encoder_finish(struct sb_encoder *e, int64_t *stored_size)
{
	enum sb_err	rc;

	if (e->done) {
		if (e->rc == SB_OK)
			sb_seterr(e->errmsg, "finished twice");
		return e->rc != SB_OK ? e->rc : SB_ERR_INVAL;
	}
	if ((rc = enc_start(e)) != SB_OK)
		return enc_fail(e, rc);
	if (e->c.comp == SB_COMP_ZSTD &&
	    (rc = enc_zstd(e, NULL, 0, ZSTD_e_end)) != SB_OK)
		return enc_fail(e, rc);
	if (e->c.enc != SB_ENC_NONE &&
	    (rc = enc_seal(e, crypto_secretstream_xchacha20poly1305_TAG_FINAL))
	    != SB_OK)
		return enc_fail(e, rc);
	e->done = 1;
	if (stored_size != NULL)
		*stored_size = e->sink.n;
	return SB_OK;
}

const char *
sb_encoder_errmsg(const struct sb_encoder *e)
{
	return e->errmsg;
}

void
sb_encoder_free(struct sb_encoder **ep)
{
	struct sb_encoder	*e;

	if (ep == NULL || (e = *ep) == NULL)
		return;
	ZSTD_freeCCtx(e->z);
	free(e->zout);
	if (e->chunk != NULL)
		sodium_memzero(e->chunk, SB_CODEC_CHUNK);
	free(e->chunk);
	free(e->msg);
	sodium_memzero(e, sizeof(*e));
	free(e);
	*ep = NULL;
}

/* ---- decoder ----------------------------------------------------------- */

enum dstate {
	D_HEAD = 0,	/* reading the header */
	D_BODY,		/* reading the stream */
	D_DONE,		/* the last message is in: nothing may follow */
	D_FAILED
};

struct sb_decoder {
	const struct sb_keyring	*ring;
	struct sb_codec		 want;
	struct sb_codec		 got;
	struct sink		 sink;
	enum dstate		 state;
	enum sb_err		 rc;		/* sticky error */
	int			 headok;	/* got is known */
	unsigned char		 head[HEAD_MAX];
	size_t			 headlen;	/* bytes of it read */
	size_t			 headneed;	/* its whole length, once known */
	uint32_t		 chunk;		/* plaintext bytes per message */
	int			 first;
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char		 lenbuf[LEN_BYTES];
	size_t			 lenhave;
	size_t			 msgneed;	/* 0: reading a length */
	size_t			 msghave;
	unsigned char		*msg;
	unsigned char		*pt;
	ZSTD_DCtx		*z;
	int			 zdone;		/* the zstd frame has ended */
	unsigned char		 zhead[ZSTD_FRAMEHEADERSIZE_MAX];
	size_t			 zheadlen;	/* its first bytes, kept */
	unsigned char		*zout;
	size_t			 zoutcap;
	char			 errmsg[SB_ERRMSG_MAX];
};

static enum sb_err __attribute__((format(printf, 3, 4)))
dec_fail(struct sb_decoder *d, enum sb_err rc, const char *fmt, ...)
{
	va_list	ap;

	if (d->state == D_FAILED)
		return d->rc;
	if (fmt != NULL) {
		va_start(ap, fmt);
		sb_vseterr(d->errmsg, fmt, ap);
		va_end(ap);
	}
	d->state = D_FAILED;
	d->rc = rc;
	return rc;
}

enum sb_err
sb_decoder_new(const struct sb_keyring *ring, const struct sb_codec *want,
    sb_write_fn out, void *arg, struct sb_decoder **decp, char *err)
{
	struct sb_decoder	*d = NULL;
	enum sb_err		 rc = SB_ERR_NOMEM;

	*decp = NULL;
	if ((unsigned)want->comp >= SB_COMP__MAX ||
	    (unsigned)want->enc >= SB_ENC__MAX) {
		sb_seterr(err, "unknown compression or encryption");
		return SB_ERR_INVAL;
	}
	if (want->enc != SB_ENC_NONE && (rc = sb_codec_sodium(err)) != SB_OK)
		return rc;
	rc = SB_ERR_NOMEM;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->sink.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->sink.sha, EVP_sha256(), NULL) != 1)
		goto out;
	d->ring = ring;
	d->want = *want;
	d->got = *want;
	d->sink.out = out;
	d->sink.arg = arg;
	d->first = 1;
	d->state = sb_is_codec_plain(want) ? D_BODY : D_HEAD;
	d->headok = d->state == D_BODY;
	if (want->comp == SB_COMP_ZSTD) {
		d->zoutcap = ZSTD_DStreamOutSize();
		if ((d->z = ZSTD_createDCtx()) == NULL ||
		    (d->zout = malloc(d->zoutcap)) == NULL ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(d->z,
		    ZSTD_d_windowLogMax, SB_CODEC_WINDOW_LOG_MAX)))
			goto out;
	}
	*decp = d;
	d = NULL;
	rc = SB_OK;
out:
	if (rc != SB_OK)
		sb_seterr(err, "out of memory");
	sb_decoder_free(&d);
	return rc;
}

/* The key of an encrypted header, checked against its key check value. */
static enum sb_err
dec_key(struct sb_decoder *d, const unsigned char *p, size_t idlen)
{
	unsigned char		 check[SB_KEY_CHECK_BYTES];
	const unsigned char	*key;

	memcpy(d->got.key_id, p, idlen);
	d->got.key_id[idlen] = '\0';
	if (!sb_is_key_id(d->got.key_id))
		return dec_fail(d, SB_ERR_CORRUPT, "the header's key id is not "
		    "a key id");
	if ((key = sb_keyring_key(d->ring, d->got.key_id)) == NULL)
		return dec_fail(d, SB_ERR_KEY, "this backup is encrypted with "
		    "key '%s', which the keyring does not hold: add that key's "
		    "line to the [store] key_file (docs/OPERATIONS.md)",
		    d->got.key_id);
	sb_key_check(key, check);
	if (sodium_memcmp(check, p + idlen, sizeof(check)) != 0)
		return dec_fail(d, SB_ERR_KEY, "the keyring's key '%s' is not "
		    "the key this backup was encrypted with (its key check "
		    "value differs): find the original key of that id",
		    d->got.key_id);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&d->ss,
	    p + idlen + SB_KEY_CHECK_BYTES, key) != 0)
		return dec_fail(d, SB_ERR_CORRUPT, "bad stream header");
	return SB_OK;
}

/*
 * Parse the whole header in d->head (docs/FORMAT.md): known version,
 * known and consistent fields, the codec the name says, and the key.
 */
static enum sb_err
dec_header(struct sb_decoder *d)
{
	const unsigned char	*p = d->head + PREFIX_LEN;
	unsigned		 ver = p[8], comp = p[9], enc = p[10];
	size_t			 idlen = p[11];

	d->chunk = get_le32(p + 12);
	if (memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return dec_fail(d, SB_ERR_CORRUPT, "not a safbackup object "
		    "(bad magic)");
	if (ver != FORMAT_VERSION)
		return dec_fail(d, SB_ERR_CORRUPT, "object format version %u: "
		    "this safbackup reads version %u only", ver, FORMAT_VERSION);
	if (comp >= SB_COMP__MAX || enc >= SB_ENC__MAX ||
	    (comp == SB_COMP_NONE && enc == SB_ENC_NONE))
		return dec_fail(d, SB_ERR_CORRUPT, "unknown compression %u or "
		    "encryption %u", comp, enc);
	if (comp != (unsigned)d->want.comp || enc != (unsigned)d->want.enc)
		return dec_fail(d, SB_ERR_CORRUPT, "the header says "
		    "compression %s, encryption %s; the object's name says %s, "
		    "%s", sb_comp_str(comp), sb_enc_str(enc),
		    sb_comp_str(d->want.comp), sb_enc_str(d->want.enc));
	if (d->headneed != PREFIX_LEN + head_content_len(enc, idlen) ||
	    (enc == SB_ENC_NONE ? idlen != 0 || d->chunk != 0 :
	    idlen == 0 || idlen > SB_KEY_ID_MAX || d->chunk == 0 ||
	    d->chunk > SB_CODEC_CHUNK_MAX))
		return dec_fail(d, SB_ERR_CORRUPT, "inconsistent header");
	if (enc == SB_ENC_NONE)
		return SB_OK;
	if ((d->msg = malloc(d->chunk + SS_ABYTES)) == NULL ||
	    (d->pt = malloc(d->chunk)) == NULL)
		return dec_fail(d, SB_ERR_NOMEM, "out of memory");
	return dec_key(d, p + FIXED_LEN, idlen);
}

/* Take header bytes from *buf; D_BODY once it is whole and good. */
static enum sb_err
dec_head(struct sb_decoder *d, const unsigned char **buf, size_t *len)
{
	size_t	need, n;

	need = d->headneed != 0 ? d->headneed : PREFIX_LEN;
	n = need - d->headlen < *len ? need - d->headlen : *len;
	memcpy(d->head + d->headlen, *buf, n);
	d->headlen += n;
	*buf += n;
	*len -= n;
	if (d->headlen < need)
		return SB_OK;
	if (d->headneed == 0) {
		need = get_le32(d->head + 4);
		if (get_le32(d->head) != SKIP_MAGIC || need < FIXED_LEN ||
		    need > HEAD_MAX - PREFIX_LEN)
			return dec_fail(d, SB_ERR_CORRUPT, "not a safbackup "
			    "object (no header)");
		d->headneed = PREFIX_LEN + need;
		return SB_OK;
	}
	if (dec_header(d) != SB_OK)
		return d->rc;
	d->state = D_BODY;
	d->headok = 1;
	return SB_OK;
}

/*
 * The zstd frame has ended. A frame that declares its content size must
 * have given that many bytes: libzstd checks it when a frame comes in one
 * piece, not always when it is streamed, and the verdict must not depend
 * on how the input was split (our encoder declares no size).
 */
static enum sb_err
dec_zend(struct sb_decoder *d)
{
	unsigned long long	fcs;

	d->zdone = 1;
	fcs = ZSTD_getFrameContentSize(d->zhead, d->zheadlen);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return dec_fail(d, SB_ERR_CORRUPT, "zstd: bad frame header");
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
	    fcs != (unsigned long long)d->sink.n)
		return dec_fail(d, SB_ERR_CORRUPT, "zstd: the frame holds "
		    "%lld bytes, its header says %llu", (long long)d->sink.n,
		    fcs);
	return SB_OK;
}

/*
 * Plaintext of the stream (authenticated, when encrypted): through zstd
 * when compressed, then to the sink. A second zstd frame, or any byte
 * after the first, is refused.
 */
static enum sb_err
dec_stage(struct sb_decoder *d, const unsigned char *p, size_t len)
{
	ZSTD_inBuffer	in = { p, len, 0 };
	ZSTD_outBuffer	zo;
	size_t		r;
	enum sb_err	rc;

	if (d->want.comp == SB_COMP_NONE)
		return sink_put(&d->sink, p, len, d->errmsg);
	if (len == 0)
		return SB_OK;
	r = sizeof(d->zhead) - d->zheadlen < len ?
	    sizeof(d->zhead) - d->zheadlen : len;
	memcpy(d->zhead + d->zheadlen, p, r);
	d->zheadlen += r;
	/* Round again while input is left or zstd filled the output. */
	do {
		if (d->zdone)
			return dec_fail(d, SB_ERR_CORRUPT, "bytes after the "
			    "end of the compressed stream");
		zo.dst = d->zout;
		zo.size = d->zoutcap;
		zo.pos = 0;
		r = ZSTD_decompressStream(d->z, &zo, &in);
		if (ZSTD_isError(r))
			return dec_fail(d, SB_ERR_CORRUPT, "zstd: %s",
			    ZSTD_getErrorName(r));
		if ((rc = sink_put(&d->sink, d->zout, zo.pos, d->errmsg)) !=
		    SB_OK)
			return dec_fail(d, rc, NULL);
		if (r == 0 && (rc = dec_zend(d)) != SB_OK)
			return rc;
	} while (in.pos < in.size || (zo.pos == zo.size && !d->zdone));
	return SB_OK;
}

/* One whole message in d->msg: authenticate, then pass its plaintext on. */
static enum sb_err
dec_open(struct sb_decoder *d)
{
	unsigned long long	plen;
	unsigned char		tag;

	if (crypto_secretstream_xchacha20poly1305_pull(&d->ss, d->pt, &plen,
	    &tag, d->msg, d->msgneed, d->first ? d->head : NULL,
	    d->first ? d->headlen : 0) != 0)
		return dec_fail(d, SB_ERR_CORRUPT, "authentication failed: "
		    "the object was altered or damaged");
	d->first = 0;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		d->state = D_DONE;
	else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return dec_fail(d, SB_ERR_CORRUPT, "unexpected message tag");
	d->msgneed = d->msghave = d->lenhave = 0;
	return dec_stage(d, d->pt, (size_t)plen);
}

/* Encrypted stream bytes: length prefixes and messages, in any split. */
static enum sb_err
dec_messages(struct sb_decoder *d, const unsigned char *buf, size_t len)
{
	size_t	n;

	while (len > 0 && d->state == D_BODY) {
		if (d->msgneed == 0) {
			n = LEN_BYTES - d->lenhave < len ?
			    LEN_BYTES - d->lenhave : len;
			memcpy(d->lenbuf + d->lenhave, buf, n);
			d->lenhave += n;
			buf += n;
			len -= n;
			if (d->lenhave < LEN_BYTES)
				break;
			d->msgneed = get_le32(d->lenbuf);
			if (d->msgneed < SS_ABYTES ||
			    d->msgneed > d->chunk + SS_ABYTES)
				return dec_fail(d, SB_ERR_CORRUPT, "bad message "
				    "length %zu", d->msgneed);
			continue;
		}
		n = d->msgneed - d->msghave < len ? d->msgneed - d->msghave :
		    len;
		memcpy(d->msg + d->msghave, buf, n);
		d->msghave += n;
		buf += n;
		len -= n;
		if (d->msghave == d->msgneed && dec_open(d) != SB_OK)
			return d->rc;
	}
	if (len > 0 && d->state == D_DONE)
		return dec_fail(d, SB_ERR_CORRUPT, "bytes after the last "
		    "message");
	return SB_OK;
}

enum sb_err
sb_decoder_write(struct sb_decoder *d, const void *vbuf, size_t len)
{
	const unsigned char	*buf = vbuf;

	if (d->state == D_FAILED)
		return d->rc;
	while (len > 0 && d->state == D_HEAD)
		if (dec_head(d, &buf, &len) != SB_OK)
			return d->rc;
	if (len == 0)
		return SB_OK;
	if (d->state == D_DONE)
		return dec_fail(d, SB_ERR_CORRUPT, "bytes after the last "
		    "message");
	if (d->want.enc != SB_ENC_NONE)
		return dec_messages(d, buf, len);
	return dec_stage(d, buf, len);
}

enum sb_err
sb_decoder_finish(struct sb_decoder *d, char sha256[SB_SHA256_HEX + 1],
    int64_t *plain_size)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (d->state == D_FAILED)
		return d->rc;
	if (d->state == D_HEAD)
		return dec_fail(d, SB_ERR_CORRUPT, "truncated object: %zu "
		    "bytes, not even a whole header", d->headlen);
	if (d->want.enc != SB_ENC_NONE && d->state != D_DONE)
		return dec_fail(d, SB_ERR_CORRUPT, "truncated object: the "
		    "stream stops before its last message");
	if (d->want.comp == SB_COMP_ZSTD && !d->zdone)
		return dec_fail(d, SB_ERR_CORRUPT, "truncated object: the "
		    "compressed stream stops before its end");
	if (EVP_DigestFinal_ex(d->sink.sha, md, &mdlen) != 1 || mdlen != 32)
		return dec_fail(d, SB_ERR_NOMEM, "sha256 failed");
	d->state = D_FAILED;	/* finished: nothing more is taken */
	d->rc = SB_ERR_INVAL;
	sb_seterr(d->errmsg, "decoder already finished");
	if (sha256 != NULL)
		sb_hex(md, mdlen, sha256);
	if (plain_size != NULL)
		*plain_size = d->sink.n;
	return SB_OK;
}

enum sb_err
sb_decoder_codec(const struct sb_decoder *d, struct sb_codec *out)
{
	if (!d->headok)
		return SB_ERR_INVAL;
	*out = d->got;
	return SB_OK;
}

const char *
sb_decoder_errmsg(const struct sb_decoder *d)
{
	return d->errmsg;
}

void
sb_decoder_free(struct sb_decoder **dp)
{
	struct sb_decoder	*d;

	if (dp == NULL || (d = *dp) == NULL)
		return;
	EVP_MD_CTX_free(d->sink.sha);
	ZSTD_freeDCtx(d->z);
	free(d->zout);
	if (d->pt != NULL)
		sodium_memzero(d->pt, d->chunk);
	free(d->pt);
	free(d->msg);
	sodium_memzero(d, sizeof(*d));
	free(d);
	*dp = NULL;
}
