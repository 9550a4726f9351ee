/*
 * azure.h - internals of the Azure Blob Storage store, shared by
 * store_azure.c (requests, retries, transfers), azure_auth.c (credentials,
 * Shared Key signing, connection strings) and azure_xml.c (List Blobs
 * responses). Not part of the library's public API.
 *
 * References (Azure Storage REST API, x-ms-version AZ_VERSION):
 *   "Authorize with Shared Key"
 *   "Put Blob", "Put Block", "Put Block List", "Get Blob",
 *   "Get Blob Properties", "Delete Blob", "List Blobs", "Create Container"
 *   "Status and error codes"
 */
#ifndef SB_AZURE_H
#define SB_AZURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sb.h"
#include "store.h"

struct sb_config;

/* A REST version Azure and Azurite both accept. */
#define AZ_VERSION	"2021-08-06"

/* The Azurite development account: public, documented, for tests only. */
#define AZ_DEV_ACCOUNT	"devstoreaccount1"

/*
 * Credentials and where the account lives. Strings heap-owned; released
 * by az_cred_clear(). key is the decoded account key (secret), sas the
 * SAS token without its leading '?' (secret). Exactly one of key or sas is
 * set after az_cred_init().
 */
struct az_cred {
	char		*account;
	char		*endpoint;	/* scheme://host[:port][/path], no trailing '/' */
	const char	*path;		/* into endpoint: "" or "/path" */
	unsigned char	*key;
	size_t		 keylen;
	char		*sas;
};

enum sb_err	az_cred_init(struct az_cred *, const struct sb_config *,
		    char *err);
void	az_cred_clear(struct az_cred *);

/*
 * The parts of a connection string ("Configure Azure Storage connection
 * strings"): every field heap-owned, NULL when absent; az_connstr_clear()
 * releases them.
 */
struct az_connstr {
	char	*account;
	char	*key;		/* base64, as written */
	char	*endpoint;	/* BlobEndpoint, or built from protocol+suffix */
	char	*sas;
};

enum sb_err	az_connstr_parse(const char *, struct az_connstr *, char *err);
void	az_connstr_clear(struct az_connstr *);

/*
 * The Blob endpoint: the default one of an account (the one place it is
 * built), and the one a config leads to (explicit, connection string or
 * default), as az_cred_init() resolves it.
 */
enum sb_err	az_endpoint_default(const char *proto, const char *account,
		    const char *suffix, char *buf, size_t len);
enum sb_err	az_endpoint(const struct sb_config *, char *buf, size_t len,
		    char *err);

/* Azure's naming rules for accounts and containers; http(s) URLs. */
int	sb_is_azure_account(const char *);
int	sb_is_azure_container(const char *);
int	sb_is_http_url(const char *);

/* Base64 (RFC 4648, with padding), by OpenSSL's EVP_EncodeBlock/DecodeBlock. */
enum sb_err	az_b64_decode(const char *, unsigned char **out, size_t *outlen);
enum sb_err	az_b64_encode(const unsigned char *, size_t, char *out,
		    size_t outlen);

/*
 * Content-MD5 (RFC 1864), base64: of a buffer, and of len bytes of a
 * file at off read in AZ_CHUNK pieces into chunk (*eno: errno of a
 * failed read, with SB_ERR_IO).
 */
#define AZ_CHUNK	(256 * 1024)
enum sb_err	az_md5_buf(const unsigned char *, size_t, char out[32]);
enum sb_err	az_md5_file(int fd, off_t off, uint64_t len,
		    unsigned char *chunk, char out[32], int *eno);

/* One query parameter: name and raw (not yet percent-encoded) value. */
struct az_qp {
	const char	*name;
	const char	*val;
};

#define AZ_QP_MAX	8

/*
 * The fields of a request that Shared Key signs. Headers are given as
 * "name: value" lines; only x-ms-* ones are canonicalized, the standard
 * ones each have their field.
 */
struct az_sigreq {
	const char		*method;
	const char		*path;		/* URL path, percent-encoded */
	const struct az_qp	*qp;
	size_t			 nqp;
	const char *const	*xms;		/* "x-ms-name:value" lines */
	size_t			 nxms;
	uint64_t		 content_length;
	const char		*content_md5;	/* base64 or NULL */
	const char		*content_type;	/* or NULL */
	const char		*if_match;	/* or NULL */
	const char		*if_none_match;	/* or NULL */
};

enum sb_err	az_sign(const struct az_cred *, const struct az_sigreq *,
	    char *auth, size_t authlen);

/* Percent-encoding: of a URL path (keeps '/') and of a query value. */
enum sb_err	az_url_encode(const char *, int keep_slash, char **out);

/*
 * Metadata values travel as HTTP header values, which Azure wants in
 * printable ASCII without leading or trailing blanks. We percent-encode
 * every byte outside 0x21..0x7e and '%' itself; decoding turns %XX back
 * into bytes, so any UTF-8 value round-trips byte for byte.
 */
enum sb_err	az_meta_encode(const char *, char **out);

/* Azure's limit on all of a blob's metadata ("Setting and retrieving
 * properties and metadata for Blob service resources"). */
#define AZ_META_TOTAL_MAX	8192

/* Bytes of m as Azure counts them: every name plus its encoded value. */
enum sb_err	az_meta_size(const struct sb_meta *, size_t *out);
enum sb_err	az_meta_decode(const char *, char **out);

/*
 * A streaming parser for List Blobs responses. Feed it the body as it
 * arrives; objects go to list, the NextMarker to *marker (heap, NULL when
 * the listing is complete).
 */
struct az_listparse;

enum sb_err	az_listparse_new(struct az_listparse **, struct sb_object_list *);
enum sb_err	az_listparse_feed(struct az_listparse *, const char *, size_t,
	    int final, char *err);
char	*az_listparse_marker(struct az_listparse *);
void	az_listparse_free(struct az_listparse **);

/* An HTTP date (Last-Modified) to ms since the epoch; -1 if bad. */
int64_t	az_http_date(const char *);

#endif /* SB_AZURE_H */
