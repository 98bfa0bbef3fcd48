#!/usr/bin/env bash
# brix plan's layout search: the default job, explanations, JSON, emitters, calibration.
source "$(dirname "$0")/lib.sh"

# The main job: DeepSeek-R1 on the example deployment (mixed H100 + A100 cluster).
run "$BRIX" plan
expect_rc 0 "plan (defaults)"
expect_out 'deepseek-r1 on example-deployment'; expect_out 'layouts searched'
expect_out 'rejected:'; expect_out 'mixed cluster'; expect_out 'largest homogeneous subset'
# The mixed plan has the homogeneous plans' details: split, recomputation (5× less
# activation memory, costed), checkpoint interval and batch split.
expect_out ' dgx-h100 +[0-9]+ ms'; expect_out ' a100-edr +[0-9]+ ms'
expect_out '^recomputation \(stage [0-9]+, budget'; expect_out 'rotor DP at budget'
expect_out '5× less activation memory costs [0-9.]+% more time here'
expect_out '^checkpoint: [0-9.]+ GiB per save'; expect_out '^batch: global 1280 = micro-batch'
run "$BRIX" plan --format json
expect_rc 0 "plan (defaults) json"
python3 - "$out" <<'PY' || fail "mixed plan JSON lacks its details"
import json, sys
mixed = json.loads(sys.argv[1])["mixed"]
groups = {s["node_group"] for s in mixed["stages"]}
assert groups == {"dgx-h100", "a100-edr"}, groups
assert mixed["recompute_plan"]["options"][0]["name"] == "none"
assert mixed["checkpoint"]["interval_s"] > 0 and mixed["batch"]["global"] == 1280
assert mixed["stage_split"]["balanced_step_s"] == mixed["step_time_s"]
PY
# Megatron flags for the mixed plan, split flags included, are one shell-continued command. (At
# the proposed batch, 1280, DP 20 lets a homogeneous plan fit; at 1024 only the mixed plan does.)
run "$BRIX" plan --global-batch 1024 --emit megatron
expect_rc 0 "emit megatron (mixed)"; expect_out '^--decoder-first-pipeline-num-layers [0-9]+'
checks=$((checks + 1))
[ "$(sed '$d' <<<"$out" | grep -cv ' \\$')" -eq 0 ] && ! grep -q ' \\$' <<<"$(tail -1 <<<"$out")" ||
  fail "--emit megatron: every line but the last must end with ' \\': $out"
megatron=$out
# torchrun starts pretrain_gpt.py with the same Megatron flags, the split flags included.
run "$BRIX" plan --global-batch 1024 --emit torchrun
expect_rc 0 "emit torchrun (mixed)"; expect_out '^--decoder-first-pipeline-num-layers [0-9]+'
checks=$((checks + 1))
[ "$(tail -n +2 <<<"$out")" = "$megatron" ] || fail "--emit torchrun: flags differ from --emit megatron: $out"
# Where only the stage-assignment planner finds a plan, --emit yaml writes it, stages on groups.
run "$BRIX" plan --global-batch 1024 --emit yaml
expect_rc 0 "emit yaml (mixed)"
expect_out 'node_group: dgx-h100'; expect_out 'node_group: a100-edr'

# TP8 × PP4 × DP2 (as proposed for the example deployment) is explained: wrong world size and out of memory by how much, with
# the fields it leaves free (EP, ZeRO, ...) set to the completion closest to running, and named.
run "$BRIX" plan --layout tp=8,pp=4,dp=2
expect_rc 1 "TP8 PP4 DP2 layout"
expect_out '64 ranks, but the cluster has 160 GPUs'; expect_out 'out of memory on stage [0-9]+: needs [0-9.]+ GiB'
expect_out '^  \(fields not given, set to the completion closest to running: cp=1, ep=[0-9]+, etp=[0-9]+, sp=1, mbs=1, vpp=1, schedule=1f1b, recompute=full, zero=[0-3], grad_compression=none\)$'
checks=$((checks + 1))
over=$(grep -oE 'over by [0-9.]+ GiB' <<<"$out" | grep -oE '[0-9.]+')
python3 -c "import sys; sys.exit(0 if float('$over') < 500 else 1)" || fail "TP8 PP4 DP2 layout: over by $over GiB (EP and ZeRO not searched?)"
# A TP that does not divide the GPUs is said so, not blamed on a DP of 1 filled in.
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --layout tp=3
expect_rc 1 "tp=3 on 16 GPUs"
expect_out 'TP×CP×PP = 3×1×1 = 3 does not divide the cluster.s 16 GPUs'
checks=$((checks + 1)); ! grep -q 'ranks, but the cluster has' <<<"$out" || fail "tp=3: spurious world-size mismatch: $out"
checks=$((checks + 1)); grep -A1 'cannot run:' <<<"$out" | grep -q '^  - ' || fail "tp=3: no reason given: $out"

