#!/usr/bin/env bash
# The FP8 GPU checks in one go, for a machine with an NVIDIA GPU (sm_89 or later), the CUDA
# toolkit, CMake and a C++20 compiler; none of brix's other dependencies are needed (this
# directory's CMakeLists.txt builds the kernels and the CPU reference on their own).
#   1. builds brix_kernels, brix-fp8-gpu-test, brix-fp8-gpu-exchange-test, brix-fp8-gpu-bench,
#      brix-fp8-cuda-host-test;
#   2. brix-fp8-cuda-host-test: the CPU encoder against the toolkit's host emulation;
#   3. brix-fp8-gpu-test: kernels against the CPU reference, bit for bit (all 2^32 fp32
#      patterns through the encoder, then quantise/feedback/dequantise/accumulate cases);
#   3b. brix-fp8-gpu-exchange-test: CompressedAllReduce::run and ExchangeAllReduce::run (what
#      brix-worker's NCCL path calls) with ranks as threads against the CPU all-reduces;
#   4. brix-fp8-gpu-bench: throughput as a fraction of peak HBM bandwidth and of a D2D copy;
#      on an H200 (datasheet 4.8 TB/s) it must reach 85% of peak for quantise 1x128 e4m3;
#   5. the compressed all-reduce on NCCL: builds brix and brix-worker from the whole tree (which
#      needs brix's other dependencies, scripts/packages.txt; without them this step is reported
#      as not run), then `brix launch -- brix-worker bench --op allreduce --compress fp8
#      --backend nccl` with 1 rank and, with several GPUs, one rank per GPU; the tables go to
#      nccl-fp8-bench-<ranks>.txt.
# Logs go to $OUT (when set, e.g. on a lent device machine) or build-gpu/results. Exit: 0 all
# passed, 1 a check failed, 77 no GPU.
# Usage: tests/bench/gpu/run_gpu_checks.sh [--elements N] [--repeat N]   (passed to the bench)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BRIX_GPU_BUILD_DIR:-$root/build-gpu}
results=${OUT:-$build/results}
mkdir -p "$results"
log() { echo "== $*"; }

log "device"
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv 2>&1 | tee "$results/gpu.txt"
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)

log "build ($build)"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES=90 >"$results/build.log" 2>&1 &&
  cmake --build "$build" -j "$(nproc)" >>"$results/build.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  tail -n 40 "$results/build.log"
  echo "run_gpu_checks: build failed (log: $results/build.log)"
  exit 1
fi

status=0
not_run=()
record() { # record NAME RC: 77 (skip) only when nothing failed
  if [ "$2" -eq 77 ]; then
    [ $status -eq 0 ] && status=77
  elif [ "$2" -ne 0 ]; then
    echo "run_gpu_checks: $1 FAILED (exit $2)"
    status=1
  fi
}

log "encoder against the CUDA host emulation"
"$build/brix-fp8-cuda-host-test" 2>&1 | tee "$results/fp8-cuda-host-test.log"
record brix-fp8-cuda-host-test "${PIPESTATUS[0]}"

log "kernels against the CPU reference"
"$build/brix-fp8-gpu-test" 2>&1 | tee "$results/fp8-gpu-test.log"
record brix-fp8-gpu-test "${PIPESTATUS[0]}"

log "device all-reduces through run(), ranks as threads, against the CPU reference"
"$build/brix-fp8-gpu-exchange-test" 2>&1 | tee "$results/fp8-gpu-exchange-test.log"
record brix-fp8-gpu-exchange-test "${PIPESTATUS[0]}"

log "throughput"
bench=("$build/brix-fp8-gpu-bench" "$@")
case "$gpu_name" in
*H200*) bench+=(--peak-gb-per-s 4800 --require-fraction 0.85) ;;
*H100*) bench+=(--peak-gb-per-s 3350) ;;
esac
"${bench[@]}" 2>&1 | tee "$results/fp8-gpu-bench.log"
record brix-fp8-gpu-bench "${PIPESTATUS[0]}"

log "compressed all-reduce on NCCL (brix-worker)"
brix_build=${BRIX_GPU_FULL_BUILD_DIR:-$root/build-gpu-brix}
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "$gpus" -eq 0 ]; then
  echo "no GPU: the NCCL bench is skipped"
  record brix-worker-nccl 77
elif cmake -S "$root" -B "$brix_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBRIX_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 >"$results/brix-build.log" 2>&1 &&
  cmake --build "$brix_build" -j "$(nproc)" --target brix brix-worker >>"$results/brix-build.log" 2>&1; then
  rank_counts=(1)
  [ "$gpus" -gt 1 ] && rank_counts+=("$gpus")
  for ranks in "${rank_counts[@]}"; do
    logs="$build/nccl-fp8-launch-$ranks"
    rm -rf "$logs"
    "$brix_build/brix" launch --nproc-per-node "$ranks" --quiet --log-dir "$logs" -- \
      "$brix_build/brix-worker" bench --op allreduce --compress fp8 --backend nccl -b 64K -e 256M -f 4 -w 5 -n 20 \
      --timeout 300 2>&1 | tee "$results/nccl-fp8-launch-$ranks.log"
    rc=${PIPESTATUS[0]}
    cat "$logs"/attempt_0/rank_0.out "$logs"/attempt_0/rank_0.err 2>/dev/null | tee "$results/nccl-fp8-bench-$ranks.txt"
    record "brix-worker bench --compress fp8 --backend nccl ($ranks ranks)" "$rc"
  done
else
  tail -n 20 "$results/brix-build.log"
  echo "run_gpu_checks: brix and brix-worker did not build here (brix's other dependencies? log: $results/brix-build.log)"
  not_run+=("the NCCL compressed bench (brix did not build)")
fi

case $status in
0) echo "run_gpu_checks: all passed (logs in $results)${not_run[*]:+; not run: ${not_run[*]}}" ;;
77) echo "run_gpu_checks: skipped: no GPU" ;;
esac
exit $status
