/*
 * engine_reconcile.c - prune (retention applied under the engine's
 * lock), reconcile (the catalog rebuilt from the store) and init (the
 * store's marker and the catalog's store id). What the engine's files
 * share is in engine_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "engine_int.h"
#include "json.h"
#include "retention.h"
#include "store.h"

void
sb_prune_result_clear(struct sb_prune_result *p)
{
	if (p == NULL)
		return;
	sb_retention_clear(&p->plan);
	sb_backup_list_clear(&p->list);
	memset(p, 0, sizeof(*p));
}

/*
 * A time mark kept in the catalog's settings (decimal ms) into *ms: 0 when
 * it was never set. SB_OK or the catalog's error.
 */
static enum sb_err
mark_get(struct sb_engine *e, const char *key, int64_t *ms)
{
	char	buf[32];
	int	rc;

	*ms = 0;
	rc = sb_catalog_setting_get(e->cat, key, buf, sizeof(buf));
	if (rc == SB_ERR_NOTFOUND)
		return SB_OK;
	if (rc == SB_OK && sb_parse_i64(buf, 0, INT64_MAX, ms) != SB_OK)
		rc = SB_ERR_CORRUPT;
	if (rc != SB_OK)
		return fail(e, rc, "catalog setting %s: %s", key, rc ==
		    SB_ERR_CORRUPT ? "not a time in ms" :
		    sb_catalog_errmsg(e->cat));
	return SB_OK;
}

static enum sb_err
mark_set(struct sb_engine *e, const char *key, int64_t ms, int64_t now)
{
	char	buf[32];
	int	rc;

	snprintf(buf, sizeof(buf), "%lld", (long long)ms);
	if ((rc = sb_catalog_setting_set(e->cat, key, buf, now)) != SB_OK)
		return fail(e, rc, "catalog setting %s: %s", key,
		    sb_catalog_errmsg(e->cat));
	return SB_OK;
}

/*
 * Every record, automatic first, into out: retention decides on the
 * automatic ones, and looks at all of them for dates in the future.
 */
static enum sb_err
prune_list(struct sb_engine *e, struct sb_backup_list *out)
{
	struct sb_backup_list	man;
	int			rc;

	memset(&man, 0, sizeof(man));
	if ((rc = sb_catalog_list_type(e->cat, SB_TYPE_AUTOMATIC, out)) !=
	    SB_OK || (rc = sb_catalog_list_type(e->cat, SB_TYPE_MANUAL,
	    &man)) != SB_OK) {
		fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
		goto out;
	}
	for (size_t i = 0; i < man.n; i++)
		if ((rc = sb_backup_list_push(out, &man.v[i])) != SB_OK) {
			if (rc == SB_ERR_NOMEM)
				fail(e, rc, "prune: out of memory");
			else
				fail(e, rc, "prune: more than %d backups",
				    SB_LIST_ALL_MAX);
			goto out;
		}
out:
	sb_backup_list_clear(&man);
	return rc;
}

/*
 * The admin says the clock is right (prune --confirm-clock): every record
 * and gap up to now, or up to the newest record if that is later (the
 * clock went back), is accepted. *mark gets that time; stored and logged
 * unless dry_run.
 */
static enum sb_err
clock_confirm(struct sb_engine *e, const struct sb_backup_list *l,
    int dry_run, int64_t now, struct sb_retention_policy *pol)
{
	int64_t	*mark = &pol->clock_confirmed;
	char	 t1[40] = "?", t2[40] = "?";
	int	 rc;

	if (now > *mark)
		*mark = now;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].created_at > *mark)
			*mark = l->v[i].created_at;
	pol->clock_confirmed_at = now;
	if (dry_run)
		return SB_OK;
	if ((rc = mark_set(e, SB_SETTING_CLOCK_CONFIRMED, *mark, now)) !=
	    SB_OK || (rc = mark_set(e, SB_SETTING_CLOCK_CONFIRMED_AT, now,
	    now)) != SB_OK)
		return rc;
	sb_time_format(*mark, t1, sizeof(t1));
	sb_time_format(now, t2, sizeof(t2));
	sb_logkv(SB_LOG_WARN, "prune.clock_confirmed", (const char *[]){
	    "through", t1, "confirmed_at", t2, NULL }, "the admin confirmed "
	    "the clock: backups dated up to %s and the gaps before it are "
	    "accepted", t1);
	return SB_OK;
}

/*
 * Keep whether this prune halted, and why (monitor_state "prune"): `check`
 * and a status page read it; the report alone is not durable. A failure
 * to store it is logged.
 */
