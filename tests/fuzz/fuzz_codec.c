/*
 * fuzz_codec.c - libFuzzer harness for the codec's decoder (header parser,
 * message framing, zstd, secretstream) and for sealed metadata values.
 *
 * Input: one mode byte, one split byte, then the stored bytes. The mode
 * picks what the object's name would say (zstd, encrypted, both) or the
 * sealed-value parser; the keyring holds the key the seeds in
 * corpus/codec were made with (bytes 0..31, id "k1"), so mutations reach
 * past the header. Properties: the decoder gives the same verdict, the
 * same plaintext and the same sha256 whatever the split of its input;
 * what it gives out is what it hashed and counted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define KEYS	"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n" \
		"k2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n"
#define OUT_MAX	(4 * 1024 * 1024)	/* plaintext kept for comparison */

struct out {
	unsigned char	*p;
	size_t		 n;
	EVP_MD_CTX	*sha;
};

static int
out_write(void *arg, const void *buf, size_t len)
{
	struct out	*o = arg;

	if (len == 0)
		abort();	/* the decoder never writes nothing */
	if (o->n + len <= OUT_MAX)
		memcpy(o->p + o->n, buf, len);
	o->n += len;
	EVP_DigestUpdate(o->sha, buf, len);
	return 0;
}

/* Decode data in pieces of split bytes: the verdict, the plaintext in o. */
static enum sb_err
run(const struct sb_keyring *r, const struct sb_codec *want,
    const uint8_t *data, size_t size, size_t split, struct out *o,
    char sha[SB_SHA256_HEX + 1], int64_t *n)
{
	struct sb_decoder	*d = NULL;
	unsigned char		 md[32];
	unsigned int		 mdlen;
	char			 err[SB_ERRMSG_MAX], mine[SB_SHA256_HEX + 1];
	enum sb_err		 rc = SB_OK;

	o->n = 0;
	EVP_DigestInit_ex(o->sha, EVP_sha256(), NULL);
	if (sb_decoder_new(r, want, out_write, o, &d, err) != SB_OK)
		abort();
	for (size_t i = 0; i < size && rc == SB_OK; i += split)
		rc = sb_decoder_write(d, data + i, size - i < split ? size - i :
		    split);
	if (rc == SB_OK)
		rc = sb_decoder_finish(d, sha, n);
	if (rc == SB_OK) {
		EVP_DigestFinal_ex(o->sha, md, &mdlen);
		sb_hex(md, mdlen, mine);
		if (strcmp(mine, sha) != 0 || *n != (int64_t)o->n)
			abort();
	} else if (sb_decoder_errmsg(d)[0] == '\0')
		abort();	/* every refusal says why */
	sb_decoder_free(&d);
	return rc;
}

static void
unseal(const struct sb_keyring *r, const uint8_t *data, size_t size)
{
	char	*s, *u = NULL, err[SB_ERRMSG_MAX];

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (sb_codec_unseal(r, "ctx", s, &u, err) == SB_OK &&
	    strlen(u) > SB_SEAL_PLAIN_MAX)
		abort();
	free(u);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sb_keyring	*ring;
	static struct out		 a, b;
	struct sb_codec			 want;
	char				 err[SB_ERRMSG_MAX];
	char				 sha1[SB_SHA256_HEX + 1] = "";
	char				 sha2[SB_SHA256_HEX + 1] = "";
	int64_t				 n1 = -1, n2 = -1;
	enum sb_err			 rc1, rc2;
	size_t				 split;

	if (ring == NULL) {
		if (sb_keyring_parse(KEYS, NULL, &ring, err) != SB_OK ||
		    (a.p = malloc(OUT_MAX)) == NULL ||
		    (b.p = malloc(OUT_MAX)) == NULL ||
		    (a.sha = EVP_MD_CTX_new()) == NULL ||
		    (b.sha = EVP_MD_CTX_new()) == NULL)
			abort();
	}
	if (size < 2)
		return 0;
	memset(&want, 0, sizeof(want));
	switch (data[0] % 4) {
	case 0:
		unseal(ring, data + 2, size - 2);
		return 0;
	case 1:
		want.comp = SB_COMP_ZSTD;
		break;
	case 2:
		want.enc = SB_ENC_XCHACHA;
		break;
	default:
		want.comp = SB_COMP_ZSTD;
		want.enc = SB_ENC_XCHACHA;
		break;
	}
	split = (size_t)data[1] + 1;
	rc1 = run(ring, &want, data + 2, size - 2, split, &a, sha1, &n1);
	rc2 = run(ring, &want, data + 2, size - 2, SIZE_MAX, &b, sha2, &n2);
	if (rc1 != rc2)
		abort();
	if (rc1 == SB_OK && (n1 != n2 || strcmp(sha1, sha2) != 0 ||
	    (a.n <= OUT_MAX && memcmp(a.p, b.p, a.n) != 0)))
		abort();
	return 0;
}
