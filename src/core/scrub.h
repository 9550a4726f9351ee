/*
 * scrub.h - failure messages fit for a browser: the server's file-system
 * paths taken out. The engine's messages name the files they are about
 * (the log and the command line keep them whole); what backupd sends to
 * a client (records' error and verify_detail, error bodies' message)
 * goes through sb_scrub_paths first.
 */
#ifndef SB_SCRUB_H
#define SB_SCRUB_H

#include <stddef.h>

/*
 * Copy in to out (len bytes, always NUL-terminated when len > 0, cut
 * short if it does not fit) with every absolute path replaced by its
 * base name: "/var/lib/app/live.db: disk full" -> "live.db: disk full".
 * A path starts with '/' at the start of the text or after a space, a
 * quote, a bracket, '=', ':' or ','; it runs over letters, digits, any
 * non-ASCII byte, '/' and "._~+@%-", without the dots that end a
 * sentence. URLs ("scheme://host/path") are left as they are; a path
 * with no base name ("/..") becomes "(path)". Returns the length
 * written, without the NUL.
 */
size_t	sb_scrub_paths(const char *in, char *out, size_t len);

#endif /* SB_SCRUB_H */
