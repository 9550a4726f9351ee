/*
 * codec_key.c - the keyring (keys by id, in sodium_malloc'd memory: guard
 * pages, mlock'd where the system allows, wiped by sodium_free), key
 * generation, key check values, and sealed metadata values
 * (crypto_aead_xchacha20poly1305_ietf under a key derived from the ring's
 * key with crypto_kdf). Formats: docs/FORMAT.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "codec_int.h"
#include "config.h"

#define KEY_CHECK_CONST	"safbackup key check v1"
#define SEAL_PREFIX	"sb1."
#define SEAL_AD		"safbackup sealed v1"
#define SEAL_KDF_CTX	"sbsealmd"	/* crypto_kdf context: 8 bytes */
#define SEAL_KDF_ID	1
#define SEAL_CHECK	8		/* key check bytes in a sealed value */
#define SEAL_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_ABYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LINE_MAX_LEN	256		/* longest key file line we read */

struct sb_keyring {
	size_t		 n;
	int		 active;	/* index of the active key, -1 none */
	char		 id[SB_KEYRING_MAX][SB_KEY_ID_MAX + 1];
	unsigned char	*keys;		/* sodium_malloc'd SB_KEYRING_MAX keys */
};

static pthread_once_t	sodium_once = PTHREAD_ONCE_INIT;
static int		sodium_rc = -1;

static void
sodium_start(void)
{
	sodium_rc = sodium_init() < 0 ? -1 : 0;
}

enum sb_err
sb_codec_sodium(char *err)
{
	pthread_once(&sodium_once, sodium_start);
	if (sodium_rc != 0) {
		sb_seterr(err, "libsodium failed to start (sodium_init)");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

void
sb_key_check(const unsigned char *key, unsigned char out[SB_KEY_CHECK_BYTES])
{
	crypto_generichash(out, SB_KEY_CHECK_BYTES,
	    (const unsigned char *)KEY_CHECK_CONST, strlen(KEY_CHECK_CONST),
	    key, SB_KEY_BYTES);
}

const unsigned char *
sb_keyring_key(const struct sb_keyring *r, const char *id)
{
	if (r == NULL || id == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->id[i], id) == 0)
			return r->keys + i * SB_KEY_BYTES;
	return NULL;
}

size_t
sb_keyring_count(const struct sb_keyring *r)
{
	return r == NULL ? 0 : r->n;
}

const char *
sb_keyring_active(const struct sb_keyring *r)
{
	return r == NULL || r->active < 0 ? NULL : r->id[r->active];
}

int
sb_is_keyring_holding(const struct sb_keyring *r, const char *id)
{
	return sb_keyring_key(r, id) != NULL;
}

void
sb_keyring_free(struct sb_keyring **rp)
{
	struct sb_keyring	*r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	sodium_free(r->keys);	/* wipes before it releases */
	sodium_memzero(r, sizeof(*r));
	free(r);
	*rp = NULL;
}

/*
 * One key line, NUL-terminated in line (blanks around it trimmed): "ID
 * BASE64". Adds the key to r. Returns NULL, or why the line is refused
 * (never quoting the key).
 */
static const char *
ring_add(struct sb_keyring *r, char *line)
{
	unsigned char	 bin[64];
	char		*b64, *end;
	size_t		 binlen = 0;
	const char	*why = NULL;

	b64 = line + strcspn(line, " \t");
	if (*b64 == '\0')
		return "expected \"ID BASE64-KEY\"";
	*b64++ = '\0';
	b64 += strspn(b64, " \t");
	if (!sb_is_key_id(line))
		return "the key id must be 1 to 32 of A-Z a-z 0-9 . _ -";
	if (b64[strcspn(b64, " \t")] != '\0')
		return "expected \"ID BASE64-KEY\", found more words";
	if (sb_keyring_key(r, line) != NULL)
		return "duplicate key id";
	if (r->n >= SB_KEYRING_MAX)
		return "too many keys (at most 64)";
	if (sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL,
	    &binlen, (const char **)&end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *end != '\0')
		why = "the key is not base64 (RFC 4648, with padding)";
	else if (binlen != SB_KEY_BYTES)
		why = "the key is not 32 bytes (make one with backup-cron keygen)";
	else {
		memcpy(r->keys + r->n * SB_KEY_BYTES, bin, SB_KEY_BYTES);
		sb_strlcpy(r->id[r->n], line, sizeof(r->id[0]));
		r->n++;
	}
	sodium_memzero(bin, sizeof(bin));
	return why;
}

/* Add every line of text to r; "line N: why" in err on the first bad one. */
static enum sb_err
ring_lines(struct sb_keyring *r, const char *text, char *err)
{
	char		 line[LINE_MAX_LEN];
	const char	*p = text, *why = NULL;
	size_t		 len, n, lineno = 0;
	char		*s;

	while (p != NULL && *p != '\0' && why == NULL) {
		lineno++;
		len = strcspn(p, "\n");
		n = len;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			why = "line too long";
		else {
			memcpy(line, p, n);
			line[n] = '\0';
			s = line + strspn(line, " \t");
			while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
				line[--n] = '\0';
			if (*s != '\0' && *s != '#')
				why = ring_add(r, s);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	sodium_memzero(line, sizeof(line));
	if (why == NULL)
		return SB_OK;
	sb_seterr(err, "line %zu: %s", lineno, why);
	return SB_ERR_CONFIG;
}

enum sb_err
sb_keyring_parse(const char *text, const char *active,
    struct sb_keyring **out, char *err)
{
	struct sb_keyring	*r = NULL;
	enum sb_err		 rc;

	*out = NULL;
	if ((rc = sb_codec_sodium(err)) != SB_OK)
		return rc;
	rc = SB_ERR_NOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->keys = sodium_allocarray(SB_KEYRING_MAX, SB_KEY_BYTES)) ==
	    NULL) {
		sb_seterr(err, "out of memory");
		goto out;
	}
	r->active = -1;
	if ((rc = ring_lines(r, text, err)) != SB_OK)
		goto out;
	rc = SB_ERR_CONFIG;
	if (active != NULL) {
		for (size_t i = 0; i < r->n && r->active < 0; i++)
			if (strcmp(r->id[i], active) == 0)
				r->active = (int)i;
		if (r->active < 0) {
			sb_seterr(err, "[store] key_id '%s' is not in the "
			    "keyring", active);
			goto out;
		}
	} else if (r->n > 0)
		r->active = 0;
	sodium_mprotect_readonly(r->keys);
	*out = r;
	r = NULL;
	rc = SB_OK;
out:
	sb_keyring_free(&r);
	return rc;
}

enum sb_err
sb_keyring_load(const struct sb_config *cfg, struct sb_keyring **out,
    char *err)
{
	char		msg[SB_ERRMSG_MAX];
	enum sb_err	rc;

	*out = NULL;
	if ((rc = sb_keyring_parse(cfg->store_keys, cfg->store_key_id, out,
	    msg)) != SB_OK) {
		sb_seterr(err, "[store] keys (key_file or SAFBACKUP_STORE_KEYS)"
		    ": %s", msg);
		return rc;
	}
	if (cfg->store_encryption != SB_ENC_NONE && (*out)->n == 0) {
		sb_keyring_free(out);
		sb_seterr(err, "[store] encryption = %s and no key: generate "
		    "one with `(umask 077; backup-cron keygen > FILE)`, set "
		    "[store] key_file = FILE (or SAFBACKUP_STORE_KEYS); keep a "
		    "copy away from the backups (docs/OPERATIONS.md)",
		    sb_enc_str(cfg->store_encryption));
		return SB_ERR_CONFIG;
	}
	return SB_OK;
}

enum sb_err
sb_keyring_keygen(const char *id, char *line, size_t len)
{
	unsigned char	key[SB_KEY_BYTES];
	char		b64[sodium_base64_ENCODED_LEN(SB_KEY_BYTES,
			    sodium_base64_VARIANT_ORIGINAL)];
	char		defid[SB_KEY_ID_MAX + 1];
	struct tm	tm;
	time_t		now = time(NULL);
	int		n;

	if (id == NULL) {
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(defid, sizeof(defid), "key-%Y%m%d", &tm) == 0)
			return SB_ERR_INVAL;
		id = defid;
	}
	if (!sb_is_key_id(id) || sb_codec_sodium(NULL) != SB_OK)
		return SB_ERR_INVAL;
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, len, "%s %s\n", id, b64);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return n < 0 || (size_t)n >= len ? SB_ERR_INVAL : SB_OK;
}

