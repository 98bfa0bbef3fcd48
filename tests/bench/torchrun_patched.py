"""Debian's torchrun (torch 1.13.1) on Python 3.11, patched to start.

`Std.from_str("0")` returns None there: iterating an IntFlag skips its zero member, so the
lookup of Std.NONE fails and `to_map` crashes at start (formats-and-conventions.md). This maps
None back to Std.NONE, then runs `python -m torch.distributed.run` with the given arguments.
Used by brix's tests and benchmarks to compare `brix launch` with torchrun in the same run.
"""
import runpy
import sys

from torch.distributed.elastic.multiprocessing import api

_original = api.Std.from_str


def _from_str(value):
    result = _original(value)
    if result is None:
        return api.Std.NONE
    if isinstance(result, dict):
        return {rank: api.Std.NONE if std is None else std for rank, std in result.items()}
    return result


api.Std.from_str = staticmethod(_from_str)
sys.argv = ["torchrun"] + sys.argv[1:]
runpy.run_module("torch.distributed.run", run_name="__main__", alter_sys=True)
