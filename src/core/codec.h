/*
 * codec.h - what a stored backup object is made of: an optional zstd
 * compression and an optional authenticated encryption
 * (libsodium's crypto_secretstream_xchacha20poly1305) of the plain SQLite
 * file, behind a small header; the keyring the encryption keys come from;
 * and sealed metadata (a short string, e.g. the JSON of a backup's
 * description and tags, encrypted into a value store metadata can hold).
 *
 * The byte layout is docs/FORMAT.md; the configuration keys are [store]
 * compression, compression_level, encryption, key_id, key_file
 * (docs/CONFIG.md); key management is docs/OPERATIONS.md.
 *
 * Every combination has its object name extension (sb_codec_ext):
 *
 *	compression  encryption         extension      object
 *	none         none               .db            the SQLite file itself
 *	zstd         none               .db.zst        header + zstd frame
 *	none         xchacha20poly1305  .db.enc        header + sealed stream
 *	zstd         xchacha20poly1305  .db.zst.enc    header + sealed zstd
 *
 * Memory is bounded whatever the object's size: the encoder and the
 * decoder hold one chunk (SB_CODEC_CHUNK_MAX at most) and zstd's own
 * buffers (levels are capped, and the decoder refuses windows over
 * SB_CODEC_WINDOW_LOG_MAX).
 *
 * Errors: SB_ERR_KEY when the object (or sealed value) needs a key the
 * ring does not hold, or holds with other bytes (the header's key check
 * value tells a wrong key from tampering); SB_ERR_CORRUPT for anything
 * that fails authentication, a truncated object, trailing bytes, a header
 * this version does not know, or a header that contradicts the name;
 * SB_ERR_IO when the caller's writer fails (its own error says why).
 * Every object keeps its last message, read with *_errmsg().
 */
#ifndef SB_CODEC_H
#define SB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"
#include "store.h"	/* sb_write_fn */

struct sb_config;

#define SB_KEY_BYTES		32	/* one key: 256 bits */
#define SB_KEY_ID_MAX		32	/* key id: 1..32 of [A-Za-z0-9._-] */
#define SB_KEYRING_MAX		64	/* most keys in one ring */
#define SB_KEY_LINE_MAX		(SB_KEY_ID_MAX + 1 + 44 + 1)	/* "ID B64\n" */
#define SB_CODEC_CHUNK		(64 * 1024)	/* plaintext bytes per message */
#define SB_CODEC_CHUNK_MAX	(1024 * 1024)	/* largest a decoder accepts */
#define SB_CODEC_WINDOW_LOG_MAX	21	/* zstd window: 2 MiB at most */
#define SB_CODEC_LEVEL_MIN	1
#define SB_CODEC_LEVEL_MAX	19
#define SB_CODEC_LEVEL_DEFAULT	3
#define SB_SEALED_MAX		6144	/* longest sealed value, NUL excluded */
#define SB_SEAL_PLAIN_MAX	4096	/* longest string sb_codec_seal takes */

enum sb_comp {
	SB_COMP_NONE = 0,	/* stored as is */
	SB_COMP_ZSTD,		/* one zstd frame, with its content checksum */
	SB_COMP__MAX
};

enum sb_enc {
	SB_ENC_NONE = 0,	/* in clear */
	SB_ENC_XCHACHA,		/* crypto_secretstream_xchacha20poly1305,
				   config name "xchacha20poly1305" */
	SB_ENC__MAX
};

/* Config names: "none" / "zstd"; "none" / "xchacha20poly1305". */
const char	*sb_comp_str(enum sb_comp);
enum sb_err	 sb_comp_parse(const char *, enum sb_comp *);
const char	*sb_enc_str(enum sb_enc);
enum sb_err	 sb_enc_parse(const char *, enum sb_enc *);

/* Whether s is a valid key id: 1..SB_KEY_ID_MAX of [A-Za-z0-9._-]. */
int		 sb_is_key_id(const char *s);

/*
 * What the encoder makes of the next backup. level matters only with
 * zstd, key_id only with encryption ("" otherwise).
 */
struct sb_codec {
	enum sb_comp	comp;
	int		level;
	enum sb_enc	enc;
	char		key_id[SB_KEY_ID_MAX + 1];
};

