/*
 * backup-cron - take, list, check, restore and prune backups from the
 * command line; cron runs `backup` and `prune` (see cron/safbackup).
 *
 * A thin layer over the engine: parse arguments, call one sb_engine_*
 * function, print the result, map the error to an exit code (see usage()).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "engine.h"
#include "filter.h"
#include "json.h"
#include "progress.h"
#include "report.h"

#include "cron.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define DEFAULT_CONFIG	"/etc/safbackup/safbackup.conf"

static int	cmd_backup(struct ctx *, int, char **);
static int	cmd_list(struct ctx *, int, char **);
static int	cmd_show(struct ctx *, int, char **);
static int	cmd_delete(struct ctx *, int, char **);
static int	cmd_restore(struct ctx *, int, char **);
static int	cmd_verify(struct ctx *, int, char **);
static int	cmd_prune(struct ctx *, int, char **);
static int	cmd_reconcile(struct ctx *, int, char **);
static int	cmd_init(struct ctx *, int, char **);

static const struct cmd cmds[] = {
	{ "init", cmd_init, "[--force]",
	  "Set up the store once: create [disk] root or the Azure\n"
	  "              container if missing, write its marker (service,\n"
	  "              prefix, store id) if missing, and tie the catalog\n"
	  "              to it. Safe to run again. Every other command\n"
	  "              refuses a store without our marker (exit 8).\n"
	  "              --force: let the catalog adopt a store other than\n"
	  "              the one it remembers (e.g. a new, empty volume)." },
	{ "backup", cmd_backup,
	  "[--type automatic|manual] [--description TEXT] [--tag TAG]...",
	  "Take a backup now (default type: automatic)." },
	{ "list", cmd_list,
	  "[--type T] [--status S] [--from DATE] [--to DATE] [--query Q]\n"
	  "              [--limit N] [--offset N]",
	  "List backups, newest first. --from and --to are inclusive; a date\n"
	  "              alone as --to means the end of that day. --limit 1 to\n"
	  "              1000 (default 100), --offset 0 to 2147483647: the\n"
	  "              limits of GET /backups." },
	{ "show", cmd_show, "ID", "Show one backup." },
	{ "delete", cmd_delete, "ID",
	  "Delete a manual backup (automatic ones are left to prune)." },
	{ "restore", cmd_restore, "ID",
	  "Verify backup ID, take a safety backup of the live database,\n"
	  "              then copy the backup into it." },
	{ "verify", cmd_verify, "ID",
	  "Download backup ID and check its size, sha256 and integrity." },
	{ "drill", cmd_drill, "[--all | ID...]",
	  "Restore drill: fetch each backup into a scratch file\n"
	  "              (never the live database), check size, sha256,\n"
	  "              integrity_check, foreign_key_check and the [drill]\n"
	  "              smoke queries, and compare its schema with the live\n"
	  "              database's; record the result on the backup. No ID:\n"
	  "              the newest automatic backup and the one drilled\n"
	  "              longest ago (cron, nightly). --all: every completed\n"
	  "              backup. A failed drill is reported (drill.failed)\n"
	  "              and exits 6." },
	{ "check", cmd_check, "",
	  "Monitoring plugin (Nagios/Icinga): one line, and exit 0 OK,\n"
	  "              1 WARNING, 2 CRITICAL, 3 UNKNOWN (its own codes, not\n"
	  "              the list below). CRITICAL: newest automatic backup\n"
	  "              older than [monitor] max_age_hours, latest backup\n"
	  "              failed, prune halted, a drill failed, store\n"
	  "              unreachable. WARNING: newest automatic backup older\n"
	  "              than warn_age_hours, or no drill within\n"
	  "              drill_max_age_days. A change of state is reported\n"
	  "              once (backups.stale, backups.recovered)." },
	{ "metrics", cmd_metrics, "[--textfile PATH]",
	  "The Prometheus text format (0.0.4) of GET /backups/metrics\n"
	  "              (last success, failure and good drill, counts and\n"
	  "              bytes, durations, prune halted, health without the\n"
	  "              store) on stdout, or with --textfile written\n"
	  "              atomically to PATH (mode 0644) for node_exporter's\n"
	  "              textfile collector." },
	{ "prune", cmd_prune, "[--dry-run] [--confirm-clock]",
	  "Delete automatic backups the retention policy no longer keeps.\n"
	  "              Halts (exit 7) while backups fail or the clock jumped\n"
	  "              (backups dated in the future, or further apart than\n"
	  "              max_gap_hours). Once the clock is right, --confirm-clock\n"
	  "              accepts them and prunes (--dry-run: records nothing)." },
	{ "reconcile", cmd_reconcile, "[--force]",
	  "Rebuild or repair the catalog from the object store. Refuses\n"
	  "              (exit 8, nothing changed) when more than 3 and more\n"
	  "              than half of the completed backups would be marked\n"
	  "              missing, unless --force." },
	{ "keygen", cmd_keygen, "[ID]",
	  "Print a new store encryption key line \"ID BASE64\" for the\n"
	  "              file [store] key_file names (ID default: key-YYYYMMDD).\n"
	  "              Reads no configuration. Keep a copy away from the\n"
	  "              backups: without it they are unreadable." },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: backup-cron [--config FILE] [--json] COMMAND [ARGS]\n"
	    "\nCommands:\n");
	for (const struct cmd *c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-10s  %s\n", c->name, c->help);
	fprintf(f, "\nOptions:\n"
	    "  -c, --config FILE  configuration file (default: $SAFBACKUP_CONFIG,\n"
	    "                     then " DEFAULT_CONFIG ")\n"
	    "  -j, --json         print results as JSON\n"
	    "  -h, --help         this help; `backup-cron COMMAND --help` for one command\n"
	    "  -V, --version      print the version\n"
	    "\nExit status:\n"
	    "  0 success, 1 the operation failed, 2 bad arguments or configuration,\n"
	    "  3 busy (another backup operation is running), 4 no such backup,\n"
	    "  5 refused (automatic backup, or backup not completed),\n"
	    "  6 backup failed verification or a restore drill, 7 prune\n"
	    "  halted (backups are failing, or the clock jumped),\n"
	    "  8 the store is not this service's store\n"
	    "  (marker missing: run `backup-cron init`, or mount the volume; or\n"
	    "  another service's marker; or reconcile would mark most backups\n"
	    "  missing), 9 the key a backup needs is not in the keyring (the live\n"
	    "  database is untouched). `check` has its own: 0 OK, 1 WARNING,\n"
	    "  2 CRITICAL, 3 UNKNOWN.\n");
}

static void
cmd_usage(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: backup-cron %s %s\n\n  %s\n", c->name, c->args,
	    c->help);
}

const struct cmd *
cron_cmd_find(const char *name)
{
	for (const struct cmd *c = cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Engine error -> exit status, with the message on stderr. */
