#!/usr/bin/env bash
# brix plan on the model families and pipeline-split rules of issue 13: a model_type brix does
# not know is planned as its nearest family with one warning line; Megatron's embedding/loss
# accounting makes 126 layers + 2 interleave over PP 8 × VPP 2, and --emit megatron says so.
source "$(dirname "$0")/lib.sh"

printf '{"model_type": "llama5", "hidden_size": 1024, "num_hidden_layers": 8, "num_attention_heads": 8,\n "intermediate_size": 4096, "vocab_size": 32000}\n' >"$work/llama5.json"
run "$BRIX" plan --model "$work/llama5.json" --describe
expect_rc 0 "unknown model_type"
expect_err "^brix: warning: .*llama5.json: model_type 'llama5' is unknown \(did you mean 'llama'\?\): read as a Llama-like dense decoder"
expect_err "give the file a supported model_type .*grok-1, gpt_oss, nemotron"
expect_one_line_err
expect_out 'dense gated MLP, ffn 4096'
run "$BRIX" plan --model "$work/llama5.json" --nodes 1 --gpu h100-sxm --top 1
expect_rc 0 "plan of an unknown model_type"; expect_one_line_err; expect_out '^best: '

for model in grok-1 gpt-oss-120b nemotron-4-340b; do
  run "$BRIX" plan --model "$model" --describe
  expect_rc 0 "describe $model"; [ -z "$err" ] || fail "$model: unexpected stderr: $err"
done
run "$BRIX" plan --model gpt-oss-120b --describe
expect_out 'sliding window 128 on 18 of 36 layers, attention sinks'
expect_out '^  Weights as stored: [0-9.]+ GiB \(routed experts at 4.25 bits'
run "$BRIX" plan --model nemotron-4-340b --describe
expect_out 'dense squared-ReLU MLP, ffn 73728'

run "$BRIX" plan --model llama-3.1-405b --nodes 64 --gpu h100-sxm --global-batch 512 --seq-len 8192 \
  --layout tp=8,pp=8,vpp=2 --top 1
expect_rc 0 "126 layers over pp 8 x vpp 2"
expect_out 'interleaved×2\+emb\+loss'; expect_out '^best: .*,pp_embedding=1,pp_loss=1$'
run "$BRIX" plan --model llama-3.1-405b --nodes 64 --gpu h100-sxm --global-batch 512 --seq-len 8192 \
  --layout tp=8,pp=8,vpp=2 --emit megatron
expect_rc 0 "emit megatron"
expect_out '^--account-for-embedding-in-pipeline-split'; expect_out '^--account-for-loss-in-pipeline-split'
expect_out '^--num-layers-per-virtual-pipeline-stage 8'
# Gradients: fp32 main_grad by default (Megatron-LM's own with --bf16); megatron-core-2025, costed
# with bf16 gradients as Megatron-Bridge's perf scripts run, writes the flag that keeps them bf16.
checks=$((checks + 1)); grep -q -- '--grad-reduce-in-bf16' <<<"$out" && fail "fp32 gradients emitted --grad-reduce-in-bf16"
run "$BRIX" plan --model llama-3.1-405b --nodes 64 --gpu h100-sxm --global-batch 512 --seq-len 8192 \
  --layout tp=8,pp=8,vpp=2 --software megatron-core-2025 --emit megatron
expect_rc 0 "emit megatron, bf16 gradients"; expect_out '^--bf16 \\$'; expect_out '^--grad-reduce-in-bf16 \\$'
run "$BRIX" plan --model llama-3.1-405b --nodes 64 --gpu h100-sxm --global-batch 512 --seq-len 8192 \
  --layout tp=8,pp=8,vpp=2,grads=bf16 --emit megatron
expect_rc 0 "emit megatron, grads=bf16"; expect_out '^--grad-reduce-in-bf16 \\$'
# FP8 parameters: megatron-core-2025 was costed gathering FP8 weights (Megatron-Bridge's recipes set
# fp8_param_gather) and writes the flag that does it; the default profile gathers bf16 and does not.
run "$BRIX" plan --model llama-3.1-70b --nodes 8 --gpu h100-sxm --global-batch 128 --seq-len 8192 \
  --layout tp=4,pp=8,vpp=5,zero=1 --precision fp8 --software megatron-core-2025 --emit megatron
expect_rc 0 "emit megatron, fp8 parameter gather"; expect_out '^--fp8-format hybrid \\$'; expect_out '^--fp8-param-gather \\$'
# The recipe the plan was costed with (per-tensor current scaling), not Megatron-LM's default (delayed).
expect_out '^--fp8-recipe tensorwise \\$'
run "$BRIX" plan --model llama-3.1-70b --nodes 8 --gpu h100-sxm --global-batch 128 --seq-len 8192 \
  --layout tp=4,pp=8,vpp=5,zero=1 --precision fp8 --emit megatron
