/*
 * sb.h - what every module of libsafbackup shares: the error enum, the
 * backup and restore records, and small helpers (time, uuid, naming,
 * validation, bounded strings).
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *  - functions return enum sb_err (SB_OK == 0);
 *  - objects that can fail keep their last error message, read with
 *    *_errmsg(); free functions take ** and set the pointer to NULL;
 *  - times are int64_t milliseconds since the Unix epoch, UTC.
 */
#ifndef SB_H
#define SB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ERRMSG_MAX   512	/* bytes of a human error message, NUL included */
#define SB_UUID_LEN     36	/* canonical textual uuid, without NUL */
#define SB_SHA256_HEX   64	/* lowercase hex sha256, without NUL */
#define SB_NAME_MAX     250	/* longest object name, without NUL: the
				   disk store adds ".meta" within NAME_MAX */
#define SB_DESC_MAX     1024	/* longest description in bytes */
#define SB_TAG_MAX      64	/* longest tag in bytes */
#define SB_TAGS_MAX     32	/* most tags on one backup */
#define SB_PREFIX_MAX   128	/* longest [store] prefix, its '/' included */
#define SB_SERVICE_MAX  64	/* longest [store] service name */

/*
 * One error enum for the whole library. sb_strerror() gives a sentence,
 * sb_errcode() the stable code the HTTP API and the CLI's --json print.
 */
enum sb_err {
	SB_OK = 0,		/* success */
	SB_ERR_NOMEM,		/* out of memory */
	SB_ERR_INVAL,		/* bad argument or input from outside */
	SB_ERR_NOTFOUND,	/* no such backup or object */
	SB_ERR_AUTOMATIC,	/* refused: automatic backups are not deletable */
	SB_ERR_BUSY,		/* another writing operation holds the lock */
	SB_ERR_CORRUPT,		/* stored backup failed verification */
	SB_ERR_STORAGE,		/* the object store failed */
	SB_ERR_DB,		/* SQLite failed (catalog or source database) */
	SB_ERR_IO,		/* local file system failed */
	SB_ERR_CONFIG,		/* configuration is wrong */
	SB_ERR_AUTH,		/* the object store refused our credentials */
	SB_ERR_IDENTITY,	/* the store is not ours: its marker is missing
				   (not initialised, volume not mounted,
				   container gone) or names another service,
				   prefix or store than this config/catalog */
	SB_ERR_KEY,		/* the key a stored object or sealed value
				   needs is not in the keyring, or the ring
				   holds other bytes under its id (codec.h) */
	SB_ERR__MAX
};

const char	*sb_strerror(enum sb_err);
const char	*sb_errcode(enum sb_err);

enum sb_type {
	SB_TYPE_MANUAL = 0,
	SB_TYPE_AUTOMATIC,
	SB_TYPE__MAX
};

enum sb_status {
	SB_STATUS_PENDING = 0,
	SB_STATUS_COMPLETED,
	SB_STATUS_FAILED,
	SB_STATUS__MAX
};

/* The result of a backup's latest restore drill. */
enum sb_verify {
	SB_VERIFY_NONE = 0,	/* never drilled */
	SB_VERIFY_OK,		/* restorable: every check passed */
	SB_VERIFY_FAILED,	/* a check failed: see verify_detail */
	SB_VERIFY__MAX
};

const char	*sb_type_str(enum sb_type);
enum sb_err sb_type_parse(const char *, enum sb_type *);
const char	*sb_status_str(enum sb_status);
enum sb_err sb_status_parse(const char *, enum sb_status *);

/*
 * One backup as the catalog knows it. Strings are heap-owned by the
 * struct and released by sb_backup_clear(); NULL means absent.
 */
struct sb_backup {
	char		 id[SB_UUID_LEN + 1];
	enum sb_type	 type;
	enum sb_status	 status;
	int64_t		 created_at;	/* ms */
	int64_t		 completed_at;	/* ms, 0 while pending */
	char		*location;	/* object name in the store */
	int64_t		 size;		/* bytes of the plain .db, -1 unknown */
	char		 sha256[SB_SHA256_HEX + 1]; /* of the plain .db, "" unknown */
	int64_t		 stored_size;	/* bytes of the stored object (size when
					   plain, the encoded object's when
					   compressed or encrypted), -1 unknown */
	char		*description;
	char		**tags;
	size_t		 ntags;
	char		*error;		/* reason of a failure */
	/* The latest restore drill (engine_drill.c); 0 / NONE / NULL: never. */
	int64_t		 verified_at;	/* ms */
	enum sb_verify	 verify_status;
	char		*verify_detail;	/* what the drill found, in words */
};

void	 sb_backup_clear(struct sb_backup *);
enum sb_err sb_backup_copy(struct sb_backup *dst, const struct sb_backup *src);
enum sb_err sb_backup_set_tags(struct sb_backup *, const char *const *, size_t);