/*
 * The keyring: every key the configuration gives ([store] key_file or the
 * environment variable SAFBACKUP_STORE_KEYS; one "ID BASE64" line per
 * key, 32 bytes each), and which one is active (new objects are encrypted
 * with it). Keys live in sodium_malloc'd memory (guarded, locked, wiped
 * on free). Opaque.
 */
struct sb_keyring;

/*
 * Build the ring from the configuration (sodium_init() is called once,
 * here or by any codec function that needs it). An empty ring is fine
 * while [store] encryption = none (old encrypted objects then fail with
 * SB_ERR_KEY when read). When encryption is asked for and the ring has
 * no key, or not the [store] key_id one: SB_ERR_CONFIG with a message
 * that says what to do; the programs refuse to start on it. *out is
 * allocated; release it with sb_keyring_free. err: SB_ERRMSG_MAX.
 */
enum sb_err	sb_keyring_load(const struct sb_config *,
		    struct sb_keyring **out, char *err);

/*
 * Parse keyring text (the key file's content): lines "ID BASE64" where
 * BASE64 (RFC 4648, padded) is exactly SB_KEY_BYTES; blank lines and
 * lines starting with '#' are skipped. active: the active key's id, NULL
 * for the first key. SB_ERR_CONFIG with "line N: why" on a bad line (the
 * message never quotes key bytes), a duplicate id, more than
 * SB_KEYRING_MAX keys, or an active id not in the ring. Text may be NULL
 * or empty (an empty ring, no active key).
 */
enum sb_err	sb_keyring_parse(const char *text, const char *active,
		    struct sb_keyring **out, char *err);

/* Number of keys; the active key's id or NULL; whether id is held. */
size_t		 sb_keyring_count(const struct sb_keyring *);
const char	*sb_keyring_active(const struct sb_keyring *);
int		 sb_is_keyring_holding(const struct sb_keyring *,
		    const char *id);

/* Wipe and release the ring; sets *ring NULL (NULL: nothing to do). */
void		 sb_keyring_free(struct sb_keyring **ring);

/*
 * A new key line "ID BASE64\n" from randombytes_buf into line (at least
 * SB_KEY_LINE_MAX + 1 bytes). id NULL: "key-YYYYMMDD" of today (UTC).
 * SB_ERR_INVAL for a bad id. The caller should wipe line after use.
 */
enum sb_err	sb_keyring_keygen(const char *id, char *line, size_t len);

/*
 * The codec new backups use, from the configuration and the ring (the
 * ring's active key when encrypting). SB_ERR_CONFIG if encryption is
 * asked for and the ring has no active key.
 */
enum sb_err	sb_codec_from_config(const struct sb_config *,
		    const struct sb_keyring *, struct sb_codec *out,
		    char *err);

/* Whether c stores the plain SQLite file (no compression, no encryption). */
int		 sb_is_codec_plain(const struct sb_codec *c);

/* The object name extension of c: ".db", ".db.zst", ".db.enc", ".db.zst.enc". */
const char	*sb_codec_ext(const struct sb_codec *c);

/*
 * The codec an object name says (its extension: the longest of the four
 * that ends name). level is 0 and key_id "" (only the header has them).
 * SB_ERR_INVAL if name ends in none of them.
 */
enum sb_err	sb_codec_from_name(const char *name, struct sb_codec *out);

/*
 * Streaming encoder: plaintext in (any split), stored object out through
 * the writer (called with at most SB_CODEC_CHUNK + 64 bytes at a time).
 * A plain codec passes bytes through unchanged. ring may be NULL when c
 * does not encrypt; when it does, c->key_id must be in the ring
 * (SB_ERR_KEY otherwise). The header goes out with the first write or at
 * finish. finish must be called for a complete object: it flushes zstd
 * and seals the last chunk (TAG_FINAL); *stored_size (may be NULL) is
 * every byte given to the writer. After an error the encoder refuses
 * everything but free. *out is allocated: release with sb_encoder_free.
 */
struct sb_encoder;

enum sb_err	sb_encoder_new(const struct sb_codec *c,
		    const struct sb_keyring *ring, sb_write_fn out, void *arg,
		    struct sb_encoder **enc, char *err);
enum sb_err	sb_encoder_write(struct sb_encoder *, const void *buf,
		    size_t len);
