/*
 * json.c - backups and restores as JSON (see json.h and docs/openapi.json).
 * Every allocation is checked: a NULL answer means out of memory.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "engine.h"
#include "json.h"
#include "status.h"

enum sb_err
sb_json_add(json_object *o, const char *k, json_object *v)
{
	/* json_object_object_add takes v even on failure in json-c >= 0.13. */
	if (v == NULL)
		return SB_ERR_NOMEM;
	return json_object_object_add(o, k, v) == 0 ? SB_OK : SB_ERR_NOMEM;
}

static json_object *
jstr_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

/*
 * JSON null is a NULL member in json-c. When isnull, v (possibly built
 * anyway by the caller's argument list) is released.
 */
static enum sb_err
add_opt(json_object *o, const char *k, json_object *v, int isnull)
{
	if (isnull) {
		json_object_put(v);
		return json_object_object_add(o, k, NULL) == 0 ? SB_OK :
		    SB_ERR_NOMEM;
	}
	return sb_json_add(o, k, v);
}

static enum sb_err
add_time(json_object *o, const char *k, int64_t ms)
{
	char	buf[40];

	if (ms <= 0 || sb_time_format(ms, buf, sizeof(buf)) != SB_OK)
		return add_opt(o, k, NULL, 1);
	return sb_json_add(o, k, json_object_new_string(buf));
}

/* o when every member went in, else NULL (o released). */
static json_object *
built(json_object *o, int failed)
{
	if (!failed)
		return o;
	json_object_put(o);
	return NULL;
}

json_object *
sb_backup_json(const struct sb_backup *b)
{
	json_object	*o, *tags;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (sb_json_add(o, "id", json_object_new_string(b->id)) ||
	    sb_json_add(o, "type", json_object_new_string(sb_type_str(b->type))) ||
	    sb_json_add(o, "status", json_object_new_string(
	    sb_status_str(b->status))) ||
	    add_time(o, "created_at", b->created_at) ||
	    add_time(o, "completed_at", b->completed_at) ||
	    add_opt(o, "size", json_object_new_int64(b->size), b->size < 0) ||
	    add_opt(o, "sha256", json_object_new_string(b->sha256),
	    b->sha256[0] == '\0') ||
	    add_opt(o, "stored_size", json_object_new_int64(b->stored_size),
	    b->stored_size < 0) ||
	    add_opt(o, "location", jstr_or_null(b->location),
	    b->location == NULL) ||
	    add_opt(o, "description", jstr_or_null(b->description),
	    b->description == NULL) ||
	    add_opt(o, "error", jstr_or_null(b->error), b->error == NULL) ||
	    add_time(o, "verified_at", b->verified_at) ||
	    add_opt(o, "verify_status", jstr_or_null(sb_verify_str(
	    b->verify_status)), b->verify_status == SB_VERIFY_NONE) ||
	    add_opt(o, "verify_detail", jstr_or_null(b->verify_detail),
	    b->verify_detail == NULL))
		goto fail;
	if ((tags = json_object_new_array()) == NULL ||
	    sb_json_add(o, "tags", tags) != 0)
		goto fail;
	for (size_t i = 0; i < b->ntags; i++) {
		json_object *t = json_object_new_string(b->tags[i]);
		if (t == NULL || json_object_array_add(tags, t) != 0) {
			json_object_put(t);
			goto fail;
		}
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

json_object *
sb_restore_json(const struct sb_restore *r)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, sb_json_add(o, "id", json_object_new_string(r->id)) ||
	    sb_json_add(o, "backup_id",
	    json_object_new_string(r->backup_id)) ||
	    add_opt(o, "safety_backup_id",
	    json_object_new_string(r->safety_backup_id),
	    r->safety_backup_id[0] == '\0') ||
	    sb_json_add(o, "status", json_object_new_string(
	    sb_status_str(r->status))) ||
	    add_time(o, "started_at", r->started_at) ||
	    add_time(o, "finished_at", r->finished_at) ||
	    add_opt(o, "error", jstr_or_null(r->error), r->error == NULL));
}

/* One decision of a prune plan: {id, verdict, reason}. */
static json_object *
decision_json(const struct sb_decision *d)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, sb_json_add(o, "id",
	    json_object_new_string(d->backup->id)) ||
	    sb_json_add(o, "verdict", json_object_new_string(
	    d->verdict == SB_DELETE ? "delete" : "keep")) ||
	    sb_json_add(o, "reason", json_object_new_string(d->reason)));
}

/* The decisions on automatic backups, in the plan's order. */
static json_object *
decisions_json(const struct sb_retention_plan *plan)
{
	json_object	*a, *d;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->v[i].backup->type != SB_TYPE_AUTOMATIC)
			continue;
		if ((d = decision_json(&plan->v[i])) == NULL ||
		    json_object_array_add(a, d) != 0) {
			json_object_put(d);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* A count as a JSON integer (counts fit: they number catalog records). */
static enum sb_err
add_count(json_object *o, const char *k, size_t n)
{
	return sb_json_add(o, k, json_object_new_int64((int64_t)n));
}

json_object *
sb_prune_json(const struct sb_prune_result *p, int dry_run)
{
	const struct sb_retention_plan	*plan = &p->plan;
	json_object			*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, sb_json_add(o, "dry_run",
	    json_object_new_boolean(dry_run)) ||
	    sb_json_add(o, "halted", json_object_new_boolean(plan->halted)) ||
	    add_opt(o, "halt_reason", plan->halted ?
	    json_object_new_string(plan->halt_reason) : NULL,
	    !plan->halted) ||
	    sb_json_add(o, "clock_halt",
	    json_object_new_boolean(plan->clock_halt)) ||
	    add_time(o, "clock_confirmed", p->clock_confirmed) ||
	    add_count(o, "deleted", p->deleted) ||
	    sb_json_add(o, "decisions", decisions_json(plan)));
}

