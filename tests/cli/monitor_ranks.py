#!/usr/bin/env python3
"""Fake synchronous data-parallel ranks for the monitor tests: each rank computes (sleeps), then
waits at a barrier as an all-reduce would, and reports the step with the Python snippet of
man brix-monitor (REPORTING PROGRESS), read from the man page itself — no brix library
involved. One rank can be slowed."""
import argparse
import multiprocessing as mp
import os
import sys
import time

MAN_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man", "brix-monitor.1")


def load_report_snippet(man_page):
    """The Python reporting snippet exactly as man brix-monitor documents it."""
    text = open(man_page).read()
    start = text.index("Without brix, in Python:")
    block = text[text.index(".nf\n", start) + 4:text.index(".fi\n", start)]
    namespace = {}
    exec(block.replace("\\\\", "\\"), namespace)  # roff writes a backslash as two
    return namespace["report"]


report = load_report_snippet(MAN_PAGE)


def rank_main(rank, args, barrier):
    os.environ["RANK"] = str(rank)
    for step in range(args.steps):
        start = time.monotonic()
        slow = rank == args.slow_rank and step >= args.slow_from
        time.sleep(args.step * (args.slowdown if slow else 1.0))
        compute = time.monotonic() - start
        barrier.wait(timeout=60)  # the gradient all-reduce: everyone waits for the slowest
        report(step, time.monotonic() - start, compute=f"{compute:.6f}", stage=rank * args.stages // args.ranks,
               loss=f"{2.0 / (step + 1):.5f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", type=int, default=4)
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument("--slow-rank", type=int, default=-1)
    parser.add_argument("--slow-from", type=int, default=10)
    parser.add_argument("--slowdown", type=float, default=1.5)
    args = parser.parse_args()
    context = mp.get_context("fork")
    barrier = context.Barrier(args.ranks)
    ranks = [context.Process(target=rank_main, args=(r, args, barrier)) for r in range(args.ranks)]
    for process in ranks:
        process.start()
    deadline = time.monotonic() + 120
    hung = []
    for process in ranks:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():  # a hung rank is a failure, not exit code None
            hung.append(process)
            process.kill()
            process.join()
    if hung:
        print(f"monitor_ranks: {len(hung)} rank(s) still running after 120 s, killed", file=sys.stderr)
        raise SystemExit(1)
    raise SystemExit(max(abs(p.exitcode) for p in ranks))


if __name__ == "__main__":
    main()
