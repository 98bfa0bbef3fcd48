#!/usr/bin/env bash
# brix launch on one node with real processes: torchrun's environment, logs, failures and
# restarts, signals and the grace period, no orphans even when the agent is SIGKILLed, and the
# rendezvous store refusing a client without the job token.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
cd "$work"
tag="brixlt$$" # in every worker's command line, to find leftovers

# The environment every worker gets.
run "$BRIX" launch --nproc-per-node 3 --log-dir "$work/env" -- sh -c \
  "echo \"env \$RANK \$LOCAL_RANK \$WORLD_SIZE \$LOCAL_WORLD_SIZE \$GROUP_RANK \$ROLE_RANK \$ROLE_WORLD_SIZE \$MASTER_ADDR \$MASTER_PORT \$TORCHELASTIC_RESTART_COUNT \$TORCHELASTIC_MAX_RESTARTS \$OMP_NUM_THREADS\"; echo to-stderr \$RANK >&2; : $tag"
expect_rc 0 "three workers"
for rank in 0 1 2; do
  expect_out "^\[rank $rank\] env $rank $rank 3 3 0 $rank 3 127\.0\.0\.1 [0-9]+ 0 0 1$"
  expect_err "^\[rank $rank\] to-stderr $rank$"
done
checks=$((checks + 1))
grep -qx "env 1 1 3 3 0 1 3 127.0.0.1 [0-9]* 0 0 1" "$work/env/attempt_0/rank_1.out" 2>/dev/null ||
  grep -q "^env 1 " "$work/env/attempt_0/rank_1.out" || fail "rank_1.out lacks its line"
checks=$((checks + 1))
grep -qx "to-stderr 2" "$work/env/attempt_0/rank_2.err" || fail "rank_2.err lacks its line"
expect_err "job done: 3 rank\(s\) exited 0"

# A failure: exit code, report with rank, exit code, error file message and stderr tail.
cat >"$work/fail.sh" <<'SCRIPT'
#!/bin/sh
if [ "$RANK" = 1 ]; then
  echo "preparing" >&2
  echo "something broke on rank 1" >&2
  printf '{"message": {"message": "ValueError: bad batch", "extraInfo": {"py_callstack": "Traceback (most recent call last)", "timestamp": "1700000000"}}}' >"$TORCHELASTIC_ERROR_FILE"
  exit 3
fi
exec sleep 30
SCRIPT
chmod +x "$work/fail.sh"
run "$BRIX" launch --nproc-per-node 2 --grace 5 --log-dir "$work/fail" -- "$work/fail.sh" "$tag"
expect_rc 3 "failing rank"
expect_err "first failure: rank 1 \(local rank 1, pid [0-9]+\) on node localhost \(node rank 0\) exited with code 3"
expect_err "error file: ValueError: bad batch"
expect_err "\| something broke on rank 1"
expect_err "job failed after 0 restart"
no_process_left "$tag"

# The report and stop.json carry the failed rank's stderr every time, not only when the log
# pump happens to have copied it before the worker is reaped (it is drained first).
for i in $(seq 20); do
  run "$BRIX" launch --quiet --nproc-per-node 2 --grace 5 --log-dir "$work/fail-tail/$i" -- "$work/fail.sh" "$tag"
  expect_rc 3 "failing rank, run $i"
  expect_err "last lines of .*rank_1\.err"
  expect_err "\| something broke on rank 1"
  checks=$((checks + 1))
  grep -q '"something broke on rank 1"' "$work/fail-tail/$i/attempt_0/stop.json" ||
    fail "run $i: stop.json lacks the stderr tail: $(cat "$work/fail-tail/$i/attempt_0/stop.json")"
done
no_process_left "$tag"

