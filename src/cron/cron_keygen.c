/*
 * cron_keygen.c - `backup-cron keygen [ID]`: a new store encryption key
 * line, "ID BASE64", on stdout, from libsodium's randombytes_buf (the
 * kernel's CSPRNG). It needs no configuration: the key goes into the
 * file [store] key_file names (docs/OPERATIONS.md, "Encryption keys").
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"

#include "cron.h"

int
cmd_keygen(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	char	line[SB_KEY_LINE_MAX + 1];
	int	i, rc;

	(void)x;
	if ((i = cron_parse_opts(cron_cmd_find("keygen"), argc, argv, ":h",
	    lo, NULL, NULL)) < 0)
		return i == -1 ? EX_OKAY : EX_USAGE;
	if (argc - i > 1) {
		fprintf(stderr, "backup-cron keygen: one key id at most\n");
		return EX_USAGE;
	}
	if (sb_keyring_keygen(argc - i == 1 ? argv[i] : NULL, line,
	    sizeof(line)) != SB_OK) {
		fprintf(stderr, "backup-cron keygen: '%s': not a key id (1 to "
		    "%d of A-Z a-z 0-9 . _ -)\n", argc - i == 1 ? argv[i] : "",
		    SB_KEY_ID_MAX);
		return EX_USAGE;
	}
	rc = fputs(line, stdout) == EOF || fflush(stdout) != 0 ? EX_FAIL :
	    EX_OKAY;
	sodium_memzero(line, sizeof(line));
	if (rc != EX_OKAY)
		perror("backup-cron keygen: stdout");
	return rc;
}
