/*
 * cron.h - what backup-cron's files share: the command context, the exit
 * codes, and the helpers every command uses (backup-cron.c). The
 * commands of restore drills and of `check` live in cron_drill.c.
 */
#ifndef SB_CRON_H
#define SB_CRON_H

#include <getopt.h>
#include <stdio.h>

#include <json-c/json.h>

#include "sb.h"

struct sb_config;
struct sb_engine;

/* Exit codes: part of the interface (docs/OPERATIONS.md). */
enum {
	EX_OKAY = 0,		/* success */
	EX_FAIL = 1,		/* the operation failed */
	EX_USAGE = 2,		/* bad arguments or configuration */
	EX_BUSY = 3,		/* another backup operation is running */
	EX_NOTFOUND = 4,	/* no such backup */
	EX_REFUSED = 5,		/* refused: automatic, or not completed */
	EX_CORRUPT = 6,		/* the backup failed verification (or a
				   restore drill) */
	EX_HALTED = 7,		/* prune deleted nothing: backups are failing
				   or the clock jumped */
	EX_STORE = 8,		/* the store is not this service's (marker) */
	EX_KEY = 9		/* the key a backup needs is not in the keyring
				   (missing, or other bytes under its id) */
};

struct ctx {
	const char		*config_path;
	struct sb_config	*cfg;
	struct sb_engine	*eng;
	int			 json;
};

typedef int (*cmd_fn)(struct ctx *, int, char **);

struct cmd {
	const char	*name;
	cmd_fn		 fn;
	const char	*args;
	const char	*help;
};

/* backup-cron.c */
const struct cmd *cron_cmd_find(const char *name);
int	cron_failed(struct ctx *, int rc, const char *what);
void	cron_print_json(struct json_object *);
void	cron_print_backup(struct ctx *, const struct sb_backup *);
/*
 * Parse a command's options. Every command accepts --help. Returns -1
 * after printing help (exit 0), -2 on a usage error (exit 2), else optind.
 */
int	cron_parse_opts(const struct cmd *, int argc, char **argv,
	    const char *shortopts, const struct option *longopts,
	    enum sb_err (*each)(void *, int, const char *), void *arg);

/* cron_drill.c */
int	cmd_drill(struct ctx *, int, char **);
int	cmd_check(struct ctx *, int, char **);
/* check's one line when it cannot judge (exit 3, Nagios UNKNOWN). */
int	cron_check_unknown(struct ctx *, const char *why);

/* cron_metrics.c */
int	cmd_metrics(struct ctx *, int, char **);

/* cron_keygen.c: needs no configuration (run before it is loaded) */
int	cmd_keygen(struct ctx *, int, char **);

#endif /* SB_CRON_H */
