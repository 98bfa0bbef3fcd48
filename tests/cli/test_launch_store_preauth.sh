#!/usr/bin/env bash
# The rendezvous store on node 0 does not buffer for clients that have not shown the job token
# (issue 17): 100 unauthenticated connections sending maximal frames leave the node-0 agent's
# resident memory under 50 MB above what it was, measured from /proc while they push; the job
# they attack still runs to its end. 50 more flood the agent's monitor endpoint (one endless line
# each) at the same time: it reads one short hello line before the token, not 64 MiB.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"

cat >"$work/attacker.py" <<'PY'
import os, socket, struct, sys, time

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")

# The agent is the brix launch process above this worker.
agent = os.getppid()
while b"launch" not in open(f"/proc/{agent}/cmdline", "rb").read().split(b"\0"):
    agent = int(open(f"/proc/{agent}/stat").read().rsplit(")", 1)[1].split()[1])
    if agent <= 1:
        raise SystemExit("the brix launch agent is not an ancestor of this worker")
address = (os.environ["BRIX_STORE_ADDR"], int(os.environ["BRIX_STORE_PORT"]))
before = rss_kib(agent)

# A frame announcing the largest body the protocol allows (64 MiB), op SET, and as many bytes
# of it as the store will take; half the clients announce a hello frame of the largest size
# allowed before the token (4 KiB) and stop just short of finishing it.
MAX_FRAME = 64 << 20
chunk = b"\x00" * (256 << 10)
clients = []  # [socket, bytes of the head still to send, whether it then floods a body]
for i in range(100):
    s = socket.create_connection(address, timeout=10)
    s.setblocking(False)
    if i % 2 == 0:
        clients.append([s, struct.pack("<IBqI", MAX_FRAME, 2, 0, 2), True])
    else:
        clients.append([s, struct.pack("<IBqI", 4096, 1, 0, 2) + b"x" * 4000, False])
# The monitor endpoint the agent hosts: HOST:PORT in JOB_DIR/monitor/endpoint once it listens.
endpoint_file = os.path.join(os.environ["JOB_DIR_UNDER_TEST"], "monitor", "endpoint")
deadline = time.monotonic() + 20
while not os.path.exists(endpoint_file) and time.monotonic() < deadline:
    time.sleep(0.05)
host, port = open(endpoint_file).read().strip().rsplit(":", 1)
for i in range(50):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setblocking(False)
    clients.append([s, b"", True])  # no hello: bytes without a newline, as fast as taken
peak = before
sent = 0
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    for client in clients:
        s, pending, flood = client
        try:
            if pending:
                n = s.send(pending)
                sent += n
                client[1] = pending[n:]
            elif flood:
                sent += s.send(chunk)
        except OSError:  # full (would block), or refused and closed by the store
            pass
    peak = max(peak, rss_kib(agent))
    time.sleep(0.01)
extra_mb = (peak - before) / 1024
print(f"node-0 agent RSS: {before / 1024:.1f} MB before, {peak / 1024:.1f} MB at most with 150 unauthenticated "
      f"clients ({sent / 1e6:.1f} MB pushed), {extra_mb:.1f} MB extra")
for s, *_ in clients:
    s.close()
if extra_mb >= 50:
    raise SystemExit(f"the agent grew by {extra_mb:.1f} MB (expected < 50 MB)")
print("attacker done")
PY

export JOB_DIR_UNDER_TEST="$work/job"
run timeout 120 "$BRIX" launch --nproc-per-node 1 --log-dir "$work/job" -- python3 "$work/attacker.py"
expect_rc 0 "a job whose store is flooded by unauthenticated clients"
expect_out "attacker done"
echo "$out" | grep "node-0 agent RSS" || true
finish
