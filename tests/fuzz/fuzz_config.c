/*
 * fuzz_config.c - libFuzzer harness for the configuration parser
 * (config.c over inih): any file either loads into a config that passes
 * its own checks, or fails with a message; never a crash or a leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 path[64];
	struct sb_config	*cfg = NULL;
	char			 err[SB_ERRMSG_MAX];
	FILE			*f;
	int			 rc;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/sb-fuzz-config.%ld.conf",
		    (long)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	err[0] = '\0';
	rc = sb_config_load(path, &cfg, err);
	if (rc == SB_OK) {
		if (cfg == NULL || sb_config_check(cfg, err) != SB_OK)
			abort();
	} else if (cfg != NULL || err[0] == '\0')
		abort();
	sb_config_free(&cfg);
	return 0;
}
