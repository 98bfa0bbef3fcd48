#!/usr/bin/env bash
# brix plan --serve: the default job, JSON fields, --layout, bad input (one line, exit 2), every
# --emit target (scripts pass bash -n, manifests parse as YAML), and calibrate --serve.
source "$(dirname "$0")/lib.sh"

# The default job: DeepSeek-R1 on the mixed example deployment, planned per node group.
run "$BRIX" plan --serve
expect_rc 0 "plan --serve"
expect_out '^serving plan: deepseek-r1'
expect_out 'example-deployment'
expect_out 'ISL 1,024, OSL 1,024, 64 requests in flight \(the default workload'
expect_out 'dgx-h100: 32 GPUs of H100 SXM 80GB, weights fp8 \(the checkpoint.s\)'
expect_out 'a100-edr: 128 GPUs of A100 SXM 80GB, weights bf16 \(the checkpoint is FP8 but A100 SXM 80GB has no FP8'
expect_out '^note: mixed cluster'
expect_out 'Pareto front'
expect_out '^best plan'
expect_out 'decode step .* HBM weights\+activations'
expect_out 'uses 16 of the group.s 32 GPUs: plans on more of them deliver fewer tokens/s per GPU'
expect_out 'memory per GPU: weights'
expect_out 'searched dgx-h100'
expect_out 'searched a100-edr'

run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --isl 1024 --osl 1024 --concurrency 64 --tpot-ms 50 --format json
expect_rc 0 "json"
for field in layout gpus mode ttft_s tpot_s output_tokens_per_s input_tokens_per_s output_tokens_per_s_per_gpu \
             tokens_per_s_per_user kv_bytes_per_token kv_cache_tokens max_concurrency memory_gib meets_slo; do
  expect_out "\"$field\": "
done
expect_out '"pareto": \['
expect_out '"weights": [0-9.]+,'
expect_out '"kv_cache": [0-9.]+,'
expect_out '"activations": [0-9.]+,'
expect_out '"other": [0-9.]+,'
expect_out '"mode": "(aggregated|disaggregated)"'
# DeepSeek-R1's latent on every TP rank: 70,272 B per token in bf16.
expect_out '"kv_bytes_per_token": 70272'

run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --request-rate 2 --format yaml
expect_rc 0 "yaml, open loop"; expect_out '^plans:'; expect_out 'request_rate: 2'

