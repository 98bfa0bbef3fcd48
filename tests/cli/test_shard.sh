#!/usr/bin/env bash
# brix shard: the rank map of a plan on real-looking nodes, its output formats, hostfile and errors.
source "$(dirname "$0")/lib.sh"
fixtures="$BRIX_SOURCE_DIR/tests/fixtures/shard"

# A Llama-3.1-8B plan on two DGX H100 nodes: tp 4, pp 2, dp 2.
cat >"$work/plan.yaml" <<YAML
brix_plan: 1
model: {name: llama-3.1-8b, source: ""}
cluster: {name: dgx-pair, source: $fixtures/dgx-h100-pair.yaml}
seq_len: 8192
batch: {global: 64, micro: 1, accumulation: 32}
layout: {tp: 4, pp: 2, dp: 2, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}
YAML

run "$BRIX" shard --plan "$work/plan.yaml" --hostfile "$work/hosts"
expect_rc 0 "rank map"
expect_out '^16 ranks on 2 node\(s\)'
# Llama is dense: Megatron's expert-TP is tp, so the expert-data-parallel rank (edp) equals dp.
expect_out '^ +5 +dgx-a +5 +1 +0 +1 +0 +0 +1 +0-15 +1 +70-83,182-195 +mlx5_5 \(PXB\)'
expect_out '^ +13 +dgx-b +5 +1 +0 +1 +1 +0 +1 +16-31 '
checks=$((checks + 1)); [ "$(sort "$work/hosts" | uniq -c | tr -s ' ')" = "$(printf ' 8 dgx-a\n 8 dgx-b')" ] || fail "hostfile: $(cat "$work/hosts")"

run "$BRIX" shard --plan "$work/plan.yaml" --format json
expect_rc 0 "json"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "json content"
import json, sys
doc = json.loads(sys.argv[1])
r = doc["ranks"][5]
assert doc["world"] == 16 and doc["order"] == "tp-cp-ep-dp-pp"
assert r["groups"]["tp"] == [4, 5, 6, 7] and r["groups"]["dp"] == [1, 5] and r["groups"]["pp"] == [5, 13]
assert r["env"]["NCCL_IB_HCA"] == "=mlx5_5:1" and r["env"]["LOCAL_RANK"] == "5"
assert r["bind"] == "numactl --physcpubind=70-83,182-195 --membind=1"
assert doc["findings"] == []
PY

run "$BRIX" shard --plan "$work/plan.yaml" --format yaml
expect_rc 0 "yaml"; expect_out '^order: tp-cp-ep-dp-pp'

# Probe reports as nodes: two copies of one node's report.
run "$BRIX" shard --plan "$work/plan.yaml" --nodes "$fixtures/dgx-a-probe.yaml" "$fixtures/dgx-a-probe.yaml" --order tp-dp-pp
expect_rc 0 "probe files"; expect_out 'order tp-dp-pp-cp-ep'

# A dense model with Megatron's pp-before-dp order: expert-TP defaults to TP, so it is accepted.
run "$BRIX" shard --plan "$work/plan.yaml" --order tp-cp-ep-pp-dp --format json
expect_rc 0 "dense model, order tp-cp-ep-pp-dp"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "dense pp-before-dp groups: $err"
import json, sys
doc = json.loads(sys.argv[1])
r = doc["ranks"][5]  # rank = tp + 4·(pp + 2·dp): tp 1, pp 1, dp 0
assert doc["order"] == "tp-cp-ep-pp-dp"
assert r["groups"]["tp"] == [4, 5, 6, 7] and r["groups"]["pp"] == [1, 5] and r["groups"]["dp"] == [5, 13]
PY

# An adapter whose port is down (the faulty fixture's mlx5_3) is passed over and reported.
hwloc="$BRIX_SOURCE_DIR/tests/fixtures/hwloc"
run env SLURMD_NODENAME=f1 "$BRIX" probe --topology "$hwloc/dgx-h100-faulty.xml" --out "$work/P"
expect_rc 0 "probe f1"
run env SLURMD_NODENAME=a1 "$BRIX" probe --topology "$hwloc/dgx-a100.xml" --out "$work/P"
expect_rc 0 "probe a1"
run "$BRIX" shard --plan "$work/plan.yaml" --nodes "$work/P/f1.yaml" "$work/P/a1.yaml" --format json
expect_rc 0 "adapter down"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "adapter down: $out"
import json, sys
doc = json.loads(sys.argv[1])
f1 = [r for r in doc["ranks"] if r["node"]["name"] == "f1"]
assert len(f1) == 8
assert all("mlx5_3" not in r["env"]["NCCL_IB_HCA"] for r in f1), [r["env"]["NCCL_IB_HCA"] for r in f1]
assert doc["ranks"][3]["env"]["NCCL_IB_HCA"] != "=mlx5_3:1"
down = [f for f in doc["findings"] if f["check"] == "adapter-down"]
assert len(down) == 1 and down[0]["message"].startswith("f1: adapter mlx5_3 port 1 is DOWN"), doc["findings"]
PY
run "$BRIX" shard --plan "$work/plan.yaml" --nodes "$work/P/f1.yaml" "$work/P/a1.yaml"
expect_rc 0 "adapter down, text"; expect_out 'warning: \[adapter-down\] f1: adapter mlx5_3 port 1 is DOWN'

