/*
 * sb-writer - a stand-in for a SAF service: one process, one long-lived
 * SQLite connection, writing rows forever. The demo (`./dev up`) runs it
 * so there is always live traffic to back up, and the black-box tests run
 * it to prove backups and restores work while a writer is busy.
 *
 * Each iteration, in one transaction: insert a row, then read the row
 * count. After the transaction the count goes to the status file (written
 * whole, then renamed), so a test sees what this connection sees. Any
 * SQLite error other than a busy wait ends the process with status 1: a
 * restore that broke the writer's connection is a test failure.
 *
 * With --log FILE, the id of the row each transaction inserted is
 * appended to FILE (one per line, flushed) the moment its COMMIT has
 * returned: the list of what the service knows it committed, in order.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: sb-writer [--journal wal|delete] [--interval-ms N] "
	    "[--status FILE]\n                 [--max N] [--payload BYTES] "
	    "[--log FILE] [--busy-ms N] DB\n"
	    "\nKeeps inserting rows into DB (table events) until SIGTERM or --max "
	    "rows.\n");
}

static long
num(const char *opt, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
		fprintf(stderr, "sb-writer: %s: expected %ld..%ld, got '%s'\n",
		    opt, min, max, s);
		exit(2);
	}
	return v;
}

static int
exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sb-writer: %s: %s\n", sql, msg);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
write_status(const char *path, long long rows, long long maxid)
{
	char	tmp[4096];
	FILE	*f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%lld %lld\n", rows, maxid);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* What the command line asks for. */
struct opts {
	const char	*journal, *status, *logpath, *db;
	long		 interval, max, payload, busy;
};

/* The options into o; 0 to go on, else the exit status (--help: 0). */
static int
parse_opts(int argc, char *argv[], struct opts *o, int *done)
{
	static const struct option lo[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "status", required_argument, NULL, 's' },
		{ "max", required_argument, NULL, 'm' },
		{ "payload", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "busy-ms", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	int	ch;

	*done = 1;
	while ((ch = getopt_long(argc, argv, "j:i:s:m:p:l:b:h", lo, NULL)) != -1)
		switch (ch) {
		case 'j':
			o->journal = optarg;
			if (strcmp(optarg, "wal") && strcmp(optarg, "delete")) {
				fprintf(stderr, "sb-writer: --journal: wal or "
				    "delete\n");
				return 2;
			}
			break;
		case 'i':
			o->interval = num("--interval-ms", optarg, 0, 60000);
			break;
		case 's':
			o->status = optarg;
			break;
		case 'm':
			o->max = num("--max", optarg, 0, 1000000000);
			break;
		case 'p':
			o->payload = num("--payload", optarg, 0, 1 << 20);
			break;
		case 'l':
			o->logpath = optarg;
			break;
		case 'b':
			o->busy = num("--busy-ms", optarg, 0, 3600000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	o->db = argv[optind];
	*done = 0;
	return 0;
}

/* Open the database, its table and the two statements; 0 or -1. */
static int
setup(const struct opts *o, sqlite3 **db, sqlite3_stmt **ins,
    sqlite3_stmt **cnt)
{
	char	pragma[64];

	if (sqlite3_open(o->db, db) != SQLITE_OK) {
		fprintf(stderr, "sb-writer: %s: %s\n", o->db,
		    sqlite3_errmsg(*db));
		return -1;
	}
	sqlite3_busy_timeout(*db, (int)o->busy);
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode=%s", o->journal);
	if (exec(*db, pragma) || exec(*db, "CREATE TABLE IF NOT EXISTS events("
	    "id INTEGER PRIMARY KEY, at INTEGER NOT NULL, pid INTEGER NOT NULL, "
	    "payload BLOB)"))
		return -1;
	if (sqlite3_prepare_v2(*db, "INSERT INTO events(at, pid, payload) "
	    "VALUES (strftime('%s','now'), ?1, randomblob(?2))", -1, ins,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(*db, "SELECT count(*), "
	    "coalesce(max(id), 0) FROM events", -1, cnt, NULL) != SQLITE_OK) {
		fprintf(stderr, "sb-writer: prepare: %s\n",
		    sqlite3_errmsg(*db));
		return -1;
	}
	sqlite3_bind_int(*ins, 1, (int)getpid());
	sqlite3_bind_int(*ins, 2, (int)o->payload);
	return 0;
}

/*
 * One transaction: insert, count; after COMMIT returns, the row's id to
 * the log and the count to the status file. 0 or -1.
 */
static int
one_row(const struct opts *o, sqlite3 *db, sqlite3_stmt *ins,
    sqlite3_stmt *cnt, FILE *logf)
{
	long long	rows, maxid, rowid;

	if (exec(db, "BEGIN IMMEDIATE"))
		return -1;
	if (sqlite3_step(ins) != SQLITE_DONE ||
	    sqlite3_step(cnt) != SQLITE_ROW) {
		fprintf(stderr, "sb-writer: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	rowid = sqlite3_last_insert_rowid(db);
	rows = sqlite3_column_int64(cnt, 0);
	maxid = sqlite3_column_int64(cnt, 1);
	sqlite3_reset(ins);
	sqlite3_reset(cnt);
	if (exec(db, "COMMIT"))
		return -1;
	if (logf != NULL && (fprintf(logf, "%lld\n", rowid) < 0 ||
	    fflush(logf) != 0)) {
		fprintf(stderr, "sb-writer: %s: %s\n", o->logpath,
		    strerror(errno));
		return -1;
	}
	if (o->status != NULL && write_status(o->status, rows, maxid) != 0) {
		fprintf(stderr, "sb-writer: %s: %s\n", o->status,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts	 o = { "wal", NULL, NULL, NULL, 20, 0, 100, 60000 };
	FILE		*logf = NULL;
	sqlite3		*db = NULL;
	sqlite3_stmt	*ins = NULL, *cnt = NULL;
	long long	 n = 0;
	int		 rc, done;

	if ((rc = parse_opts(argc, argv, &o, &done)) != 0 || done)
		return rc;
	rc = 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (o.logpath != NULL && (logf = fopen(o.logpath, "a")) == NULL) {
		fprintf(stderr, "sb-writer: %s: %s\n", o.logpath,
		    strerror(errno));
		goto out;
	}
	if (setup(&o, &db, &ins, &cnt) != 0)
		goto out;
	while (!stop && (o.max == 0 || n < o.max)) {
		if (one_row(&o, db, ins, cnt, logf) != 0)
			goto out;
		n++;
		if (o.interval > 0) {
			struct timespec ts = { o.interval / 1000,
			    (o.interval % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	rc = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(cnt);
	sqlite3_close(db);
	if (logf != NULL && fclose(logf) != 0 && rc == 0)
		rc = 1;
	return rc;
}