struct sb_backup_list {
	struct sb_backup	*v;
	size_t			 n;
};

void	 sb_backup_list_clear(struct sb_backup_list *);
enum sb_err sb_backup_list_push(struct sb_backup_list *, struct sb_backup *);

/* One restore; error heap-owned, released by sb_restore_clear(). */
struct sb_restore {
	char		 id[SB_UUID_LEN + 1];
	char		 backup_id[SB_UUID_LEN + 1];
	char		 safety_backup_id[SB_UUID_LEN + 1]; /* "" if none */
	int64_t		 started_at;
	int64_t		 finished_at;
	enum sb_status	 status;
	char		*error;
};

void	 sb_restore_clear(struct sb_restore *);

/* List filters; every field optional. */
struct sb_filter {
	int		 has_type;
	enum sb_type	 type;
	int		 has_status;
	enum sb_status	 status;
	int64_t		 from;		/* ms, 0 = open */
	int64_t		 to;		/* ms, 0 = open; inclusive */
	const char	*q;		/* substring of description or a tag */
	int64_t		 limit;		/* 0 = SB_LIST_DEFAULT */
	int64_t		 offset;
};

#define SB_LIST_DEFAULT	100
#define SB_LIST_MAX	1000
#define SB_LIST_ALL_MAX	1000000	/* most records or objects one whole-list
				   read (prune, reconcile) holds */

/*
 * A growable array without a capacity field, capped at max elements (see
 * util.c); arrp is the address of the array's pointer.
 */
#define SB_VEC_MIN	8
enum sb_err sb_vec_grow(void *arrp, size_t n, size_t size, size_t max);

/* util.c */
int64_t	 sb_now_ms(void);
int64_t	 sb_mono_ms(void);	/* ms on a clock that does not jump */
enum sb_err sb_fsync_dir(const char *);	/* SB_ERR_IO with errno */
enum sb_err sb_write_all(int fd, const void *, size_t);	/* same */
enum sb_err sb_pwrite_all(int fd, const void *, size_t, uint64_t off);
enum sb_err sb_time_format(int64_t ms, char *buf, size_t len);	/* ISO 8601 UTC */
enum sb_err sb_time_parse(const char *, int64_t *ms);		/* ISO 8601 or date */
enum sb_err sb_uuid_new(char out[SB_UUID_LEN + 1]);
int	 sb_is_uuid(const char *);
int	 sb_is_utf8(const char *, size_t);
int	 sb_is_description(const char *);
int	 sb_is_tag(const char *);
int	 sb_is_service(const char *);
const char *sb_listen_check(const char *);	/* NULL, or why not */
enum sb_err sb_prefix_normalise(const char *in, char *out, size_t len,
	    const char **why);
char	*sb_service_default(const char *source_path);		/* caller frees */
enum sb_err sb_parse_i64(const char *, int64_t min, int64_t max, int64_t *out);
enum sb_err sb_parse_size(const char *, uint64_t max, uint64_t *out);  /* 8M, 64k */
size_t	 sb_strlcpy(char *dst, const char *src, size_t len);
int	 sb_hexval(int c);					/* -1: not hex */
void	 sb_hex(const unsigned char *, size_t n, char *out);	/* 2n + 1 */
char	*sb_strdup(const char *);				/* NULL-safe */
void	 sb_seterr(char *buf, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));		/* SB_ERRMSG_MAX */
void	 sb_vseterr(char *buf, const char *fmt, va_list)
		__attribute__((format(printf, 2, 0)));

/*
 * Object names: backup-<YYYYmmddTHHMMSSmmmZ>-<type>-<uuid>.db. They sort by
 * time and carry type, time and id, so the catalog can be rebuilt from a
 * listing alone. An encoded object's name ends with the extension of its
 * codec instead (codec.h: ".db.zst", ".db.enc", ".db.zst.enc"): the
 * _ext form takes it; sb_name_parse accepts the four.
 */
enum sb_err sb_name_format(enum sb_type, int64_t created_ms, const char *id,
	    char *buf, size_t len);
enum sb_err sb_name_format_ext(enum sb_type, int64_t created_ms,
	    const char *id, const char *ext, char *buf, size_t len);
enum sb_err sb_name_parse(const char *name, enum sb_type *, int64_t *created_ms,
	    char id[SB_UUID_LEN + 1]);

/* sha256 of a whole file, hex; size in bytes. Streams in 1 MiB reads. */
enum sb_err sb_sha256_file(const char *path, char hex[SB_SHA256_HEX + 1],
	    int64_t *size, char *err);
/* The same, telling tick(arg, bytes hashed so far) after each read. */
enum sb_err sb_sha256_file_tick(const char *path,
	    char hex[SB_SHA256_HEX + 1], int64_t *size,
	    void (*tick)(void *arg, int64_t done), void *arg, char *err);

#endif /* SB_H */
