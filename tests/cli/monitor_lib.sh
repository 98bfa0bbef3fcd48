# Shared by the monitor CLI tests: a real endpoint (brix monitor serve), a real node collector
# (brix monitor collect) and fake synchronous ranks speaking the line protocol (monitor_ranks.py).
# Source after lib.sh. Every wait is bounded.

command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the fake ranks"; exit 77; }
job="$work/job"
monitor_pids=()
stop_monitor() {
  for pid in "${monitor_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${monitor_pids[@]}"; do wait "$pid" 2>/dev/null; done
  monitor_pids=()
}
trap 'stop_monitor; rm -rf "$work"' EXIT

# start_monitor: endpoint + one collector for node-a; exports BRIX_MONITOR_SOCKET.
start_monitor() {
  mkdir -p "$job"
  "$BRIX" monitor serve --job-dir "$job" --interval 0.2 --heartbeat-timeout 5 2>"$work/serve.err" &
  monitor_pids+=($!)
  wait_for 10 "the endpoint's address file" test -e "$job/monitor/endpoint" || return 1
  "$BRIX" monitor collect --job-dir "$job" --node node-a --socket "$work/node-a.sock" --interval 0.2 \
    2>"$work/collect.err" &
  monitor_pids+=($!)
  wait_for 10 "the collector's socket" test -e "$work/node-a.sock" || return 1
  export BRIX_MONITOR_SOCKET="$work/node-a.sock"
}

# every_rank_exited: whether the monitor has seen every rank exit (so their last reports are in).
every_rank_exited() {
  "$BRIX" monitor "$job" --once --format json 2>/dev/null | python3 -c '
import json, sys
ranks = json.load(sys.stdin)["ranks"]
sys.exit(0 if ranks and all(r["state"] == "exited" for r in ranks) else 1)'
}

# run_ranks ARGS...: the fake ranks (see monitor_ranks.py --help); then waits (up to 30 s) until
# the monitor has seen every rank exit.
run_ranks() {
  python3 "$BRIX_SOURCE_DIR/tests/cli/monitor_ranks.py" "$@" || return 1
  wait_for 30 "the monitor sees every rank exit" every_rank_exited
}
