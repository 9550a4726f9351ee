#!/usr/bin/env bash
# Black-box tests of `backup-cron metrics [--textfile PATH]` with the real
# backup-cron on a real SQLite database and the disk store:
#
#  - stdout is the Prometheus text format, read by a real parser
#    (parse-prometheus-text-format, tests/integration/http's lockfile),
#    with the counts `list` gives;
#  - --textfile writes PATH whole: mode 0644, no temp file left, an
#    existing file replaced by rename (a new inode), not rewritten;
#  - a missing directory or a directory that is a file: a clear error,
#    exit non-zero, nothing left behind; a bad argument: exit 2.
#
#   BUILD_DIR=build bash tests/integration/cron/metrics.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../lib/cron.sh
. "$ROOT/tests/lib/cron.sh"

NM=$ROOT/tests/integration/http
if [ ! -d "$NM/node_modules/parse-prometheus-text-format" ] ||
   [ "$NM/package-lock.json" -nt "$NM/node_modules/.package-lock.json" ]; then
	(cd "$NM" && npm ci --no-audit --no-fund --loglevel=error) ||
		{ echo "npm ci in tests/integration/http failed" >&2; exit 1; }
fi
# prom EXPR: parse stdin; EXPR sees v(name, labels) -> the sample's value.
prom() {
	node -e '
		const parse = require(process.argv[1]);
		const fams = parse(require("fs").readFileSync(0, "utf8"));
		const v = (name, labels = {}) => {
			const f = fams.find((x) => x.name === name);
			if (!f) return "absent";
			const m = f.metrics.find((s) => Object.entries(labels).every(([k, w]) => (s.labels || {})[k] === w));
			return m ? Number(m.value) : "absent";
		};
		console.log(eval(process.argv[2]));' "$NM/node_modules/parse-prometheus-text-format" "$1"
}

D=$W/m
mkdir -p "$D"
write_config "$D" 2>/dev/null
sqlite3 "$D/app.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
bc backup --type manual >/dev/null 2>&1
bc backup --type manual >/dev/null 2>&1
bc backup --type automatic >/dev/null 2>&1
nman=$(bc --json list --type manual --status completed | json 'o.length')
expect_eq "two manual backups listed" "$nman" 2

out=$(bc metrics 2>"$D/err"); rc=$?
expect_eq "stdout: exit 0" "$rc" 0
expect_eq "stdout: manual completed as listed" \
	"$(prom 'v("safbackup_backups", {type: "manual", status: "completed"})' <<<"$out")" "$nman"
expect_eq "stdout: automatic completed" \
	"$(prom 'v("safbackup_backups", {type: "automatic", status: "completed"})' <<<"$out")" 1
expect_eq "stdout: no failure yet: 0" \
	"$(prom 'v("safbackup_last_failure_timestamp_seconds")' <<<"$out")" 0
last=$(bc --json list --limit 1 | json 'Date.parse(o[0].completed_at) / 1000')
expect_eq "stdout: last success is the newest backup's completion" \
	"$(prom 'v("safbackup_last_success_timestamp_seconds")' <<<"$out")" "$last"
expect_eq "stdout: prune not halted" "$(prom 'v("safbackup_prune_halted")' <<<"$out")" 0
expect_eq "stdout: no restore: its duration left out" \
	"$(prom 'v("safbackup_last_restore_duration_seconds")' <<<"$out")" absent

P=$D/prom/safbackup.prom
mkdir -p "$D/prom"
expect_exit "textfile: exit 0" 0 bc metrics --textfile "$P"
expect_eq "textfile: the same as stdout" "$(cat "$P")" "$out"
expect_eq "textfile: mode 0644" "$(stat -c %a "$P")" 644
expect_eq "textfile: only the file in its directory" "$(ls -A "$D/prom")" safbackup.prom
printf 'stale\n' >"$P.old"
mv "$P.old" "$P"
chmod 600 "$P"
ino=$(stat -c %i "$P")
bc backup --type manual >/dev/null 2>&1
expect_exit "textfile: again over an existing file" 0 bc metrics --textfile "$P"
check "textfile: replaced by rename (a new inode)" test "$(stat -c %i "$P")" != "$ino"
expect_eq "textfile: mode 0644 again" "$(stat -c %a "$P")" 644
expect_eq "textfile: the new count" \
	"$(prom 'v("safbackup_backups", {type: "manual", status: "completed"})' <"$P")" 3
expect_eq "textfile: no temp file left" "$(ls -A "$D/prom")" safbackup.prom

err=$(bc metrics --textfile "$D/nodir/x.prom" 2>&1); rc=$?
expect_eq "missing directory: exit 1" "$rc" 1
expect_match "missing directory: says where and why" "$err" "cannot create a file in .*/nodir: No such file or directory"
touch "$D/afile"
err=$(bc metrics --textfile "$D/afile/x.prom" 2>&1); rc=$?
expect_eq "a file as directory: exit 1" "$rc" 1
expect_match "a file as directory: says why" "$err" "Not a directory"
expect_exit "no PATH: usage error" 2 bc metrics --textfile
expect_exit "an argument: usage error" 2 bc metrics extra

finish
