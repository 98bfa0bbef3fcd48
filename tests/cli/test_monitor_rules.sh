#!/usr/bin/env bash
# A bundled default rule fires end to end: a program reports `internode_latency` through the line
# protocol (the Python snippet of man brix-monitor, no brix library) above the default abnormal
# threshold (200 us); after the rule's 30 s the endpoint logs the threshold crossing and marks
# the node suspect, and not before.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/monitor_lib.sh"

start_monitor || { finish; exit 1; }
started=$(date +%s.%N)
python3 - "$BRIX_SOURCE_DIR/man/brix-monitor.1" "$job/events.jsonl" <<'PY' &
import json, os, sys, time
text = open(sys.argv[1]).read()
start = text.index("Without brix, in Python:")
namespace = {}
exec(text[text.index(".nf\n", start) + 4:text.index(".fi\n", start)].replace("\\\\", "\\"), namespace)
report = namespace["report"]
os.environ["RANK"] = "0"
deadline = time.monotonic() + 90
step = 0
while time.monotonic() < deadline:  # 500 us one way: abnormal (> 200 us) for the default rule
    report(step, 0.2, internode_latency="0.0005")
    step += 1
    time.sleep(0.2)
    try:  # reports go on until the rule has fired and the node is marked suspect
        events = [json.loads(line) for line in open(sys.argv[2])]
        if any(e.get("rule") == "inter_node_latency" for e in events) and any(e["type"] == "suspect" for e in events):
            break
    except FileNotFoundError:
        pass
PY
reporter=$!
wait "$reporter"
stop_monitor

checks=$((checks + 1))
python3 - "$job/events.jsonl" "$started" <<'PY' || fail "the default inter_node_latency rule did not fire as documented"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
fired = [e for e in events if e["type"] == "threshold" and e.get("rule") == "inter_node_latency"]
assert fired, events
first = fired[0]
assert first["to"] == "abnormal" and first["metric"] == "internode_latency", first
assert first["node"] == "node-a" and first["rank"] == 0 and first["value"] == 0.0005, first
# `for: 30s`: not before the value held for 30 s (the first report came after `started`).
assert first["time"] - float(sys.argv[2]) >= 30, (first["time"], sys.argv[2])
suspects = [e for e in events if e["type"] == "suspect"]
assert [e["node"] for e in suspects] == ["node-a"], suspects
PY
finish
