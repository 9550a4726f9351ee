/*
 * codec_int.h - what the codec's files share (codec.c: header, encoder,
 * decoder; codec_key.c: keyring and sealed values; codec_file.c: whole
 * files). Not for other modules: they use codec.h.
 */
#ifndef SB_CODEC_INT_H
#define SB_CODEC_INT_H

#include <stddef.h>

#include "codec.h"

#define SB_KEY_CHECK_BYTES	16	/* key check value in a header */

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
