#!/usr/bin/env bash
# brix monitor JOB_DIR --http: a real job under brix launch (brix-worker train, 4 ranks, rank 2
# slowed), its dashboard rendered in a real headless browser: the heat map marks rank 2 as the
# straggler and no other, the node table and throughput are drawn, a screenshot is taken; a
# suspect node (a frozen snapshot so marked) is drawn red. Bound beyond loopback the page needs
# the job token; /metrics never does.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
[ -x "$WORKER" ] || { echo "SKIP: $WORKER not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the DOM"; exit 77; }
source "$(dirname "$0")/browser_lib.sh"

export BRIX_JOB_TOKEN=dashboard-test-token
job="$work/job"
# 4 ranks, 40 ms steps; rank 2 computes 60 ms longer from step 10 on. Long enough to be watched.
"$BRIX" launch --nproc-per-node 4 --log-dir "$job" --quiet -- \
  "$WORKER" train --steps 400 --step-sleep-ms 40 --slow-rank 2 --slow-ms 60 --slow-from 10 \
  >"$work/launch.out" 2>"$work/launch.err" &
launch_pid=$!
monitor_pid=""
cleanup() {
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null
  kill "$launch_pid" 2>/dev/null && wait "$launch_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

rank2_flagged() {
  "$BRIX" monitor "$job" --once --format json 2>/dev/null | python3 -c '
import json, sys
ranks = {r["rank"]: r for r in json.load(sys.stdin)["ranks"]}
sys.exit(0 if len(ranks) == 4 and ranks[2]["straggler"] and len(ranks[2]["recent_steps"]) >= 10 else 1)' 2>/dev/null
}
wait_for 60 "the monitor flags rank 2" rank2_flagged || { finish; exit 1; }

port=$(free_port)
"$BRIX" monitor "$job" --http "$port" --quiet --refresh 0.5 2>"$work/monitor.err" &
monitor_pid=$!
page_up() { python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=2)" 2>/dev/null; }
wait_for 20 "the dashboard answers" page_up || { finish; exit 1; }
expect_err_file() { checks=$((checks + 1)); grep -qE -- "$1" "$work/monitor.err" || fail "monitor stderr lacks /$1/: $(cat "$work/monitor.err")"; }
expect_err_file "dashboard on http://127\.0\.0\.1:$port/"

# 3 s of page time: the page draws from its embedded snapshot, then refetches api/snapshot.
browser_dom "http://127.0.0.1:$port/" "$work/dashboard.dom.html" 3000
checks=$((checks + 1))
python3 - "$work/dashboard.dom.html" <<'PY' || fail "the dashboard's DOM does not mark rank 2"
import re, sys
dom = open(sys.argv[1]).read()
rows = re.findall(r'<g class="(heat-row[^"]*)" data-rank="(\d+)" data-node="([^"]*)"', dom)
assert sorted(int(r) for _, r, _ in rows) == [0, 1, 2, 3], rows
marked = sorted(int(r) for c, r, _ in rows if "straggler" in c.split())
assert marked == [2], marked
assert "◀ straggler" in dom
cells = re.findall(r'<rect [^>]*class="heat-cell" data-step="(\d+)"[^>]*data-ratio="([0-9.]+)"', dom)
assert len(cells) >= 4 * 10, len(cells)
assert re.search(r'<tr class="node" data-node="[^"]+">', dom), "no node health rows"
assert 'id="node-table"' in dom and 'class="throughput-chart"' in dom or "Throughput appears" in dom
# The status line says the page refetched api/snapshot ("live"), not that it could not.
status = re.search(r'id="status">([^<]*)<', dom).group(1)
assert status.startswith("live"), status
PY
browser_screenshot "http://127.0.0.1:$port/" "$work/dashboard.png" 1180 900
expect_png "$work/dashboard.png"
keep_screenshot "$work/dashboard.png" dashboard.png

# The JSON route the page refreshes from.
checks=$((checks + 1))
python3 - "$port" <<'PY' || fail "GET /api/snapshot"
import json, sys, urllib.request
document = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/snapshot", timeout=5))
ranks = {r["rank"]: r for r in document["snapshot"]["ranks"]}
assert ranks[2]["straggler"] and all(len(r["recent_steps"]) > 0 for r in ranks.values()), ranks
PY
kill "$monitor_pid"; wait "$monitor_pid" 2>/dev/null; monitor_pid=""

# A suspect node: a frozen copy of the job's snapshot with its node marked as the rules mark one,
# served from a job directory of its own; the page draws the node red beside its ranks and says
# why in the node table.
frozen="$work/frozen"
mkdir -p "$frozen/monitor"
checks=$((checks + 1))
python3 - "$job/monitor/snapshot.json" "$frozen/monitor/snapshot.json" <<'PY' || fail "freezing a snapshot with a suspect node"
import json, sys
snapshot = json.load(open(sys.argv[1]))
assert snapshot["nodes"], "the snapshot has no nodes"
for node in snapshot["nodes"]:
    node["suspect"] = True
    node["suspect_reason"] = "test: XID 79"
json.dump(snapshot, open(sys.argv[2], "w"))
PY
port=$(free_port)
"$BRIX" monitor "$frozen" --http "$port" --quiet --refresh 0.5 2>"$work/monitor.err" &
monitor_pid=$!
wait_for 20 "the dashboard of the frozen snapshot answers" page_up || { finish; exit 1; }
browser_dom "http://127.0.0.1:$port/" "$work/suspect.dom.html" 1000
checks=$((checks + 1))
grep -qE '<g class="heat-node suspect" data-node="[^"]+">' "$work/suspect.dom.html" &&
  grep -qE '<tr class="node suspect" data-node="[^"]+">' "$work/suspect.dom.html" &&
  grep -q 'test: XID 79' "$work/suspect.dom.html" || fail "the page does not mark the suspect node"
kill "$monitor_pid"; wait "$monitor_pid" 2>/dev/null; monitor_pid=""

# Beyond loopback: 401 without the job token, the page with it; /metrics open to scrapers.
port=$(free_port)
"$BRIX" monitor "$job" --http "0.0.0.0:$port" --quiet --refresh 0.5 2>"$work/monitor.err" &
monitor_pid=$!
status_of() {
  python3 - "$1" "${2:-}" <<'PY'
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    request.add_header("Authorization", "Bearer " + sys.argv[2])
try:
    print(urllib.request.urlopen(request, timeout=3).status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print(0)
PY
}
metrics_up() { [ "$(status_of "http://127.0.0.1:$port/metrics")" = 200 ]; }
wait_for 20 "the dashboard on 0.0.0.0 answers /metrics" metrics_up
expect_err_file "needs|TOKEN"
checks=$((checks + 1)); [ "$(status_of "http://127.0.0.1:$port/")" = 401 ] || fail "/ without the token is not refused"
checks=$((checks + 1)); [ "$(status_of "http://127.0.0.1:$port/api/snapshot?token=wrong")" = 401 ] || fail "a wrong token is not refused"
checks=$((checks + 1)); [ "$(status_of "http://127.0.0.1:$port/?token=$BRIX_JOB_TOKEN")" = 200 ] || fail "?token= refused"
checks=$((checks + 1)); [ "$(status_of "http://127.0.0.1:$port/api/snapshot" "$BRIX_JOB_TOKEN")" = 200 ] || fail "Bearer refused"
# The browser with ?token= draws the page (its refreshes carry the token too).
browser_dom "http://127.0.0.1:$port/?token=$BRIX_JOB_TOKEN" "$work/token.dom.html" 2000
checks=$((checks + 1)); grep -q 'class="heat-row straggler" data-rank="2"' "$work/token.dom.html" || fail "page with the token"

run "$BRIX" monitor "$job" --http "$port" --once
expect_rc 2 "--http with --once"; expect_err "--http serves until stopped"
wait "$launch_pid"; launch_rc=$?
checks=$((checks + 1)); [ "$launch_rc" -eq 0 ] || fail "the job failed (exit $launch_rc): $(tail -5 "$work/launch.err")"
finish
