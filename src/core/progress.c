/*
 * progress.c - the progress of a running backup or restore, recorded in
 * the catalog's table running (progress.h): names, the throttle (pure)
 * and the recorder, a thread that writes the row at most once a second
 * on a catalog connection of its own.
 *
 * Why a thread: the bytes move on several threads (the snapshot's copy,
 * Azure's parallel blocks and ranges, the hasher), and the engine's
 * catalog connection is single-threaded (SQLITE_OPEN_NOMUTEX). The hot
 * paths only store numbers with atomic operations; a busy catalog (its
 * 10 s busy timeout) can then delay a progress row, never a byte.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdio.h>

#include <json-c/json.h>

#include "catalog.h"
#include "progress.h"
#include "report.h"

static const char *const op_names[SB_OP__MAX] = { "backup", "restore" };
static const char *const phase_names[SB_PHASE__MAX] = {
	"snapshot", "upload", "download", "verify", "safety_backup", "copy"
};

const char *
sb_op_str(enum sb_op op)
{
	return (unsigned)op < SB_OP__MAX ? op_names[op] : NULL;
}

const char *
sb_phase_str(enum sb_phase ph)
{
	return (unsigned)ph < SB_PHASE__MAX ? phase_names[ph] : NULL;
}

enum sb_err
sb_op_parse(const char *s, enum sb_op *out)
{
	for (int i = 0; s != NULL && i < SB_OP__MAX; i++)
		if (strcmp(s, op_names[i]) == 0) {
			*out = (enum sb_op)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

enum sb_err
sb_phase_parse(const char *s, enum sb_phase *out)
{
	for (int i = 0; s != NULL && i < SB_PHASE__MAX; i++)
		if (strcmp(s, phase_names[i]) == 0) {
			*out = (enum sb_phase)i;
			return SB_OK;
		}
	return SB_ERR_INVAL;
}

/* --- what readers see --------------------------------------------------- */

/* Add k = v to o; v NULL (out of memory) or a failed add: -1. */
static int
jadd(struct json_object *o, const char *k, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, k, v) != 0)
		return -1;
	return 0;
}

/* An ISO 8601 time, or null. */
static int
jtime(struct json_object *o, const char *k, int64_t ms)
{
	char	buf[40];

	if (ms <= 0 || sb_time_format(ms, buf, sizeof(buf)) != SB_OK)
		return json_object_object_add(o, k, NULL) == 0 ? 0 : -1;
	return jadd(o, k, json_object_new_string(buf));
}

