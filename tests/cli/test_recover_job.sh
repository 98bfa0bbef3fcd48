#!/usr/bin/env bash
# brix recover JOB_DIR on synthetic job directories: --dry-run text/json naming the first failure
# and the exclusions; a fake scontrol/sbatch on PATH stands in for Slurm (the real one is
# exercised by test_recover_slurm.sh); a layout change after losing a node reshards a safetensors
# checkpoint and points the relaunch at it; exit codes 0 / 1 / 2.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tiny_checkpoint.sh"
job=$work/job
mkdir -p "$job/attempt_0" "$job/attempt_1" "$work/bin"

# Attempt 0: rank 3 on n2 killed by SIGKILL; attempt 1: node n2 lost. Monitor flagged n4.
cat >"$job/launch.json" <<JSON
{"brix_launch": 1, "run_id": "slurm-41", "slurm_job_id": "41", "attempt": 1, "max_restarts": 1,
 "nodes": [{"node_rank": 0, "node": "n1", "address": "n1", "nproc": 2, "nnodes": 2},
           {"node_rank": 1, "node": "n2", "address": "n2", "nproc": 2, "nnodes": 2}],
 "plan": "", "command": ["/usr/bin/brix-worker", "train", "--checkpoint-dir", "$work/ckpt"],
 "launch_args": ["--nproc-per-node", "2", "--log-dir", "$job", "--", "brix-worker", "train"],
 "time": 1764380000}
JSON
cat >"$job/attempt_0/stop.json" <<'JSON'
{"kind": "failed", "node_rank": 1, "node": "n2", "rank": 3, "local_rank": 1, "pid": 4242,
 "exit_code": 0, "signal": 9, "time": 1764380100.5, "restartable": true, "message": ""}
JSON
cat >"$job/attempt_1/stop.json" <<'JSON'
{"kind": "lost", "node_rank": 1, "node": "n2", "rank": -1, "time": 1764380200.0}
JSON
cat >"$job/events.jsonl" <<'JSONL'
{"time": 1764380100.5, "type": "exit", "node": "n2", "rank": 3, "message": "rank 3 killed", "signal": 9, "signal_name": "SIGKILL"}
{"time": 1764380150.0, "type": "straggler", "node": "n1", "rank": 0, "message": "slow"}
JSONL
cat >"$job/suspect-nodes.json" <<'JSON'
{"brix_suspect_nodes": 1, "nodes": [{"node": "n4", "reason": "gpu 2 at 94 C", "time": 1764380050}]}
JSON

# A fake Slurm: four nodes, n3 drained; job 41 failed; sbatch answers with job 42.
cat >"$work/bin/scontrol" <<'SH'
#!/bin/sh
case "$*" in
  "show node -o") printf '%s\n' "NodeName=n1 Arch=x86_64 State=IDLE Partitions=debug" \
     "NodeName=n2 Arch=x86_64 State=DOWN+NOT_RESPONDING Reason=Not responding [slurm@2026-11-29T04:00:00]" \
     "NodeName=n3 Arch=x86_64 State=IDLE+DRAIN Reason=ecc errors [root@2026-11-29T03:00:00]" \
     "NodeName=n4 Arch=x86_64 State=IDLE" "NodeName=n5 Arch=x86_64 State=IDLE" ;;
  "show job -o 41") echo "JobId=41 JobName=train JobState=FAILED Requeue=1 Restarts=0 BatchFlag=1 NodeList=n[1-2] NumNodes=2 Partition=debug Command=/w/sbatch-brix.sh WorkDir=/w StdOut=/w/slurm-41.out" ;;
  *) echo "scontrol: unexpected $*" >&2; exit 1 ;;
esac
SH
printf '#!/bin/sh\necho "$@" >>"%s/sbatch.args"\necho "Submitted batch job 42"\n' "$work" >"$work/bin/sbatch"
chmod +x "$work/bin/scontrol" "$work/bin/sbatch"
export PATH=$work/bin:$PATH
mkdir -p "$work/ckpt"

run "$BRIX" recover "$job" --dry-run --from-scratch
expect_rc 0 "dry run"
expect_out "^brix recover .* \(Slurm job 41\)$"
expect_out "^  1\. .* attempt 0  rank 3 on n2 killed by SIGKILL  \[attempt_0/stop.json\]$"
expect_out "^  2\. .* attempt 1  node n2 lost \(its agent stopped answering\)"
expect_out "^  n2: failure: rank 3 on n2 killed by SIGKILL .*; failure: node n2 lost .*; Slurm state DOWN\+NOT_RESPONDING \(Not responding\)$"
expect_out "^  n4: suspect \(brix monitor\): gpu 2 at 94 C$"
expect_out "^  n3: Slurm state IDLE\+DRAIN \(ecc errors\)$"
expect_out "^nodes: 2 usable \(n\[1,5\]\), 2 needed$"
expect_out "^  sbatch --exclude=n\[2-4\] --nodes=2 --job-name=train --partition=debug --chdir=/w --output=/w/slurm-41.out /w/sbatch-brix.sh --nproc-per-node 2 --log-dir $job -- brix-worker train$"
expect_out "^dry run: would relaunch"
checks=$((checks + 1)); [ ! -e "$work/sbatch.args" ] || fail "dry run ran sbatch"
checks=$((checks + 1)); [ ! -e "$job/recover-restarts.json" ] || fail "dry run wrote the restart count"

