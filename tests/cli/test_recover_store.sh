#!/usr/bin/env bash
# The checkpoint store for real: `brix recover list/verify`, a flipped byte named by verify, the
# mirror, a writer crashed at every durable step of a save (BRIX_CHECKPOINT_CRASH_AT) and
# SIGKILLed at random times (`latest` always verifies, the previous checkpoint is never lost), and `brix-worker train` under `brix launch
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

# --- crashes during saves: every durable step of a save, then random SIGKILLs -----------------
# BRIX_CHECKPOINT_CRASH_AT=N makes the writer SIGKILL itself at its N-th durable step (before a
# write, a write cut short, after write+fsync, before/after each rename, after each directory
# fsync). Each trial saves step 3 onto the same store (steps 0-2), crashing at N = 1, 2, ... until
# a save runs through, so every crash point of a save is hit once; between trials the store is
# put back exactly (step 3 dropped, `latest` reset, gc), which the test checks.
store=$work/crash
stress=(checkpoint-stress --dir "$store" --bytes 655360 --chunk 8192)
"$WORKER" "${stress[@]}" --saves 3 --keep 0 >/dev/null || fail "writing the base store"
base_latest=$(cat "$store/latest")
base_files=$(cd "$store" && find . -type f ! -name .lock | sort)
# check_after_crash TRIAL STORE PREVIOUS: latest verifies and did not go back from PREVIOUS (a
# manifest name), which is intact, or removed by gc (--keep 3) after three newer ones.
check_after_crash() {
  run "$BRIX" recover verify "$2" --latest
  expect_rc 0 "$1: latest verifies"
  checks=$((checks + 1))
  [[ ! "$(cat "$2/latest")" < "$3" ]] || fail "$1: latest went back from $3 to $(cat "$2/latest")"
  local step=$((10#$(sed 's/step_\([0-9]*\)\.json/\1/' <<<"$3"))) status newer
  checks=$((checks + 1))
  if [ -f "$2/manifests/$3" ]; then
    status=$("$BRIX" recover list "$2" --verify --format json | jq -r ".checkpoints[] | select(.step == $step) | .status")
    [ "$status" = complete ] || fail "$1: the previous checkpoint $3 is $status"
  else
    newer=$(ls "$2/manifests" | awk -v p="$3" '$0 > p' | wc -l)
    [ "$newer" -ge 3 ] || fail "$1: the previous checkpoint $3 lost with only $newer newer"
  fi
}
declare -i crashes=0 mid_save=0
for n in $(seq 1 300); do
  # In the background, its wait silenced: bash would report every SIGKILL on stderr.
  BRIX_CHECKPOINT_CRASH_AT=$n "$WORKER" "${stress[@]}" --saves 1 --keep 0 >"$work/stress.out" 2>"$work/stress.err" &
  wait $! 2>/dev/null
  writer_rc=$?
  [ "$writer_rc" = 0 ] && break
  checks=$((checks + 1))
  point=$(grep -o '^crash point .*' "$work/stress.err")
  [ "$writer_rc" = 137 ] && [ -n "$point" ] || { fail "crash point $n: exit $writer_rc, stderr $(cat "$work/stress.err")"; break; }
  crashes+=1
  # The save is under way until the directory fsync that follows the rename of `latest`.
  [[ "$point" == *"after fsync of directory $store" && "$(cat "$store/latest")" == step_0000000003.json ]] ||
    mid_save+=1
  check_after_crash "crash point $n ($point)" "$store" "$base_latest"
  rm -f "$store/manifests/step_0000000003.json"
  echo "$base_latest" >"$store/latest.reset" && mv "$store/latest.reset" "$store/latest"
  "$BRIX" recover gc "$store" >/dev/null || fail "gc after crash point $n"
  checks=$((checks + 1))
  [ "$(cd "$store" && find . -type f ! -name .lock | sort)" = "$base_files" ] || { fail "crash point $n: store not restored"; break; }
done
checks=$((checks + 1))
[ "$writer_rc" = 0 ] && grep -q "saved step 3" "$work/stress.out" || fail "no save ran through after $crashes crash points"
checks=$((checks + 1))
[ "$mid_save" -ge 50 ] || fail "only $mid_save crash points inside a save (expected >= 50)"
echo "crash points: $crashes, $mid_save of them inside a save"

# Random SIGKILLs of a writer saving in a loop, garbage collection included (timing differs by
# machine: the crash points above are the guarantee, these add whatever the scheduler does).
for trial in $(seq 5); do
  before=$(cat "$store/latest")
  "$WORKER" "${stress[@]}" --saves 100000 --keep 3 >/dev/null 2>&1 &
  pid=$!
  sleep "0.0$((RANDOM % 90 + 5))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  check_after_crash "random kill $trial" "$store" "$before"
done
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
# Kill once step 15 is saved, however slow the machine: wait for the line, not for a time.
saved=""
while kill -0 "$agent" 2>/dev/null; do
  grep -q "checkpoint step 15 saved" "$work/tl/attempt_0/rank_0.out" 2>/dev/null && { saved=yes; break; }
  sleep 0.05
done
# This test's workers only (ctest -j runs other tests' workers too): their checkpoint dir is ours.
own_workers() { pgrep -f -- "^$WORKER train .*--checkpoint-dir $work/ck( |\$)"; }
victim=""
if [ -z "$saved" ]; then
  fail "the training run ended before saving step 15: $(tail -3 "$work/tl/attempt_0/rank_0.out" 2>/dev/null)"
else
  for pid in $(own_workers); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && victim=$pid
  done
fi
checks=$((checks + 1))
if [ -z "$victim" ]; then
  fail "rank 1 of the training run not found"
  kill -TERM "$agent" 2>/dev/null
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
no_process_left "^$WORKER train .*--checkpoint-dir $work/"
finish
