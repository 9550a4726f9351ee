/*
 * codec_file.c - the codec over whole files: encode a plain file into a
 * stored object, decode a stored object into a plain file (codec.h).
 * One 1 MiB read buffer, whatever the file's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"

#define BUFSZ	(1024 * 1024)

/* An sb_write_fn over a file descriptor (arg: struct fd_out). */
struct fd_out {
	int	fd;
	int	err;	/* errno of a failed write, 0 none */
};

static int
fd_write(void *arg, const void *buf, size_t len)
{
	struct fd_out	*o = arg;

	if (sb_write_all(o->fd, buf, len) != SB_OK) {
		o->err = errno;
		return -1;
	}
	return 0;
}

/* What a pass over a file feeds: the encoder or the decoder. */
typedef enum sb_err	(*feed_fn)(void *obj, const void *buf, size_t len);

static enum sb_err
feed_enc(void *obj, const void *buf, size_t len)
{
	return sb_encoder_write(obj, buf, len);
}

static enum sb_err
feed_dec(void *obj, const void *buf, size_t len)
{
	return sb_decoder_write(obj, buf, len);
}

/*
 * Read in_fd to its end into feed. SB_ERR_IO with errno's message on a
 * read error; the feed's own error otherwise (*fed set: the caller takes
 * the message from the encoder or decoder).
 */
static enum sb_err
pump(int in_fd, feed_fn feed, void *obj, int *fed, char *err)
{
	unsigned char	*buf;
	ssize_t		 n;
	enum sb_err	 rc = SB_OK;

	*fed = 0;
	if ((buf = malloc(BUFSZ)) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	for (;;) {
		n = read(in_fd, buf, BUFSZ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sb_seterr(err, "read: %s", strerror(errno));
			rc = SB_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		if ((rc = feed(obj, buf, (size_t)n)) != SB_OK) {
			*fed = 1;
			break;
		}
	}
	free(buf);
	return rc;
}

/* The message of a failure of the encoder or decoder, or of the output. */
static void
coder_err(const struct fd_out *o, const char *msg, char *err)
{
	if (o->err != 0)
		sb_seterr(err, "write: %s", strerror(o->err));
	else
		sb_seterr(err, "%s", msg);
}

enum sb_err
sb_codec_encode_fd(const struct sb_codec *c, const struct sb_keyring *ring,
    int in_fd, int out_fd, int64_t *stored_size, char *err)
{
	struct sb_encoder	*e = NULL;
	struct fd_out		 o = { out_fd, 0 };
	enum sb_err		 rc;
	int			 fed;

	if ((rc = sb_encoder_new(c, ring, fd_write, &o, &e, err)) != SB_OK)
		return rc;
	if ((rc = pump(in_fd, feed_enc, e, &fed, err)) == SB_OK) {
		fed = 1;
		rc = sb_encoder_finish(e, stored_size);
	}
	if (rc != SB_OK && fed)
		coder_err(&o, sb_encoder_errmsg(e), err);
	sb_encoder_free(&e);
	return rc;
}

enum sb_err
sb_codec_decode_fd(const struct sb_keyring *ring, const struct sb_codec *want,
    int in_fd, int out_fd, char sha256[SB_SHA256_HEX + 1], int64_t *plain_size,
    char *err)
{
	struct sb_decoder	*d = NULL;
	struct fd_out		 o = { out_fd, 0 };
	enum sb_err		 rc;
	int			 fed;

	if ((rc = sb_decoder_new(ring, want, fd_write, &o, &d, err)) != SB_OK)
		return rc;
	if ((rc = pump(in_fd, feed_dec, d, &fed, err)) == SB_OK) {
		fed = 1;
		rc = sb_decoder_finish(d, sha256, plain_size);
	}
	if (rc != SB_OK && fed)
		coder_err(&o, sb_decoder_errmsg(d), err);
	sb_decoder_free(&d);
	return rc;
}

/* Open src to read and dst (created or truncated, 0600) to write. */
static enum sb_err
open_pair(const char *src, const char *dst, int *in, int *out, char *err)
{
	*out = -1;
	if ((*in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		sb_seterr(err, "%s: %s", src, strerror(errno));
		return SB_ERR_IO;
	}
	if ((*out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		sb_seterr(err, "%s: %s", dst, strerror(errno));
		close(*in);
		*in = -1;
		return SB_ERR_IO;
	}
	return SB_OK;
}

/* fsync and close out; on failure (rc or here) remove dst. */
static enum sb_err
close_pair(int in, int out, const char *dst, enum sb_err rc, char *err)
{
	if (rc == SB_OK && fsync(out) == -1) {
		sb_seterr(err, "%s: fsync: %s", dst, strerror(errno));
		rc = SB_ERR_IO;
	}
	close(in);
	if (close(out) == -1 && rc == SB_OK) {
		sb_seterr(err, "%s: close: %s", dst, strerror(errno));
		rc = SB_ERR_IO;
	}
	if (rc != SB_OK)
		(void)unlink(dst);
	return rc;
}

enum sb_err
sb_codec_encode_file(const struct sb_codec *c, const struct sb_keyring *ring,
    const char *src, const char *dst, int64_t *stored_size, char *err)
{
	enum sb_err	rc;
	int		in, out;

	if ((rc = open_pair(src, dst, &in, &out, err)) != SB_OK)
		return rc;
	rc = sb_codec_encode_fd(c, ring, in, out, stored_size, err);
	return close_pair(in, out, dst, rc, err);
}

enum sb_err
sb_codec_decode_file(const struct sb_keyring *ring, const struct sb_codec *want,
    const char *src, const char *dst, char sha256[SB_SHA256_HEX + 1],
    int64_t *plain_size, char *err)
{
	enum sb_err	rc;
	int		in, out;

	if ((rc = open_pair(src, dst, &in, &out, err)) != SB_OK)
		return rc;
	rc = sb_codec_decode_fd(ring, want, in, out, sha256, plain_size, err);
	return close_pair(in, out, dst, rc, err);
}
