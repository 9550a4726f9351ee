/*
 * azure_auth.c - Azure credentials: connection strings, the account key,
 * SAS tokens, and Shared Key request signing; plus the encodings the
 * requests need (base64, percent-encoding, metadata values, HTTP dates).
 *
 * Secrets (the key, the SAS, the connection string) never reach an error
 * message: messages name the setting that is wrong, not its value.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "azure.h"
#include "config.h"

/* The Azurite development account key: public, documented by Microsoft. */
#define AZ_DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu" \
	"Fq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define AZ_DEV_ENDPOINT "http://127.0.0.1:10000/devstoreaccount1"

/*
 * Encode len bytes of in as base64 with padding (RFC 4648) into out
 * (outlen bytes, NUL included), with OpenSSL's EVP_EncodeBlock. Returns
 * SB_OK, or SB_ERR_INVAL if out is too small.
 */
enum sb_err
az_b64_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	if (len > INT_MAX / 4 * 3 - 3 || outlen < (len + 2) / 3 * 4 + 1)
		return SB_ERR_INVAL;
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return SB_OK;
}

/*
 * Decode base64 (RFC 4648 alphabet; padding optional, no whitespace)
 * with OpenSSL's EVP_DecodeBlock, which wants whole quanta and counts
 * the padding as bytes: we add the padding a key may lack and drop the
 * bytes it stood for. *out is heap-allocated, freed by the caller (with
 * OPENSSL_cleanse first when it is a secret). Returns SB_ERR_INVAL on a
 * malformed input.
 */
enum sb_err
az_b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
	size_t		 len, full, pad, cap;
	char		*tmp = NULL;
	unsigned char	*buf = NULL;
	int		 n, rc = SB_ERR_INVAL;

	*out = NULL;
	*outlen = 0;
	full = strlen(in);
	for (len = full; len > 0 && in[len - 1] == '='; len--)
		;
	/* EVP_DecodeBlock would skip blanks at either end: we do not. */
	if (len == 0 || full - len > 2 || len % 4 == 1 || full > INT_MAX / 2 ||
	    isspace((unsigned char)in[0]) ||
	    isspace((unsigned char)in[len - 1]))
		return SB_ERR_INVAL;
	pad = (4 - len % 4) % 4;
	cap = len + pad;
	if ((tmp = malloc(cap + 1)) == NULL || (buf = malloc(cap)) == NULL) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	memcpy(tmp, in, len);
	memset(tmp + len, '=', pad);
	tmp[cap] = '\0';
	if ((n = EVP_DecodeBlock(buf, (unsigned char *)tmp, (int)cap)) < 0 ||
	    (size_t)n < pad)
		goto out;
	*out = buf;
	*outlen = (size_t)n - pad;
	buf = NULL;
	rc = SB_OK;
out:
	if (tmp != NULL) {
		OPENSSL_cleanse(tmp, cap + 1);
		free(tmp);
	}
	if (buf != NULL) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	return rc;
}

/* Content-MD5 (RFC 1864) of a buffer, base64. */
enum sb_err
az_md5_buf(const unsigned char *buf, size_t len, char out[32])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return SB_ERR_STORAGE;
	return az_b64_encode(md, mdlen, out, 32);
}

/* Content-MD5 of len bytes of fd at off, read in AZ_CHUNK
 * pieces into chunk (AZ_CHUNK bytes); *eno: errno of a failed read. */
enum sb_err
az_md5_file(int fd, off_t off, uint64_t len, unsigned char *chunk, char out[32],
    int *eno)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	EVP_MD_CTX	*ctx;
	ssize_t		 got;
	size_t		 want;
	int		 rc = SB_ERR_STORAGE;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SB_ERR_NOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto out;
	while (len > 0) {
		want = len > AZ_CHUNK ? AZ_CHUNK : (size_t)len;
		do
			got = pread(fd, chunk, want, off);
		while (got == -1 && errno == EINTR);
		if (got <= 0) {
			*eno = got == 0 ? EIO : errno;
			rc = SB_ERR_IO;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, chunk, (size_t)got) != 1)
			goto out;
		off += got;
		len -= (uint64_t)got;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto out;
	rc = az_b64_encode(md, mdlen, out, 32);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}