int
cron_failed(struct ctx *x, int rc, const char *what)
{
	fprintf(stderr, "backup-cron: %s: %s\n", what,
	    sb_engine_errmsg(x->eng));
	switch (rc) {
	case SB_ERR_BUSY:
		return EX_BUSY;
	case SB_ERR_NOTFOUND:
		return EX_NOTFOUND;
	case SB_ERR_AUTOMATIC:
	case SB_ERR_INVAL:
		return EX_REFUSED;
	case SB_ERR_CORRUPT:
		return EX_CORRUPT;
	case SB_ERR_CONFIG:
		return EX_USAGE;
	case SB_ERR_IDENTITY:
		return EX_STORE;
	case SB_ERR_KEY:
		return EX_KEY;
	default:
		return EX_FAIL;
	}
}

/*
 * The engine did not open (the catalog cannot be opened): nothing can be
 * recorded, but a backup, restore or prune that cron expected to run must
 * still be heard of, on the log and the webhook.
 */
static void
report_unopened(const struct sb_config *cfg, const struct cmd *c, int rc,
    const char *msg)
{
	struct sb_reporter	*r = NULL;
	char			 event[32];

	if (strcmp(c->name, "backup") != 0 && strcmp(c->name, "restore") != 0 &&
	    strcmp(c->name, "prune") != 0 && strcmp(c->name, "drill") != 0)
		return;
	snprintf(event, sizeof(event), "%s.failed", c->name);
	if (sb_reporter_new(&r, cfg->webhook, cfg->webhook_timeout) != SB_OK)
		r = NULL;
	sb_report(r, event, (enum sb_err)rc, NULL, msg);
	sb_reporter_free(&r);
}