# --max-restarts 1: rank 1 fails in attempt 0 only; all workers restart once and succeed.
cat >"$work/flaky.sh" <<'SCRIPT'
#!/bin/sh
echo "attempt $TORCHELASTIC_RESTART_COUNT rank $RANK"
[ "$RANK" = 1 ] && [ "$TORCHELASTIC_RESTART_COUNT" = 0 ] && exit 1
sleep 0.2
SCRIPT
chmod +x "$work/flaky.sh"
run "$BRIX" launch --nproc-per-node 2 --max-restarts 1 --log-dir "$work/flaky" -- "$work/flaky.sh"
expect_rc 0 "restart once"
expect_err "restarting every worker: restart 1 of 1 \(rank 1 on localhost failed\)"
expect_out "attempt 1 rank 0"
expect_out "attempt 1 rank 1"
expect_count "attempt directories" "$(count_files "$work/flaky/attempt_*")" 2

# An exit code in --no-restart-exit-codes ends the job at once.
cat >"$work/fatal.sh" <<'SCRIPT'
#!/bin/sh
[ "$RANK" = 0 ] && exit 42
sleep 0.2
SCRIPT
chmod +x "$work/fatal.sh"
run "$BRIX" launch --nproc-per-node 2 --max-restarts 3 --no-restart-exit-codes 41,42 --log-dir "$work/fatal" -- "$work/fatal.sh"
expect_rc 42 "no-restart exit code"
expect_count "attempt directories" "$(count_files "$work/fatal/attempt_*")" 1

# SIGTERM to the agent: every worker sees it, finishes its cleanup within the grace period,
# and nothing is left; the agent exits 128+15.
cat >"$work/graceful.sh" <<'SCRIPT'
#!/bin/sh
trap 'touch "$MARKS/term.$RANK"; sleep 1; touch "$MARKS/clean.$RANK"; exit 0' TERM
touch "$MARKS/up.$RANK"
while :; do sleep 0.1; done
SCRIPT
chmod +x "$work/graceful.sh"
mkdir -p "$work/marks"
MARKS=$work/marks "$BRIX" launch --nproc-per-node 4 --grace 10 --quiet -- "$work/graceful.sh" "$tag" 2>"$work/term.err" &
agent=$!
wait_for 30 "4 workers started" have_files 4 "$work/marks/up.*"
kill -TERM "$agent"
wait "$agent" && rc=0 || rc=$?
err=$(cat "$work/term.err")
expect_rc 143 "SIGTERM"
expect_count "workers that saw SIGTERM" "$(count_files "$work/marks/term.*")" 4
expect_count "workers that finished cleanup" "$(count_files "$work/marks/clean.*")" 4
expect_err "received SIGTERM: forwarded to 4 worker"
no_process_left "$tag"

