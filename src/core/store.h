/*
 * store.h - the object store interface: a flat namespace of named objects,
 * each with a small map of string metadata. Two implementations:
 * store_disk.c (a local directory, the embedded default) and store_azure.c
 * (Azure Blob Storage over its REST API).
 *
 * The store knows nothing about backups: the engine decides names and what
 * goes into metadata. Metadata keys are [a-z0-9_], at most 64 bytes; values
 * are any UTF-8 string up to 8 KiB (each implementation encodes them as
 * its medium needs, and gives them back byte-for-byte).
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "sb.h"

struct sb_config;

#define SB_META_MAX	16	/* pairs per object */
#define SB_META_KEY_MAX	64
#define SB_META_VAL_MAX	8192

struct sb_meta_kv {
	char	*key;
	char	*val;
};

/* Metadata of one object; strings heap-owned, released by sb_meta_clear(). */
struct sb_meta {
	struct sb_meta_kv	kv[SB_META_MAX];
	size_t			n;
};

enum sb_err sb_meta_set(struct sb_meta *, const char *key, const char *val);
const char	*sb_meta_get(const struct sb_meta *, const char *key);
void		 sb_meta_clear(struct sb_meta *);
int		 sb_is_meta_key(const char *);
int		 sb_is_valid_meta(const struct sb_meta *);	/* whole map */

/* One listed object; name and meta owned by the entry. */
struct sb_object {
	char		*name;
	int64_t		 size;
	int64_t		 mtime;		/* ms, last modified */
	struct sb_meta	 meta;
};

struct sb_object_list {
	struct sb_object	*v;
	size_t			 n;
};

void	sb_object_clear(struct sb_object *);	/* e.g. after sb_store_head */
void	sb_object_list_clear(struct sb_object_list *);

/*
 * Streams. A reader fills buf with up to len bytes and returns how many,
 * 0 at end, -1 on error. A writer consumes all len bytes and returns 0, or
 * -1 on error (which aborts the transfer).
 */
typedef ssize_t	(*sb_read_fn)(void *arg, void *buf, size_t len);
typedef int	(*sb_write_fn)(void *arg, const void *buf, size_t len);

/*
 * Progress of a download into a file: the first done bytes of the file
 * are all written (done only grows). Called from the thread that runs
 * the download; it must be cheap.
 */
typedef void	(*sb_mark_fn)(void *arg, uint64_t done);

/* A reader over a file descriptor (arg: struct sb_fd_reader *). */
struct sb_fd_reader {
	int	fd;
	int	err;	/* errno of a failed read, 0 if none */
};
ssize_t	sb_fd_read(void *arg, void *buf, size_t len);

struct sb_store;

/*
 * What an implementation provides. Every call returns enum sb_err and on
 * failure leaves a message in the store (sb_store_errmsg()).
 *
 * put_stream	store all of src under name with meta, atomically: a reader
 *		never sees a partial object, and a failed put leaves no object
 *		behind (or only one a later list does not return).
 * put_file	same from a local file; may be faster (rename within a disk
 *		store, parallel blocks to Azure). May consume the file: the
 *		caller removes path afterwards if it still exists. NULL means
 *		the generic put_stream path is used.
 * get		stream the whole object into dst; SB_ERR_NOTFOUND if absent.
 * get_fd	optional: write the whole object into fd (a new, empty,
 *		regular file, opened read-write) with pwrite, in any order
 *		(parallel ranges), calling mark(arg, n) whenever the first n
 *		bytes are all written. NULL: get is used.
 * head		size and metadata of one object; SB_ERR_NOTFOUND if absent.
 * list		every object whose name starts with prefix ("" = all), in
 *		name order, with size and metadata. A store that is not
 *		there (no directory, no container) is an error, never an
 *		empty list.
 * del		delete; an object already gone is success.
 * create	make the store's place exist (directory, container); only
 *		`backup-cron init` calls it (sb_store_create): no other
 *		operation creates a store implicitly.
 * put_new	store len bytes of buf under name only if no object has
 *		that name, atomically and exclusively (two callers cannot
 *		both succeed): *existed = 1 and SB_OK when one was there.
 * staging_dir	a local directory on which put_file is fastest (NULL: any).
 * meta_check	optional: SB_ERR_INVAL (with a message) if m is more than
 *		the medium can hold, as it would be sent; nothing is sent.
 * free		release everything.
 */
