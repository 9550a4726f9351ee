/*
 * azure_int.h - what the four files of the Azure store share:
 *   azure_http.c	one request: URL, headers, signature, curl setup,
 *			the response callbacks, the verdict, retries with
 *			backoff, error messages (run);
 *   azure_upload.c	the upload pipeline: Put Blob, parallel Put Block
 *			with one hasher thread, Put Block List, and uploads
 *			that overlap the writing of the file;
 *   azure_get.c		downloads: get (one stream, resumed) and get_fd
 *			(ranges in parallel into a file);
 *   store_azure.c	the other store operations (head, list, del,
 *			put_new, create) and sb_store_azure_open.
 * Not part of the library's API: azure.h holds credentials, signing and
 * the encodings; this header the store's own types.
 */
#ifndef SB_AZURE_INT_H
#define SB_AZURE_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "azure.h"
#include "store.h"

#define AZ_BLOCKS_MAX	50000		/* blocks in one blob (Put Block List) */
#define AZ_BLOCK_MIN	(64 * 1024)
#define AZ_BLOCK_MAX	(4000ULL * 1024 * 1024)
#define AZ_CONC_MAX	64
#define AZ_BACKOFF_BASE	250		/* ms */
#define AZ_BACKOFF_CAP	30000		/* ms */
#define AZ_RETRY_AFTER_CAP 60		/* s */
#define AZ_ERRBODY_MAX	4096
#define AZ_XMS_MAX	(SB_META_MAX + 8)
#define AZ_GROW_POLL	20		/* ms between looks at a growing file */
#define AZ_EARLY_MEM	(12 * 1024 * 1024) /* buffers for early blocks */

struct az_store {
	struct sb_store	 base;		/* first: the common head */
	struct az_cred	 cred;
	char		*container;
	uint64_t	 block_size;
	unsigned	 concurrency;
	unsigned	 timeout;
	unsigned	 retries;
	CURL		*easy;		/* single requests, keeps its connection */
	CURLM		*multi;		/* parallel blocks */
	int		 container_ok;	/* container_check passed */
};

/* Where an upload's body comes from: memory, or a range of a file. */
struct az_body {
	const unsigned char	*buf;
	int			 fd;		/* -1: use buf */
	off_t			 off;
	uint64_t		 len;
	uint64_t		 pos;
	int			 ioerr;		/* errno of a failed pread */
};

/* What one request is; the store builds its URL, headers and signature. */
struct az_call {
	const char	*op;		/* "PUT blob", for messages */
	const char	*method;	/* GET HEAD PUT DELETE */
	const char	*name;		/* blob name; NULL: the container */
	struct az_qp	 qp[AZ_QP_MAX];
	size_t		 nqp;
	char		*xms[AZ_XMS_MAX]; /* heap "x-ms-name:value" lines */
	size_t		 nxms;
	char		 md5[32];	/* base64 Content-MD5, "" none */
	char		 if_match[128];	/* "" none */
	int		 if_none_match;	/* send If-None-Match: * */
	struct az_body	 body;		/* PUT only */
	int		 want_meta;	/* collect x-ms-meta-* of the response */
	int		(*sink)(void *, const char *, size_t);
	void		*sinkarg;
};

/* What came back from one attempt. */
struct az_resp {
	long		 status;	/* CURLINFO_RESPONSE_CODE */
	char		 code[128];	/* x-ms-error-code */
	char		 reqid[128];	/* x-ms-request-id */
	char		 etag[128];
	long		 retry_after;	/* s, -1 none */
	int64_t		 clen;		/* Content-Length, -1 */
	int64_t		 range_total;	/* Content-Range ".../total", -1 */
	int64_t		 mtime;		/* Last-Modified, ms, -1 */
	struct sb_meta	 meta;
	char		 body[AZ_ERRBODY_MAX];
	size_t		 bodylen;
	CURLcode	 cc;
	char		 curlerr[CURL_ERROR_SIZE];
	int		 sinkerr;	/* enum sb_err from the sink */
	int		 metaerr;
	struct az_call	*call;
	CURL		*easy;		/* the handle this attempt runs on */
	/* Stall detection (on_progress): the last time bytes moved. */
	unsigned	 timeout;	/* s */
	int64_t		 moved_ms;
	curl_off_t	 moved_dl;
	curl_off_t	 moved_ul;
	int		 stalled;
};

