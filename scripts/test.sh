#!/usr/bin/env bash
# Installs, builds and runs every test (unit tests, CLI tests, real-process and Slurm tests), then
# the sanitizer build's tests and fuzz targets (scripts/sanitize.sh: a clang ASan + UBSan build).
# Tests that need a GPU skip with a visible reason when there is none.
#   BRIX_SANITIZE=0   skip the sanitizer and fuzz step (it says so at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sanitize=${BRIX_SANITIZE:-1}
if [ "$sanitize" != 1 ] && [ "$sanitize" != 0 ]; then
  echo "scripts/test.sh: error: BRIX_SANITIZE='$sanitize' (expected 1, the default, or 0 to skip the sanitizer step)" >&2
  exit 2
fi
scripts/setup.sh
cd "${BRIX_BUILD_DIR:-build}"
rc=0
ctest --output-on-failure --timeout 900 -j "${BRIX_TEST_JOBS:-1}" || rc=$?
# Skipped tests (no GPU, no Slurm, ...) say why: their reason lines, from ctest's log.
awk '/^[0-9]+\/[0-9]+ Test: /{sub(/^[0-9]+\/[0-9]+ Test: /, ""); name=$0} /^Output:/{out=1; next} /^<end of output>/{out=0}
     out && name && /(skip|SKIP)/ && !/\[doctest\]/{print "skipped: " name ": " $0}' Testing/Temporary/LastTest.log | sort -u
# A unit-test entry that selected no test case (a name CMake split, e.g. at ';') checks nothing.
empty=$(awk '/^[0-9]+\/[0-9]+ Test: /{sub(/^[0-9]+\/[0-9]+ Test: /, ""); name=$0}
             /\[doctest\] test cases: +0 \|/{print "  " name}' Testing/Temporary/LastTest.log)
if [ -n "$empty" ]; then
  echo "error: these unit-test entries ran no test case (rename them: no ';' in TEST_CASE names):" >&2
  echo "$empty" >&2
  rc=1
fi
# The same library again under ASan + UBSan (clang): unit tests, the CLI tests that fit and every
# fuzz target for a bounded time (scripts/sanitize.sh).
if [ "$sanitize" = 1 ]; then
  cd "$root"
  scripts/sanitize.sh || rc=1 # BRIX_TEST_JOBS, when set, reaches it too
else
  echo "skipped: sanitizer and fuzz step (scripts/sanitize.sh): BRIX_SANITIZE=0"
fi
exit "$rc"