expect_rc 0 "emit megatron, fp8, default profile"; expect_out '^--fp8-format hybrid \\$'
checks=$((checks + 1)); grep -q -- '--fp8-param-gather' <<<"$out" && fail "the default profile emitted --fp8-param-gather"
# --memory: the gradient term at 4 B (Megatron-Core's accounting) or, with grads=bf16, 2 B/param.
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu h100-sxm --layout tp=1,pp=1,dp=8,zero=1 --memory --format json
expect_rc 0 "--memory fp32 grads"; expect_out '"grads": "fp32"'
fp32_grads=$(grep -oE '"grads": [0-9.e+]+' <<<"$out" | head -1)
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu h100-sxm --layout tp=1,pp=1,dp=8,zero=1,grads=bf16 --memory --format json
expect_rc 0 "--memory bf16 grads"; expect_out '"grads": "bf16"'
bf16_grads=$(grep -oE '"grads": [0-9.e+]+' <<<"$out" | head -1)
checks=$((checks + 1))
python3 -c "import sys; a=float(sys.argv[1].split()[-1]); b=float(sys.argv[2].split()[-1]); sys.exit(0 if abs(a - 2 * b) < 1e-6 * a else 1)" \
  "$fp32_grads" "$bf16_grads" || fail "grads=bf16 does not halve the gradient term: $fp32_grads vs $bf16_grads"
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu h100-sxm --layout tp=1,grads=fp16 --memory
expect_rc 2 "grads=fp16"; expect_one_line_err; expect_err '^brix: error: --layout: grads=fp16 is not valid \(expected fp32 or bf16\)$'
run "$BRIX" plan --model deepseek-r1 --nodes 2 --gpu h100-sxm --global-batch 64 --seq-len 4096 --software megatron-core-2025
expect_rc 1 "DeepSeek-R1 on 16 GPUs"; expect_out 'model states alone \(16 B/param, 9.9 TiB\) need at least 142 GPUs'
run "$BRIX" plan --model llama-3.1-405b --nodes 64 --gpu h100-sxm --global-batch 512 --seq-len 8192 \
  --layout tp=8,pp=8,vpp=2,pp_embedding=0,pp_loss=0 --software megatron-core-2024
expect_rc 1 "refused without the accounting"; expect_out 'not divisible by PP×VPP = 16'

# CPU offloading (Megatron-Bridge's Llama-3.1-70B on 64 GB200s): 40 of 80 layers' activations in
# Grace memory let it run without recomputation; --emit megatron carries the flags; a pipeline
# with offloading is refused by name.
run "$BRIX" plan --model llama-3.1-70b --nodes 16 --gpu gb200 --global-batch 256 --seq-len 8192 --precision fp8 \
  --layout tp=1,pp=1,dp=64,mbs=2,zero=3,recompute=none,offload=40 --emit megatron
expect_rc 0 "offload emit megatron"
expect_out '^--cpu-offloading \\$'; expect_out '^--cpu-offloading-num-layers 40 '
run "$BRIX" plan --model llama-3.1-70b --nodes 16 --gpu gb200 --global-batch 256 --seq-len 8192 --precision fp8 \
  --layout tp=1,pp=1,dp=64,mbs=2,zero=3,recompute=none --top 1
expect_rc 1 "no fit without offloading"; expect_out 'out of memory'
# A plan costed with TP overlapped (megatron-core-2025) asks Megatron for it; the default does not.
run "$BRIX" plan --model llama-3.1-70b --nodes 8 --gpu h100-sxm --global-batch 128 --seq-len 8192 \
  --layout tp=4,pp=8,dp=2,vpp=5 --software megatron-core-2025 --emit megatron
expect_rc 0 "tp overlap emit megatron"; expect_out '^--tp-comm-overlap '
run "$BRIX" plan --model llama-3.1-70b --nodes 8 --gpu h100-sxm --global-batch 128 --seq-len 8192 \
  --layout tp=4,pp=8,dp=2,vpp=5 --emit megatron
expect_rc 0 "modern emit megatron"; checks=$((checks + 1)); ! grep -q -- '--tp-comm-overlap' <<<"$out" || fail "modern plan asks for --tp-comm-overlap"
run "$BRIX" plan --model llama-3.1-70b --nodes 16 --gpu gb200 --layout pp=2,offload=4 --top 1
expect_rc 1 "offload with a pipeline"; expect_out 'offload=4 with PP=2'
# Token dropping padded to capacity (Megatron-Bridge 25.09's Qwen3-30B-A3B on 8 B200s): --emit
# megatron asks for the alltoall dispatcher, the factor and the padding; a dense model refuses it.
run "$BRIX" plan --model qwen3-30b-a3b --nodes 1 --gpu b200 --global-batch 512 --seq-len 4096 \
  --software megatron-core-2025 --layout tp=1,pp=1,dp=8,ep=8,mbs=1,capacity=1.0 --emit megatron
expect_rc 0 "capacity emit megatron"
expect_out '^--moe-token-dispatcher-type alltoall \\$'; expect_out '^--moe-expert-capacity-factor 1 \\$'
expect_out '^--moe-pad-expert-input-to-capacity \\$'
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu h100-sxm --layout dp=8,capacity=1 --top 1
expect_rc 1 "capacity on a dense model"; expect_out 'expert capacity factor on a dense model'

finish