struct json_object *
sb_running_json(const struct sb_running *r, int with_id)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((with_id && jadd(o, "backup_id",
	    json_object_new_string(r->backup_id)) != 0) ||
	    jadd(o, "operation", json_object_new_string(sb_op_str(r->op))) ||
	    jadd(o, "phase", json_object_new_string(sb_phase_str(r->phase))) ||
	    jadd(o, "bytes_done", json_object_new_int64(r->bytes_done)) ||
	    (r->bytes_total < 0 ? json_object_object_add(o, "bytes_total",
	    NULL) != 0 : jadd(o, "bytes_total",
	    json_object_new_int64(r->bytes_total)) != 0) ||
	    jtime(o, "started_at", r->started_at) ||
	    jtime(o, "updated_at", r->updated_at)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* n bytes for people: "512 B", "1.5 MiB". */
static void
human(int64_t n, char *buf, size_t len)
{
	static const char *const u[] = { "KiB", "MiB", "GiB", "TiB" };
	double	v = (double)n;
	int	i = -1;

	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		(void)snprintf(buf, len, "%lld B", (long long)n);
	else
		(void)snprintf(buf, len, "%.1f %s", v, u[i]);
}

void
sb_running_line(const struct sb_running *r, char *buf, size_t len)
{
	char	done[32], total[32], at[40] = "-";

	human(r->bytes_done, done, sizeof(done));
	(void)sb_time_format(r->updated_at, at, sizeof(at));
	if (r->bytes_total <= 0) {
		(void)snprintf(buf, len, "%s, %s: %s, updated %s",
		    sb_op_str(r->op), sb_phase_str(r->phase), done, at);
		return;
	}
	human(r->bytes_total, total, sizeof(total));
	(void)snprintf(buf, len, "%s, %s: %s of %s (%d%%), updated %s",
	    sb_op_str(r->op), sb_phase_str(r->phase), done, total,
	    (int)(r->bytes_done * 100 / r->bytes_total), at);
}

/* --- the throttle ------------------------------------------------------- */

int64_t
sb_throttle_wait_ms(const struct sb_throttle *t, int64_t now_ms)
{
	int64_t	next;

	if (t->last_ms == 0)
		return 0;
	next = t->last_ms + SB_PROGRESS_PERIOD_MS;
	return next > now_ms ? next - now_ms : 0;
}

void
sb_throttle_view(const struct sb_throttle *t, int64_t now_ms,
    enum sb_phase phase, int64_t *done, int64_t *total, int *due)
{
	if (*total < 0)
		*total = -1;
	if (*done < 0)
		*done = 0;
	if (*total >= 0 && *done > *total)
		*done = *total;
	/* Within a phase a reader never sees bytes go back. */
	if (t->last_ms != 0 && phase == t->phase && *done < t->done)
		*done = t->done;
	if (*total >= 0 && *done > *total)
		*total = *done;		/* a total known better, but lower */
	*due = sb_throttle_wait_ms(t, now_ms) == 0 && (t->last_ms == 0 ||
	    phase != t->phase || *done != t->done || *total != t->total);
}

void
sb_throttle_mark(struct sb_throttle *t, int64_t now_ms, enum sb_phase phase,
    int64_t done, int64_t total)
{
	/* 0 means "never written": a clock at 0 still counts as written. */
	t->last_ms = now_ms != 0 ? now_ms : 1;
	t->phase = phase;
	t->done = done;
	t->total = total;
}

/* --- the recorder ----------------------------------------------------------- */

struct sb_progress {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;	/* on CLOCK_MONOTONIC */
	pthread_t		 thr;
	int			 running;	/* thr was started */
	int			 stop;		/* under mu */
	struct sb_catalog	*cat;		/* the thread's own */
	char			 op_id[SB_UUID_LEN + 1];
	struct sb_throttle	 th;		/* the thread's */
	int			 warned;	/* a failed write was logged */
	/* Shared with the hot paths: __atomic builtins only. */
	int			 phase;
	int64_t			 total[SB_PHASE__MAX];
	int64_t			 done[SB_PHASE__MAX];
};

/* Write the row if the throttle says so; mu held on entry and exit. */
static void
progress_write(struct sb_progress *p)
{
	enum sb_phase	ph;
	int64_t		done, total, now = sb_mono_ms();
	int		due, rc;

	ph = (enum sb_phase)__atomic_load_n(&p->phase, __ATOMIC_RELAXED);
	done = __atomic_load_n(&p->done[ph], __ATOMIC_RELAXED);
	total = __atomic_load_n(&p->total[ph], __ATOMIC_RELAXED);
	sb_throttle_view(&p->th, now, ph, &done, &total, &due);
	if (!due)
		return;
	pthread_mutex_unlock(&p->mu);
	rc = sb_catalog_running_update(p->cat, p->op_id, ph, done, total,
	    sb_now_ms());
	pthread_mutex_lock(&p->mu);
	if (rc == SB_OK)
		sb_throttle_mark(&p->th, now, ph, done, total);
	else if (!p->warned) {
		p->warned = 1;
		sb_log(SB_LOG_WARN, "progress.failed", "operation %s: its "
		    "progress cannot be recorded: %s", p->op_id,
		    sb_catalog_errmsg(p->cat));
	}
}

/* Wait on cv until the monotonic clock passes ms or stop; mu held. */
static void
progress_sleep(struct sb_progress *p, int64_t ms)
{
	struct timespec	ts;
	int64_t		until = sb_mono_ms() + ms;

	ts.tv_sec = (time_t)(until / 1000);
	ts.tv_nsec = (long)(until % 1000) * 1000000L;
	while (!p->stop && sb_mono_ms() < until)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
}

/* One period between looks; a write only when something changed. */
static void *
progress_thread(void *arg)
{
	struct sb_progress	*p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		progress_sleep(p, SB_PROGRESS_PERIOD_MS);
		if (!p->stop)
			progress_write(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The mutex and a condition variable on the monotonic clock. */
static int
progress_sync_init(struct sb_progress *p)
{
	pthread_condattr_t	ca;
	int			ok;

	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return -1;
	ok = pthread_condattr_init(&ca) == 0;
	if (ok) {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&p->cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!ok) {
		pthread_mutex_destroy(&p->mu);
		return -1;
	}
	return 0;
}

enum sb_err
sb_progress_start(struct sb_progress **out, const char *catalog_path,
    enum sb_op op, const char *op_id, const char *backup_id,
    enum sb_phase first, int64_t total, char *err)
{
	struct sb_progress	*p = NULL;
	struct sb_running	 r;
	enum sb_err		 rc;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		sb_seterr(err, "out of memory");
		return SB_ERR_NOMEM;
	}
	if (progress_sync_init(p) != 0) {
		free(p);
		sb_seterr(err, "cannot set up a mutex");
		return SB_ERR_NOMEM;
	}
	sb_strlcpy(p->op_id, op_id, sizeof(p->op_id));
	for (int i = 0; i < SB_PHASE__MAX; i++)
		p->total[i] = -1;
	p->phase = (int)first;
	p->total[first] = total < 0 ? -1 : total;
	memset(&r, 0, sizeof(r));
	sb_strlcpy(r.op_id, op_id, sizeof(r.op_id));
	sb_strlcpy(r.backup_id, backup_id, sizeof(r.backup_id));
	r.op = op;
	r.phase = first;
	r.bytes_total = p->total[first];
	r.started_at = r.updated_at = sb_now_ms();
	if ((rc = sb_catalog_attach(&p->cat, catalog_path, err)) != SB_OK)
		goto fail;
	if ((rc = sb_catalog_running_put(p->cat, &r)) != SB_OK) {
		sb_seterr(err, "%s", sb_catalog_errmsg(p->cat));
		goto fail;
	}
	sb_throttle_mark(&p->th, sb_mono_ms(), first, 0, r.bytes_total);
	if (pthread_create(&p->thr, NULL, progress_thread, p) != 0) {
		(void)sb_catalog_running_del(p->cat, p->op_id);
		sb_seterr(err, "cannot start a thread");
		rc = SB_ERR_NOMEM;
		goto fail;
	}
	p->running = 1;
	*out = p;
	return SB_OK;
fail:
	sb_progress_end(&p);
	return rc;
}

void
sb_progress_phase(struct sb_progress *p, enum sb_phase ph, int64_t total)
{
	if (p == NULL || (unsigned)ph >= SB_PHASE__MAX)
		return;
	__atomic_store_n(&p->total[ph], total < 0 ? -1 : total,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&p->phase, (int)ph, __ATOMIC_RELAXED);
}

void
sb_progress_total(struct sb_progress *p, int64_t total)
{
	int	ph;

	if (p == NULL)
		return;
	ph = __atomic_load_n(&p->phase, __ATOMIC_RELAXED);
	__atomic_store_n(&p->total[ph], total < 0 ? -1 : total,
	    __ATOMIC_RELAXED);
}

void
sb_progress_set_in(struct sb_progress *p, enum sb_phase ph, int64_t done)
{
	int64_t	cur;

	if (p == NULL || (unsigned)ph >= SB_PHASE__MAX)
		return;
	cur = __atomic_load_n(&p->done[ph], __ATOMIC_RELAXED);
	while (done > cur && !__atomic_compare_exchange_n(&p->done[ph], &cur,
	    done, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void
sb_progress_set(struct sb_progress *p, int64_t done)
{
	if (p == NULL)
		return;
	sb_progress_set_in(p, (enum sb_phase)__atomic_load_n(&p->phase,
	    __ATOMIC_RELAXED), done);
}

void
sb_progress_tick(void *p, int64_t done)
{
	sb_progress_set(p, done);
}

void
sb_progress_add(struct sb_progress *p, enum sb_phase ph, int64_t n)
{
	if (p == NULL || (unsigned)ph >= SB_PHASE__MAX || n <= 0)
		return;
	(void)__atomic_fetch_add(&p->done[ph], n, __ATOMIC_RELAXED);
}

int64_t
sb_progress_done(const struct sb_progress *p, enum sb_phase ph)
{
	if (p == NULL || (unsigned)ph >= SB_PHASE__MAX)
		return 0;
	return __atomic_load_n(&p->done[ph], __ATOMIC_RELAXED);
}

int64_t
sb_progress_total_of(const struct sb_progress *p, enum sb_phase ph)
{
	if (p == NULL || (unsigned)ph >= SB_PHASE__MAX)
		return -1;
	return __atomic_load_n(&p->total[ph], __ATOMIC_RELAXED);
}

enum sb_phase
sb_progress_current(const struct sb_progress *p)
{
	if (p == NULL)
		return SB_PHASE__MAX;
	return (enum sb_phase)__atomic_load_n(&p->phase, __ATOMIC_RELAXED);
}

void
sb_progress_end(struct sb_progress **pp)
{
	struct sb_progress	*p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thr, NULL);
		if (sb_catalog_running_del(p->cat, p->op_id) != SB_OK)
			sb_log(SB_LOG_WARN, "progress.failed", "operation %s: "
			    "its progress row stays until the next "
			    "operation: %s", p->op_id,
			    sb_catalog_errmsg(p->cat));
	}
	sb_catalog_close(&p->cat);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	*pp = NULL;
}
