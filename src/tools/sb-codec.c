/*
 * sb-codec - the codec (src/core/codec.h) on the command line, for the
 * bench and the tests: encode or decode a stream, and measure the codec's
 * own speed on a file. Not installed: backup-cron and backupd are the
 * programs; this one makes no backup.
 *
 *   sb-codec encode EXT [-l LEVEL] [-k KEYFILE [-i KEYID]] < plain > object
 *   sb-codec decode EXT [-k KEYFILE] < object > plain
 *   sb-codec speed FILE [-l LEVEL] -k KEYFILE
 *
 * EXT is the object's extension without its dot: db, db.zst, db.enc,
 * db.zst.enc. KEYFILE is a key file as [store] key_file names (0600).
 * decode prints "SHA256 SIZE" of the plaintext on stderr. speed encodes
 * FILE with each combination (to memory, in 1 MiB writes), decodes it
 * back (sha256 included, as a restore does), and prints MB/s of
 * plaintext per CPU second of this one-threaded process (1 MB = 10^6
 * bytes, the best of 3 runs: on a shared machine, wall time would count
 * what other processes take) and the stored size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "secret.h"

#define BUFSZ	(1024 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: sb-codec encode|decode EXT [-l LEVEL] "
	    "[-k KEYFILE [-i KEYID]]\n       sb-codec speed FILE [-l LEVEL] "
	    "-k KEYFILE\n");
	exit(2);
}

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "sb-codec: %s: %s\n", what, msg);
	exit(1);
}

/* The ring from a key file (0600, like [store] key_file); NULL: empty. */
static struct sb_keyring *
ring_from(const char *path, const char *active)
{
	struct sb_keyring	*r = NULL;
	char			*text = NULL, why[128], err[SB_ERRMSG_MAX];

	if (path != NULL && sb_secret_read(path, &text, why, sizeof(why)) !=
	    SB_OK)
		die(path, why);
	if (sb_keyring_parse(text, active, &r, err) != SB_OK)
		die(path != NULL ? path : "keyring", err);
	sb_secret_free(&text);
	return r;
}

static int
fd_write(void *arg, const void *buf, size_t len)
{
	return sb_write_all(*(int *)arg, buf, len) == SB_OK ? 0 : -1;
}

/* A writer that only counts: the speed run measures the codec alone. */
static int
null_write(void *arg, const void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

/* A writer into a memory buffer of a known capacity. */
struct mem {
	unsigned char	*p;
	size_t		 n, cap;
};

static int
mem_write(void *arg, const void *buf, size_t len)
{
	struct mem	*m = arg;

	if (len > m->cap - m->n)
		return -1;
	memcpy(m->p + m->n, buf, len);
	m->n += len;
	return 0;
}

/* CPU seconds this process has used (the speed run's clock). */
static double
cpu_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Encode src (n bytes) with c into m; CPU seconds spent. */
static double
time_encode(const struct sb_codec *c, const struct sb_keyring *r,
    const unsigned char *src, size_t n, struct mem *m)
{
	struct sb_encoder	*e = NULL;
	char			 err[SB_ERRMSG_MAX];
	double			 t0 = cpu_now();

	m->n = 0;
	if (sb_encoder_new(c, r, mem_write, m, &e, err) != SB_OK)
		die("encode", err);
	for (size_t i = 0; i < n; i += BUFSZ)
		if (sb_encoder_write(e, src + i, n - i < BUFSZ ? n - i : BUFSZ)
		    != SB_OK)
			die("encode", sb_encoder_errmsg(e));
	if (sb_encoder_finish(e, NULL) != SB_OK)
		die("encode", sb_encoder_errmsg(e));
	sb_encoder_free(&e);
	return cpu_now() - t0;
}

/* Decode m with c (sha256 included); CPU seconds spent. */
static double
time_decode(const struct sb_codec *c, const struct sb_keyring *r,
    const struct mem *m)
{
	struct sb_decoder	*d = NULL;
	char			 err[SB_ERRMSG_MAX];
	double			 t0 = cpu_now();

	if (sb_decoder_new(r, c, null_write, NULL, &d, err) != SB_OK)
		die("decode", err);
	for (size_t i = 0; i < m->n; i += BUFSZ)
		if (sb_decoder_write(d, m->p + i, m->n - i < BUFSZ ? m->n - i :
		    BUFSZ) != SB_OK)
			die("decode", sb_decoder_errmsg(d));
	if (sb_decoder_finish(d, NULL, NULL) != SB_OK)
		die("decode", sb_decoder_errmsg(d));
	sb_decoder_free(&d);
	return cpu_now() - t0;
}

/* Read all of path into memory (*n bytes). */
static unsigned char *
slurp(const char *path, size_t *n)
{
	struct stat	 st;
	unsigned char	*p;
	ssize_t		 k;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		die(path, strerror(errno));
	if ((p = malloc((size_t)st.st_size + 1)) == NULL)
		die(path, "out of memory");
	for (*n = 0; *n < (size_t)st.st_size; *n += (size_t)k)
		if ((k = read(fd, p + *n, (size_t)st.st_size - *n)) <= 0)
			die(path, k == 0 ? "short read" : strerror(errno));
	close(fd);
	return p;
}

static void
speed(const char *path, int level, const struct sb_keyring *r)
{
	static const char *const exts[] = { "db", "db.zst", "db.enc",
	    "db.zst.enc" };
	struct sb_codec	 c;
	struct mem	 m;
	size_t		 n;
	unsigned char	*src = slurp(path, &n);
	double		 te, td, t, mb = (double)n / 1e6;
	char		 name[32];

	m.cap = n + n / 8 + (1 << 20);
	if ((m.p = malloc(m.cap)) == NULL)
		die("speed", "out of memory");
	memset(m.p, 0, m.cap);	/* page faults are not the codec's either */
	printf("%-11s %10s %10s %14s %7s   (MB/s of plaintext per CPU "
	    "second)\n", "codec", "encode", "decode", "stored bytes", "ratio");
	for (size_t i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "x.%s", exts[i]);
		sb_codec_from_name(name, &c);
		c.level = level;
		if (c.enc != SB_ENC_NONE)
			snprintf(c.key_id, sizeof(c.key_id), "%s",
			    sb_keyring_active(r));
		te = td = 1e9;
		for (int run = 0; run < 3; run++) {
			if ((t = time_encode(&c, r, src, n, &m)) < te)
				te = t;
			if ((t = time_decode(&c, r, &m)) < td)
				td = t;
		}
		printf("%-11s %5.0f MB/s %5.0f MB/s %14zu %7.3f\n", exts[i],
		    te > 0 ? mb / te : 0, td > 0 ? mb / td : 0, m.n,
		    (double)m.n / (double)(n ? n : 1));
	}
	free(m.p);
	free(src);
}

