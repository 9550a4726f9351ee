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

# --- Azurite (npm, tests/azure) ------------------------------------------------
# The Azurite development key: public, documented; for the benches only.
BENCH_AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
BENCH_AZ_PID=

# bench_port: a free TCP port on 127.0.0.1.
bench_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# bench_azurite_start DIR PORT: a fresh Azurite (DIR emptied first) on
# PORT, its log in DIR.log; BENCH_AZ_PID is its pid. Exits if it does not
# answer within 30 s.
bench_azurite_start() {
	local az=$ROOT/tests/azure
	[ -d "$az/node_modules" ] || (cd "$az" && npm ci --silent --no-audit --no-fund)
	rm -rf "$1"
	mkdir -p "$1"
	"$az/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
	    --blobPort "$2" --location "$1" --skipApiVersionCheck \
	    --loose --silent --disableTelemetry >>"$1.log" 2>&1 &
	BENCH_AZ_PID=$!
	for _ in $(seq 150); do
		curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
		sleep 0.2
	done
	echo "bench: Azurite did not start on port $2" >&2
	exit 1
}

# bench_azurite_stop: stop the Azurite bench_azurite_start started, if any.
bench_azurite_stop() {
	[ -n "$BENCH_AZ_PID" ] && kill "$BENCH_AZ_PID" 2>/dev/null &&
		wait "$BENCH_AZ_PID" 2>/dev/null
	BENCH_AZ_PID=
}

# bench_make_textdb PATH SIZE_MB: a WAL-mode SQLite database of about
# SIZE_MB that looks like a web service's: users, orders and messages,
# text-heavy rows with secondary indexes, sentences made of English words
# drawn with a skew (common words often, rare words seldom), numbers and
# dates as a service stores them. Not random blobs: what a real database
# compresses like. Deterministic in shape, not in content (random()).
bench_make_textdb() {
	local msgs=$(( $2 * 1024 * 1024 / 650 ))
	local users=$(( msgs / 20 + 100 )) orders=$(( msgs / 4 + 100 ))
	echo "generating a $2 MB text database (users, orders, messages; WAL)..."
	sqlite3 "$1" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
CREATE TEMP TABLE words(id INTEGER PRIMARY KEY, w TEXT);
INSERT INTO words(w) SELECT value FROM json_each('["the","of","and","to","a","in","is","you","that","it","he","was","for","on","are","as","with","his","they","I","at","be","this","have","from","or","one","had","by","word","but","not","what","all","were","we","when","your","can","said","there","use","an","each","which","she","do","how","their","if","will","up","other","about","out","many","then","them","these","so","some","her","would","make","like","him","into","time","has","look","two","more","write","go","see","number","no","way","could","people","my","than","first","water","been","call","who","oil","its","now","find","long","down","day","did","get","come","made","may","part","order","delivery","package","refund","invoice","address","street","shipping","payment","card","account","password","thanks","please","hello","question","problem","arrived","yesterday","tomorrow","morning","evening","customer","support","product","size","colour","blue","green","black","small","large","return","exchange","tracking","courier","warehouse","discount","coupon","newsletter","subscription","monthly","annual","price","total","tax","receipt","bank","transfer","delay","sorry","great","quality","broken","replacement","manual","instructions","battery","charger","cable","screen","keyboard","garden","kitchen","chair","table","lamp","book","shirt","shoes","jacket","gift","birthday","christmas","weekend","holiday","office","school","station","airport","hotel","restaurant","coffee","tea","bread","cheese","apple","orange","summer","winter","spring","autumn","Berlin","Paris","London","Madrid","Vienna","Zurich","Lisbon","Dublin","Oslo","Prague"]');
CREATE TEMP TABLE sentences(id INTEGER PRIMARY KEY, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000),
sent(id, k, len, txt) AS (
  SELECT i, 1, 6 + abs(random()) % 14,
    (SELECT upper(substr(w, 1, 1)) || substr(w, 2) FROM words WHERE id = 1 + (abs(random()) + i * 0) % 200)
  FROM n
  UNION ALL
  SELECT id, k + 1, len, txt || ' ' || (SELECT w FROM words
    WHERE id = 1 + ((abs(random()) % 200) * (abs(random()) % 200) + k * 0) / 200)
  FROM sent WHERE k < len)
INSERT INTO sentences SELECT id, txt || CASE abs(random()) % 6 WHEN 0 THEN '?' WHEN 1 THEN '!' ELSE '.' END
  FROM sent WHERE k = len;
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, city TEXT, created_at TEXT NOT NULL, bio TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL
  REFERENCES users(id), status TEXT NOT NULL, total_cents INTEGER NOT NULL,
  created_at TEXT NOT NULL, shipping_address TEXT NOT NULL, note TEXT);
CREATE TABLE messages(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL
  REFERENCES users(id), order_id INTEGER REFERENCES orders(id),
  sent_at TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $users)
INSERT INTO users SELECT i,
  'user' || i || '@' || (SELECT w FROM words WHERE id = 100 + (abs(random()) + i * 0) % 100) || '.example',
  (SELECT upper(substr(w, 1, 1)) || substr(w, 2) FROM words WHERE id = 100 + (abs(random()) + i * 0) % 100) || ' ' ||
  (SELECT upper(substr(w, 1, 1)) || substr(w, 2) FROM words WHERE id = 100 + (abs(random()) + i * 0) % 100),
  (SELECT w FROM words WHERE id = 191 + (abs(random()) + i * 0) % 10),
  strftime('%Y-%m-%dT%H:%M:%SZ', 1600000000 + abs(random()) % 100000000, 'unixepoch'),
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 0) % 40000)
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $orders)
INSERT INTO orders SELECT i, 1 + abs(random()) % $users,
  CASE abs(random()) % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'shipped' WHEN 2 THEN 'refunded' ELSE 'delivered' END,
  100 + abs(random()) % 50000,
  strftime('%Y-%m-%dT%H:%M:%SZ', 1650000000 + abs(random()) % 60000000, 'unixepoch'),
  (abs(random()) % 300) || ' ' || (SELECT upper(substr(w, 1, 1)) || substr(w, 2) FROM words WHERE id = 100 + (abs(random()) + i * 0) % 100)
    || ' Street, ' || (10000 + abs(random()) % 89999) || ' ' || (SELECT w FROM words WHERE id = 191 + (abs(random()) + i * 0) % 10),
  CASE WHEN abs(random()) % 3 = 0 THEN (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 0) % 40000) END
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $msgs)
INSERT INTO messages SELECT i, 1 + abs(random()) % $users,
  CASE WHEN abs(random()) % 4 > 0 THEN 1 + abs(random()) % $orders END,
  strftime('%Y-%m-%dT%H:%M:%SZ', 1650000000 + abs(random()) % 60000000, 'unixepoch'),
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 0) % 40000),
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 0) % 40000) || ' ' ||
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 1) % 40000) || ' ' ||
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 2) % 40000) || ' ' ||
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 3) % 40000) || ' ' ||
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 4) % 40000) || ' ' ||
  (SELECT s FROM sentences WHERE id = 1 + (abs(random()) + i * 5) % 40000)
FROM n;
CREATE INDEX orders_user ON orders(user_id, created_at);
CREATE INDEX orders_status ON orders(status, created_at);
CREATE INDEX messages_user ON messages(user_id, sent_at);
CREATE INDEX messages_order ON messages(order_id);
CREATE INDEX messages_subject ON messages(subject);
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}