void
cron_print_json(struct json_object *o)
{
	puts(o == NULL ? "null" : json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
human_size(int64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double	v = (double)n;
	int	u = 0;

	if (n < 0) {
		snprintf(buf, len, "-");
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

static void
print_backup_line(const struct sb_backup *b)
{
	char	when[40], size[32];

	if (sb_time_format(b->created_at, when, sizeof(when)) != SB_OK)
		sb_strlcpy(when, "-", sizeof(when));
	human_size(b->size, size, sizeof(size));
	printf("%s  %-9s  %-9s  %s  %10s  %s", b->id, sb_type_str(b->type),
	    sb_status_str(b->status), when, size,
	    b->description ? b->description : "");
	for (size_t i = 0; i < b->ntags; i++)
		printf("%s#%s", i == 0 && b->description ? "  " :
		    i == 0 ? "" : " ", b->tags[i]);
	if (b->status == SB_STATUS_FAILED && b->error)
		printf("  (%s)", b->error);
	if (b->verify_status == SB_VERIFY_OK)
		printf("  [verified]");
	else if (b->verify_status == SB_VERIFY_FAILED)
		printf("  [DRILL FAILED]");
	putchar('\n');
}

void
cron_print_backup(struct ctx *x, const struct sb_backup *b)
{
	char	size[32], stored[32], t1[40] = "-", t2[40] = "-";

	if (x->json) {
		cron_print_json(sb_backup_json(b));
		return;
	}
	human_size(b->size, size, sizeof(size));
	human_size(b->stored_size, stored, sizeof(stored));
	(void)sb_time_format(b->created_at, t1, sizeof(t1));
	if (b->completed_at > 0)
		(void)sb_time_format(b->completed_at, t2, sizeof(t2));
	printf("id:           %s\ntype:         %s\nstatus:       %s\n"
	    "created:      %s\ncompleted:    %s\nsize:         %s (%lld bytes)\n"
	    "stored:       %s (%lld bytes)\n"
	    "sha256:       %s\nlocation:     %s\ndescription:  %s\ntags:        ",
	    b->id, sb_type_str(b->type), sb_status_str(b->status), t1, t2,
	    size, (long long)b->size, stored, (long long)b->stored_size,
	    b->sha256[0] ? b->sha256 : "-",
	    b->location ? b->location : "-",
	    b->description ? b->description : "");
	for (size_t i = 0; i < b->ntags; i++)
		printf(" %s", b->tags[i]);
	putchar('\n');
	if (b->error != NULL)
		printf("error:        %s\n", b->error);
	if (b->verify_status == SB_VERIFY_NONE) {
		printf("drill:        never\n");
		return;
	}
	(void)sb_time_format(b->verified_at, t1, sizeof(t1));
	printf("drill:        %s at %s\ndrill detail: %s\n",
	    sb_verify_str(b->verify_status), t1,
	    b->verify_detail ? b->verify_detail : "");
}

/* See cron.h. */
int
cron_parse_opts(const struct cmd *c, int argc, char **argv,
    const char *shortopts,
    const struct option *longopts,
    enum sb_err (*each)(void *, int, const char *), void *arg)
{
	int	ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h') {
			cmd_usage(stdout, c);
			return -1;
		}
		if (ch == '?' || ch == ':') {
			if (optopt != 0)
				fprintf(stderr, "backup-cron %s: option -%c: %s\n",
				    c->name, optopt, ch == ':' ?
				    "needs a value" : "unknown option");
			else
				fprintf(stderr, "backup-cron %s: %s: unknown "
				    "option or missing value\n", c->name,
				    argv[optind - 1]);
			cmd_usage(stderr, c);
			return -2;
		}
		if (each == NULL || each(arg, ch, optarg) != SB_OK) {
			cmd_usage(stderr, c);
			return -2;
		}
	}
	return optind;
}

/* Exactly one positional argument, a backup id. */
static int
one_id(const struct cmd *c, int argc, char **argv, const char **id)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int	i;

	if ((i = cron_parse_opts(c, argc, argv, ":h", lo, NULL, NULL)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (argc - i != 1) {
		fprintf(stderr, "backup-cron %s: expected one backup ID\n",
		    c->name);
		cmd_usage(stderr, c);
		return EX_USAGE;
	}
	if (!sb_is_uuid(argv[i])) {
		fprintf(stderr, "backup-cron %s: '%s' is not a backup ID "
		    "(a lowercase uuid, as `backup-cron list` prints)\n",
		    c->name, argv[i]);
		return EX_USAGE;
	}
	*id = argv[i];
	return -1;
}

struct backup_args {
	enum sb_type	 type;
	const char	*desc;
	const char	*tags[SB_TAGS_MAX];
	size_t		 ntags;
};

static enum sb_err
backup_opt(void *arg, int ch, const char *val)
{
	struct backup_args	*a = arg;

	switch (ch) {
	case 't':
		if (sb_type_parse(val, &a->type) != SB_OK) {
			fprintf(stderr, "backup-cron backup: --type: expected "
			    "automatic or manual, got '%s'\n", val);
			return SB_ERR_INVAL;
		}
		return SB_OK;
	case 'd':
		a->desc = val;
		return SB_OK;
	case 'g':
		if (a->ntags == SB_TAGS_MAX) {
			fprintf(stderr, "backup-cron backup: at most %d tags\n",
			    SB_TAGS_MAX);
			return SB_ERR_INVAL;
		}
		a->tags[a->ntags++] = val;
		return SB_OK;
	}
	return SB_ERR_INVAL;
}

static int
cmd_backup(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, 't' },
		{ "description", required_argument, NULL, 'd' },
		{ "tag", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct backup_args	a;
	struct sb_backup	b;
	int			i, rc;

	memset(&a, 0, sizeof(a));
	a.type = SB_TYPE_AUTOMATIC;
	if ((i = cron_parse_opts(cron_cmd_find("backup"), argc, argv,
	    ":t:d:g:h", lo, backup_opt, &a)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron backup: unexpected argument '%s'\n",
		    argv[i]);
		return EX_USAGE;
	}
	memset(&b, 0, sizeof(b));
	rc = sb_engine_create(x->eng, a.type, a.desc, a.tags, a.ntags, &b);
	if (rc != SB_OK) {
		i = cron_failed(x, rc, "backup failed");
		/* Refused before anything was recorded: the arguments. */
		if (rc == SB_ERR_INVAL && b.id[0] == '\0')
			i = EX_USAGE;
		if (x->json && b.id[0] != '\0')
			cron_print_backup(x, &b);
		sb_backup_clear(&b);
		return i;
	}
	if (x->json)
		cron_print_backup(x, &b);
	else
		printf("backup %s completed: %s (%lld bytes, sha256 %s)\n",
		    b.id, b.location, (long long)b.size, b.sha256);
	sb_backup_clear(&b);
	return EX_OKAY;
}

struct list_args {
	struct sb_filter	f;
};

/*
 * A list filter option, parsed by the core (filter.h) as GET /backups's
 * parameters are: the same limits and the same reasons.
 */
static enum sb_err
list_opt(void *arg, int ch, const char *val)
{
	static const struct {
		int			 ch;
		const char		*opt;
		enum sb_filter_key	 key;
	} keys[] = {
		{ 't', "--type", SB_FILTER_TYPE },
		{ 's', "--status", SB_FILTER_STATUS },
		{ 'f', "--from", SB_FILTER_FROM },
		{ 'u', "--to", SB_FILTER_TO },
		{ 'q', "--query", SB_FILTER_Q },
		{ 'l', "--limit", SB_FILTER_LIMIT },
		{ 'o', "--offset", SB_FILTER_OFFSET },
	};
	struct sb_filter	*f = &((struct list_args *)arg)->f;
	char			 err[SB_ERRMSG_MAX];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].ch != ch)
			continue;
		if (sb_filter_set(f, keys[i].key, val, err) != SB_OK) {
			fprintf(stderr, "backup-cron list: %s: %s, got '%s'\n",
			    keys[i].opt, err, val);
			return SB_ERR_INVAL;
		}
		return SB_OK;
	}
	return SB_ERR_INVAL;
}

