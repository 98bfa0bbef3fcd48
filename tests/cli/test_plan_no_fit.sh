#!/usr/bin/env bash
# brix plan when nothing fits, on part of a cluster, and --emit for Megatron-LM (issue 17): no
# layout is exit 1 with the reason and the nearest batches that work; --cluster C --nodes N plans
# on the first N nodes; Megatron flags are never those of a plan Megatron-LM cannot run.
source "$(dirname "$0")/lib.sh"

# 641 nodes × 8 A100 = 5,128 GPUs: every data-parallel size has the prime factor 641, which does
# not divide 2,520.
run "$BRIX" plan --model gpt-530b --nodes 641 --gpu a100-sxm-80gb --global-batch 2520
expect_rc 1 "no layout fits"
expect_out "^no layout fits"
expect_out "^no plan: the global batch 2,520 is not a multiple of DP × micro-batch \\(641, "
expect_out "^nearest global batches with a layout that fits: [0-9,]+( or [0-9,]+)? \\(--global-batch\\)$"
batches=$(grep -o '^nearest global batches with a layout that fits: .*' <<<"$out" | grep -oE '[0-9][0-9,]*' | tr -d ,)
checks=$((checks + 1)); [ -n "$batches" ] || fail "no batch named: $out"
for batch in $batches; do
  # Each batch named does fit.
  run "$BRIX" plan --model gpt-530b --nodes 641 --gpu a100-sxm-80gb --global-batch "$batch" --top 1
  expect_rc 0 "global batch $batch, as suggested"
  checks=$((checks + 1)); [ $((batch % 641)) -eq 0 ] || fail "suggested batch $batch is not a multiple of 641"
done
run "$BRIX" plan --model gpt-530b --nodes 641 --gpu a100-sxm-80gb --global-batch 2520 --format json
expect_rc 1 "no layout fits, json"
checks=$((checks + 1)); jq -e '.plans == [] and (.no_fit.why | test("2,520")) and (.no_fit.fitting_global_batches | length) >= 1' \
  <<<"$out" >/dev/null || fail "json no_fit: $(jq .no_fit <<<"$out")"

# A job on part of a cluster (the README's example): the first 12 of Selene's 560 nodes.
run "$BRIX" plan --model gpt-175b --cluster selene --nodes 12 --layout tp=8,pp=12,dp=1 --global-batch 64
expect_rc 0 "tp8 pp12 on 12 nodes of selene"
expect_out "^gpt-175b on selene \\(96 GPUs"
# Without --nodes the layout cannot fill the cluster, and the explanation says how to plan it.
run "$BRIX" plan --model gpt-175b --cluster selene --layout tp=8,pp=12,dp=1 --global-batch 64
expect_rc 1 "tp8 pp12 on all of selene"
expect_out "its 96 ranks fill 12 of the cluster's 560 nodes: --nodes 12 plans the job on the cluster's first 12 nodes"
run "$BRIX" plan --model gpt-175b --cluster selene --nodes 561
expect_rc 2 "more nodes than the cluster has"; expect_one_line_err
expect_err "^brix: error: --nodes 561: cluster 'selene' has 560 nodes"
run "$BRIX" plan --cluster selene --nodes 12 --gpu h100-sxm
expect_rc 2 "--cluster with --gpu"; expect_one_line_err

# --emit megatron: the best DeepSeek-R1 plan on 2,048 H800s with brix's own collectives uses
# DualPipe and FP8 gradients, which Megatron-LM cannot run; the flags are those of the best plan it
# can run, said on stderr.
run "$BRIX" plan --model deepseek-r1 --cluster h800-2048 --seq-len 4096 --software brix --emit megatron
expect_rc 0 "--emit megatron"
expect_err "^brix: warning: --emit megatron: the best plan \\(.*dualpipe.*\\) needs schedule dualpipe and grad_compression fp8, which Megatron-LM cannot run; these flags are for the best plan it can run \\("
checks=$((checks + 1)); ! grep -q "has no Megatron-LM flag" <<<"$out" || fail "flags of a plan Megatron-LM cannot run: $out"
expect_out "^--pipeline-model-parallel-size [0-9]+"
run "$BRIX" plan --model llama-3.1-70b --nodes 8 --gpu h100-sxm --emit torchrun
expect_rc 0 "--emit torchrun"
checks=$((checks + 1)); ! grep -qE "zb-h1|has no Megatron-LM flag" <<<"$out" || fail "torchrun line of a plan Megatron-LM cannot run: $out"
finish
