/*
 * json.h - the JSON form of backups and restores, shared by backupd's
 * responses and backup-cron's --json output so both print the same thing,
 * and of the results only backup-cron prints (prune, verify, reconcile).
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
/*
 * Add member k = v to o: SB_OK, or SB_ERR_NOMEM (v released) on failure or
 * v == NULL (a failed allocation of v).
 */
enum sb_err		 sb_json_add(struct json_object *o, const char *k,
			    struct json_object *v);
struct json_object	*sb_restore_json(const struct sb_restore *);

/*
 * The results of backup-cron's prune, verify and reconcile, as its --json
 * prints them; new objects, NULL on allocation failure.
 *
 * prune: {dry_run, halted, halt_reason (null unless halted), clock_halt,
 * clock_confirmed (ISO 8601 or null), deleted, decisions: [{id, verdict
 * ("delete" or "keep"), reason}]}, the decisions of automatic backups only
 * (the plan also holds the manual ones, checked for the clock).
 */
struct sb_prune_result;
struct sb_reconcile_result;
struct json_object	*sb_prune_json(const struct sb_prune_result *,
			    int dry_run);
/* verify: {verified: id}. */
struct json_object	*sb_verify_json(const char *id);
/* reconcile: {added, updated, missing, skipped}. */
struct json_object	*sb_reconcile_json(const struct sb_reconcile_result *);

/*
 * GET /backups/status (docs/openapi.json, BackupsStatus): {health: {state,
 * reason, store_checked: false}, generated_at, last_success, last_failure
 * ({id, completed_at, type} or null), last_verified ({id, verified_at,
 * type} or null), next_automatic_expected_by, prune {state, halted,
 * reason, since}, counts and bytes ({manual|automatic: {pending,
 * completed, failed}}), store_kind, database_size}.
 */
struct sb_overview;
struct json_object	*sb_overview_json(const struct sb_overview *);

/*
 * Tags as the text of a JSON array of strings (the catalog's column, the
 * objects' "tags" metadata): malloc'd, the caller frees; NULL when out of
 * memory.
 */
char	*sb_tags_to_json(const char *const *tags, size_t n);

/*
 * Parse such text (len bytes) into b's tags. SB_ERR_INVAL when it is not
 * an array of at most SB_TAGS_MAX strings (with validate, each also
 * passing sb_is_tag); b is then unchanged. SB_ERR_NOMEM.
 */
enum sb_err	sb_tags_from_json(struct sb_backup *b, const char *txt,
		    size_t len, int validate);

#endif /* SB_JSON_H */
