#!/usr/bin/env bash
# The checkpoint store for real: `brix recover list/verify`, a flipped byte named by verify, the
# mirror, a writer SIGKILLed at random points of its saves (50 trials: `latest` always verifies,
# the previous checkpoint is never lost), and `brix-worker train` under `brix launch
# --max-restarts 1` with one worker SIGKILLed: it resumes from the latest checkpoint and ends
# bit-identical to an uninterrupted run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
cd "$work"

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- list and verify ---------------------------------------------------------------------------
run "$WORKER" checkpoint-stress --dir "$work/s" --bytes 262144 --chunk 4096 --saves 3 --keep 0 --mirror "$work/m"
expect_rc 0 "stress writer"
run "$BRIX" recover list "$work/s"
expect_rc 0 "list"
expect_out "^ *step +format +size +new +status"
expect_out "^ *2 +brix .* complete +latest"
run "$BRIX" recover list "$work/s" --format json
expect_rc 0 "list json"
checks=$((checks + 1))
[ "$(jq '.checkpoints | length' <<<"$out")" = 3 ] || fail "list json: $out"
checks=$((checks + 1))
# 64 chunks, the 7 of them with index % 10 == 2 changed at step 2.
[ "$(jq '.checkpoints[2].new_bytes' <<<"$out")" = $((7 * 4096)) ] || fail "new bytes of step 2: $out"
run "$BRIX" recover list "$work/s" --format yaml
expect_out "^  - step: 0"
run "$BRIX" recover verify "$work/s" --mirror "$work/m"
expect_rc 0 "verify a good store and its mirror"
expect_out "ok: 3 checkpoint"

# A flipped byte in one chunk: verify names the file and the chunk, exit 1.
chunk=$(jq -r '.files[0].chunks[5][0]' "$work/s/manifests/step_0000000002.json")
flip_byte "$work/s/chunks/${chunk:0:2}/$chunk" 100
run "$BRIX" recover verify "$work/s"
expect_rc 1 "verify a damaged store"
# Chunk 5 never changed (5 % 10 is neither 1 nor 2): step 0, the oldest holder, is named first.
expect_err "step 0: data\.bin: chunk 5 \(.*/chunks/${chunk:0:2}/$chunk\) does not match its SHA-256"
expect_one_line_err
run "$BRIX" recover verify "$work/s" --latest --format json
expect_rc 1 "verify --latest"
checks=$((checks + 1))
[ "$(jq -r '.stores[0].first_bad.detail' <<<"$out")" != null ] || fail "json lacks first_bad: $out"
run "$BRIX" recover verify "$work/m"
expect_rc 0 "the mirror is intact"
run "$BRIX" recover verify "$work/nothing-here"
expect_rc 2 "verify a missing directory"
expect_one_line_err

