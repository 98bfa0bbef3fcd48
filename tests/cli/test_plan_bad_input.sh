#!/usr/bin/env bash
# brix plan rejects bad input with one line on stderr and exit 2.
source "$(dirname "$0")/lib.sh"

bad() { # bad DESCRIPTION STDERR-REGEX ARGS...
  local what=$1 pattern=$2
  shift 2
  run "$BRIX" plan "$@"
  expect_rc 2 "$what"; expect_err "^brix: error: .*$pattern"; expect_one_line_err
}

printf 'name: x\nnode_groups:\n  - nodes: [1, 2\n' >"$work/malformed.yaml"
bad "malformed YAML" "malformed.yaml:[0-9]+: malformed YAML/JSON: .* \(expected well-formed YAML or JSON" --cluster "$work/malformed.yaml"

printf '{\n  "model_type": "llama",\n  "hidden_size": 4096,\n' >"$work/malformed.json"
bad "malformed JSON" "malformed.json:[0-9]+: malformed YAML/JSON" --model "$work/malformed.json" --describe

printf 'name: m\nhidden: 1024\nlayrs: 4\nheads: 8\n' >"$work/typo-model.yaml"
bad "unknown model key" "typo-model.yaml:3: unknown key 'layrs' in the model file \(did you mean 'layers'\?\)" \
  --model "$work/typo-model.yaml" --describe

printf 'name: c\nnode_groups:\n  - nodes: 2\n    gpu: h100-sxm\n    gpus_per_nod: 8\n' >"$work/typo-cluster.yaml"
bad "unknown cluster key" "typo-cluster.yaml:5: unknown key 'gpus_per_nod' in a node group \(did you mean 'gpus_per_node'\?\)" \
  --cluster "$work/typo-cluster.yaml"

printf 'name: m\nhidden: 1024\nlayers: 0\nheads: 8\n' >"$work/zero.yaml"
bad "zero size" "zero.yaml:3: layers must be > 0 \(got 0\)" --model "$work/zero.yaml" --describe

printf 'name: c\nnode_groups:\n  - nodes: -2\n    gpu: h100-sxm\n    gpus_per_node: 8\n' >"$work/negative.yaml"
bad "negative size" "negative.yaml:3: nodes must be > 0 \(got -2\)" --cluster "$work/negative.yaml"

printf '{\n  "model_type": "llama",\n  "hidden_size": -4096,\n  "num_hidden_layers": 2\n}\n' >"$work/negative.json"
bad "negative HF size" "negative.json:3: hidden_size must be > 0 \(got -4096\)" --model "$work/negative.json" --describe

printf 'name: c\nnode_groups:\n  - nodes: 2\n    gpu: h100-smx\n    gpus_per_node: 8\n' >"$work/gpu.yaml"
bad "unknown GPU in a file" "gpu.yaml:4: unknown GPU 'h100-smx' \(did you mean 'h100-sxm'\?\)" --cluster "$work/gpu.yaml"
bad "unknown GPU shorthand" "unknown GPU 'h100-smx' \(did you mean 'h100-sxm'\?\)" --nodes 2 --gpu h100-smx
bad "shorthand zero nodes" "--nodes must be > 0 \(got 0\)" --nodes 0 --gpu h100-sxm
bad "shorthand without gpu" "needs --nodes and --gpu" --nodes 2

bad "missing model file" "/nonexistent/config.json: cannot open the file" --model /nonexistent/config.json
bad "missing cluster file" "nosuch.yaml: cannot open the file" --cluster nosuch.yaml
bad "unknown bundled model" "unknown model 'deepseek-r2' \(did you mean 'deepseek-r1'\?\)" --model deepseek-r2
bad "unknown bundled cluster" "unknown cluster 'selen' \(did you mean 'selene'\?\)" --cluster selen

printf '{"model_type": "llama4", "hidden_size": 8}\n' >"$work/type.json"
bad "unsupported model_type" "type.json:1: unsupported model_type 'llama4' \(did you mean 'llama'\?\)" --model "$work/type.json" --describe

bad "unknown layout key" "--layout: unknown key 'tpp' \(did you mean 'tp'\?\)" --layout tpp=8
bad "invalid layout" "TP=3 does not divide the attention heads \\(128 heads" --memory --layout tp=3,pp=4,dp=2 --nodes 3 --gpu h100-sxm
bad "world mismatch" "TP×CP×PP×DP = 8×1×4×2 = 64 ranks, but the cluster has 8 GPUs" --memory --cluster h200-node
bad "options that would be ignored" "(--describe excludes --layout|--layout excludes --describe)" --describe --layout tp=8
bad "options that would be ignored" "(--gpus excludes --model|--model excludes --gpus)" --gpus --model gpt-175b
bad "bad format" "unknown format 'xml'" --describe --format xml
bad "zero seq len" "--seq-len must be > 0 \(got 0\)" --describe --seq-len 0

