#!/usr/bin/env bash
# Node failure under a real Slurm (controller + 3 emulated nodes on loopback, started here):
# brix-worker train on 2 nodes via sbatch + brix launch; the second node's slurmd, its job step
# and its workers are killed (SIGKILL) mid-run; the job fails; `brix recover JOB_DIR --submit`
# names the lost node, submits the job's own script again with --exclude, and the new job
# completes on the other two nodes, resuming from the latest checkpoint.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
export BRIX_SLURM_NODES=3
start_slurm
cd "$work"
export BRIX
wrapper=$BRIX_SOURCE_DIR/scripts/sbatch-brix.sh
job=$work/job

# env_pids NAME=VALUE: processes whose environment holds NAME=VALUE.
env_pids() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$1" && echo "${p#/proc/}"
  done
}

rdzv=$(free_port); master=$(free_port)
started=$(date +%s.%N)
id=$(sbatch --parsable --no-requeue -N 2 -o "$work/train.out" "$wrapper" --nproc-per-node 1 \
  --agent-timeout 3 --grace 2 --rdzv-port "$rdzv" --master-port "$master" --log-dir "$job" -- \
  "$WORKER" train --steps 300 --step-sleep-ms 40 --backend gloo --timeout 20 \
  --checkpoint-dir "$work/ckpt" --checkpoint-every 20)
# Kill only once a checkpoint is on disk (step 20 of 300, 40 ms a step): the recovery must have
# one to resume from, and waiting on the saved line (not a step count) keeps that true however
# fast or slow the machine runs.
for _ in $(seq 300); do
  grep -q "checkpoint step [0-9]* saved" "$job/attempt_0/rank_0.out" 2>/dev/null && break; sleep 0.1
done
checks=$((checks + 1)); [ -s "$job/launch.json" ] || fail "no launch.json after 30 s: $(cat "$work/train.out")"
checks=$((checks + 1))
grep -q "checkpoint step [0-9]* saved" "$job/attempt_0/rank_0.out" 2>/dev/null ||
  fail "no checkpoint saved after 30 s: $(tail -5 "$job/attempt_0/rank_0.out" 2>/dev/null)"
nodes=$(scontrol show job "$id" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)
victim=$(scontrol show hostnames "$nodes" | tail -1)

# The node dies: its slurmd, the job step's slurmstepd there and everything it started.
kill_at=$(date +%s.%N)
pids=$(env_pids "SLURMD_NODENAME=$victim")
parents=$(for p in $pids; do ps -o ppid= -p "$p"; done | sort -u)
for p in $parents; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ] && pids="$pids $p"; done
checks=$((checks + 1)); [ -n "$pids" ] || fail "no process of the job on $victim"
kill -KILL "$(cat "$slurm_dir/slurmd-$victim.pid")" $pids 2>/dev/null
wait_job "$id" 90
failed_at=$(date +%s.%N)
checks=$((checks + 1)); [ "$job_state" != COMPLETED ] || fail "the job completed although $victim died"
checks=$((checks + 1)); [ -s "$job/attempt_0/stop.json" ] || fail "no stop record: $(cat "$work/train.out")"

run "$BRIX" recover "$job" --dry-run --format json
expect_rc 0 "recover --dry-run"
checks=$((checks + 1))
python3 - "$out" "$victim" <<'PY' || fail "dry-run report: $out"
import json, sys
r, victim = json.loads(sys.argv[1]), sys.argv[2]
# The first failure is often a peer's collective error (rank 0 exits 1 when its connection to the
# dead node resets); the node itself is named by the launcher (lost) or by Slurm (NODE_FAIL).
assert r["first_failure"] is not None, r
assert any(f["node"] == victim and f["kind"] in ("node_lost", "node_failed") for f in r["failures"]), r["failures"]
assert [e["node"] for e in r["exclude"]] == [victim], r["exclude"]
latest = r["checkpoint"]["latest"]
assert latest["format"] == "brix" and latest["step"] >= 20 and latest["status"] == "complete", r["checkpoint"]
assert victim not in r["usable_nodes"] and len(r["usable_nodes"]) == 2, r["usable_nodes"]
assert r["relaunch"]["commands"][0].startswith("sbatch --exclude=" + victim + " --nodes=2"), r["relaunch"]
PY

run "$BRIX" recover "$job" --submit --max-restarts 1
expect_rc 0 "recover --submit"
expect_out "node $victim (lost|failed)"
expect_out "^  $victim: failure: node $victim (lost|failed)"
expect_out "^submitted Slurm job [0-9]+$"
new_id=$(grep -oE '^submitted Slurm job [0-9]+$' <<<"$out" | grep -oE '[0-9]+$')
checks=$((checks + 1)); [ -n "$new_id" ] || fail "no new job id: $out"
wait_job "$new_id" 90
done_at=$(date +%s.%N)
new_nodes=$(scontrol show job "$new_id" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)
checks=$((checks + 1)); [ "$job_state" = COMPLETED ] || fail "relaunched job $new_id: $job_state $job_exit: $(tail -20 "$work/train.out")"
checks=$((checks + 1)); scontrol show hostnames "$new_nodes" | grep -qx "$victim" && fail "relaunch ran on $victim ($new_nodes)"
checks=$((checks + 1)); grep -q '"kind": "done"' "$job/attempt_0/stop.json" || fail "relaunch stop record: $(cat "$job/attempt_0/stop.json")"
# The relaunch resumed from the checkpoint recover found, not from step 0.
out=$(cat "$job/attempt_0/rank_0.out")
expect_out "resumed from checkpoint step [1-9][0-9]*"
expect_out "rank 0 done after 300 steps"

run "$BRIX" recover "$job" --dry-run
expect_rc 1 "recover after completion"
expect_out "^cannot recover: the job completed"

grep -o "resumed from checkpoint step [0-9]*" "$job/attempt_0/rank_0.out" | head -1
printf 'timing: kill -> job ended %.1f s; relaunch ran to completion in %.1f s; whole test %.1f s\n' \
  "$(echo "$failed_at - $kill_at" | bc)" "$(echo "$done_at - $failed_at" | bc)" "$(echo "$done_at - $started" | bc)"
finish
