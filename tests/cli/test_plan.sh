#!/usr/bin/env bash
# brix plan: the default run, --describe, --gpus, the cluster shorthand, output formats.
source "$(dirname "$0")/lib.sh"

run "$BRIX" plan --memory
expect_rc 1 "plan --memory (TP8 PP4 DP2 does not fit)"
expect_out '^model deepseek-r1'; expect_out 'cluster example-deployment'; expect_out 'verdict: '
expect_out '64 of 160 GPUs'

run "$BRIX" plan --describe --format json
expect_rc 0 "describe json"
# DeepSeek-R1: 671B total (±0.5%), 37B active (±3%): 667.6–674.4B and 35.9–38.1B.
expect_out '"params_total": 67[0-4][0-9]{9},'
expect_out '"params_active": 3[5-8][0-9]{9},'
expect_out '"params_mtp": [0-9]+'
total=$(grep -oE '"params_total": [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
checks=$((checks + 1)); [ "$total" -ge 667645000000 ] && [ "$total" -le 674355000000 ] || fail "params_total $total"

run "$BRIX" plan --model llama-3.1-405b --describe --format yaml
expect_rc 0 "describe yaml"
expect_out '^params_total: 40[3-7][0-9]{9}$'

run "$BRIX" plan --model gpt-175b --describe
expect_rc 0 "describe text"
expect_out 'position embedding'; expect_out 'total .*174\.6B'

run "$BRIX" plan --gpus
expect_rc 0 "gpus"
for id in a100-sxm-40gb a100-sxm-80gb h100-sxm h800-sxm h200-sxm h20 b200 l40s mi300x; do
  expect_out "^$id "
done

run "$BRIX" plan --gpus --format json
expect_rc 0 "gpus json"; expect_out '"id": "mi300x"'

run "$BRIX" plan --memory --model llama-3.1-8b --nodes 2 --gpu h100-sxm --layout tp=8,dp=2,zero=1 --global-batch 64
expect_rc 0 "shorthand"
expect_out '2x8xh100-sxm'; expect_out '8 × 400 Gb/s'; expect_out 'verdict: fits'

run "$BRIX" plan --memory --model llama-3.1-8b --nodes 1 --gpu l40s --layout tp=8 --global-batch 8
expect_rc 0 "shorthand l40s"; expect_out '4 × 200 Gb/s'

run "$BRIX" plan --memory --model llama-3.1-70b --cluster h200-node --layout tp=8,zero=1 --global-batch 16 --format json
# 70B with TP8 and ZeRO-1 alone (no PP, DP 1) does not fit in 141 GB: exit 1, verdict in the JSON.
expect_rc 1 "memory json"; expect_out '"fits": false' 
expect_out '"fits": (true|false)'; expect_out '"optimizer": [0-9.e+]+'; expect_out '"stages": \['

run "$BRIX" plan --memory --model gpt-1.7b --cluster "$BRIX_SOURCE_DIR/configs/clusters/example-annotated.yaml" --layout tp=1,dp=48 --global-batch 480
expect_rc 0 "annotated cluster example"; expect_out 'dgx-h100'; expect_out 'a100-edr'

for cluster in example-deployment selene dgx-h100-superpod h800-2048 h200-node; do
  run "$BRIX" plan --memory --cluster "$cluster" --model llama-3.1-8b --layout tp=8 --global-batch 8 --format json
  # Each bundled cluster loads; the layout uses 8 GPUs of it.
  expect_rc 0 "cluster $cluster"; expect_out '"gpus_used": 8'
done

# The man pages render without warnings.
if command -v man >/dev/null; then
  for page in brix brix-plan; do
    run env MANWIDTH=100 man --warnings -l "$BRIX_SOURCE_DIR/man/$page.1"
    expect_rc 0 "man $page"; expect_out 'SYNOPSIS'
    checks=$((checks + 1)); [ -z "$err" ] || fail "man $page warnings: $err"
  done
else
  echo "skip: man is not installed (man-db)"
fi

finish
