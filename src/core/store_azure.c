/* store_azure.c - Azure Blob Storage store: being written (issue 3). */
#include "config.h"
#include "store.h"

int
sb_store_azure_open(struct sb_store **out, const struct sb_config *cfg,
    char *err)
{
	(void)cfg;
	*out = NULL;
	sb_seterr(err, "store kind azure is not built into this version");
	return SB_ERR_CONFIG;
}
