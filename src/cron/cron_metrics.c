/*
 * cron_metrics.c - `backup-cron metrics [--textfile PATH]`: the metrics
 * of GET /backups/metrics (the same writer, metrics.c) on stdout, or
 * written for node_exporter's textfile collector. The collector may read
 * PATH at any moment, so PATH is replaced whole: a temp file in the same
 * directory (named with a leading dot and no .prom suffix, which the
 * collector ignores), fsync, chmod 0644, rename over PATH, fsync of the
 * directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "status.h"

#include "cron.h"

static enum sb_err
metrics_opt(void *arg, int ch, const char *val)
{
	if (ch != 't' || val == NULL || *val == '\0')
		return SB_ERR_INVAL;
	*(const char **)arg = val;
	return SB_OK;
}

/* Flush f to disk and close it; -1 (errno set) when any step failed. */
static int
sync_close(FILE *f)
{
	int	rc = 0;

	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Write ov to path atomically (see the top); on failure, why on stderr. */
static int
write_textfile(const char *path, const struct sb_overview *ov)
{
	char	dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	FILE	*f = NULL;
	int	 fd, dfd;

	sb_strlcpy(dir, path, sizeof(dir));
	sb_strlcpy(base, path, sizeof(base));
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir),
	    basename(base)) >= (int)sizeof(tmp)) {
		fprintf(stderr, "backup-cron metrics: %s: path too long\n",
		    path);
		return EX_USAGE;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "backup-cron metrics: cannot create a file in "
		    "%s: %s\n", dir, strerror(errno));
		return EX_FAIL;
	}
	if (fchmod(fd, 0644) != 0 || (f = fdopen(fd, "w")) == NULL ||
	    sb_metrics_write(f, ov) != SB_OK || sync_close(f) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "backup-cron metrics: cannot write %s: %s\n",
		    path, strerror(errno));
		if (f == NULL)
			close(fd);
		unlink(tmp);
		return EX_FAIL;
	}
	/* The rename itself is durable once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return EX_OKAY;
}

int
cmd_metrics(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "textfile", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct sb_overview	 ov;
	const char		*path = NULL;
	int			 i, rc;

	if ((i = cron_parse_opts(cron_cmd_find("metrics"), argc, argv, ":t:h",
	    lo, metrics_opt, &path)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (i != argc) {
		fprintf(stderr, "backup-cron metrics: unexpected argument "
		    "'%s'\n", argv[i]);
		return EX_USAGE;
	}
	if ((rc = sb_engine_status(x->eng, &ov)) != SB_OK)
		return cron_failed(x, rc, "metrics failed");
	if (path != NULL)
		return write_textfile(path, &ov);
	if (sb_metrics_write(stdout, &ov) != SB_OK) {
		fprintf(stderr, "backup-cron metrics: cannot write to stdout: "
		    "%s\n", strerror(errno));
		return EX_FAIL;
	}
	return EX_OKAY;
}
