#!/usr/bin/env bash
# Limits where input enters (issue 17): input that would hang, blow up or be misread is refused
# with one located line and exit 2, quickly. Every command runs under `timeout`, so a hang fails
# the check instead of the suite.
source "$(dirname "$0")/lib.sh"

# bad SECONDS DESCRIPTION STDERR-REGEX CMD...: exit 2, one line on stderr matching the regex,
# within SECONDS.
bad() {
  local limit=$1 what=$2 pattern=$3
  shift 3
  run timeout "$limit" "$@"
  expect_rc 2 "$what"; expect_err "^brix: error: .*$pattern"; expect_one_line_err
}

# Files that are not regular files are refused at once, never opened for a blocking read.
mkfifo "$work/fifo.yaml" "$work/fifo.json"
bad 20 "FIFO model" "fifo.json: cannot open the file: is a FIFO, not a regular file" \
  "$BRIX" plan --model "$work/fifo.json" --describe
bad 20 "FIFO cluster" "fifo.yaml: cannot open the file: is a FIFO, not a regular file" \
  "$BRIX" plan --cluster "$work/fifo.yaml"
bad 20 "device as rules" "/dev/zero: cannot open the file: is a character device, not a regular file" \
  "$BRIX" monitor rules /dev/zero
bad 20 "directory as plan" "cannot open the file: is a directory, not a regular file" \
  "$BRIX" shard --plan "$work"
bad 20 "FIFO hostfile" "fifo.yaml: cannot open the file: is a FIFO" \
  "$BRIX" launch --hostfile "$work/fifo.yaml" -- true

# --hosts '' is an error, never "no list, so localhost" (brix-launch(1)).
bad 20 "empty --hosts" "--hosts: empty \(expected a value\)" "$BRIX" launch --hosts '' -- true
bad 20 "empty --hostfile" "--hostfile: empty \(expected a value\)" "$BRIX" launch --hostfile '' -- true

# Hostlists: products are counted before anything is expanded; ids too long for 64 bits are input
# errors, not "internal: stoll".
bad 20 "hostlist product" "--hosts: malformed hostlist 'n\[0-99999\]x\[0-99999\]' \(names more than 100000 hosts\)" \
  "$BRIX" launch --hosts 'n[0-99999]x[0-99999]' --node-rank 0 -- true
bad 20 "hostlist id overflow" "has more than 18 digits" "$BRIX" launch --hosts 'n[0-9999999999999999999]' --node-rank 0 -- true

# Model sizes: bounded where they are read, at the line that gave them.
printf '{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 32000,\n"intermediate_size": 11008, "num_hidden_layers": 9223372036854775807}\n' >"$work/deep.json"
bad 20 "num_hidden_layers at int64 max" "deep.json:2: layers 9,223,372,036,854,775,807 is larger than any model brix can plan \(expected at most 16,384\)" \
  "$BRIX" plan --model "$work/deep.json" --describe
printf '{"model_type": "llama", "hidden_size": 2147483647, "num_attention_heads": 1, "vocab_size": 2147483647,\n"intermediate_size": 2147483647, "num_hidden_layers": 64}\n' >"$work/wide.json"
bad 20 "int32-max sizes" "wide.json:1: hidden size 2,147,483,647 is larger than any model" "$BRIX" plan --model "$work/wide.json" --describe
cat >"$work/moe.json" <<'JSON'
{"model_type": "deepseek_v3", "hidden_size": 7168, "num_hidden_layers": 61, "num_attention_heads": 128,
 "vocab_size": 129280, "intermediate_size": 18432, "kv_lora_rank": 512, "q_lora_rank": 1536,
 "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 256,
 "num_experts_per_tok": 1000, "moe_intermediate_size": 2048, "first_k_dense_replace": 3}
JSON
bad 20 "more experts per token than experts" "moe.json:4: 1000 experts per token, but the model has 256 routed experts" \
  "$BRIX" plan --model "$work/moe.json" --describe
sed 's/"num_experts_per_tok": 1000/"num_experts_per_tok": 8/; s/"first_k_dense_replace": 3/"first_k_dense_replace": 61/' \
  "$work/moe.json" >"$work/dense.json"
bad 20 "every layer dense" "dense.json:4: 61 leading dense layers leave no MoE layer of 61" "$BRIX" plan --model "$work/dense.json" --describe

# A YAML alias bomb: refused when read, not walked for minutes.
python3 - "$work/bomb.yaml" <<'PY'
import sys
lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
for level in "bcdefghij":
    previous = chr(ord(level) - 1)
    lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
open(sys.argv[1], "w").write("\n".join(lines) + "\nname: bomb\nnode_groups: *j\n")
PY
bad 20 "alias bomb" "bomb.yaml:[0-9]+: the document has more than 4000000 nodes once its aliases are expanded" \
  "$BRIX" plan --cluster "$work/bomb.yaml"

# Cluster sizes in 64-bit arithmetic, named as the user wrote them.
bad 20 "5,000,000 nodes" "--nodes 5,000,000 is more than brix plans \(expected at most 1,000,000\)" \
  "$BRIX" plan --nodes 5000000 --gpu h100-sxm
bad 20 "GPU product" "--nodes × --gpus-per-node = 4,096,000,000 GPUs is more than brix plans" \
  "$BRIX" plan --nodes 1000000 --gpus-per-node 4096 --gpu h100-sxm
plan_with_cluster() { # plan_with_cluster FILE SOURCE: a plan file whose cluster source is SOURCE
  cat >"$1" <<YAML
brix_plan: 1
model: {name: llama-3.1-8b, source: ""}
cluster: {name: shorthand, source: "$2"}
seq_len: 8192
batch: {global: 64, micro: 1, accumulation: 32}
layout: {tp: 4, pp: 2, dp: 2, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}
YAML
}
plan_with_cluster "$work/huge.yaml" "shorthand:nodes=99999999999,gpus_per_node=8,gpu=h100-sxm"
bad 20 "plan file shorthand with 10^11 nodes" "cluster 'shorthand:nodes=99999999999,gpus_per_node=8,gpu=h100-sxm': nodes 99,999,999,999 is more than brix plans" \
  "$BRIX" shard --plan "$work/huge.yaml"
plan_with_cluster "$work/negative.yaml" "shorthand:nodes=-1,gpus_per_node=8,gpu=h100-sxm"
bad 20 "plan file shorthand with -1 nodes" "cluster 'shorthand:nodes=-1,gpus_per_node=8,gpu=h100-sxm': nodes must be > 0 \(got -1\)" \
  "$BRIX" shard --plan "$work/negative.yaml"
checks=$((checks + 1)); ! grep -q -- "--nodes" <<<"$err" || fail "blames --nodes, which the user never gave: $err"

# --top: 1 to 100 plans, and 100 are shown in bounded time (~0.2 s each on a loaded 2-core machine).
bad 20 "--top 10000" "--top 10000: shows 1 to 100 plans" "$BRIX" plan --top 10000
bad 20 "--top 0" "--top 0: shows 1 to 100 plans" "$BRIX" plan --top 0
run timeout 120 "$BRIX" plan --top 100 --format json
expect_rc 0 "--top 100"
checks=$((checks + 1)); [ "$(jq '.plans | length' <<<"$out")" -eq 100 ] || fail "--top 100 showed $(jq '.plans | length' <<<"$out") plans"

finish
