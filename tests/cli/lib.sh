# Helpers for CLI tests: source this file. $BRIX is the binary under test.
set -uo pipefail
: "${BRIX:?BRIX must point at the brix binary}"
: "${BRIX_SOURCE_DIR:?}"
failures=0
checks=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run CMD...: runs a command, capturing stdout in $out, stderr in $err and the exit code in $rc.
run() {
  out=$("$@" 2>"$work/stderr") && rc=0 || rc=$?
  err=$(cat "$work/stderr")
}
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_rc() { checks=$((checks + 1)); [ "$rc" -eq "$1" ] || fail "${2:-command}: exit $rc, expected $1; stderr: $err"; }
expect_out() { checks=$((checks + 1)); grep -qE -- "$1" <<<"$out" || fail "stdout lacks /$1/: $out"; }
expect_err() { checks=$((checks + 1)); grep -qE -- "$1" <<<"$err" || fail "stderr lacks /$1/: $err"; }
expect_one_line_err() { checks=$((checks + 1)); [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "stderr is not one line: $err"; }
# finish: prints the closing line and exits non-zero on any failure.
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