struct sb_store_ops {
	const char	*kind;
	int		 recheck;	/* identity is cheap to read: a guarded
					   store checks it before every
					   operation, not only the first */
	enum sb_err	(*put_stream)(struct sb_store *, const char *name,
			    sb_read_fn, void *arg, const struct sb_meta *);
	enum sb_err	(*put_file)(struct sb_store *, const char *name,
			    const char *path, const struct sb_meta *);
	enum sb_err	(*get)(struct sb_store *, const char *name,
			    sb_write_fn, void *arg);
	enum sb_err	(*get_fd)(struct sb_store *, const char *name, int fd,
			    sb_mark_fn mark, void *arg);
	enum sb_err	(*head)(struct sb_store *, const char *name,
			    struct sb_object *);
	enum sb_err	(*list)(struct sb_store *, const char *prefix,
			    struct sb_object_list *);
	enum sb_err	(*del)(struct sb_store *, const char *name);
	const char	*(*staging_dir)(struct sb_store *);
	enum sb_err	(*meta_check)(struct sb_store *,
			    const struct sb_meta *);
	void		(*free)(struct sb_store *);
	enum sb_err	(*create)(struct sb_store *);
	enum sb_err	(*put_new)(struct sb_store *, const char *name,
			    const void *buf, size_t len, int *existed);
	/* Optional: an upload that starts while the file is being written
	 * (see sb_store_upload_begin). NULL: the file goes up at finish. */
	void		*(*upload_begin)(struct sb_store *, const char *name,
			    const char *path);
	void		(*upload_eof)(void *);
	enum sb_err	(*upload_finish)(struct sb_store *, void *,
			    const struct sb_meta *);
	void		(*upload_abort)(struct sb_store *, void *);
	/* Optional: the local file that holds the object, if the medium
	 * is a local file system (path PATH_MAX bytes); SB_ERR_NOTFOUND if
	 * there is no such regular file. NULL: objects are not local. */
	enum sb_err	(*local_path)(struct sb_store *, const char *name,
			    char *path, size_t len);
};

/*
 * The common head of every store; implementations embed it first.
 * prefix ([store] prefix) is prepended by the generic layer to every name
 * an implementation sees and taken off every name it returns, so callers
 * only ever see names relative to their prefix. A disk store has it ""
 * here: it is opened on the directory <root>/<prefix> instead, since its
 * names cannot hold '/'.
 */
struct sb_store {
	const struct sb_store_ops	*ops;
	char				 err[SB_ERRMSG_MAX];
	char				 prefix[SB_PREFIX_MAX + 1];
	/* sb_store_guard: identity required before any operation. */
	const struct sb_config		*guard_cfg;
	char				 guard_id[SB_UUID_LEN + 1];
	int				 verified;
	int				 checking;	/* the check's own reads */
	/* sb_store_watch: where transfers report their bytes, or NULL. */
	struct sb_progress		*progress;
};

/*
 * Report the bytes of later transfers to p (NULL: stop): a download
 * into a file (sb_store_get_file_sha: the bytes written without a hole)
 * as p's current phase; blocks an upload has staged (Azure) as
 * SB_PHASE_UPLOAD, whatever the current phase. p must outlive its use.
 */
struct sb_progress;
void	sb_store_watch(struct sb_store *, struct sb_progress *p);

/*
 * Open the store the config names, under its [store] prefix. Nothing is
 * created and nothing is checked against the marker here: the engine
 * calls sb_store_identify() next. *out owned by the caller: sb_store_free.
 */
enum sb_err sb_store_open(struct sb_store **out, const struct sb_config *,
		    char *err);
void		 sb_store_free(struct sb_store **);
const char	*sb_store_errmsg(const struct sb_store *);

enum sb_err	sb_store_put_stream(struct sb_store *, const char *name, sb_read_fn,
	    void *, const struct sb_meta *);
enum sb_err	sb_store_put_file(struct sb_store *, const char *name,
	    const char *path, const struct sb_meta *);
enum sb_err	sb_store_get(struct sb_store *, const char *name, sb_write_fn, void *);
enum sb_err	sb_store_get_file(struct sb_store *, const char *name,
	    const char *path);
enum sb_err	sb_store_get_file_sha(struct sb_store *, const char *name,
	    const char *path, char sha[SB_SHA256_HEX + 1], int64_t *size);
/*
 * Download into a new file at path, handing every byte to follow in
 * order as it arrives (read back behind the download, even one in
 * parallel ranges): see store.c. path is left for the caller.
 */
enum sb_err	sb_store_get_file_follow(struct sb_store *, const char *name,
	    const char *path, sb_write_fn follow, void *arg);
enum sb_err	sb_store_head(struct sb_store *, const char *name,
	    struct sb_object *);
enum sb_err	sb_store_list(struct sb_store *, const char *prefix,
	    struct sb_object_list *);
enum sb_err	sb_store_del(struct sb_store *, const char *name);
const char *sb_store_staging_dir(struct sb_store *);
enum sb_err	sb_store_create(struct sb_store *);
enum sb_err	sb_store_put_new(struct sb_store *, const char *name, const void *buf,
	    size_t len, int *existed);

/*
 * The store marker (store_marker.c): an object SB_MARKER_NAME under the
 * prefix, JSON {"format":1,"service":..,"prefix":..,"store_id":..,
 * "created_at":..}, written once by `backup-cron init`. Its name cannot
 * parse as a backup name, so reconcile never takes it for one.
 */
#define SB_MARKER_NAME		"safbackup-store.json"
#define SB_MARKER_FORMAT	1
#define SB_MARKER_MAX		4096	/* largest marker object we read */

struct sb_store_marker {
	int	 format;
	char	 service[SB_SERVICE_MAX + 1];
	char	 prefix[SB_PREFIX_MAX + 1];
	char	 store_id[SB_UUID_LEN + 1];
	int64_t	 created_at;	/* ms */
};

