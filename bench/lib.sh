# bench/lib.sh - what the benchmarks share. Sourced, not run.

# bench_make_db PATH SIZE_MB: a WAL-mode SQLite database of about SIZE_MB
# (4 KiB rows of random bytes, one index), checkpointed so it is one file.
bench_make_db() {
	local rows=$(( $2 * 1024 / 4 ))
	echo "generating a $2 MB database (WAL mode, 4 KiB pages)..."
	sqlite3 "$1" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE events(id INTEGER PRIMARY KEY, at INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO events(at, payload) SELECT i, randomblob(4000) FROM n;
CREATE INDEX events_at ON events(at);
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}
