#!/usr/bin/env bash
# brix monitor under brix launch on this machine: brix-worker train ranks (gloo) report every
# step; one rank is slowed down; it must be flagged in the snapshot and the event log, and the
# launcher's own exits and restarts must land in the same log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
[ -x "$WORKER" ] || { echo "SKIP: $WORKER not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the JSON"; exit 77; }

job="$work/job"
# 4 ranks, 40 ms steps; rank 2 computes 60 ms longer from step 15 on (2.5x: far past the 1.15
# threshold, so scheduler jitter on a loaded machine cannot hide it).
run "$BRIX" launch --nproc-per-node 4 --log-dir "$job" --quiet -- \
  "$WORKER" train --steps 60 --step-sleep-ms 40 --slow-rank 2 --slow-ms 60 --slow-from 15
expect_rc 0 "launch train"
expect_err 'monitor: 127\.0\.0\.1:[0-9]+'

checks=$((checks + 1))
python3 - "$job" <<'PY' || fail "rank 2 not flagged in the snapshot and the event log"
import json, sys
job = sys.argv[1]
events = [json.loads(line) for line in open(f"{job}/events.jsonl")]
changes = [e for e in events if e["type"] == "straggler"]
flagged = [e for e in changes if e["flagged"] and e["rank"] == 2]
assert flagged and 15 <= flagged[0]["step"] <= 15 + 5 + 4, changes  # within the window (+ lag)
for rank in (0, 1, 3):  # jitter may flag an unslowed rank for a moment, never for good
    mine = [e["flagged"] for e in changes if e["rank"] == rank]
    assert not mine or not mine[-1], (rank, changes)
assert len([e for e in events if e["type"] == "join"]) == 4, events
snapshot = json.load(open(f"{job}/monitor/snapshot.json"))
ranks = {r["rank"]: r for r in snapshot["ranks"]}
assert sorted(ranks) == [0, 1, 2, 3]
assert ranks[2]["straggler"] and not any(ranks[r]["straggler"] for r in (0, 1, 3)), ranks
assert all(r["step"] == 59 for r in ranks.values()), ranks
values = ranks[0]["values"]
assert {"loss", "grad_norm", "grad_variance", "tokens"} <= set(values), ranks[0]
assert values["tokens"] == 64 and values["grad_variance"] > 0, values  # 64: the default global batch
# Wall times are alike (the all-reduce waits for rank 2) while compute times differ by ~60 ms:
# the score used compute time. Bounds are loose: a loaded machine delays single steps.
gap = ranks[2]["compute_seconds"] - ranks[0]["compute_seconds"]
assert gap > 0.03, ranks
assert abs(ranks[0]["step_seconds"] - ranks[2]["step_seconds"]) < 0.75 * gap, ranks
PY
NO_COLOR=1 run "$BRIX" monitor "$job" --once
expect_rc 0 "monitor --once"; expect_out 'STRAGGLER \(peers\)'

# A failing rank: its exit and the restart are in the event log.
job2="$work/job2"
run "$BRIX" launch --nproc-per-node 2 --max-restarts 1 --log-dir "$job2" --quiet -- \
  sh -c 'if [ "$BRIX_ATTEMPT" = 0 ] && [ "$RANK" = 1 ]; then exit 3; fi; sleep 0.5'
expect_rc 0 "launch with one restart"
checks=$((checks + 1))
python3 - "$job2/events.jsonl" <<'PY' || fail "exit and restart events"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
exits = [e for e in events if e["type"] == "exit" and "exit_code" in e]
assert [(e["rank"], e["exit_code"]) for e in exits] == [(1, 3)], events
restarts = [e for e in events if e["type"] == "restart"]
assert len(restarts) == 1 and restarts[0]["attempt"] == 1, events
PY
no_process_left "$work/job"
finish
