#!/usr/bin/env bash
# Build every libFuzzer harness here (fuzz_<name>.c, seeds in corpus/<name>)
# with clang (-fsanitize=fuzzer,address,undefined) and run each for a
# bounded time. Each links the pure parsers: util.c, config.c (over inih, with
# secret.c and the connection-string parser of azure_auth.c), json.c and
# backupd's http.c (fuzz_azure compiles the other Azure parsers in itself).
# Exits non-zero on any finding: the crashing input is kept, and printed in
# base64 with the start of the report.
#
#   bash tests/fuzz/run.sh                 # 20 s per harness
#   FUZZ_SECONDS=300 bash tests/fuzz/run.sh
#   BUILD_DIR=build bash tests/fuzz/run.sh # objects under build/fuzz
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-20}
CC=${FUZZ_CC:-clang}
OUT=${BUILD_DIR:-$ROOT/build}/fuzz
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

command -v "$CC" >/dev/null || { echo "fuzz: $CC is missing (apt-get install clang)" >&2; exit 1; }

CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CPPFLAGS="-I$ROOT/src/core -I$ROOT/src/daemon $(pkg-config --cflags json-c)"
LIBS="$(pkg-config --libs json-c inih libcrypto expat)"
SRCS="$ROOT/src/core/util.c $ROOT/src/core/config.c $ROOT/src/core/json.c $ROOT/src/core/filter.c $ROOT/src/daemon/http.c"
ONLY=${FUZZ_ONLY:-}	# e.g. FUZZ_ONLY="json path"
# config.c checks connection strings with azure_auth.c (over libcurl) and
# reads secret files with secret.c.
SRCS="$SRCS $ROOT/src/core/secret.c $ROOT/src/core/azure_auth.c"
# config.c checks [drill] queries with drill.c (json.c names a drill's
# verdict with it too); sb_config_check is in config_check.c.
SRCS="$SRCS $ROOT/src/core/drill.c $ROOT/src/core/config_check.c"
LIBS="$LIBS $(pkg-config --libs libcurl)"
# config.c checks [store] compression/encryption and the keyring with the
# codec (codec*.c, over libzstd and libsodium); fuzz_codec drives its
# decoder.
SRCS="$SRCS $ROOT/src/core/codec.c $ROOT/src/core/codec_decode.c $ROOT/src/core/codec_key.c $ROOT/src/core/codec_file.c"
LIBS="$LIBS $(pkg-config --libs libzstd libsodium)"

rc=0
for src in "$HERE"/fuzz_*.c; do
	h=$(basename "$src" .c)
	h=${h#fuzz_}
	if [ -n "$ONLY" ] && [[ " $ONLY " != *" $h "* ]]; then
		continue
	fi
	bin=$OUT/fuzz_$h
	# shellcheck disable=SC2086
	if ! "$CC" $CFLAGS $CPPFLAGS $(pkg-config --cflags inih) -o "$bin" \
		"$src" $SRCS $LIBS; then
		echo "fuzz: building fuzz_$h failed (is libclang-rt-dev installed?)" >&2
		rc=1
		continue
	fi
	# Fuzz a scratch copy of the seed corpus: the committed one stays small.
	work=$OUT/corpus_$h
	mkdir -p "$work" "$OUT/artifacts_$h"
	rm -f "$OUT/artifacts_$h"/*	# what this run finds, not an old run
	cp -n "$HERE/corpus/$h/"* "$work/" 2>/dev/null
	echo "fuzz: fuzz_$h for ${SECONDS_EACH}s"
	if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts_$h/" "$work" \
		>"$OUT/fuzz_$h.log" 2>&1; then
		echo "fuzz: fuzz_$h FOUND A PROBLEM; log $OUT/fuzz_$h.log" >&2
		grep -E -A12 "ERROR|runtime error|deadly signal|timeout" \
			"$OUT/fuzz_$h.log" | head -40 >&2
		# The input, printable, so a finding on a machine that is
		# gone (CI) can be replayed: base64 -d >in; fuzz_$h in
		for a in "$OUT/artifacts_$h"/*; do
			[ -f "$a" ] || continue
			echo "fuzz: input $(basename "$a"), base64:" >&2
			head -c 16384 "$a" | base64 -w 76 >&2
		done
		rc=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" \
			"$OUT/fuzz_$h.log" | sed 's/^/  /'
	fi
done
[ "$rc" = 0 ] && echo "fuzz: no findings"
exit "$rc"
