/*
 * azure_xml.c - parse List Blobs responses with expat, as they stream in.
 *
 * The shape ("List Blobs", REST API, response body):
 *
 *   <EnumerationResults ServiceEndpoint=".." ContainerName="..">
 *     <Prefix/> <Marker/> <MaxResults/>
 *     <Blobs>
 *       <Blob>
 *         <Name Encoded="true|false">name</Name>
 *         <Properties>
 *           <Last-Modified>RFC 1123 date</Last-Modified>
 *           <Content-Length>bytes</Content-Length> ...
 *         </Properties>
 *         <Metadata><key>value</key>...</Metadata>
 *       </Blob>
 *     </Blobs>
 *     <NextMarker>opaque</NextMarker>
 *   </EnumerationResults>
 *
 * Names Azure cannot put in XML come percent-encoded with Encoded="true".
 * Metadata values are decoded from our header encoding (az_meta_decode).
 * Every text node is bounded; unknown elements are skipped.
 */
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "azure.h"

enum el {
	EL_OTHER = 0,
	EL_ENUM,
	EL_BLOBS,
	EL_BLOB,
	EL_NAME,
	EL_PROPS,
	EL_META,
	EL_CLEN,
	EL_LMOD,
	EL_MKEY,
	EL_NEXT
};

#define DEPTH_MAX	16
/* The longest text we keep: an encoded metadata value and then some. */
#define TEXT_MAX	(3 * SB_META_VAL_MAX + 64)

struct az_listparse {
	XML_Parser		 p;
	struct sb_object_list	*list;
	enum el			 stack[DEPTH_MAX];
	int			 depth;		/* may exceed DEPTH_MAX */
	char			 text[TEXT_MAX + 1];
	size_t			 textlen;
	int			 intext;
	int			 encoded;	/* Name Encoded="true" */
	char			 mkey[SB_META_KEY_MAX + 1];
	struct sb_object	 cur;		/* the Blob being read */
	char			*marker;
	int			 err;		/* enum sb_err, first failure */
	const char		*why;
};

static enum el
top(const struct az_listparse *lp)
{
	if (lp->depth < 1 || lp->depth > DEPTH_MAX)
		return EL_OTHER;
	return lp->stack[lp->depth - 1];
}

