/*
 * json.h - the JSON form of backups and restores, shared by backupd's
 * responses and backup-cron's --json output so both print the same thing.
 */
#ifndef SB_JSON_H
#define SB_JSON_H

#include <json-c/json.h>

#include "sb.h"

/*
 * New json-c objects (caller releases with json_object_put), NULL on
 * allocation failure. Times are ISO 8601 UTC strings; absent values
 * (completed_at 0, size -1, sha256 "") are null.
 */
struct json_object	*sb_backup_json(const struct sb_backup *);
/* Add member k = v to o; 0, or -1 (v released) on failure or v == NULL. */
int			 sb_json_add(struct json_object *o, const char *k,
			    struct json_object *v);
struct json_object	*sb_restore_json(const struct sb_restore *);

#endif /* SB_JSON_H */
