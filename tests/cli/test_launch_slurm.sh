#!/usr/bin/env bash
# brix launch under a real Slurm (controller + 4 emulated nodes on loopback, started here):
# the sbatch wrapper -> srun -> brix launch -> brix-worker bench on gloo, 4 nodes x 2 ranks;
# a restart after a failing rank; SIGTERM to the job with its grace period.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
start_slurm
cd "$work"
export BRIX
wrapper=$BRIX_SOURCE_DIR/scripts/sbatch-brix.sh
tag="brixst$$"

# 1. nccl-tests style all-reduce over gloo: rank layout and data check.
rdzv=$(free_port); master=$(free_port)
id=$(sbatch --parsable -N 4 -o "$work/bench.out" "$wrapper" --nproc-per-node 2 \
  --rdzv-port "$rdzv" --master-port "$master" --log-dir "$work/bench" -- \
  "$WORKER" bench --op allreduce --min 8 --max 256K -w 1 -n 3 --backend gloo)
wait_job "$id" 120
out=$(cat "$work/bench.out")
checks=$((checks + 1)); [ "$job_state" = COMPLETED ] || fail "bench job: $job_state $job_exit: $out"
for rank in 0 1 2 3 4 5 6 7; do
  node=$((rank / 2 + 1)); local_rank=$((rank % 2))
  expect_out "^\[rank 0\] #  Rank +$rank Pid +[0-9]+ on +n$node local rank $local_rank$"
done
expect_out "^\[rank 0\] # brix-worker bench: allreduce on gloo, 8 ranks"
expect_out "^\[rank 0\] +262144 +65536 +float +sum +-1( +[0-9.]+){3} +0( +[0-9.]+){3} +0$"
expect_out "Out of bounds values : 0 OK"
expect_out "Avg bus bandwidth"
expect_out "attempt 0: 4 node\(s\), 8 rank\(s\)"

# 2. One rank exits 1 in its first attempt: with --max-restarts 1 every worker restarts once.
cat >"$work/flaky.sh" <<'SCRIPT'
#!/bin/sh
echo "attempt $TORCHELASTIC_RESTART_COUNT rank $RANK on $BRIX_NODE"
if [ "$RANK" = 5 ] && [ "$TORCHELASTIC_RESTART_COUNT" = 0 ]; then echo "rank 5 fails" >&2; exit 1; fi
exec "$WORKER" bench --op allreduce --min 1K --max 4K -w 1 -n 1 --backend gloo
SCRIPT
chmod +x "$work/flaky.sh"
rdzv=$(free_port); master=$(free_port)
id=$(WORKER=$WORKER sbatch --parsable -N 4 -o "$work/restart.out" "$wrapper" --nproc-per-node 2 \
  --max-restarts 1 --rdzv-port "$rdzv" --master-port "$master" --log-dir "$work/restart" -- \
  "$work/flaky.sh")
wait_job "$id" 120
out=$(cat "$work/restart.out")
checks=$((checks + 1)); [ "$job_state" = COMPLETED ] || fail "restart job: $job_state $job_exit: $out"
expect_out "first failure: rank 5 \(local rank 1, pid [0-9]+\) on node n3 \(node rank 2\) exited with code 1"
expect_out "restarting every worker: restart 1 of 1 \(rank 5 on n3 failed\)"
expect_out "attempt 1 rank 7 on n4"
expect_out "Out of bounds values : 0 OK"
expect_out "job done: 8 rank\(s\) exited 0 \(attempt 1\)"
expect_count "attempt directories" "$(count_files "$work/restart/attempt_*")" 2

# 3. SIGTERM to the job: every worker sees it, cleans up within the grace period, nothing is left.
cat >"$work/graceful.sh" <<'SCRIPT'
#!/bin/sh
trap 'touch "$MARKS/term.$RANK"; sleep 2; touch "$MARKS/clean.$RANK"; exit 0' TERM
touch "$MARKS/up.$RANK"
while :; do sleep 0.1; done
SCRIPT
chmod +x "$work/graceful.sh"
mkdir -p "$work/marks"
rdzv=$(free_port); master=$(free_port)
id=$(MARKS=$work/marks sbatch --parsable -N 4 -o "$work/term.out" "$wrapper" --nproc-per-node 2 \
  --grace 8 --rdzv-port "$rdzv" --master-port "$master" --log-dir "$work/term" -- \
  "$work/graceful.sh" "$tag")
wait_for 15 "8 workers up" have_files 8 "$work/marks/up.*"
scancel "$id"
wait_job "$id" 60
out=$(cat "$work/term.out")
expect_count "workers that saw SIGTERM" "$(count_files "$work/marks/term.*")" 8
expect_count "workers that finished cleanup in the grace period" "$(count_files "$work/marks/clean.*")" 8
expect_out "received SIGTERM: forwarded to 2 worker"
no_process_left "$tag"

finish
