#!/usr/bin/env bash
# Time from a kill -9 to the first resumed training step, beside a baseline measured in the same
# run: a cold start (brix launch to the first step, no checkpoint). Real processes: brix launch
# with 2 brix-worker train ranks saving every 5 steps; once step 10 is saved, rank 1 is killed;
# brix launch restarts both, they restore the checkpoint, and the first step they complete is the
# resumed step. Prints both times and resume / cold-start. Run by scripts/bench.sh.
#   BRIX_BUILD_DIR=build [BENCH_RESUME_ROUNDS=3] tests/bench/bench_resume.sh
# (arguments are ignored: scripts/bench.sh passes every benchmark the same ones)
set -uo pipefail
build=${BRIX_BUILD_DIR:-build}
brix=$build/brix
worker=$(cd "$build" && pwd)/brix-worker
rounds=${BENCH_RESUME_ROUNDS:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench-resume: BENCH_RESUME_ROUNDS '$rounds' (expected >= 1)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train=(train --steps 400 --dim 4096 --global-batch 8 --step-sleep-ms 20 --timeout 60)

now() { date +%s.%N; }
# wait_for FILE PATTERN: until a line of FILE matches (60 s at most); prints nothing, fails on timeout.
wait_for() {
  for _ in $(seq 6000); do
    grep -qE -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  echo "bench-resume: no /$2/ in $1 after 60 s" >&2
  return 1
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

cold_total=0 resume_total=0
for round in $(seq "$rounds"); do
  dir=$work/$round
  start=$(now)
  "$brix" launch --nproc-per-node 2 --max-restarts 1 --log-dir "$dir/log" -- "$worker" "${train[@]}" \
    --checkpoint-dir "$dir/ck" --checkpoint-every 5 >"$dir.out" 2>&1 &
  agent=$!
  wait_for "$dir/log/attempt_0/rank_0.out" '^step ' || exit 1
  cold=$(elapsed "$start" "$(now)")
  wait_for "$dir/log/attempt_0/rank_0.out" 'checkpoint step 10 saved' || exit 1
  victim=""
  for pid in $(pgrep -f -- "^$worker train .*--checkpoint-dir $dir/ck"); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && victim=$pid
  done
  [ -n "$victim" ] || { echo "bench-resume: rank 1 not found" >&2; kill "$agent"; exit 1; }
  killed=$(now)
  kill -KILL "$victim"
  wait_for "$dir/log/attempt_1/rank_0.out" '^step ' || exit 1
  resumed=$(elapsed "$killed" "$(now)")
  grep -q "resumed from checkpoint step" "$dir/log/attempt_1/rank_0.out" ||
    { echo "bench-resume: the restarted rank 0 did not resume from a checkpoint" >&2; exit 1; }
  kill -TERM "$agent" 2>/dev/null
  wait "$agent" 2>/dev/null
  printf 'round %d: cold start to first step %.3f s, kill to first resumed step %.3f s\n' "$round" "$cold" "$resumed"
  cold_total=$(awk -v a="$cold_total" -v b="$cold" 'BEGIN { print a + b }')
  resume_total=$(awk -v a="$resume_total" -v b="$resumed" 'BEGIN { print a + b }')
done
awk -v c="$cold_total" -v r="$resume_total" -v n="$rounds" 'BEGIN {
  printf "kill to first resumed step  %.3f s (mean of %d; detection, restart, rendezvous, restore, one step)\n", r / n, n
  printf "cold start to first step    %.3f s (baseline: launch, rendezvous, one step)\n", c / n
  printf "resume / cold start ratio   %.2f\n", r / c
}'