void
az_connstr_clear(struct az_connstr *cs)
{
	free(cs->account);
	if (cs->key != NULL)
		OPENSSL_cleanse(cs->key, strlen(cs->key));
	free(cs->key);
	free(cs->endpoint);
	if (cs->sas != NULL)
		OPENSSL_cleanse(cs->sas, strlen(cs->sas));
	free(cs->sas);
	memset(cs, 0, sizeof(*cs));
}

static int
setdup(char **dst, const char *s, size_t len)
{
	free(*dst);
	if ((*dst = strndup(s, len)) == NULL)
		return SB_ERR_NOMEM;
	return SB_OK;
}

/*
 * Parse an Azure Storage connection string ("Configure Azure Storage
 * connection strings"): ';'-separated Key=Value pairs, keys
 * case-insensitive, values taken up to the ';' (they may hold '=').
 * Understands AccountName, AccountKey, BlobEndpoint,
 * DefaultEndpointsProtocol, EndpointSuffix, SharedAccessSignature and
 * UseDevelopmentStorage=true (the Azurite defaults). Unknown keys are
 * ignored. cs is filled with heap strings: az_connstr_clear() frees them.
 * Errors name the key, never a value.
 */
int
az_connstr_parse(const char *s, struct az_connstr *cs, char *err)
{
	const char	*p = s, *end, *eq, *vend;
	char		*proto = NULL, *suffix = NULL;
	size_t		 klen;
	int		 rc = SB_ERR_NOMEM, dev = 0;

	memset(cs, 0, sizeof(*cs));
	while (*p != '\0') {
		if ((end = strchr(p, ';')) == NULL)
			end = p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end) {
			p = *end ? end + 1 : end;
			continue;
		}
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
			sb_seterr(err, "azure connection string: a part "
			    "has no '='");
			rc = SB_ERR_CONFIG;
			goto out;
		}
		klen = (size_t)(eq - p);
		while (klen > 0 && isspace((unsigned char)p[klen - 1]))
			klen--;
		eq++;
		vend = end;
		while (vend > eq && isspace((unsigned char)vend[-1]))
			vend--;
#define KEYIS(k) (klen == strlen(k) && strncasecmp(p, k, klen) == 0)
		if (KEYIS("AccountName"))
			rc = setdup(&cs->account, eq, (size_t)(vend - eq));
		else if (KEYIS("AccountKey"))
			rc = setdup(&cs->key, eq, (size_t)(vend - eq));
		else if (KEYIS("BlobEndpoint"))
			rc = setdup(&cs->endpoint, eq, (size_t)(vend - eq));
		else if (KEYIS("SharedAccessSignature"))
			rc = setdup(&cs->sas, eq, (size_t)(vend - eq));
		else if (KEYIS("DefaultEndpointsProtocol"))
			rc = setdup(&proto, eq, (size_t)(vend - eq));
		else if (KEYIS("EndpointSuffix"))
			rc = setdup(&suffix, eq, (size_t)(vend - eq));
		else if (KEYIS("UseDevelopmentStorage")) {
			dev = (size_t)(vend - eq) == 4 &&
			    strncasecmp(eq, "true", 4) == 0;
			rc = SB_OK;
		} else
			rc = SB_OK;
#undef KEYIS
		if (rc != SB_OK)
			goto out;
		p = *end ? end + 1 : end;
	}
	rc = SB_ERR_NOMEM;
	if (dev) {
		if (cs->account == NULL &&
		    (cs->account = strdup(AZ_DEV_ACCOUNT)) == NULL)
			goto out;
		if (cs->key == NULL && cs->sas == NULL &&
		    (cs->key = strdup(AZ_DEV_KEY)) == NULL)
			goto out;
		if (cs->endpoint == NULL &&
		    (cs->endpoint = strdup(AZ_DEV_ENDPOINT)) == NULL)
			goto out;
	}
	if (cs->sas != NULL && cs->sas[0] == '?')
		memmove(cs->sas, cs->sas + 1, strlen(cs->sas));
	if (cs->endpoint == NULL && cs->account != NULL) {
		char	buf[512];
		int	n;

		n = snprintf(buf, sizeof(buf), "%s://%s.blob.%s",
		    proto != NULL ? proto : "https", cs->account,
		    suffix != NULL ? suffix : "core.windows.net");
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			sb_seterr(err, "azure connection string: "
			    "AccountName or EndpointSuffix too long");
			rc = SB_ERR_CONFIG;
			goto out;
		}
		if ((cs->endpoint = strdup(buf)) == NULL)
			goto out;
	}
	rc = SB_OK;