# The best plan does not depend on --top: plans are ranked on the stage split they run with.
for top in 1 5 20; do
  run "$BRIX" plan --cluster h800-2048 --seq-len 4096 --top $top --format json
  expect_rc 0 "h800-2048 --top $top"
  printf '%s' "$out" >"$work/top$top.json"
done
python3 - "$work" <<'PY' || fail "plans[0] depends on --top, or memory_gib is not the split's worst stage"
import json, sys
docs = {top: json.load(open(f"{sys.argv[1]}/top{top}.json")) for top in (1, 5, 20)}
best = {top: (json.dumps(d["plans"][0]["layout"], sort_keys=True), d["plans"][0]["step_time_s"]) for top, d in docs.items()}
assert best[1] == best[5] == best[20], best
for p in docs[20]["plans"]:
    worst = max(s["memory_gib"] for s in p["stages"])
    assert abs(p["memory_gib"]["total"] - worst) < 0.01, (p["memory_gib"], worst)
    assert p["stage_split"]["balanced_step_s"] == p["step_time_s"]
    assert p["step_time_s"] <= p["stage_split"]["uniform_step_s"]
times = [p["step_time_s"] for p in docs[20]["plans"]]
assert times == sorted(times), times
PY
checks=$((checks + 1))

# A dense model on one H100 node: ranked plans with every JSON field of the man page.
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu h100-sxm --global-batch 64 --seq-len 4096 --format json --price 2.5
expect_rc 0 "llama json"
for key in '"plans": \[' '"tp": [0-9]+' '"etp": ' '"grad_compression": ' '"memory_gib": \{' '"activations": ' \
           '"step_time_s": ' '"tokens_per_s": ' '"tflops_per_gpu": ' '"mfu": 0\.' '"hfu": 0\.' '"bubble_fraction": ' \
           '"comm_exposed_s": \{' '"rejected": \[' '"evaluated": [0-9]+' '"seconds": ' '"stages": \[' \
           '"checkpoint": ' '"batch": \{' '"recompute_plan": \{' '"cost_per_1t_tokens": '; do
  expect_out "$key"
done
python3 - "$out" <<'PY' || fail "JSON plans are not ranked or not consistent"
import json, sys
doc = json.loads(sys.argv[1])
plans = doc["plans"]
assert plans, "no plans"
times = [p["step_time_s"] for p in plans]
assert times == sorted(times), times
for p in plans:
    l = p["layout"]
    assert l["tp"] * l["pp"] * l["dp"] * l["cp"] == 8, l
    assert p["memory_gib"]["total"] <= 80, p["memory_gib"]
    assert p["hfu"] >= p["mfu"] > 0
    b = p["batch"]
    assert b["micro"] * b["accumulation"] * l["dp"] == b["global"] == 64, b
PY
checks=$((checks + 1))

# Fixed fields are honoured; the rest are searched.
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --layout tp=8,pp=2 --global-batch 256 --format json
expect_rc 0 "fixed fields"
python3 - "$out" <<'PY' || fail "fixed fields not honoured"
import json, sys
doc = json.loads(sys.argv[1])
assert doc["plans"] and all(p["layout"]["tp"] == 8 and p["layout"]["pp"] == 2 for p in doc["plans"])
PY
checks=$((checks + 1))