# The same through `brix probe merge`: the faulty node's topology is its own, not its group's, so
# its ranks are still kept off the adapter that is down (the merge used to keep one topology per
# group and bind them to it silently).
for node in g1 g2; do
  run env SLURMD_NODENAME=$node "$BRIX" probe --topology "$hwloc/dgx-h100.xml" --out "$work/M"
  expect_rc 0 "probe $node"
done
run env SLURMD_NODENAME=f1 "$BRIX" probe --topology "$hwloc/dgx-h100-faulty.xml" --out "$work/M"
expect_rc 0 "probe f1 for the merge"
run "$BRIX" probe merge "$work/M" -o "$work/merged.yaml"
expect_rc 0 "merge with a faulty node"
expect_out "note: group h100-sxm-2: f1 split from group h100-sxm"
sed 's/tp: 4, pp: 2, dp: 2/tp: 8, pp: 1, dp: 3/; s/global: 64, micro: 1, accumulation: 32/global: 24, micro: 1, accumulation: 8/' \
  "$work/plan.yaml" >"$work/plan24.yaml"
run "$BRIX" shard --plan "$work/plan24.yaml" --nodes "$work/merged.yaml" --format json
expect_rc 0 "shard on the merged cluster"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "merged cluster, adapter down: $out"
import json, sys
doc = json.loads(sys.argv[1])
f1 = [r for r in doc["ranks"] if r["node"]["name"] == "f1"]
assert len(f1) == 8, [r["node"]["name"] for r in doc["ranks"]]
assert all("mlx5_3" not in r["env"]["NCCL_IB_HCA"] for r in f1), [r["env"]["NCCL_IB_HCA"] for r in f1]
down = [f for f in doc["findings"] if f["check"] == "adapter-down"]
assert len(down) == 1 and down[0]["message"].startswith("f1: adapter mlx5_3 port 1 is DOWN"), doc["findings"]
PY

# Checks: a TP group across nodes (pp and dp before tp) is reported, the map still printed.
run "$BRIX" shard --plan "$work/plan.yaml" --order pp-dp-tp-cp-ep
expect_rc 0 "tp across nodes"; expect_out 'warning: \[tp-across-nodes\]'

# Bad input: one line, exit 2.
sed 's/tp: 4, pp: 2, dp: 2/tp: 8, pp: 2, dp: 2/; s/global: 64/global: 64/' "$work/plan.yaml" >"$work/big.yaml"
run "$BRIX" shard --plan "$work/big.yaml"
expect_rc 2 "more ranks than GPUs"; expect_one_line_err
expect_err 'the plan needs 32 ranks \(tp 8 × cp 1 × dp 2 × pp 2\) but the nodes have 16 GPUs \(2 nodes\)'

run "$BRIX" shard --plan "$work/plan.yaml" --order tp-cp-xq-dp-pp
expect_rc 2 "bad order"; expect_one_line_err; expect_err "unknown dimension 'xq'"

sed 's/seq_len:/seq_lne:/' "$work/plan.yaml" >"$work/typo.yaml"
run "$BRIX" shard --plan "$work/typo.yaml"
expect_rc 2 "typo"; expect_one_line_err; expect_err "typo.yaml:4: unknown key 'seq_lne' in the plan \(did you mean 'seq_len'\?\)"

run "$BRIX" shard
expect_rc 2 "no plan"; expect_err -- '--plan is required'

sed 's/cluster: {name: dgx-pair, source: .*}/cluster: {name: dgx-pair, source: nowhere.yaml}/' "$work/plan.yaml" >"$work/lost.yaml"
run "$BRIX" shard --plan "$work/lost.yaml"
expect_rc 2 "missing cluster"; expect_one_line_err; expect_err "cluster.source 'nowhere.yaml' not found"

# A cluster file without hosts: the map prints, the hostfile is refused.
run "$BRIX" shard --plan "$work/plan.yaml" --nodes "$BRIX_SOURCE_DIR/configs/clusters/example-deployment.yaml" --hostfile "$work/h2"
expect_rc 2 "hostfile without hosts"; expect_err 'cannot write a hostfile'
checks=$((checks + 1)); [ ! -e "$work/h2" ] || fail "hostfile written anyway"

finish