out:
	free(proto);
	free(suffix);
	if (rc != SB_OK) {
		az_connstr_clear(cs);
		if (rc == SB_ERR_NOMEM)
			sb_seterr(err, "out of memory");
	}
	return rc;
}

void
az_cred_clear(struct az_cred *c)
{
	free(c->account);
	free(c->endpoint);
	if (c->key != NULL)
		OPENSSL_cleanse(c->key, c->keylen);
	free(c->key);
	if (c->sas != NULL)
		OPENSSL_cleanse(c->sas, strlen(c->sas));
	free(c->sas);
	memset(c, 0, sizeof(*c));
}

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/*
 * Resolve the credentials from the config: explicit account, endpoint,
 * key and SAS first, the connection string for whatever they leave out.
 * The endpoint defaults to https://<account>.blob.core.windows.net; with
 * Azurite it is path-style, http://127.0.0.1:PORT/<account>. A key is
 * preferred over a SAS when both are given. c is filled with heap
 * strings; az_cred_clear() frees them. Returns SB_ERR_CONFIG with a
 * message naming the setting (never a secret) when something is missing.
 */
int
az_cred_init(struct az_cred *c, const struct sb_config *cfg, char *err)
{
	struct az_connstr	 cs;
	const char		*account, *endpoint, *key, *sas, *p;
	char			 buf[512];
	size_t			 len;
	int			 rc, n;

	memset(c, 0, sizeof(*c));
	memset(&cs, 0, sizeof(cs));
	if (!empty(cfg->az_connstr) &&
	    (rc = az_connstr_parse(cfg->az_connstr, &cs, err)) != SB_OK)
		return rc;
	account = !empty(cfg->az_account) ? cfg->az_account : cs.account;
	endpoint = !empty(cfg->az_endpoint) ? cfg->az_endpoint : cs.endpoint;
	key = !empty(cfg->az_key) ? cfg->az_key : cs.key;
	sas = !empty(cfg->az_sas) ? cfg->az_sas : cs.sas;

	rc = SB_ERR_CONFIG;
	if (empty(key) && empty(sas)) {
		sb_seterr(err, "azure: no credentials: set a key, a SAS "
		    "token or a connection string");
		goto out;
	}
	if (empty(account) && !empty(key)) {
		sb_seterr(err, "azure: the account name is not set");
		goto out;
	}
	if (empty(endpoint)) {
		if (empty(account)) {
			sb_seterr(err, "azure: set the endpoint or the "
			    "account name");
			goto out;
		}
		n = snprintf(buf, sizeof(buf),
		    "https://%s.blob.core.windows.net", account);
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			sb_seterr(err, "azure: account name too long");
			goto out;
		}
		endpoint = buf;
	}
	if (strncmp(endpoint, "http://", 7) != 0 &&
	    strncmp(endpoint, "https://", 8) != 0) {
		sb_seterr(err, "azure: endpoint must start with http:// or "
		    "https://");
		goto out;
	}
	rc = SB_ERR_NOMEM;
	if ((c->endpoint = strdup(endpoint)) == NULL)
		goto out;
	len = strlen(c->endpoint);
	while (len > 0 && c->endpoint[len - 1] == '/')
		c->endpoint[--len] = '\0';
	p = strstr(c->endpoint, "://") + 3;
	c->path = (p = strchr(p, '/')) != NULL ? p : c->endpoint + len;
	if (!empty(account) && (c->account = strdup(account)) == NULL)
		goto out;
	if (!empty(key)) {
		rc = az_b64_decode(key, &c->key, &c->keylen);
		if (rc == SB_ERR_INVAL) {
			sb_seterr(err, "azure: the account key is not valid "
			    "base64");
			rc = SB_ERR_CONFIG;
		}
		if (rc != SB_OK)
			goto out;
	} else {
		if (sas[0] == '?')
			sas++;
		if ((c->sas = strdup(sas)) == NULL)
			goto out;
	}
	rc = SB_OK;
out:
	az_connstr_clear(&cs);
	if (rc == SB_ERR_NOMEM)
		sb_seterr(err, "out of memory");
	if (rc != SB_OK)
		az_cred_clear(c);
	return rc;
}

/* Which bytes an encoding keeps as they are. */
enum pct_keep {
	KEEP_UNRESERVED,	/* RFC 3986 unreserved */
	KEEP_UNRESERVED_SLASH,	/* the same and '/' (a blob name in a path) */
	KEEP_PRINTABLE		/* printable ASCII but '%' (metadata values) */
};