static int
cmd_list(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, 't' },
		{ "status", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'u' },
		{ "query", required_argument, NULL, 'q' },
		{ "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct list_args	a;
	struct sb_backup_list	l;
	char			err[SB_ERRMSG_MAX];
	int			i, rc;

	memset(&a, 0, sizeof(a));
	memset(&l, 0, sizeof(l));
	optind = 1;
	/* --json is accepted here too, where users type it. */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			x->json = 1;
			memmove(&argv[i], &argv[i + 1],
			    (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	if ((i = cron_parse_opts(cron_cmd_find("list"), argc, argv,
	    ":t:s:f:u:q:l:o:h", lo, list_opt, &a)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron list: unexpected argument '%s'\n",
		    argv[i]);
		return EX_USAGE;
	}
	if (sb_filter_check(&a.f, err) != SB_OK) {
		fprintf(stderr, "backup-cron list: %s\n", err);
		return EX_USAGE;
	}
	if ((rc = sb_engine_list(x->eng, &a.f, &l)) != SB_OK)
		return cron_failed(x, rc, "list failed");
	if (x->json) {
		struct json_object *arr = json_object_new_array();
		for (size_t k = 0; k < l.n; k++)
			json_object_array_add(arr, sb_backup_json(&l.v[k]));
		cron_print_json(arr);
	} else if (l.n == 0)
		printf("no backups\n");
	else
		for (size_t k = 0; k < l.n; k++)
			print_backup_line(&l.v[k]);
	sb_backup_list_clear(&l);
	return EX_OKAY;
}

/*
 * A backup as `show` prints it, with the progress of the backup or
 * restore running on it, if any (as GET /backups/:id's "progress"; the
 * catalog says how far it got, updated once a second).
 */
static void
show_with_progress(struct ctx *x, const struct sb_backup *b)
{
	struct sb_running	 run[SB_RUNNING_MAX];
	struct json_object	*o;
	char			 line[256];
	size_t			 n = 0;

	if (sb_engine_running(x->eng, b->id, run, SB_RUNNING_MAX, &n) !=
	    SB_OK)
		n = 0;	/* the record is what was asked for */
	if (!x->json) {
		cron_print_backup(x, b);
		if (n > 0) {
			sb_running_line(&run[0], line, sizeof(line));
			printf("progress:     %s\n", line);
		}
		return;
	}
	if ((o = sb_backup_json(b)) != NULL && json_object_object_add(o,
	    "progress", n > 0 ? sb_running_json(&run[0], 0) : NULL) != 0) {
		json_object_put(o);
		o = NULL;
	}
	cron_print_json(o);
}

static int
cmd_show(struct ctx *x, int argc, char **argv)
{
	struct sb_backup	 b;
	const char		*id = NULL;
	int			 rc;

	if ((rc = one_id(cron_cmd_find("show"), argc, argv, &id)) >= 0)
		return rc;
	memset(&b, 0, sizeof(b));
	if ((rc = sb_engine_get(x->eng, id, &b)) != SB_OK)
		return cron_failed(x, rc, "show failed");
	show_with_progress(x, &b);
	sb_backup_clear(&b);
	return EX_OKAY;
}

static int
cmd_delete(struct ctx *x, int argc, char **argv)
{
	const char	*id = NULL;
	int		 rc;

	if ((rc = one_id(cron_cmd_find("delete"), argc, argv, &id)) >= 0)
		return rc;
	if ((rc = sb_engine_delete(x->eng, id)) != SB_OK)
		return cron_failed(x, rc, "delete failed");
	if (x->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "deleted", json_object_new_string(id));
		cron_print_json(o);
	} else
		printf("deleted %s\n", id);
	return EX_OKAY;
}

static int
cmd_restore(struct ctx *x, int argc, char **argv)
{
	struct sb_restore	 r;
	const char		*id = NULL;
	int			 rc;

	if ((rc = one_id(cron_cmd_find("restore"), argc, argv, &id)) >= 0)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = sb_engine_restore(x->eng, id, &r);
	if (x->json && r.id[0] != '\0')
		cron_print_json(sb_restore_json(&r));
	if (rc != SB_OK) {
		sb_restore_clear(&r);
		return cron_failed(x, rc, "restore failed");
	}
	if (!x->json)
		printf("restored %s into %s (safety backup %s holds the previous "
		    "state)\n", id, x->cfg->source_path, r.safety_backup_id);
	/* Restored, but its safety backup is only local (not uploaded). */
	if (r.error != NULL)
		fprintf(stderr, "backup-cron: warning: %s\n", r.error);
	sb_restore_clear(&r);
	return EX_OKAY;
}

static int
cmd_verify(struct ctx *x, int argc, char **argv)
{
	const char	*id = NULL;
	int		 rc;

	if ((rc = one_id(cron_cmd_find("verify"), argc, argv, &id)) >= 0)
		return rc;
	if ((rc = sb_engine_verify(x->eng, id)) != SB_OK)
		return cron_failed(x, rc, "verify failed");
	if (x->json)
		cron_print_json(sb_verify_json(id));
	else
		printf("backup %s verified: size, sha256 and integrity check "
		    "are good\n", id);
	return EX_OKAY;
}

static enum sb_err
prune_opt(void *arg, int ch, const char *val)
{
	(void)val;
	if (ch == 'n')
		*(unsigned *)arg |= SB_PRUNE_DRY_RUN;
	else if (ch == 'C')
		*(unsigned *)arg |= SB_PRUNE_CONFIRM_CLOCK;
	else
		return SB_ERR_INVAL;
	return SB_OK;
}

/*
 * prune's text: the clock mark it set, then a line per automatic backup
 * and the count, or why it halted. The plan also holds the manual records
 * (checked for the clock), which are not listed.
 */
static void
print_prune(const struct sb_prune_result *p, int dry)
{
	const struct sb_retention_plan	*plan = &p->plan;
	char				 confirmed[40];
	size_t				 nauto = 0;

	if (p->clock_confirmed > 0 && sb_time_format(p->clock_confirmed,
	    confirmed, sizeof(confirmed)) == SB_OK)
		printf("%sclock confirmed: backups and gaps up to %s are "
		    "accepted\n", dry ? "dry run: " : "", confirmed);
	if (plan->halted) {
		printf("prune halted, nothing deleted: %s\n",
		    plan->halt_reason);
		return;
	}
	for (size_t k = 0; k < plan->n; k++) {
		if (plan->v[k].backup->type != SB_TYPE_AUTOMATIC)
			continue;
		nauto++;
		printf("%s  %s  %s\n", plan->v[k].backup->id,
		    plan->v[k].verdict == SB_DELETE ? (dry ? "would delete" :
		    "deleted") : "keep", plan->v[k].reason);
	}
	printf("%s%zu of %zu automatic backups\n", dry ?
	    "dry run: would delete " : "deleted ", dry ? plan->ndelete :
	    p->deleted, nauto);
}

static int
cmd_prune(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "confirm-clock", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct sb_prune_result	 p;
	unsigned		 flags = 0;
	int			 dry, i, rc;

	if ((i = cron_parse_opts(cron_cmd_find("prune"), argc, argv, ":nh", lo,
	    prune_opt, &flags)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron prune: unexpected argument '%s'\n",
		    argv[i]);
		return EX_USAGE;
	}
	dry = (flags & SB_PRUNE_DRY_RUN) != 0;
	rc = sb_engine_prune(x->eng, flags, &p);
	if (rc != SB_OK) {
		sb_prune_result_clear(&p);
		return cron_failed(x, rc, "prune failed");
	}
	if (x->json)
		cron_print_json(sb_prune_json(&p, dry));
	else
		print_prune(&p, dry);
	rc = p.plan.halted ? EX_HALTED : EX_OKAY;
	if (p.plan.halted)
		fprintf(stderr, "backup-cron prune: halted: %s\n",
		    p.plan.halt_reason);
	sb_prune_result_clear(&p);
	return rc;
}

/* --force, for init and reconcile. */
static enum sb_err
force_opt(void *arg, int ch, const char *val)
{
	(void)val;
	if (ch != 'f')
		return SB_ERR_INVAL;
	*(int *)arg = 1;
	return SB_OK;
}

/*
 * init runs before the engine is opened: the engine refuses a store
 * without its marker, and writing that marker is init's job.
 */
static int
cmd_init(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct sb_store_marker	m;
	char			err[SB_ERRMSG_MAX], where[SB_ERRMSG_MAX];
	int			force = 0, created = 0, i, rc;

	if ((i = cron_parse_opts(cron_cmd_find("init"), argc, argv, ":fh", lo,
	    force_opt, &force)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron init: unexpected argument '%s'\n",
		    argv[i]);
		return EX_USAGE;
	}
	if ((rc = sb_engine_init(x->cfg, force, &m, &created, err)) !=
	    SB_OK) {
		fprintf(stderr, "backup-cron: init failed: %s\n", err);
		return rc == SB_ERR_IDENTITY ? EX_STORE : rc == SB_ERR_CONFIG ?
		    EX_USAGE : EX_FAIL;
	}
	sb_store_describe(x->cfg, where, sizeof(where));
	if (x->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "store", json_object_new_string(where));
		json_object_object_add(o, "service",
		    json_object_new_string(m.service));
		json_object_object_add(o, "prefix",
		    json_object_new_string(m.prefix));
		json_object_object_add(o, "store_id",
		    json_object_new_string(m.store_id));
		json_object_object_add(o, "created",
		    json_object_new_boolean(created));
		cron_print_json(o);
	} else
		printf("%s: %s store %s of service %s%s%s\n", where, created ?
		    "initialised" : "already initialised as", m.store_id,
		    m.service, m.prefix[0] ? ", prefix " : "", m.prefix);
	return EX_OKAY;
}