enum sb_err	sb_encoder_finish(struct sb_encoder *, int64_t *stored_size);
const char	*sb_encoder_errmsg(const struct sb_encoder *);
void		 sb_encoder_free(struct sb_encoder **);

/*
 * Streaming decoder: stored bytes in (any split), plaintext out through
 * the writer. want is the codec the object's name says
 * (sb_codec_from_name): plain passes through; otherwise the header must
 * say the same compression and encryption (SB_ERR_CORRUPT if not: a name
 * cannot lie about what an object is). With encryption nothing reaches
 * the writer before the chunk it belongs to is authenticated, and the
 * header is authenticated with the first chunk. finish fails on a
 * truncated object (SB_ERR_CORRUPT) and gives the sha256 (lowercase hex)
 * and size of the plaintext (either may be NULL). Bytes after the end of
 * the object are SB_ERR_CORRUPT. ring may be NULL (no keys).
 */
struct sb_decoder;

enum sb_err	sb_decoder_new(const struct sb_keyring *ring,
		    const struct sb_codec *want, sb_write_fn out, void *arg,
		    struct sb_decoder **dec, char *err);
enum sb_err	sb_decoder_write(struct sb_decoder *, const void *buf,
		    size_t len);
enum sb_err	sb_decoder_finish(struct sb_decoder *,
		    char sha256[SB_SHA256_HEX + 1], int64_t *plain_size);
/* The codec the header says (key_id included), once it is read; else
 * SB_ERR_INVAL. For a plain object: want. */
enum sb_err	sb_decoder_codec(const struct sb_decoder *, struct sb_codec *);
const char	*sb_decoder_errmsg(const struct sb_decoder *);
void		 sb_decoder_free(struct sb_decoder **);

/*
 * Whole files. encode: read the plain file at src, write the object to
 * dst (created or truncated, mode 0600, fsynced); *stored_size as above.
 * decode: read the object at src (its codec: want, from its name), write
 * the plain file to dst (same), with the plaintext's sha256 and size.
 * On failure dst is removed. The _fd forms read in_fd to its end and
 * write out_fd from its current offset (no fsync, nothing removed).
 * err: SB_ERRMSG_MAX.
 */
enum sb_err	sb_codec_encode_file(const struct sb_codec *c,
		    const struct sb_keyring *ring, const char *src,
		    const char *dst, int64_t *stored_size, char *err);
enum sb_err	sb_codec_decode_file(const struct sb_keyring *ring,
		    const struct sb_codec *want, const char *src,
		    const char *dst, char sha256[SB_SHA256_HEX + 1],
		    int64_t *plain_size, char *err);
enum sb_err	sb_codec_encode_fd(const struct sb_codec *c,
		    const struct sb_keyring *ring, int in_fd, int out_fd,
		    int64_t *stored_size, char *err);
enum sb_err	sb_codec_decode_fd(const struct sb_keyring *ring,
		    const struct sb_codec *want, int in_fd, int out_fd,
		    char sha256[SB_SHA256_HEX + 1], int64_t *plain_size,
		    char *err);

/*
 * Sealed metadata. Seal plain (a NUL-terminated string of at most
 * SB_SEAL_PLAIN_MAX bytes) with the key key_id of the ring, bound to
 * context (e.g. the backup id; NULL or "" for none: unseal must be given
 * the same), into *out: "sb1.KEYID.BASE64URL" of at most SB_SEALED_MAX
 * bytes, ASCII, fit for any store's metadata value. Unseal: back to the
 * string; SB_ERR_KEY if the ring does not hold the key (or holds other
 * bytes under its id), SB_ERR_CORRUPT if the value was altered or was
 * sealed with another context, SB_ERR_INVAL if it is not a sealed value
 * at all (sb_is_sealed says which beforehand). *out is malloc'd: the
 * caller frees it. err: SB_ERRMSG_MAX.
 */
enum sb_err	sb_codec_seal(const struct sb_keyring *ring,
		    const char *key_id, const char *context, const char *plain,
		    char **out, char *err);
enum sb_err	sb_codec_unseal(const struct sb_keyring *ring,
		    const char *context, const char *sealed, char **out,
		    char *err);
int		 sb_is_sealed(const char *value);

#endif /* SB_CODEC_H */