static int
pct_keeps(unsigned char c, enum pct_keep k)
{
	if (k == KEEP_PRINTABLE)
		return c > 0x20 && c < 0x7f && c != '%';
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
	    (k == KEEP_UNRESERVED_SLASH && c == '/');
}

/* Percent-encode s, every byte not kept becoming %XX. *out: caller frees. */
static int
pct_encode(const char *s, enum pct_keep keep, char **out)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 len = strlen(s), o = 0;
	const unsigned char	*p;
	char			*buf;

	*out = NULL;
	if (len > (SIZE_MAX - 1) / 3)
		return SB_ERR_INVAL;
	if ((buf = malloc(len * 3 + 1)) == NULL)
		return SB_ERR_NOMEM;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (pct_keeps(*p, keep))
			buf[o++] = (char)*p;
		else {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o] = '\0';
	*out = buf;
	return SB_OK;
}

/*
 * Percent-encode s (RFC 3986): unreserved characters stay, '/' stays when
 * keep_slash (a blob name in a URL path), every other byte becomes %XX.
 * *out is heap-allocated; the caller frees it.
 */
int
az_url_encode(const char *s, int keep_slash, char **out)
{
	return pct_encode(s, keep_slash ? KEEP_UNRESERVED_SLASH :
	    KEEP_UNRESERVED, out);
}

/*
 * Metadata values travel as HTTP header values: printable ASCII stays,
 * everything else (UTF-8, blanks, controls) and '%' become %XX, so any
 * UTF-8 string comes back byte for byte. *out: caller frees.
 */
int
az_meta_encode(const char *s, char **out)
{
	return pct_encode(s, KEEP_PRINTABLE, out);
}

/*
 * The size of m toward Azure's 8 KiB metadata limit: the limit covers
 * names and values as they are stored, that is the key (without the
 * x-ms-meta- header prefix) and the value after az_meta_encode().
 */
int
az_meta_size(const struct sb_meta *m, size_t *out)
{
	char	*enc = NULL;
	size_t	 total = 0;
	int	 rc;

	*out = 0;
	for (size_t i = 0; m != NULL && i < m->n; i++) {
		if ((rc = az_meta_encode(m->kv[i].val, &enc)) != SB_OK)
			return rc;
		total += strlen(m->kv[i].key) + strlen(enc);
		free(enc);
	}
	*out = total;
	return SB_OK;
}

/*
 * Undo az_meta_encode(). A '%' not followed by two hex digits is kept as
 * is (a value some other tool wrote). A %00 would truncate the string, so
 * it is kept encoded. *out heap-allocated, freed by the caller.
 */