# Numeric options are checked before anything is searched or printed (JSON included).
bad "negative MTBF" "--gpu-mtbf-hours: -5 must be > 0 \(expected" --gpu-mtbf-hours -5
bad "zero MTBF" "--gpu-mtbf-hours: 0 must be > 0" --gpu-mtbf-hours 0
bad "negative restart" "--restart-s: -100 must be >= 0 \(expected" --restart-s -100
bad "zero price" "--price: 0 must be > 0 \(expected" --price 0
bad "negative price" "--price: -1 must be > 0" --price -1
bad "negative base lr" "--base-lr: -3 must be > 0" --base-lr -3 --base-batch 1024
bad "zero storage" "--storage-gb-per-s: 0 must be > 0" --storage-gb-per-s 0
bad "LAMB beta >= 1 in JSON" "--lamb-beta: 1.5 is outside \(0, 1\) \(expected" --lamb-beta 1.5 --format json
checks=$((checks + 1)); [ -z "$out" ] || fail "a refused --lamb-beta still printed a report: $out"
bad "LAMB beta >= 1 in text" "--lamb-beta: 1.5 is outside \(0, 1\)" --lamb-beta 1.5
checks=$((checks + 1)); [ -z "$out" ] || fail "a refused --lamb-beta still printed a report: $out"
bad "empty layout" "--layout: empty \(expected" --layout ""
bad "empty layout field" "--layout: empty field in 'tp=8,,' \(expected" --layout "tp=8,,"
bad "price not a number" "--price: 'abc' is not a number \(expected" --price abc
bad "top not an integer" "--top: 'x' is not an integer \(expected" --top x
bad "misspelt option" "--modle: unknown option of brix plan \(did you mean '--model'\?\)" --modle x
bad "hybrid shard of zero ranks" "--layout: shard=0 is not valid \(expected an integer >= 1\)" --nodes 2 --gpu h100-sxm --layout shard=0
bad "reshard not a flag" "--layout: reshard=2 is not valid \(expected 1 or 0\)" --nodes 2 --gpu h100-sxm --layout reshard=2
# A layout that parses but cannot run is explained, not refused: the problem names the rule.
run "$BRIX" plan --model llama-2-7b --nodes 2 --gpu h100-sxm --layout tp=1,pp=1,dp=16,zero=3,shard=6 --top 1
expect_rc 1 "shard not dividing dp"; expect_out "shard=6 does not divide DP=16"
run "$BRIX" plan --model llama-2-7b --nodes 2 --gpu h100-sxm --global-batch 64 --seq-len 4096 --layout tp=1,pp=1,dp=16,zero=3,shard=8,reshard=0 --top 1
expect_rc 0 "hybrid sharding without reshard"; expect_out "zero3 shard8 noreshard"
# Emitted, it is flags Megatron-Core 0.13 takes together, and what they need around them is said.
run "$BRIX" plan --model llama-2-7b --nodes 2 --gpu h100-sxm --global-batch 64 --seq-len 4096 --layout tp=1,pp=1,dp=16,zero=3,shard=8 --emit megatron
expect_rc 0 "hybrid sharding emitted"
expect_out '^--use-distributed-optimizer \\$'; expect_out '^--num-distributed-optimizer-instances 2 \\$'
expect_err "CUDA_DEVICE_MAX_CONNECTIONS is not 1"
run "$BRIX" plan --model llama-2-7b --nodes 2 --gpu h100-sxm --global-batch 64 --seq-len 4096 --layout tp=1,pp=1,dp=16,zero=3,shard=8 --emit deepspeed
expect_rc 0 "MiCS emitted"; expect_out '"mics_shard_size": 8'; expect_err "deepspeed.zero.MiCS_Init"

bad "unknown option far from any" "--zzzzzzzz: unknown option of brix plan \(expected one of .*--model" --zzzzzzzz

# Files: duplicate keys, unknown families, numbers as strings, unknown keys listed, empty files.
printf 'name: c\nnode_groups:\n  - nodes: 2\n    gpu: h100-sxm\n    gpus_per_node: 8\n    nodes: 4\n' >"$work/dup.yaml"
bad "duplicate key" "dup.yaml:6: key 'nodes' given twice in one mapping \(expected each key at most once\)" --cluster "$work/dup.yaml"
printf 'name: m\nfamily: gptx\nhidden: 1024\nlayers: 4\nheads: 8\n' >"$work/family.yaml"
bad "unknown family" "family.yaml:2: unknown family 'gptx' \(did you mean 'gpt'\?\) \(one of gpt" --model "$work/family.yaml" --describe
printf '{\n  "model_type": "llama",\n  "hidden_size": "4096",\n  "num_hidden_layers": 2\n}\n' >"$work/string.json"
bad "number as a string" "string.json:3: \"4096\" is a string \(expected an integer, without quotes\)" --model "$work/string.json" --describe
printf 'name: c\nnode_groups:\n  - nodes: 2\n    gpu: h100-sxm\n    gpus_per_node: 8\n    memory_gib: 80\n' >"$work/far-key.yaml"
bad "unknown key without a close match" "far-key.yaml:6: unknown key 'memory_gib' in a node group \(expected one of name, nodes, gpu, gpus_per_node, gpu_overrides" --cluster "$work/far-key.yaml"
: >"$work/empty.yaml"
bad "empty file" "empty.yaml:1: the file is empty \(expected a YAML or JSON mapping\)" --cluster "$work/empty.yaml"

finish