static int
cmd_reconcile(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct sb_reconcile_result	r;
	int				force = 0, i, rc;

	if ((i = cron_parse_opts(cron_cmd_find("reconcile"), argc, argv,
	    ":fh", lo, force_opt, &force)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron reconcile: unexpected argument "
		    "'%s'\n", argv[i]);
		return EX_USAGE;
	}
	if ((rc = sb_engine_reconcile(x->eng, force, &r)) != SB_OK)
		return cron_failed(x, rc, "reconcile failed");
	if (x->json)
		cron_print_json(sb_reconcile_json(&r));
	else
		printf("reconciled: %zu added, %zu updated, %zu missing from "
		    "the store, %zu objects skipped\n", r.added, r.updated,
		    r.missing, r.skipped);
	if (!x->json && r.unreadable > 0)
		fprintf(stderr, "backup-cron: warning: the sealed description "
		    "and tags of %zu encrypted object(s) could not be read "
		    "(their key is not in the keyring); they are logged as "
		    "reconcile.unreadable, and what the catalog had is kept\n",
		    r.unreadable);
	return EX_OKAY;
}

/*
 * The options before the command (getopt stops at the first operand).
 * -1 to go on, optind past them; otherwise the exit status.
 */
static int
global_opts(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 } };
	int	ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:jhV", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			x->config_path = optarg;
			break;
		case 'j':
			x->json = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OKAY;
		case 'V':
			printf("backup-cron %s\n", PACKAGE_VERSION);
			return EX_OKAY;
		default:
			fprintf(stderr, "backup-cron: %s: unknown option or "
			    "missing value (see backup-cron --help)\n",
			    argv[optind - 1]);
			return EX_USAGE;
		}
	return -1;
}

