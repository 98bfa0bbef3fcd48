#!/usr/bin/env bash
# brix monitor end to end on this machine: a real endpoint and node collector, four synchronous
# ranks speaking the line protocol, one slowed down: it must be flagged, logged, shown.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/monitor_lib.sh"

run "$BRIX" monitor rules
expect_rc 0 "rules"; expect_out 'inter_node_latency +internode_latency +< 5e-05 +> 0.0002'
printf 'brix_monitor_rules: 1\nrules:\n  - name: x\n    metrik: y\n' >"$work/bad.yaml"
run "$BRIX" monitor rules "$work/bad.yaml"
expect_rc 2 "bad rules"; expect_err "bad.yaml:4: unknown key 'metrik' in a rule \(did you mean 'metric'\?\)"; expect_one_line_err
run "$BRIX" monitor
expect_rc 2 "no target"; expect_err 'which job'
run "$BRIX" monitor "$work/nonexistent" --once
expect_rc 2 "bad target"; expect_err 'neither a job directory nor HOST:PORT'; expect_one_line_err

start_monitor || { finish; exit 1; }
# 4 ranks, 50 ms steps; rank 2 computes 2x longer from step 10 on (far past the 1.15 threshold,
# so scheduler jitter on a loaded machine cannot hide it).
run_ranks --ranks 4 --steps 40 --step 0.05 --slow-rank 2 --slow-from 10 --slowdown 2 &
ranks_pid=$!
# While they run: live process figures from /proc for every rank.
every_rank_running() {
  run "$BRIX" monitor "$job" --once --format json
  python3 - "$out" <<'PY' 2>/dev/null
import json, sys
ranks = json.loads(sys.argv[1])["ranks"]
assert len(ranks) == 4 and all(r["state"] == "running" for r in ranks), ranks
assert all(r["rss_bytes"] > 0 and "cpu_percent" in r and r["heartbeat_age_seconds"] < 2 for r in ranks), ranks
PY
}
wait_for 10 "mid-run snapshot: every rank running with /proc figures" every_rank_running || echo "last: $out" >&2
wait "$ranks_pid" && rc=0 || rc=$?
expect_rc 0 "ranks"

run "$BRIX" monitor "$job" --once --format json
expect_rc 0 "--once json"
checks=$((checks + 1))
python3 - "$out" <<'PY' || fail "snapshot: rank 2 should be the only straggler"
import json, sys
snapshot = json.loads(sys.argv[1])
ranks = {r["rank"]: r for r in snapshot["ranks"]}
assert sorted(ranks) == [0, 1, 2, 3], ranks
assert ranks[2]["straggler"] and ranks[2]["straggler_reason"] == "peers", ranks[2]
assert not any(ranks[r]["straggler"] for r in (0, 1, 3)), ranks
assert ranks[2]["peer_ratio"] > 1.3, ranks[2]
assert all(r["step"] == 39 and r["node"] == "node-a" for r in ranks.values()), ranks
assert ranks[0]["values"]["loss"] > 0 and ranks[0]["state"] == "exited", ranks[0]
assert snapshot["nodes"][0]["gpu_available"] is False and "NVML" in snapshot["nodes"][0]["gpu_reason"]
PY

# The event log: rank 2 flagged within the straggler window (5 steps) of the slowdown. Jitter
# may flag an unslowed rank for a moment, never for good: it is cleared again by the end.
checks=$((checks + 1))
python3 - "$job/events.jsonl" <<'PY' || fail "event log: no timely straggler event for rank 2"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
changes = [e for e in events if e["type"] == "straggler"]
flagged = [e for e in changes if e["flagged"] and e["rank"] == 2]
assert flagged and 10 <= flagged[0]["step"] <= 10 + 5, changes
for rank in (0, 1, 3):
    mine = [e["flagged"] for e in changes if e["rank"] == rank]
    assert not mine or not mine[-1], (rank, changes)
assert len([e for e in events if e["type"] == "join"]) == 4
PY

# Text view through a pipe: no escape sequences, the straggler marked.
NO_COLOR=1 run "$BRIX" monitor "$job" --once
expect_rc 0 "--once text"; expect_out 'STRAGGLER \(peers\)'; expect_out 'Recent events'
checks=$((checks + 1)); ! grep -q $'\x1b' <<<"$out" || fail "escape sequences in piped output"
# On a terminal (script(1) gives it one): redrawn in place, colour only without NO_COLOR.
if command -v script >/dev/null; then
  TERM=xterm script -qec "$BRIX monitor $job --count 2 --refresh 0.2" /dev/null >"$work/tty.out" 2>&1
  checks=$((checks + 1)); grep -q $'\x1b\[H' "$work/tty.out" || fail "no in-place redraw on a terminal"
  checks=$((checks + 1)); grep -q $'\x1b\[33mSTRAGGLER' "$work/tty.out" || fail "straggler not coloured on a terminal"
  NO_COLOR=1 TERM=xterm script -qec "$BRIX monitor $job --count 2 --refresh 0.2" /dev/null >"$work/tty.out" 2>&1
  checks=$((checks + 1)); grep -q $'\x1b\[H' "$work/tty.out" || fail "no in-place redraw with NO_COLOR"
  checks=$((checks + 1)); ! grep -q $'\x1b\[3[0-9]m' "$work/tty.out" || fail "colour despite NO_COLOR"
else
  echo "note: script(1) missing, terminal view not checked"
fi
run "$BRIX" monitor "$job" --once --format yaml
expect_rc 0 "--once yaml"; expect_out '^brix_monitor_snapshot: 1'
run "$BRIX" monitor "$job" --format json
expect_rc 2 "json without --once"; expect_err 'expected --once'

# HOST:PORT with the job token; a client with the wrong token is refused and logged.
endpoint=$(cat "$job/monitor/endpoint")
BRIX_JOB_TOKEN=$(cat "$job/token") run "$BRIX" monitor "$endpoint" --once --format json
expect_rc 0 "HOST:PORT"; expect_out '"straggler": true'
BRIX_JOB_TOKEN=wrong run "$BRIX" monitor "$endpoint" --once
expect_rc 1 "wrong token"; expect_err 'refused us: DENIED wrong job token'; expect_one_line_err
wait_for 10 "auth_refused in the event log" grep -q '"type":"auth_refused"' "$job/events.jsonl"

# Measured per-stage times for brix plan --measured.
run "$BRIX" monitor "$job" --once --quiet --save-measured "$work/measured.yaml"
expect_rc 0 "--save-measured"
checks=$((checks + 1))
python3 - "$work/measured.yaml" <<'PY' || fail "measured file"
import re, sys
text = open(sys.argv[1]).read()
assert text.count("- stage:") == 2, text
assert re.search(r"brix_measured: 1", text), text
PY

stop_monitor
checks=$((checks + 1)); [ ! -e "$work/node-a.sock" ] || fail "the collector left its socket behind"
finish
