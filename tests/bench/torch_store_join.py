"""torch's TCPStore running the join that bench-rendezvous runs on brix's store, for a same-run
comparison (libuv is used where this torch's TCPStore has the option, torch >= 2.2). Agents claim
their key with set, not compare_set as brix's do: torch 1.13's compare_set does not wake a
client waiting for the key, so node 0's wait would never end.

  torch_store_join.py version                  prints torch's version and whether libuv is used
  torch_store_join.py serve AGENTS CAP_S       node 0: hosts the store, prints "port P T", joins
                                               as node 0 (waits for every agent's key, reads them,
                                               publishes the world), exits on bench/done
  torch_store_join.py agents AGENTS PORT CAP_S agents 1..AGENTS-1 as threads, each with its own
                                               TCPStore client: connect, claim its key, wait for
                                               the world, read it; prints one JSON line
"""
import json
import sys
import threading
import time
from datetime import timedelta

from torch.distributed import TCPStore


def libuv_option():
    """{"use_libuv": True} where TCPStore takes it, else {}."""
    try:
        doc = TCPStore.__init__.__doc__ or ""
    except Exception:  # pragma: no cover
        doc = ""
    return {"use_libuv": True} if "use_libuv" in doc else {}


def node_key(rank):
    return f"rdzv/0/node/{rank}"


def info(rank, agents):
    # The same fields brix's agents publish (AgentInfo).
    return json.dumps({"node_rank": rank, "node": f"n{rank}", "address": "127.0.0.1", "nproc": 8, "nnodes": agents})


def serve(agents, cap):
    timeout = timedelta(seconds=cap)
    master = TCPStore("127.0.0.1", 0, None, True, timeout=timeout, wait_for_workers=False, **libuv_option())
    print(f"port {master.port} {time.time_ns()}", flush=True)
    me = TCPStore("127.0.0.1", master.port, None, False, timeout=timeout, **libuv_option())
    me.set(node_key(0), info(0, agents))
    keys = [node_key(rank) for rank in range(agents)]
    me.wait(keys)
    lines = ["attempt\t0", "run_id\tbench", "master_addr\t127.0.0.1", "master_port\t29500"]
    for key in keys:
        node = json.loads(me.get(key))
        lines.append(f"node\t{node['node_rank']}\t{node['nproc']}\t{node['nnodes']}\t{node['node']}\t{node['address']}")
    me.set("rdzv/0/world", "\n".join(lines) + "\n")
    print("world", flush=True)
    me.wait(["bench/done"], timedelta(seconds=600))


def agents_main(agents, port, cap):
    timeout = timedelta(seconds=cap)
    start = threading.Barrier(agents)  # agents - 1 threads and this one
    done = [0] * agents
    errors = []
    lock = threading.Lock()

    def agent(rank):
        start.wait()
        try:
            store = TCPStore("127.0.0.1", port, None, False, timeout=timeout, **libuv_option())
            store.set(node_key(rank), info(rank, agents))
            store.wait(["rdzv/0/world"])
            world = store.get("rdzv/0/world")
            if world.count(b"\nnode\t") + 1 < agents:
                raise RuntimeError("short world")
            done[rank] = time.time_ns()
        except Exception as error:  # a timeout or refused connection: reported, not raised
            with lock:
                errors.append(f"agent {rank}: {error}")

    threads = [threading.Thread(target=agent, args=(rank,), daemon=True) for rank in range(1, agents)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.time_ns()
    deadline = time.monotonic() + cap
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    finished = [stamp for stamp in done[1:] if stamp > 0]
    report = {"t0": t0, "done": finished, "errors": len(errors) + (agents - 1 - len(finished) - len(errors)),
              "first_error": errors[0] if errors else ("timeout" if len(finished) < agents - 1 else "")}
    print(json.dumps(report), flush=True)
    # Tell node 0 the run is over.
    TCPStore("127.0.0.1", port, None, False, timeout=timedelta(seconds=30)).set("bench/done", "1")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "version":
        import torch
        print(f"{torch.__version__} (TCPStore libuv: {'yes' if libuv_option() else 'not available'})", flush=True)
    elif mode == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    elif mode == "agents":
        agents_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")