# A worker that ignores SIGTERM is killed when the grace period is over, not before.
rm -f "$work"/marks/*
MARKS=$work/marks "$BRIX" launch --nproc-per-node 2 --grace 2 --quiet -- sh -c "trap '' TERM; touch \$MARKS/deaf.\$RANK; while :; do sleep 0.1; done; : $tag" 2>"$work/kill.err" &
agent=$!
wait_for 30 "2 workers ignoring SIGTERM started" have_files 2 "$work/marks/deaf.*"
start=$(date +%s%N)
kill -TERM "$agent"
wait "$agent" && rc=0 || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
err=$(cat "$work/kill.err")
expect_rc 143 "SIGTERM ignored"
expect_err "grace period of 2 s over: SIGKILL to 2 worker"
checks=$((checks + 1))
[ "$elapsed_ms" -ge 1900 ] && [ "$elapsed_ms" -lt 8000 ] || fail "grace 2 s, but the workers went after $elapsed_ms ms"
no_process_left "$tag"

# SIGUSR1 (Slurm's warning before the time limit) is forwarded without stopping the job.
rm -f "$work"/marks/*
MARKS=$work/marks "$BRIX" launch --nproc-per-node 2 --quiet -- sh -c 'trap "touch \$MARKS/usr1.\$RANK" USR1; touch $MARKS/up.$RANK; i=0; while [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done' 2>"$work/usr1.err" &
agent=$!
wait_for 30 "2 workers trapping SIGUSR1 started" have_files 2 "$work/marks/up.*"
kill -USR1 "$agent"
wait "$agent" && rc=0 || rc=$?
expect_rc 0 "SIGUSR1 forwarded, job finishes"
expect_count "workers that saw SIGUSR1" "$(count_files "$work/marks/usr1.*")" 2

# SIGKILL to the agent: no worker outlives it, not even what the workers started (the
# background shell carries the tag too, so a surviving grandchild is seen).
"$BRIX" launch --nproc-per-node 3 --quiet -- sh -c "sh -c 'sleep 60; : $tag' & touch $work/marks/bg.\$RANK; sleep 61; : $tag" 2>/dev/null &
agent=$!
wait_for 30 "3 workers with a background child started" have_files 3 "$work/marks/bg.*"
checks=$((checks + 1))
[ "$(pgrep -fx -- "sh -c sleep 60; : $tag" | wc -l)" -eq 3 ] || fail "the tagged grandchildren are not running"

kill -KILL "$agent"
wait "$agent" 2>/dev/null
no_process_left "$tag"

# The rendezvous store refuses a client with the wrong token and logs it; the right one works.
run "$BRIX" launch --nproc-per-node 1 -- sh -c "python3 '$BRIX_SOURCE_DIR/tests/cli/data/store_hello.py' wrong-token; python3 '$BRIX_SOURCE_DIR/tests/cli/data/store_hello.py' \"\$BRIX_STORE_TOKEN\""
expect_rc 0 "token check"
expect_out "^\[rank 0\] refused$"
expect_out "^\[rank 0\] ok$"
expect_err "rendezvous store: refused client 127\.0\.0\.1:[0-9]+: wrong job token from 'test client'"

# A 100-character --rdzv-id still gets monitoring: the collector's socket path is a digest of
# the run id, within sun_path's 107 bytes.
run "$BRIX" launch --rdzv-id "$(printf 'r%.0s' $(seq 100))" --log-dir "$work/long-id" -- \
  sh -c 'test -S "$BRIX_MONITOR_SOCKET" && echo "socket ok"'
expect_rc 0 "100-character run id"
expect_out "^\[rank 0\] socket ok$"
expect_err "monitor: 127\.0\.0\.1:[0-9]+"
checks=$((checks + 1)); ! grep -q "monitoring disabled" <<<"$err" || fail "monitoring off for a long run id: $err"

# --plan: every worker gets its coordinates in the plan (Llama-3.1-8B, tp 2 x pp 2).
cat >"$work/plan.yaml" <<'YAML'
brix_plan: 1
model: {name: llama-3.1-8b, source: ""}
cluster: {name: none, source: ""}
seq_len: 4096
batch: {global: 8, micro: 1, accumulation: 8}
layout: {tp: 2, pp: 2, dp: 1, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}
YAML
run "$BRIX" launch --plan "$work/plan.yaml" -- sh -c 'echo "plan tp $BRIX_TP_RANK pp $BRIX_PP_RANK dp $BRIX_DP_RANK layers $BRIX_LAYERS"'
expect_rc 0 "--plan"
expect_out "^\[rank 0\] plan tp 0 pp 0 dp 0 layers 0-15$"
expect_out "^\[rank 1\] plan tp 1 pp 0 dp 0 layers 0-15$"
expect_out "^\[rank 3\] plan tp 1 pp 1 dp 0 layers 16-31$"
run "$BRIX" launch --plan "$work/plan.yaml" --nproc-per-node 3 -- true
expect_rc 2 "--plan with the wrong world"
expect_err "the plan needs 4 ranks \(tp 2 × cp 1 × dp 1 × pp 2\) but this job has 3 on 1 node"

# Usage errors are one line, exit 2.
run "$BRIX" launch --nproc-per-node 2 -- no-such-program-xyz
expect_rc 2 "unknown program"; expect_err "command 'no-such-program-xyz' not found on PATH"; expect_one_line_err
run "$BRIX" launch --hosts "a,b" -- true
expect_rc 2 "hosts without node rank"; expect_err "--node-rank"; expect_one_line_err
printf 'n1 slots=2\nn2 gpus=8\n' >"$work/hostfile"
run "$BRIX" launch --hostfile "$work/hostfile" --node-rank 0 -- true
expect_rc 2 "bad hostfile"; expect_err "hostfile:2: unknown field 'gpus=8'"
run "$BRIX" launch --nnodes 2 -- true
expect_rc 2 "--nnodes without a node list"; expect_err "no node list"

# torchrun's spellings: --nnodes N or N:N, --standalone, --rdzv-backend c10d.
run "$BRIX" launch --standalone --nnodes 1:1 --rdzv-backend c10d --nproc-per-node 2 -- sh -c 'echo "ws $WORLD_SIZE"'
expect_rc 0 "torchrun flags"; expect_out "^\[rank 1\] ws 2$"
run "$BRIX" launch --nnodes=1 --rdzv_backend=c10d -- true
expect_rc 0 "--nnodes=1 --rdzv_backend=c10d"
# --standalone inside a Slurm step is this node alone, not the allocation.
SLURM_JOB_ID=5 SLURM_JOB_NODELIST='zz[1-2]' SLURM_NODEID=1 SLURM_STEP_ID=0 SLURMD_NODENAME=zz2 \
  run "$BRIX" launch --standalone -- sh -c 'echo "ws $WORLD_SIZE $MASTER_ADDR"'
expect_rc 0 "--standalone under Slurm"; expect_out "^\[rank 0\] ws 1 127\.0\.0\.1$"
run "$BRIX" launch --nnodes 1:4 -- true
expect_rc 2 "elastic range"; expect_err "^brix: error: --nnodes 1:4: elastic node ranges are not supported"; expect_one_line_err
run "$BRIX" launch --hosts "127.0.0.1,127.0.0.1" --node-rank 0 --nnodes 3:3 -- true
expect_rc 2 "--nnodes disagrees"; expect_err "--nnodes 3 but --hosts gives 2 nodes"; expect_one_line_err
run "$BRIX" launch --nnodes x -- true
expect_rc 2 "bad --nnodes"; expect_err "expected N or N:N"; expect_one_line_err
run "$BRIX" launch --rdzv-backend etcd -- true
expect_rc 2 "etcd"; expect_err "^brix: error: --rdzv-backend 'etcd' \(expected c10d"; expect_one_line_err
run "$BRIX" launch --standalone --hosts "a,b" --node-rank 0 -- true
expect_rc 2 "--standalone with --hosts"; expect_err "--standalone with --hosts"; expect_one_line_err
run "$BRIX" launch --standalone --rdzv-endpoint 127.0.0.1:29400 -- true
expect_rc 2 "--standalone with --rdzv-endpoint"; expect_err "--standalone with --rdzv-endpoint"; expect_one_line_err
run "$BRIX" launch --hosts "n[1-2]" --node-rank 1 --rdzv-timeout 1 -- true
expect_rc 2 "unresolvable node 0"; expect_err "node 'n1' does not resolve"
expect_err "or node 0's address with --master-addr or --rdzv-endpoint"
# What that suggests works: under Slurm with node names that resolve nowhere, --master-addr is
# where node 0 hosts the store (the agent gets as far as waiting for node 1).
SLURM_CONF=/nonexistent SLURM_JOB_ID=5 SLURM_JOB_NODELIST='zz[1-2]' SLURM_NODEID=0 SLURM_STEP_ID=0 \
  SLURMD_NODENAME=zz1 BRIX_JOB_TOKEN=t run "$BRIX" launch --master-addr 127.0.0.1 \
  --rdzv-port "$(free_port)" --master-port "$(free_port)" --rdzv-timeout 1 --log-dir "$work/zz" -- true
expect_rc 1 "--master-addr for an unresolvable node 0"
expect_err "1 of 2 nodes did not join: zz2 \(node rank 1\)"
checks=$((checks + 1)); ! grep -q "does not resolve" <<<"$err" || fail "--master-addr ignored: $err"

finish
