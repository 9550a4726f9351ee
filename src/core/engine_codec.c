/*
 * engine_codec.c - the engine's side of the object codec (codec.h): the
 * keyring and codec of the configuration, a backup's object encoded while
 * its snapshot is written, an encoded object decoded into a plain file
 * (restore, verify, drill) or a stream (download), and the object
 * metadata, whose description and tags are sealed when the object is
 * encrypted. The steps are docs/ARCHITECTURE.md "A backup" and "A
 * restore". What the engine's files share is in engine_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "codec.h"
#include "config.h"
#include "engine_int.h"
#include "json.h"
#include "snapshot.h"
#include "store.h"
#include "tempfile.h"

/*
 * The keyring and the codec of new backups, from the configuration. A
 * configuration that asks for encryption without a usable key is
 * SB_ERR_CONFIG: the programs refuse to start, never store in clear.
 */
enum sb_err
sb_engine_codec_open(struct sb_engine *e, char *err)
{
	int	rc;

	if ((rc = sb_keyring_load(e->cfg, &e->ring, err)) != SB_OK)
		return rc;
	return sb_codec_from_config(e->cfg, e->ring, &e->codec, err);
}

/* The codec the object name says; a name without a known one is plain. */
static void
name_codec(const char *name, struct sb_codec *c)
{
	if (name == NULL || sb_codec_from_name(name, c) != SB_OK) {
		memset(c, 0, sizeof(*c));
		c->comp = SB_COMP_NONE;
		c->enc = SB_ENC_NONE;
	}
}

enum sb_err
sb_engine_keys_check(const struct sb_config *cfg, char *err)
{
	struct sb_keyring	*ring = NULL;
	struct sb_codec		 c;
	int			 rc;

	if ((rc = sb_keyring_load(cfg, &ring, err)) == SB_OK)
		rc = sb_codec_from_config(cfg, ring, &c, err);
	sb_keyring_free(&ring);
	return rc;
}

int
sb_is_engine_encoded(const struct sb_backup *b)
{
	struct sb_codec	c;

	name_codec(b->location, &c);
	return !sb_is_codec_plain(&c);
}

/* The JSON {"description":..,"tags":[..]} that is sealed; NULL: no memory. */
static char *
admin_json(const struct sb_backup *b)
{
	json_object	*o, *t;
	char		*s = NULL;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (b->description != NULL && json_object_object_add(o,
	    "description", json_object_new_string(b->description)) != 0)
		goto out;
	if ((t = json_object_new_array()) == NULL ||
	    json_object_object_add(o, "tags", t) != 0)
		goto out;
	for (size_t i = 0; i < b->ntags; i++)
		if (json_object_array_add(t,
		    json_object_new_string(b->tags[i])) != 0)
			goto out;
	s = sb_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(o);
	return s;
}

/*
 * What an admin typed (description, tags) into m: in clear, or for an
 * encrypted object sealed with the active key, bound to the backup id,
 * as "sealed" (codec.h). SB_ERR_KEY, SB_ERR_INVAL (too long to seal).
 */
static enum sb_err
meta_admin(struct sb_engine *e, const struct sb_backup *b, int sealed,
    struct sb_meta *m)
{
	char	*js = NULL, *out = NULL, err[SB_ERRMSG_MAX];
	int	 rc;

	if (!sealed) {
		if (b->description != NULL &&
		    (rc = sb_meta_set(m, "description", b->description)))
			return rc;
		if (b->ntags == 0)
			return SB_OK;
		if ((js = sb_tags_to_json((const char *const *)b->tags,
		    b->ntags)) == NULL)
			return SB_ERR_NOMEM;
		rc = sb_meta_set(m, "tags", js);
		free(js);
		return rc;
	}
	if (b->description == NULL && b->ntags == 0)
		return SB_OK;
	if ((js = admin_json(b)) == NULL)
		return SB_ERR_NOMEM;
	if ((rc = sb_codec_seal(e->ring, e->codec.key_id, b->id, js, &out,
	    err)) != SB_OK)
		fail(e, rc, "sealing the description and tags: %s", err);
	else
		rc = sb_meta_set(m, "sealed", out);
	free(js);
	free(out);
	return rc;
}

/*
 * The object metadata that lets reconcile rebuild the record: id, type,
 * times, plaintext size and sha256, then what the admin typed. A plain
 * object's is what it always was; an encoded one adds its compression,
 * encryption and key id, and seals description and tags when encrypted.
 */
