#!/usr/bin/env bash
# brix-worker bench --op allreduce --compress fp8 on gloo, started by brix launch on this node:
# the table, the wire ratio, the error check, the same bits on every rank; bad flags exit 2.
source "$BRIX_SOURCE_DIR/tests/cli/lib.sh"
source "$BRIX_SOURCE_DIR/tests/cli/launch_lib.sh"

for format in e4m3 e5m2; do
  run "$BRIX" launch --nproc-per-node 3 --quiet --log-dir "$work/$format" -- \
    "$WORKER" bench --op allreduce --compress fp8 --fp8-format "$format" --backend gloo -b 64K -e 1M -f 4 -w 1 -n 2 --timeout 120
  expect_rc 0 "bench --compress fp8 --fp8-format $format"
  out=$(cat "$work/$format"/attempt_0/rank_0.out 2>/dev/null)
  expect_out "allreduce on gloo, 3 ranks, compress fp8 $format"
  expect_out "^ +1048576 +262144 .* 0\\.258 +[0-9.]+e-0[12] +yes$"
  expect_out "same result on every rank: yes OK"
  expect_out "Avg bus bandwidth +: gloo fp32 [0-9.e+-]+, fp32 a2a\\+gather [0-9.e+-]+, fp8 [0-9.e+-]+"
done

# Bad flags are refused before any rendezvous (exit 2, one line).
run "$WORKER" bench --compress zip
expect_rc 2 "--compress zip"
expect_err "--compress 'zip' \\(expected none or fp8\\)"
expect_one_line_err
run "$WORKER" bench --fp8-format e5m2
expect_rc 2 "--fp8-format without --compress fp8"
expect_err "with --compress fp8"
run "$WORKER" bench --compress fp8 --fp8-format e3m4
expect_rc 2 "--fp8-format e3m4"
run "$WORKER" bench --compress fp8 --op allgather
expect_rc 2 "--compress fp8 --op allgather"
expect_err "expected --op allreduce"
finish
