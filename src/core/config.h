/*
 * config.h - the one configuration file both binaries read (INI, parsed
 * with inih). See docs/CONFIG.md and safbackup.conf.example.
 *
 *   [source]    path                     the live SQLite database
 *   [catalog]   path                     the backup-db
 *   [core]      temp_dir, lock_file
 *   [store]     kind = disk | azure, service, prefix, compression,
 *               compression_level, encryption, key_id, key_file
 *   [disk]      root
 *   [azure]     account, container, endpoint, key_file, sas_file,
 *               connection_string_file, block_size, concurrency,
 *               timeout, retries
 *   [retention] daily_days, weekly_days, recent_hours, failed_days,
 *               min_keep, max_gap_hours
 *   [report]    webhook, webhook_timeout
 *   [daemon]    listen, workers, max_body, secret_file, allow_users,
 *               allow_groups, allow_addrs
 *   [drill]     query, query2, query3, query4, timeout
 *   [monitor]   max_age_hours, warn_age_hours, drill_max_age_days
 *
 * Secrets come from the environment first (SAFBACKUP_AZURE_KEY,
 * SAFBACKUP_AZURE_SAS, SAFBACKUP_AZURE_CONNECTION_STRING,
 * SAFBACKUP_STORE_KEYS), then from the
 * *_file keys (files must not be readable by group or others). Every
 * SAFBACKUP_<SECTION>_<KEY> environment variable overrides its key.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "drill.h"
#include "sb.h"

enum sb_store_kind {
	SB_STORE_DISK = 0,
	SB_STORE_AZURE,
	SB_STORE__MAX
};

/* Every string heap-owned; sb_config_free releases them. */
struct sb_config {
	char			*path;		/* the file it came from */
	char			*source_path;
	char			*catalog_path;
	char			*temp_dir;	/* default: /tmp */
	char			*lock_file;	/* default: <source>.safbackup.lock */
	enum sb_store_kind	 store_kind;
	char			*store_service;	/* default: [source] path's file name */
	char			*store_prefix;	/* "" or "seg/.../", normalised */
	/* What new objects are (codec.h); defaults: a plain .db. */
	enum sb_comp		 store_compression;
	unsigned		 store_compression_level; /* 1..19, default 3 */
	enum sb_enc		 store_encryption;
	char			*store_key_id;	/* NULL: the keyring's first */
	char			*store_keys;	/* secret: the keyring's text
						   (sb_keyring_load) */
	char			*disk_root;
	/* azure */
	/* As set; what is unset, the connection string may give (az_cred_init). */
	char			*az_account;
	char			*az_container;
	char			*az_endpoint;	/* unset: see az_endpoint() */
	char			*az_key;	/* secret: never logged */
	char			*az_sas;	/* secret */
	char			*az_connstr;	/* secret */
	uint64_t		 az_block_size;	/* bytes, default 8 MiB */
	unsigned		 az_concurrency; /* default 4 */
	unsigned		 az_timeout;	/* seconds per request, default 60 */
	unsigned		 az_retries;	/* default 5 */
	/* retention */
	unsigned		 ret_daily_days;   /* keep all: 30 */
	unsigned		 ret_weekly_days;  /* one per ISO week: 90 */
	unsigned		 ret_recent_hours; /* prune only if one completed: 48 */
	unsigned		 ret_failed_days;  /* failed records kept: 7 */
	unsigned		 ret_min_keep;     /* completed automatic floor: 7 */
	unsigned		 ret_max_gap_hours; /* longer gap = clock jump: 72 */
	/* report */
	char			*webhook;
	unsigned		 webhook_timeout; /* seconds, default 5 */
	/* daemon */
	char			*listen;	/* unix:/path or host:port */
	unsigned		 workers;	/* default 4 */
	uint64_t		 max_body;	/* bytes, default 64 KiB */
	/* Who may talk to backupd: only backupd reads the secret file and
	 * resolves the lists (peer.c), so backup-cron needs neither. */
	char			*daemon_secret_file;
	char			*allow_users;	/* user names, as written */
	char			*allow_groups;	/* group names, as written */
	char			*allow_addrs;	/* addresses or CIDR blocks */
	/* drill: smoke queries "SQL OP INTEGER" (drill.h), NULL unset */
	char			*drill_query[SB_DRILL_QUERIES];
	unsigned		 drill_timeout;	/* s per query, default 10 */
	/* monitor: `backup-cron check` */
	unsigned		 mon_max_age_hours; /* default 26 */
	unsigned		 mon_warn_age_hours; /* default 24, 0 off */
	unsigned		 mon_drill_days; /* older: warning; 3, 0 off */
};

/*
 * Read and validate the file at path (applying environment overrides).
 * On failure returns SB_ERR_CONFIG with "file:line: key: reason" in err.
 * *out is allocated; the caller frees it with sb_config_free.
 */
enum sb_err	sb_config_load(const char *path, struct sb_config **out,
		    char *err);

/* Defaults only, no file: for tests and tools. */
enum sb_err	sb_config_defaults(struct sb_config **out);

/* Check the cross-key rules (paths set, azure has a secret, ...). */
enum sb_err	sb_config_check(const struct sb_config *, char *err);

void	sb_config_free(struct sb_config **);

#endif /* SB_CONFIG_H */