enum sb_err
sb_engine_meta_build(struct sb_engine *e, const struct sb_backup *b,
    struct sb_meta *m)
{
	struct sb_codec	 c;
	char		 num[32];
	int		 rc;

	name_codec(b->location, &c);
	snprintf(num, sizeof(num), "%lld", (long long)b->created_at);
	if ((rc = sb_meta_set(m, "safbackup", "1")) ||
	    (rc = sb_meta_set(m, "id", b->id)) ||
	    (rc = sb_meta_set(m, "type", sb_type_str(b->type))) ||
	    (rc = sb_meta_set(m, "created_at", num)))
		return rc;
	snprintf(num, sizeof(num), "%lld", (long long)b->completed_at);
	if ((rc = sb_meta_set(m, "completed_at", num)))
		return rc;
	snprintf(num, sizeof(num), "%lld", (long long)b->size);
	if ((rc = sb_meta_set(m, "size", num)) ||
	    (rc = sb_meta_set(m, "sha256", b->sha256)))
		return rc;
	if (!sb_is_codec_plain(&c) &&
	    ((rc = sb_meta_set(m, "compression", sb_comp_str(c.comp))) ||
	    (rc = sb_meta_set(m, "encryption", sb_enc_str(c.enc)))))
		return rc;
	if (c.enc != SB_ENC_NONE &&
	    (rc = sb_meta_set(m, "key_id", e->codec.key_id)))
		return rc;
	return meta_admin(e, b, c.enc != SB_ENC_NONE, m);
}

/*
 * Reconcile: description and tags of an encrypted object, unsealed from
 * its "sealed" metadata into b (whose id is the context they were sealed
 * with). SB_OK when there is nothing sealed or it was read;
 * SB_ERR_KEY / SB_ERR_CORRUPT (why in err) when it cannot be read: b
 * keeps no description or tags then. SB_ERR_NOMEM.
 */
enum sb_err
sb_engine_meta_unseal(struct sb_engine *e, const struct sb_meta *m,
    struct sb_backup *b, char *err)
{
	json_object	*o = NULL, *v;
	const char	*sealed, *s;
	char		*plain = NULL;
	int		 rc;

	if ((sealed = sb_meta_get(m, "sealed")) == NULL)
		return SB_OK;
	if ((rc = sb_codec_unseal(e->ring, b->id, sealed, &plain, err)) !=
	    SB_OK)
		return rc == SB_ERR_INVAL ? SB_ERR_CORRUPT : rc;
	rc = SB_ERR_CORRUPT;
	sb_seterr(err, "the sealed description and tags are not ours");
	if ((o = json_tokener_parse(plain)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	if (json_object_object_get_ex(o, "description", &v)) {
		s = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) ||
		    !sb_is_description(s))
			goto out;
		if ((b->description = strdup(s)) == NULL) {
			rc = SB_ERR_NOMEM;
			goto out;
		}
	}
	if (json_object_object_get_ex(o, "tags", &v)) {
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if ((rc = sb_tags_from_json(b, s, strlen(s), 1)) != SB_OK) {
			rc = rc == SB_ERR_NOMEM ? rc : SB_ERR_CORRUPT;
			goto out;
		}
	}
	rc = SB_OK;
out:
	if (rc != SB_OK) {
		free(b->description);
		b->description = NULL;
	}
	json_object_put(o);
	free(plain);
	return rc;
}

/* --- a backup, encoded while its snapshot is written ----------------------- */

/* The encoded object as it is made: appended to fd, read by the upload. */
struct enc_run {
	struct sb_encoder	*enc;
	int			 fd;
	int			 eno;	/* errno of a failed write */
	uint64_t		 written;	/* bytes appended */
	uint64_t		 flushed;	/* write-back started below */
};

#define ENC_FLUSH_STEP	(8 * 1024 * 1024)

static int
enc_out(void *arg, const void *buf, size_t len)
{
	struct enc_run	*r = arg;

	if (sb_write_all(r->fd, buf, len) != SB_OK) {
		r->eno = errno;
		return -1;
	}
	r->written += len;
#ifdef SYNC_FILE_RANGE_WRITE
	/*
	 * Start writing the object to disk as it grows (Linux
	 * sync_file_range(2), asynchronous), as the snapshot's hasher does
	 * for a plain backup, so the store's fsync at the end has little
	 * left to do. Only a head start: errors are the fsync's to report.
	 */
	if (r->written - r->flushed >= ENC_FLUSH_STEP) {
		(void)sync_file_range(r->fd, (off_t)r->flushed,
		    (off_t)(r->written - r->flushed), SYNC_FILE_RANGE_WRITE);
		r->flushed = r->written;
	}
#endif
	return 0;
}