enum sb_err	sb_marker_parse(const char *buf, size_t len, struct sb_store_marker *,
	    char *err);
enum sb_err	sb_marker_format(const struct sb_store_marker *, char **out);

/* "disk store /srv/backups/app" or "azure container c at URL, prefix p/". */
void	sb_store_describe(const struct sb_config *, char *buf, size_t len);

/*
 * Is this store the one the config (and the catalog) expects? Reads the
 * marker: SB_ERR_IDENTITY with a message naming the store and what to do
 * when it is missing, unreadable, or names another service or prefix, or
 * (known_id not NULL nor "") another store_id. out (may be NULL) gets the
 * marker on success. Other errors (network, credentials) pass through.
 */
enum sb_err	sb_store_identify(struct sb_store *, const struct sb_config *,
	    const char *known_id, struct sb_store_marker *out, char *err);

/*
 * Make every later operation on s (put, get, head, list, delete, upload)
 * require that s is the store cfg and known_id name, and check it now
 * (sb_store_identify). When the check cannot be made now (the store does
 * not answer: SB_ERR_STORAGE, SB_ERR_AUTH), the first operation makes it
 * again, so that catalog-only work goes on during an outage and nothing
 * touches an unchecked store. A store whose ops say recheck (disk: a
 * local file read) is checked before every operation, so a long-lived
 * process (a backupd worker) notices a volume unmounted under it before
 * it writes into the empty mountpoint. cfg must outlive s. Returns what
 * the check gave; out gets the marker on SB_OK.
 */
enum sb_err	sb_store_guard(struct sb_store *, const struct sb_config *,
	    const char *known_id, struct sb_store_marker *out, char *err);

/*
 * `backup-cron init`: create the store's place if missing, then write
 * the marker if none (exclusively: of two inits one writes, the other
 * reads it). Idempotent when the marker is ours; SB_ERR_IDENTITY when it
 * names another service or prefix. out gets the marker; *created says
 * whether this call wrote it.
 */
enum sb_err	sb_store_init(struct sb_store *, const struct sb_config *,
	    struct sb_store_marker *out, int *created, char *err);

/*
 * Would m fit the store's metadata limits (Azure: 8 KiB in all, names and
 * encoded values)? SB_OK or SB_ERR_INVAL with the sizes in the message.
 * Lets a caller refuse before any byte is uploaded.
 */
enum sb_err	sb_store_meta_check(struct sb_store *, const struct sb_meta *);

/*
 * Upload a local file while another thread of the caller is still writing
 * it (a snapshot being taken): begin starts sending what is written
 * already, in the background; eof says the file is complete (from the
 * writing thread, as soon as it is); finish waits for the rest, commits
 * the object with meta, and releases the upload; abort gives up (nothing
 * is committed). The bytes stored are the file's final bytes, whatever
 * order it was written in. Between begin and finish or abort the store
 * must not be used for anything else. A store that cannot do better
 * uploads the file at finish (put_file). begin fails only for lack of
 * memory or a bad name; errors of the transfer come from finish.
 */
struct sb_upload;

enum sb_err	sb_store_upload_begin(struct sb_store *, const char *name,
	    const char *path, struct sb_upload **);
void	sb_store_upload_eof(struct sb_upload *);
enum sb_err	sb_store_upload_finish(struct sb_upload **, const struct sb_meta *);
void	sb_store_upload_abort(struct sb_upload **);

/*
 * The local file holding the object name, when the store keeps its objects
 * as files (the disk store), so a caller can read it where it lies
 * instead of copying it: SB_OK with its path in path (len bytes). The
 * file must only be read. SB_ERR_NOTFOUND if there is no such object;
 * SB_ERR_INVAL (no message needed) when objects of this store are not
 * local files: the caller downloads instead.
 */
enum sb_err	sb_store_local_path(struct sb_store *, const char *name, char *path,
	    size_t len);

/* Implementations. */
enum sb_err	sb_store_disk_open(struct sb_store **, const char *root, char *err);
enum sb_err	sb_store_azure_open(struct sb_store **, const struct sb_config *,
	    char *err);
/*
 * Names: sb_is_store_name is the rule of every backend (1 to max bytes of
 * UTF-8, no control characters); sb_is_disk_name adds the disk store's
 * (no '/', '\\', leading '.', ".meta" or ".tmp" suffix).
 */
int	sb_is_store_name(const char *name, size_t max);
int	sb_is_disk_name(const char *name);

/*
 * The disk store's .meta files (store_disk_meta.c), at most
 * DISK_META_MAX bytes: m as JSON (caller frees; NULL: out of memory), and
 * the file at path into an empty m (only SB_ERR_NOMEM fails: a missing or
 * malformed file gives an empty map).
 */
#define DISK_META_MAX	(1 << 20)
char		*sb_disk_meta_json(const struct sb_meta *m);
enum sb_err	 sb_disk_meta_read(const char *path, struct sb_meta *m);

#endif /* SB_STORE_H */
