#!/usr/bin/env bash
# brix plan --serve --emit slurm under a real Slurm (controller + emulated nodes on loopback,
# started here): the sbatch script starts one brix launch agent per node and every node runs its
# own engine command with the nodes' addresses. The engines are fakes on PATH that log how they
# were started; the local Slurm has no GPUs, so the --gpus-per-node line is dropped.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
start_slurm
cd "$work"
mkdir -p "$work/fakebin"
cat > "$work/fakebin/vllm" <<'FAKE'
#!/bin/sh
printf 'node %s: vllm %s\n' "$BRIX_NODE_RANK" "$*" >> "$FAKE_LOG.$BRIX_NODE_RANK"
FAKE
chmod +x "$work/fakebin/vllm"

run "$BRIX" plan --serve --nodes 2 --gpu h200-sxm --layout tp=1,dp=16,ep=16 --emit slurm -o "$work/serve.sbatch"
expect_rc 0 "emit slurm"
grep -v '^#SBATCH --gpus-per-node=' "$work/serve.sbatch" > "$work/serve-nogpu.sbatch"
id=$(PATH="$work/fakebin:$PATH" FAKE_LOG="$work/engine.log" SOCKET_IFNAME=lo BRIX="$BRIX" \
  BRIX_SERVE_LOG_DIR="$work/logs" sbatch --parsable -o "$work/serve.out" "$work/serve-nogpu.sbatch")
wait_job "$id" 120
checks=$((checks + 1)); [ "$job_state" = COMPLETED ] || fail "serve job: $job_state $job_exit: $(cat "$work/serve.out")"
out=$(cat "$work/engine.log.0" 2>/dev/null)
expect_out '^node 0: vllm serve deepseek-ai/DeepSeek-R1 .*--data-parallel-size 16 .*--data-parallel-size-local 8 --data-parallel-address n[0-9]+ --data-parallel-rpc-port 13345$'
out=$(cat "$work/engine.log.1" 2>/dev/null)
expect_out '^node 1: vllm serve .*--data-parallel-start-rank 8 --headless$'
checks=$((checks + 1)); [ -d "$work/logs" ] || fail "no brix launch job directory at BRIX_SERVE_LOG_DIR"
finish
