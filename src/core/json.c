/*
 * json.c - backups and restores as JSON (see json.h and docs/openapi).
 */
#include <string.h>

#include "json.h"

static struct json_object *
str_or_null(const char *s)
{
	return s == NULL || *s == '\0' ? NULL : json_object_new_string(s);
}

static struct json_object *
time_or_null(int64_t ms)
{
	char	buf[40];

	if (ms <= 0 || sb_time_format(ms, buf, sizeof(buf)) != SB_OK)
		return NULL;
	return json_object_new_string(buf);
}

struct json_object *
sb_backup_json(const struct sb_backup *b)
{
	struct json_object	*o, *tags;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((tags = json_object_new_array()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	for (size_t i = 0; i < b->ntags; i++)
		json_object_array_add(tags, json_object_new_string(b->tags[i]));
	json_object_object_add(o, "id", json_object_new_string(b->id));
	json_object_object_add(o, "type",
	    json_object_new_string(sb_type_str(b->type)));
	json_object_object_add(o, "status",
	    json_object_new_string(sb_status_str(b->status)));
	json_object_object_add(o, "created_at", time_or_null(b->created_at));
	json_object_object_add(o, "completed_at",
	    time_or_null(b->completed_at));
	json_object_object_add(o, "size",
	    b->size < 0 ? NULL : json_object_new_int64(b->size));
	json_object_object_add(o, "sha256", str_or_null(b->sha256));
	json_object_object_add(o, "location", str_or_null(b->location));
	json_object_object_add(o, "description", str_or_null(b->description));
	json_object_object_add(o, "tags", tags);
	json_object_object_add(o, "error", str_or_null(b->error));
	return o;
}

struct json_object *
sb_restore_json(const struct sb_restore *r)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "backup_id",
	    json_object_new_string(r->backup_id));
	json_object_object_add(o, "safety_backup_id",
	    str_or_null(r->safety_backup_id));
	json_object_object_add(o, "status",
	    json_object_new_string(sb_status_str(r->status)));
	json_object_object_add(o, "started_at", time_or_null(r->started_at));
	json_object_object_add(o, "finished_at", time_or_null(r->finished_at));
	json_object_object_add(o, "error", str_or_null(r->error));
	return o;
}
