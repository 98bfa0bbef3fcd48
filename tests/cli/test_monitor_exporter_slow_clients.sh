#!/usr/bin/env bash
# The Prometheus exporter (brix monitor --prometheus) serves clients concurrently (issue 17):
# while 100 slow clients hold connections open (half sent part of a request, half nothing), a
# scrape is answered in under a second, and each slow client is closed after its own timeout.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/monitor_lib.sh"

start_monitor || { finish; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BRIX" monitor "$job" --prometheus "$port" --quiet --refresh 0.2 --count 600 2>"$work/prom.err" &
monitor_pids+=($!)

checks=$((checks + 1))
python3 - "$port" <<'PY' || fail "a scrape with 100 slow clients connected"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
url = f"http://127.0.0.1:{port}/metrics"

def scrape():
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    assert response.status == 200 and b"brix_" in body, body[:200]
    return time.monotonic() - start

deadline = time.monotonic() + 20
while True:  # the exporter is up once it answers
    try:
        scrape()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit("the exporter never answered")
        time.sleep(0.1)

slow = []
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2 == 0:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: slow")  # a head that never ends
    slow.append(s)
times = [scrape() for _ in range(3)]
print("scrapes with 100 slow clients connected: " + ", ".join(f"{t * 1000:.0f} ms" for t in times))
if max(times) >= 1.0:
    raise SystemExit(f"a scrape took {max(times):.2f} s (expected < 1 s)")
# The slow clients were still connected during the scrapes: none was closed before its timeout.
for s in slow:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            raise SystemExit("a slow client was closed before its timeout")
    except BlockingIOError:
        pass
# ... and each is closed after its own timeout (5 s for the head), not kept forever.
for s in slow:
    s.settimeout(30)
    assert s.recv(1) == b"", "a slow client got an answer to a request it never finished"
PY
finish
