/*
 * codec.c - the stored object: its names, its header, and the streaming
 * encoder (libzstd's ZSTD_compressStream2/ZSTD_decompressStream,
 * libsodium's crypto_secretstream_xchacha20poly1305). The byte layout is
 * docs/FORMAT.md; keep the two in step. The decoder is codec_decode.c.
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
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "codec_int.h"
#include "config.h"

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
	/* No extension ends another ("x.db.zst.enc" ends in none of the
	 * other three), so the first match is the only one. */
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

enum sb_err
sb_codec_sink_put(struct sink *s, const void *buf, size_t len, char *errmsg)
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
 * A zstd compression context at level, with the content checksum and
 * no content size (even for an input given whole; docs/FORMAT.md), its
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
	    ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag,
	    0)) ||
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
	size_t		 n = sb_codec_head_len(e->c.enc, idlen);
	unsigned char	*p = e->head;

	sb_le32_put(p, SKIP_MAGIC);
	sb_le32_put(p + 4, (uint32_t)n);
	p += PREFIX_LEN;
	memcpy(p, MAGIC, MAGIC_LEN);
	p[8] = FORMAT_VERSION;
	p[9] = (unsigned char)e->c.comp;
	p[10] = (unsigned char)e->c.enc;
	p[11] = (unsigned char)(e->c.enc == SB_ENC_NONE ? 0 : idlen);
	sb_le32_put(p + 12, e->c.enc == SB_ENC_NONE ? 0 : SB_CODEC_CHUNK);
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
	sb_le32_put(e->msg, (uint32_t)clen);
	e->first = 0;
	e->chunklen = 0;
	return sb_codec_sink_put(&e->sink, e->msg, LEN_BYTES + (size_t)clen, e->errmsg);
}

/* The stream after compression: sealed in chunks, or written as is. */
static enum sb_err
enc_stage(struct sb_encoder *e, const unsigned char *p, size_t len)
{
	enum sb_err	rc;
	size_t		n;

	if (e->c.enc == SB_ENC_NONE)
		return sb_codec_sink_put(&e->sink, p, len, e->errmsg);
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
	return sb_codec_sink_put(&e->sink, e->head, e->headlen, e->errmsg);
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
