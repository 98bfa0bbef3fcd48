#!/usr/bin/env bash
# A report datagram with a byte that is not UTF-8 must be counted as a bad line, never kill the
# agent or its workers (brix-monitor(1): a malformed line is counted and never fatal).
source "$(dirname "$0")/lib.sh"

cat >"$work/worker.py" <<'PY'
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
path = os.environ["BRIX_MONITOR_SOCKET"]
s.sendto(b"rank=0 step=1 time=0.4 loss=1\xc3\n", path)
s.sendto(b"rank=0 step=2 time=0.4 loss=1\xff\xfe\x00\n", path)
# Wait until the agent's endpoint has taken a sample with both lines counted.
deadline = time.time() + 20
snapshot = os.path.join(os.environ["BRIX_LOG_DIR_UNDER_TEST"], "monitor", "snapshot.json")
while time.time() < deadline:
    try:
        if '"rejected_lines": 2' in open(snapshot).read():
            break
    except OSError:
        pass
    time.sleep(0.05)
s.sendto(b"rank=0 step=3 time=0.4 loss=1\n", path)
print("worker survived")
PY

export BRIX_LOG_DIR_UNDER_TEST="$work/job"
run timeout 60 "$BRIX" launch --nproc-per-node 1 --log-dir "$work/job" -- python3 "$work/worker.py"
expect_rc 0 "brix launch with a non-UTF-8 report"
expect_out "worker survived"
run "$BRIX" monitor "$work/job" --once --format json
expect_rc 0 "brix monitor --once"
expect_out '"rejected_lines": 2'
expect_out 'not printable ASCII'
run jq -e . "$work/job/monitor/snapshot.json"
expect_rc 0 "the snapshot is valid JSON"
finish