static void
prune_state_keep(struct sb_engine *e, const char *halt_reason, int64_t now)
{
	if (sb_catalog_state_set(e->cat, SB_STATE_PRUNE, halt_reason != NULL ?
	    SB_PRUNE_HALTED : SB_PRUNE_OK, halt_reason, now) != SB_OK)
		sb_log(SB_LOG_WARN, "catalog.error", "cannot keep the prune "
		    "state: %s", sb_catalog_errmsg(e->cat));
}

enum sb_err
sb_engine_prune(struct sb_engine *e, unsigned flags,
    struct sb_prune_result *out)
{
	struct sb_retention_policy	 pol;
	int				 rc, dry_run;
	int64_t				 now = sb_now_ms();

	memset(out, 0, sizeof(*out));
	memset(&pol, 0, sizeof(pol));
	dry_run = (flags & SB_PRUNE_DRY_RUN) != 0;
	pol.daily_days = e->cfg->ret_daily_days;
	pol.weekly_days = e->cfg->ret_weekly_days;
	pol.recent_hours = e->cfg->ret_recent_hours;
	pol.failed_days = e->cfg->ret_failed_days;
	pol.min_keep = e->cfg->ret_min_keep;
	pol.max_gap_hours = e->cfg->ret_max_gap_hours;
	if (!dry_run && ((rc = store_ready(e)) != SB_OK ||
	    (rc = sb_engine_lock_take(e)) != SB_OK))
		return rc;
	if ((rc = prune_list(e, &out->list)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_CLOCK_CONFIRMED,
	    &pol.clock_confirmed)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_CLOCK_CONFIRMED_AT,
	    &pol.clock_confirmed_at)) != SB_OK ||
	    (rc = mark_get(e, SB_SETTING_GAPS_CHECKED,
	    &pol.gaps_checked)) != SB_OK)
		goto out;
	if ((flags & SB_PRUNE_CONFIRM_CLOCK) && (rc = clock_confirm(e,
	    &out->list, dry_run, now, &pol)) != SB_OK)
		goto out;
	if (flags & SB_PRUNE_CONFIRM_CLOCK)
		out->clock_confirmed = pol.clock_confirmed;
	if ((rc = sb_retention_plan(&pol, out->list.v, out->list.n,
	    now, &out->plan)) != SB_OK) {
		fail(e, rc, "retention: out of memory");
		goto out;
	}
	if (!dry_run)
		prune_state_keep(e, out->plan.halted ? out->plan.halt_reason :
		    NULL, now);
	if (out->plan.halted) {
		fail(e, SB_OK, "%s", out->plan.halt_reason);
		sb_engine_report(e, "prune.halted", SB_OK, NULL,
		    out->plan.halt_reason);
		goto out;
	}
	for (size_t i = 0; i < out->plan.n && !dry_run; i++) {
		const struct sb_decision *d = &out->plan.v[i];
		if (d->verdict != SB_DELETE)
			continue;
		if ((d->backup->location != NULL &&
		    sb_store_del(e->store, d->backup->location) != SB_OK) ||
		    sb_catalog_delete(e->cat, d->backup->id) != SB_OK) {
			out->errors++;
			sb_logkv(SB_LOG_ERROR, "prune.delete_failed",
			    (const char *[]){ "backup_id", d->backup->id, NULL },
			    "%s", sb_store_errmsg(e->store));
			continue;
		}
		out->deleted++;
		sb_logkv(SB_LOG_INFO, "prune.deleted", (const char *[]){
		    "backup_id", d->backup->id, "reason", d->reason, NULL },
		    "pruned");
	}
	/*
	 * What this prune checked need not be checked again: the gaps it
	 * leaves behind are retention's, not the clock's. A failure to
	 * store it only makes the next prune check more, so it is logged.
	 */
	if (!dry_run && out->plan.checked_through > pol.gaps_checked &&
	    mark_set(e, SB_SETTING_GAPS_CHECKED, out->plan.checked_through,
	    now) != SB_OK)
		sb_log(SB_LOG_WARN, "prune.mark_failed", "%s", e->err);
	if (out->errors > 0) {
		rc = fail(e, SB_ERR_STORAGE, "%zu of %zu deletions failed",
		    out->errors, out->plan.ndelete);
		sb_engine_report(e, "prune.failed", rc, NULL, e->err);
	}
out:
	if (!dry_run)
		sb_engine_lock_drop(e);
	return rc;
}

/*
 * Tags from the JSON array in s into b. A value that is not an array of
 * valid tags is ignored (metadata comes from outside: the store).
 */