static void
fail(struct az_listparse *lp, int err, const char *why)
{
	if (lp->err == SB_OK) {
		lp->err = err;
		lp->why = why;
	}
	XML_StopParser(lp->p, XML_FALSE);
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attr)
{
	struct az_listparse	*lp = arg;
	enum el			 parent = top(lp), e = EL_OTHER;
	size_t			 i;

	if (lp->err != SB_OK)
		return;
	switch (lp->depth) {
	case 0:
		if (strcmp(name, "EnumerationResults") == 0)
			e = EL_ENUM;
		break;
	default:
		if (parent == EL_ENUM && strcmp(name, "Blobs") == 0)
			e = EL_BLOBS;
		else if (parent == EL_ENUM && strcmp(name, "NextMarker") == 0)
			e = EL_NEXT;
		else if (parent == EL_BLOBS && strcmp(name, "Blob") == 0)
			e = EL_BLOB;
		else if (parent == EL_BLOB && strcmp(name, "Name") == 0)
			e = EL_NAME;
		else if (parent == EL_BLOB && strcmp(name, "Properties") == 0)
			e = EL_PROPS;
		else if (parent == EL_BLOB && strcmp(name, "Metadata") == 0)
			e = EL_META;
		else if (parent == EL_PROPS &&
		    strcmp(name, "Content-Length") == 0)
			e = EL_CLEN;
		else if (parent == EL_PROPS &&
		    strcmp(name, "Last-Modified") == 0)
			e = EL_LMOD;
		else if (parent == EL_META)
			e = EL_MKEY;
		break;
	}
	if (lp->depth < DEPTH_MAX)
		lp->stack[lp->depth] = e;
	lp->depth++;
	lp->textlen = 0;
	lp->intext = (e == EL_NAME || e == EL_CLEN || e == EL_LMOD ||
	    e == EL_MKEY || e == EL_NEXT);
	if (e == EL_BLOB) {
		free(lp->cur.name);
		sb_meta_clear(&lp->cur.meta);
		memset(&lp->cur, 0, sizeof(lp->cur));
		lp->cur.size = -1;
	} else if (e == EL_NAME) {
		lp->encoded = 0;
		for (i = 0; attr[i] != NULL && attr[i + 1] != NULL; i += 2)
			if (strcmp(attr[i], "Encoded") == 0 &&
			    strcmp(attr[i + 1], "true") == 0)
				lp->encoded = 1;
	} else if (e == EL_MKEY) {
		/* Azure may return keys in other case: ours are lowercase. */
		for (i = 0; name[i] != '\0' && i < SB_META_KEY_MAX; i++)
			lp->mkey[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
			    (char)(name[i] - 'A' + 'a') : name[i];
		lp->mkey[i] = '\0';
		if (name[i] != '\0')
			lp->mkey[0] = '\0';	/* too long: not ours, skip */
	}
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct az_listparse	*lp = arg;

	if (lp->err != SB_OK || !lp->intext || len <= 0)
		return;
	if ((size_t)len > TEXT_MAX - lp->textlen) {
		fail(lp, SB_ERR_STORAGE, "an element's text is too long");
		return;
	}
	memcpy(lp->text + lp->textlen, s, (size_t)len);
	lp->textlen += (size_t)len;
	lp->text[lp->textlen] = '\0';
}

/*
 * Move the finished Blob into the list. The array's capacity is implied
 * by n: 16 up to 16 entries, then the next power of two; so it grows
 * when n is 0 or a power of two of at least 16 (and a list truncated by
 * the caller only ever has more room than that).
 */
static enum sb_err
push(struct az_listparse *lp)
{
	struct sb_object_list	*l = lp->list;
	struct sb_object	*v;
	size_t			 cap;

	if (lp->cur.name == NULL) {
		fail(lp, SB_ERR_STORAGE, "a Blob without a Name");
		return SB_ERR_STORAGE;
	}
	if (l->n == 0 || (l->n >= 16 && (l->n & (l->n - 1)) == 0)) {
		cap = l->n == 0 ? 16 : l->n * 2;
		if (cap > SIZE_MAX / sizeof(*v) ||
		    (v = realloc(l->v, cap * sizeof(*v))) == NULL) {
			fail(lp, SB_ERR_NOMEM, "out of memory");
			return SB_ERR_NOMEM;
		}
		l->v = v;
	}
	l->v[l->n++] = lp->cur;
	memset(&lp->cur, 0, sizeof(lp->cur));
	return SB_OK;
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct az_listparse	*lp = arg;
	enum el			 e = top(lp);
	char			*dec = NULL;
	int64_t			 v;
	int			 rc;

	(void)name;
	if (lp->err != SB_OK)
		return;
	lp->text[lp->textlen] = '\0';
	switch (e) {
	case EL_NAME:
		free(lp->cur.name);
		lp->cur.name = NULL;
		if (lp->encoded)
			rc = az_meta_decode(lp->text, &lp->cur.name);
		else
			rc = (lp->cur.name = strdup(lp->text)) == NULL ?
			    SB_ERR_NOMEM : SB_OK;
		if (rc != SB_OK)
			fail(lp, rc, "out of memory");
		break;
	case EL_CLEN:
		if (sb_parse_i64(lp->text, 0, INT64_MAX, &v) != SB_OK)
			fail(lp, SB_ERR_STORAGE, "a bad Content-Length");
		else
			lp->cur.size = v;
		break;
	case EL_LMOD:
		lp->cur.mtime = az_http_date(lp->text);
		if (lp->cur.mtime < 0)
			lp->cur.mtime = 0;
		break;
	case EL_MKEY:
		if (lp->mkey[0] == '\0')
			break;
		if (az_meta_decode(lp->text, &dec) != SB_OK) {
			fail(lp, SB_ERR_NOMEM, "out of memory");
			break;
		}
		/* A key or value that is not ours is skipped, not fatal. */
		if (sb_meta_set(&lp->cur.meta, lp->mkey, dec) == SB_ERR_NOMEM)
			fail(lp, SB_ERR_NOMEM, "out of memory");
		free(dec);
		break;
	case EL_NEXT:
		free(lp->marker);
		lp->marker = NULL;
		if (lp->textlen > 0 && (lp->marker = strdup(lp->text)) == NULL)
			fail(lp, SB_ERR_NOMEM, "out of memory");
		break;
	case EL_BLOB:
		(void)push(lp);	/* a failure is kept in lp (fail) */
		break;
	default:
		break;
	}
	lp->intext = 0;
	lp->textlen = 0;
	lp->depth--;
}

/*
 * A parser that appends every Blob of the response to list (which the
 * caller owns and clears). *out freed with az_listparse_free().
 */
enum sb_err
az_listparse_new(struct az_listparse **out, struct sb_object_list *list)
{
	struct az_listparse	*lp;

	*out = NULL;
	if ((lp = calloc(1, sizeof(*lp))) == NULL)
		return SB_ERR_NOMEM;
	if ((lp->p = XML_ParserCreate("UTF-8")) == NULL) {
		free(lp);
		return SB_ERR_NOMEM;
	}
	lp->list = list;
	lp->cur.size = -1;
	XML_SetUserData(lp->p, lp);
	XML_SetElementHandler(lp->p, on_start, on_end);
	XML_SetCharacterDataHandler(lp->p, on_text);
	*out = lp;
	return SB_OK;
}

/*
 * Feed len bytes of the body; final set on the last call. Returns SB_OK
 * or SB_ERR_STORAGE (malformed XML; err says where) / SB_ERR_NOMEM.
 */
enum sb_err
az_listparse_feed(struct az_listparse *lp, const char *buf, size_t len,
    int final, char *err)
{
	if (len > INT32_MAX)
		return SB_ERR_INVAL;
	if (XML_Parse(lp->p, buf, (int)len, final) == XML_STATUS_ERROR ||
	    lp->err != SB_OK) {
		if (lp->err == SB_OK) {
			lp->err = SB_ERR_STORAGE;
			sb_seterr(err, "List Blobs response: %s at line %lu",
			    XML_ErrorString(XML_GetErrorCode(lp->p)),
			    (unsigned long)XML_GetCurrentLineNumber(lp->p));
		} else
			sb_seterr(err, "List Blobs response: %s", lp->why);
		return lp->err;
	}
	return SB_OK;
}

/* The NextMarker, handed over to the caller (free it); NULL at the end. */
char *
az_listparse_marker(struct az_listparse *lp)
{
	char	*m = lp->marker;

	lp->marker = NULL;
	return m;
}

void
az_listparse_free(struct az_listparse **plp)
{
	struct az_listparse	*lp = *plp;

	if (lp == NULL)
		return;
	XML_ParserFree(lp->p);
	free(lp->cur.name);
	sb_meta_clear(&lp->cur.meta);
	free(lp->marker);
	free(lp);
	*plp = NULL;
}