# --- SIGKILL during saves: 50 trials ----------------------------------------------------------
store=$work/crash
trials=50
declare -i kills_mid_save=0
for trial in $(seq $trials); do
  before=$(cat "$store/latest" 2>/dev/null || echo none)
  "$WORKER" checkpoint-stress --dir "$store" --bytes 1048576 --chunk 16384 --saves 100000 --keep 3 >"$work/stress.out" 2>&1 &
  pid=$!
  sleep "0.0$((RANDOM % 90 + 5))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  if [ "$before" = none ] && [ ! -f "$store/latest" ]; then
    continue # killed before the first save finished: nothing to check yet
  fi
  ls "$store/chunks"/*/.tmp-* >/dev/null 2>&1 && kills_mid_save=$((kills_mid_save + 1))
  run "$BRIX" recover verify "$store" --latest
  expect_rc 0 "trial $trial: latest verifies"
  after=$(cat "$store/latest")
  checks=$((checks + 1))
  [[ "$after" > "$before" || "$after" = "$before" || "$before" = none ]] || fail "trial $trial: latest went back from $before to $after"
  if [ "$before" != none ]; then
    prev_step=$((10#$(sed 's/step_\([0-9]*\)\.json/\1/' <<<"$before")))
    if [ -f "$store/manifests/$before" ]; then
      status=$("$BRIX" recover list "$store" --verify --format json | jq -r ".checkpoints[] | select(.step == $prev_step) | .status")
      checks=$((checks + 1))
      [ "$status" = complete ] || fail "trial $trial: previous checkpoint $before is $status"
    else
      # Only garbage collection (--keep 3) may remove it, after three newer ones were published.
      newer=$(ls "$store/manifests" | awk -v p="$before" '$0 > p' | wc -l)
      checks=$((checks + 1))
      [ "$newer" -ge 3 ] || fail "trial $trial: previous checkpoint $before lost with only $newer newer"
    fi
  fi
done
echo "crash trials: $trials, latest now $(cat "$store/latest"), $kills_mid_save left a half-written chunk behind"
run "$BRIX" recover gc "$store" --keep 3
expect_rc 0 "gc after the crashes"
run "$BRIX" recover verify "$store"
expect_rc 0 "every kept checkpoint verifies after gc"

# --- train: kill -9 one worker, resume, bit-identical ------------------------------------------
train_args=(train --steps 60 --dim 512 --global-batch 8 --step-sleep-ms 40 --timeout 60)
run "$BRIX" launch --nproc-per-node 2 --log-dir "$work/ref" -- "$WORKER" "${train_args[@]}"
expect_rc 0 "uninterrupted run"
reference=$(grep -o 'rank 0 done after 60 steps, .*' <<<"$out")
checks=$((checks + 1))
[ -n "$reference" ] || fail "uninterrupted run printed no checksum: $out"

"$BRIX" launch --nproc-per-node 2 --max-restarts 1 --log-dir "$work/tl" -- "$WORKER" "${train_args[@]}" \
  --checkpoint-dir "$work/ck" --checkpoint-every 5 --mirror "$work/ckm" >"$work/train.out" 2>"$work/train.err" &
agent=$!
for _ in $(seq 300); do
  latest=$(cat "$work/ck/latest" 2>/dev/null || true)
  [[ "$latest" > "step_0000000014.json" ]] && break
  sleep 0.05
done
victim=""
for pid in $(pgrep -f "^$WORKER train"); do
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && victim=$pid
done
checks=$((checks + 1))
if [ -z "$victim" ]; then
  fail "rank 1 of the training run not found (latest: $latest)"
  kill -TERM "$agent"
else
  kill_time=$(date +%s.%N)
  kill -KILL "$victim"
  # Time from the kill to the first step the restarted workers complete.
  for _ in $(seq 3000); do
    if grep -q '^step ' "$work/tl/attempt_1/rank_0.out" 2>/dev/null; then
      resumed_time=$(date +%s.%N)
      break
    fi
    sleep 0.01
  done
fi
wait "$agent"
rc=$?
out=$(cat "$work/train.out")
err=$(cat "$work/train.err")
expect_rc 0 "killed and resumed run"
expect_err "restarting every worker: restart 1 of 1"
expect_out "\[rank 0\] train: resumed from checkpoint step [0-9]+ \($work/ck, primary\)"
checks=$((checks + 1))
grep -q "rank 0 done after 60 steps" <<<"$out" && [ "$(grep -o 'rank 0 done after 60 steps, .*' <<<"$out")" = "$reference" ] ||
  fail "resumed run ended differently: $(grep 'done after' <<<"$out") vs $reference"
checks=$((checks + 1))
[ "$(grep -c 'rank 1 done after 60 steps' <<<"$out")" = 1 ] || fail "rank 1 did not finish once"
resumed_step=$(grep -o 'resumed from checkpoint step [0-9]*' <<<"$out" | grep -o '[0-9]*$')
if [ -n "${resumed_time:-}" ]; then
  echo "kill to first resumed step: $(awk -v a="$kill_time" -v b="$resumed_time" 'BEGIN { printf "%.2f", b - a }') s (resumed at step $resumed_step; launch restart, rendezvous, restore, one step)"
fi
run "$BRIX" recover verify "$work/ck" --mirror "$work/ckm"
expect_rc 0 "training checkpoints and mirror verify"

# Resume from the mirror when the primary is damaged: a run continuing to 65 steps.
for chunk in "$work"/ck/chunks/*/*; do flip_byte "$chunk" 0; done
run "$BRIX" launch --nproc-per-node 2 --log-dir "$work/mr" -- "$WORKER" "${train_args[@]/60/65}" \
  --checkpoint-dir "$work/ck" --mirror "$work/ckm"
expect_rc 0 "resume from the mirror"
expect_out "resumed from checkpoint step 60 \($work/ckm, the mirror: .*chunk 0 of params\.f32 is damaged"
expect_out "rank 0 done after 65 steps"
expect_out "primary repaired from the mirror \([1-9][0-9]* chunk\(s\) rewritten\)"
checks=$((checks + 1))
status=$("$BRIX" recover list "$work/ck" --verify --format json | jq -r '.checkpoints[] | select(.step == 60) | .status')
[ "$status" = complete ] || fail "step 60 in the primary after the repair: $status"
no_process_left "^$WORKER train"
finish
