#!/usr/bin/env bash
# brix probe --bench under a real Slurm (controller + 4 emulated nodes n1..n4 on loopback,
# started here), the way users run it: srun --ntasks-per-node=1 brix probe --bench. Node n3 is
# throttled 500x with the fault-injection knob: the job's output names it and the job fails.
# Contention on a 2-core machine moves link speeds 8x between rounds (tests/cli/test_probe_bench.sh),
# so links are judged at 5% and at least one of n3's links must be slow, not all three.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
start_slurm
cd "$work"

rdzv=$(free_port); master=$(free_port)
id=$(sbatch --parsable -N 4 -o "$work/fabric.out" --wrap "srun --ntasks-per-node=1 '$BRIX' probe \
  --bench --backend gloo --size 1M --warmup 1 --iters 5 --threshold 0.05 --throttle-node 2 \
  --throttle-factor 500 --rdzv-port $rdzv --master-port $master --rdzv-timeout 60 \
  --log-dir '$work/logs' --save '$work/fabric.json'")
wait_job "$id" 120
out=$(cat "$work/fabric.out")
checks=$((checks + 1)); [ "$job_state" = FAILED ] || fail "fabric job: $job_state $job_exit (expected FAILED, exit 1): $out"
checks=$((checks + 1)); [ "$job_exit" = "1:0" ] || fail "fabric job exit $job_exit, expected 1:0: $out"
expect_out "^# brix fabric: 4 nodes, 4 ranks, gloo backend, 1048576 bytes per exchange"
expect_out "^# fault injected: node n3 throttled 500x"
expect_out "^node n3: [1-3] of 3 inter-node links slow, its median link at [0-9]+% of the other links' median"
expect_count "nodes named" "$(grep -c '^node n' <<<"$out")" 1
expect_count "nodes that only measured" "$(grep -c "this node's part of the fabric measurement is done" <<<"$out")" 3
checks=$((checks + 1)); [ -s "$work/fabric.json" ] || fail "no saved result"

finish