static enum sb_err
tags_parse(struct sb_backup *b, const char *s)
{
	int	rc;

	if (s == NULL)
		return SB_OK;
	rc = sb_tags_from_json(b, s, strlen(s), 1);
	return rc == SB_ERR_INVAL ? SB_OK : rc;
}

/*
 * Fill a record from one stored object, as far as its name and metadata
 * tell. Returns SB_ERR_INVAL for an object that is not a backup. An
 * encoded object's size is the plain .db's its metadata records (the
 * object's own is its stored size); description and tags sealed with a
 * key the ring lacks cannot be read: *unread is set and why says why.
 */
static enum sb_err
from_object(struct sb_engine *e, const struct sb_object *o,
    struct sb_backup *b, int *unread, char *why)
{
	const char	*v;
	int64_t		 n;
	int		 rc;

	memset(b, 0, sizeof(*b));
	*unread = 0;
	b->size = -1;
	if (sb_name_parse(o->name, &b->type, &b->created_at, b->id) != SB_OK)
		return SB_ERR_INVAL;
	b->status = SB_STATUS_COMPLETED;
	b->size = b->stored_size = o->size;
	if ((b->location = strdup(o->name)) == NULL)
		return SB_ERR_NOMEM;
	if (sb_is_engine_encoded(b))
		b->size = (v = sb_meta_get(&o->meta, "size")) != NULL &&
		    sb_parse_i64(v, 0, INT64_MAX, &n) == SB_OK ? n : -1;
	b->completed_at = o->mtime;
	if ((v = sb_meta_get(&o->meta, "completed_at")) != NULL &&
	    sb_parse_i64(v, 0, INT64_MAX, &n) == SB_OK)
		b->completed_at = n;
	if ((v = sb_meta_get(&o->meta, "created_at")) != NULL &&
	    sb_parse_i64(v, 0, INT64_MAX, &n) == SB_OK)
		b->created_at = n;
	if ((v = sb_meta_get(&o->meta, "sha256")) != NULL &&
	    strlen(v) == SB_SHA256_HEX)
		sb_strlcpy(b->sha256, v, sizeof(b->sha256));
	if (sb_meta_get(&o->meta, "sealed") != NULL) {
		rc = sb_engine_meta_unseal(e, &o->meta, b, why);
		*unread = rc == SB_ERR_KEY || rc == SB_ERR_CORRUPT;
		return *unread ? SB_OK : rc;
	}
	if ((v = sb_meta_get(&o->meta, "description")) != NULL &&
	    sb_is_description(v) && (b->description = strdup(v)) == NULL)
		return SB_ERR_NOMEM;
	return tags_parse(b, sb_meta_get(&o->meta, "tags"));
}

static int
is_same_record(const struct sb_backup *a, const struct sb_backup *b)
{
	if (a->status != b->status || a->size != b->size ||
	    a->stored_size != b->stored_size ||
	    strcmp(a->sha256, b->sha256) != 0 || a->type != b->type ||
	    a->created_at != b->created_at || a->ntags != b->ntags)
		return 0;
	if ((a->description == NULL) != (b->description == NULL) ||
	    (a->description && strcmp(a->description, b->description)))
		return 0;
	for (size_t i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i], b->tags[i]) != 0)
			return 0;
	return 1;
}

static int
cmp_name(const void *k, const void *o)
{
	return strcmp(k, ((const struct sb_object *)o)->name);
}

/*
 * How many completed records of recs have no object in objs; *completed
 * gets how many completed records there are.
 */
static size_t
count_missing(const struct sb_backup_list recs[SB_TYPE__MAX],
    const struct sb_object_list *objs, size_t *completed)
{
	size_t	n = 0;

	*completed = 0;
	for (int t = 0; t < SB_TYPE__MAX; t++)
		for (size_t i = 0; i < recs[t].n; i++) {
			const struct sb_backup *r = &recs[t].v[i];
			if (r->status != SB_STATUS_COMPLETED)
				continue;
			(*completed)++;
			if (r->location == NULL || bsearch(r->location,
			    objs->v, objs->n, sizeof(*objs->v),
			    cmp_name) == NULL)
				n++;
		}
	return n;
}

/*
 * Step 0 of reconcile: a listing that has lost most of the history is
 * more likely a wrong or half-mounted store than real losses: refuse
 * (SB_ERR_IDENTITY) before any change, unless the admin says so
 * (force).
 */