# A benchmark client's finite run: the first wave's queue raises the mean TTFT of the same layout.
ttft_of() { "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --isl 3200 --osl 800 --concurrency 64 --layout tp=8 "$@" \
  --format json | grep -m1 '"ttft_s"' | grep -oE '[0-9.]+'; }
steady=$(ttft_of); finite=$(ttft_of --num-prompts 500)
checks=$((checks + 1))
awk -v s="$steady" -v f="$finite" 'BEGIN { exit !(f > s) }' || fail "--num-prompts 500 should raise the mean TTFT ($steady -> $finite)"
run "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --concurrency 64 --num-prompts 500
expect_rc 0 "num-prompts text"; expect_out '64 requests in flight, 500 in all \(a benchmark client.s finite run'

# A prefix cache: a 7,000-token shared system prompt before 1,000 new tokens shortens a lone
# request's TTFT; the report and JSON say how many tokens were cached.
ttft_one() { "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --isl 8000 --osl 200 --concurrency 1 --layout tp=8 "$@" \
  --format json | grep -m1 '"ttft_s"' | grep -oE '[0-9.]+'; }
cold=$(ttft_one); warm=$(ttft_one --cached-tokens 7000)
checks=$((checks + 1))
awk -v c="$cold" -v w="$warm" 'BEGIN { exit !(w < 0.5 * c) }' || fail "--cached-tokens 7000 should cut a lone prompt's TTFT ($cold -> $warm)"
run "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --isl 8000 --concurrency 8 --cached-tokens 7000
expect_rc 0 "cached tokens text"; expect_out "7,000 of each prompt's tokens in the prefix cache"
expect_out "prompt tokens/s per instance \(computed; each prompt's first 7,000 tokens from the prefix cache\)"
run "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --isl 8000 --concurrency 8 --cached-tokens 7000 --format json
expect_rc 0 "cached tokens json"; expect_out '"cached_tokens": 7000'
run "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --isl 8000 --concurrency 8 --cached-tokens 7000 --emit vllm
expect_rc 0 "cached tokens emit"; expect_out '^# Predicted at ISL 8000 \(7000 of them in the prefix cache: keep it on\) / OSL 1024'

# More requests in flight than the KV pool holds: the excess waits in the engine's queue, and the
# plan says how many and for how long (NIM's Llama-3.3-70B FP8 on 2 H100s, 5,000/500 at 100).
nim=(plan --serve --model llama-3.1-70b --gpu h100-sxm --nodes 1 --gpus-per-node 2 --engine trtllm
  --layout tp=2,weights=fp8,kv=fp8 --isl 5000 --osl 500 --concurrency 100)
run "$BRIX" "${nim[@]}"
expect_rc 0 "kv-capped text"
expect_out 'the KV pool runs 85 of the 100 requests in flight at once; the other 15 wait in the engine.s queue'
expect_out 'bound by KV cache'
run "$BRIX" "${nim[@]}" --format json
expect_rc 0 "kv-capped json"; expect_out '"max_concurrency": 85'; expect_out '"kv_waiting_requests": 15,'

run "$BRIX" plan --serve --nodes 4 --gpu h200-sxm --engine sglang --layout p.tp=8,p.ep=8,d.dp=16,d.ep=16 --top 3
expect_rc 0 "disaggregated layout"; expect_out 'P/D'; expect_out 'KV transfer'

# An open loop no plan keeps up with: no latencies printed (there is no steady state), what the
# best keeps up with instead, and null in JSON.
run "$BRIX" plan --serve --nodes 1 --gpu h100-sxm --model llama-3.1-8b --request-rate 1000
expect_rc 0 "overloaded"
expect_out '^1  h100-sxm  agg   tp1 ×8 +8 +- +- +- +- +- .* overloaded  prefill$'
expect_out '^no plan keeps up with 1000 requests/s: prefill saturates; the best keeps up with [0-9.]+ requests/s'
expect_out '^  overloaded: prefill keeps up with [0-9.]+ requests/s of the 1000 arriving'
run "$BRIX" plan --serve --nodes 1 --gpu h100-sxm --model llama-3.1-8b --request-rate 1000 --format json
expect_out '"ttft_s": null'; expect_out '"max_request_rate": [0-9.]+'

# Weight offloading: SGLang's layer-group offloader, its flags in the command, the layout printed back.
run "$BRIX" plan --serve --nodes 1 --gpu b200 --engine sglang --layout tp=1,dp=8,ep=8,weights=fp4,offload=4 --emit sglang
expect_rc 0 "offload emit"; expect_out '--offload-group-size 4 --offload-num-in-group 1 --offload-prefetch-step 1 --offload-mode cpu'
run "$BRIX" plan --serve --nodes 1 --gpu b200 --engine sglang --layout tp=1,dp=8,ep=8,weights=fp4,offload=4 --format json
expect_rc 0 "offload json"; expect_out '"offload": 4'; expect_out '"layout": "[^"]*,offload=4"'

# Bad input: one located line, exit 2.
bad() {
  local what=$1 pattern=$2
  shift 2
  run "$@"
  expect_rc 2 "$what"; expect_one_line_err; expect_err "^brix: error: .*$pattern"
}
bad "training option" "--seq-len: a training option, not with --serve" "$BRIX" plan --serve --seq-len 4096
bad "serving option" "--isl: a serving option" "$BRIX" plan --isl 100
bad "unknown engine" "--engine: unknown engine 'vllmm'.*did you mean 'vllm'" "$BRIX" plan --serve --engine vllmm
bad "unknown version" "--engine-version: sglang 0.3 is not in brix's engine table" "$BRIX" plan --serve --engine sglang --engine-version 0.3
bad "costing-only version" "--engine-version: trtllm 0.17 is in brix's engine table only to cost published runs of it" "$BRIX" plan --serve --engine trtllm --engine-version 0.17
bad "no tiling" "a 12-GPU instance .* is neither a divisor of a 8-GPU node nor whole nodes" "$BRIX" plan --serve --nodes 2 --gpu h100-sxm --layout tp=4,dp=3,ep=12
bad "heads" "tp=3 does not divide deepseek-r1's 128 attention heads" "$BRIX" plan --serve --layout tp=3
bad "mixed keys" "mixes aggregated fields" "$BRIX" plan --serve --layout tp=8,d.tp=8
bad "both loops" "--concurrency and --request-rate: give one" "$BRIX" plan --serve --concurrency 8 --request-rate 1
bad "prompts without a cap" "--num-prompts: only with --concurrency" "$BRIX" plan --serve --num-prompts 500
bad "cache holds the whole prompt" "--cached-tokens: 1024 is outside \\[0, --isl 1024\\)" "$BRIX" plan --serve --cached-tokens 1024
bad "longer than the context" "--isl/--osl: 162817 \\+ 1024 = 163841 tokens per request exceed deepseek-r1's context of 163840 positions, as vLLM derives it .*expected ISL \\+ OSL <= 163840" "$BRIX" plan --serve --isl 162817 --osl 1024
bad "longer than gpt-oss's context" "exceed gpt-oss-120b's context of 131072 positions" "$BRIX" plan --serve --model gpt-oss-120b --nodes 1 --gpu h200-sxm --isl 131072 --osl 1
# rope_scaling extends the served context as each engine derives it: a linear factor 4 over 4,096
# positions serves 16,384 in both; yarn from an original 2,048 by 4 is 8,192 in vLLM (original ×
# factor) and 4,096 in SGLang (the factor ignored where the config names the original length).
python3 - "$BRIX_SOURCE_DIR/configs/models/llama-2-7b.json" "$work" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["rope_scaling"] = {"type": "linear", "factor": 4.0}
json.dump(config, open(sys.argv[2] + "/linear4.json", "w"))
config["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048}
json.dump(config, open(sys.argv[2] + "/yarn.json", "w"))
PY
for engine in vllm sglang; do
  run "$BRIX" plan --serve --model "$work/linear4.json" --nodes 1 --gpu h100-sxm --engine "$engine" --isl 15384 --osl 1000 --top 1
  expect_rc 0 "linear rope scaling, $engine"
  bad "past linear rope scaling, $engine" "exceed linear4's context of 16384 positions, as .* derives it \\(max_position_embeddings and rope_scaling in" "$BRIX" plan --serve --model "$work/linear4.json" --nodes 1 --gpu h100-sxm --engine "$engine" --isl 15385 --osl 1000
done
run "$BRIX" plan --serve --model "$work/yarn.json" --nodes 1 --gpu h100-sxm --engine vllm --isl 7192 --osl 1000 --top 1
expect_rc 0 "yarn in vLLM"
bad "past yarn in vLLM" "context of 8192 positions, as vLLM derives it" "$BRIX" plan --serve --model "$work/yarn.json" --nodes 1 --gpu h100-sxm --engine vllm --isl 7193 --osl 1000
bad "yarn in SGLang" "context of 4096 positions, as SGLang derives it \\(max_position_embeddings in" "$BRIX" plan --serve --model "$work/yarn.json" --nodes 1 --gpu h100-sxm --engine sglang --isl 3097 --osl 1000
bad "prompts not whole" "--num-prompts: 2.5 is not a whole number" "$BRIX" plan --serve --concurrency 4 --num-prompts 2.5
bad "offload every layer" "--layout: offload=1 is not valid \\(expected an integer >= 2\\)" "$BRIX" plan --serve --layout tp=8,offload=1
bad "offload without the offloader" "offload=2 needs the layer-group weight offloader; vllm 0.11 has none" "$BRIX" plan --serve --engine vllm --layout tp=8,ep=8,offload=2
bad "fp8 on A100" "weights=fp8 needs FP8 tensor cores" "$BRIX" plan --serve --nodes 2 --gpu a100-sxm-80gb --precision fp8
bad "MXFP4 without the engine path" "--engine: trtllm 1.0 does not run gpt-oss-120b's MXFP4 checkpoint on H100 SXM 80GB, which has no FP4 tensor cores \\(expected --engine vllm --engine-version 0.11 or --engine sglang" "$BRIX" plan --serve --model gpt-oss-120b --nodes 1 --gpu h100-sxm --engine trtllm
bad "NVFP4 on Hopper" "weights=fp4 \\(NVFP4\\) needs FP4 tensor cores \\(Blackwell\\); H100 SXM 80GB has none" "$BRIX" plan --serve --nodes 1 --gpu h100-sxm --precision fp4
bad "emit engine" "--emit sglang: plans are costed for --engine vllm" "$BRIX" plan --serve --emit sglang
bad "emit target" "--emit: unknown serving target 'k8' .*did you mean 'k8s'" "$BRIX" plan --serve --emit k8
bad "emit format" "--format: not with --emit" "$BRIX" plan --serve --emit slurm --format json

# A layout that runs out of memory is a report, exit 1.
run "$BRIX" plan --serve --nodes 1 --gpu h100-sxm --layout tp=8,ep=8
expect_rc 1 "does not fit"; expect_out 'no serving layout fits'; expect_out 'weights do not fit'

# Every emitter: shell output passes bash -n, manifests parse as YAML (multi-document).
for engine in vllm sglang; do
  run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --engine "$engine" --emit "$engine"
  expect_rc 0 "emit $engine"; expect_out '^#!/usr/bin/env bash'; expect_out 'case "\$NODE_RANK" in'
  printf '%s\n' "$out" > "$work/$engine.sh"
  run bash -n "$work/$engine.sh"; expect_rc 0 "bash -n $engine"
done
# The scripts run: fake engines on PATH log what they were started with, so a line the shell
# cannot execute (an `exec VAR=1 prog`, a bad quote) fails here, not on the cluster. Each fake
# stays up until FAKE_EXPECT processes have started (a node's processes end together).
mkdir -p "$work/fakebin"
for program in vllm python3 trtllm-serve; do
  cat > "$work/fakebin/$program" <<'FAKE'
#!/bin/sh
printf 'started: %s %s\nenv: VLLM_ALL2ALL_BACKEND=%s CUDA_VISIBLE_DEVICES=%s\n' "$(basename "$0")" "$*" \
  "${VLLM_ALL2ALL_BACKEND:-}" "${CUDA_VISIBLE_DEVICES:-}" >> "$FAKE_LOG"
tries=0
while [ "$(grep -c '^started:' "$FAKE_LOG")" -lt "${FAKE_EXPECT:-1}" ] && [ $tries -lt 300 ]; do
  sleep 0.1; tries=$((tries + 1))
done
FAKE
  chmod +x "$work/fakebin/$program"
done
run_node() { # run_node EXPECTED SCRIPT VAR=VALUE...: runs one node of SCRIPT; out = the fakes' log
  local expected=$1 script=$2
  shift 2
  : > "$work/fake.log"
  run env PATH="$work/fakebin:$PATH" FAKE_LOG="$work/fake.log" FAKE_EXPECT="$expected" "$@" bash "$script"
  out=$(cat "$work/fake.log")
}
run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --layout tp=1,dp=16,ep=16 --emit vllm
expect_rc 0 "emit vllm dp16 ep16"
printf '%s\n' "$out" > "$work/vllm-ep.sh"
run_node 1 "$work/vllm-ep.sh" NODE_RANK=1 NODE_0=10.0.0.1 NODE_1=10.0.0.2 SOCKET_IFNAME=lo
expect_rc 0 "vllm node 1 runs"
expect_out '^started: vllm serve deepseek-ai/DeepSeek-R1 .*--data-parallel-size 16 .*--data-parallel-address 10.0.0.1 .*--data-parallel-start-rank 8 --headless$'
expect_out '^env: VLLM_ALL2ALL_BACKEND=deepep_high_throughput'
run "$BRIX" plan --serve --model llama-3.1-70b --nodes 1 --gpu h200-sxm --engine sglang --layout tp=4,instances=2 --emit sglang
expect_rc 0 "emit sglang two instances on one node"
printf '%s\n' "$out" > "$work/sglang-two.sh"
run_node 2 "$work/sglang-two.sh" NODE_RANK=0
expect_rc 0 "sglang node 0 runs both instances"
expect_out 'CUDA_VISIBLE_DEVICES=0,1,2,3$'
expect_out 'CUDA_VISIBLE_DEVICES=4,5,6,7$'
expect_out '^started: python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-70B.* .*--tp-size 4 '
# gpt-oss's MXFP4 checkpoint on Hopper plans weight-only FP4, as vLLM and SGLang run it; the script
# starts the engine on OpenAI's checkpoint with no quantization flag (both read it from its config).
for engine in vllm sglang; do
  run "$BRIX" plan --serve --model gpt-oss-120b --nodes 1 --gpu h100-sxm --engine "$engine"
  expect_rc 0 "gpt-oss on H100 with $engine"
  expect_out "weights fp4 \\(the checkpoint.s MXFP4; weight-only on H100 SXM 80GB, which has no FP4 tensor cores: 4-bit weights read, bf16 maths, as $engine"
done
run "$BRIX" plan --serve --model gpt-oss-120b --nodes 1 --gpu h100-sxm --engine sglang --layout tp=2,instances=1 --emit sglang
expect_rc 0 "emit sglang gpt-oss on H100"
expect_out 'weights=fp4'
printf '%s\n' "$out" > "$work/sglang-gptoss.sh"
run_node 1 "$work/sglang-gptoss.sh" NODE_RANK=0
expect_rc 0 "sglang gpt-oss runs"
expect_out '^started: python3 -m sglang.launch_server --model-path openai/gpt-oss-120b .*--tp-size 2 '
checks=$((checks + 1)); ! grep -q -- '--quantization' <<<"$out" || fail "gpt-oss command names a quantization: $out"
run "$BRIX" plan --serve --nodes 3 --gpu h200-sxm --layout p.tp=8,p.ep=8,p.instances=1,d.dp=16,d.ep=16,d.instances=1 --emit vllm
expect_rc 0 "emit vllm P/D"
printf '%s\n' "$out" > "$work/vllm-pd.sh"
cp "$work/fakebin/vllm" "$work/fakebin/vllm-router"
run_node 2 "$work/vllm-pd.sh" NODE_RANK=0 NODE_0=10.0.0.1 NODE_1=10.0.0.2 NODE_2=10.0.0.3 SOCKET_IFNAME=lo
expect_rc 0 "vllm P/D node 0 runs prefill and router"
expect_out '^started: vllm serve .*--kv-transfer-config \{"kv_connector":"NixlConnector","kv_role":"kv_both"\}'
expect_out '^started: vllm-router --vllm-pd-disaggregation --prefill http://10.0.0.1:8000 --decode http://10.0.0.2:8000 '
run "$BRIX" plan --serve --nodes 1 --gpu h200-sxm --engine trtllm --emit trtllm
expect_rc 0 "emit trtllm"; expect_out 'trtllm-serve'
printf '%s\n' "$out" > "$work/trtllm.sh"; run bash -n "$work/trtllm.sh"; expect_rc 0 "bash -n trtllm"
run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --emit slurm -o "$work/serve.sbatch"
expect_rc 0 "emit slurm to a file"
checks=$((checks + 1)); grep -qF '"$BRIX" launch --nproc-per-node 1' "$work/serve.sbatch" || fail "sbatch lacks brix launch"
checks=$((checks + 1)); grep -q '^#SBATCH --nodes=' "$work/serve.sbatch" || fail "sbatch lacks --nodes"
run bash -n "$work/serve.sbatch"; expect_rc 0 "bash -n sbatch"
for target in k8s aibrix; do
  layout=""
  [ "$target" = aibrix ] && layout="--layout tp=8,pp=2,dp=1,ep=8"
  # shellcheck disable=SC2086
  run "$BRIX" plan --serve --nodes 2 --gpu h100-sxm $layout --emit "$target"
  expect_rc 0 "emit $target"
  printf '%s\n' "$out" > "$work/$target.yaml"
  if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
    run python3 -c 'import sys, yaml; docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]; print(len(docs), docs[0]["kind"])' "$work/$target.yaml"
    expect_rc 0 "$target parses as YAML"
  fi
done
# kubectl validates only against an API server with the LeaderWorkerSet CRD installed; without
# one the unit tests check the manifests' fields (tests/unit/test_serve_emit.cpp).
if command -v kubectl >/dev/null && kubectl get crd leaderworkersets.leaderworkerset.x-k8s.io >/dev/null 2>&1; then
  run kubectl apply --dry-run=server -f "$work/k8s.yaml"
  expect_rc 0 "kubectl server dry run"
fi

# Calibration against published serving results.
run "$BRIX" plan calibrate --serve
expect_rc 0 "calibrate --serve"
expect_out '^fit set'; expect_out '^held-out set'; expect_out 'mean \|error\|'
expect_out 'lmsys-2505-ep-prefill-1k-h100'; expect_out 'left out'
run "$BRIX" plan calibrate --serve --format json
expect_rc 0 "calibrate --serve json"; expect_out '"summary": \['; expect_out '"excluded": \['

finish
