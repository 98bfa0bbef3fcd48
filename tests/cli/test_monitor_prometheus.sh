#!/usr/bin/env bash
# The Prometheus output of brix monitor (--textfile and --prometheus /metrics) passes
# `promtool check metrics` (Debian package prometheus).
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (apt-get install prometheus)"; exit 77; }
source "$(dirname "$0")/monitor_lib.sh"

start_monitor || { finish; exit 1; }
run run_ranks --ranks 4 --steps 30 --step 0.03 --slow-rank 1 --slow-from 5 --slowdown 1.6
expect_rc 0 "ranks"

mkdir -p "$work/textfile"
run "$BRIX" monitor "$job" --once --quiet --textfile "$work/textfile"
expect_rc 0 "--textfile"
prom=$(ls "$work"/textfile/*.prom)
checks=$((checks + 1)); [ "$(ls -A "$work/textfile" | wc -l)" -eq 1 ] || fail "temporary files left: $(ls -A "$work/textfile")"
run promtool check metrics <"$prom"
expect_rc 0 "promtool on the textfile"
out=$(cat "$prom")
expect_out '^brix_step_seconds\{brix_job="job",node="node-a",rank="1"\} '
expect_out '^brix_straggler\{brix_job="job",node="node-a",rank="1"\} 1$'
expect_out '^brix_heartbeat_age_seconds\{'
expect_out '^brix_rank_state\{brix_job="job",node="node-a",rank="0",state="exited"\} 1$'
expect_out '^brix_node_gpu_telemetry_available\{brix_job="job",node="node-a"\} 0$'

# /metrics over HTTP on 127.0.0.1 (a free port found by binding 0 first).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BRIX" monitor "$job" --prometheus "$port" --quiet --refresh 0.2 --count 50 2>"$work/prom.err" &
monitor_pids+=($!)
checks=$((checks + 1))
python3 - "$port" "$work/metrics" <<'PY' || fail "GET /metrics"
import sys, time, urllib.request
for _ in range(50):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4"), response.headers
            open(sys.argv[2], "wb").write(response.read())
            break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("no answer")
PY
run promtool check metrics <"$work/metrics"
expect_rc 0 "promtool on /metrics"
checks=$((checks + 1)); grep -q "http://127.0.0.1:$port/metrics" "$work/prom.err" || fail "address not announced: $(cat "$work/prom.err")"
finish