json_object *
sb_verify_json(const char *id)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, sb_json_add(o, "verified", json_object_new_string(id)));
}

json_object *
sb_reconcile_json(const struct sb_reconcile_result *r)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, add_count(o, "added", r->added) ||
	    add_count(o, "updated", r->updated) ||
	    add_count(o, "missing", r->missing) ||
	    add_count(o, "skipped", r->skipped) ||
	    add_count(o, "unreadable", r->unreadable));
}

char *
sb_tags_to_json(const char *const *tags, size_t n)
{
	struct json_object	*a = NULL, *s;
	const char		*txt;
	char			*ret = NULL;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((s = json_object_new_string(tags[i])) == NULL)
			goto out;
		if (json_object_array_add(a, s) != 0) {
			json_object_put(s);
			goto out;
		}
	}
	txt = json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (txt != NULL)
		ret = strdup(txt);
out:
	json_object_put(a);
	return ret;
}

enum sb_err
sb_tags_from_json(struct sb_backup *b, const char *txt, size_t len,
    int validate)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*a = NULL, *e;
	const char		*v[SB_TAGS_MAX];
	size_t			 n, i;
	enum sb_err		 ret = SB_ERR_INVAL;

	if (len > INT_MAX)
		return SB_ERR_INVAL;
	if ((tok = json_tokener_new()) == NULL)
		return SB_ERR_NOMEM;
	a = json_tokener_parse_ex(tok, txt, (int)len);
	if (a == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) > SB_TAGS_MAX)
		goto out;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string))
			goto out;
		v[i] = json_object_get_string(e);
		if (validate && !sb_is_tag(v[i]))
			goto out;
	}
	ret = sb_backup_set_tags(b, v, n);
out:
	json_object_put(a);
	json_tokener_free(tok);
	return ret;
}

/* {id, <k>, type} of ev, or null when there is none. */
static enum sb_err
add_event(json_object *o, const char *name, const char *k,
    const struct sb_catalog_event *ev)
{
	json_object	*v;

	if (ev->id[0] == '\0')
		return add_opt(o, name, NULL, 1);
	if ((v = json_object_new_object()) == NULL)
		return SB_ERR_NOMEM;
	if (sb_json_add(v, "id", json_object_new_string(ev->id)) ||
	    add_time(v, k, ev->at) ||
	    sb_json_add(v, "type", json_object_new_string(
	    sb_type_str(ev->type)))) {
		json_object_put(v);
		return SB_ERR_NOMEM;
	}
	return sb_json_add(o, name, v);
}

/* {manual: {pending, completed, failed}, automatic: {...}} of v. */
static json_object *
by_type_json(const int64_t v[SB_TYPE__MAX][SB_STATUS__MAX])
{
	json_object	*o, *t;
	int		 failed = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (int i = 0; i < SB_TYPE__MAX && !failed; i++) {
		if ((t = json_object_new_object()) == NULL) {
			failed = 1;
			break;
		}
		for (int s = 0; s < SB_STATUS__MAX && !failed; s++)
			failed = sb_json_add(t, sb_status_str((enum sb_status)s),
			    json_object_new_int64(v[i][s])) != SB_OK;
		if (failed)
			json_object_put(t);
		else
			failed = sb_json_add(o, sb_type_str((enum sb_type)i),
			    t) != SB_OK;
	}
	return built(o, failed);
}

/* The prune state: {state, reason, since}, nulls when never pruned. */
static json_object *
prune_state_json(const struct sb_overview *s)
{
	json_object	*o;
	int		 none = s->prune_state[0] == '\0';

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	return built(o, add_opt(o, "state", json_object_new_string(
	    s->prune_state), none) ||
	    sb_json_add(o, "halted", json_object_new_boolean(
	    sb_is_prune_halted(s))) ||
	    add_opt(o, "reason", json_object_new_string(s->prune_reason),
	    none || s->prune_reason[0] == '\0') ||
	    add_time(o, "since", s->prune_since));
}

json_object *
sb_overview_json(const struct sb_overview *s)
{
	json_object	*o, *h;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((h = json_object_new_object()) != NULL && (sb_json_add(h, "state",
	    json_object_new_string(sb_health_str(s->health))) ||
	    sb_json_add(h, "reason", json_object_new_string(s->reason)) ||
	    sb_json_add(h, "store_checked", json_object_new_boolean(0)))) {
		json_object_put(h);
		h = NULL;
	}
	return built(o, sb_json_add(o, "health", h) ||
	    add_time(o, "generated_at", s->now) ||
	    add_event(o, "last_success", "completed_at", &s->t.last_success) ||
	    add_event(o, "last_failure", "completed_at", &s->t.last_failure) ||
	    add_event(o, "last_verified", "verified_at", &s->t.verified) ||
	    add_time(o, "next_automatic_expected_by", s->expected_by) ||
	    sb_json_add(o, "prune", prune_state_json(s)) ||
	    sb_json_add(o, "counts", by_type_json(s->t.count)) ||
	    sb_json_add(o, "bytes", by_type_json(s->t.bytes)) ||
	    sb_json_add(o, "store_kind", json_object_new_string(
	    s->store_kind)) ||
	    add_opt(o, "database_size", json_object_new_int64(s->db_size),
	    s->db_size < 0));
}