/*
 * The command argv[0] names into *c, answering `help` and --help itself
 * (help must work without a config file). -1 to run *c; otherwise the
 * exit status.
 */
static int
find_command(int argc, char **argv, const struct cmd **c)
{
	if (argc < 1) {
		fprintf(stderr, "backup-cron: no command given (see "
		    "backup-cron --help)\n");
		return EX_USAGE;
	}
	if (strcmp(argv[0], "help") == 0) {
		if (argc > 1 && (*c = cron_cmd_find(argv[1])) != NULL)
			cmd_usage(stdout, *c);
		else
			usage(stdout);
		return EX_OKAY;
	}
	if ((*c = cron_cmd_find(argv[0])) == NULL) {
		fprintf(stderr, "backup-cron: unknown command '%s' (see "
		    "backup-cron --help)\n", argv[0]);
		return EX_USAGE;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_usage(stdout, *c);
			return EX_OKAY;
		}
	return -1;
}

/*
 * Load the configuration, open the engine (init runs without one) and
 * run c; everything is released before returning its exit status.
 */
static int
run_command(struct ctx *x, const struct cmd *c, int argc, char **argv)
{
	char	err[SB_ERRMSG_MAX];
	int	rc;

	if (c->fn == cmd_keygen)
		return cmd_keygen(x, argc, argv);
	if (x->config_path == NULL && (x->config_path =
	    getenv("SAFBACKUP_CONFIG")) == NULL)
		x->config_path = DEFAULT_CONFIG;
	if (sb_config_load(x->config_path, &x->cfg, err) != SB_OK ||
	    sb_config_check(x->cfg, err) != SB_OK ||
	    sb_engine_keys_check(x->cfg, err) != SB_OK) {
		if (c->fn == cmd_check) {
			sb_config_free(&x->cfg);
			return cron_check_unknown(x, err);
		}
		fprintf(stderr, "backup-cron: %s\n", err);
		sb_config_free(&x->cfg);
		return EX_USAGE;
	}
	if (c->fn == cmd_init) {
		rc = cmd_init(x, argc, argv);
		sb_config_free(&x->cfg);
		return rc;
	}
	if ((rc = sb_engine_open(&x->eng, x->cfg, err)) != SB_OK &&
	    c->fn == cmd_check) {
		sb_config_free(&x->cfg);
		return cron_check_unknown(x, err);
	}
	if (rc != SB_OK) {
		fprintf(stderr, "backup-cron: %s\n", err);
		report_unopened(x->cfg, c, rc, err);
		sb_config_free(&x->cfg);
		return rc == SB_ERR_CONFIG ? EX_USAGE :
		    rc == SB_ERR_IDENTITY ? EX_STORE : EX_FAIL;
	}
	rc = c->fn(x, argc, argv);
	sb_engine_close(&x->eng);
	sb_config_free(&x->cfg);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct ctx		 x;
	const struct cmd	*c = NULL;
	int			 rc;

	memset(&x, 0, sizeof(x));
	sb_log_init("backup-cron", SB_LOG_INFO);
	if ((rc = global_opts(&x, argc, argv)) >= 0)
		return rc;
	argc -= optind;
	argv += optind;
	if ((rc = find_command(argc, argv, &c)) >= 0)
		return rc;
	return run_command(&x, c, argc, argv);
}
