/*
 * test_config.c - the configuration file: every key, the defaults, every
 * kind of error with its exact "FILE:LINE: [section] key: why" message,
 * environment overrides, secrets (environment, files, connection
 * strings) and that no secret ever shows in a message.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

extern char **environ;

#define MIN_DISK \
	"[source]\npath = /srv/app.db\n" \
	"[catalog]\npath = /srv/catalog.db\n" \
	"[disk]\nroot = /srv/backups\n"

#define MIN_AZURE \
	"[source]\npath = /srv/app.db\n" \
	"[catalog]\npath = /srv/catalog.db\n" \
	"[store]\nkind = azure\n" \
	"[azure]\naccount = acct1\ncontainer = backups\n"

/* Secrets used below: none may ever appear in a message. */
#define SECRET_KEY	"c2VjcmV0LWtleS1kby1ub3QtbG9n"
#define SECRET_SAS	"sv=2022-11-02&sig=TOPSECRETSIG"

struct fx {
	char	dir[PATH_MAX];		/* realpath'd mkdtemp directory */
	char	conf[PATH_MAX + 32];	/* dir/safbackup.conf */
	char	err[SB_ERRMSG_MAX];
	struct sb_config *cfg;
};

/* Remove every SAFBACKUP_* variable so tests do not see each other's. */
static void
clear_env(void)
{
	char	name[256];
	int	again = 1;

	while (again) {
		again = 0;
		for (char **e = environ; *e != NULL; e++) {
			const char *eq = strchr(*e, '=');
			if (strncmp(*e, "SAFBACKUP_", 10) != 0 || eq == NULL ||
			    (size_t)(eq - *e) >= sizeof(name))
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	char		 tmp[PATH_MAX];

	assert_non_null(fx);
	snprintf(tmp, sizeof(tmp), "/tmp/sb-test-config-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/safbackup.conf", fx->dir);
	clear_env();
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	char		 cmd[PATH_MAX + 16];

	sb_config_free(&fx->cfg);
	clear_env();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	fd;
	size_t	len = strlen(text);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Write text as the config file and load it. */
static int
load(struct fx *fx, const char *text)
{
	sb_config_free(&fx->cfg);
	fx->err[0] = '\0';
	write_file(fx->conf, text, 0644);
	return sb_config_load(fx->conf, &fx->cfg, fx->err);
}

/* Load text expecting failure with exactly "<conf>:<rest>". */
static void
expect_error(struct fx *fx, const char *text, const char *rest)
{
	char	want[SB_ERRMSG_MAX + 2 * PATH_MAX];

	assert_int_equal(load(fx, text), SB_ERR_CONFIG);
	assert_null(fx->cfg);
	snprintf(want, sizeof(want), "%s%s", fx->conf, rest);
	assert_string_equal(fx->err, want);
}

static void
test_full_file(void **state)
{
	struct fx	*fx = *state;
	char		 keyfile[PATH_MAX + 16];

	snprintf(keyfile, sizeof(keyfile), "%s/azure.key", fx->dir);
	write_file(keyfile, SECRET_KEY "\n", 0600);
	assert_int_equal(load(fx,
	    "; every key there is\n"
	    "# with both comment styles\n"
	    "[source]\n"
	    "path = /srv/app/app.db\n"
	    "[catalog]\n"
	    "path = /srv/app/catalog.db\n"
	    "[core]\n"
	    "temp_dir = /var/tmp\n"
	    "lock_file = /run/app.lock\n"
	    "[store]\n"
	    "kind = azure\n"
	    "[disk]\n"
	    "root = /srv/backups\n"
	    "[azure]\n"
	    "account = myaccount\n"
	    "container = app-backups\n"
	    "endpoint = https://myaccount.blob.core.windows.net/\n"
	    "key_file = azure.key\n"
	    "block_size = 16M\n"
	    "concurrency = 8\n"
	    "timeout = 120\n"
	    "retries = 3\n"
	    "[retention]\n"
	    "daily_days = 14\n"
	    "weekly_days = 60\n"
	    "recent_hours = 24\n"
	    "failed_days = 3\n"
	    "min_keep = 0\n"
	    "max_gap_hours = 240\n"
	    "[report]\n"
	    "webhook = https://hooks.example.com/T000/B000\n"
	    "webhook_timeout = 10\n"
	    "[daemon]\n"
	    "listen = 127.0.0.1:9000\n"
	    "workers = 2\n"
	    "max_body = 128k\n"), SB_OK);
	struct sb_config *c = fx->cfg;
	assert_non_null(c);
	assert_string_equal(c->path, fx->conf);
	assert_string_equal(c->source_path, "/srv/app/app.db");
	assert_string_equal(c->catalog_path, "/srv/app/catalog.db");
	assert_string_equal(c->temp_dir, "/var/tmp");
	assert_string_equal(c->lock_file, "/run/app.lock");
	assert_int_equal(c->store_kind, SB_STORE_AZURE);
	assert_string_equal(c->disk_root, "/srv/backups");
	assert_string_equal(c->az_account, "myaccount");
	assert_string_equal(c->az_container, "app-backups");
	/* The trailing slash is dropped: callers append "/container". */
	assert_string_equal(c->az_endpoint,
	    "https://myaccount.blob.core.windows.net");
	assert_string_equal(c->az_key, SECRET_KEY);	/* newline trimmed */
	assert_null(c->az_sas);
	assert_null(c->az_connstr);
	assert_int_equal(c->az_block_size, 16 * 1024 * 1024);
	assert_int_equal(c->az_concurrency, 8);
	assert_int_equal(c->az_timeout, 120);
	assert_int_equal(c->az_retries, 3);
	assert_int_equal(c->ret_daily_days, 14);
	assert_int_equal(c->ret_weekly_days, 60);
	assert_int_equal(c->ret_recent_hours, 24);
	assert_int_equal(c->ret_failed_days, 3);
	assert_int_equal(c->ret_min_keep, 0);
	assert_int_equal(c->ret_max_gap_hours, 240);
	assert_string_equal(c->webhook, "https://hooks.example.com/T000/B000");
	assert_int_equal(c->webhook_timeout, 10);
	assert_string_equal(c->listen, "127.0.0.1:9000");
	assert_int_equal(c->workers, 2);
	assert_int_equal(c->max_body, 128 * 1024);
}

static void
test_defaults(void **state)
{
	struct fx		*fx = *state;
	struct sb_config	*d = NULL;
	char			 err[SB_ERRMSG_MAX];

	assert_int_equal(sb_config_defaults(&d), SB_OK);
	assert_null(d->path);
	assert_null(d->source_path);
	assert_null(d->catalog_path);
	assert_null(d->lock_file);
	assert_null(d->disk_root);
	assert_string_equal(d->temp_dir, "/tmp");
	assert_int_equal(d->store_kind, SB_STORE_DISK);
	assert_int_equal(d->az_block_size, 8 * 1024 * 1024);
	assert_int_equal(d->az_concurrency, 4);
	assert_int_equal(d->az_timeout, 60);
	assert_int_equal(d->az_retries, 5);
	assert_int_equal(d->ret_daily_days, 30);
	assert_int_equal(d->ret_weekly_days, 90);
	assert_int_equal(d->ret_recent_hours, 48);
	assert_int_equal(d->ret_failed_days, 7);
	assert_int_equal(d->ret_min_keep, 7);
	assert_int_equal(d->ret_max_gap_hours, 72);
	assert_null(d->webhook);
	assert_int_equal(d->webhook_timeout, 5);
	assert_string_equal(d->listen, "unix:/run/safbackup/backupd.sock");
	assert_int_equal(d->workers, 4);
	assert_int_equal(d->max_body, 65536);
	/* Defaults alone lack the paths. */
	assert_int_equal(sb_config_check(d, err), SB_ERR_CONFIG);
	assert_string_equal(err, "configuration: [source] path: required "
	    "(the SQLite database to back up; or set SAFBACKUP_SOURCE_PATH)");
	sb_config_free(&d);
	assert_null(d);
	sb_config_free(&d);	/* NULL is fine */

	/* A minimal file gets the same defaults and a derived lock file. */
	assert_int_equal(load(fx, MIN_DISK), SB_OK);
	assert_string_equal(fx->cfg->lock_file, "/srv/app.db.safbackup.lock");
	assert_string_equal(fx->cfg->temp_dir, "/tmp");
	assert_int_equal(fx->cfg->store_kind, SB_STORE_DISK);
	assert_int_equal(fx->cfg->workers, 4);
	assert_int_equal(fx->cfg->ret_weekly_days, 90);
	assert_int_equal(fx->cfg->max_body, 65536);
	assert_string_equal(fx->cfg->listen, "unix:/run/safbackup/backupd.sock");
	assert_null(fx->cfg->webhook);
	/* An empty value means "not set": the default applies. */
	assert_int_equal(load(fx, MIN_DISK "[core]\ntemp_dir =\n"
	    "[report]\nwebhook =\n"), SB_OK);
	assert_string_equal(fx->cfg->temp_dir, "/tmp");
	assert_null(fx->cfg->webhook);
	assert_int_equal(load(fx, MIN_DISK "[daemon]\nlisten =\n"), SB_OK);
	assert_string_equal(fx->cfg->listen, "unix:/run/safbackup/backupd.sock");
	/* One pair of double quotes is taken off. */
	assert_int_equal(load(fx, MIN_DISK "[core]\ntemp_dir = \"/var/my tmp\"\n"),
	    SB_OK);
	assert_string_equal(fx->cfg->temp_dir, "/var/my tmp");
}

static void
test_error_unknown(void **state)
{
	struct fx	*fx = *state;

	expect_error(fx, MIN_DISK "[bogus]\nx = 1\n",
	    ":8: [bogus] x: unknown key: there is no section [bogus]");
	expect_error(fx, "[source]\npaht = /srv/app.db\n",
	    ":2: [source] paht: unknown key");
	expect_error(fx, "[azure]\naccount = xyz1\n\n[source]\naccount = y\n",
	    ":5: [source] account: unknown key");
	expect_error(fx, "orphan = 1\n" MIN_DISK,
	    ":1: orphan: unknown key: keys must follow a [section] header");
	/* Names are case-sensitive. */
	expect_error(fx, "[Source]\npath = /x\n",
	    ":2: [Source] path: unknown key: there is no section [Source]");
}

static void
test_error_values(void **state)
{
	struct fx	*fx = *state;

	expect_error(fx, MIN_DISK "[daemon]\nworkers = four\n",
	    ":8: [daemon] workers: not a whole number from 1 to 64 "
	    "(got 'four')");
	expect_error(fx, MIN_DISK "[daemon]\nworkers = 65\n",
	    ":8: [daemon] workers: out of range: must be from 1 to 64 "
	    "(got '65')");
	expect_error(fx, MIN_DISK "[daemon]\nworkers = 0\n",
	    ":8: [daemon] workers: out of range: must be from 1 to 64 "
	    "(got '0')");
	expect_error(fx, MIN_DISK "[daemon]\nworkers = -3\n",
	    ":8: [daemon] workers: out of range: must be from 1 to 64 "
	    "(got '-3')");
	expect_error(fx, MIN_DISK "[retention]\ndaily_days = 3651\n",
	    ":8: [retention] daily_days: out of range: must be from 1 to 3650 "
	    "(got '3651')");
	expect_error(fx, MIN_DISK "[retention]\nrecent_hours = 1.5\n",
	    ":8: [retention] recent_hours: not a whole number from 1 to 8760 "
	    "(got '1.5')");
	expect_error(fx, MIN_DISK "[retention]\nmin_keep = 1001\n",
	    ":8: [retention] min_keep: out of range: must be from 0 to 1000 "
	    "(got '1001')");
	expect_error(fx, MIN_DISK "[retention]\nmax_gap_hours = 0\n",
	    ":8: [retention] max_gap_hours: out of range: must be from 1 to "
	    "87600 (got '0')");
	expect_error(fx, MIN_DISK "[azure]\nblock_size = 32k\n",
	    ":8: [azure] block_size: out of range: must be from 64k to 100M "
	    "(got '32k')");
	expect_error(fx, MIN_DISK "[azure]\nblock_size = 8 MB\n",
	    ":8: [azure] block_size: not a size (bytes, or a number with k, "
	    "M or G) from 64k to 100M (got '8 MB')");
	expect_error(fx, MIN_DISK "[daemon]\nmax_body = 17M\n",
	    ":8: [daemon] max_body: out of range: must be from 1k to 16M "
	    "(got '17M')");
	expect_error(fx, MIN_DISK "[azure]\ntimeout = 3601\n",
	    ":8: [azure] timeout: out of range: must be from 1 to 3600 "
	    "(got '3601')");
	/* The webhook waits for nobody's lock, but not forever either. */
	expect_error(fx, MIN_DISK "[report]\nwebhook_timeout = 61\n",
	    ":8: [report] webhook_timeout: out of range: must be from 1 to 60 "
	    "(got '61')");
	expect_error(fx, MIN_DISK "[store]\nkind = s3\n",
	    ":8: [store] kind: must be disk or azure (got 's3')");
	expect_error(fx, MIN_DISK "[azure]\naccount = My_Account\n",
	    ":8: [azure] account: not an Azure storage account name "
	    "(3 to 24 lowercase letters and digits) (got 'My_Account')");
	expect_error(fx, MIN_DISK "[azure]\ncontainer = a--b\n",
	    ":8: [azure] container: not an Azure container name (3 to 63 "
	    "lowercase letters, digits and single hyphens, starting and ending "
	    "with a letter or digit) (got 'a--b')");
	expect_error(fx, MIN_DISK "[azure]\nendpoint = ftp://x\n",
	    ":8: [azure] endpoint: must be an http:// or https:// URL "
	    "(got 'ftp://x')");
	expect_error(fx, MIN_DISK "[daemon]\nlisten = localhost\n",
	    ":8: [daemon] listen: must be unix:/path/to/socket or host:port "
	    "(port 1 to 65535) (got 'localhost')");
	expect_error(fx, MIN_DISK "[daemon]\nlisten = :80\n",
	    ":8: [daemon] listen: must be unix:/path/to/socket or host:port "
	    "(port 1 to 65535) (got ':80')");
	/* A webhook URL often carries a token: never echoed. */
	expect_error(fx, MIN_DISK "[report]\nwebhook = hooks.example.com/T0K3N\n",
	    ":8: [report] webhook: must be an http:// or https:// URL");
	assert_null(strstr(fx->err, "T0K3N"));
	expect_error(fx, MIN_DISK "[azure]\nendpoint = https:///\n",
	    ":8: [azure] endpoint: must be an http:// or https:// URL "
	    "(got 'https:///')");
	expect_error(fx, MIN_DISK "[daemon]\nlisten = unix:/run/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	    ":8: [daemon] listen: socket path too long (at most 107 bytes once "
	    "resolved) (got 'unix:/run/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...')");
	/* A webhook keeps its trailing slash; an endpoint loses it. */
	assert_int_equal(load(fx, MIN_DISK "[report]\nwebhook = "
	    "https://h.example/x/\n[azure]\nendpoint = http://127.0.0.1:1/a/\n"),
	    SB_OK);
	assert_string_equal(fx->cfg->webhook, "https://h.example/x/");
	assert_string_equal(fx->cfg->az_endpoint, "http://127.0.0.1:1/a");
}

static void
test_error_syntax(void **state)
{
	struct fx	*fx = *state;
	char		 text[600];

	expect_error(fx, "[source]\npath = /a\n[source]\npath = /b\n",
	    ":4: [source] path: duplicate key (first set on line 2)");
	expect_error(fx, MIN_DISK "[daemon]\nworkers = 2\nworkers = 3\n",
	    ":9: [daemon] workers: duplicate key (first set on line 8)");
	expect_error(fx, "[source]\npath /srv/app.db\n",
	    ":2: syntax error: expected [section], key = value, or a comment");
	expect_error(fx, "[source\npath = /srv/app.db\n",
	    ":1: syntax error: expected [section], key = value, or a comment");
	/* inih reads an indented line after a key as its continuation. */
	expect_error(fx, "[source]\npath = /srv/app.db\n\n  [catalog]\n",
	    ":4: [source] path: indented line is read as a continuation of "
	    "path's value: remove the leading blanks");
	/* Indenting the first key of a section is harmless. */
	assert_int_equal(load(fx, "[source]\n  path = /srv/app.db\n"
	    "[catalog]\n  path = /c.db\n[disk]\n  root = /b\n"), SB_OK);
	assert_string_equal(fx->cfg->source_path, "/srv/app.db");
	/* A line inih would silently split in two is refused. */
	snprintf(text, sizeof(text), "[source]\npath = /%0300d\n", 0);
	expect_error(fx, text, ":2: line too long (at most 198 bytes)");
	/* 199 bytes are fine as the last line, without its newline. */
	snprintf(text, sizeof(text), MIN_DISK "[core]\ntemp_dir = /%0187d", 0);
	assert_int_equal(strlen(strrchr(text, '\n') + 1), 199);
	assert_int_equal(load(fx, text), SB_OK);
	assert_int_equal(strlen(fx->cfg->temp_dir), 188);
	/* The first error wins, whichever kind it is. */
	expect_error(fx, "[source]\nbad line\n[bogus]\nx = 1\n",
	    ":2: syntax error: expected [section], key = value, or a comment");
	expect_error(fx, "[bogus]\nx = 1\nbad line\n",
	    ":2: [bogus] x: unknown key: there is no section [bogus]");
	expect_error(fx, "[daemon]\n = 4\n",
	    ":2: [daemon] missing key name before '='");
	/* Numbers need a value (an empty one unsets strings only). */
	expect_error(fx, MIN_DISK "[daemon]\nworkers =\n",
	    ":8: [daemon] workers: not a whole number from 1 to 64 (got '')");
	/* Not a file. */
	assert_int_equal(sb_config_load(fx->dir, &fx->cfg, fx->err),
	    SB_ERR_CONFIG);
	assert_null(fx->cfg);
	assert_non_null(strstr(fx->err, "not a regular file"));
	/* No such file. */
	assert_int_equal(sb_config_load("/nonexistent/sb.conf", &fx->cfg,
	    fx->err), SB_ERR_CONFIG);
	assert_null(fx->cfg);
	assert_string_equal(fx->err,
	    "/nonexistent/sb.conf: No such file or directory");
}

static void
test_error_required(void **state)
{
	struct fx	*fx = *state;

	expect_error(fx, "[catalog]\npath = /c.db\n[disk]\nroot = /b\n",
	    ": [source] path: required (the SQLite database to back up; or "
	    "set SAFBACKUP_SOURCE_PATH)");
	expect_error(fx, "[source]\npath = /a.db\n[disk]\nroot = /b\n",
	    ": [catalog] path: required (the backup catalog database; or set "
	    "SAFBACKUP_CATALOG_PATH)");
	expect_error(fx, "[source]\npath = /a.db\n[catalog]\npath = /c.db\n",
	    ": [disk] root: required when [store] kind = disk (the directory "
	    "backups go to)");
	expect_error(fx, MIN_DISK "[retention]\ndaily_days = 40\n"
	    "weekly_days = 30\n",
	    ": [retention] weekly_days: must be at least daily_days "
	    "(30 < 40)");
	expect_error(fx, MIN_DISK "[retention]\nrecent_hours = 100\n",
	    ": [retention] max_gap_hours: must be at least recent_hours "
	    "(72 < 100)");
	/* Azure: account, container, and one secret. */
	expect_error(fx, "[source]\npath = /a.db\n[catalog]\npath = /c.db\n"
	    "[store]\nkind = azure\n[azure]\ncontainer = backups\n"
	    "key_file = /nonexistent\n",
	    ":9: [azure] key_file: /nonexistent: No such file or directory");
	expect_error(fx, "[source]\npath = /a.db\n[catalog]\npath = /c.db\n"
	    "[store]\nkind = azure\n[azure]\ncontainer = backups\n",
	    ": [azure] account: required when [store] kind = azure (or a "
	    "connection string that names it)");
	expect_error(fx, "[source]\npath = /a.db\n[catalog]\npath = /c.db\n"
	    "[store]\nkind = azure\n[azure]\naccount = acct1\n",
	    ": [azure] container: required when [store] kind = azure");
	expect_error(fx, MIN_AZURE,
	    ": [azure] key_file: no credentials: set SAFBACKUP_AZURE_KEY, "
	    "SAFBACKUP_AZURE_SAS or SAFBACKUP_AZURE_CONNECTION_STRING, or "
	    "key_file, sas_file or connection_string_file");
	/* Any one secret will do. */
	setenv("SAFBACKUP_AZURE_SAS", "?" SECRET_SAS, 1);
	assert_int_equal(load(fx, MIN_AZURE), SB_OK);
	assert_string_equal(fx->cfg->az_sas, SECRET_SAS);	/* no '?' */
	/* The default endpoint is the store's to build (test_azure.c). */
	assert_null(fx->cfg->az_endpoint);
}

static void
test_secret_files(void **state)
{
	struct fx	*fx = *state;
	char		 path[PATH_MAX + 16], text[2 * PATH_MAX], want[PATH_MAX * 3];

	snprintf(path, sizeof(path), "%s/sas.txt", fx->dir);
	snprintf(text, sizeof(text), MIN_AZURE "sas_file = %s\n", path);

	/* Readable by group or others: refused, content never shown. */
	write_file(path, SECRET_SAS "\n", 0644);
	assert_int_equal(load(fx, text), SB_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:10: [azure] sas_file: %s: mode 0644 "
	    "lets group or others at a secret: refused (chmod 600 it)",
	    fx->conf, path);
	assert_string_equal(fx->err, want);
	assert_null(strstr(fx->err, "TOPSECRET"));
	write_file(path, SECRET_SAS "\n", 0640);
	assert_int_equal(load(fx, text), SB_ERR_CONFIG);
	assert_non_null(strstr(fx->err, "mode 0640"));
	write_file(path, SECRET_SAS "\n", 0604);
	assert_int_equal(load(fx, text), SB_ERR_CONFIG);

	/* 0600 and 0400 are fine; the trailing newline (CRLF too) goes. */
	write_file(path, SECRET_SAS "\r\n", 0600);
	assert_int_equal(load(fx, text), SB_OK);
	assert_string_equal(fx->cfg->az_sas, SECRET_SAS);
	write_file(path, SECRET_SAS, 0400);
	assert_int_equal(load(fx, text), SB_OK);
	assert_string_equal(fx->cfg->az_sas, SECRET_SAS);
	chmod(path, 0600);

	/* An empty secret file is an error. */
	write_file(path, "\n", 0600);
	assert_int_equal(load(fx, text), SB_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:10: [azure] sas_file: %s: empty",
	    fx->conf, path);
	assert_string_equal(fx->err, want);

	/* The environment comes first: the file is then not even read. */
	write_file(path, "from-file", 0644);
	setenv("SAFBACKUP_AZURE_SAS", "from-env", 1);
	assert_int_equal(load(fx, text), SB_OK);
	assert_string_equal(fx->cfg->az_sas, "from-env");
	unsetenv("SAFBACKUP_AZURE_SAS");

	/* A secret written in the file itself is refused, not echoed. */
	expect_error(fx, MIN_AZURE "key = " SECRET_KEY "\n",
	    ":10: [azure] key: the account key is never read from the config "
	    "file itself: set SAFBACKUP_AZURE_KEY in the environment or point "
	    "key_file at a file only the service user can read");
	assert_null(strstr(fx->err, SECRET_KEY));
	expect_error(fx, MIN_AZURE "connection_string = AccountKey="
	    SECRET_KEY "\n",
	    ":10: [azure] connection_string: the connection string is never "
	    "read from the config file itself: set "
	    "SAFBACKUP_AZURE_CONNECTION_STRING in the environment or point "
	    "connection_string_file at a file only the service user can read");
	assert_null(strstr(fx->err, SECRET_KEY));
}

static void
test_env_overrides(void **state)
{
	struct fx	*fx = *state;

	setenv("SAFBACKUP_SOURCE_PATH", "/env/app.db", 1);
	setenv("SAFBACKUP_DAEMON_WORKERS", "8", 1);
	setenv("SAFBACKUP_AZURE_BLOCK_SIZE", "4M", 1);
	setenv("SAFBACKUP_RETENTION_DAILY_DAYS", "10", 1);
	setenv("SAFBACKUP_REPORT_WEBHOOK", "http://127.0.0.1:9/hook", 1);
	/* The file's value loses to the environment's. */
	assert_int_equal(load(fx, MIN_DISK "[daemon]\nworkers = 2\n"), SB_OK);
	assert_string_equal(fx->cfg->source_path, "/env/app.db");
	assert_string_equal(fx->cfg->lock_file, "/env/app.db.safbackup.lock");
	assert_int_equal(fx->cfg->workers, 8);
	assert_int_equal(fx->cfg->az_block_size, 4 * 1024 * 1024);
	assert_int_equal(fx->cfg->ret_daily_days, 10);
	assert_string_equal(fx->cfg->webhook, "http://127.0.0.1:9/hook");
	assert_string_equal(fx->cfg->catalog_path, "/srv/catalog.db");

	/* The environment alone can make a configuration complete. */
	setenv("SAFBACKUP_STORE_KIND", "azure", 1);
	setenv("SAFBACKUP_AZURE_ACCOUNT", "envacct", 1);
	setenv("SAFBACKUP_AZURE_CONTAINER", "envcont", 1);
	setenv("SAFBACKUP_AZURE_KEY", SECRET_KEY, 1);
	assert_int_equal(load(fx, "[catalog]\npath = /c.db\n"), SB_OK);
	assert_int_equal(fx->cfg->store_kind, SB_STORE_AZURE);
	assert_string_equal(fx->cfg->az_account, "envacct");
	assert_string_equal(fx->cfg->az_container, "envcont");
	assert_string_equal(fx->cfg->az_key, SECRET_KEY);
	assert_null(fx->cfg->az_endpoint);

	/* A bad value from the environment names the variable. */
	setenv("SAFBACKUP_DAEMON_WORKERS", "100", 1);
	assert_int_equal(load(fx, MIN_DISK), SB_ERR_CONFIG);
	assert_string_equal(fx->err, "environment SAFBACKUP_DAEMON_WORKERS: "
	    "[daemon] workers: out of range: must be from 1 to 64 (got '100')");
	assert_null(strstr(fx->err, SECRET_KEY));
	setenv("SAFBACKUP_DAEMON_WORKERS", "3", 1);
	setenv("SAFBACKUP_AZURE_KEY_FILE", "/nonexistent/key", 1);
	unsetenv("SAFBACKUP_AZURE_KEY");
	assert_int_equal(load(fx, MIN_DISK), SB_ERR_CONFIG);
	assert_string_equal(fx->err, "environment SAFBACKUP_AZURE_KEY_FILE: "
	    "[azure] key_file: /nonexistent/key: No such file or directory");
}

/*
 * The connection string at config load: kept whole (the store parses it:
 * its rules are tested in test_azure.c, t_connstr), never split into the
 * account, key or endpoint fields; but a bad one fails the load, with
 * the message of the one parser, saying where the string came from.
 */
static void
test_connection_string(void **state)
{
	struct fx	*fx = *state;
	char		 path[PATH_MAX + 16], text[2 * PATH_MAX], want[3 * PATH_MAX];
	const char	*base = "[source]\npath = /a.db\n[catalog]\npath = /c.db\n"
	    "[store]\nkind = azure\n[azure]\ncontainer = backups\n";
	const char	*cs = "DefaultEndpointsProtocol=https;AccountName=prodacct;"
	    "AccountKey=" SECRET_KEY "==;EndpointSuffix=core.chinacloudapi.cn";

	setenv("SAFBACKUP_AZURE_CONNECTION_STRING", cs, 1);
	assert_int_equal(load(fx, base), SB_OK);
	assert_string_equal(fx->cfg->az_connstr, cs);
	assert_null(fx->cfg->az_account);
	assert_null(fx->cfg->az_key);
	assert_null(fx->cfg->az_endpoint);
	assert_null(fx->cfg->az_sas);

	/* Explicit keys are kept beside it, as set. */
	snprintf(text, sizeof(text), "%saccount = otheracct\n"
	    "endpoint = http://127.0.0.1:10000/otheracct/\n", base);
	assert_int_equal(load(fx, text), SB_OK);
	assert_string_equal(fx->cfg->az_account, "otheracct");
	assert_string_equal(fx->cfg->az_endpoint,
	    "http://127.0.0.1:10000/otheracct");

	/* A string that names neither account nor endpoint: no store. */
	setenv("SAFBACKUP_AZURE_CONNECTION_STRING",
	    "SharedAccessSignature=" SECRET_SAS, 1);
	expect_error(fx, base, ": [azure] account: required when [store] "
	    "kind = azure (or a connection string that names it)");

	/* Errors: from the parser, where-prefixed, never a value. */
	setenv("SAFBACKUP_AZURE_CONNECTION_STRING",
	    "AccountName=prodacct;AccountKee=" SECRET_KEY, 1);
	assert_int_equal(load(fx, base), SB_ERR_CONFIG);
	assert_string_equal(fx->err, "environment "
	    "SAFBACKUP_AZURE_CONNECTION_STRING: [azure] connection string: "
	    "unknown key 'AccountKee'");
	setenv("SAFBACKUP_AZURE_CONNECTION_STRING",
	    "AccountName=prodacct;" SECRET_KEY, 1);
	assert_int_equal(load(fx, base), SB_ERR_CONFIG);
	assert_string_equal(fx->err, "environment "
	    "SAFBACKUP_AZURE_CONNECTION_STRING: [azure] connection string: "
	    "part 2 is not Name=Value");
	unsetenv("SAFBACKUP_AZURE_CONNECTION_STRING");

	/* From a file, with errors pointing at its key's line. */
	snprintf(path, sizeof(path), "%s/connstr", fx->dir);
	write_file(path, "AccountName=fileacct;AccountKey=" SECRET_KEY "\n",
	    0600);
	snprintf(text, sizeof(text), "%sconnection_string_file = connstr\n",
	    base);
	assert_int_equal(load(fx, text), SB_OK);
	assert_string_equal(fx->cfg->az_connstr,
	    "AccountName=fileacct;AccountKey=" SECRET_KEY);
	write_file(path, "AccountName=BAD_ACCT;AccountKey=" SECRET_KEY "\n",
	    0600);
	assert_int_equal(load(fx, text), SB_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:9: [azure] connection string: "
	    "AccountName is not an Azure storage account name (3 to 24 "
	    "lowercase letters and digits)", fx->conf);
	assert_string_equal(fx->err, want);
}

static void
test_relative_paths(void **state)
{
	struct fx	*fx = *state;
	char		 sub[PATH_MAX + 16], conf[PATH_MAX + 32], err[SB_ERRMSG_MAX];
	char		 want[PATH_MAX + 64], cwd[PATH_MAX];
	struct sb_config *c = NULL;

	snprintf(sub, sizeof(sub), "%s/etc", fx->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/sb.conf", sub);
	write_file(conf, "[source]\npath = ../data/app.db\n"
	    "[catalog]\npath = catalog.db\n"
	    "[disk]\nroot = /abs/backups\n"
	    "[daemon]\nlisten = unix:run/sb.sock\n", 0600);
	/* Loaded by a relative name from elsewhere: still the file's dir. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	assert_int_equal(sb_config_load("etc/sb.conf", &c, err), SB_OK);
	assert_int_equal(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/../data/app.db", sub);
	assert_string_equal(c->source_path, want);
	snprintf(want, sizeof(want), "%s/catalog.db", sub);
	assert_string_equal(c->catalog_path, want);
	assert_string_equal(c->disk_root, "/abs/backups");
	snprintf(want, sizeof(want), "unix:%s/run/sb.sock", sub);
	assert_string_equal(c->listen, want);
	snprintf(want, sizeof(want), "%s/../data/app.db.safbackup.lock", sub);
	assert_string_equal(c->lock_file, want);
	assert_string_equal(c->path, "etc/sb.conf");
	sb_config_free(&c);

	/* From the environment a relative path is taken as given. */
	setenv("SAFBACKUP_CATALOG_PATH", "rel/catalog.db", 1);
	assert_int_equal(sb_config_load(conf, &c, err), SB_OK);
	assert_string_equal(c->catalog_path, "rel/catalog.db");
	sb_config_free(&c);
}

/* Every error path with secrets about: none of them shows up. */
static void
test_no_secret_in_errors(void **state)
{
	struct fx	*fx = *state;
	static const char *const bad[] = {
		MIN_AZURE "[daemon]\nworkers = x\n",
		MIN_AZURE "[bogus]\nx = 1\n",
		MIN_AZURE "[azure]\nblock_size = 1\n",
		"[catalog]\npath = /c.db\n",
		MIN_AZURE "\nsas = " SECRET_SAS "\n",
		MIN_AZURE "\nkey = " SECRET_KEY "\n",
		MIN_AZURE "[retention]\ndaily_days = 100\n",
	};

	setenv("SAFBACKUP_AZURE_KEY", SECRET_KEY, 1);
	setenv("SAFBACKUP_AZURE_SAS", SECRET_SAS, 1);
	setenv("SAFBACKUP_AZURE_CONNECTION_STRING", "AccountName=acct1;"
	    "AccountKey=" SECRET_KEY ";SharedAccessSignature=" SECRET_SAS, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(fx, bad[i]), SB_ERR_CONFIG);
		assert_true(fx->err[0] != '\0');
		assert_null(strstr(fx->err, SECRET_KEY));
		assert_null(strstr(fx->err, "TOPSECRET"));
	}
	setenv("SAFBACKUP_AZURE_CONNECTION_STRING", "AccountName=acct1;"
	    "AccountKey=" SECRET_KEY ";" SECRET_SAS, 1);
	assert_int_equal(load(fx, MIN_AZURE), SB_ERR_CONFIG);
	assert_null(strstr(fx->err, "TOPSECRET"));
	assert_null(strstr(fx->err, SECRET_KEY));
}

/* The shipped example is a valid configuration with the defaults. */
/* [store] service and prefix: defaults, normalisation, bad values. */
static void
test_store_identity_keys(void **state)
{
	struct fx	*fx = *state;

	/* Defaults: the source's file name, and no prefix (today's layout). */
	assert_int_equal(load(fx, MIN_DISK), SB_OK);
	assert_string_equal(fx->cfg->store_service, "app.db");
	assert_string_equal(fx->cfg->store_prefix, "");
	assert_int_equal(load(fx, "[source]\npath = /srv/my app+1.db\n"
	    "[catalog]\npath = /srv/c.db\n[disk]\nroot = /srv/b\n"), SB_OK);
	assert_string_equal(fx->cfg->store_service, "my_app_1.db");
	/* Set, and normalised to end with '/'. */
	assert_int_equal(load(fx, MIN_DISK "[store]\nservice = Shop-2\n"
	    "prefix = team/shop\n"), SB_OK);
	assert_string_equal(fx->cfg->store_service, "Shop-2");
	assert_string_equal(fx->cfg->store_prefix, "team/shop/");
	assert_int_equal(load(fx, MIN_DISK "[store]\nprefix = shop/\n"), SB_OK);
	assert_string_equal(fx->cfg->store_prefix, "shop/");
	assert_int_equal(load(fx, MIN_DISK "[store]\nprefix =\n"), SB_OK);
	assert_string_equal(fx->cfg->store_prefix, "");
	/* From the environment too. */
	setenv("SAFBACKUP_STORE_PREFIX", "env/p", 1);
	assert_int_equal(load(fx, MIN_DISK), SB_OK);
	assert_string_equal(fx->cfg->store_prefix, "env/p/");
	unsetenv("SAFBACKUP_STORE_PREFIX");
	/* Bad values say why. */
	expect_error(fx, MIN_DISK "[store]\nprefix = /abs\n",
	    ":8: [store] prefix: must not start with '/' (got '/abs')");
	expect_error(fx, MIN_DISK "[store]\nprefix = a/../b\n",
	    ":8: [store] prefix: a segment must not start with '.' (no '.', "
	    "'..' or hidden names) (got 'a/../b')");
	expect_error(fx, MIN_DISK "[store]\nprefix = a//b\n",
	    ":8: [store] prefix: empty segment ('//') (got 'a//b')");
	expect_error(fx, MIN_DISK "[store]\nprefix = Shop\n",
	    ":8: [store] prefix: only a-z 0-9 . _ - in segments separated by "
	    "'/' (got 'Shop')");
	expect_error(fx, MIN_DISK "[store]\nservice = my service\n",
	    ":8: [store] service: not a service name (1 to 64 of a-z A-Z 0-9 "
	    ". _ -) (got 'my service')");
	{
		char	text[512], want[512], p[200];

		memset(p, 'a', 129);
		p[129] = '\0';
		snprintf(text, sizeof(text), MIN_DISK "[store]\nprefix = %s\n",
		    p);
		snprintf(want, sizeof(want), ":8: [store] prefix: too long (at "
		    "most 128 bytes) (got '%.100s...')", p);
		expect_error(fx, text, want);
	}
}

/*
 * Who may talk to backupd: the config stores the keys as written (a
 * relative secret_file resolved like any path); backupd reads the secret
 * and resolves the names (src/daemon/peer.c, test_peer.c).
 */
static void
test_daemon_access_keys(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX + 32];

	assert_int_equal(load(fx, MIN_DISK "[daemon]\nsecret_file = s/backupd\n"
	    "allow_users = www-data, nginx\nallow_groups = www-data\n"
	    "allow_addrs = 127.0.0.1 10.0.0.0/8\n"), SB_OK);
	snprintf(want, sizeof(want), "%s/s/backupd", fx->dir);
	assert_string_equal(fx->cfg->daemon_secret_file, want);
	assert_string_equal(fx->cfg->allow_users, "www-data, nginx");
	assert_string_equal(fx->cfg->allow_groups, "www-data");
	assert_string_equal(fx->cfg->allow_addrs, "127.0.0.1 10.0.0.0/8");
	/* Unset by default; an empty value unsets. */
	assert_int_equal(load(fx, MIN_DISK "[daemon]\nallow_users =\n"), SB_OK);
	assert_null(fx->cfg->allow_users);
	assert_null(fx->cfg->daemon_secret_file);
	setenv("SAFBACKUP_DAEMON_ALLOW_ADDRS", "::1", 1);
	assert_int_equal(load(fx, MIN_DISK), SB_OK);
	assert_string_equal(fx->cfg->allow_addrs, "::1");
	unsetenv("SAFBACKUP_DAEMON_ALLOW_ADDRS");
	/* The secret itself never goes in the file. */
	expect_error(fx, MIN_DISK "[daemon]\nsecret = 0123\n",
	    ":8: [daemon] secret: unknown key");
}

static void
test_example_file(void **state)
{
	struct fx		*fx = *state;
	struct sb_config	*d = NULL;

	assert_int_equal(sb_config_load(TOP_SRCDIR "/safbackup.conf.example",
	    &fx->cfg, fx->err), SB_OK);
	assert_int_equal(sb_config_defaults(&d), SB_OK);
	assert_string_equal(fx->cfg->source_path, "/var/lib/myservice/app.db");
	assert_string_equal(fx->cfg->lock_file,
	    "/var/lib/myservice/app.db.safbackup.lock");
	assert_int_equal(fx->cfg->store_kind, d->store_kind);
	assert_string_equal(fx->cfg->temp_dir, d->temp_dir);
	assert_string_equal(fx->cfg->listen, d->listen);
	assert_string_equal(fx->cfg->daemon_secret_file,
	    "/etc/safbackup/backupd.secret");
	assert_null(fx->cfg->allow_users);
	assert_null(fx->cfg->allow_addrs);
	assert_int_equal(fx->cfg->az_block_size, d->az_block_size);
	assert_int_equal(fx->cfg->az_concurrency, d->az_concurrency);
	assert_int_equal(fx->cfg->az_timeout, d->az_timeout);
	assert_int_equal(fx->cfg->az_retries, d->az_retries);
	assert_int_equal(fx->cfg->ret_daily_days, d->ret_daily_days);
	assert_int_equal(fx->cfg->ret_weekly_days, d->ret_weekly_days);
	assert_int_equal(fx->cfg->ret_recent_hours, d->ret_recent_hours);
	assert_int_equal(fx->cfg->ret_failed_days, d->ret_failed_days);
	assert_int_equal(fx->cfg->webhook_timeout, d->webhook_timeout);
	assert_int_equal(fx->cfg->workers, d->workers);
	assert_int_equal(fx->cfg->max_body, d->max_body);
	assert_null(fx->cfg->webhook);
	assert_null(fx->cfg->drill_query[0]);
	assert_int_equal(fx->cfg->drill_timeout, d->drill_timeout);
	assert_int_equal(fx->cfg->mon_max_age_hours, d->mon_max_age_hours);
	assert_int_equal(fx->cfg->mon_warn_age_hours, d->mon_warn_age_hours);
	assert_int_equal(fx->cfg->mon_drill_days, d->mon_drill_days);
	sb_config_free(&d);
}

/* [drill] and [monitor]: defaults, numbered queries, bad values. */
static void
test_drill_monitor_keys(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, MIN_DISK), SB_OK);
	assert_null(fx->cfg->drill_query[0]);
	assert_int_equal(fx->cfg->drill_timeout, 10);
	assert_int_equal(fx->cfg->mon_max_age_hours, 26);
	assert_int_equal(fx->cfg->mon_warn_age_hours, 24);
	assert_int_equal(fx->cfg->mon_drill_days, 3);
	assert_int_equal(load(fx, MIN_DISK "[drill]\n"
	    "query = SELECT count(*) FROM users > 0\n"
	    "query4 = SELECT 1 = 1\ntimeout = 2\n[monitor]\n"
	    "max_age_hours = 2\nwarn_age_hours = 0\n"
	    "drill_max_age_days = 0\n"), SB_OK);
	assert_string_equal(fx->cfg->drill_query[0],
	    "SELECT count(*) FROM users > 0");
	assert_null(fx->cfg->drill_query[1]);
	assert_string_equal(fx->cfg->drill_query[3], "SELECT 1 = 1");
	assert_int_equal(fx->cfg->drill_timeout, 2);
	assert_int_equal(fx->cfg->mon_max_age_hours, 2);
	assert_int_equal(fx->cfg->mon_warn_age_hours, 0);
	assert_int_equal(fx->cfg->mon_drill_days, 0);
	expect_error(fx, MIN_DISK "[drill]\nquery = SELECT count(*) FROM t\n",
	    ":8: [drill] query: must end with an expectation: an operator "
	    "(> >= = != < <=) and an integer, e.g. `SELECT count(*) FROM "
	    "users > 0` (got 'SELECT count(*) FROM t')");
	expect_error(fx, MIN_DISK "[drill]\nquery5 = SELECT 1 > 0\n",
	    ":8: [drill] query5: unknown key");
	expect_error(fx, MIN_DISK "[monitor]\nmax_age_hours = 0\n",
	    ":8: [monitor] max_age_hours: out of range: must be from 1 to "
	    "8760 (got '0')");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drill_monitor_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_unknown, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_error_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_error_syntax, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_error_required, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_secret_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_connection_string, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_secret_in_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_identity_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_daemon_access_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_example_file, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