/* encode or decode stdin to stdout. */
static void
stream(int enc, const struct sb_codec *c, const struct sb_keyring *r)
{
	struct sb_encoder	*e = NULL;
	struct sb_decoder	*d = NULL;
	unsigned char		*buf = malloc(BUFSZ);
	char			 err[SB_ERRMSG_MAX], sha[SB_SHA256_HEX + 1];
	int			 out = STDOUT_FILENO;
	int64_t			 size;
	ssize_t			 n;
	enum sb_err		 rc;

	if (buf == NULL)
		die("stream", "out of memory");
	rc = enc ? sb_encoder_new(c, r, fd_write, &out, &e, err) :
	    sb_decoder_new(r, c, fd_write, &out, &d, err);
	if (rc != SB_OK)
		die(enc ? "encode" : "decode", err);
	while ((n = read(STDIN_FILENO, buf, BUFSZ)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read", strerror(errno));
		rc = enc ? sb_encoder_write(e, buf, (size_t)n) :
		    sb_decoder_write(d, buf, (size_t)n);
		if (rc != SB_OK)
			break;
	}
	if (rc == SB_OK)
		rc = enc ? sb_encoder_finish(e, NULL) :
		    sb_decoder_finish(d, sha, &size);
	if (rc != SB_OK) {
		fprintf(stderr, "sb-codec: %s: %s (%s)\n", enc ? "encode" :
		    "decode", enc ? sb_encoder_errmsg(e) : sb_decoder_errmsg(d),
		    sb_errcode(rc));
		exit(rc == SB_ERR_KEY ? 3 : 1);
	}
	if (!enc)
		fprintf(stderr, "%s %lld\n", sha, (long long)size);
	sb_encoder_free(&e);
	sb_decoder_free(&d);
	free(buf);
}

int
main(int argc, char *argv[])
{
	struct sb_keyring	*r;
	struct sb_codec		 c;
	const char		*keyfile = NULL, *keyid = NULL, *cmd, *arg;
	char			 name[64];
	int64_t			 level = SB_CODEC_LEVEL_DEFAULT;
	int			 ch;

	if (argc < 3)
		usage();
	cmd = argv[1];
	arg = argv[2];
	optind = 3;
	while ((ch = getopt(argc, argv, "l:k:i:")) != -1) {
		if (ch == 'l' && sb_parse_i64(optarg, SB_CODEC_LEVEL_MIN,
		    SB_CODEC_LEVEL_MAX, &level) == SB_OK)
			continue;
		if (ch == 'k')
			keyfile = optarg;
		else if (ch == 'i')
			keyid = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	r = ring_from(keyfile, keyid);
	if (strcmp(cmd, "speed") == 0) {
		if (sb_keyring_active(r) == NULL)
			die("speed", "needs -k KEYFILE");
		speed(arg, (int)level, r);
	} else if (strcmp(cmd, "encode") == 0 || strcmp(cmd, "decode") == 0) {
		snprintf(name, sizeof(name), "x.%s", arg);
		if (sb_codec_from_name(name, &c) != SB_OK)
			die(arg, "not db, db.zst, db.enc or db.zst.enc");
		c.level = (int)level;
		if (c.enc != SB_ENC_NONE && sb_keyring_active(r) != NULL)
			snprintf(c.key_id, sizeof(c.key_id), "%s",
			    sb_keyring_active(r));
		stream(cmd[0] == 'e', &c, r);
	} else
		usage();
	sb_keyring_free(&r);
	return 0;
}