/* The snapshot's bytes, in order, into the encoder (the hasher's thread). */
static int
enc_in(void *arg, const void *buf, size_t len)
{
	struct enc_run	*r = arg;

	return sb_encoder_write(r->enc, buf, len) == SB_OK ? 0 : -1;
}

/* The object file emptied, to be encoded again (encode_from). */
static enum sb_err
encode_reset(struct sb_engine *e, struct enc_run *r, const char *encpath)
{
	sb_encoder_free(&r->enc);
	r->written = r->flushed = 0;
	if (ftruncate(r->fd, 0) == -1 || lseek(r->fd, 0, SEEK_SET) == -1)
		return fail(e, SB_ERR_IO, "encoding the snapshot: %s: %s",
		    encpath, strerror(errno));
	return SB_OK;
}

/* The finished snapshot snap encoded into r's file; *stored its size. */
static enum sb_err
encode_from(struct sb_engine *e, const char *snap, struct enc_run *r,
    int64_t *stored)
{
	char	err[SB_ERRMSG_MAX];
	int	in, rc;

	if ((in = open(snap, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(e, SB_ERR_IO, "encoding the snapshot: %s: %s",
		    snap, strerror(errno));
	rc = sb_codec_encode_fd(&e->codec, e->ring, in, r->fd, stored, err);
	close(in);
	if (rc != SB_OK)
		return fail(e, rc, "encoding the snapshot: %s", err);
	return SB_OK;
}

/*
 * The object from scratch, out of the finished snapshot snap: the hasher
 * could not stream it (its guess of page 1 was stale, see snapshot.c).
 * The upload begun on the growing file is abandoned (nothing of it is
 * committed), the file emptied, and a new upload begun on it while it is
 * encoded again. *stored gets the object's size.
 */
static enum sb_err
encode_again(struct sb_engine *e, const char *name, const char *snap,
    const char *encpath, struct enc_run *r, struct sb_upload **up,
    int64_t *stored)
{
	int	rc;

	sb_logkv(SB_LOG_INFO, "backup.reencoded", (const char *[]){
	    "path", snap, NULL }, "page 1 changed during the snapshot: the "
	    "object is encoded again from the finished snapshot");
	sb_store_upload_abort(up);
	if ((rc = encode_reset(e, r, encpath)) != SB_OK)
		return rc;
	if ((rc = sb_store_upload_begin(e->store, name, encpath, up)) != SB_OK)
		return fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
	return encode_from(e, snap, r, stored);
}

/* The encoder's error, with the file's if writing failed. */
static enum sb_err
enc_failed(struct sb_engine *e, int rc, const struct enc_run *r,
    const char *path)
{
	if (r->eno != 0)
		return fail(e, SB_ERR_IO, "writing %s: %s", path,
		    strerror(r->eno));
	return fail(e, rc, "encoding the snapshot: %s",
	    r->enc != NULL ? sb_encoder_errmsg(r->enc) : "failed");
}

/*
 * Steps 3 and 4 of a backup whose codec is not plain (docs/ARCHITECTURE.md
 * "A backup"): the snapshot of the source is written to snap (a temp
 * file); the hasher's in-order stream of it (the guessed page 1, then
 * pages as the copy writes them) goes through the encoder into a second
 * temp file, which only grows and which the upload reads as it grows. If
 * the guess fails, the object is encoded again from the finished
 * snapshot (encode_again). b gets the plaintext's size and sha256, the
 * stored size and completed_at; meta gets the object's metadata; on
 * SB_OK the object is committed. The engine's message says why not.
 */
enum sb_err
sb_engine_backup_encoded(struct sb_engine *e, struct sb_backup *b,
    const char *name, const char *snap, struct sb_meta *meta)
{
	struct sb_temp		 t = { "", -1 };
	struct enc_run		 r = { NULL, -1, 0, 0, 0 };
	struct sb_upload	*up = NULL;
	char			 msg[SB_ERRMSG_MAX];
	int			 rc, streamed = 0;

	if ((rc = sb_temp_reserve(&t, sb_engine_work_dir(e), "encoded", b->id,
	    msg)) != SB_OK)
		return fail(e, rc, "encoding the snapshot: %s", msg);
	if ((r.fd = open(t.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rc = fail(e, SB_ERR_IO, "%s: %s", t.path, strerror(errno));
		goto out;
	}
	if ((rc = sb_encoder_new(&e->codec, e->ring, enc_out, &r, &r.enc,
	    msg)) != SB_OK) {
		fail(e, rc, "encoding the snapshot: %s", msg);
		goto out;
	}
	if ((rc = sb_store_upload_begin(e->store, name, t.path, &up)) !=
	    SB_OK) {
		fail(e, rc, "upload to the %s store: %s",
		    e->store->ops->kind, sb_store_errmsg(e->store));
		goto out;
	}
	if ((rc = sb_snapshot_take_streamed(e->cfg->source_path, snap,
	    b->sha256, &b->size, e->progress, enc_in, &r, &streamed,
	    msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	if (streamed && (rc = sb_encoder_finish(r.enc, &b->stored_size)) !=
	    SB_OK) {
		enc_failed(e, rc, &r, t.path);
		goto out;
	}
	if (!streamed && (rc = encode_again(e, name, snap, t.path, &r, &up,
	    &b->stored_size)) != SB_OK)
		goto out;
	rc = sb_engine_upload_commit(e, b, &up, b->stored_size, meta);
out:
	sb_store_upload_abort(&up);
	sb_encoder_free(&r.enc);
	if (r.fd != -1)
		close(r.fd);
	sb_temp_release(&t);
	return rc;
}

/* --- an encoded object, decoded -------------------------------------------- */

/* A decoding: stored bytes into dec, plaintext out to fd or a writer. */
struct dec_run {
	struct sb_decoder	*dec;
	int			 fd;	/* the plain file, or -1 */
	int			 eno;	/* errno of a failed write to fd */
	int			 drc;	/* the decoder's error, SB_OK */
};

static int
dec_out(void *arg, const void *buf, size_t len)
{
	struct dec_run	*r = arg;

	if (sb_write_all(r->fd, buf, len) != SB_OK) {
		r->eno = errno;
		return -1;
	}
	return 0;
}

static int
dec_in(void *arg, const void *buf, size_t len)
{
	struct dec_run	*r = arg;

	if ((r->drc = sb_decoder_write(r->dec, buf, len)) != SB_OK)
		return -1;
	return 0;
}

/*
 * The decoder's verdict as the engine's error: the key (SB_ERR_KEY), the
 * object (SB_ERR_CORRUPT: tampered with, truncated), or the plain file.
 */
static enum sb_err
dec_failed(struct sb_engine *e, const struct sb_backup *b, int rc,
    const struct dec_run *r, const char *msg)
{
	if (r->eno != 0)
		return fail(e, SB_ERR_IO, "decoding backup %s: writing the "
		    "plain copy: %s", b->id, strerror(r->eno));
	if (rc == SB_ERR_KEY)
		return fail(e, rc, "backup %s cannot be read: %s", b->id, msg);
	if (rc == SB_ERR_CORRUPT)
		return fail(e, rc, "backup %s: object %s fails authentication "
		    "(tampered with, truncated or damaged): %s; refusing it",
		    b->id, b->location, msg);
	return fail(e, rc, "decoding backup %s: %s", b->id, msg);
}

/*
 * A remote store's encoded object, downloaded into a temp file of
 * temp_dir ("encoded", removed before this returns) and decoded behind
 * the download as it arrives (sb_store_get_file_follow): the parallel
 * ranges of a large blob, and no second pass over it.
 */
static enum sb_err
fetch_remote_decoded(struct sb_engine *e, const struct sb_backup *b,
    struct dec_run *r, char sha[SB_SHA256_HEX + 1], int64_t *size)
{
	struct sb_temp	et = { "", -1 };
	char		msg[SB_ERRMSG_MAX];
	int		rc;

	if ((rc = sb_temp_reserve(&et, e->cfg->temp_dir, "encoded", b->id,
	    msg)) != SB_OK)
		return fail(e, rc, "download of backup %s: %s", b->id, msg);
	rc = sb_store_get_file_follow(e->store, b->location, et.path, dec_in,
	    r);
	if (r->drc != SB_OK || r->eno != 0)
		rc = dec_failed(e, b, r->drc, r, sb_decoder_errmsg(r->dec));
	else if (rc == SB_ERR_NOTFOUND)
		rc = fail(e, SB_ERR_CORRUPT, "backup %s: object %s is missing "
		    "from the store", b->id, b->location);
	else if (rc != SB_OK)
		fail(e, rc, "download of %s: %s", b->location,
		    sb_store_errmsg(e->store));
	else if ((rc = sb_decoder_finish(r->dec, sha, size)) != SB_OK)
		dec_failed(e, b, rc, r, sb_decoder_errmsg(r->dec));
	sb_temp_release(&et);
	return rc;
}

/*
 * The completed, encoded backup b as a plain file, for restore, verify
 * and drill (the engine's fetch_local, engine_restore.c): a new temp file
 * of temp_dir reserved in t for operation op (path, PATH_MAX, gets it;
 * the caller releases t), with the plaintext's sha256 and size, hashed by
 * the decoder on the way. Free space for it (and for the download) is
 * checked first. A disk store's object is read where it lies; another
 * store's is downloaded and decoded as it arrives. Nothing reaches the
 * plain file before it is authenticated: a tampered or truncated object
 * is SB_ERR_CORRUPT, a key the ring lacks SB_ERR_KEY.
 */
enum sb_err
sb_engine_fetch_decoded(struct sb_engine *e, const struct sb_backup *b,
    struct sb_temp *t, const char *op, char path[PATH_MAX],
    char sha[SB_SHA256_HEX + 1], int64_t *size)
{
	struct sb_codec	 want;
	struct dec_run	 r = { NULL, -1, 0, SB_OK };
	char		 local[PATH_MAX], msg[SB_ERRMSG_MAX];
	int64_t		 need;
	int		 rc, in, islocal;

	name_codec(b->location, &want);
	if ((rc = sb_engine_object_path(e, b, local, sizeof(local),
	    &islocal)) != SB_OK)
		return rc;
	need = (b->size > 0 ? b->size : 0) + (islocal ? 0 :
	    b->stored_size > 0 ? b->stored_size : b->size > 0 ? b->size : 0);
	if ((rc = sb_temp_space(e->cfg->temp_dir, need, msg)) != SB_OK ||
	    (rc = sb_temp_reserve(t, e->cfg->temp_dir, op, b->id, msg)) !=
	    SB_OK)
		return fail(e, rc, "decoding backup %s: %s", b->id, msg);
	sb_strlcpy(path, t->path, PATH_MAX);
	if ((r.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return fail(e, SB_ERR_IO, "%s: %s", path, strerror(errno));
	if (islocal) {
		if ((in = open(local, O_RDONLY | O_CLOEXEC)) == -1)
			rc = fail(e, SB_ERR_IO, "%s: %s", local,
			    strerror(errno));
		else {
			rc = sb_codec_decode_fd(e->ring, &want, in, r.fd, sha,
			    size, msg);
			close(in);
			if (rc != SB_OK)
				dec_failed(e, b, rc, &r, msg);
		}
	} else if ((rc = sb_decoder_new(e->ring, &want, dec_out, &r, &r.dec,
	    msg)) != SB_OK)
		fail(e, rc, "decoding backup %s: %s", b->id, msg);
	else
		rc = fetch_remote_decoded(e, b, &r, sha, size);
	sb_decoder_free(&r.dec);
	if (close(r.fd) == -1 && rc == SB_OK)
		rc = fail(e, SB_ERR_IO, "%s: %s", path, strerror(errno));
	return rc;
}

/* A download's decoder: its plaintext goes to the front end's writer. */
struct dl_run {
	const struct sb_download_cb	*cb;
	int				 failed;	/* the writer failed */
};

static int
dl_out(void *arg, const void *buf, size_t len)
{
	struct dl_run	*d = arg;

	if (d->cb->write(d->cb->arg, buf, len) != 0) {
		d->failed = 1;
		return -1;
	}
	return 0;
}

/*
 * Download an encoded backup b: its object streamed from the store
 * through the decoder, the plain .db to the front end's writer (begin
 * gets the record with the plain file's name). A wrong or missing key
 * fails at the header, before the first byte; a tampered chunk fails
 * before its bytes are passed on; at the end, the plaintext must be the
 * record's size and sha256.
 */
enum sb_err
sb_engine_download_decoded(struct sb_engine *e, const struct sb_backup *b,
    const struct sb_download_cb *cb)
{
	struct sb_backup	 plain;
	struct sb_codec		 want;
	struct dl_run		 d = { cb, 0 };
	struct dec_run		 r = { NULL, -1, 0, SB_OK };
	char			 name[SB_NAME_MAX + 1], msg[SB_ERRMSG_MAX];
	char			 sha[SB_SHA256_HEX + 1];
	int64_t			 size = -1;
	int			 rc;

	name_codec(b->location, &want);
	if ((rc = sb_decoder_new(e->ring, &want, dl_out, &d, &r.dec, msg)) !=
	    SB_OK)
		return fail(e, rc, "decoding backup %s: %s", b->id, msg);
	if (cb->begin != NULL) {
		plain = *b;
		if (sb_name_format(b->type, b->created_at, b->id, name,
		    sizeof(name)) == SB_OK)
			plain.location = name;
		cb->begin(cb->arg, &plain);
	}
	rc = sb_store_get(e->store, b->location, dec_in, &r);
	if (d.failed)
		rc = fail(e, SB_ERR_IO, "download of backup %s: the client "
		    "went away", b->id);
	else if (r.drc != SB_OK)
		rc = dec_failed(e, b, r.drc, &r, sb_decoder_errmsg(r.dec));
	else if (rc != SB_OK)
		fail(e, rc, "download of %s: %s", b->location,
		    sb_store_errmsg(e->store));
	else if ((rc = sb_decoder_finish(r.dec, sha, &size)) != SB_OK)
		dec_failed(e, b, rc, &r, sb_decoder_errmsg(r.dec));
	else if (size != b->size || strcmp(sha, b->sha256) != 0)
		rc = fail(e, SB_ERR_CORRUPT, "backup %s decodes to %lld bytes "
		    "of sha256 %s, the catalog says %lld and %s", b->id,
		    (long long)size, sha, (long long)b->size, b->sha256);
	sb_decoder_free(&r.dec);
	return rc;
}

/*
 * A restore's safety snapshot when the codec is not plain (safety_locked,
 * engine_restore.c; txn holds the live database's write lock): taken into
 * the plain temp file t, its bytes encoded as they are hashed into a new
 * temp file of dir, or from the finished snapshot when they could not be
 * (the encoder refused a piece, or a copy through SQLite found page 1
 * changed). The object is fsynced (the restore relies on it before the
 * copy) and replaces the snapshot in t (the plain file removed). b gets
 * size, sha256 and stored_size.
 */
enum sb_err
sb_engine_safety_encoded(struct sb_engine *e, struct sb_restore_txn *txn,
    struct sb_backup *b, const char *dir, struct sb_temp *t)
{
	struct sb_temp	enc = { "", -1 };
	struct enc_run	r = { NULL, -1, 0, 0, 0 };
	char		msg[SB_ERRMSG_MAX];
	int		rc, streamed = 0;

	if ((rc = sb_temp_reserve(&enc, dir, "encoded", b->id, msg)) != SB_OK)
		return fail(e, rc, "encoding the snapshot: %s", msg);
	if ((r.fd = open(enc.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rc = fail(e, SB_ERR_IO, "%s: %s", enc.path, strerror(errno));
		goto out;
	}
	if ((rc = sb_encoder_new(&e->codec, e->ring, enc_out, &r, &r.enc,
	    msg)) != SB_OK) {
		fail(e, rc, "encoding the snapshot: %s", msg);
		goto out;
	}
	if ((rc = sb_snapshot_take_locked_streamed(txn, t->path, b->sha256,
	    &b->size, enc_in, &r, &streamed, msg)) != SB_OK) {
		fail(e, rc, "snapshot of %s: %s", e->cfg->source_path, msg);
		goto out;
	}
	if (streamed && (rc = sb_encoder_finish(r.enc, &b->stored_size)) !=
	    SB_OK) {
		enc_failed(e, rc, &r, enc.path);
		goto out;
	}
	if (!streamed && ((rc = encode_reset(e, &r, enc.path)) != SB_OK ||
	    (rc = encode_from(e, t->path, &r, &b->stored_size)) != SB_OK))
		goto out;
	if (fsync(r.fd) == -1)
		rc = fail(e, SB_ERR_IO, "fsync %s: %s", enc.path,
		    strerror(errno));
out:
	sb_encoder_free(&r.enc);
	if (r.fd != -1 && close(r.fd) == -1 && rc == SB_OK)
		rc = fail(e, SB_ERR_IO, "%s: %s", enc.path, strerror(errno));
	if (rc != SB_OK) {
		sb_temp_release(&enc);
		return rc;
	}
	sb_temp_release(t);
	*t = enc;
	return SB_OK;
}
