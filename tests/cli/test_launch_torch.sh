#!/usr/bin/env bash
# An unmodified PyTorch script (env:// init, gloo, all_reduce, barrier) under brix launch on 2
# emulated Slurm nodes x 2 ranks gives what it gives under torchrun (Debian's, patched to start
# on Python 3.11: tests/bench/torchrun_patched.py).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
torch_python=/usr/bin/python3
if ! "$torch_python" -c 'import torch.distributed' 2>/dev/null; then
  echo "SKIP: $torch_python cannot import torch (Debian package python3-torch, scripts/packages.txt)"
  exit 77
fi
BRIX_SLURM_NODES=2 start_slurm
cd "$work"
export BRIX
script=$BRIX_SOURCE_DIR/tests/cli/data/torch_allreduce.py

rdzv=$(free_port); master=$(free_port)
id=$(sbatch --parsable -N 2 -o "$work/torch.out" "$BRIX_SOURCE_DIR/scripts/sbatch-brix.sh" \
  --nproc-per-node 2 --rdzv-port "$rdzv" --master-port "$master" -- "$torch_python" "$script")
wait_job "$id" 240
out=$(cat "$work/torch.out")
checks=$((checks + 1)); [ "$job_state" = COMPLETED ] || fail "torch job: $job_state $job_exit: $out"
for rank in 0 1 2 3; do
  expect_out "^\[rank $rank\] torch rank $rank/4 local $((rank % 2)) sum 10$"
done
brix_lines=$(grep -o 'torch rank [0-9]/4 .* sum [0-9]*' <<<"$out" | sed 's/ local [0-9]//' | sort)

# The same script under torchrun, 4 ranks on one node.
torchrun_out=$("$torch_python" "$BRIX_SOURCE_DIR/tests/bench/torchrun_patched.py" --standalone \
  --nproc_per_node 4 "$script" 2>"$work/torchrun.err") || fail "torchrun failed: $(tail -5 "$work/torchrun.err")"
torchrun_lines=$(grep -o 'torch rank [0-9]/4 .* sum [0-9]*' <<<"$torchrun_out" | sed 's/ local [0-9]//' | sort)
checks=$((checks + 1))
[ -n "$torchrun_lines" ] && [ "$brix_lines" = "$torchrun_lines" ] ||
  fail "brix launch and torchrun differ: brix [$brix_lines] torchrun [$torchrun_lines]"

finish