/* ---- sealed values ----------------------------------------------------- */

/*
 * The additional data of a sealed value: the constant, the key id and
 * the context, each NUL-terminated, so that a value moved to another
 * backup (context) or relabelled to another key id fails.
 */
static size_t
seal_ad(const char *id, const char *context, unsigned char *buf, size_t len)
{
	int	n;

	n = snprintf((char *)buf, len, "%s%c%s%c%s", SEAL_AD, '\0', id, '\0',
	    context == NULL ? "" : context);
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

int
sb_is_sealed(const char *v)
{
	return v != NULL && strncmp(v, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0 &&
	    strchr(v + strlen(SEAL_PREFIX), '.') != NULL;
}

enum sb_err
sb_codec_seal(const struct sb_keyring *ring, const char *key_id,
    const char *context, const char *plain, char **out, char *err)
{
	unsigned char		 sub[SB_KEY_BYTES], ad[512];
	unsigned char		 raw[SEAL_CHECK + SEAL_NONCE +
				     SB_SEAL_PLAIN_MAX + SEAL_ABYTES];
	unsigned char		 check[SB_KEY_CHECK_BYTES];
	const unsigned char	*key;
	unsigned long long	 clen;
	size_t			 plen, adlen, b64len, pre;
	char			*s = NULL;
	enum sb_err		 rc;

	*out = NULL;
	if ((rc = sb_codec_sodium(err)) != SB_OK)
		return rc;
	if ((key = sb_keyring_key(ring, key_id)) == NULL) {
		sb_seterr(err, "the keyring holds no key '%s' to seal with",
		    key_id == NULL ? "" : key_id);
		return SB_ERR_KEY;
	}
	plen = strnlen(plain, SB_SEAL_PLAIN_MAX + 1);
	if (plen > SB_SEAL_PLAIN_MAX ||
	    (adlen = seal_ad(key_id, context, ad, sizeof(ad))) == 0) {
		sb_seterr(err, "too long to seal (at most %d bytes)",
		    SB_SEAL_PLAIN_MAX);
		return SB_ERR_INVAL;
	}
	sb_key_check(key, check);
	memcpy(raw, check, SEAL_CHECK);
	randombytes_buf(raw + SEAL_CHECK, SEAL_NONCE);
	crypto_kdf_derive_from_key(sub, sizeof(sub), SEAL_KDF_ID, SEAL_KDF_CTX,
	    key);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + SEAL_CHECK + SEAL_NONCE,
	    &clen, (const unsigned char *)plain, plen, ad, adlen, NULL,
	    raw + SEAL_CHECK, sub);
	sodium_memzero(sub, sizeof(sub));
	b64len = sodium_base64_ENCODED_LEN(SEAL_CHECK + SEAL_NONCE + clen,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	pre = strlen(SEAL_PREFIX) + strlen(key_id) + 1;
	if ((s = malloc(pre + b64len)) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	snprintf(s, pre + 1, "%s%s.", SEAL_PREFIX, key_id);
	sodium_bin2base64(s + pre, b64len, raw, SEAL_CHECK + SEAL_NONCE + clen,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = s;
	return SB_OK;
}

/* Split "sb1.ID.B64": id into id, payload decoded into raw (*rawlen). */
static enum sb_err
unseal_split(const char *sealed, char id[SB_KEY_ID_MAX + 1],
    unsigned char *raw, size_t rawcap, size_t *rawlen, char *err)
{
	const char	*p, *dot, *end;
	size_t		 n;

	if (!sb_is_sealed(sealed) || strlen(sealed) > SB_SEALED_MAX) {
		sb_seterr(err, "not a sealed value");
		return SB_ERR_INVAL;
	}
	p = sealed + strlen(SEAL_PREFIX);
	dot = strchr(p, '.');
	n = (size_t)(dot - p);
	if (n == 0 || n > SB_KEY_ID_MAX) {
		sb_seterr(err, "a sealed value with a bad key id");
		return SB_ERR_CORRUPT;
	}
	memcpy(id, p, n);
	id[n] = '\0';
	if (!sb_is_key_id(id) || sodium_base642bin(raw, rawcap, dot + 1,
	    strlen(dot + 1), NULL, rawlen, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || *end != '\0' ||
	    *rawlen < SEAL_CHECK + SEAL_NONCE + SEAL_ABYTES) {
		sb_seterr(err, "a damaged sealed value");
		return SB_ERR_CORRUPT;
	}
	return SB_OK;
}

enum sb_err
sb_codec_unseal(const struct sb_keyring *ring, const char *context,
    const char *sealed, char **out, char *err)
{
	unsigned char		 raw[SB_SEALED_MAX], sub[SB_KEY_BYTES], ad[512];
	unsigned char		 check[SB_KEY_CHECK_BYTES];
	char			 id[SB_KEY_ID_MAX + 1];
	const unsigned char	*key;
	unsigned long long	 plen;
	size_t			 rawlen, adlen;
	char			*s = NULL;
	enum sb_err		 rc;

	*out = NULL;
	if ((rc = sb_codec_sodium(err)) != SB_OK ||
	    (rc = unseal_split(sealed, id, raw, sizeof(raw), &rawlen, err)) !=
	    SB_OK)
		return rc;
	if ((key = sb_keyring_key(ring, id)) == NULL) {
		sb_seterr(err, "sealed with key '%s', which the keyring does "
		    "not hold", id);
		return SB_ERR_KEY;
	}
	sb_key_check(key, check);
	if (sodium_memcmp(check, raw, SEAL_CHECK) != 0) {
		sb_seterr(err, "sealed with another key than the keyring's "
		    "'%s'", id);
		return SB_ERR_KEY;
	}
	if ((adlen = seal_ad(id, context, ad, sizeof(ad))) == 0 ||
	    (s = malloc(rawlen)) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	crypto_kdf_derive_from_key(sub, sizeof(sub), SEAL_KDF_ID, SEAL_KDF_CTX,
	    key);
	rc = SB_ERR_CORRUPT;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)s,
	    &plen, NULL, raw + SEAL_CHECK + SEAL_NONCE,
	    rawlen - SEAL_CHECK - SEAL_NONCE, ad, adlen, raw + SEAL_CHECK,
	    sub) != 0 || memchr(s, '\0', (size_t)plen) != NULL)
		sb_seterr(err, "a sealed value failed authentication (altered, "
		    "or moved from another backup)");
	else {
		s[plen] = '\0';
		*out = s;
		s = NULL;
		rc = SB_OK;
	}
	sodium_memzero(sub, sizeof(sub));
	free(s);
	return rc;
}