run "$BRIX" recover "$job" --dry-run --from-scratch --format json
expect_rc 0 "dry run json"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "json report: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["first_failure"]["description"] == "rank 3 on n2 killed by SIGKILL", r["first_failure"]
assert r["first_failure"]["signal"] == "SIGKILL" and r["first_failure"]["rank"] == 3
assert [e["node"] for e in r["exclude"]] == ["n2", "n4", "n3"], r["exclude"]
assert r["usable_nodes"] == ["n1", "n5"] and r["can_recover"] is True
assert r["relaunch"]["kind"] == "sbatch"
PY

# Without --from-scratch a good checkpoint is required: the worker's --checkpoint-dir has none.
run "$BRIX" recover "$job" --dry-run
expect_rc 1 "no checkpoint"
expect_out "^cannot recover: no good checkpoint in $work/ckpt \(--from-scratch relaunches without one\)$"

# --submit runs sbatch and counts the relaunch; the budget then refuses (exit 1).
run "$BRIX" recover "$job" --submit --max-restarts 1 --from-scratch
expect_rc 0 "submit"
expect_out "^submitted Slurm job 42$"
checks=$((checks + 1)); grep -q -- "--exclude=n\[2-4\]" "$work/sbatch.args" || fail "sbatch args: $(cat "$work/sbatch.args")"
run "$BRIX" recover "$job" --submit --max-restarts 1 --from-scratch
expect_rc 1 "budget spent"
expect_out "^cannot recover: restart budget spent: 1 of 1 relaunches used"

# Not enough nodes: n5 drained too.
sed -i 's/"NodeName=n5 Arch=x86_64 State=IDLE"/"NodeName=n5 State=DRAIN"/' "$work/bin/scontrol"
rm "$job/recover-restarts.json"
run "$BRIX" recover "$job" --dry-run --from-scratch --format yaml
expect_rc 1 "no nodes"
expect_out "^verdict: \"?cannot recover: not enough nodes left: 1 usable, 2 needed"

# A layout change (no Slurm): tp 2 x pp 2 on two nodes of 2 GPUs; n2 lost leaves one node, so the
# layout changes; the safetensors checkpoint is resharded and the relaunch must load the reshard.
command -v python3 >/dev/null || { echo "skip: python3 writes the test checkpoint"; exit 77; }
lj=$work/layout-job
mkdir -p "$lj/attempt_0"
make_checkpoint "$work/hf-ckpt/checkpoint-100"
cat >"$lj/cluster.yaml" <<'YAML'
name: two
network: {shape: rail-optimized, oversubscription: 1.0}
storage: {write_gb_per_s: 200, read_gb_per_s: 200}
node_groups:
  - {name: h100, nodes: 2, gpu: h100-sxm, gpus_per_node: 2}
YAML
cat >"$lj/plan.yaml" <<YAML
brix_plan: 1
model: {name: tiny, source: $work/hf-ckpt/checkpoint-100/config.json}
cluster: {name: two, source: cluster.yaml}
seq_len: 2048
batch: {global: 8, micro: 1, accumulation: 8}
layout: {tp: 2, pp: 2, dp: 1}
YAML
cat >"$lj/launch.json" <<JSON
{"brix_launch": 1, "run_id": "local-1", "slurm_job_id": "", "attempt": 0, "max_restarts": 0,
 "nodes": [{"node_rank": 0, "node": "n1", "address": "n1", "nproc": 2, "nnodes": 2},
           {"node_rank": 1, "node": "n2", "address": "n2", "nproc": 2, "nnodes": 2}],
 "plan": "$lj/plan.yaml", "command": ["brix-worker", "train", "--checkpoint-dir", "$work/hf-ckpt", "--steps", "9"],
 "launch_args": [], "time": 1764380000}
JSON
cat >"$lj/attempt_0/stop.json" <<'JSON'
{"kind": "lost", "node_rank": 1, "node": "n2", "rank": -1, "time": 1764380200.0}
JSON
run "$BRIX" recover "$lj" --format json
expect_rc 0 "layout change"
checks=$((checks + 1))
python3 - "$out" "$lj" "$work" <<'PY' || fail "layout change report: $out"
import json, sys
r, lj, work = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert r["replan"]["layout_changed"] is True, r["replan"]
assert r["checkpoint"]["latest"]["format"] == "safetensors" and r["checkpoint"]["latest"]["step"] == 100
assert r["checkpoint"]["resume_from"] == f"{lj}/recover-1/checkpoint", r["checkpoint"]
assert r["checkpoint"]["action"].startswith("layout changed: resharded"), r["checkpoint"]
cmd = r["relaunch"]["commands"][0]
assert cmd == (f"brix launch --hosts n1 --nproc-per-node 2 --plan {lj}/recover-1/plan.yaml -- "
               f"brix-worker train --checkpoint-dir {lj}/recover-1/checkpoint --steps 9"), cmd
assert f"{work}/hf-ckpt " not in cmd + " "
PY
checks=$((checks + 1))
[ -f "$lj/recover-1/checkpoint/brix-shards.json" ] || fail "no reshard in $lj/recover-1/checkpoint: $(ls -R "$lj/recover-1")"

# Bad input: exit 2, one line.
run "$BRIX" recover "$work/nope" --dry-run
expect_rc 2 "missing dir"
expect_err "^brix: error: .*/nope: no such job directory"
expect_one_line_err
run "$BRIX" recover "$job" --dry-run --submit
expect_rc 2 "two modes"
finish