# Emitters.
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --global-batch 256 --emit megatron
expect_rc 0 "emit megatron"; expect_out '^--tensor-model-parallel-size [0-9]+'; expect_out '--global-batch-size 256'
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --global-batch 256 --emit deepspeed
expect_rc 0 "emit deepspeed"; expect_out '"train_batch_size": 256'; expect_out '"zero_optimization"'
# What the DeepSpeed config cannot hold is named in one warning, not dropped.
expect_err '^brix: warning: --emit deepspeed: a DeepSpeed config cannot express tp=[0-9]+'; expect_one_line_err
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --global-batch 256 --emit torchrun
expect_rc 0 "emit torchrun"; expect_out '^torchrun --nnodes 4 --nproc-per-node 8'
# --emit chooses the output format: --format with it is refused, not ignored.
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --global-batch 256 --emit yaml --format json
expect_rc 2 "--emit with --format"; expect_err '^brix: error: --format: not with --emit'; expect_one_line_err
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --global-batch 256 --emit json -o "$work/plan.json"
expect_rc 0 "emit json to file"; checks=$((checks + 1)); grep -q '"step_time_s"' "$work/plan.json" || fail "plan.json not written"
run "$BRIX" plan --model llama-3.1-8b --cluster h200-node --global-batch 64 --emit yaml -o "$work/plan.yaml"
expect_rc 0 "emit plan.yaml"
run "$BRIX" shard --plan "$work/plan.yaml" --format json
expect_rc 0 "shard reads the emitted plan.yaml"
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --emit nonsense
expect_rc 2 "emit unknown"; expect_one_line_err

# The proposed global batch divides by the data-parallel sizes of 2,520 GPUs (315 × 8): plans fit.
run "$BRIX" plan --model gpt-530b --nodes 315 --gpu a100-sxm-80gb --format json
expect_rc 0 "530b proposed batch"
python3 - "$out" <<'PY' || fail "530B on 2,520 A100s: proposed batch does not fit the DP sizes"
import json, sys
doc = json.loads(sys.argv[1])
assert doc["global_batch_proposed"] and doc["global_batch"] % 315 == 0, doc["global_batch"]
assert doc["plans"], doc["rejected"][:3]
PY
checks=$((checks + 1))
# Any VPP that splits the layers evenly is searched; one that does not is refused by name.
run "$BRIX" plan --model gpt-530b --nodes 315 --gpu a100-sxm-80gb --global-batch 2520 --layout tp=8,pp=7,vpp=5,dp=45
expect_rc 0 "vpp=5"; expect_out 'interleaved×5'
checks=$((checks + 1)); ! grep -qE '^  .* +0$' <<<"$out" || fail "vpp=5: rejected rows with no layouts: $out"
run "$BRIX" plan --model gpt-530b --nodes 315 --gpu a100-sxm-80gb --global-batch 2520 --layout tp=8,pp=15,vpp=6,dp=21 \
  --software megatron-core-2024
expect_rc 1 "pp15 vpp6"; expect_out 'the 105 layers are not divisible by PP×VPP = 90'
# Megatron-Core of 2025 takes unequal virtual stages: the plan emits the pipeline layout for it
# (90 virtual stages, the first 15 with 2 layers, the embedding first and the loss last).
run "$BRIX" plan --model gpt-530b --nodes 315 --gpu a100-sxm-80gb --global-batch 2520 --layout tp=8,pp=15,vpp=6,dp=21 \
  --emit megatron
expect_rc 0 "pp15 vpp6, megatron-core 2025"
expect_out "^--pipeline-model-parallel-layout 'E(tt\\|){15}(t\\|){74}tL'"
# DeepSeek-R1's 61 layers over PP 4 × VPP 2: the layout spells out the planned stages (15, 16, 16,
# 14 layers: Megatron's first/last split) and no first/last stage flags go with it.
run "$BRIX" plan --model deepseek-r1 --cluster h800-2048 --seq-len 4096 --layout pp=4,vpp=2,schedule=interleaved \
  --emit megatron
expect_rc 0 "deepseek pp4 vpp2"
expect_out "^--pipeline-model-parallel-layout 'Et{8}\\|t{8}\\|t{8}\\|t{7}\\|t{7}\\|t{8}\\|t{8}\\|t{7}L'"
checks=$((checks + 1)); ! grep -q -- '--decoder-first-pipeline-num-layers' <<<"$out" || fail "layout with first/last flags: $out"

# fp8 on a GPU without FP8 tensor cores is refused, not silently run in bf16.
run "$BRIX" plan --model llama-3.1-8b --nodes 1 --gpu a100-sxm-80gb --precision fp8
expect_rc 2 "fp8 on A100"; expect_err 'without FP8 tensor cores'; expect_one_line_err

