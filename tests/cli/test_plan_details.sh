#!/usr/bin/env bash
# brix plan's per-plan details beyond the ranking: checkpoint interval (storage given or
# assumed), optimizer settings (learning-rate scaling, LAMB β) in every format.
source "$(dirname "$0")/lib.sh"

# check_json DESCRIPTION PYTHON: runs PYTHON with the JSON document of $out as `doc`.
check_json() {
  checks=$((checks + 1))
  python3 -c "import json, sys
doc = json.loads(sys.argv[1])
$2" "$out" || fail "$1"
}

# Every plan has a computed checkpoint object, on a bundled cluster with storage figures ...
run "$BRIX" plan --model llama-3.1-70b --cluster dgx-h100-superpod --global-batch 512 --format json
expect_rc 0 "superpod json"
check_json "checkpoint on a bundled cluster" '
for p in doc["plans"]:
    c = p["checkpoint"]
    for key in ("interval_s", "size_gib", "write_s", "overhead", "goodput"):
        assert isinstance(c[key], (int, float)) and not isinstance(c[key], bool), (key, c)
    assert c["interval_s"] > c["write_s"] > 0 and 0 < c["overhead"] < 1 and abs(c["goodput"] + c["overhead"] - 1) < 1e-9, c
    assert c["storage_assumed"] is False and c["storage_write_gb_per_s"] == 64, c
'
# ... and on the shorthand, with the assumed per-node bandwidth said so.
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 64 --format json
expect_rc 0 "shorthand json"
check_json "checkpoint on the shorthand (assumed storage)" '
c = doc["plans"][0]["checkpoint"]
assert c["storage_assumed"] is True and c["storage_write_gb_per_s"] == 4, c
assert "assumed" in c["storage_source"], c
assert c["interval_s"] > 0 and c["size_gib"] > 0 and 0 < c["goodput"] < 1, c
'
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 64
expect_rc 0 "shorthand text"; expect_out '^checkpoint: .* at 4 GB/s \(assumed 2 GB/s per node × 2 nodes'
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 64 --storage-gb-per-s 50 --format json
expect_rc 0 "--storage-gb-per-s"
check_json "--storage-gb-per-s overrides" '
c = doc["plans"][0]["checkpoint"]
assert c["storage_assumed"] is False and c["storage_write_gb_per_s"] == 50, c
'
for cluster in dgx-h100-superpod example-deployment h200-node h800-2048 selene; do
  checks=$((checks + 1))
  grep -qE '^storage: \{write_gb_per_s: [0-9.]+' "$BRIX_SOURCE_DIR/configs/clusters/$cluster.yaml" ||
    fail "bundled cluster $cluster has no storage bandwidth"
done

# Learning-rate scaling is suggested without --base-lr (factor against the 4M-token batch) and
# with it (the value), in text and JSON; LAMB β too, the refusal as a warning on stderr.
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 4096 --seq-len 4096
expect_rc 0 "lr text"; expect_out '^learning rate: square-root .* batch 4096 is × 4\.000 of the 4M-token batch \(1024 sequences\): scale a learning rate tuned there by 2\.000'
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 4096 --seq-len 4096 --format json \
  --base-lr 3e-4 --base-batch 1024 --lamb-beta 0.9 --lamb-beta 0.999
expect_rc 0 "optimizer json"; expect_err '^brix: warning: LAMB beta 0.999 .* scaling refused'
check_json "optimizer object" '
o = doc["optimizer"]
lr = o["lr_scaling"]
assert lr["batch"] == 4096 and lr["reference_batch"] == 1024 and abs(lr["factor"] - 2) < 1e-12, lr
assert abs(lr["lr"] - 6e-4) < 1e-12 and lr["base_lr"] == 3e-4, lr
b = {x["beta"]: x for x in o["lamb_betas"]}
assert b[0.9]["refused"] is False and abs(b[0.9]["used"] - 0.9 * (1 + 0.05 * __import__("math").log(2))) < 1e-12, b
assert b[0.999]["refused"] is True and b[0.999]["used"] == 0.999 and b[0.999]["scaled"] > 1, b
'
run "$BRIX" plan --model llama-3.1-8b --nodes 2 --gpu h100-sxm --global-batch 64 --format yaml --lamb-beta 0.9
expect_rc 0 "optimizer yaml"; expect_out '^optimizer:'; expect_out '^  lr_scaling:'; expect_out '^  lamb_betas:'

# Mixed clusters: the mixed plan has the plans' shape (layout object, memory, HFU, bubble,
# exposed communication), null where a value does not exist, and says what its search covers.
run "$BRIX" plan --format json
expect_rc 0 "default json"
check_json "mixed plan shape" '
m = doc["mixed"]
layout_keys = {"tp", "pp", "dp", "ep", "etp", "cp", "sp", "micro_batch", "vpp", "schedule", "recompute", "zero",
               "precision", "grad_compression"}
assert isinstance(m["layout"], dict) and set(m["layout"]) == layout_keys, m["layout"]
for key in ("weights", "grads", "optimizer", "activations", "other", "total"):
    assert m["memory_gib"][key] >= 0, m["memory_gib"]
assert 0 < m["memory_gib"]["total"] <= 80.5, m["memory_gib"]
assert 0 < m["mfu"] <= m["hfu"] < 1 and 0 < m["bubble_fraction"] < 1, m
assert set(m["comm_exposed_s"]) == {"tp", "pp", "dp", "ep", "cp"} and m["comm_exposed_s"]["pp"] > 0, m["comm_exposed_s"]
u = m["uniform_step_time_s"]
assert u is None or u > 0, u
assert (u is None) == (m["stage_split"]["uniform_step_s"] is None), (u, m["stage_split"])
h = doc["homogeneous_subset"]
assert (h["layout"] is None) == (h["step_time_s"] is None), h
if h["layout"] is not None:
    assert set(h["layout"]) == layout_keys and h["step_time_s"] > 0, h
s = doc["mixed_search"]
assert "1F1B" in s["covers"] and "ZeRO 1/3" in s["covers"] and s["not_searched"] is None and s["evaluated"] > 0, s
'
run "$BRIX" plan
expect_rc 0 "default text"; expect_out '^  mixed search covers: 1F1B, vpp 1, '
expect_out '^  best: .*HFU [0-9.]+%, bubble [0-9.]+%, memory [0-9.]+ GiB \(stage [0-9]+\)'
run "$BRIX" plan --layout schedule=zb-h1
expect_out '^  not searched: --layout asks for schedule=zb-h1 \(it runs 1F1B only\)'
run "$BRIX" plan --layout schedule=zb-h1 --format json
check_json "mixed search not run" '
assert doc["mixed"] is None and doc["mixed_search"]["not_searched"].startswith("schedule=zb-h1"), doc["mixed_search"]
'

finish