enum az_verdict {
	AZ_DONE = 0,
	AZ_RETRY,
	AZ_FAIL
};

/* Per-attempt storage that must outlive curl_easy_perform. */
struct az_wire {
	struct curl_slist	*hdrs;
	char			*url;
};

/*
 * Where the blocks of put_blocks come from: a reader, a file read with
 * pread (hashed ahead by put_blocks' hasher), or a file still being
 * written (grow).
 */
struct az_src {
	sb_read_fn	 rd;
	void		*rdarg;
	int		 fd;
	uint64_t	 size;		/* file size */
	uint64_t	 next;		/* file offset of the next block */
	int		 eof;
	struct az_hasher *hasher;	/* file: Content-MD5s, computed ahead */
	struct az_grow	*grow;		/* a file still being written */
	int		 nocommit;	/* stage only: the caller commits */
};

/* azure_http.c */
enum sb_err	az_http_global_init(void);
void		az_sleep_ms(int64_t);
int64_t		az_backoff_ms(unsigned attempt, long retry_after);
void		az_call_init(struct az_call *, const char *op,
		    const char *method, const char *name);
void		az_call_clear(struct az_call *);
enum sb_err	az_call_xms(struct az_call *, const char *name,
		    const char *val);
void		az_call_qp(struct az_call *, const char *name, const char *val);
enum sb_err	az_call_meta(struct az_call *, const struct sb_meta *);
void		az_resp_reset(struct az_resp *, struct az_call *);
void		az_wire_clear(struct az_wire *);
enum sb_err	az_multi_add(struct az_store *, CURL *, struct az_call *,
		    struct az_resp *, struct az_wire *);
void		az_multi_release(struct az_store *, CURL *, int in_flight,
		    struct az_call *, struct az_resp *, struct az_wire *);
enum sb_err	az_setup(struct az_store *, CURL *, struct az_call *,
		    struct az_resp *, struct az_wire *);
enum az_verdict	az_verdict(const struct az_resp *);
enum sb_err	az_fail_msg(struct az_store *, const struct az_call *,
		    const struct az_resp *, unsigned attempts);
enum sb_err	az_run(struct az_store *, struct az_call *, struct az_resp *);
int		az_name_ok(struct az_store *, const char *);

/* azure_upload.c */
ssize_t		az_read_full(struct az_src *, unsigned char *, size_t want);
enum sb_err	az_put_blocks(struct az_store *, const char *name,
		    const struct sb_meta *, struct az_src *,
		    unsigned char *first, size_t firstlen);
void		*az_upload_begin(struct sb_store *, const char *,
		    const char *);
void		 az_upload_eof(void *);
enum sb_err	 az_upload_finish(struct sb_store *, void *,
		    const struct sb_meta *);
void		 az_upload_abort(struct sb_store *, void *);

/* azure_get.c */
enum sb_err	az_get(struct sb_store *, const char *name, sb_write_fn,
		    void *arg);
enum sb_err	az_get_fd(struct sb_store *, const char *name, int fd,
		    sb_mark_fn, void *arg);

/* store_azure.c: the single requests an upload makes */
enum sb_err	az_container_check(struct az_store *);
enum sb_err	az_put_blob(struct az_store *, const char *name,
		    const struct sb_meta *, const struct az_body *);
void		az_block_id(uint32_t idx, char out[16]);
enum sb_err	az_put_block_list(struct az_store *, const char *name,
		    const struct sb_meta *, uint32_t n);

#endif /* SB_AZURE_INT_H */
