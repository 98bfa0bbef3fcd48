"""torchrun's rendezvous (c10d backend: DynamicRendezvousHandler over a TCPStore) with N agents
as threads of one process, each with its own TCPStore connection, as torchrun's agents would.
Prints the seconds from the first join to the last agent holding the rendezvous result."""
import sys
import threading
import time
from datetime import timedelta

from torch.distributed import TCPStore
from torch.distributed.elastic.rendezvous import RendezvousParameters
from torch.distributed.elastic.rendezvous.c10d_rendezvous_backend import C10dRendezvousBackend
from torch.distributed.elastic.rendezvous.dynamic_rendezvous import create_handler

agents = int(sys.argv[1])
timeout = timedelta(seconds=float(sys.argv[2]) if len(sys.argv) > 2 else 600)
master = TCPStore("127.0.0.1", 0, None, True, timeout=timeout, wait_for_workers=False)
port = master.port
ready = threading.Barrier(agents + 1)
done = []
lock = threading.Lock()


def agent():
    store = TCPStore("127.0.0.1", port, None, False, timeout=timeout)
    backend = C10dRendezvousBackend(store, "bench")
    params = RendezvousParameters(backend="c10d", endpoint=f"127.0.0.1:{port}", run_id="bench",
                                  min_nodes=agents, max_nodes=agents,
                                  join_timeout=timeout.total_seconds())
    handler = create_handler(store, backend, params)
    ready.wait()
    try:
        handler.next_rendezvous()
    except Exception:  # a timeout: reported as agents that did not finish
        return
    with lock:
        done.append(time.monotonic())


threads = [threading.Thread(target=agent, daemon=True) for _ in range(agents)]
for thread in threads:
    thread.start()
ready.wait()
start = time.monotonic()
for thread in threads:
    thread.join(timeout.total_seconds())
if len(done) < agents:
    print(f"timeout {len(done)} of {agents}", flush=True)
    sys.exit(1)
print(f"{max(done) - start:.6f}", flush=True)
