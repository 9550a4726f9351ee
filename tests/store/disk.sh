#!/bin/sh
# tests/store/disk.sh - the store conformance suite (conformance.c) on the
# disk store, as `make check` runs it (from the build directory): once in
# a new temp directory, once more under a [store] prefix, whose names the
# suite must not see. The pagination case makes SB_TEST_PAGINATION objects
# (500 here: a disk store has no pages; tests/azure/run.sh runs the suite
# with its full 5050 on disk and on Azure). Exit status 0 when both runs
# pass, 1 otherwise; every check's line is in the test's .log.
set -u

CONF=${SB_CONFORMANCE:-./tests/store/conformance}
if [ ! -x "$CONF" ]; then
	echo "disk.sh: $CONF: not built (run from the build directory)" >&2
	exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-conformance.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/disk" || exit 1

rc=0
echo "# conformance: disk store"
SB_TEST_STORE=disk SB_TEST_DISK_ROOT="$TMP/disk" \
    SB_TEST_PAGINATION=${SB_TEST_PAGINATION:-500} "$CONF" suite || rc=1
echo "# conformance: disk store under [store] prefix svc/one/"
SB_TEST_STORE=disk SB_TEST_DISK_ROOT="$TMP/disk" SB_TEST_PREFIX=svc/one/ \
    SB_TEST_PAGINATION=200 "$CONF" suite || rc=1
exit $rc
