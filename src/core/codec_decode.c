/*
 * codec_decode.c - the streaming decoder of stored objects (codec.h): a
 * state machine fed by any split of the stored bytes (header, then
 * length-framed crypto_secretstream_xchacha20poly1305 messages, then
 * ZSTD_decompressStream), which hands on only authenticated plaintext,
 * hashes and counts it, and refuses what is truncated, altered, followed
 * by more bytes, or not what the object's name says. The byte layout is
 * docs/FORMAT.md; the encoder is codec.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#include "codec_int.h"

#define ZHEAD_LEN	5	/* a zstd frame's magic and its descriptor
				   (RFC 8878 3.1.1) */

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
	unsigned char		 zhead[ZHEAD_LEN];
	size_t			 zheadlen;	/* the frame's first bytes */
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

	d->chunk = sb_le32_get(p + 12);
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
	if (d->headneed != PREFIX_LEN + sb_codec_head_len(enc, idlen) ||
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
		need = sb_le32_get(d->head + 4);
		if (sb_le32_get(d->head) != SKIP_MAGIC || need < FIXED_LEN ||
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
 * The zstd frame's first ZHEAD_LEN bytes are in d->zhead: it must be an
 * ordinary frame (not a skippable or a legacy one) that declares no
 * content size, as our encoder writes it (docs/FORMAT.md). Checked before
 * libzstd sees them: for a frame that declares its size,
 * ZSTD_decompressStream decodes the frame in one pass when all of it is
 * in one input buffer, and then refuses some damaged frames that its
 * block by block path, taken when the frame comes in pieces, accepts: the
 * verdict would depend on how the input was split.
 */
static enum sb_err
dec_zhead(struct sb_decoder *d)
{
	unsigned char	fhd = d->zhead[4];

	if (sb_le32_get(d->zhead) != ZSTD_MAGICNUMBER)
		return dec_fail(d, SB_ERR_CORRUPT, "zstd: not a zstd frame");
	/* Frame_Header_Descriptor (3.1.1.1.1): a Frame_Content_Size field is
	 * there when its flag (bits 7-6) is set or Single_Segment (bit 5). */
	if ((fhd >> 6) != 0 || (fhd & 0x20) != 0)
		return dec_fail(d, SB_ERR_CORRUPT, "zstd: the frame declares "
		    "its content size; safbackup never writes one that does");
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
		return sb_codec_sink_put(&d->sink, p, len, d->errmsg);
	if (len == 0)
		return SB_OK;
	if (d->zheadlen < ZHEAD_LEN) {
		r = ZHEAD_LEN - d->zheadlen < len ? ZHEAD_LEN - d->zheadlen :
		    len;
		memcpy(d->zhead + d->zheadlen, p, r);
		d->zheadlen += r;
		if (d->zheadlen == ZHEAD_LEN && (rc = dec_zhead(d)) != SB_OK)
			return rc;
	}
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
		if ((rc = sb_codec_sink_put(&d->sink, d->zout, zo.pos, d->errmsg)) !=
		    SB_OK)
			return dec_fail(d, rc, NULL);
		if (r == 0)
			d->zdone = 1;
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
			d->msgneed = sb_le32_get(d->lenbuf);
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
