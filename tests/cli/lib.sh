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
# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s and returns as soon as it succeeds; when it
# has not within SECONDS, fails naming WHAT (returns 1). A test waits for what it needs another
# process to have done this way, never with a fixed sleep.
wait_for() {
  local limit=$1 what=$2
  local deadline=$((${EPOCHREALTIME//[!0-9]/} + limit * 1000000)) # microseconds
  shift 2
  checks=$((checks + 1))
  until "$@"; do
    if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
      fail "$what: still not so after $limit s"
      return 1
    fi
    sleep 0.1
  done
}
# finish: prints the closing line and exits non-zero on any failure.
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