int
az_meta_decode(const char *s, char **out)
{
	size_t	 o = 0;
	char	*buf;
	int	 hi, lo;

	if ((buf = malloc(strlen(s) + 1)) == NULL) {
		*out = NULL;
		return SB_ERR_NOMEM;
	}
	for (; *s != '\0'; s++) {
		if (*s == '%' && (hi = sb_hexval((unsigned char)s[1])) >= 0 &&
		    (lo = sb_hexval((unsigned char)s[2])) >= 0 &&
		    (hi | lo) != 0) {
			buf[o++] = (char)(hi << 4 | lo);
			s += 2;
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	*out = buf;
	return SB_OK;
}

/*
 * An HTTP date ("Tue, 04 Sep 2012 19:12:43 GMT", RFC 9110 section 5.6.7),
 * which Azure uses for Last-Modified, in ms since the epoch, parsed by
 * libcurl's curl_getdate. Returns -1 when s is not a date.
 */
int64_t
az_http_date(const char *s)
{
	time_t	t = curl_getdate(s, NULL);

	return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

/* Compare "name:value" lines by name only (the part before ':'). */
static int
hdrcmp(const void *a, const void *b)
{
	const char	*x = *(const char *const *)a;
	const char	*y = *(const char *const *)b;
	size_t		 lx = strcspn(x, ":"), ly = strcspn(y, ":");
	int		 c;

	if ((c = memcmp(x, y, lx < ly ? lx : ly)) != 0)
		return c;
	return (lx > ly) - (lx < ly);
}

static int
qpcmp(const void *a, const void *b)
{
	return strcmp(((const struct az_qp *)a)->name,
	    ((const struct az_qp *)b)->name);
}

/* Append s to the bounded buffer; returns -1 once it no longer fits. */
static int
cat(char *buf, size_t len, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n >= len)
		return -1;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 0;
}

/*
 * Sign a request with Shared Key ("Authorize with Shared Key", the
 * string-to-sign of versions 2015-02-21 and later):
 *
 *   VERB\n Content-Encoding\n Content-Language\n Content-Length\n
 *   Content-MD5\n Content-Type\n Date\n If-Modified-Since\n If-Match\n
 *   If-None-Match\n If-Unmodified-Since\n Range\n
 *   CanonicalizedHeaders CanonicalizedResource
 *
 * Content-Length is empty when zero; we send the date as x-ms-date and
 * ranges as x-ms-range, so Date and Range stay empty. The canonicalized
 * headers are the x-ms-* lines sorted by name, each "name:value\n"; the
 * canonicalized resource is "/<account><path>" then "\n<name>:<value>"
 * for each query parameter in name order (values not encoded). Writes
 * "SharedKey <account>:<base64 HMAC-SHA256>" into auth.
 */
int
az_sign(const struct az_cred *c, const struct az_sigreq *r, char *auth,
    size_t authlen)
{
	const char	*hdrs[AZ_QP_MAX + SB_META_MAX + 8];
	struct az_qp	 qp[AZ_QP_MAX];
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		 b64[64], num[32];
	char		*sts = NULL;
	size_t		 stslen = 64 * 1024, off = 0, i;
	int		 rc = SB_ERR_INVAL, n;

	if (c->key == NULL || r->nxms > sizeof(hdrs) / sizeof(hdrs[0]) ||
	    r->nqp > AZ_QP_MAX)
		return SB_ERR_INVAL;
	if ((sts = malloc(stslen)) == NULL)
		return SB_ERR_NOMEM;
	sts[0] = '\0';
	memcpy(hdrs, r->xms, r->nxms * sizeof(hdrs[0]));
	qsort(hdrs, r->nxms, sizeof(hdrs[0]), hdrcmp);
	if (r->nqp > 0)
		memcpy(qp, r->qp, r->nqp * sizeof(qp[0]));
	qsort(qp, r->nqp, sizeof(qp[0]), qpcmp);
	num[0] = '\0';
	if (r->content_length > 0)
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)r->content_length);

	if (cat(sts, stslen, &off, r->method) || cat(sts, stslen, &off,
	    "\n\n\n") || cat(sts, stslen, &off, num) ||
	    cat(sts, stslen, &off, "\n") ||
	    cat(sts, stslen, &off, r->content_md5 ? r->content_md5 : "") ||
	    cat(sts, stslen, &off, "\n") ||
	    cat(sts, stslen, &off, r->content_type ? r->content_type : "") ||
	    cat(sts, stslen, &off, "\n\n\n") ||
	    cat(sts, stslen, &off, r->if_match ? r->if_match : "") ||
	    cat(sts, stslen, &off, "\n") ||
	    cat(sts, stslen, &off, r->if_none_match ? r->if_none_match : "") ||
	    cat(sts, stslen, &off, "\n\n\n"))
		goto out;
	for (i = 0; i < r->nxms; i++)
		if (cat(sts, stslen, &off, hdrs[i]) ||
		    cat(sts, stslen, &off, "\n"))
			goto out;
	if (cat(sts, stslen, &off, "/") ||
	    cat(sts, stslen, &off, c->account) ||
	    cat(sts, stslen, &off, r->path))
		goto out;
	for (i = 0; i < r->nqp; i++)
		if (cat(sts, stslen, &off, "\n") ||
		    cat(sts, stslen, &off, qp[i].name) ||
		    cat(sts, stslen, &off, ":") ||
		    cat(sts, stslen, &off, qp[i].val))
			goto out;

	if (HMAC(EVP_sha256(), c->key, (int)c->keylen,
	    (const unsigned char *)sts, off, mac, &maclen) == NULL) {
		rc = SB_ERR_STORAGE;
		goto out;
	}
	if ((rc = az_b64_encode(mac, maclen, b64, sizeof(b64))) != SB_OK)
		goto out;
	n = snprintf(auth, authlen, "Authorization: SharedKey %s:%s",
	    c->account, b64);
	rc = (n < 0 || (size_t)n >= authlen) ? SB_ERR_INVAL : SB_OK;
out:
	free(sts);
	return rc;
}
