/*
 * srcvfs.h - internal to snapshot*.c: an SQLite VFS for the source of a
 * snapshot, which remembers the last page 1 the connection read, so the
 * hasher's guess of the copy's page 1 is the page the copy itself reads
 * (https://sqlite.org/vfs.html).
 */
#ifndef SB_SRCVFS_H
#define SB_SRCVFS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* The name to give sqlite3_open_v2() as zVfs. */
#define SB_SRCVFS_NAME		"sb-source"

/*
 * Register the VFS with SQLite (once; not as the default). Returns an
 * SQLite result code.
 */
int	sb_srcvfs_register(void);

/*
 * Copy into out (cap bytes) the page 1 of "main" that db, opened with
 * this VFS, read last, from the database file or from its -wal file.
 * Returns its size (the page size its header names), or 0 if db read no
 * whole page 1 or it does not fit. Call it on db's thread.
 */
size_t	sb_srcvfs_page1(sqlite3 *db, unsigned char *out, size_t cap);

/*
 * The page size a database header (its first 18 bytes at least) names:
 * bytes 16-17, big-endian, 1 meaning 65536
 * (https://sqlite.org/fileformat2.html#the_database_header). Not checked.
 */
size_t	sb_header_page_size(const unsigned char *hdr);

/* A big-endian 32-bit field of a database, WAL or frame header at p. */
uint32_t	sb_header_be32(const unsigned char *p);

/*
 * The page count a database header (its first 100 bytes) holds (bytes
 * 28-31), or 0 when that count is not valid: its change counter (24-27)
 * is not its version-valid-for (92-95), as an older SQLite leaves them
 * (https://sqlite.org/fileformat2.html#in_header_database_size).
 */
uint32_t	sb_header_pages(const unsigned char *hdr);

#endif /* SB_SRCVFS_H */