static enum sb_err
reconcile_guard(struct sb_engine *e, const struct sb_object_list *objs,
    int force)
{
	struct sb_backup_list	recs[SB_TYPE__MAX];
	size_t			nmissing, ncompleted;
	int			rc = SB_OK;

	memset(recs, 0, sizeof(recs));
	for (int t = 0; t < SB_TYPE__MAX; t++)
		if ((rc = sb_catalog_list_type(e->cat, (enum sb_type)t,
		    &recs[t])) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
	nmissing = count_missing(recs, objs, &ncompleted);
	if (!force && nmissing > SB_RECONCILE_MISSING_MIN &&
	    nmissing * 2 > ncompleted) {
		rc = fail(e, SB_ERR_IDENTITY, "reconcile refused: %zu of the "
		    "%zu completed backups have no object in the store (%zu "
		    "objects listed); nothing was changed. Check that this "
		    "is the right store and that it is fully mounted; if the "
		    "backups really are gone, run `backup-cron reconcile "
		    "--force`", nmissing, ncompleted, objs->n);
		sb_log(SB_LOG_ERROR, "reconcile.refused", "%s", e->err);
	}
out:
	for (int t = 0; t < SB_TYPE__MAX; t++)
		sb_backup_list_clear(&recs[t]);
	return rc;
}

/*
 * An encrypted object whose sealed description and tags cannot be read
 * (its key is not in the ring): said, never silently lost. It is logged
 * (reconcile.unreadable) and counted; the record keeps the description
 * and tags the catalog has (cur, or NULL), the other fields come from
 * the object.
 */
static enum sb_err
unreadable(struct sb_engine *e, const struct sb_object *o, const char *why,
    const struct sb_backup *cur, struct sb_backup *b,
    struct sb_reconcile_result *res)
{
	res->unreadable++;
	sb_logkv(SB_LOG_WARN, "reconcile.unreadable", (const char *[]){
	    "backup_id", b->id, "object", o->name, NULL }, "the description "
	    "and tags of %s cannot be read: %s%s", o->name, why, cur != NULL ?
	    "; the catalog's are kept" : "; recorded without them");
	if (cur == NULL)
		return SB_OK;
	if ((cur->description != NULL &&
	    (b->description = strdup(cur->description)) == NULL) ||
	    sb_backup_set_tags(b, (const char *const *)cur->tags,
	    cur->ntags) != SB_OK)
		return fail(e, SB_ERR_NOMEM, "reconcile: out of memory");
	return SB_OK;
}

/* Step 1: every stored backup has a record with the object's fields. */
static enum sb_err
reconcile_objects(struct sb_engine *e, const struct sb_object_list *objs,
    struct sb_reconcile_result *res)
{
	struct sb_backup	b, cur;
	char			why[SB_ERRMSG_MAX];
	int			rc = SB_OK, unread, found;

	memset(&b, 0, sizeof(b));
	memset(&cur, 0, sizeof(cur));
	for (size_t i = 0; i < objs->n; i++) {
		sb_backup_clear(&b);
		if ((rc = from_object(e, &objs->v[i], &b, &unread, why)) ==
		    SB_ERR_INVAL) {
			res->skipped++;
			rc = SB_OK;
			continue;
		} else if (rc != SB_OK)
			goto out;
		sb_backup_clear(&cur);
		rc = sb_catalog_get(e->cat, b.id, &cur);
		if (rc != SB_OK && rc != SB_ERR_NOTFOUND) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
		found = rc == SB_OK;
		if (unread && (rc = unreadable(e, &objs->v[i], why,
		    found ? &cur : NULL, &b, res)) != SB_OK)
			goto out;
		if (found && is_same_record(&cur, &b))
			continue;
		if (found)
			res->updated++;
		else
			res->added++;
		if ((rc = sb_catalog_upsert(e->cat, &b)) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
	}
	rc = SB_OK;
out:
	sb_backup_clear(&b);
	sb_backup_clear(&cur);
	return rc;
}

/* Step 2: every completed record has its object, or becomes failed. */
static enum sb_err
reconcile_missing(struct sb_engine *e, const struct sb_object_list *objs,
    struct sb_reconcile_result *res)
{
	struct sb_backup_list	recs;
	int			rc = SB_OK;

	memset(&recs, 0, sizeof(recs));
	for (int t = 0; t < SB_TYPE__MAX; t++) {
		if ((rc = sb_catalog_list_type(e->cat, (enum sb_type)t,
		    &recs)) != SB_OK) {
			fail(e, rc, "catalog: %s", sb_catalog_errmsg(e->cat));
			goto out;
		}
		for (size_t i = 0; i < recs.n; i++) {
			struct sb_backup *r = &recs.v[i];
			if (r->status != SB_STATUS_COMPLETED ||
			    (r->location != NULL && bsearch(r->location,
			    objs->v, objs->n, sizeof(*objs->v),
			    cmp_name) != NULL))
				continue;
			res->missing++;
			if ((rc = sb_catalog_fail(e->cat, r->id, sb_now_ms(),
			    "object missing from the store")) != SB_OK) {
				fail(e, rc, "catalog: %s",
				    sb_catalog_errmsg(e->cat));
				goto out;
			}
		}
	}
out:
	sb_backup_list_clear(&recs);
	return rc;
}

enum sb_err
sb_engine_reconcile(struct sb_engine *e, int force,
    struct sb_reconcile_result *res)
{
	struct sb_object_list	objs;
	int			rc;

	memset(res, 0, sizeof(*res));
	memset(&objs, 0, sizeof(objs));
	if ((rc = store_ready(e)) != SB_OK ||
	    (rc = sb_engine_lock_take(e)) != SB_OK)
		return rc;
	if ((rc = sb_store_list(e->store, "backup-", &objs)) != SB_OK) {
		fail(e, rc, "listing the store: %s", sb_store_errmsg(e->store));
		goto out;
	}
	if ((rc = reconcile_guard(e, &objs, force)) != SB_OK ||
	    (rc = reconcile_objects(e, &objs, res)) != SB_OK ||
	    (rc = reconcile_missing(e, &objs, res)) != SB_OK)
		goto out;
	sb_log(SB_LOG_INFO, "reconcile.done", "added %zu, updated %zu, "
	    "missing %zu, skipped %zu", res->added, res->updated,
	    res->missing, res->skipped);
	rc = SB_OK;
out:
	sb_engine_lock_drop(e);
	sb_object_list_clear(&objs);
	return rc;
}

enum sb_err
sb_engine_init(const struct sb_config *cfg, int force,
    struct sb_store_marker *out, int *created, char *err)
{
	struct sb_catalog	*cat = NULL;
	struct sb_store		*st = NULL;
	struct sb_store_marker	 m;
	char			 known[SB_UUID_LEN + 1] = "";
	char			 where[SB_ERRMSG_MAX];
	int			 rc;

	*created = 0;
	sb_store_describe(cfg, where, sizeof(where));
	if ((rc = sb_catalog_open(&cat, cfg->catalog_path, err)) != SB_OK)
		goto out;
	rc = sb_catalog_setting_get(cat, STORE_ID_KEY, known, sizeof(known));
	if (rc != SB_OK && rc != SB_ERR_NOTFOUND) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(cat));
		goto out;
	}
	if (rc == SB_ERR_NOTFOUND)
		known[0] = '\0';
	/*
	 * A catalog that belongs to a store whose marker is not here: most
	 * likely the volume is not mounted. Making a new store now would
	 * hide that, so it takes --force.
	 */
	if ((rc = sb_store_open(&st, cfg, err)) != SB_OK)
		goto out;
	if (known[0] != '\0' && !force) {
		struct sb_object	o;

		rc = sb_store_head(st, SB_MARKER_NAME, &o);
		sb_object_clear(&o);
		if (rc == SB_ERR_NOTFOUND) {
			rc = SB_ERR_IDENTITY;
			sb_seterr(err, "%s has no marker, but the catalog %s "
			    "belongs to store %s: if the volume is not mounted "
			    "(or the container was deleted), mount (restore) it; "
			    "to start a new, empty store for this catalog, run "
			    "`backup-cron init --force`", where,
			    cfg->catalog_path, known);
			goto out;
		}
	}
	if ((rc = sb_store_init(st, cfg, &m, created, err)) != SB_OK)
		goto out;
	if (known[0] != '\0' && strcmp(known, m.store_id) != 0 && !force) {
		rc = SB_ERR_IDENTITY;
		sb_seterr(err, "%s is store %s, but the catalog %s belongs to "
		    "store %s: is the right volume mounted? (`backup-cron init "
		    "--force` makes the catalog adopt this store)", where,
		    m.store_id, cfg->catalog_path, known);
		goto out;
	}
	if (strcmp(known, m.store_id) != 0 && (rc =
	    sb_catalog_setting_set(cat, STORE_ID_KEY, m.store_id,
	    sb_now_ms())) != SB_OK) {
		sb_seterr(err, "catalog: %s", sb_catalog_errmsg(cat));
		goto out;
	}
	sb_log(SB_LOG_INFO, "store.init", "%s: store %s of service %s%s",
	    where, m.store_id, m.service, *created ? " created" : " ready");
	if (out != NULL)
		*out = m;
	rc = SB_OK;
out:
	sb_store_free(&st);
	sb_catalog_close(&cat);
	return rc;
}

