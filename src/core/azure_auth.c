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
#include "secret.h"

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
	sb_secret_wipe(tmp, cap + 1);
	sb_secret_wipe(buf, cap);
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


/*
 * Azure's naming rules ("Storage account overview": 3 to 24 lowercase
 * letters and digits; "Naming and Referencing Containers, Blobs, and
 * Metadata": 3 to 63 of lowercase letters, digits and single hyphens,
 * starting and ending with a letter or digit).
 */
int
sb_is_azure_account(const char *s)
{
	size_t	n = s != NULL ? strlen(s) : 0;

	if (n < 3 || n > 24)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

int
sb_is_azure_container(const char *s)
{
	size_t	n = s != NULL ? strlen(s) : 0;

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' ||
	    strstr(s, "--") != NULL)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-'))
			return 0;
	return 1;
}

/* An http:// or https:// URL with something after the scheme. */
int
sb_is_http_url(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
	    (strncmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/*
 * The default Blob endpoint of an account, "<proto>://<account>.blob.
 * <suffix>", proto https and suffix core.windows.net when NULL: the one
 * place it is built. SB_ERR_CONFIG when it does not fit in buf.
 */
enum sb_err
az_endpoint_default(const char *proto, const char *account,
    const char *suffix, char *buf, size_t len)
{
	int	n;

	n = snprintf(buf, len, "%s://%s.blob.%s", proto != NULL ? proto :
	    "https", account, suffix != NULL ? suffix : "core.windows.net");
	return n < 0 || (size_t)n >= len ? SB_ERR_CONFIG : SB_OK;
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

/* The keys of a connection string, and what each is to us. */
enum cs_key {
	CS_ACCOUNT,	/* AccountName */
	CS_KEY,		/* AccountKey (secret) */
	CS_BLOB,	/* BlobEndpoint */
	CS_SAS,		/* SharedAccessSignature (secret) */
	CS_PROTO,	/* DefaultEndpointsProtocol */
	CS_SUFFIX,	/* EndpointSuffix */
	CS_DEV,		/* UseDevelopmentStorage */
	CS_OTHER,	/* another service's endpoint: allowed, not ours */
	CS__MAX
};

static const struct {
	const char	*name;
	enum cs_key	 key;
} cs_keys[] = {
	{ "AccountName", CS_ACCOUNT },
	{ "AccountKey", CS_KEY },
	{ "BlobEndpoint", CS_BLOB },
	{ "SharedAccessSignature", CS_SAS },
	{ "DefaultEndpointsProtocol", CS_PROTO },
	{ "EndpointSuffix", CS_SUFFIX },
	{ "UseDevelopmentStorage", CS_DEV },
	{ "QueueEndpoint", CS_OTHER },
	{ "TableEndpoint", CS_OTHER },
	{ "FileEndpoint", CS_OTHER },
};

/* The values of one connection string by key, heap, "" when empty. */
struct cs_vals {
	char	*v[CS__MAX];
};

static void
cs_vals_clear(struct cs_vals *cv)
{
	for (size_t i = 0; i < CS__MAX; i++) {
		if (cv->v[i] != NULL)
			OPENSSL_cleanse(cv->v[i], strlen(cv->v[i]));
		free(cv->v[i]);
		cv->v[i] = NULL;
	}
}

/* Trim blanks off both ends of [*p, *end). */
static void
trim(const char **p, const char **end)
{
	while (*p < *end && isspace((unsigned char)**p))
		(*p)++;
	while (*end > *p && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

/*
 * One part "Name=Value" (n-th, from 1) into cv. Names are matched
 * without regard to case; a name we do not know is refused.
 */
static enum sb_err
cs_part(const char *p, const char *end, size_t n, struct cs_vals *cv,
    char *err)
{
	const char	*eq, *nend, *v;
	size_t		 i;
	enum cs_key	 k;

	if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL || eq == p) {
		sb_seterr(err, "connection string: part %zu is not Name=Value",
		    n);
		return SB_ERR_CONFIG;
	}
	nend = eq;
	v = eq + 1;
	trim(&p, &nend);
	trim(&v, &end);
	for (i = 0; i < sizeof(cs_keys) / sizeof(cs_keys[0]); i++)
		if (strlen(cs_keys[i].name) == (size_t)(nend - p) &&
		    strncasecmp(cs_keys[i].name, p, (size_t)(nend - p)) == 0)
			break;
	if (i == sizeof(cs_keys) / sizeof(cs_keys[0])) {
		sb_seterr(err, "connection string: unknown key '%.*s'",
		    (int)(nend - p > 64 ? 64 : nend - p), p);
		return SB_ERR_CONFIG;
	}
	k = cs_keys[i].key;
	if (cv->v[k] != NULL) {
		OPENSSL_cleanse(cv->v[k], strlen(cv->v[k]));
		free(cv->v[k]);
	}
	if ((cv->v[k] = strndup(v, (size_t)(end - v))) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	return SB_OK;
}

/* Check the values and turn them into cs (see az_connstr_parse). */
static enum sb_err
cs_build(struct cs_vals *cv, struct az_connstr *cs, char *err)
{
	const char	*proto = cv->v[CS_PROTO], *blob = cv->v[CS_BLOB];
	char		 ep[512];
	size_t		 len;

	if (cv->v[CS_DEV] != NULL) {
		if (strcasecmp(cv->v[CS_DEV], "true") != 0) {
			sb_seterr(err, "connection string: "
			    "UseDevelopmentStorage must be true");
			return SB_ERR_CONFIG;
		}
		if (cv->v[CS_ACCOUNT] == NULL)
			cv->v[CS_ACCOUNT] = strdup(AZ_DEV_ACCOUNT);
		if (cv->v[CS_KEY] == NULL && cv->v[CS_SAS] == NULL)
			cv->v[CS_KEY] = strdup(AZ_DEV_KEY);
		if (blob == NULL)
			blob = AZ_DEV_ENDPOINT;
		if (cv->v[CS_ACCOUNT] == NULL ||
		    (cv->v[CS_KEY] == NULL && cv->v[CS_SAS] == NULL)) {
			sb_seterr(err, "out of memory");
			return SB_ERR_NOMEM;
		}
	}
	if (proto != NULL && strcmp(proto, "http") != 0 &&
	    strcmp(proto, "https") != 0) {
		sb_seterr(err, "connection string: DefaultEndpointsProtocol "
		    "must be http or https");
		return SB_ERR_CONFIG;
	}
	if (cv->v[CS_ACCOUNT] != NULL &&
	    !sb_is_azure_account(cv->v[CS_ACCOUNT])) {
		sb_seterr(err, "connection string: AccountName is not an Azure "
		    "storage account name (3 to 24 lowercase letters and "
		    "digits)");
		return SB_ERR_CONFIG;
	}
	if (blob != NULL) {
		if (!sb_is_http_url(blob)) {
			sb_seterr(err, "connection string: BlobEndpoint must be "
			    "an http:// or https:// URL");
			return SB_ERR_CONFIG;
		}
		for (len = strlen(blob); len > 0 && blob[len - 1] == '/'; len--)
			;
		snprintf(ep, sizeof(ep), "%.*s", (int)len, blob);
	} else if (cv->v[CS_ACCOUNT] != NULL &&
	    az_endpoint_default(proto, cv->v[CS_ACCOUNT], cv->v[CS_SUFFIX],
	    ep, sizeof(ep)) != SB_OK) {
		sb_seterr(err, "connection string: EndpointSuffix too long");
		return SB_ERR_CONFIG;
	}
	if ((blob != NULL || cv->v[CS_ACCOUNT] != NULL) &&
	    (cs->endpoint = strdup(ep)) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	/* The secrets move to cs; a SAS loses the '?' portals show. */
	cs->account = cv->v[CS_ACCOUNT];
	cs->key = cv->v[CS_KEY];
	cs->sas = cv->v[CS_SAS];
	cv->v[CS_ACCOUNT] = cv->v[CS_KEY] = cv->v[CS_SAS] = NULL;
	if (cs->sas != NULL && cs->sas[0] == '?')
		memmove(cs->sas, cs->sas + 1, strlen(cs->sas));
	return SB_OK;
}

/*
 * Parse an Azure Storage connection string ("Configure Azure Storage
 * connection strings"): Name=Value parts separated by ';', blanks around
 * names and values ignored, empty parts skipped, values taken up to the
 * ';' (base64 keys end in '='). The one rule for names, here and at
 * config load: case does not matter (as in Azure's SDKs and tools), and
 * a name that is not AccountName, AccountKey, BlobEndpoint,
 * SharedAccessSignature, DefaultEndpointsProtocol, EndpointSuffix,
 * UseDevelopmentStorage, or another service's endpoint (QueueEndpoint,
 * TableEndpoint, FileEndpoint) is an error: a typo must not silently
 * drop a setting. UseDevelopmentStorage=true stands for Azurite's
 * documented account, key and endpoint. The endpoint is BlobEndpoint, or
 * built from the protocol, account and suffix. cs gets heap strings,
 * NULL when absent: az_connstr_clear() frees them. Messages ("connection
 * string: ...") name a part or a key, never a value.
 */
enum sb_err
az_connstr_parse(const char *s, struct az_connstr *cs, char *err)
{
	struct cs_vals	 cv;
	const char	*p, *end, *b, *e;
	size_t		 n = 0;
	int		 rc = SB_OK;

	memset(cs, 0, sizeof(*cs));
	memset(&cv, 0, sizeof(cv));
	for (p = s; *p != '\0' && rc == SB_OK; p = *end ? end + 1 : end) {
		if ((end = strchr(p, ';')) == NULL)
			end = p + strlen(p);
		n++;
		b = p;
		e = end;
		trim(&b, &e);
		if (b < e)
			rc = cs_part(b, e, n, &cv, err);
	}
	if (rc == SB_OK)
		rc = cs_build(&cv, cs, err);
	cs_vals_clear(&cv);
	if (rc != SB_OK)
		az_connstr_clear(cs);
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
is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/*
 * The endpoint: explicit, else the connection string's, else the
 * default for the account; its trailing '/' removed, into buf.
 */
static enum sb_err
pick_endpoint(const char *explicit, const struct az_connstr *cs,
    const char *account, char *buf, size_t len, char *err)
{
	size_t	n;

	if (!is_empty(explicit) || !is_empty(cs->endpoint))
		n = (size_t)snprintf(buf, len, "%s", !is_empty(explicit) ?
		    explicit : cs->endpoint);
	else if (is_empty(account)) {
		sb_seterr(err, "azure: set the endpoint or the account name");
		return SB_ERR_CONFIG;
	} else if (az_endpoint_default(NULL, account, NULL, buf, len) !=
	    SB_OK)
		n = len;
	else
		n = strlen(buf);
	if (n >= len) {
		sb_seterr(err, "azure: endpoint or account name too long");
		return SB_ERR_CONFIG;
	}
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (!sb_is_http_url(buf)) {
		sb_seterr(err, "azure: endpoint must start with http:// or "
		    "https://");
		return SB_ERR_CONFIG;
	}
	return SB_OK;
}

/* Parse the config's connection string, if any, prefixing its message. */
static enum sb_err
cfg_connstr(const struct sb_config *cfg, struct az_connstr *cs, char *err)
{
	char	msg[SB_ERRMSG_MAX];
	int	rc;

	memset(cs, 0, sizeof(*cs));
	if (is_empty(cfg->az_connstr))
		return SB_OK;
	if ((rc = az_connstr_parse(cfg->az_connstr, cs, msg)) != SB_OK)
		sb_seterr(err, "azure: %s", msg);
	return rc;
}

/*
 * The Blob endpoint the config leads to, as az_cred_init() resolves it,
 * into buf (for messages that say which store is meant).
 */
enum sb_err
az_endpoint(const struct sb_config *cfg, char *buf, size_t len, char *err)
{
	struct az_connstr	cs;
	int			rc;

	if ((rc = cfg_connstr(cfg, &cs, err)) == SB_OK)
		rc = pick_endpoint(cfg->az_endpoint, &cs, !is_empty(
		    cfg->az_account) ? cfg->az_account : cs.account, buf, len,
		    err);
	az_connstr_clear(&cs);
	return rc;
}

/* The secret into c: the key decoded, or the SAS without its '?'. */
static enum sb_err
cred_secret(struct az_cred *c, const char *key, const char *sas, char *err)
{
	int	rc;

	if (!is_empty(key)) {
		rc = az_b64_decode(key, &c->key, &c->keylen);
		if (rc == SB_ERR_INVAL) {
			sb_seterr(err, "azure: the account key is not valid "
			    "base64");
			rc = SB_ERR_CONFIG;
		}
		return rc;
	}
	if (sas[0] == '?')
		sas++;
	return (c->sas = strdup(sas)) == NULL ? SB_ERR_NOMEM : SB_OK;
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
enum sb_err
az_cred_init(struct az_cred *c, const struct sb_config *cfg, char *err)
{
	struct az_connstr	 cs;
	const char		*account, *key, *sas, *p;
	char			 ep[512];
	int			 rc;

	memset(c, 0, sizeof(*c));
	if ((rc = cfg_connstr(cfg, &cs, err)) != SB_OK)
		return rc;
	account = !is_empty(cfg->az_account) ? cfg->az_account : cs.account;
	key = !is_empty(cfg->az_key) ? cfg->az_key : cs.key;
	sas = !is_empty(cfg->az_sas) ? cfg->az_sas : cs.sas;
	rc = SB_ERR_CONFIG;
	if (is_empty(key) && is_empty(sas)) {
		sb_seterr(err, "azure: no credentials: set a key, a SAS "
		    "token or a connection string");
		goto out;
	}
	if (is_empty(account) && !is_empty(key)) {
		sb_seterr(err, "azure: the account name is not set");
		goto out;
	}
	if ((rc = pick_endpoint(cfg->az_endpoint, &cs, account, ep,
	    sizeof(ep), err)) != SB_OK)
		goto out;
	rc = SB_ERR_NOMEM;
	if ((c->endpoint = strdup(ep)) == NULL ||
	    (!is_empty(account) && (c->account = strdup(account)) == NULL))
		goto out;
	p = strstr(c->endpoint, "://") + 3;
	c->path = (p = strchr(p, '/')) != NULL ? p :
	    c->endpoint + strlen(c->endpoint);
	rc = cred_secret(c, key, sas, err);
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
is_kept(unsigned char c, enum pct_keep k)
{
	if (k == KEEP_PRINTABLE)
		return c > 0x20 && c < 0x7f && c != '%';
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
	    (k == KEEP_UNRESERVED_SLASH && c == '/');
}

/* Percent-encode s, every byte not kept becoming %XX. *out: caller frees. */
static enum sb_err
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
		if (is_kept(*p, keep))
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
enum sb_err
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
enum sb_err
az_meta_encode(const char *s, char **out)
{
	return pct_encode(s, KEEP_PRINTABLE, out);
}

/*
 * The size of m toward Azure's 8 KiB metadata limit: the limit covers
 * names and values as they are stored, that is the key (without the
 * x-ms-meta- header prefix) and the value after az_meta_encode().
 */
enum sb_err
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
enum sb_err
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

/* Append s to the bounded buffer; SB_ERR_INVAL once it no longer fits. */
static enum sb_err
cat(char *buf, size_t len, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n >= len)
		return SB_ERR_INVAL;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return SB_OK;
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
enum sb_err
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
