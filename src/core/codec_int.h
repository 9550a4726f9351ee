/*
 * codec_int.h - what the codec's files share (codec.c: header, encoder,
 * decoder; codec_key.c: keyring and sealed values; codec_file.c: whole
 * files). Not for other modules: they use codec.h.
 */
#ifndef SB_CODEC_INT_H
#define SB_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "codec.h"

#define SB_KEY_CHECK_BYTES	16	/* key check value in a header */

/* The header: docs/FORMAT.md "The header". */
#define SKIP_MAGIC	0x184D2A53u	/* a zstd skippable frame (0x184D2A5?) */
#define PREFIX_LEN	8		/* skippable magic + frame size */
#define MAGIC		"safbkobj"
#define MAGIC_LEN	8
#define FORMAT_VERSION	1
#define FIXED_LEN	16		/* magic .. chunk size */
#define SS_HEADER	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES
#define HEAD_MAX	(PREFIX_LEN + FIXED_LEN + SB_KEY_ID_MAX + \
			    SB_KEY_CHECK_BYTES + SS_HEADER)
#define LEN_BYTES	4		/* a message's length prefix */

static inline void
sb_le32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t
sb_le32_get(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Bytes of a header's content (after the 8-byte prefix). */
static inline size_t
sb_codec_head_len(enum sb_enc enc, size_t idlen)
{
	return FIXED_LEN + (enc == SB_ENC_NONE ? 0 :
	    idlen + SB_KEY_CHECK_BYTES + SS_HEADER);
}

/* Where stream bytes go: the caller's writer, hashed (when sha) and counted. */
struct sink {
	sb_write_fn	 out;
	void		*arg;
	EVP_MD_CTX	*sha;		/* NULL: no hashing (the encoder) */
	int64_t		 n;
};

/*
 * Hash and count len bytes, then hand them to the writer. SB_ERR_IO with
 * a message in errmsg if the writer refuses them.
 */
enum sb_err	 sb_codec_sink_put(struct sink *, const void *buf, size_t len,
		    char *errmsg);

/*
 * sodium_init() once per process (it is idempotent and thread-safe, but
 * not free). SB_ERR_INVAL with a message if libsodium cannot start.
 */
enum sb_err	 sb_codec_sodium(char *err);

/* The SB_KEY_BYTES of key id in ring, or NULL if ring does not hold it. */
const unsigned char *sb_keyring_key(const struct sb_keyring *ring,
		    const char *id);

/*
 * The key check value of key: BLAKE2b-128 keyed with the key over the
 * constant "safbackup key check v1" (crypto_generichash). It tells a
 * wrong key from a tampered object and reveals nothing of the key.
 */
void		 sb_key_check(const unsigned char *key,
		    unsigned char out[SB_KEY_CHECK_BYTES]);

#endif /* SB_CODEC_INT_H */
