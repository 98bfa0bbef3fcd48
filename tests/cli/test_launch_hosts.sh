#!/usr/bin/env bash
# brix launch with --hosts and --node-rank (no Slurm): two agents on this machine form one job;
# a node that does not arrive is named; a lost agent or a lost node 0 ends the job on the other
# node; ports in use are clear errors.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
cd "$work"
tag="brixht$$"
hosts="127.0.0.1,127.0.0.1" # two "nodes", both this machine

# Two agents, two workers each: one world, ranks by node rank, gloo all-reduce across both.
rdzv=$(free_port); master=$(free_port)
for node in 1 0; do
  "$BRIX" launch --rdzv-timeout 30 --hosts "$hosts" --node-rank $node --nproc-per-node 2 --rdzv-port "$rdzv" \
    --master-port "$master" --log-dir "$work/two" -- \
    "$WORKER" bench --op allreduce --min 8 --max 64K -w 1 -n 2 --backend gloo >"$work/node$node.out" 2>"$work/node$node.err" &
  eval "agent$node=$!"
done
wait "$agent0" && rc=0 || rc=$?
err=$(cat "$work/node0.err"); expect_rc 0 "node 0"
wait "$agent1" && rc=0 || rc=$?
err=$(cat "$work/node1.err"); expect_rc 0 "node 1"
out=$(cat "$work/node0.out")
expect_out "^\[rank 0\] # brix-worker bench: allreduce on gloo, 4 ranks"
expect_out "Out of bounds values : 0 OK"
expect_count "rank logs" "$(count_files "$work/two/attempt_0/rank_*.out")" 4

# A node that never arrives is named by node rank, on node 0. Without BRIX_JOB_TOKEN node 0
# warns that the derived token can be guessed; with it, it does not.
rdzv=$(free_port)
run env -u BRIX_JOB_TOKEN "$BRIX" launch --hosts "$hosts" --node-rank 0 --rdzv-port "$rdzv" --rdzv-timeout 1 -- true
expect_rc 1 "missing node"
expect_err "1 of 2 nodes did not join: 127\.0\.0\.1 \(node rank 1\)"
expect_err "^brix launch: warning: BRIX_JOB_TOKEN is not set"
checks=$((checks + 1)); [ "$(grep -c warning <<<"$err")" -eq 1 ] || fail "the token warning is not one line: $err"
BRIX_JOB_TOKEN=secret run "$BRIX" launch --hosts "$hosts" --node-rank 0 --rdzv-port "$rdzv" --rdzv-timeout 1 -- true
expect_rc 1 "missing node, with a token"
checks=$((checks + 1)); ! grep -q "warning" <<<"$err" || fail "token warning despite BRIX_JOB_TOKEN: $err"

# Node 1's agent is SIGKILLed: node 0 sees no heartbeat and ends the job, no worker left.
rdzv=$(free_port); master=$(free_port)
for node in 0 1; do
  "$BRIX" launch --rdzv-timeout 30 --hosts "$hosts" --node-rank $node --nproc-per-node 1 --rdzv-port "$rdzv" \
    --master-port "$master" --agent-timeout 2 --grace 2 --quiet -- sh -c "touch $work/up-lost.\$RANK; sleep 60; : $tag" 2>"$work/lost$node.err" &
  eval "agent$node=$!"
done
wait_for 30 "both workers started" have_files 2 "$work/up-lost.*"
kill -KILL "$agent1"
wait "$agent0" && rc=0 || rc=$?
err=$(cat "$work/lost0.err")
expect_rc 1 "lost node"
expect_err "node 127\.0\.0\.1 \(node rank 1\) was lost: its agent sent no heartbeat for 2 s"
no_process_left "$tag"

# Node 0's agent is SIGKILLed: node 1 loses the store and stops its workers.
rdzv=$(free_port); master=$(free_port)
for node in 0 1; do
  "$BRIX" launch --rdzv-timeout 30 --hosts "$hosts" --node-rank $node --nproc-per-node 1 --rdzv-port "$rdzv" \
    --master-port "$master" --grace 2 --quiet -- sh -c "touch $work/up-gone.\$RANK; sleep 60; : $tag" 2>"$work/gone$node.err" &
  eval "agent$node=$!"
done
wait_for 30 "both workers started" have_files 2 "$work/up-gone.*"
kill -KILL "$agent0"
wait "$agent1" && rc=0 || rc=$?
err=$(cat "$work/gone1.err")
expect_rc 1 "lost node 0"
expect_err "lost the rendezvous store"
no_process_left "$tag"

# Ports in use: clear errors naming the port.
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$work/held" &
holder=$!
wait_for 5 "the port holder printed its port" test -s "$work/held"
held=$(cat "$work/held")
run "$BRIX" launch --master-port "$held" -- true
expect_rc 1 "master port in use"; expect_err "master port $held is already in use"
run "$BRIX" launch --rdzv-port "$held" -- true
expect_rc 1 "rendezvous port in use"; expect_err "cannot host the rendezvous store on .* port $held: .*already in use"
kill "$holder"

finish
