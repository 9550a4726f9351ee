/*
 * config_check.c - the rules across keys of a loaded configuration
 * (sb_config_check, see config.h): apart from config.c, which reads the
 * file, so that each stays a readable size.
 */
#include <stddef.h>

#include "azure.h"
#include "config.h"

/* Whether a connection string names the account or the endpoint. */
static int
is_connstr_locating(const char *s)
{
	struct az_connstr	cs;
	char			msg[SB_ERRMSG_MAX];
	int			yes;

	if (s == NULL || az_connstr_parse(s, &cs, msg) != SB_OK)
		return 0;
	yes = cs.account != NULL || cs.endpoint != NULL;
	az_connstr_clear(&cs);
	return yes;
}

/*
 * The keyring parses, holds [store] key_id, and has a key when
 * encryption is asked for: never plaintext by accident (sb_keyring_load
 * says what to do otherwise).
 */
static enum sb_err
check_keys(const struct sb_config *cfg, const char *f, char *err)
{
	struct sb_keyring	*ring = NULL;
	char			 msg[SB_ERRMSG_MAX];
	enum sb_err		 rc;

	if ((rc = sb_keyring_load(cfg, &ring, msg)) != SB_OK) {
		sb_seterr(err, "%s: %s", f, msg);
		return rc;
	}
	sb_keyring_free(&ring);
	return SB_OK;
}

/*
 * The rules across keys: the paths every command needs, what the chosen
 * store needs, and retention windows that make sense together. Returns
 * SB_OK or SB_ERR_CONFIG with the reason in err.
 */
enum sb_err
sb_config_check(const struct sb_config *cfg, char *err)
{
	const char	*f;

	if (cfg == NULL) {
		sb_seterr(err, "no configuration");
		return SB_ERR_CONFIG;
	}
	f = cfg->path != NULL ? cfg->path : "configuration";
	if (cfg->source_path == NULL) {
		sb_seterr(err, "%s: [source] path: required (the SQLite "
		    "database to back up; or set SAFBACKUP_SOURCE_PATH)", f);
		return SB_ERR_CONFIG;
	}
	if (cfg->catalog_path == NULL) {
		sb_seterr(err, "%s: [catalog] path: required (the backup "
		    "catalog database; or set SAFBACKUP_CATALOG_PATH)", f);
		return SB_ERR_CONFIG;
	}
	if (cfg->temp_dir == NULL) {
		sb_seterr(err, "%s: [core] temp_dir: required", f);
		return SB_ERR_CONFIG;
	}
	if (cfg->ret_weekly_days < cfg->ret_daily_days) {
		sb_seterr(err, "%s: [retention] weekly_days: must be at least "
		    "daily_days (%u < %u)", f, cfg->ret_weekly_days,
		    cfg->ret_daily_days);
		return SB_ERR_CONFIG;
	}
	/* A gap the admin's own recent_hours allows is no clock jump. */
	if (cfg->ret_max_gap_hours < cfg->ret_recent_hours) {
		sb_seterr(err, "%s: [retention] max_gap_hours: must be at "
		    "least recent_hours (%u < %u)", f, cfg->ret_max_gap_hours,
		    cfg->ret_recent_hours);
		return SB_ERR_CONFIG;
	}
	switch (cfg->store_kind) {
	case SB_STORE_DISK:
		if (cfg->disk_root == NULL) {
			sb_seterr(err, "%s: [disk] root: required when [store] "
			    "kind = disk (the directory backups go to)", f);
			return SB_ERR_CONFIG;
		}
		break;
	case SB_STORE_AZURE:
		if (cfg->az_account == NULL && cfg->az_endpoint == NULL &&
		    !is_connstr_locating(cfg->az_connstr)) {
			sb_seterr(err, "%s: [azure] account: required when "
			    "[store] kind = azure (or a connection string that "
			    "names it)", f);
			return SB_ERR_CONFIG;
		}
		if (cfg->az_container == NULL) {
			sb_seterr(err, "%s: [azure] container: required when "
			    "[store] kind = azure", f);
			return SB_ERR_CONFIG;
		}
		if (cfg->az_key == NULL && cfg->az_sas == NULL &&
		    cfg->az_connstr == NULL) {
			sb_seterr(err, "%s: [azure] key_file: no credentials: "
			    "set SAFBACKUP_AZURE_KEY, SAFBACKUP_AZURE_SAS or "
			    "SAFBACKUP_AZURE_CONNECTION_STRING, or key_file, "
			    "sas_file or connection_string_file", f);
			return SB_ERR_CONFIG;
		}
		break;
	default:
		sb_seterr(err, "%s: [store] kind: must be disk or azure", f);
		return SB_ERR_CONFIG;
	}
	return check_keys(cfg, f, err);
}
