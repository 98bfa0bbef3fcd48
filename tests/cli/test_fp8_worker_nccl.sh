#!/usr/bin/env bash
# brix-worker bench --op allreduce --compress fp8 --backend nccl with 1 rank: the CUDA kernels
# and NCCL on device buffers (the table, the error check, the same bits). Without a GPU (or a
# build without NCCL) it checks the refusal instead — a clear error, never gloo — and that
# --backend auto says it runs on gloo, then skips (77) with the reason.
source "$BRIX_SOURCE_DIR/tests/cli/lib.sh"
source "$BRIX_SOURCE_DIR/tests/cli/launch_lib.sh"

bench=(bench --op allreduce --compress fp8 -b 64K -f 4 -w 2 -n 5 --timeout 120)
run "$BRIX" launch --nproc-per-node 1 --quiet --log-dir "$work/nccl" -- "$WORKER" "${bench[@]}" -e 16M --backend nccl
rank_out=$(cat "$work/nccl"/attempt_0/rank_0.out 2>/dev/null)
rank_err=$(cat "$work/nccl"/attempt_0/rank_0.err 2>/dev/null)
if [ "$rc" -ne 0 ] && grep -qE "needs a GPU, and rank 0 has none|built without NCCL" <<<"$rank_err"; then
  reason=$(grep -oE "(needs a GPU, and rank 0 has none|built without NCCL)[^(]*" <<<"$rank_err" | head -n 1)
  out=$rank_out
  err=$rank_err
  expect_rc 1 "--backend nccl without a GPU"
  expect_err "^brix-worker: error: .*(--backend gloo|without NCCL)"
  expect_one_line_err
  checks=$((checks + 1))
  [ -z "$rank_out" ] || fail "--backend nccl without a GPU printed a table (fell back?): $rank_out"

  run "$BRIX" launch --nproc-per-node 1 --quiet --log-dir "$work/auto" -- "$WORKER" "${bench[@]}" -e 256K --backend auto
  expect_rc 0 "--backend auto without a GPU"
  out=$(cat "$work/auto"/attempt_0/rank_0.out 2>/dev/null)
  err=$(cat "$work/auto"/attempt_0/rank_0.err 2>/dev/null)
  expect_out "allreduce on gloo, 1 ranks, compress fp8 e4m3 .*CPU reference kernels"
  expect_err "--backend auto: (no CUDA device visible|this build has no NCCL).*running on gloo"
  finish || exit 1
  echo "skipped: the 1-rank NCCL compressed bench needs a GPU ($reason)"
  exit 77
fi

out=$rank_out
err=$rank_err
expect_rc 0 "bench --compress fp8 --backend nccl, 1 rank"
expect_out "allreduce on nccl, 1 ranks, compress fp8 e4m3 \\(1x128 blocks, fp32 scales; CUDA kernels\\)"
expect_out "^ +16777216 +4194304 .* [0-9.]+e-0[1-3] +yes$"
expect_out "Avg bus bandwidth +: nccl fp32 [0-9.e+-]+, fp32 a2a\\+gather [0-9.e+-]+, fp8 [0-9.e+-]+"
expect_out "same result on every rank: yes OK"
finish