# LAMB beta scaling refuses a beta that leaves (0, 1).
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 64 --lamb-beta 0.9 --lamb-beta 0.999
expect_rc 0 "lamb"; expect_out 'LAMB beta 0.9 for 2 nodes'; expect_err '^brix: warning: LAMB beta 0.999 .* scaling refused'

# A plan on the --nodes/--gpu shorthand names its cluster so that shard and plan read it back;
# measured stage times (brix monitor --save-measured) rebalance its split.
run "$BRIX" plan --model llama-3.1-70b --nodes 4 --gpu h100-sxm --layout tp=8,pp=4,dp=1,vpp=1 --global-batch 64 \
  --emit yaml -o "$work/p70.yaml"
expect_rc 0 "emit yaml (shorthand)"
run "$BRIX" shard --plan "$work/p70.yaml"
expect_rc 0 "shard reads a shorthand plan"; expect_out '^32 ranks on 4 node'
cat >"$work/measured.yaml" <<'YAML'
brix_measured: 1
job: cli-test
taken: 1732841234
world_size: 32
stages:
  - {stage: 0, ranks: [0], steps: 50, compute_seconds: 10.0, step_seconds: 14}
  - {stage: 1, ranks: [8], steps: 50, compute_seconds: 10.2, step_seconds: 14}
  - {stage: 2, ranks: [16], steps: 50, compute_seconds: 10.1, step_seconds: 14}
  - {stage: 3, ranks: [24], steps: 50, compute_seconds: 13.5, step_seconds: 14}
YAML
run "$BRIX" plan --measured "$work/measured.yaml" --plan "$work/p70.yaml"
expect_rc 0 "rebalance"
expect_out '^  now +0 +0–19 '; expect_out '^  rebalanced +0 '
expect_out 'slowest stage 13\.50 s → [0-9.]+ s per step \([0-9.]+% faster pipeline\)'
run "$BRIX" plan --measured "$work/measured.yaml" --plan "$work/p70.yaml" --emit yaml -o "$work/p70-rebalanced.yaml"
expect_rc 0 "rebalance emit"
run "$BRIX" shard --plan "$work/p70-rebalanced.yaml" --format json
expect_rc 0 "shard reads the rebalanced plan"
python3 - "$out" <<'PY' || fail "rebalanced plan: stage 3 should hold fewer layers than 20"
import json, sys
ranks = json.loads(sys.argv[1])["ranks"]
last = [r for r in ranks if r["coordinates"]["pp"] == 3][0]
first, end = last["stages"][0]["layers"]
assert end == 79 and end - first + 1 < 20, (first, end)
PY
sed -i '/stage: 3,/d' "$work/measured.yaml"
run "$BRIX" plan --measured "$work/measured.yaml" --plan "$work/p70.yaml"
expect_rc 2 "a stage missing"; expect_err 'no time for stage 3'; expect_one_line_err
run "$BRIX" plan --measured "$work/measured.yaml"
expect_rc 2 "--measured without --plan"
run "$BRIX" plan --measured "$work/measured.yaml" --plan "$work/p70.yaml" --model gpt-175b
expect_rc 2 "--measured with search options"

# Calibration against the published runs (also a unit test; here through the CLI).
run "$BRIX" plan calibrate
expect_rc 0 "calibrate"
expect_out '^fit: [0-9]+ runs \([0-9]+ MoE\): mean \|error\| [0-9.]+%'
expect_out '^held-out: [0-9]+ runs \([0-9]+ MoE\): mean \|error\| [0-9.]+%'
expect_out '^leave-one-source-out \(fit set; .*\): [0-9]+ runs, mean \|error\| [0-9.]+% \(.*narayanan-2021 [0-9.]+% at [0-9]+ µs'
run "$BRIX" plan calibrate --format json
expect_rc 0 "calibrate json"
checks=$((checks + 1))
python3 -c 'import json,sys; d=json.load(sys.stdin)["leave_one_source_out"]; assert d["runs"] == sum(s["runs"] for s in d["sources"]) > 0, d' <<<"$out" ||
  fail "calibrate json: leave_one_source_out runs do not add up"
checks=$((checks + 1))
python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["runs"] if x["evaluated"]]; assert r and all(x["memory_gib"] > 1 for x in r), r[:1]' <<<"$out" ||
  fail "calibrate json: an evaluated run without the memory of its layout"

finish
